//! The switch's configuration file (TOML), parsed and checked before anything starts.
//!
//! One file describes a switch and, optionally, the DVR topology it serves; every node of a
//! DVR deployment can share the same file and pick its own part with `--chassis`.
//!
//! ```toml
//! bridge = "br-int"
//! dpid = "000042fbf384884c"            # hex, optional (default: derived from the bridge name)
//! fail_mode = "secure"                 # or "standalone"
//! listen = ["ptcp:6653:127.0.0.1"]     # OVS connection strings: ptcp:, punix:
//! controllers = ["tcp:127.0.0.1:6633"] # tcp:, unix:
//! workers = 2                          # packet worker threads (default: one per core)
//! busy_poll = false                    # poll ports without sleeping (one core per worker)
//! local_port = true                    # the bridge's LOCAL port, a TAP named after it
//!
//! [[port]]                             # a datapath port
//! name = "p6"
//! type = "afxdp"                       # afxdp | tap | vxlan
//! interface = "eth1"                   # the NIC (afxdp, required) or the TAP device (tap)
//! ofport = 6                           # optional: the lowest free number otherwise
//! options = { mode = "native" }        # afxdp: mode = native | generic | auto, and
//!                                      # queues = N: bind queues 0..N (default: all)
//!
//! [[port]]
//! name = "tun0"
//! type = "vxlan"                       # flow-based: flows set tun_id and tun_dst
//! options = { local_ip = "192.168.50.1", dst_port = 4789 }
//! ```
//!
//! The DVR part ([`dvr`]): `[[chassis]]`, `[[network]]`, `[[router]]`, and `[[port]]` entries
//! that name a `network` (VM ports), plus the L3 settings `l3_mode`, `builtin_controller`,
//! `l3_idle_timeout` and `l3_hard_timeout`.
//!
//! Every error names the file, the line and column, and what to change; topology errors that
//! concern several objects name the objects instead of a line.

pub mod dvr;
mod port;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use wyvern_ofproto::endpoint::{ConnTarget, FailMode};
use wyvern_pipeline::dvr::topology::{Chassis, Network, Router};

pub use dvr::DvrConfig;
pub use port::{PortConfig, PortKind};

/// A configuration error, located in its file (line 0: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub bridge: Option<String>,
    pub dpid: Option<u64>,
    pub fail_mode: Option<FailMode>,
    pub listen: Vec<ConnTarget>,
    pub controllers: Vec<ConnTarget>,
    pub workers: Option<usize>,
    pub busy_poll: Option<bool>,
    pub local_port: Option<bool>,
    /// The datapath ports (`[[port]]` entries without a `network`).
    pub ports: Vec<PortConfig>,
    /// The DVR topology and settings, when the file has any.
    pub dvr: Option<DvrConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    bridge: Option<Spanned<String>>,
    dpid: Option<Spanned<String>>,
    fail_mode: Option<Spanned<String>>,
    #[serde(default)]
    listen: Vec<Spanned<String>>,
    #[serde(default)]
    controllers: Vec<Spanned<String>>,
    workers: Option<Spanned<i64>>,
    busy_poll: Option<bool>,
    local_port: Option<bool>,
    #[serde(default)]
    port: Vec<Spanned<port::RawPort>>,
    #[serde(default)]
    chassis: Vec<Chassis>,
    #[serde(default)]
    network: Vec<Network>,
    #[serde(default)]
    router: Vec<Router>,
    l3_mode: Option<Spanned<String>>,
    builtin_controller: Option<bool>,
    l3_idle_timeout: Option<Spanned<i64>>,
    l3_hard_timeout: Option<Spanned<i64>>,
}

/// Checks a bridge name: 1 to 15 characters of `[A-Za-z0-9_.-]` (it names a socket file and
/// the LOCAL port's network device).
pub fn check_bridge(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!(
            "bridge name \"{name}\" must be 1 to 15 characters long"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(format!(
            "bridge name \"{name}\" may only use letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

/// Parses a datapath id: 1 to 16 hex digits, with or without `0x`.
pub fn parse_dpid(s: &str) -> Result<u64, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.is_empty() || hex.len() > 16 {
        return Err(format!("dpid \"{s}\" must be 1 to 16 hex digits"));
    }
    u64::from_str_radix(hex, 16).map_err(|_| format!("dpid \"{s}\" is not hexadecimal"))
}

/// Turns byte spans of the file into located errors.
pub(crate) struct Locator<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Locator<'_> {
    pub(crate) fn error(&self, span: Range<usize>, message: impl fmt::Display) -> ConfigError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |n| n + 1) + 1;
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.to_string(),
        }
    }

    pub(crate) fn line_of(&self, span: &Range<usize>) -> usize {
        self.error(span.clone(), "").line
    }
}

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read the configuration: {e}"),
    })?;
    parse(path, &text)
}

/// An integer setting within `range`.
fn bounded(
    loc: &Locator<'_>,
    v: &Option<Spanned<i64>>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ConfigError> {
    match v {
        Some(n) if !range.contains(n.get_ref()) => Err(loc.error(
            n.span(),
            format!(
                "{name} = {} is out of range: use {} to {}",
                n.get_ref(),
                range.start(),
                range.end()
            ),
        )),
        Some(n) => Ok(Some(*n.get_ref())),
        None => Ok(None),
    }
}

/// Parses and checks configuration `text` read from `file`.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let loc = Locator { file, text };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        loc.error(
            e.span().unwrap_or(0..0),
            e.message().trim_end().replace('\n', "; "),
        )
    })?;
    if let Some(b) = &raw.bridge {
        check_bridge(b.get_ref()).map_err(|m| loc.error(b.span(), m))?;
    }
    let dpid =
        match &raw.dpid {
            Some(d) => Some(parse_dpid(d.get_ref()).map_err(|m| {
                loc.error(d.span(), format!("{m} (e.g. dpid = \"000042fbf384884c\")"))
            })?),
            None => None,
        };
    let fail_mode = match &raw.fail_mode {
        Some(f) => Some(
            f.get_ref()
                .parse::<FailMode>()
                .map_err(|m| loc.error(f.span(), m))?,
        ),
        None => None,
    };
    let targets = |list: &[Spanned<String>], passive: bool| {
        list.iter()
            .map(|s| {
                let t = s
                    .get_ref()
                    .parse::<ConnTarget>()
                    .map_err(|e| loc.error(s.span(), e))?;
                if t.is_passive() != passive {
                    let (what, use_) = if passive {
                        ("listen", "ptcp: or punix:")
                    } else {
                        ("controllers", "tcp: or unix:")
                    };
                    return Err(loc.error(
                        s.span(),
                        format!(
                            "\"{}\" does not belong in `{what}`: use {use_}",
                            s.get_ref()
                        ),
                    ));
                }
                Ok(t)
            })
            .collect::<Result<Vec<_>, ConfigError>>()
    };
    let listen = targets(&raw.listen, true)?;
    let controllers = targets(&raw.controllers, false)?;
    let workers = bounded(&loc, &raw.workers, "workers", 1..=64)?.map(|n| n as usize);
    let entries = port::check_all(&loc, &raw.port)?;
    let dvr = dvr::assemble(&loc, &raw, entries.vm_ports)?;
    Ok(Config {
        bridge: raw.bridge.map(Spanned::into_inner),
        dpid,
        fail_mode,
        listen,
        controllers,
        workers,
        busy_poll: raw.busy_poll,
        local_port: raw.local_port,
        ports: entries.ports,
        dvr,
    })
}

#[cfg(test)]
mod tests;

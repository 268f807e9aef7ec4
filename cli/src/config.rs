//! The switch's configuration file (TOML), parsed and checked before anything starts.
//!
//! ```toml
//! bridge = "br-int"
//! dpid = "000042fbf384884c"            # hex, optional (default: derived from the bridge name)
//! fail_mode = "secure"                 # or "standalone"
//! listen = ["ptcp:6653:127.0.0.1"]     # OVS connection strings: ptcp:, punix:
//! controllers = ["tcp:127.0.0.1:6633"] # tcp:, unix:
//!
//! [[port]]
//! name = "p6"
//! type = "afxdp"                       # afxdp | tap | vxlan
//! interface = "eth1"                   # the NIC (afxdp, required) or the TAP device (tap)
//! ofport = 6
//!
//! [[port]]
//! name = "tun3"
//! type = "vxlan"
//! ofport = 3
//! options = { remote_ip = "192.168.0.2", key = "flow", dst_port = 4789 }
//! ```
//!
//! Every error names the file, the line and column, and what to change. The `[[port]]` table
//! is checked now and used by the datapath bridge.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use wyvern_ofproto::endpoint::{ConnTarget, FailMode};

/// A configuration error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A port's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// An AF_XDP socket on a NIC.
    Afxdp,
    /// A TAP device.
    Tap,
    /// A VXLAN tunnel endpoint.
    Vxlan,
}

/// One `[[port]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    pub name: String,
    pub kind: PortKind,
    /// The NIC (afxdp) or the TAP device name (tap; defaults to `name`).
    pub interface: Option<String>,
    pub ofport: u32,
    /// Type-specific options, as strings.
    pub options: BTreeMap<String, String>,
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub bridge: Option<String>,
    pub dpid: Option<u64>,
    pub fail_mode: Option<FailMode>,
    pub listen: Vec<ConnTarget>,
    pub controllers: Vec<ConnTarget>,
    pub ports: Vec<PortConfig>,
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
    #[serde(default)]
    port: Vec<Spanned<RawPort>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    interface: Option<Spanned<String>>,
    ofport: Spanned<i64>,
    #[serde(default)]
    options: Option<Spanned<toml::Table>>,
}

/// Highest OpenFlow number of a physical port (OFPP_MAX is 0xffffff00; OVS caps at 0xfeff).
const MAX_OFPORT: i64 = 0xfeff;

/// Checks a bridge name: 1 to 15 characters of `[A-Za-z0-9_.-]` (it names a socket file and,
/// later, a network device).
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

struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, span: Range<usize>, message: impl fmt::Display) -> ConfigError {
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

    fn line_of(&self, span: &Range<usize>) -> usize {
        self.error(span.clone(), "").line
    }
}

fn option_string(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
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

    let mut ports = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut numbers: BTreeMap<i64, (String, usize)> = BTreeMap::new();
    for p in &raw.port {
        let p = p.get_ref();
        let name = p.name.get_ref();
        if name.is_empty() || name.len() > 15 {
            return Err(loc.error(
                p.name.span(),
                format!("port name \"{name}\" must be 1 to 15 characters long"),
            ));
        }
        if let Some(line) = names.get(name) {
            return Err(loc.error(
                p.name.span(),
                format!("port name \"{name}\" is already used on line {line}; give each port its own name"),
            ));
        }
        names.insert(name.clone(), loc.line_of(&p.name.span()));
        let kind = match p.kind.get_ref().as_str() {
            "afxdp" => PortKind::Afxdp,
            "tap" => PortKind::Tap,
            "vxlan" => PortKind::Vxlan,
            other => {
                return Err(loc.error(
                    p.kind.span(),
                    format!("port type \"{other}\" is not one of afxdp, tap, vxlan"),
                ));
            }
        };
        let n = *p.ofport.get_ref();
        if !(1..=MAX_OFPORT).contains(&n) {
            return Err(loc.error(
                p.ofport.span(),
                format!("ofport {n} of port \"{name}\" must be from 1 to {MAX_OFPORT}"),
            ));
        }
        if let Some((other, line)) = numbers.get(&n) {
            return Err(loc.error(
                p.ofport.span(),
                format!(
                    "ofport {n} is already used by port \"{other}\" (line {line}); give each port its own ofport"
                ),
            ));
        }
        numbers.insert(n, (name.clone(), loc.line_of(&p.ofport.span())));
        let interface = p.interface.as_ref().map(|i| i.get_ref().clone());
        match (&kind, &p.interface) {
            (PortKind::Afxdp, None) => {
                return Err(loc.error(
                    p.name.span(),
                    format!(
                        "afxdp port \"{name}\" needs `interface = \"NIC\"`, the device to attach to"
                    ),
                ));
            }
            (PortKind::Vxlan, Some(i)) => {
                return Err(loc.error(
                    i.span(),
                    format!(
                        "vxlan port \"{name}\" takes no interface; remove it (set options.remote_ip)"
                    ),
                ));
            }
            (_, Some(i)) if i.get_ref().is_empty() || i.get_ref().len() > 15 => {
                return Err(loc.error(i.span(), "interface names are 1 to 15 characters long"));
            }
            _ => {}
        }
        let mut options = BTreeMap::new();
        if let Some(o) = &p.options {
            for (k, v) in o.get_ref() {
                let Some(s) = option_string(v) else {
                    return Err(loc.error(
                        o.span(),
                        format!(
                            "option `{k}` of port \"{name}\" must be a string, number or boolean"
                        ),
                    ));
                };
                options.insert(k.clone(), s);
            }
        }
        let opt_span = p.options.as_ref().map_or(p.name.span(), |o| o.span());
        let allowed: &[&str] = match kind {
            PortKind::Vxlan => &["remote_ip", "local_ip", "key", "dst_port"],
            PortKind::Afxdp => &["queue", "mode"],
            PortKind::Tap => &[],
        };
        if let Some(k) = options.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(loc.error(
                opt_span,
                format!(
                    "option `{k}` is not known for {} port \"{name}\" (known: {})",
                    p.kind.get_ref(),
                    if allowed.is_empty() {
                        "none".to_owned()
                    } else {
                        allowed.join(", ")
                    }
                ),
            ));
        }
        if kind == PortKind::Vxlan {
            match options.get("remote_ip") {
                None => {
                    return Err(loc.error(
                        opt_span,
                        format!(
                            "vxlan port \"{name}\" needs options.remote_ip (e.g. options = {{ remote_ip = \"192.168.0.2\" }}, or \"flow\")"
                        ),
                    ));
                }
                Some(ip) if ip != "flow" && ip.parse::<Ipv4Addr>().is_err() => {
                    return Err(loc.error(
                        opt_span,
                        format!("options.remote_ip \"{ip}\" of port \"{name}\" is not an IPv4 address or \"flow\""),
                    ));
                }
                _ => {}
            }
            if let Some(key) = options.get("key")
                && key != "flow"
                && !key.parse::<u32>().is_ok_and(|k| k < 1 << 24)
            {
                return Err(loc.error(
                    opt_span,
                    format!("options.key \"{key}\" of port \"{name}\" must be \"flow\" or a VNI below 2^24"),
                ));
            }
            if let Some(port) = options.get("dst_port")
                && port.parse::<u16>().is_err()
            {
                return Err(loc.error(
                    opt_span,
                    format!(
                        "options.dst_port \"{port}\" of port \"{name}\" must be a UDP port number"
                    ),
                ));
            }
        }
        ports.push(PortConfig {
            name: name.clone(),
            kind,
            interface,
            ofport: n as u32,
            options,
        });
    }
    Ok(Config {
        bridge: raw.bridge.map(Spanned::into_inner),
        dpid,
        fail_mode,
        listen,
        controllers,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("wyvern.toml"), text)
    }

    #[test]
    fn a_full_configuration() {
        let c = p(r#"
bridge = "br-int"
dpid = "0x42fbf384884c"
fail_mode = "standalone"
listen = ["ptcp:6653:127.0.0.1", "punix:/tmp/x.sock"]
controllers = ["tcp:127.0.0.1:6633"]

[[port]]
name = "p6"
type = "afxdp"
interface = "eth1"
ofport = 6

[[port]]
name = "tun3"
type = "vxlan"
ofport = 3
options = { remote_ip = "192.168.0.2", key = "flow", dst_port = 4789 }
"#)
        .unwrap();
        assert_eq!(c.bridge.as_deref(), Some("br-int"));
        assert_eq!(c.dpid, Some(0x42fb_f384_884c));
        assert_eq!(c.fail_mode, Some(FailMode::Standalone));
        assert_eq!(c.listen.len(), 2);
        assert_eq!(c.controllers.len(), 1);
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.ports[1].kind, PortKind::Vxlan);
        assert_eq!(c.ports[1].options["dst_port"], "4789");
        assert_eq!(p("").unwrap().ports, vec![]);
    }

    fn err(text: &str) -> (usize, String) {
        let e = p(text).unwrap_err();
        assert_eq!(e.file, Path::new("wyvern.toml"));
        (e.line, e.message)
    }

    #[test]
    fn errors_name_the_line_and_what_to_change() {
        let (line, m) = err("bridge = \"br0\"\nlisten = [\"tcp:1.2.3.4:5\"]\n");
        assert_eq!(line, 2);
        assert!(m.contains("use ptcp: or punix:"), "{m}");

        let (line, m) = err("\n\nfail_mode = \"open\"\n");
        assert_eq!(line, 3);
        assert!(m.contains("secure or standalone"), "{m}");

        let (line, m) = err("dpid = \"xyz\"");
        assert_eq!(line, 1);
        assert!(m.contains("hexadecimal"), "{m}");

        let (line, m) = err(
            "[[port]]\nname = \"a\"\ntype = \"tap\"\nofport = 1\n\n[[port]]\nname = \"b\"\ntype = \"tap\"\nofport = 1\n",
        );
        assert_eq!(line, 9);
        assert!(m.contains("already used by port \"a\" (line 4)"), "{m}");

        let (line, m) = err("[[port]]\nname = \"a\"\ntype = \"veth\"\nofport = 1\n");
        assert_eq!(line, 3);
        assert!(m.contains("afxdp, tap, vxlan"), "{m}");

        let (line, m) = err("[[port]]\nname = \"a\"\ntype = \"afxdp\"\nofport = 1\n");
        assert_eq!(line, 2);
        assert!(m.contains("interface"), "{m}");

        let (line, m) = err(
            "[[port]]\nname = \"t\"\ntype = \"vxlan\"\nofport = 2\noptions = { key = \"5\" }\n",
        );
        assert_eq!(line, 5);
        assert!(m.contains("remote_ip"), "{m}");

        let (_, m) = err("[[port]]\nname = \"a\"\ntype = \"tap\"\nofport = 0\n");
        assert!(m.contains("from 1 to"), "{m}");

        let (line, m) = err("bridge = \"br0\"\ncolour = \"red\"\n");
        assert_eq!(line, 2);
        assert!(m.contains("colour"), "{m}");

        let (line, _) = err("bridge = \"br0\"\nlisten = [\n");
        assert!(line >= 2);
    }
}

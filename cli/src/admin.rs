//! The admin commands of a running switch (what `ovs-appctl` and `ovs-vsctl` do for Open
//! vSwitch), served over any OpenFlow connection as wyvern admin messages and sent by the
//! client verbs `wyvern trace`, `add-port`, `del-port` and `topology`.
//!
//! | command | what it does |
//! |---|---|
//! | `trace [--table N] PACKET` | runs PACKET (microflow syntax) through the live tables, prints each step |
//! | `add-port NAME type=T [interface=I] [ofport=N] [options:K=V]...` | opens a datapath port, checked as a `[[port]]` of the configuration |
//! | `del-port NAME\|NUMBER` | closes a datapath port |
//! | `topology apply FILE` | takes the DVR topology of FILE (see `Dvr::apply`) |
//! | `topology show` | this chassis, its VM ports and the L3 controller's counters |
//!
//! Commands that change something are refused to slave controllers.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use wyvern_datapath::Bridge;
use wyvern_ofproto::services::{AdminCaller, AdminHandler};
use wyvern_pipeline::{Pipeline, text, trace};

use crate::bridge_ports::port_spec;
use crate::config;
use crate::dvr::Dvr;

/// The admin commands of one switch.
#[derive(Debug)]
pub struct Admin {
    pub pipeline: Arc<Pipeline>,
    pub bridge: Arc<Bridge>,
    pub dvr: Option<Dvr>,
}

const USAGE: &str = "commands: trace [--table N] PACKET | add-port NAME type=T [interface=I] [ofport=N] [options:K=V]... | del-port NAME|NUMBER | topology apply FILE | topology show";

impl AdminHandler for Admin {
    fn run(&self, caller: AdminCaller, words: &[String]) -> Result<String, String> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let writes = matches!(
            words.as_slice(),
            ["add-port", ..] | ["del-port", ..] | ["topology", "apply", ..]
        );
        if writes && caller.read_only {
            return Err("a slave controller cannot change the switch (OFPCR_ROLE_SLAVE)".into());
        }
        match words.as_slice() {
            ["trace", rest @ ..] => self.trace(rest),
            ["add-port", name, rest @ ..] => self.add_port(name, rest),
            ["del-port", port] => self.del_port(port),
            ["topology", "apply", file] => self.topology_apply(Path::new(file)),
            ["topology", "show"] => self.topology_show(),
            _ => Err(format!("unknown command \"{}\"; {USAGE}", words.join(" "))),
        }
    }
}

impl Admin {
    fn trace(&self, args: &[&str]) -> Result<String, String> {
        let (table, packet) = match args {
            ["--table", t, packet] => (
                t.parse::<u8>()
                    .map_err(|_| format!("--table {t}: a table number (0..=254)"))?,
                *packet,
            ),
            [packet] => (0, *packet),
            _ => return Err("usage: trace [--table N] PACKET".into()),
        };
        let key = text::parse_packet(packet).map_err(|e| format!("packet: {e}"))?;
        let (translation, events) = self.pipeline.trace(&key, table);
        Ok(trace::render(&key, &translation, &events))
    }

    /// Builds the `[[port]]` the words describe and checks it as the configuration would.
    fn add_port(&self, name: &str, args: &[&str]) -> Result<String, String> {
        let mut toml = format!("[[port]]\nname = {}\n", quote(name));
        let mut options = Vec::new();
        for a in args {
            let Some((k, v)) = a.split_once('=') else {
                return Err(format!("\"{a}\": write KEY=VALUE"));
            };
            match k {
                "type" | "interface" => {
                    let _ = writeln!(toml, "{k} = {}", quote(v));
                }
                "ofport" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| format!("ofport={v}: a port number"))?;
                    let _ = writeln!(toml, "ofport = {n}");
                }
                _ => match k.strip_prefix("options:") {
                    Some(o)
                        if !o.is_empty()
                            && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                    {
                        options.push(format!("{o} = {}", quote(v)))
                    }
                    _ => {
                        return Err(format!(
                            "\"{k}\" is not type, interface, ofport or options:NAME"
                        ));
                    }
                },
            }
        }
        if !options.is_empty() {
            let _ = writeln!(toml, "options = {{ {} }}", options.join(", "));
        }
        let cfg = config::parse(Path::new("add-port"), &toml).map_err(|e| e.message)?;
        let Some(port) = cfg.ports.first() else {
            return Err("add-port: no port described".into());
        };
        let no = self
            .bridge
            .add_port(port_spec(port))
            .map_err(|e| format!("port \"{name}\": {e}"))?;
        Ok(format!("port \"{name}\" added as OpenFlow port {no}\n"))
    }

    fn del_port(&self, which: &str) -> Result<String, String> {
        let ports = self.bridge.ports();
        let port = ports
            .iter()
            .find(|p| p.name == which || which.parse::<u32>() == Ok(p.no))
            .ok_or_else(|| format!("no port \"{which}\" (see `wyvern dump-ports-desc`)"))?;
        if let Some(dvr) = &self.dvr
            && dvr.owns_port(port.no)
        {
            return Err(format!(
                "port \"{}\" belongs to the DVR topology: remove it from the topology file and run `wyvern topology apply FILE`",
                port.name
            ));
        }
        self.bridge
            .del_port(port.no)
            .map_err(|e| format!("port \"{}\": {e}", port.name))?;
        Ok(format!(
            "port \"{}\" (OpenFlow port {}) deleted\n",
            port.name, port.no
        ))
    }

    fn dvr(&self) -> Result<&Dvr, String> {
        self.dvr.as_ref().ok_or_else(|| {
            "this switch runs no DVR topology (start it with a configuration that has [[chassis]], [[network]], [[router]] and VM ports)".into()
        })
    }

    fn topology_apply(&self, file: &Path) -> Result<String, String> {
        let dvr = self.dvr()?;
        let cfg = config::load(file).map_err(|e| e.to_string())?;
        let Some(topology) = cfg.dvr else {
            return Err(format!(
                "{}: no topology in this file ([[chassis]], [[network]], [[router]], VM ports)",
                file.display()
            ));
        };
        dvr.apply(topology).map_err(|e| e.to_string())
    }

    fn topology_show(&self) -> Result<String, String> {
        Ok(self.dvr()?.show())
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

//! The `ovs-ofctl`-compatible verbs: `wyvern show`, `dump-flows`, `add-flows`, ... against any
//! OpenFlow 1.3 switch (wyvern's own management socket by default, or Open vSwitch).
//!
//! Each verb takes `ovs-ofctl -O OpenFlow13`'s arguments and prints exactly what it prints
//! (see `shared/notes/ofctl-wire.md` §6), through [`print::format_message`]. TARGET is optional:
//! without it the verb talks to `unix:/run/wyvern/BRIDGE.mgmt` (`--bridge`, default `br-int`).
//! A first argument that starts with `tcp:`, `unix:` or `/` is a target; for the verbs that take
//! nothing but a target, a bare word is a bridge name.
//!
//! Unlike `ovs-ofctl`, no verb opens extra connections to look up port and table names, flow
//! mods are pipelined (all FLOW_MODs, then one BARRIER) instead of one round trip each, and
//! `add-flows` sends a file inside one bundle as it parses it (see [`flows::add_flows`]).
//!
//! | module | verbs |
//! |---|---|
//! | [`flows`] | `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`, `del-flows` |
//! | [`stats`] | `show`, `dump-desc`, `dump-tables`, `dump-ports`, `dump-ports-desc` |
//! | [`packet`] | `packet-out`, `monitor` |
//! | [`ofp_print`] | `ofp-print` (offline) |
//! | [`admin`] | wyvern's own: `add-port`, `del-port`, `topology apply\|show` (and the live `trace`) |
//! | [`print`] | messages as text |

pub mod admin;
pub mod flows;
pub mod ofp_print;
pub mod packet;
pub mod print;
pub mod stats;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use wyvern_ofproto::client::{Client, ClientError, Target};

/// The `ovs-ofctl` verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Prints the switch's features, ports and configuration.
    Show(stats::TargetOnly),
    /// Prints the switch's description (OFPST_DESC).
    DumpDesc(stats::TargetOnly),
    /// Prints per-table statistics.
    DumpTables(stats::TargetOnly),
    /// Prints port statistics: [TARGET] [PORT].
    DumpPorts(stats::DumpPorts),
    /// Prints every port's description.
    DumpPortsDesc(stats::TargetOnly),
    /// Prints flows: [TARGET] [FLOW].
    DumpFlows(flows::DumpFlows),
    /// Prints the flows' aggregate statistics: [TARGET] [FLOW].
    DumpAggregate(flows::DumpFlows),
    /// Adds one flow: [TARGET] FLOW.
    AddFlow(flows::AddFlow),
    /// Adds the flows in FILE (`-` for stdin), one per line: [TARGET] FILE.
    AddFlows(flows::AddFlows),
    /// Modifies the actions of matching flows: [TARGET] FLOW.
    ModFlows(flows::ModFlows),
    /// Deletes matching flows (all without FLOW): [TARGET] [FLOW].
    DelFlows(flows::ModFlows),
    /// Sends a packet: [TARGET] in_port=P,packet=HEX,actions=A (or IN_PORT ACTIONS HEX...).
    PacketOut(packet::PacketOutArgs),
    /// Prints PACKET_IN, FLOW_REMOVED and PORT_STATUS messages as they come: [TARGET] [MISS_LEN].
    Monitor(packet::MonitorArgs),
    /// Decodes OpenFlow messages given as hex or in a binary file.
    OfpPrint(ofp_print::OfpPrintArgs),
    /// Opens a datapath port on a running wyvern switch.
    AddPort(admin::AddPort),
    /// Closes a datapath port of a running wyvern switch.
    DelPort(admin::DelPort),
    /// The DVR topology of a running wyvern switch.
    #[command(subcommand)]
    Topology(admin::Topology),
}

/// Options every online verb takes.
#[derive(Debug, Args)]
pub struct Conn {
    /// The bridge whose management socket is the default target.
    #[arg(long, default_value = "br-int")]
    pub bridge: String,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Accepted for `ovs-ofctl` compatibility; only OpenFlow13 is spoken.
    #[arg(short = 'O', long = "protocols", value_name = "OpenFlow13")]
    pub protocols: Option<String>,
}

/// Why a verb failed.
#[derive(Debug, thiserror::Error)]
pub enum OfctlError {
    /// Talking to the switch failed.
    #[error("{target}: {source}")]
    Client {
        target: String,
        #[source]
        source: ClientError,
    },
    /// The arguments are wrong.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A flow or action text was rejected.
    #[error("{0}")]
    Text(String),
}

/// Runs one verb.
pub fn run(verb: Verb) -> Result<(), OfctlError> {
    match verb {
        Verb::Show(a) => stats::show(&a),
        Verb::DumpDesc(a) => stats::dump_desc(&a),
        Verb::DumpTables(a) => stats::dump_tables(&a),
        Verb::DumpPorts(a) => stats::dump_ports(&a),
        Verb::DumpPortsDesc(a) => stats::dump_ports_desc(&a),
        Verb::DumpFlows(a) => flows::dump_flows(&a, false),
        Verb::DumpAggregate(a) => flows::dump_flows(&a, true),
        Verb::AddFlow(a) => flows::add_flow(&a),
        Verb::AddFlows(a) => flows::add_flows(&a),
        Verb::ModFlows(a) => flows::mod_flows(&a, false),
        Verb::DelFlows(a) => flows::mod_flows(&a, true),
        Verb::PacketOut(a) => packet::packet_out(&a),
        Verb::Monitor(a) => packet::monitor(&a),
        Verb::OfpPrint(a) => ofp_print::run(&a),
        Verb::AddPort(a) => admin::add_port(&a),
        Verb::DelPort(a) => admin::del_port(&a),
        Verb::Topology(t) => admin::topology(&t),
    }
}

/// True when a command-line argument is a connection string (or a socket path).
pub fn is_target(s: &str) -> bool {
    s.starts_with('/') || ["tcp:", "unix:", "ssl:"].iter().any(|p| s.starts_with(p))
}

/// Parses a connection string; a bare path is a Unix socket.
pub fn parse_target(s: &str) -> Result<Target, OfctlError> {
    if s.starts_with('/') {
        return Ok(Target::Unix(PathBuf::from(s)));
    }
    s.parse()
        .map_err(|e: ClientError| OfctlError::Usage(e.to_string()))
}

impl Conn {
    /// The default target: the bridge's management socket.
    pub fn default_target(&self) -> Target {
        Target::Unix(PathBuf::from(format!("/run/wyvern/{}.mgmt", self.bridge)))
    }

    /// Splits `args` into the target (when the first one is a connection string) and the rest.
    pub fn split<'a>(&self, args: &'a [String]) -> Result<(Target, &'a [String]), OfctlError> {
        match args.first() {
            Some(first) if is_target(first) => Ok((parse_target(first)?, &args[1..])),
            _ => Ok((self.default_target(), args)),
        }
    }

    /// Connects to `target`.
    pub fn connect(&self, target: &Target) -> Result<Session, OfctlError> {
        if let Some(p) = &self.protocols
            && !p.split(',').any(|v| v.eq_ignore_ascii_case("OpenFlow13"))
        {
            return Err(OfctlError::Usage(format!(
                "-O {p}: wyvern speaks only OpenFlow13"
            )));
        }
        let timeout = Some(Duration::from_secs(self.timeout.max(1)));
        let client = Client::connect(target, timeout).map_err(|source| OfctlError::Client {
            target: target.to_string(),
            source,
        })?;
        Ok(Session {
            target: target.to_string(),
            client,
        })
    }
}

/// A connection and the name it is reported under.
#[derive(Debug)]
pub struct Session {
    pub target: String,
    pub client: Client,
}

impl Session {
    /// Wraps a client error with the target; an OFPT_ERROR from the switch is first printed on
    /// stderr as `ovs-ofctl` prints it.
    pub fn fail(&self, source: ClientError) -> OfctlError {
        if let ClientError::Peer { xid, error } = &source {
            let h = wyvern_ofproto::codec::Header {
                version: 4,
                msg_type: 1,
                length: 0,
                xid: *xid,
            };
            let text =
                print::format_message(&h, &wyvern_ofproto::msg::Message::Error(error.clone()));
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
        OfctlError::Client {
            target: self.target.clone(),
            source,
        }
    }
}

/// Writes to stdout, ignoring a closed pipe.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// Hex digits, with or without spaces, colons or newlines between them.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, OfctlError> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(OfctlError::Text(format!(
            "\"{s}\": odd number of hex digits"
        )));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| OfctlError::Text(format!("\"{s}\": not hex")))
        })
        .collect()
}

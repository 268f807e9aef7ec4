//! The flow-table verbs: `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`,
//! `del-flows`.
//!
//! Flow text is parsed with `wyvern_pipeline::text::parse_flow` (the same syntax as
//! `ovs-ofctl -O OpenFlow13`). Flow mods go out pipelined: every FLOW_MOD, then one BARRIER,
//! with errors read as they come ([`wyvern_ofproto::client::Client::transact`]); `--bundle`
//! wraps them in one atomic ONF bundle instead.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use wyvern_ofproto::msg::flow::GROUP_ANY;
use wyvern_ofproto::msg::multipart::FlowStatsRequest;
use wyvern_ofproto::msg::{FlowModMsg, Message, MpReply, MpRequest};
use wyvern_pipeline::flow::{FlowMod, FlowModCommand};
use wyvern_pipeline::text::{FlowStyle, format_flow, parse_flow};

use super::print::{flows_text, format_message, header_line, mp_flags};
use super::{Conn, OfctlError, out};

/// `dump-flows` / `dump-aggregate`: `[TARGET] [FLOW]`.
#[derive(Debug, Args)]
pub struct DumpFlows {
    #[command(flatten)]
    pub conn: Conn,
    /// Leave out the duration and the packet and byte counters.
    #[arg(long)]
    pub no_stats: bool,
    /// `[TARGET] [FLOW]`: FLOW selects by table=, cookie=V/M, out_port= and match fields.
    pub args: Vec<String>,
}

/// `add-flow`: `[TARGET] FLOW`.
#[derive(Debug, Args)]
pub struct AddFlow {
    #[command(flatten)]
    pub conn: Conn,
    /// `[TARGET] FLOW`.
    #[arg(required = true)]
    pub args: Vec<String>,
}

/// `add-flows`: `[TARGET] FILE`.
#[derive(Debug, Args)]
pub struct AddFlows {
    #[command(flatten)]
    pub conn: Conn,
    /// Apply all the flows atomically in one ONF bundle.
    #[arg(long)]
    pub bundle: bool,
    /// `[TARGET] FILE`: one flow per line (`#` comments; a line may start with add, modify,
    /// modify_strict, delete or delete_strict); `-` reads stdin.
    #[arg(required = true)]
    pub args: Vec<String>,
}

/// `mod-flows` / `del-flows`: `[TARGET] [FLOW]`.
#[derive(Debug, Args)]
pub struct ModFlows {
    #[command(flatten)]
    pub conn: Conn,
    /// Only the flow with exactly this match and priority.
    #[arg(long)]
    pub strict: bool,
    /// `[TARGET] FLOW` (for del-flows, FLOW is optional: all flows).
    pub args: Vec<String>,
}

fn parse(text: &str, command: FlowModCommand) -> Result<FlowMod, OfctlError> {
    parse_flow(text, command).map_err(|e| OfctlError::Text(e.to_string()))
}

pub fn dump_flows(a: &DumpFlows, aggregate: bool) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let fm = parse(&rest.join(","), FlowModCommand::Delete)?;
    let req = FlowStatsRequest {
        table_id: fm.spec.table,
        out_port: fm.out_port,
        out_group: GROUP_ANY,
        cookie: fm.spec.cookie,
        cookie_mask: fm.cookie_mask,
        matching: fm.spec.matching,
    };
    let mut s = a.conn.connect(&target)?;
    let body = if aggregate {
        MpRequest::Aggregate(req)
    } else {
        MpRequest::Flow(req)
    };
    let replies = s.client.multipart(body).map_err(|e| s.fail(e))?;
    let style = if a.no_stats {
        FlowStyle::NoStats
    } else {
        FlowStyle::Stats
    };
    for (h, m) in replies {
        match &m.body {
            // As ovs-ofctl: with --no-stats the flows are printed without the reply header.
            MpReply::Flow(flows) if a.no_stats => {
                let text: String = flows.iter().map(|f| format_flow(f, style) + "\n").collect();
                out(&text);
            }
            MpReply::Flow(flows) => {
                let mut text = header_line("OFPST_FLOW reply", h.xid);
                mp_flags(&mut text, m.flags);
                flows_text(&mut text, flows, style);
                text.push('\n');
                out(&text);
            }
            _ => out(&format_message(&h, &Message::MultipartReply(m))),
        }
    }
    Ok(())
}

/// Sends flow mods (pipelined, or in a bundle) and reports the first error.
fn apply(
    conn: &Conn,
    target: &wyvern_ofproto::client::Target,
    mods: Vec<FlowMod>,
    bundle: bool,
) -> Result<(), OfctlError> {
    let msgs: Vec<Message> = mods
        .into_iter()
        .map(|m| Message::FlowMod(FlowModMsg::new(m)))
        .collect();
    let mut s = conn.connect(target)?;
    let res = if bundle {
        s.client.bundle(0, msgs)
    } else {
        s.client.transact(&msgs)
    };
    res.map_err(|e| s.fail(e))
}

pub fn add_flow(a: &AddFlow) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let [flow] = rest else {
        return Err(OfctlError::Usage("add-flow takes [TARGET] FLOW".into()));
    };
    let fm = parse(flow, FlowModCommand::Add)?;
    apply(&a.conn, &target, vec![fm], false)
}

/// Parses a flows file: one flow per line, blank lines and `#` comments skipped, each line
/// optionally led by a command word.
pub fn parse_flows_file(name: &str, content: &str) -> Result<Vec<FlowMod>, OfctlError> {
    let mut mods = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let end = line
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(line.len());
        let (command, rest) = match &line[..end] {
            "add" => (FlowModCommand::Add, &line[end..]),
            "modify" => (FlowModCommand::Modify, &line[end..]),
            "modify_strict" => (FlowModCommand::ModifyStrict, &line[end..]),
            "delete" => (FlowModCommand::Delete, &line[end..]),
            "delete_strict" => (FlowModCommand::DeleteStrict, &line[end..]),
            _ => (FlowModCommand::Add, line),
        };
        let fm = parse_flow(rest, command)
            .map_err(|e| OfctlError::Text(format!("{name}:{}: {e}", n + 1)))?;
        mods.push(fm);
    }
    Ok(mods)
}

pub fn add_flows(a: &AddFlows) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let [file] = rest else {
        return Err(OfctlError::Usage("add-flows takes [TARGET] FILE".into()));
    };
    let content = if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| OfctlError::Read {
                path: PathBuf::from("-"),
                source,
            })?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|source| OfctlError::Read {
            path: PathBuf::from(file),
            source,
        })?
    };
    let mods = parse_flows_file(file, &content)?;
    apply(&a.conn, &target, mods, a.bundle)
}

pub fn mod_flows(a: &ModFlows, delete: bool) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let command = match (delete, a.strict) {
        (false, false) => FlowModCommand::Modify,
        (false, true) => FlowModCommand::ModifyStrict,
        (true, false) => FlowModCommand::Delete,
        (true, true) => FlowModCommand::DeleteStrict,
    };
    let flow = match rest {
        [] if delete => "",
        [f] => f.as_str(),
        _ if delete => return Err(OfctlError::Usage("del-flows takes [TARGET] [FLOW]".into())),
        _ => return Err(OfctlError::Usage("mod-flows takes [TARGET] FLOW".into())),
    };
    let fm = parse(flow, command)?;
    apply(&a.conn, &target, vec![fm], false)
}

//! The flow-table verbs: `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`,
//! `del-flows`.
//!
//! Flow text is parsed with `wyvern_pipeline::text::parse_flow` (the same syntax as
//! `ovs-ofctl -O OpenFlow13`); a flows file is parsed whole, on several threads when it is
//! large, before anything is sent. Flow mods go out pipelined: every FLOW_MOD, then one
//! BARRIER, with errors read as they come ([`wyvern_ofproto::client::Client::send_encoded`]);
//! `--bundle` wraps them in one atomic ONF bundle instead.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use wyvern_ofproto::client::{Encoded, Transaction};
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

/// Sends one flow mod (and a barrier) and reports its error.
fn apply(
    conn: &Conn,
    target: &wyvern_ofproto::client::Target,
    fm: FlowMod,
) -> Result<(), OfctlError> {
    let mut s = conn.connect(target)?;
    let msg = Message::FlowMod(FlowModMsg::new(fm));
    s.client.transact([msg]).map_err(|e| s.fail(e))
}

pub fn add_flow(a: &AddFlow) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let [flow] = rest else {
        return Err(OfctlError::Usage("add-flow takes [TARGET] FLOW".into()));
    };
    let fm = parse(flow, FlowModCommand::Add)?;
    apply(&a.conn, &target, fm)
}

/// The lines of a flows file that hold a flow, with their line numbers: blank lines and `#`
/// comments skipped, each flow optionally led by a command word.
fn flow_lines(content: &str) -> Vec<(usize, FlowModCommand, &str)> {
    let mut lines = Vec::new();
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
        lines.push((n + 1, command, rest));
    }
    lines
}

/// Files with fewer flows than this per thread are parsed on fewer threads.
const LINES_PER_THREAD: usize = 4096;

/// Parses the flows of a file (see [`flow_lines`]) and encodes them for `transaction`, on up
/// to as many threads as the machine has cores: one part per thread, in file order. Nothing
/// is sent until all of it parsed: the first bad line (by line number) is the error.
pub fn encode_flows_file(
    name: &str,
    content: &str,
    transaction: Transaction,
) -> Result<Vec<Encoded>, OfctlError> {
    let lines = flow_lines(content);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(lines.len() / LINES_PER_THREAD).max(1);
    let encode = |part: &[(usize, FlowModCommand, &str)]| {
        // A flow's message takes about as many bytes as its text (a learned flow: 276 bytes
        // of text, a 184-byte FLOW_MOD): one allocation instead of a dozen doublings.
        let text: usize = part.iter().map(|(_, _, t)| t.len()).sum();
        let mut e = Encoded::with_capacity(text);
        for &(n, command, text) in part {
            let fm = parse_flow(text, command)
                .map_err(|err| OfctlError::Text(format!("{name}:{n}: {err}")))?;
            e.push(transaction, Message::FlowMod(FlowModMsg::new(fm)));
        }
        Ok(e)
    };
    if threads == 1 {
        return encode(&lines).map(|e| vec![e]);
    }
    let per_thread = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let running: Vec<_> = lines
            .chunks(per_thread)
            .map(|part| scope.spawn(move || encode(part)))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
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
    let transaction = if a.bundle {
        Transaction::Bundle(0)
    } else {
        Transaction::Pipelined
    };
    let parts = encode_flows_file(file, &content, transaction)?;
    let mut s = a.conn.connect(&target)?;
    s.client
        .send_encoded(transaction, parts)
        .map_err(|e| s.fail(e))
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
    apply(&a.conn, &target, fm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `n` flows with a comment, a blank line and a command word in between.
    fn file(n: usize, bad: &[usize]) -> String {
        let mut s = String::from("# flows\n\n");
        for i in 0..n {
            if bad.contains(&i) {
                s.push_str(&format!(
                    "table=1,priority=5,in_port={i},nonsense=1,actions=drop\n"
                ));
            } else if i % 1000 == 7 {
                s.push_str(&format!(
                    "delete_strict table=1,priority=5,in_port={}\n",
                    i - 1
                ));
            } else {
                s.push_str(&format!(
                    "table=1, priority=5,in_port={i} actions=output:2\n"
                ));
            }
        }
        s
    }

    #[test]
    fn files_parse_alike_on_one_thread_and_many() {
        let text = file(5 * LINES_PER_THREAD + 3, &[]);
        for t in [Transaction::Pipelined, Transaction::Bundle(3)] {
            let parts = encode_flows_file("f", &text, t).unwrap();
            if std::thread::available_parallelism().map_or(1, usize::from) > 1 {
                assert!(parts.len() > 1, "parsed on several threads");
            }
            let lines = flow_lines(&text);
            assert_eq!(lines.len(), 5 * LINES_PER_THREAD + 3);
            let per_part = lines.len().div_ceil(parts.len());
            for (part, chunk) in parts.iter().zip(lines.chunks(per_part)) {
                let mut one = Encoded::new();
                for &(_, command, flow) in chunk {
                    let fm = parse_flow(flow, command).unwrap();
                    one.push(t, Message::FlowMod(FlowModMsg::new(fm)));
                }
                assert_eq!(part, &one);
            }
            assert_eq!(parts.iter().map(Encoded::len).sum::<usize>(), lines.len());
        }
    }

    #[test]
    fn the_first_bad_line_by_number_is_the_error() {
        let n = 4 * LINES_PER_THREAD;
        let text = file(n, &[n - 10, n / 2 + 1]);
        let err = encode_flows_file("f.flows", &text, Transaction::Pipelined).unwrap_err();
        // Two header lines, then flow i on line i + 3.
        let want = format!("f.flows:{}: ", n / 2 + 1 + 3);
        assert!(err.to_string().starts_with(&want), "{err}");
    }
}

//! The flow-table verbs: `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`,
//! `del-flows`.
//!
//! Flow text is parsed with `wyvern_pipeline::text::parse_flow` (the same syntax as
//! `ovs-ofctl -O OpenFlow13`). A flows file is one transaction: it is parsed on every core a
//! part at a time and each part is sent, inside one ONF bundle, as soon as it is parsed, so
//! a bad line or a refused flow changes nothing (see [`add_flows`]). Single flow mods go out
//! with one BARRIER, errors read as they come ([`wyvern_ofproto::client::Client::transact`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use clap::Args;
use wyvern_ofproto::client::{ClientError, Encoded, Refused, Transaction};
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
    /// Only in one ONF bundle: fail if the switch has no bundles. (The flows always go in one
    /// bundle, so that a bad line or a refused flow changes nothing; without this option a
    /// switch without bundles gets them pipelined, applied up to a refused one.)
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
fn flow_lines(content: &str) -> Vec<FlowLine<'_>> {
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

/// How many bytes of a flows file are read, parsed and sent as one part: about 1,900 learned
/// flows, 3 ms of parsing, 350 KB of messages.
const PART_BYTES: usize = 512 * 1024;

/// A flows line with its line number and command.
type FlowLine<'a> = (usize, FlowModCommand, &'a str);

/// Why streaming a flows file stopped.
enum Stopped {
    /// The file could not be read, or a line did not parse (the first bad one by number).
    Input(OfctlError),
    /// Sending failed.
    Send(ClientError),
}

/// One part of a flows file, parsed: its messages, the line (counted within the part, from
/// 1) of each, and how many lines the part has.
struct ParsedPart {
    encoded: Encoded,
    flow_lines: Vec<usize>,
    lines: usize,
}

/// Why a part could not be parsed.
enum PartError {
    /// The line (counted within the part, from 1) and what is wrong with it.
    Line(usize, String),
    Read(std::io::Error),
}

/// Parses and encodes one part of a flows file for `transaction`.
fn parse_part(text: &str, transaction: Transaction) -> Result<ParsedPart, PartError> {
    let lines = flow_lines(text);
    // A flow's message takes about as many bytes as its text (a learned flow: 276 bytes of
    // text, a 184-byte FLOW_MOD): one allocation instead of a dozen doublings.
    let mut encoded = Encoded::with_capacity(text.len());
    for &(n, command, flow) in &lines {
        let fm = parse_flow(flow, command).map_err(|e| PartError::Line(n, e.to_string()))?;
        encoded.push(transaction, Message::FlowMod(FlowModMsg::new(fm)));
    }
    Ok(ParsedPart {
        encoded,
        flow_lines: lines.iter().map(|&(n, _, _)| n).collect(),
        lines: text.lines().count(),
    })
}

/// Reads `input` and hands `part` its text a part of whole lines at a time, about
/// `part_bytes` each (a longer line makes a longer part; the last one may lack its newline),
/// until the end or until `part` returns false.
fn read_parts(
    input: &mut dyn Read,
    part_bytes: usize,
    mut part: impl FnMut(Result<String, std::io::Error>) -> bool,
) {
    let mut carry = Vec::new();
    loop {
        let mut buf = std::mem::take(&mut carry);
        let read = input.take(part_bytes as u64).read_to_end(&mut buf);
        let eof = match read {
            Ok(n) => n < part_bytes,
            Err(e) => {
                part(Err(e));
                return;
            }
        };
        let cut = match buf.iter().rposition(|&b| b == b'\n') {
            _ if eof => buf.len(),
            Some(newline) => newline + 1,
            // A line longer than a part: read on.
            None => {
                carry = buf;
                continue;
            }
        };
        carry = buf.split_off(cut);
        // Cut after a newline, so never inside a UTF-8 sequence.
        let text = String::from_utf8(buf).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        });
        let go_on = match &text {
            Ok(t) if t.is_empty() => true,
            Ok(_) => part(text),
            Err(_) => {
                part(text);
                false
            }
        };
        if eof || !go_on {
            return;
        }
    }
}

/// Reads, parses and encodes a flows file (`name`, read from `input`) for `transaction`, a
/// part of about `part_bytes` at a time, on as many threads as the machine has cores while
/// one more reads, and hands the parts to `send` in file order, each as soon as it and those
/// before it are parsed. Stops at the first bad line (by line number): nothing after it is
/// sent. Returns the line number of each flow sent, in order.
fn stream_flows(
    name: &str,
    input: &mut (dyn Read + Send),
    part_bytes: usize,
    transaction: Transaction,
    mut send: impl FnMut(Encoded) -> Result<(), ClientError>,
) -> Result<Vec<usize>, Stopped> {
    let mut flow_lines = Vec::new();
    // Lines of the parts already sent: where the next one starts.
    let mut lines_before = 0;
    let mut take = |part: Result<ParsedPart, PartError>| {
        let bad = |e| Stopped::Input(e);
        let part = part.map_err(|e| match e {
            PartError::Line(n, why) => bad(OfctlError::Text(format!(
                "{name}:{}: {why}",
                lines_before + n
            ))),
            PartError::Read(source) => bad(OfctlError::Read {
                path: PathBuf::from(name),
                source,
            }),
        })?;
        flow_lines.extend(part.flow_lines.iter().map(|n| lines_before + n));
        lines_before += part.lines;
        send(part.encoded).map_err(Stopped::Send)
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads <= 1 {
        let mut result = Ok(());
        read_parts(input, part_bytes, |text| {
            let parsed = text
                .map_err(PartError::Read)
                .and_then(|t| parse_part(&t, transaction));
            result = take(parsed);
            result.is_ok()
        });
        return result.map(|()| flow_lines);
    }
    // One thread reads and numbers the parts, the others parse them as they come, and this
    // one puts them back in order and sends them.
    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let (texts, to_parse) = crossbeam::channel::unbounded::<(usize, String)>();
        let (parsed, done) = mpsc::channel();
        let (stop, reader_done) = (&stop, parsed.clone());
        scope.spawn(move || {
            let mut i = 0;
            read_parts(input, part_bytes, |text| {
                let sent = match text {
                    Ok(t) => texts.send((i, t)).is_ok(),
                    Err(e) => reader_done.send((i, Err(PartError::Read(e)))).is_ok(),
                };
                i += 1;
                sent && !stop.load(Ordering::Relaxed)
            });
        });
        for _ in 0..threads {
            let (to_parse, parsed) = (to_parse.clone(), parsed.clone());
            scope.spawn(move || {
                for (i, text) in to_parse {
                    if stop.load(Ordering::Relaxed)
                        || parsed.send((i, parse_part(&text, transaction))).is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop((to_parse, parsed));
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        let result = (|| {
            // Until every thread is done and nothing waits.
            for (i, part) in &done {
                waiting.insert(i, part);
                while let Some(part) = waiting.remove(&next) {
                    take(part)?;
                    next += 1;
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        result
    });
    result.map(|()| flow_lines)
}

/// Reads, parses and encodes a whole flows file for `transaction` (on every core) before
/// anything is sent: the first bad line (by line number) is the error. Returns the parts and
/// the line number of each flow.
fn encode_flows_file(
    name: &str,
    input: &mut (dyn Read + Send),
    part_bytes: usize,
    transaction: Transaction,
) -> Result<(Vec<Encoded>, Vec<usize>), OfctlError> {
    let mut parts = Vec::new();
    let collect = |part| {
        parts.push(part);
        Ok(())
    };
    match stream_flows(name, input, part_bytes, transaction, collect) {
        Ok(lines) => Ok((parts, lines)),
        Err(Stopped::Input(e)) => Err(e),
        Err(Stopped::Send(_)) => unreachable!("collecting parts does not fail"),
    }
}

/// `add-flows`: the file is one transaction. Its flows go to the switch inside an ONF bundle
/// as they are read and parsed, so the switch works on the first ones while the rest are
/// parsed: a bad line discards the bundle, and a flow the switch refuses fails the commit, so
/// either way nothing changes. A switch without bundles (that refuses to open one) gets the
/// file parsed whole first and then pipelined, as `ovs-ofctl add-flows` would send it
/// (unless `--bundle` asked for a bundle: then it is an error).
pub fn add_flows(a: &AddFlows) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let [file] = rest else {
        return Err(OfctlError::Usage("add-flows takes [TARGET] FILE".into()));
    };
    let mut input: Box<dyn Read + Send> = if file == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file).map_err(|source| OfctlError::Read {
                path: PathBuf::from(file),
                source,
            })?,
        )
    };
    let mut s = a.conn.connect(&target)?;
    let bundle = Transaction::Bundle(0);
    let (refused, lines, atomic) = match s.client.begin(bundle) {
        Ok(mut writer) => {
            let streamed = stream_flows(file, &mut input, PART_BYTES, bundle, |part| {
                writer.send(part)
            });
            match streamed {
                Ok(lines) => (writer.finish(), lines, true),
                Err(Stopped::Input(e)) => {
                    // Closing the connection would drop the bundle too; this says so first.
                    let _ = writer.abandon();
                    return Err(e);
                }
                Err(Stopped::Send(e)) => return Err(s.fail(e)),
            }
        }
        Err(ClientError::Peer { .. }) if !a.bundle => {
            let (parts, lines) =
                encode_flows_file(file, &mut input, PART_BYTES, Transaction::Pipelined)?;
            let sent = s.client.begin(Transaction::Pipelined).and_then(|mut w| {
                parts.into_iter().try_for_each(|part| w.send(part))?;
                Ok(w)
            });
            match sent {
                Ok(w) => (w.finish(), lines, false),
                Err(e) => return Err(s.fail(e)),
            }
        }
        Err(e) => return Err(s.fail(e)),
    };
    let Err(Refused { index, error }) = refused else {
        return Ok(());
    };
    let line = index.and_then(|i| lines.get(i)).copied();
    let error = s.fail(error);
    Err(match line {
        Some(n) if atomic => OfctlError::Text(format!("{file}:{n}: {error}; no flow was changed")),
        Some(n) => OfctlError::Text(format!("{file}:{n}: {error}")),
        None => error,
    })
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

    /// Enough lines of [`file`] (each under 60 bytes) for several parts of [`PART_BYTES`].
    const SEVERAL_PARTS: usize = 3 * PART_BYTES / 60;

    fn encode(text: &str, part_bytes: usize, t: Transaction) -> Result<Vec<Encoded>, OfctlError> {
        let (parts, lines) = encode_flows_file("f.flows", &mut text.as_bytes(), part_bytes, t)?;
        let numbers: Vec<usize> = flow_lines(text).iter().map(|&(n, _, _)| n).collect();
        assert_eq!(lines, numbers, "each flow's line number");
        Ok(parts)
    }

    #[test]
    fn files_parse_alike_in_one_part_and_many() {
        let text = file(2000, &[]);
        for t in [Transaction::Pipelined, Transaction::Bundle(3)] {
            let parts = encode(&text, 4096, t).unwrap();
            assert!(parts.len() > 10, "{} parts", parts.len());
            let lines = flow_lines(&text);
            let mut flows = lines.iter();
            for part in &parts {
                let mut one = Encoded::new();
                for &(_, command, flow) in flows.by_ref().take(part.len()) {
                    one.push(
                        t,
                        Message::FlowMod(FlowModMsg::new(parse_flow(flow, command).unwrap())),
                    );
                }
                assert_eq!(part, &one, "in order");
            }
            assert!(flows.next().is_none());
        }
    }

    #[test]
    fn lines_longer_than_a_part_and_no_last_newline_are_read_whole() {
        let long = format!(
            "table=1,priority=5,cookie=0x1{},actions=drop",
            " ".repeat(9000)
        );
        let text = format!("{long}\n{}table=1,priority=6,actions=drop", file(300, &[]));
        let parts = encode(&text, 4096, Transaction::Pipelined).unwrap();
        assert_eq!(parts.iter().map(Encoded::len).sum::<usize>(), 302);
    }

    #[test]
    fn the_first_bad_line_by_number_is_the_error() {
        let n = 2000;
        let text = file(n, &[n - 10, n / 2 + 1]);
        let err = encode(&text, 4096, Transaction::Pipelined).unwrap_err();
        // Two header lines, then flow i on line i + 3.
        let want = format!("f.flows:{}: ", n / 2 + 1 + 3);
        assert!(err.to_string().starts_with(&want), "{err}");
    }

    /// A switch (endpoint and pipeline, in this process) on a loopback TCP port.
    struct Switch {
        endpoint: Option<wyvern_ofproto::endpoint::Endpoint>,
        pipeline: std::sync::Arc<wyvern_pipeline::Pipeline>,
        target: String,
    }

    impl Switch {
        fn start() -> Switch {
            use wyvern_ofproto::endpoint::{ConnTarget, Endpoint, EndpointConfig, ListenAddr};
            let pipeline = wyvern_pipeline::Pipeline::new(Default::default());
            let mut config = EndpointConfig::new("br-add-flows", 1);
            config.listen = vec!["ptcp:0:127.0.0.1".parse::<ConnTarget>().unwrap()];
            let endpoint = Endpoint::start(config, pipeline.clone(), Default::default()).unwrap();
            let Some(ListenAddr::Tcp(addr)) = endpoint.listen_addrs().first().cloned() else {
                panic!("no TCP listener");
            };
            Switch {
                endpoint: Some(endpoint),
                pipeline,
                target: format!("tcp:{addr}"),
            }
        }

        /// Runs `add-flows` of `text` (written to a file of this test) into the switch.
        fn add_flows(&self, test: &str, text: &str) -> Result<(), OfctlError> {
            let path = std::env::temp_dir().join(format!(
                "wyvern-add-flows-{}-{test}.flows",
                std::process::id()
            ));
            std::fs::write(&path, text).unwrap();
            let a = AddFlows {
                conn: Conn {
                    bridge: "br-add-flows".into(),
                    timeout: 30,
                    protocols: None,
                },
                bundle: false,
                args: vec![self.target.clone(), path.to_str().unwrap().into()],
            };
            let result = add_flows(&a);
            let _ = std::fs::remove_file(&path);
            result
        }

        /// A switch holding one flow, and its flows.
        fn with_a_flow() -> (Switch, Vec<wyvern_pipeline::flow::FlowSpec>) {
            let sw = Switch::start();
            sw.add_flows("first", "table=9,priority=1,actions=drop\n")
                .unwrap();
            let flows = sw.flows();
            assert_eq!(flows.len(), 1);
            (sw, flows)
        }

        fn flows(&self) -> Vec<wyvern_pipeline::flow::FlowSpec> {
            let all = wyvern_pipeline::FlowFilter::default();
            let mut specs: Vec<_> = self
                .pipeline
                .dump_flows(&all)
                .into_iter()
                .map(|f| f.spec)
                .collect();
            specs.sort_by_key(|s| (s.table, s.priority, format!("{:?}", s.matching)));
            specs
        }
    }

    impl Drop for Switch {
        fn drop(&mut self) {
            if let Some(e) = self.endpoint.take() {
                e.shutdown();
            }
        }
    }

    #[test]
    fn a_file_loads_whole_and_in_order() {
        let sw = Switch::start();
        let n = SEVERAL_PARTS + 11;
        sw.add_flows("whole", &file(n, &[])).unwrap();
        // Every 1000th flow (from 7 on) deletes the one before it.
        let deleted = (0..n).filter(|i| i % 1000 == 7).count();
        assert_eq!(sw.flows().len(), n - 2 * deleted);
    }

    #[test]
    fn a_file_with_a_bad_last_line_changes_nothing() {
        let (sw, before) = Switch::with_a_flow();
        // Parts before the bad line are parsed and sent first.
        let n = SEVERAL_PARTS + 11;
        let err = sw.add_flows("bad", &file(n, &[n - 1])).unwrap_err();
        assert!(err.to_string().contains(&format!(":{}: ", n + 2)), "{err}");
        assert_eq!(sw.flows(), before);
    }

    #[test]
    fn a_flow_the_switch_refuses_is_reported_with_its_line_and_changes_nothing() {
        let (sw, before) = Switch::with_a_flow();
        let n = SEVERAL_PARTS;
        let mut text = file(n, &[]);
        // Line n + 3, after the two header lines and n flows: a table the switch has not.
        text.push_str("table=254,priority=1,actions=drop\n");
        text.push_str(&file(10, &[]));
        let err = sw.add_flows("refused", &text).unwrap_err().to_string();
        assert!(err.contains(&format!(":{}: ", n + 3)), "{err}");
        assert!(err.ends_with("no flow was changed"), "{err}");
        assert_eq!(sw.flows(), before);
    }

    /// A switch without bundles (it refuses BUNDLE_CONTROL as an unknown experimenter
    /// message) on a Unix socket: it counts the FLOW_MODs it takes until the barrier or the
    /// end of the connection.
    fn switch_without_bundles(path: &std::path::Path) -> std::thread::JoinHandle<usize> {
        use std::io::{Read as _, Write as _};
        use wyvern_ofproto::codec::{FrameSplitter, decode, encode};
        use wyvern_ofproto::error::{BadRequestCode, OfError};
        use wyvern_ofproto::msg::{ErrorMsg, Hello};
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut splitter = FrameSplitter::new();
            let mut buf = vec![0u8; 64 * 1024];
            let mut flow_mods = 0;
            loop {
                while let Some(frame) = splitter.next_frame() {
                    let frame = frame.unwrap();
                    let (h, msg) = decode(&frame).unwrap();
                    let reply = match msg {
                        Message::Hello(_) => Message::Hello(Hello::with_versions(&[4])),
                        Message::FlowMod(_) => {
                            flow_mods += 1;
                            continue;
                        }
                        Message::BarrierRequest => {
                            conn.write_all(&encode(&Message::BarrierReply, h.xid))
                                .unwrap();
                            return flow_mods;
                        }
                        _ => Message::Error(ErrorMsg {
                            error: OfError::BadRequest(BadRequestCode::BadExperimenter),
                            data: frame[..frame.len().min(64)].to_vec(),
                        }),
                    };
                    conn.write_all(&encode(&reply, h.xid)).unwrap();
                }
                match conn.read(&mut buf).unwrap() {
                    0 => return flow_mods,
                    n => splitter.push(&buf[..n]),
                }
            }
        })
    }

    #[test]
    fn a_switch_without_bundles_gets_the_file_pipelined_unless_bundle_is_asked_for() {
        let dir = std::env::temp_dir().join(format!("wyvern-no-bundles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (socket, flows) = (dir.join("sw.sock"), dir.join("f.flows"));
        let n = SEVERAL_PARTS + 5;
        std::fs::write(&flows, file(n, &[])).unwrap();
        let add_flows_with = |bundle: bool| {
            let a = AddFlows {
                conn: Conn {
                    bridge: "br-add-flows".into(),
                    timeout: 30,
                    protocols: None,
                },
                bundle,
                args: vec![
                    format!("unix:{}", socket.display()),
                    flows.to_str().unwrap().into(),
                ],
            };
            add_flows(&a)
        };
        let switch = switch_without_bundles(&socket);
        add_flows_with(false).unwrap();
        assert_eq!(switch.join().unwrap(), n);
        std::fs::remove_file(&socket).unwrap();
        let switch = switch_without_bundles(&socket);
        let err = add_flows_with(true).unwrap_err().to_string();
        assert!(err.contains("OFPBRC_BAD_VENDOR"), "{err}");
        assert_eq!(
            switch.join().unwrap(),
            0,
            "nothing sent after the refused bundle"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

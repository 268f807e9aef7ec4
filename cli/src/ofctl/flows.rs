//! The flow-table verbs: `dump-flows`, `dump-aggregate`, `add-flow`, `add-flows`, `mod-flows`,
//! `del-flows`.
//!
//! Flow text is parsed with `wyvern_pipeline::text::parse_flow` (the same syntax as
//! `ovs-ofctl -O OpenFlow13`). A flows file is one transaction: it is parsed on every core a
//! part at a time and each part is sent, inside one ONF bundle, as soon as it is parsed, so
//! a bad line or a refused flow changes nothing (see [`add_flows`]). Single flow mods go out
//! with one BARRIER, errors read as they come ([`wyvern_ofproto::client::Client::transact`]).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// How many lines of a flows file are parsed as one part: sent as soon as it is parsed (about
/// 3 ms of parsing, 400 KB of messages).
const LINES_PER_PART: usize = 2048;

/// A flows line with its line number and command.
type FlowLine<'a> = (usize, FlowModCommand, &'a str);

/// Why streaming a flows file stopped.
enum Stopped {
    /// A line did not parse (the first bad one by line number).
    BadLine(OfctlError),
    /// Sending failed.
    Send(ClientError),
}

/// Parses the flows of a file (see [`flow_lines`]) and encodes them for `transaction`, a
/// part of [`LINES_PER_PART`] lines at a time on as many threads as the machine has cores,
/// and hands the parts to `send` in file order, each as soon as it and those before it are
/// parsed. Stops at the first bad line (by line number): nothing after it is sent.
fn stream_flows(
    name: &str,
    lines: &[FlowLine<'_>],
    transaction: Transaction,
    mut send: impl FnMut(Encoded) -> Result<(), ClientError>,
) -> Result<(), Stopped> {
    let encode = |part: &[FlowLine<'_>]| {
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
    let parts: Vec<&[FlowLine<'_>]> = lines.chunks(LINES_PER_PART).collect();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(parts.len());
    if threads <= 1 {
        for part in &parts {
            send(encode(part).map_err(Stopped::BadLine)?).map_err(Stopped::Send)?;
        }
        return Ok(());
    }
    // Each thread takes the next part not taken yet; this thread puts them back in order.
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (done, parsed) = mpsc::channel();
        for _ in 0..threads {
            let done = done.clone();
            let (next, stop, parts, encode) = (&next, &stop, &parts, &encode);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(part) = parts.get(i) else { break };
                    if done.send((i, encode(part))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut waiting: BTreeMap<usize, Result<Encoded, OfctlError>> = BTreeMap::new();
        let mut sent = 0;
        let result = (|| {
            while sent < parts.len() {
                let Some(part) = waiting.remove(&sent) else {
                    let (i, part) = parsed.recv().expect("a parsing thread ended early");
                    waiting.insert(i, part);
                    continue;
                };
                send(part.map_err(Stopped::BadLine)?).map_err(Stopped::Send)?;
                sent += 1;
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Parses and encodes a whole flows file for `transaction` (on every core), before anything
/// is sent: the first bad line (by line number) is the error.
pub fn encode_flows_file(
    name: &str,
    content: &str,
    transaction: Transaction,
) -> Result<Vec<Encoded>, OfctlError> {
    let mut parts = Vec::new();
    let collect = |part| {
        parts.push(part);
        Ok(())
    };
    match stream_flows(name, &flow_lines(content), transaction, collect) {
        Ok(()) => Ok(parts),
        Err(Stopped::BadLine(e)) => Err(e),
        Err(Stopped::Send(_)) => unreachable!("collecting parts does not fail"),
    }
}

/// `add-flows`: the file is one transaction. Its flows go to the switch inside an ONF bundle
/// as they are parsed, so the switch works on the first ones while the rest are parsed: a
/// bad line discards the bundle, and a flow the switch refuses fails the commit, so either
/// way nothing changes. A switch without bundles (that refuses to open one) gets the file
/// parsed whole first and then pipelined, as `ovs-ofctl add-flows` would send it (unless
/// `--bundle` asked for a bundle: then it is an error).
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
    let lines = flow_lines(&content);
    let mut s = a.conn.connect(&target)?;
    let bundle = Transaction::Bundle(0);
    let (refused, atomic) = match s.client.begin(bundle) {
        Ok(mut writer) => {
            match stream_flows(file, &lines, bundle, |part| writer.send(part)) {
                Ok(()) => (writer.finish(), true),
                Err(Stopped::BadLine(e)) => {
                    // Closing the connection would drop the bundle too; this says so first.
                    let _ = writer.abandon();
                    return Err(e);
                }
                Err(Stopped::Send(e)) => return Err(s.fail(e)),
            }
        }
        Err(ClientError::Peer { .. }) if !a.bundle => {
            let parts = encode_flows_file(file, &content, Transaction::Pipelined)?;
            let sent = s.client.begin(Transaction::Pipelined).and_then(|mut w| {
                parts.into_iter().try_for_each(|part| w.send(part))?;
                Ok(w)
            });
            match sent {
                Ok(w) => (w.finish(), false),
                Err(e) => return Err(s.fail(e)),
            }
        }
        Err(e) => return Err(s.fail(e)),
    };
    let Err(Refused { index, error }) = refused else {
        return Ok(());
    };
    let line = index.and_then(|i| lines.get(i)).map(|&(n, _, _)| n);
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

    #[test]
    fn files_parse_alike_on_one_thread_and_many() {
        let text = file(5 * LINES_PER_PART + 3, &[]);
        for t in [Transaction::Pipelined, Transaction::Bundle(3)] {
            let parts = encode_flows_file("f", &text, t).unwrap();
            let lines = flow_lines(&text);
            assert_eq!(lines.len(), 5 * LINES_PER_PART + 3);
            assert_eq!(
                parts.len(),
                6,
                "in order, one part per {LINES_PER_PART} lines"
            );
            for (part, chunk) in parts.iter().zip(lines.chunks(LINES_PER_PART)) {
                let mut one = Encoded::new();
                for &(_, command, flow) in chunk {
                    let fm = parse_flow(flow, command).unwrap();
                    one.push(t, Message::FlowMod(FlowModMsg::new(fm)));
                }
                assert_eq!(part, &one);
            }
        }
    }

    #[test]
    fn the_first_bad_line_by_number_is_the_error() {
        let n = 4 * LINES_PER_PART;
        let text = file(n, &[n - 10, n / 2 + 1]);
        let err = encode_flows_file("f.flows", &text, Transaction::Pipelined).unwrap_err();
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
        let n = 3 * LINES_PER_PART + 11;
        sw.add_flows("whole", &file(n, &[])).unwrap();
        // Every 1000th flow (from 7 on) deletes the one before it.
        let deleted = (0..n).filter(|i| i % 1000 == 7).count();
        assert_eq!(sw.flows().len(), n - 2 * deleted);
    }

    #[test]
    fn a_file_with_a_bad_last_line_changes_nothing() {
        let sw = Switch::start();
        sw.add_flows("first", "table=9,priority=1,actions=drop\n")
            .unwrap();
        let before = sw.flows();
        // Parts before the bad line are parsed and sent first.
        let n = 3 * LINES_PER_PART + 11;
        let err = sw.add_flows("bad", &file(n, &[n - 1])).unwrap_err();
        assert!(err.to_string().contains(&format!(":{}: ", n + 2)), "{err}");
        assert_eq!(sw.flows(), before);
    }

    #[test]
    fn a_flow_the_switch_refuses_is_reported_with_its_line_and_changes_nothing() {
        let sw = Switch::start();
        sw.add_flows("first", "table=9,priority=1,actions=drop\n")
            .unwrap();
        let before = sw.flows();
        let n = 2 * LINES_PER_PART;
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
        let n = LINES_PER_PART + 5;
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

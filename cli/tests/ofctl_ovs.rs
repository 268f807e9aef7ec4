//! `wyvern`'s ovs-ofctl verbs against a private Open vSwitch 3.1, with `ovs-ofctl` as the
//! reference: the same commands must leave the same flow tables, and the same dumps must print
//! the same text (after removing `duration=…s, ` and the xids).
//!
//! Needs root and Open vSwitch; each test says "skipping" and passes otherwise.

#[path = "../../tests/common/ovs.rs"]
mod ovs;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ovs::{Bridge, Ovs};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn wyvern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wyvern"))
        .args(args)
        .output()
        .expect("run wyvern")
}

/// Runs `wyvern VERB... TARGET ARGS...` and returns stdout; panics on failure.
fn wy(b: &Bridge, verb: &[&str], args: &[&str]) -> String {
    let mut all: Vec<&str> = verb.to_vec();
    all.push(&b.target);
    all.extend_from_slice(args);
    let out = wyvern(&all);
    assert!(
        out.status.success(),
        "wyvern {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `ovs-ofctl -O OpenFlow13 VERB... TARGET ARGS...` and returns stdout.
fn of(o: &Ovs, b: &Bridge, verb: &[&str], args: &[&str]) -> String {
    let out = o.ofctl(b, verb, args);
    assert!(
        out.status.success(),
        "ovs-ofctl {verb:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Removes what differs between two dumps of the same state: durations and xids.
fn norm(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        while let Some(i) = l.find("duration=") {
            let end = l[i..].find("s, ").map(|e| i + e + 3).or_else(|| {
                // `duration=1.234s` at the end of a port-stats line.
                l[i..].ends_with('s').then_some(l.len())
            });
            match end {
                Some(e) => l.replace_range(i..e, ""),
                None => break,
            }
        }
        if let Some(i) = l.find("(xid=0x") {
            let e = l[i..].find(')').map_or(l.len(), |e| i + e + 1);
            l.replace_range(i..e, "(xid)");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn flows_file(name: &str) -> String {
    examples().join(name).display().to_string()
}

/// The flows of `examples/` with their ports, so OVS accepts every output.
fn load_dragonflow(o: &Ovs, b: &Bridge, with_wyvern: bool) {
    for f in ["dragonflow.flows", "dragonflow-learned.flows"] {
        if with_wyvern {
            wy(b, &["add-flows"], &[&flows_file(f)]);
        } else {
            of(o, b, &["add-flows"], &[&flows_file(f)]);
        }
    }
}

#[test]
fn ofctl_dumps_print_as_ovs_ofctl() {
    let Some(mut o) = Ovs::start() else { return };
    let b = o.bridge("a");
    load_dragonflow(&o, &b, true);
    let dump = wy(&b, &["dump-flows"], &[]);
    assert!(
        dump.starts_with("OFPST_FLOW reply (OF1.3) (xid=0x2):\n"),
        "{dump}"
    );
    assert_eq!(dump.lines().count(), 1 + 24, "{dump}");
    for (verb, args) in [
        (&["dump-flows"][..], &[][..]),
        (&["dump-flows"], &["table=52"]),
        (&["dump-flows"], &["cookie=0x1008000000019/-1"]),
        (&["dump-flows"], &["table=0,in_port=11"]),
        (&["dump-flows"], &["arp"]),
        (&["dump-flows", "--no-stats"], &[]),
        (&["dump-aggregate"], &[]),
        (&["dump-aggregate"], &["table=52"]),
        (&["dump-tables"], &[]),
        (&["dump-ports-desc"], &[]),
        (&["dump-desc"], &[]),
        (&["dump-ports"], &["6"]),
        (&["show"], &[]),
    ] {
        let ours = norm(&wy(&b, verb, args));
        let theirs = norm(&of(&o, &b, verb, args));
        assert_eq!(ours, theirs, "{verb:?} {args:?}");
    }
    // dump-ports: the same ports in the same order, the counters aside.
    let first = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("  port "))
            .map(|l| l[..l.find(':').unwrap()].to_string())
            .collect()
    };
    assert_eq!(
        first(&wy(&b, &["dump-ports"], &[])),
        first(&of(&o, &b, &["dump-ports"], &[]))
    );
}

/// One script of flow-table commands, in ovs-ofctl's syntax: (verb and options, argument).
const SCRIPT: &[(&[&str], &str)] = &[
    (
        &["add-flow"],
        "table=60,priority=10,metadata=0x1f42,actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:6",
    ),
    (&["mod-flows"], "table=60,metadata=0x1f42,actions=output:12"),
    (
        &["--strict", "mod-flows"],
        "table=0,priority=1,actions=goto_table:23",
    ),
    (
        &["--strict", "del-flows"],
        "table=51,priority=100,arp,metadata=0x1f43,arp_tpa=10.2.0.1,arp_op=1",
    ),
    (&["--strict", "del-flows"], "table=40,priority=7"),
    (&["del-flows"], "table=52,cookie=0x1008000000019/-1"),
    (&["mod-flows"], "cookie=0x1008000040051/-1,actions=drop"),
    (
        &["add-flow"],
        "table=23,priority=5,cookie=0x77,ip,actions=drop",
    ),
    (
        &["add-flow"],
        "table=23,priority=6,cookie=0x88,ip,actions=drop",
    ),
    (&["del-flows"], "cookie=0x70/0xf0"),
    (&["del-flows"], "table=40,dl_dst=ff:ff:ff:ff:ff:ff"),
    (&["del-flows"], "table=0,in_port=8"),
    (&["mod-flows"], "table=52,ip,actions=output:11"),
    (&["del-flows"], "out_port=6"),
];

#[test]
fn ofctl_flow_mods_leave_the_tables_ovs_ofctl_leaves() {
    let Some(mut o) = Ovs::start() else { return };
    let (a, b) = (o.bridge("a"), o.bridge("b"));
    load_dragonflow(&o, &a, false);
    load_dragonflow(&o, &b, true);
    let dumps = |step: &str| {
        let theirs = norm(&of(&o, &a, &["dump-flows"], &[]));
        let ours = norm(&of(&o, &b, &["dump-flows"], &[]));
        assert_eq!(ours, theirs, "after {step}");
        assert_eq!(
            norm(&wy(&b, &["dump-flows"], &[])),
            ours,
            "wyvern's own dump after {step}"
        );
    };
    dumps("add-flows");
    for (verb, arg) in SCRIPT {
        of(&o, &a, verb, &[arg]);
        let mut ours: Vec<&str> = verb.iter().copied().filter(|v| *v != "--strict").collect();
        if verb.contains(&"--strict") {
            ours.push("--strict");
        }
        wy(&b, &ours, &[arg]);
        dumps(&format!("{verb:?} {arg}"));
    }
    // del-flows with no flow empties every table.
    of(&o, &a, &["del-flows"], &[]);
    wy(&b, &["del-flows"], &[]);
    dumps("del-flows");
    assert_eq!(wy(&b, &["dump-flows"], &[]).lines().count(), 1);
}

#[test]
fn ofctl_bundle_and_stdin_load_the_same_flows() {
    let Some(mut o) = Ovs::start() else { return };
    let (a, b) = (o.bridge("a"), o.bridge("b"));
    load_dragonflow(&o, &a, false);
    for f in ["dragonflow.flows", "dragonflow-learned.flows"] {
        wy(&b, &["add-flows", "--bundle"], &[&flows_file(f)]);
    }
    let same = || {
        assert_eq!(
            norm(&wy(&b, &["dump-flows"], &[])),
            norm(&of(&o, &a, &["dump-flows"], &[]))
        );
    };
    same();
    // A bundle with one bad flow changes nothing and fails like ovs-ofctl.
    let dir = o.dir().to_path_buf();
    let bad = dir.join("bad.flows");
    std::fs::write(
        &bad,
        "table=1,priority=5,actions=drop\n# comment\n\ntable=254,actions=drop\n",
    )
    .unwrap();
    let out = wyvern(&["add-flows", "--bundle", &b.target, bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("OFPT_ERROR (OF1.3) (xid="), "{err}");
    same();
    // stdin, with command words.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wyvern"))
        .args(["add-flows", &b.target, "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"add table=1,priority=5,actions=drop\ndelete table=1\nadd table=2,priority=9,ip,actions=drop\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    of(
        &o,
        &a,
        &["add-flow"],
        &["table=2,priority=9,ip,actions=drop"],
    );
    same();
}

#[test]
fn ofctl_errors_are_printed_as_ovs_ofctl_prints_them() {
    let Some(mut o) = Ovs::start() else { return };
    let b = o.bridge("a");
    let ours = wyvern(&["add-flow", &b.target, "table=254,actions=drop"]);
    let theirs = o.ofctl(&b, &["add-flow"], &["table=254,actions=drop"]);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(theirs.status.code(), Some(1));
    let ours = String::from_utf8_lossy(&ours.stderr).to_string();
    let theirs = String::from_utf8_lossy(&theirs.stderr).to_string();
    let ours_lines: Vec<&str> = ours.lines().collect();
    let want: Vec<String> = norm(&theirs).lines().map(str::to_string).collect();
    assert_eq!(
        norm(&ours_lines[..2].join("\n"))
            .lines()
            .collect::<Vec<_>>(),
        want,
        "{ours}"
    );
    assert_eq!(
        ours_lines[2],
        format!("wyvern: {}: received OFPBRC_EPERM", b.target)
    );
    // Nothing listens on a fresh port.
    let port = ovs::free_port();
    let out = wyvern(&["show", &format!("tcp:127.0.0.1:{port}")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("wyvern: tcp:127.0.0.1:{port}: connection failed")),
        "{err}"
    );
}

/// A broadcast ARP request from fa:16:3e:00:17:e6 (10.1.0.5) for 10.1.0.1.
const ARP: &str =
    "fffffffffffffa163e0017e608060001080006040001fa163e0017e60a0100050000000000000a010001";

#[test]
fn ofctl_packet_out_and_monitor() {
    let Some(mut o) = Ovs::start() else { return };
    let b = o.bridge("a");
    let mut monitor = Command::new(env!("CARGO_BIN_EXE_wyvern"))
        .args(["monitor", &b.target, "65535"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    wy(
        &b,
        &["packet-out"],
        &[&format!("in_port=controller,packet={ARP},actions=output:6")],
    );
    wy(
        &b,
        &["packet-out"],
        &["CONTROLLER", "output:6,output:11", ARP],
    );
    // A packet sent to the controller comes back to the monitor as a PACKET_IN.
    wy(
        &b,
        &["packet-out"],
        &[&format!("in_port=6,packet={ARP},actions=CONTROLLER:65535")],
    );
    // A flow with send_flow_rem, deleted: FLOW_REMOVED.
    wy(
        &b,
        &["add-flow"],
        &["table=3,priority=7,send_flow_rem,ip,actions=drop"],
    );
    wy(&b, &["del-flows"], &["table=3"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stderr = monitor.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        use std::io::Read as _;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
            if s.contains("OFPT_FLOW_REMOVED") && s.contains("OFPT_PACKET_IN") {
                break;
            }
        }
        s
    });
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    let text = reader.join().unwrap();
    // As `ovs-ofctl ofp-print` prints the same message (the packet line is wyvern's own).
    assert!(
        text.contains(
            "OFPT_PACKET_IN (OF1.3) (xid=0x0): total_len=42 in_port=6 (via action) data_len=42 (unbuffered)\n\
             arp,dl_src=fa:16:3e:00:17:e6,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=10.1.0.5,arp_tpa=10.1.0.1,arp_op=1,arp_sha=fa:16:3e:00:17:e6\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "OFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=7,ip reason=delete table_id=3"
        ),
        "{text}"
    );
}

#[test]
fn ofctl_thousand_flows_streamed_in_one_bundle_and_multipart_dump() {
    let Some(mut o) = Ovs::start() else { return };
    let b = o.bridge("a");
    let file = o.dir().join("many.flows");
    let text: String = (0..1000)
        .map(|i| {
            format!(
                "table=52,priority=100,ip,metadata=0x1f43,nw_dst=10.{}.{}.5,actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,output:11\n",
                i / 250,
                i % 250
            )
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let start = Instant::now();
    wy(&b, &["add-flows"], &[file.to_str().unwrap()]);
    let took = start.elapsed();
    eprintln!("add-flows of 1000 flows took {took:?}");
    // The reply spans several multipart messages; both print them alike.
    let ours = wy(&b, &["dump-flows"], &[]);
    assert_eq!(
        ours.lines().filter(|l| l.starts_with(" cookie=")).count(),
        1000
    );
    assert!(
        ours.matches("OFPST_FLOW reply").count() > 1,
        "one reply message only"
    );
    assert!(ours.contains("flags=[more]"));
    assert_eq!(norm(&ours), norm(&of(&o, &b, &["dump-flows"], &[])));
    assert_eq!(
        norm(&wy(&b, &["dump-aggregate"], &[])),
        norm(&of(&o, &b, &["dump-aggregate"], &[]))
    );
}

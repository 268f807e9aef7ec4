//! The differential test of the switch: one script of flow-table commands, run with the real
//! `ovs-ofctl -O OpenFlow13` against a private Open vSwitch 3.1 (userspace `netdev` datapath)
//! and against `wyvern run`. After every step both must have succeeded or both failed, and
//! both `dump-flows` must print the same flows.
//!
//! Only what must differ is normalised: `duration=…s, ` (time since install), the reply header
//! lines (xids, and how many messages the reply took), and the order of flows with the same
//! table and priority, which Open vSwitch prints in hash order (wyvern's order — table
//! ascending, priority descending — is checked on its own). Nothing sends traffic, so the
//! counters are compared as they are (zero on both).
//!
//! Needs root and Open vSwitch; says "skipping" and passes otherwise. The OVS instance, its
//! bridge and the `wyvern run` process carry per-test unique names and ports, and are
//! stopped (by pid) and removed when the test ends, failed or not.

#[path = "../../tests/common/ovs.rs"]
mod ovs;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use ovs::{Bridge, Ovs};

/// One step: `ovs-ofctl` options and verb, then the arguments after the target. An argument
/// `example:NAME` is the file `examples/NAME`; `file:TEXT` is a flows file holding TEXT.
type Step = (&'static [&'static str], &'static [&'static str]);

/// What is expected of a step on both switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Fails,
    /// Succeeds and prints the same (a dump with a filter, aggregate or table statistics).
    SameOutput,
}

/// The script: Dragonflow's flows, then replacing and overlapping adds, modifies and deletes
/// strict and not, by cookie/mask, table and out_port, files with command words, bundles.
const SCRIPT: &[(Step, Expect)] = &[
    ((&["add-flows"], &["example:dragonflow.flows"]), Expect::Ok),
    ((&["add-flows"], &["example:dragonflow-learned.flows"]), Expect::Ok),
    // Replacing adds: same match and priority, new actions, cookie and timeouts; the second
    // names the fields in another order.
    ((&["add-flow"], &["table=0,priority=1000,in_port=6,actions=drop"]), Expect::Ok),
    (
        (
            &["add-flow"],
            &[
                "table=52,priority=100,cookie=0x99,hard_timeout=900,nw_dst=10.1.0.5,nw_src=10.2.0.5,dl_dst=fa:16:3e:c5:02:4d,dl_src=fa:16:3e:cf:4b:ed,in_port=12,metadata=0x1f43,ip,actions=output:6",
            ],
        ),
        Expect::Ok,
    ),
    // Overlapping: a new priority is a new flow; check_overlap refuses an overlap at the same
    // priority, stores its flag otherwise, and does not stop an add replacing the same flow.
    (
        (&["add-flow"], &["table=52,priority=101,ip,metadata=0x1f43,nw_dst=10.1.0.5,actions=output:11"]),
        Expect::Ok,
    ),
    (
        (
            &["add-flow"],
            &["table=52,priority=30,check_overlap,ip,metadata=0x1f42,nw_dst=10.1.0.0/16,actions=drop"],
        ),
        Expect::Fails,
    ),
    (
        (
            &["add-flow"],
            &["table=52,priority=30,check_overlap,ip,metadata=0x1f44,nw_dst=10.1.0.0/16,actions=drop"],
        ),
        Expect::Ok,
    ),
    (
        (
            &["add-flow"],
            &["table=52,priority=30,check_overlap,ip,metadata=0x1f44,nw_dst=10.1.0.0/16,actions=output:6"],
        ),
        Expect::Ok,
    ),
    ((&["add-flow"], &["table=254,actions=drop"]), Expect::Fails),
    // Matches and actions of every kind, one flow each (default priority included).
    (
        (
            &["add-flows"],
            &[
                "file:table=6,priority=5,dl_vlan=100,actions=pop_vlan,output:11
                 table=6,priority=5,ipv6,ipv6_dst=fd00::/64,actions=drop
                 table=6,priority=6,tcp6,tp_src=22,actions=drop
                 table=6,priority=7,icmp,icmp_type=8,icmp_code=0,actions=CONTROLLER:128
                 table=6,priority=8,reg6=0x1f42,pkt_mark=0x5,actions=load:0x1->NXM_NX_REG0[0..3],move:NXM_NX_REG6[]->NXM_NX_TUN_ID[0..31],output:12
                 table=6,priority=9,tun_id=0x1f42,udp,tp_dst=4789,actions=resubmit(,7)
                 table=6,ip,nw_src=10.0.0.0/255.0.255.0,nw_tos=16,actions=mod_dl_src:fa:16:3e:00:00:01,LOCAL
                 table=6,priority=0,actions=drop
",
            ],
        ),
        Expect::Ok,
    ),
    ((&["add-flow"], &["table=23,priority=65535,ip,actions=drop"]), Expect::Ok),
    (
        (
            &["add-flow"],
            &[
                "table=1,priority=7,cookie=0x5,idle_timeout=30,hard_timeout=60,send_flow_rem,reset_counts,tcp,tp_dst=80,actions=clear_actions,write_actions(output:6)",
            ],
        ),
        Expect::Ok,
    ),
    (
        (
            &["add-flow"],
            &[
                "table=60,priority=10,metadata=0x1f42,actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:6",
            ],
        ),
        Expect::Ok,
    ),
    // Modify, not strict: every flow at least as specific; nothing when nothing matches.
    ((&["mod-flows"], &["table=60,metadata=0x1f42,actions=output:12"]), Expect::Ok),
    ((&["mod-flows"], &["table=7,ip,actions=drop"]), Expect::Ok),
    ((&["mod-flows"], &["cookie=0x1008000040051/-1,actions=drop"]), Expect::Ok),
    // A modify with a cookie and no mask, timeouts and flags: what does it change?
    (
        (&["mod-flows"], &["table=1,cookie=0x42,tcp,idle_timeout=5,hard_timeout=7,check_overlap,actions=drop"]),
        Expect::Ok,
    ),
    ((&["mod-flows"], &["table=51,arp,actions=NORMAL"]), Expect::Ok),
    ((&["mod-flows"], &["table=6,ip,metadata=0x1f42/0xffff,actions=output:11"]), Expect::Ok),
    ((&["mod-flows"], &["table=6,ipv6,actions=output:12"]), Expect::Ok),
    (
        (&["mod-flows"], &["table=52,cookie=0x1008000000000/0xffffff000000,ip,actions=output:11"]),
        Expect::Ok,
    ),
    // Modify, strict: exact match and priority only.
    ((&["--strict", "mod-flows"], &["table=0,priority=1,actions=goto_table:23"]), Expect::Ok),
    ((&["--strict", "mod-flows"], &["table=0,priority=2,actions=goto_table:23"]), Expect::Ok),
    (
        (
            &["--strict", "mod-flows"],
            &["table=52,priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24,cookie=0x1/0x1,actions=drop"],
        ),
        Expect::Ok,
    ),
    // Delete, strict.
    (
        (
            &["--strict", "del-flows"],
            &["table=51,priority=100,arp,metadata=0x1f43,arp_tpa=10.2.0.1,arp_op=1"],
        ),
        Expect::Ok,
    ),
    ((&["--strict", "del-flows"], &["table=40,priority=7"]), Expect::Ok),
    ((&["--strict", "del-flows"], &["table=40,priority=1"]), Expect::Ok),
    ((&["--strict", "del-flows"], &["table=0,priority=1000,in_port=8,out_port=7"]), Expect::Ok),
    ((&["--strict", "del-flows"], &["priority=1000,in_port=8"]), Expect::Ok),
    // Filtered dumps and statistics of the tables as they are now.
    ((&["dump-flows"], &["table=52"]), Expect::SameOutput),
    ((&["dump-flows"], &["cookie=0x1008000040051/-1"]), Expect::SameOutput),
    ((&["dump-flows"], &["table=0,in_port=11"]), Expect::SameOutput),
    ((&["dump-flows"], &["out_port=11"]), Expect::SameOutput),
    ((&["dump-flows", "--no-stats"], &["arp"]), Expect::SameOutput),
    ((&["dump-aggregate"], &["table=52"]), Expect::SameOutput),
    ((&["dump-aggregate"], &[]), Expect::SameOutput),
    ((&["dump-tables"], &[]), Expect::SameOutput),
    // Delete by cookie/mask, table, match and out_port.
    ((&["del-flows"], &["table=52,cookie=0x1008000040051/-1"]), Expect::Ok),
    ((&["del-flows"], &["table=52,ip,nw_dst=10.0.0.0/8"]), Expect::Ok),
    ((&["del-flows"], &["in_port=11"]), Expect::Ok),
    ((&["del-flows"], &["table=6,ipv6"]), Expect::Ok),
    ((&["--strict", "del-flows"], &["table=6"]), Expect::Ok),
    ((&["--strict", "del-flows"], &["table=6,ip,nw_src=10.0.0.0/255.0.255.0,nw_tos=16"]), Expect::Ok),
    ((&["add-flow"], &["table=23,priority=5,cookie=0x77,ip,actions=drop"]), Expect::Ok),
    ((&["add-flow"], &["table=23,priority=6,cookie=0x88,ip,actions=drop"]), Expect::Ok),
    ((&["del-flows"], &["cookie=0x70/0xf0"]), Expect::Ok),
    ((&["del-flows"], &["table=40,dl_dst=ff:ff:ff:ff:ff:ff"]), Expect::Ok),
    ((&["del-flows"], &["out_port=6"]), Expect::Ok),
    ((&["del-flows"], &["table=52,out_port=11"]), Expect::Ok),
    // A file with command words, then bundles: one that applies, one that fails as a whole.
    (
        (
            &["add-flows"],
            &[
                "file:add table=3,priority=5,ip,actions=drop\nmodify table=3,ip,actions=output:11\n\
                 delete_strict table=0,priority=1000,in_port=7\nadd table=3,priority=6,tcp,tp_dst=80,actions=drop\n\
                 # a comment\n\ndelete table=23,cookie=0x0/-1\n",
            ],
        ),
        Expect::Ok,
    ),
    (
        (
            &["--bundle", "add-flows"],
            &[
                "file:table=4,priority=9,udp,actions=drop\ntable=4,priority=8,arp,actions=NORMAL\n\
                 table=0,priority=1000,in_port=11,actions=write_metadata:0x1f44/0xffff,goto_table:40\n",
            ],
        ),
        Expect::Ok,
    ),
    (
        (
            &["--bundle", "add-flows"],
            &["file:table=5,priority=9,udp,actions=drop\ntable=254,actions=drop\n"],
        ),
        Expect::Fails,
    ),
    ((&["del-flows"], &["table=0"]), Expect::Ok),
    ((&["del-flows"], &[]), Expect::Ok),
];

/// A `wyvern run` listening on `ptcp:PORT:127.0.0.1`, stopped by pid when dropped.
struct WyvernRun {
    child: Child,
    run_dir: PathBuf,
    target: String,
}

impl WyvernRun {
    fn start(bridge: &str) -> WyvernRun {
        let port = ovs::free_port();
        let run_dir = std::env::temp_dir().join(format!("wyvern-diff-{bridge}"));
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir).expect("create the run directory");
        let child = Command::new(env!("CARGO_BIN_EXE_wyvern"))
            .args(["run", "--bridge", bridge, "--run-dir"])
            .arg(&run_dir)
            .args(["--listen", &format!("ptcp:{port}:127.0.0.1")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wyvern run");
        let w = WyvernRun {
            child,
            run_dir,
            target: format!("tcp:127.0.0.1:{port}"),
        };
        ovs::wait_listening(port, "wyvern run");
        w
    }
}

impl Drop for WyvernRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// `(table, priority)` of a `dump-flows` line (priority 32768 when not printed).
fn table_priority(line: &str) -> (u8, u16) {
    let number = |key: &str| {
        line.split([',', ' '])
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse::<u16>().ok())
    };
    let table = number("table=").and_then(|t| u8::try_from(t).ok());
    (table.unwrap_or(0), number("priority=").unwrap_or(0x8000))
}

/// The flow lines of a `dump-flows` without their durations, ordered by table ascending,
/// priority descending, then text.
fn normalised(dump: &str) -> Vec<String> {
    let mut lines: Vec<String> = dump
        .lines()
        .filter(|l| !l.starts_with("OFPST_FLOW reply"))
        .map(|l| match (l.find("duration="), l.find("s, table=")) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &l[..a], &l[b + 3..]),
            _ => l.to_owned(),
        })
        .collect();
    lines.sort_by_key(|l| {
        let (t, p) = table_priority(l);
        (t, std::cmp::Reverse(p), l.clone())
    });
    lines
}

/// The script's arguments with `example:` and `file:` turned into paths.
fn arguments(args: &[&str], dir: &std::path::Path, step: usize) -> Vec<String> {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    args.iter()
        .map(|a| {
            if let Some(name) = a.strip_prefix("example:") {
                examples.join(name).display().to_string()
            } else if let Some(text) = a.strip_prefix("file:") {
                let path = dir.join(format!("step{step}.flows"));
                std::fs::write(&path, text).expect("write a flows file");
                path.display().to_string()
            } else {
                (*a).to_owned()
            }
        })
        .collect()
}

/// Another command's output without its xids.
fn without_xids(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| match l.find("(xid=0x") {
            Some(i) => {
                let end = l[i..].find(')').map_or(l.len(), |e| i + e + 1);
                format!("{}{}", &l[..i], &l[end..])
            }
            None => l.to_owned(),
        })
        .collect()
}

fn succeeded(out: &Output) -> Expect {
    if out.status.success() {
        Expect::Ok
    } else {
        Expect::Fails
    }
}

#[test]
fn ovs_ofctl_leaves_the_same_tables_in_open_vswitch_and_wyvern() {
    let Some(mut o) = Ovs::start() else { return };
    let reference = o.bridge("d");
    let wyvern = WyvernRun::start(&reference.name);
    let ours = Bridge {
        name: reference.name.clone(),
        target: wyvern.target.clone(),
    };
    let dump = |b: &Bridge| {
        let out = o.ofctl(b, &["dump-flows"], &[]);
        assert!(out.status.success(), "dump-flows on {}: {out:?}", b.target);
        String::from_utf8(out.stdout).expect("utf-8 dump")
    };
    for (n, ((verb, args), expect)) in SCRIPT.iter().enumerate() {
        let args = arguments(args, o.dir(), n);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let theirs = o.ofctl(&reference, verb, &args);
        let mine = o.ofctl(&ours, verb, &args);
        let step = format!("step {n}: ovs-ofctl {verb:?} {args:?}");
        if *expect == Expect::SameOutput {
            let text = |o: &Output| {
                assert!(o.status.success(), "{step}: {o:?}");
                let s = String::from_utf8_lossy(&o.stdout).into_owned();
                if verb.contains(&"dump-flows") {
                    normalised(&s)
                } else {
                    without_xids(&s)
                }
            };
            assert_eq!(text(&mine), text(&theirs), "{step}");
            continue;
        }
        assert_eq!(
            (succeeded(&theirs), succeeded(&mine)),
            (*expect, *expect),
            "{step}\nOpen vSwitch: {theirs:?}\nwyvern: {mine:?}"
        );
        let (theirs, mine) = (dump(&reference), dump(&ours));
        let order: Vec<(u8, std::cmp::Reverse<u16>)> = mine
            .lines()
            .filter(|l| l.starts_with(' '))
            .map(|l| {
                let (t, p) = table_priority(l);
                (t, std::cmp::Reverse(p))
            })
            .collect();
        assert!(
            order.is_sorted(),
            "{step}: wyvern's dump is out of order:\n{mine}"
        );
        assert_eq!(
            normalised(&mine),
            normalised(&theirs),
            "{step}\nOpen vSwitch:\n{theirs}\nwyvern:\n{mine}"
        );
    }
}

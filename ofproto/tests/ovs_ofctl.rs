//! The real `ovs-ofctl -O OpenFlow13` (OVS 3.1) against the in-process endpoint: every
//! Dragonflow flow added with `add-flow` comes back identical from `dump-flows`, and the
//! other commands a user runs (`show`, `dump-ports`, `dump-ports-desc`, `dump-tables`,
//! `dump-aggregate`, `packet-out`, `mod-flows`, `del-flows` with `--strict`, cookie masks and
//! table filters, `add-flows --bundle`) succeed and do what they say.
//!
//! Skipped (with a message) when `ovs-ofctl` is not installed; `scripts/install-deps`
//! installs it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::Switch;
use wyvern_pipeline::flow::{FlowModCommand, FlowStats};
use wyvern_pipeline::text::{FlowStyle, format_flow, parse_flow};

fn have_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl").arg("--version").output().is_ok();
    if !ok {
        eprintln!("ovs-ofctl not installed: skipping (scripts/install-deps installs it)");
    }
    ok
}

/// Runs `ovs-ofctl -O OpenFlow13 ARGS` against the switch; returns stdout, panics with
/// stderr on failure.
fn ofctl(sw: &Switch, args: &[&str]) -> String {
    let target = format!("tcp:{}", sw.addr);
    let mut full: Vec<&str> = vec!["-O", "OpenFlow13", "--timeout=10"];
    let (opts, rest): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("--"));
    full.extend(opts);
    full.push(rest[0]);
    full.push(&target);
    full.extend(&rest[1..]);
    let out = Command::new("ovs-ofctl").args(&full).output().unwrap();
    assert!(
        out.status.success(),
        "ovs-ofctl {full:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `dump-flows` lines without the header and without `duration=…, `, sorted.
fn dump(sw: &Switch, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["dump-flows"];
    args.extend(extra);
    let out = ofctl(sw, &args);
    let mut lines: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with("OFPST_FLOW"))
        .map(strip_duration)
        .collect();
    lines.sort();
    lines
}

fn strip_duration(l: &str) -> String {
    match (l.find("duration="), l.find("s, table=")) {
        (Some(a), Some(b)) => format!("{}{}", &l[..a], &l[b + 3..]),
        _ => l.to_owned(),
    }
}

/// The `dump-flows` line OVS prints for a freshly added flow, per the text syntax.
fn expected_line(flow: &str) -> String {
    let fm = parse_flow(flow, FlowModCommand::Add).unwrap();
    strip_duration(&format_flow(
        &FlowStats {
            spec: fm.spec,
            duration: Duration::ZERO,
            packets: 0,
            bytes: 0,
        },
        FlowStyle::Stats,
    ))
}

fn example_flows() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    ["dragonflow.flows", "dragonflow-learned.flows"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn dragonflow_flows_round_trip_through_ovs_ofctl() {
    if !have_ofctl() {
        return;
    }
    let sw = Switch::start();
    let flows = example_flows();
    let mut expected: Vec<String> = flows.iter().map(|f| expected_line(f)).collect();
    expected.sort();
    for f in &flows {
        assert_eq!(ofctl(&sw, &["add-flow", f]), "");
    }
    assert_eq!(dump(&sw, &[]), expected);

    // Filters: a table, a cookie with a full mask.
    let t52: Vec<String> = expected
        .iter()
        .filter(|l| l.contains(" table=52,"))
        .cloned()
        .collect();
    assert_eq!(dump(&sw, &["table=52"]), t52);
    let cookie = dump(&sw, &["cookie=0x1008000000019/-1"]);
    assert_eq!(cookie.len(), 1);
    assert!(cookie[0].starts_with(" cookie=0x1008000000019,"));

    let agg = ofctl(&sw, &["dump-aggregate"]);
    assert!(
        agg.contains(&format!("flow_count={}", flows.len())),
        "{agg}"
    );
    let t0 = expected.iter().filter(|l| l.contains(" table=0,")).count();
    let agg = ofctl(&sw, &["dump-aggregate", "table=0"]);
    assert!(agg.contains(&format!("flow_count={t0}")), "{agg}");
}

#[test]
fn ovs_ofctl_commands() {
    if !have_ofctl() {
        return;
    }
    let sw = Switch::start();
    let show = ofctl(&sw, &["show"]);
    assert!(show.contains("dpid:000042fbf384884c"), "{show}");
    assert!(show.contains("n_tables:254"), "{show}");
    assert!(show.contains("OFPT_GET_CONFIG_REPLY"), "{show}");
    assert!(ofctl(&sw, &["dump-ports"]).contains("OFPST_PORT reply"));
    assert!(ofctl(&sw, &["dump-ports-desc"]).contains("OFPST_PORT_DESC reply"));
    let tables = ofctl(&sw, &["dump-tables"]);
    assert!(tables.contains("table 0:"), "{tables}");
    assert!(ofctl(&sw, &["dump-desc"]).contains("DP Description: br-test"));

    for f in example_flows() {
        ofctl(&sw, &["add-flow", &f]);
    }
    let n = example_flows().len();

    // packet-out, new syntax and old.
    let arp = "ffffffffffff fa163e0017e6 0806 0001080006040001 fa163e0017e6 0a010005 000000000000 0a010001"
        .replace(' ', "");
    ofctl(
        &sw,
        &[
            "packet-out",
            &format!("in_port=controller,packet={arp},actions=output:TABLE"),
        ],
    );
    ofctl(&sw, &["packet-out", "CONTROLLER", "output:6", &arp]);

    // --strict mod-flows changes exactly one flow.
    ofctl(
        &sw,
        &[
            "--strict",
            "mod-flows",
            "table=0,priority=1,actions=goto_table:23",
        ],
    );
    let d = dump(&sw, &["table=0"]);
    assert!(
        d.iter()
            .any(|l| l.ends_with("priority=1 actions=goto_table:23")),
        "{d:#?}"
    );
    // Non-strict mod-flows: every flow of table 60 whose match is at least as specific.
    ofctl(&sw, &["mod-flows", "table=60,actions=output:7"]);
    assert!(
        dump(&sw, &["table=60"])
            .iter()
            .all(|l| l.ends_with("actions=output:7"))
    );

    // del-flows with a cookie mask, --strict, and a table.
    ofctl(&sw, &["del-flows", "table=52,cookie=0x1008000000019/-1"]);
    assert_eq!(dump(&sw, &[]).len(), n - 1);
    ofctl(
        &sw,
        &[
            "--strict",
            "del-flows",
            "table=51,priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1",
        ],
    );
    assert_eq!(dump(&sw, &[]).len(), n - 2);
    ofctl(&sw, &["del-flows", "table=40"]);
    assert!(dump(&sw, &["table=40"]).is_empty());
    ofctl(&sw, &["del-flows"]);
    assert!(dump(&sw, &[]).is_empty());

    // add-flows --bundle: 1000 flows in one atomic commit.
    let dir = std::env::temp_dir().join(format!("wyvern-ofctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flows.txt");
    let text: String = (0..1000)
        .map(|i| format!("table=3,priority=7,tcp,tp_dst={i},actions=output:6\n"))
        .collect();
    std::fs::write(&file, text).unwrap();
    ofctl(&sw, &["--bundle", "add-flows", file.to_str().unwrap()]);
    assert_eq!(dump(&sw, &[]).len(), 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ovs_ofctl_monitor_falls_back_to_standard_packet_ins() {
    if !have_ofctl() {
        return;
    }
    let sw = Switch::start();
    ofctl(&sw, &["add-flow", "table=0,arp,actions=CONTROLLER:65535"]);
    let dir = std::env::temp_dir().join(format!("wyvern-monitor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("monitor.out");
    let mut monitor = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13"])
        .arg(format!("--unixctl={}", dir.join("ctl").display()))
        .arg("monitor")
        .arg(format!("tcp:{}", sw.addr))
        // The monitor prints asynchronous messages on stderr.
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&out_file).unwrap())
        .spawn()
        .unwrap();
    // The monitor's NXT_SET_PACKET_IN_FORMAT is refused; it goes on with OFPT_PACKET_IN.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while sw.endpoint().established() == 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let arp =
        "fffffffffffffa163e0017e608060001080006040001fa163e0017e60a0100050000000000000a010001";
    ofctl(
        &sw,
        &[
            "packet-out",
            &format!("in_port=controller,packet={arp},actions=output:TABLE"),
        ],
    );
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while std::time::Instant::now() < until {
        text = std::fs::read_to_string(&out_file).unwrap_or_default();
        if text.contains("arp_tpa=10.1.0.1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        text.contains("OFPT_PACKET_IN (OF1.3) (xid=0x0): cookie=0x0 total_len=42"),
        "{text}"
    );
    assert!(
        text.contains("arp_spa=10.1.0.5,arp_tpa=10.1.0.1,arp_op=1"),
        "{text}"
    );
}

//! Ports added and removed while traffic flows: events for each change, no crash, forwarding
//! between the other ports undisturbed, no descriptor leaked (the only test of this binary, so
//! `/proc/self/fd` counts only this bridge's). Needs root; skipped otherwise.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Cleanup, ip, link_show, pipeline_with, prefix, wait_while};
use wyvern_datapath::{Bridge, BridgeConfig, PortKind, PortReason, PortSpec};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

#[test]
fn bridge_ports_come_and_go_under_traffic() {
    require_root!();
    let p = prefix("bh");
    let (ns_a, ns_b) = (format!("{p}a"), format!("{p}b"));
    let (t0, t1, tx) = (format!("{p}t0"), format!("{p}t1"), format!("{p}x"));
    let mut cleanup = Cleanup::default();
    for link in [&t0, &t1, &tx] {
        cleanup.link(link);
    }
    cleanup.netns(&ns_a);
    cleanup.netns(&ns_b);

    let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
    let config = BridgeConfig {
        workers: 2,
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let bridge = Bridge::start(pipeline, config).expect("start bridge");
    let events = bridge.events();
    for (tap, ns, addr) in [(&t0, &ns_a, "10.95.0.1/24"), (&t1, &ns_b, "10.95.0.2/24")] {
        let spec = PortSpec {
            name: tap.clone(),
            kind: PortKind::Tap {
                mac: None,
                mtu: None,
                offload: true,
            },
            ofport: None,
        };
        bridge.add_port(spec).expect("add TAP port");
        ip(&["link", "set", tap, "netns", ns]);
        ip(&["-n", ns, "addr", "add", addr, "dev", tap]);
        ip(&["-n", ns, "link", "set", tap, "up"]);
    }
    let initial: Vec<_> = events.try_iter().map(|e| e.reason).collect();
    assert_eq!(initial, [PortReason::Add, PortReason::Add]);

    let mut ping = Command::new("ip")
        .args([
            "netns", "exec", &ns_a, "ping", "-n", "-q", "-c", "60", "-i", "0.05",
        ])
        .arg("10.95.0.2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ping");
    std::thread::sleep(Duration::from_millis(300));

    let fds_before = open_fds();
    const ROUNDS: usize = 8;
    for round in 0..ROUNDS {
        let tap_no = bridge
            .add_port(PortSpec {
                name: tx.clone(),
                kind: PortKind::Tap {
                    mac: None,
                    mtu: None,
                    offload: true,
                },
                ofport: None,
            })
            .expect("add TAP");
        let vx_no = bridge
            .add_port(PortSpec {
                name: format!("{p}v"),
                kind: PortKind::Vxlan {
                    local: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
                    dst_port: 4789,
                },
                ofport: Some(100 + round as u32),
            })
            .expect("add VXLAN");
        assert!(link_show(None, &tx).is_some());
        assert_eq!(bridge.ports().len(), 4);
        std::thread::sleep(Duration::from_millis(100));
        bridge.del_port(tap_no).expect("del TAP");
        bridge.del_port(vx_no).expect("del VXLAN");
        assert!(link_show(None, &tx).is_none(), "TAP {tx} survived its port");
        assert_eq!(bridge.ports().len(), 2);
    }
    let fds_after = open_fds();
    assert_eq!(fds_before, fds_after, "descriptors leaked");

    let reasons: Vec<_> = events.try_iter().map(|e| e.reason).collect();
    let count = |r| reasons.iter().filter(|&&x| x == r).count();
    assert_eq!(count(PortReason::Add), 2 * ROUNDS, "{reasons:?}");
    assert_eq!(count(PortReason::Delete), 2 * ROUNDS, "{reasons:?}");

    let ok = wait_while(&mut ping, Duration::from_secs(20), || {});
    let out = ping.wait_with_output().expect("ping output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(ok, "ping failed: {text}");
    assert!(text.contains(" 0% packet loss"), "{text}");
    eprintln!("{:#?}", bridge.worker_stats());
    bridge.shutdown();
}

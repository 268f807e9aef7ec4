//! Port counters match the traffic, and malformed frames are counted and do not stop
//! forwarding. Two namespaces on TAP ports (IPv6 off and static ARP entries, so the only
//! frames are the ones the test sends), `priority=0 actions=NORMAL`. Needs root; skipped
//! otherwise.

mod common;

use std::time::Duration;

use common::{Cleanup, ip, netns_exec, ping, pipeline_with, prefix};
use wyvern_datapath::{
    Bridge, BridgeConfig, DropReason, MacAddr, PortCounters, PortKind, PortSpec,
};

const MAC_A: MacAddr = MacAddr([0x02, 0, 0, 0, 0x94, 0x01]);
const MAC_B: MacAddr = MacAddr([0x02, 0, 0, 0, 0x94, 0x02]);

/// Frames a raw socket in the namespace sends on the TAP: four malformed ones that still hold
/// an Ethernet header (the port passes them to the pipeline, which parses what it can) and two
/// longer than the port's MTU (the port drops them).
const MALFORMED: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
dst = bytes.fromhex(sys.argv[2].replace(':', ''))
src = bytes.fromhex(sys.argv[3].replace(':', ''))
eth = lambda t: dst + src + struct.pack('!H', t)
frames = [
    eth(0x0800) + b'\x45\x00',                                # IPv4 header cut short
    eth(0x0800) + bytes([0x45, 0, 0x03, 0xe8]) + bytes(42),   # total length 1000 in 60 bytes
    eth(0x0800) + bytes([0x4f, 0, 0, 34]) + bytes(16),        # IHL of 60 bytes in 34
    eth(0x0800) + bytes([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0,
                         10, 94, 0, 1, 10, 94, 0, 2]),        # TCP without a TCP header
    eth(0x88b5) + bytes(1600 - 14),                           # beyond MTU 1500
    eth(0x88b5) + bytes(3000 - 14),                           # beyond a buffer
]
for f in frames:
    s.send(f)
"#;

fn counters(bridge: &Bridge, no: u32) -> PortCounters {
    bridge.port(no).expect("port").counters
}

#[test]
fn bridge_counters_match_traffic_and_malformed_frames_are_counted() {
    require_root!();
    let p = prefix("bc");
    let (ns_a, ns_b) = (format!("{p}a"), format!("{p}b"));
    let (t0, t1) = (format!("{p}t0"), format!("{p}t1"));
    let mut cleanup = Cleanup::default();
    cleanup.link(&t0);
    cleanup.link(&t1);
    cleanup.netns(&ns_a);
    cleanup.netns(&ns_b);
    for ns in [&ns_a, &ns_b] {
        for key in [
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ] {
            let (ok, out) = netns_exec(ns, &["sysctl", "-qw", key]);
            assert!(ok, "sysctl: {out}");
        }
    }

    let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
    let config = BridgeConfig {
        workers: 2,
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let bridge = Bridge::start(pipeline.clone(), config).expect("start bridge");
    let mut nos = Vec::new();
    for (tap, ns, addr, mac, peer_ip, peer_mac) in [
        (&t0, &ns_a, "10.94.0.1/24", MAC_A, "10.94.0.2", MAC_B),
        (&t1, &ns_b, "10.94.0.2/24", MAC_B, "10.94.0.1", MAC_A),
    ] {
        let spec = PortSpec {
            name: tap.clone(),
            kind: PortKind::Tap {
                mac: Some(mac),
                mtu: None,
                offload: true,
            },
            ofport: None,
        };
        nos.push(bridge.add_port(spec).expect("add TAP port"));
        ip(&["link", "set", tap, "netns", ns]);
        ip(&["-n", ns, "addr", "add", addr, "dev", tap]);
        ip(&["-n", ns, "link", "set", tap, "up"]);
        let peer_mac = peer_mac.to_string();
        ip(&[
            "-n",
            ns,
            "neigh",
            "add",
            peer_ip,
            "lladdr",
            &peer_mac,
            "dev",
            tap,
            "nud",
            "permanent",
        ]);
    }
    let (na, nb) = (nos[0], nos[1]);
    std::thread::sleep(Duration::from_millis(300));

    // ping -c N: N requests a -> b, N replies b -> a, nothing else.
    const N: u64 = 5;
    let (a0, b0) = (counters(&bridge, na), counters(&bridge, nb));
    let (ok, out) = ping(&ns_a, "10.94.0.2", N as u32);
    assert!(ok, "{out}");
    std::thread::sleep(Duration::from_millis(200));
    let (a1, b1) = (counters(&bridge, na), counters(&bridge, nb));
    let delta = |x: u64, y: u64| y - x;
    assert_eq!(delta(a0.rx_packets, a1.rx_packets), N, "{a1:?}");
    assert_eq!(delta(b0.tx_packets, b1.tx_packets), N, "{b1:?}");
    assert_eq!(delta(b0.rx_packets, b1.rx_packets), N, "{b1:?}");
    assert_eq!(delta(a0.tx_packets, a1.tx_packets), N, "{a1:?}");
    // 98-byte echo frames (14 Ethernet + 20 IP + 8 ICMP + 56 data).
    assert_eq!(delta(a0.rx_bytes, a1.rx_bytes), 98 * N);
    assert_eq!(delta(b0.tx_bytes, b1.tx_bytes), 98 * N);
    assert_eq!(
        (a1.rx_dropped, a1.tx_dropped, b1.rx_dropped, b1.tx_dropped),
        (0, 0, 0, 0)
    );

    // Malformed frames: the namespace side of the TAP takes jumbo frames, the port does not.
    ip(&["-n", &ns_a, "link", "set", &t0, "mtu", "9000"]);
    let before = pipeline.counters();
    let (ok, out) = netns_exec(
        &ns_a,
        &[
            "python3",
            "-c",
            MALFORMED,
            &t0,
            &MAC_B.to_string(),
            &MAC_A.to_string(),
        ],
    );
    assert!(ok, "python3: {out}");
    std::thread::sleep(Duration::from_millis(300));
    let a2 = counters(&bridge, na);
    assert_eq!(delta(a1.rx_packets, a2.rx_packets), 4, "{a2:?}");
    assert_eq!(a2.dropped(DropReason::Oversize), 2, "{a2:?}");
    assert_eq!(a2.rx_dropped, 2);
    let after = pipeline.counters();
    eprintln!("pipeline before {before:?}\npipeline after {after:?}");
    assert!(
        after.parse_truncated > before.parse_truncated,
        "the pipeline saw truncated headers"
    );

    // Forwarding goes on.
    let (ok, out) = ping(&ns_b, "10.94.0.1", 2);
    assert!(ok, "{out}");
    bridge.shutdown();
}

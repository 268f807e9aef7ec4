//! The bridge switches between namespaces with `priority=0 actions=NORMAL`: ping and a TCP
//! transfer in both directions, over AF_XDP ports on veth pairs and over TAP ports moved into
//! the namespaces. Needs root; skipped otherwise.
//!
//! The namespaces' veths keep checksum offload on (as a user's would): their TCP segments reach
//! the AF_XDP ports with partial checksums, which the ports complete; without that, the TCP
//! transfers over AF_XDP fail.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{
    Cleanup, TwoHosts, in_netns, ip, ping, ping_until, pipeline_with, prefix, tcp_transfer,
};
use wyvern_datapath::afxdp::XdpMode;
use wyvern_datapath::{Bridge, BridgeConfig, PortKind, PortSpec, PortType};

const TCP_BYTES: usize = 4 << 20;

/// Ping both ways, then a TCP transfer both ways, between 10.N.0.1 in `ns_a` and 10.N.0.2
/// in `ns_b`.
fn check_both_ways(ns_a: &str, ns_b: &str, net: u8, bridge: &Bridge) {
    let (ip_a, ip_b) = (Ipv4Addr::new(10, net, 0, 1), Ipv4Addr::new(10, net, 0, 2));
    assert!(
        ping_until(ns_a, &ip_b.to_string(), 5),
        "first ping a -> b failed: {:#?}",
        bridge.ports()
    );
    let (ok, out) = ping(ns_a, &ip_b.to_string(), 3);
    assert!(ok, "ping a -> b: {out}");
    let (ok, out) = ping(ns_b, &ip_a.to_string(), 3);
    assert!(ok, "ping b -> a: {out}");
    let got = tcp_transfer(ns_b, ip_b, 5001, ns_a, TCP_BYTES).expect("TCP a -> b");
    assert_eq!(got, TCP_BYTES as u64);
    let got = tcp_transfer(ns_a, ip_a, 5002, ns_b, TCP_BYTES).expect("TCP b -> a");
    assert_eq!(got, TCP_BYTES as u64);
    eprintln!("{:#?}", bridge.worker_stats());
}

/// Two namespaces on veth pairs whose switch-side ends are AF_XDP ports of a bridge with
/// `workers` workers doing NORMAL switching; 10.`net`.0.1 and .2.
struct AfxdpLab {
    // Declared first: the bridge closes its ports before the namespaces go.
    bridge: Bridge,
    hosts: TwoHosts,
}

impl AfxdpLab {
    fn new(tag: &str, net: u8, workers: usize) -> AfxdpLab {
        // The namespaces' veths keep their default offloads: the TCP segments they send
        // arrive with partial checksums, which the AF_XDP ports complete.
        let hosts = TwoHosts::new(tag, net);
        let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
        let config = BridgeConfig {
            workers,
            local_port: false,
            ..BridgeConfig::new(&format!("{}br", prefix(tag)))
        };
        let bridge = Bridge::start(pipeline, config).expect("start bridge");
        let lab = AfxdpLab { bridge, hosts };
        for (i, name) in [&lab.hosts.a1, &lab.hosts.b1].into_iter().enumerate() {
            assert_eq!(lab.add_port(name, None), i as u32 + 1);
        }
        let ports = lab.bridge.ports();
        assert!(
            ports
                .iter()
                .all(|p| p.kind == PortType::Afxdp && p.mtu == 1500)
        );
        lab
    }

    /// Add an AF_XDP port on the switch-side interface `name`.
    fn add_port(&self, name: &str, ofport: Option<u32>) -> u32 {
        let spec = PortSpec {
            name: name.to_owned(),
            kind: PortKind::Afxdp {
                iface: name.to_owned(),
                mode: XdpMode::Auto,
                queues: None,
            },
            ofport,
        };
        in_netns(&self.hosts.ns_sw, || self.bridge.add_port(spec)).expect("add AF_XDP port")
    }

    /// Check that the ports completed partial checksums (the TCP segments of the senders).
    fn assert_checksums_completed(&self) {
        for port in self.bridge.ports() {
            let c = port.counters;
            assert!(c.rx_csum_completed > (TCP_BYTES / 1500) as u64, "{c:?}");
        }
    }

    /// The workers' copy counters, summed: (sent without a copy, sent after one), once they
    /// stop changing (workers publish them when idle, at least every 100 ms).
    fn copies(&self) -> (u64, u64) {
        let read = || {
            let stats = self.bridge.worker_stats();
            let zero_copy = stats.iter().map(|s| s.tx_zero_copy).sum::<u64>();
            (zero_copy, stats.iter().map(|s| s.tx_copied).sum::<u64>())
        };
        let mut last = read();
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(250));
            let now = read();
            if now == last {
                break;
            }
            last = now;
        }
        last
    }
}

#[test]
fn bridge_afxdp_ports_ping_and_tcp() {
    require_root!();
    // Two workers: the ports are on different workers, so every frame crosses in a copy.
    let lab = AfxdpLab::new("ba", 91, 2);
    assert_ne!(lab.bridge.port_worker(1), lab.bridge.port_worker(2));
    check_both_ways(&lab.hosts.ns_a, &lab.hosts.ns_b, 91, &lab.bridge);
    let (zero_copy, copied) = lab.copies();
    assert_eq!(zero_copy, 0);
    assert!(copied > 2 * (TCP_BYTES / 1500) as u64, "{copied}");
    lab.assert_checksums_completed();
    lab.bridge.shutdown();
}

/// One worker: both ports share its UMEM, and every frame goes from one port to the other
/// without a copy, before and after one port is removed and added again.
#[test]
fn bridge_afxdp_ports_of_one_worker_hand_frames_over() {
    require_root!();
    let lab = AfxdpLab::new("bz", 90, 1);
    check_both_ways(&lab.hosts.ns_a, &lab.hosts.ns_b, 90, &lab.bridge);
    let (zero_copy, copied) = lab.copies();
    assert_eq!(copied, 0, "frames copied between ports sharing a UMEM");
    assert!(zero_copy > 2 * (TCP_BYTES / 1500) as u64, "{zero_copy}");
    let c1 = lab.bridge.port(1).unwrap().counters;
    assert_eq!(c1.tx_zero_copy, c1.tx_packets);
    lab.assert_checksums_completed();

    // The UMEM outlives the port: the interface's queue must be free again for a new socket.
    lab.bridge.del_port(2).unwrap();
    assert_eq!(lab.add_port(&lab.hosts.b1, Some(2)), 2);
    let (ok, out) = ping(&lab.hosts.ns_a, "10.90.0.2", 3);
    assert!(ok, "ping after re-adding the port: {out}");
    let (zero_copy_after, copied) = lab.copies();
    assert_eq!(copied, 0);
    assert!(zero_copy_after >= zero_copy + 6);
    lab.bridge.shutdown();
}

/// Add a TAP port (with or without offloads) named `tap` to `bridge`, move it into `ns` and
/// give it `addr`.
fn add_tap(bridge: &Bridge, tap: &str, offload: bool, ns: &str, addr: &str) {
    let spec = PortSpec {
        name: tap.to_owned(),
        kind: PortKind::Tap {
            mac: None,
            mtu: None,
            offload,
        },
        ofport: None,
    };
    bridge.add_port(spec).expect("add TAP port");
    ip(&["link", "set", tap, "netns", ns]);
    ip(&["-n", ns, "addr", "add", addr, "dev", tap]);
    ip(&["-n", ns, "link", "set", tap, "up"]);
    ip(&["-n", ns, "link", "set", "lo", "up"]);
}

/// Ping and TCP both ways between two namespaces on TAP ports of a two-worker bridge (each
/// port on its own worker); returns the bridge, its cleanup and the largest average frame
/// length a port received.
fn tap_pair(tag: &str, net: u8, offload: bool) -> (Bridge, Cleanup, u64) {
    let p = prefix(tag);
    let (ns_a, ns_b) = (format!("{p}a"), format!("{p}b"));
    let (t0, t1) = (format!("{p}t0"), format!("{p}t1"));
    let mut cleanup = Cleanup::default();
    cleanup.link(&t0);
    cleanup.link(&t1);
    cleanup.netns(&ns_a);
    cleanup.netns(&ns_b);

    let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
    let config = BridgeConfig {
        workers: 2,
        // Busy-polling workers still serve ports that need epoll (TAP).
        busy_poll: true,
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let bridge = Bridge::start(pipeline, config).expect("start bridge");
    add_tap(&bridge, &t0, offload, &ns_a, &format!("10.{net}.0.1/24"));
    add_tap(&bridge, &t1, offload, &ns_b, &format!("10.{net}.0.2/24"));
    check_both_ways(&ns_a, &ns_b, net, &bridge);
    let largest = bridge
        .ports()
        .iter()
        .map(|p| p.counters.rx_bytes / p.counters.rx_packets.max(1))
        .max()
        .unwrap_or(0);
    (bridge, cleanup, largest)
}

#[test]
fn bridge_tap_ports_ping_and_tcp() {
    require_root!();
    let (bridge, _cleanup, largest) = tap_pair("bt", 92, false);
    assert!(largest <= 1514, "average frame {largest} bytes");
    bridge.shutdown();
}

/// With offloads, the namespaces' TCP stacks hand their TAPs 64 KiB super-frames with partial
/// checksums, which cross the bridge (and its two workers) in one piece.
#[test]
fn bridge_tap_ports_with_offloads_carry_super_frames() {
    require_root!();
    let (bridge, _cleanup, largest) = tap_pair("bo", 89, true);
    // An average above the largest Ethernet frame means some frames were larger. (How many
    // depends on how fast TCP grows its bursts, which a loaded machine slows.)
    assert!(
        largest > 1514,
        "average frame {largest} bytes: no super-frames"
    );
    let stats = bridge.worker_stats();
    assert!(
        stats
            .iter()
            .all(|s| s.sw_segmented == 0 && s.sw_checksums == 0),
        "{stats:?}"
    );
    bridge.shutdown();
}

/// From a TAP with offloads to an AF_XDP port, the worker segments the super-frames and
/// completes checksums; the other way the AF_XDP port's frames go to the TAP as they are.
#[test]
fn bridge_finishes_tap_offloads_for_an_afxdp_port() {
    require_root!();
    let hosts = TwoHosts::new("bx", 88);
    let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
    let config = BridgeConfig {
        workers: 1,
        local_port: false,
        ..BridgeConfig::new(&format!("{}br", prefix("bx")))
    };
    let bridge = Bridge::start(pipeline, config).expect("start bridge");
    let spec = PortSpec {
        name: hosts.b1.clone(),
        kind: PortKind::Afxdp {
            iface: hosts.b1.clone(),
            mode: XdpMode::Auto,
            queues: None,
        },
        ofport: None,
    };
    in_netns(&hosts.ns_sw, || bridge.add_port(spec)).expect("add AF_XDP port");
    // The TAP replaces the veth of namespace a.
    ip(&["-n", &hosts.ns_a, "link", "del", &hosts.a0]);
    let tap = format!("{}t", prefix("bx"));
    let mut cleanup = Cleanup::default();
    cleanup.link(&tap);
    add_tap(&bridge, &tap, true, &hosts.ns_a, "10.88.0.1/24");
    check_both_ways(&hosts.ns_a, &hosts.ns_b, 88, &bridge);
    let stats = bridge.worker_stats();
    assert!(stats[0].sw_segmented > 0, "{stats:?}");
    bridge.shutdown();
}

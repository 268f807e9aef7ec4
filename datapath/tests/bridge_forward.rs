//! The bridge switches between namespaces with `priority=0 actions=NORMAL`: ping and a TCP
//! transfer in both directions, over AF_XDP ports on veth pairs and over TAP ports moved into
//! the namespaces. Needs root; skipped otherwise.
//!
//! AF_XDP has no checksum offload: the namespaces' veths compute TCP checksums in software
//! (`ethtool -K tx off`), as they must for any AF_XDP switch on veth.

mod common;

use std::net::Ipv4Addr;

use common::{
    Cleanup, in_netns, ip, netns_exec, ping, ping_until, pipeline_with, prefix, tcp_transfer, veth,
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

#[test]
fn bridge_afxdp_ports_ping_and_tcp() {
    require_root!();
    let p = prefix("ba");
    let (ns_a, ns_b, ns_sw) = (format!("{p}a"), format!("{p}b"), format!("{p}s"));
    let (a0, a1, b0, b1) = (
        format!("{p}a0"),
        format!("{p}a1"),
        format!("{p}b0"),
        format!("{p}b1"),
    );
    let mut cleanup = Cleanup::default();
    for link in [&a0, &a1, &b0, &b1] {
        cleanup.link(link);
    }
    for ns in [&ns_a, &ns_b, &ns_sw] {
        cleanup.netns(ns);
    }
    veth(&a0, &ns_a, "10.91.0.1/24", &a1, &ns_sw);
    veth(&b0, &ns_b, "10.91.0.2/24", &b1, &ns_sw);
    // AF_XDP sees frames as the sender left them: with checksum offload a veth hands over
    // TCP segments whose checksum is still to be filled in, which the far namespace would
    // drop. Checksums are computed by the senders' stacks instead (as OVS's AF_XDP docs
    // advise for veth).
    for (ns, dev) in [(&ns_a, &a0), (&ns_b, &b0)] {
        let (ok, out) = netns_exec(ns, &["ethtool", "-K", dev, "tx", "off"]);
        assert!(ok, "ethtool: {out}");
    }

    let pipeline = pipeline_with(&["priority=0 actions=NORMAL"]);
    let config = BridgeConfig {
        workers: 2,
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let bridge = Bridge::start(pipeline, config).expect("start bridge");
    for (name, no) in [(&a1, 1), (&b1, 2)] {
        let spec = PortSpec {
            name: name.clone(),
            kind: PortKind::Afxdp {
                iface: name.clone(),
                mode: XdpMode::Auto,
            },
            ofport: None,
        };
        assert_eq!(in_netns(&ns_sw, || bridge.add_port(spec)).unwrap(), no);
    }
    let ports = bridge.ports();
    assert!(
        ports
            .iter()
            .all(|p| p.kind == PortType::Afxdp && p.mtu == 1500)
    );
    check_both_ways(&ns_a, &ns_b, 91, &bridge);
    bridge.shutdown();
}

#[test]
fn bridge_tap_ports_ping_and_tcp() {
    require_root!();
    let p = prefix("bt");
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
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let bridge = Bridge::start(pipeline, config).expect("start bridge");
    for (tap, ns, addr) in [(&t0, &ns_a, "10.92.0.1/24"), (&t1, &ns_b, "10.92.0.2/24")] {
        let spec = PortSpec {
            name: tap.clone(),
            kind: PortKind::Tap {
                mac: None,
                mtu: None,
            },
            ofport: None,
        };
        bridge.add_port(spec).expect("add TAP port");
        ip(&["link", "set", tap, "netns", ns]);
        ip(&["-n", ns, "addr", "add", addr, "dev", tap]);
        ip(&["-n", ns, "link", "set", tap, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }
    check_both_ways(&ns_a, &ns_b, 92, &bridge);
    bridge.shutdown();
}

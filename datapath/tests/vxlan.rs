//! The VXLAN port against a Linux kernel `vxlan` device in a namespace. Needs root; skipped
//! otherwise.
//!
//! Namespace K has `vx0` (VNI 100, 10.95.0.1/24) over a veth underlay (10.96.0.1); the test's
//! port sits on the other end of the veth (10.96.0.2:4789, in namespace W). A ping from K to
//! 10.95.0.2 reaches the test encapsulated; the test answers ARP and ICMP by hand, the port
//! encapsulates the replies, and the kernel decapsulates them so the ping succeeds.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Cleanup, Responder, in_netns, ip, prefix, spawn_ping, veth, wait_while};
use wyvern_datapath::vxlan::{VxlanConfig, VxlanPort};
use wyvern_datapath::{Burst, MacAddr, Port, TunnelMeta};

#[test]
fn vxlan_port_interoperates_with_linux_vxlan() {
    require_root!();
    let p = prefix("v");
    let (ns_k, ns_w) = (format!("{p}k"), format!("{p}w"));
    let (k0, k1, vx) = (format!("{p}k0"), format!("{p}k1"), format!("{p}vx"));
    let mut cleanup = Cleanup::default();
    cleanup.link(&k0);
    cleanup.link(&k1);
    cleanup.netns(&ns_k);
    cleanup.netns(&ns_w);
    veth(&k0, &ns_k, "10.96.0.1/24", &k1, &ns_w);
    ip(&["-n", &ns_w, "addr", "add", "10.96.0.2/24", "dev", &k1]);
    ip(&[
        "-n",
        &ns_k,
        "link",
        "add",
        &vx,
        "type",
        "vxlan",
        "id",
        "100",
        "remote",
        "10.96.0.2",
        "local",
        "10.96.0.1",
        "dstport",
        "4789",
        "dev",
        &k0,
    ]);
    ip(&["-n", &ns_k, "addr", "add", "10.95.0.1/24", "dev", &vx]);
    ip(&["-n", &ns_k, "link", "set", &vx, "up"]);

    let mut port = in_netns(&ns_w, || {
        VxlanPort::open(&VxlanConfig::new("vxlan0", Ipv4Addr::new(10, 96, 0, 2)))
    })
    .expect("open VXLAN port");

    let mut responder = Responder::new(
        MacAddr([0x02, 0x77, 0x79, 0, 0, 0x33]),
        Ipv4Addr::new(10, 95, 0, 2),
    );
    let mut rx = Burst::new(Burst::DEFAULT_SIZE);
    let mut first_tunnel: Option<TunnelMeta> = None;
    let mut ping = spawn_ping(&ns_k, "10.95.0.2", &[]);
    let ok = wait_while(&mut ping, Duration::from_secs(8), || {
        responder.serve(&mut port, &mut rx);
        if first_tunnel.is_none() && !rx.is_empty() {
            first_tunnel = rx.packets()[0].meta.tunnel;
        }
    });
    assert!(
        ok,
        "ping over VXLAN failed: {responder:?} {:?}",
        port.counters()
    );
    assert_eq!(
        first_tunnel,
        Some(TunnelMeta {
            tun_id: 100,
            tun_src: Ipv4Addr::new(10, 96, 0, 1),
            tun_dst: Ipv4Addr::new(10, 96, 0, 2),
        })
    );
    assert_eq!((responder.arp_replies, responder.echo_replies), (1, 1));
    let c = port.counters();
    assert_eq!(c.tx_packets, 2);
    assert_eq!(c.rx_packets, responder.seen as u64);
    assert_eq!((c.rx_dropped, c.tx_dropped, c.tx_errors), (0, 0, 0));
}

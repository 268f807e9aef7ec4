//! The VXLAN port against a Linux kernel `vxlan` device in a namespace. Needs root; skipped
//! otherwise.
//!
//! Namespace K has `vx0` (VNI 100, 10.95.0.1/24) over a veth underlay (10.96.0.1); the test's
//! port sits on the other end of the veth (10.96.0.2:4789, in namespace W). A ping from K to
//! 10.95.0.2 reaches the test encapsulated; the test answers ARP and ICMP by hand, the port
//! encapsulates the replies, and the kernel decapsulates them so the ping succeeds. A raw socket
//! in K checks the UDP checksum the port sends over the veth.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use common::{Responder, VethPair, in_netns, ip, prefix, spawn_ping, wait_while};
use wyvern_datapath::vxlan::{VxlanConfig, VxlanPort};
use wyvern_datapath::{Burst, MacAddr, PacketBuf, Port, TunnelMeta};

/// Namespaces K (`ns_host`) and W (`ns_port`) joined by a veth underlay (10.96.0.1 in K,
/// 10.96.0.2 in W), and the port under test on W's address. All of it is deleted when this is
/// dropped.
struct Underlay {
    net: VethPair,
    port: VxlanPort,
}

impl Underlay {
    fn new(tag: &str) -> Underlay {
        let net = VethPair::new(tag, "10.96.0.1/24", 1);
        ip(&[
            "-n",
            &net.ns_port,
            "addr",
            "add",
            "10.96.0.2/24",
            "dev",
            &net.port_if,
        ]);
        let port = in_netns(&net.ns_port, || {
            VxlanPort::open(&VxlanConfig::new("vxlan0", Ipv4Addr::new(10, 96, 0, 2)))
        })
        .expect("open VXLAN port");
        Underlay { net, port }
    }
}

#[test]
fn vxlan_port_interoperates_with_linux_vxlan() {
    require_root!();
    let Underlay { net, mut port } = Underlay::new("v");
    let (ns_k, k0) = (&net.ns_host, &net.host_if);
    let vx = format!("{}vx", prefix("v"));
    ip(&[
        "-n",
        ns_k,
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
        k0,
    ]);
    ip(&["-n", ns_k, "addr", "add", "10.95.0.1/24", "dev", &vx]);
    ip(&["-n", ns_k, "link", "set", &vx, "up"]);

    let mut responder = Responder::new(
        MacAddr([0x02, 0x77, 0x79, 0, 0, 0x33]),
        Ipv4Addr::new(10, 95, 0, 2),
    );
    let mut rx = Burst::new(Burst::DEFAULT_SIZE);
    let mut first_tunnel: Option<TunnelMeta> = None;
    let mut ping = spawn_ping(ns_k, "10.95.0.2", &[]);
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

/// A raw IPv4 socket that receives a copy of every UDP datagram arriving in the calling thread's
/// namespace, IP header first. (std has no raw socket type: `UdpSocket` only wraps the
/// descriptor for `recv` and its timeout.)
fn udp_sniffer() -> UdpSocket {
    // SAFETY: plain socket(2) call with constant arguments; no memory is passed.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
    let sock = UdpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock
}

/// RFC 7348, 5: "UDP Checksum: It SHOULD be transmitted as zero." Over a veth a computed
/// checksum is left to offload (the field holds the pseudo-header sum), which Open vSwitch's
/// userspace datapath takes for a bad one (cli/tests/vxlan_ovs.rs).
#[test]
fn vxlan_port_sends_a_zero_udp_checksum() {
    require_root!();
    let Underlay { net, mut port } = Underlay::new("z");
    let ns_k = &net.ns_host;
    let sniffer = in_netns(ns_k, udp_sniffer);

    let mut frame = PacketBuf::from_slice(&[0x5a; 60]);
    frame.meta.tunnel = Some(TunnelMeta {
        tun_id: 100,
        tun_src: Ipv4Addr::UNSPECIFIED,
        tun_dst: Ipv4Addr::new(10, 96, 0, 1),
    });
    assert_eq!(
        port.send_burst(std::slice::from_mut(&mut frame)).unwrap(),
        1
    );
    let mut buf = [0u8; 2048];
    let udp = loop {
        let n = sniffer.recv(&mut buf).expect("the datagram reaches K");
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        let udp = &buf[ihl..n];
        if udp.len() >= 8 && udp[2..4] == 4789u16.to_be_bytes() {
            break udp;
        }
    };
    assert_eq!(udp.len(), 8 + 8 + 60, "UDP header, VXLAN header, frame");
    assert_eq!(udp[6..8], [0, 0], "UDP checksum");
}

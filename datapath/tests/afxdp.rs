//! AF_XDP ports on veth pairs between namespaces made by the test. Needs root; skipped
//! otherwise.
//!
//! - one port answers a ping from a namespace by hand (ARP + ICMP), in generic mode;
//! - two ports sharing one UMEM and a tiny forwarder thread connect two namespaces, so they
//!   can ping each other (auto mode: native XDP on veth); frames go from one port to the other
//!   without a copy, and every UMEM frame is back in the stock once ports and buffers are gone;
//! - a port on a veth with four queues binds a socket to each and receives what the sender
//!   spread over them, where a socket on queue 0 alone misses some.

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Responder, TwoHosts, VethPair, in_netns, netns_exec, spawn_ping, wait_while};
use wyvern_datapath::afxdp::{AfXdpConfig, AfXdpPort, SharedUmem, XdpMode, ZeroCopy};
use wyvern_datapath::{Burst, DropReason, PacketBuf, Port};

#[test]
fn afxdp_generic_answers_ping_by_hand() {
    require_root!();
    let pair = VethPair::new("x", "10.98.0.1/24", 1);
    let (ns_host, ns_port, port_if) = (&pair.ns_host, &pair.ns_port, &pair.port_if);

    let mut port = in_netns(ns_port, || {
        let mut cfg = AfXdpConfig::new(port_if);
        cfg.mode = XdpMode::Generic;
        cfg.ring_size = 512;
        AfXdpPort::open(&cfg)
    })
    .expect("open AF_XDP port");
    assert_eq!(port.xdp_mode(), XdpMode::Generic);
    assert!(!port.is_zero_copy(), "veth has no zero-copy");
    assert!(port.link_up());
    assert_eq!(port.mtu(), 1500);

    let mut responder = Responder::new(port.mac(), Ipv4Addr::new(10, 98, 0, 2));
    let mut rx = Burst::new(Burst::DEFAULT_SIZE);
    let mut sent_bytes = 0;
    let mut ping = spawn_ping(ns_host, "10.98.0.2", &[]);
    let ok = wait_while(&mut ping, Duration::from_secs(8), || {
        sent_bytes += responder.serve(&mut port, &mut rx);
    });
    assert!(
        ok,
        "ping via AF_XDP failed: {responder:?} {:?}",
        port.counters()
    );
    assert_eq!((responder.arp_replies, responder.echo_replies), (1, 1));

    let c = port.counters();
    assert_eq!(c.tx_packets, 2);
    assert_eq!(c.tx_bytes, sent_bytes as u64);
    assert_eq!(c.rx_packets, responder.seen as u64);
    assert_eq!((c.rx_dropped, c.tx_dropped), (0, 0));

    // Malformed frames on transmit are counted drops.
    let mut bad = [
        PacketBuf::from_slice(&[0; 3]),
        PacketBuf::from_slice(&vec![0; 1700]),
    ];
    assert_eq!(port.send_burst(&mut bad).unwrap(), 0);
    let c = port.counters();
    assert_eq!(
        (c.dropped(DropReason::Runt), c.dropped(DropReason::Oversize)),
        (1, 1)
    );
    let stats = port.kernel_stats().unwrap();
    assert_eq!(stats.rx_invalid_descs + stats.tx_invalid_descs, 0);
}

#[test]
fn afxdp_forwarder_connects_two_namespaces() {
    require_root!();
    let hosts = TwoHosts::new("f", 97);
    let (ns_a, ns_sw) = (&hosts.ns_a, &hosts.ns_sw);

    let umem = SharedUmem::new(512, 2048).expect("shared UMEM");
    assert_eq!(umem.free_frames(), umem.frame_count());
    let (mut pa, mut pb) = in_netns(ns_sw, || {
        let open = |name: &str| {
            let mut cfg = AfXdpConfig::new(name);
            cfg.mode = XdpMode::Auto;
            cfg.zero_copy = ZeroCopy::Auto;
            cfg.ring_size = 512;
            cfg.umem = Some(umem.clone());
            AfXdpPort::open(&cfg).expect("open AF_XDP port")
        };
        (open(&hosts.a1), open(&hosts.b1))
    });
    eprintln!(
        "AF_XDP mode on veth: {:?}, zero-copy {}",
        pa.xdp_mode(),
        pa.is_zero_copy()
    );
    assert!(pa.is_shared_umem() && pb.is_shared_umem());
    // Each fill ring holds 512 frames of the stock.
    assert_eq!(umem.free_frames(), umem.frame_count() - 2 * 512);

    let stop = AtomicBool::new(false);
    let ok = std::thread::scope(|s| {
        let forwarder = s.spawn(|| {
            let mut burst = Burst::new(Burst::DEFAULT_SIZE);
            let mut poll = mio::Poll::new().unwrap();
            pa.register(poll.registry(), mio::Token(0)).unwrap();
            pb.register(poll.registry(), mio::Token(1)).unwrap();
            let mut events = mio::Events::with_capacity(8);
            while !stop.load(Ordering::Relaxed) {
                poll.poll(&mut events, Some(Duration::from_millis(10)))
                    .unwrap();
                forward(&mut pa, &mut pb, &mut burst);
                forward(&mut pb, &mut pa, &mut burst);
            }
            (pa.counters(), pb.counters())
        });
        let mut ping = spawn_ping(ns_a, "10.97.0.2", &["-c3", "-i0.2"]);
        let ok = wait_while(&mut ping, Duration::from_secs(10), || {});
        stop.store(true, Ordering::Relaxed);
        let (ca, cb) = forwarder.join().unwrap();
        eprintln!("a1: {ca:?}\nb1: {cb:?}");
        // ARP request + 3 echo requests at least went a -> b, and replies b -> a.
        assert!(ca.rx_packets >= 4 && cb.tx_packets >= 4, "{ca:?} {cb:?}");
        assert!(cb.rx_packets >= 4 && ca.tx_packets >= 4, "{ca:?} {cb:?}");
        // Each frame went out in the UMEM frame it came in.
        assert_eq!(
            (ca.tx_zero_copy, cb.tx_zero_copy),
            (ca.tx_packets, cb.tx_packets)
        );
        ok
    });
    // Closing the sockets takes back the frames of their rings; the last frames held by
    // buffers come back when the buffers go.
    drop((pa, pb));
    assert_eq!(umem.free_frames(), umem.frame_count());
    assert!(
        ok,
        "ping between namespaces through the AF_XDP forwarder failed"
    );
}

/// Move one burst from `from` to `to`.
fn forward(from: &mut AfXdpPort, to: &mut AfXdpPort, burst: &mut Burst) {
    burst.clear();
    if from.recv_burst(burst).unwrap() > 0 {
        to.send_burst(burst.packets_mut()).unwrap();
    }
}

#[test]
fn afxdp_port_binds_every_queue_and_receives_from_all() {
    require_root!();
    let pair = VethPair::new("q", "10.95.0.1/24", 4);
    let (ns_host, ns_port) = (&pair.ns_host, &pair.ns_port);
    let (host_if, port_if) = (&pair.host_if, &pair.port_if);

    let open = |queues: Option<u32>| {
        in_netns(ns_port, || {
            let mut cfg = AfXdpConfig::new(port_if);
            cfg.ring_size = 512;
            cfg.queues = queues;
            AfXdpPort::open(&cfg)
        })
        .expect("open AF_XDP port")
    };
    // 64 datagrams, each from a new socket: the host's veth spreads them over its four TX
    // queues, and each arrives on the peer's RX queue of the same number.
    let mac = open(Some(1)).mac();
    common::ip(&[
        "-n",
        ns_host,
        "neigh",
        "replace",
        "10.95.0.2",
        "lladdr",
        &mac.to_string(),
        "dev",
        host_if,
    ]);
    let send_and_count = |port: &mut AfXdpPort| {
        let script = "for i in $(seq 1 64); do echo x > /dev/udp/10.95.0.2/$((7000 + i)); done";
        let (ok, out) = netns_exec(ns_host, &["bash", "-c", script]);
        assert!(ok, "{out}");
        let mut rx = Burst::new(Burst::DEFAULT_SIZE);
        let mut udp = 0;
        for _ in 0..50 {
            rx.clear();
            port.recv_burst(&mut rx).unwrap();
            // UDP to 10.95.0.2 (the host's other traffic, IPv6 chatter, is not counted).
            udp += rx
                .packets()
                .iter()
                .filter(|b| {
                    b.data().get(23) == Some(&17)
                        && b.data().get(30..34) == Some(&[10, 95, 0, 2][..])
                })
                .count();
            std::thread::sleep(Duration::from_millis(10));
        }
        udp
    };

    let mut one = open(Some(1));
    assert_eq!(one.queues(), vec![0]);
    let on_queue_0 = send_and_count(&mut one);
    drop(one);
    assert!(
        on_queue_0 < 64,
        "all 64 datagrams came on queue 0: the sender did not spread them, so this test shows nothing"
    );

    let mut all = open(None);
    assert_eq!(
        all.queues(),
        vec![0, 1, 2, 3],
        "one socket per queue of the interface"
    );
    assert_eq!(
        send_and_count(&mut all),
        64,
        "queue 0 alone took {on_queue_0}"
    );
    let stats = all.kernel_stats().unwrap();
    assert_eq!(stats.rx_invalid_descs + stats.tx_invalid_descs, 0);
}

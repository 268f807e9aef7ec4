//! TAP port against a real namespace: the test answers ARP and ICMP by hand so that a `ping`
//! in the namespace succeeds. Needs root; skipped otherwise.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Cleanup, Responder, ip, prefix, spawn_ping, wait_while};
use wyvern_datapath::tap::{TapConfig, TapPort};
use wyvern_datapath::{Burst, DropReason, MacAddr, PacketBuf, Port};

#[test]
fn tap_in_namespace_answers_ping_by_hand() {
    require_root!();
    let name = prefix("t");
    let mut cleanup = Cleanup::default();
    cleanup.link(&name);
    cleanup.netns(&name);

    let mac = MacAddr([0x02, 0x77, 0x79, 0, 0, 0x11]);
    let mut port = TapPort::create(&TapConfig {
        name: name.clone(),
        mac: Some(mac),
        mtu: Some(1500),
        up: false,
        offload: true,
    })
    .expect("create tap");
    assert_eq!(port.mac(), mac);
    assert_eq!(port.mtu(), 1500);
    assert!(port.raw_fd().is_some());

    // The namespace owns the device from now on; the descriptor keeps working.
    ip(&["link", "set", &name, "netns", &name]);
    ip(&["-n", &name, "addr", "add", "10.99.0.1/24", "dev", &name]);
    ip(&["-n", &name, "link", "set", &name, "up"]);
    ip(&["-n", &name, "link", "set", "lo", "up"]);

    let peer_mac = MacAddr([0x02, 0x77, 0x79, 0, 0, 0x22]);
    let mut responder = Responder::new(peer_mac, Ipv4Addr::new(10, 99, 0, 2));
    let mut rx = Burst::new(Burst::DEFAULT_SIZE);
    let mut sent_bytes = 0;
    let mut ping = spawn_ping(&name, "10.99.0.2", &[]);
    let ok = wait_while(&mut ping, Duration::from_secs(8), || {
        sent_bytes += responder.serve(&mut port, &mut rx);
    });
    assert!(ok, "ping through the TAP failed: {responder:?}");
    assert_eq!(responder.arp_replies, 1);
    assert_eq!(responder.echo_replies, 1);

    let c = port.counters();
    assert_eq!(c.tx_packets, 2);
    assert_eq!(c.tx_bytes, sent_bytes as u64);
    assert_eq!(c.rx_packets, responder.seen as u64);
    assert!(c.rx_bytes >= 42 + 98);
    assert_eq!(
        (c.rx_dropped, c.tx_dropped, c.rx_errors, c.tx_errors),
        (0, 0, 0, 0)
    );

    // Malformed frames on transmit are counted drops, not errors.
    let mut bad = [
        PacketBuf::from_slice(&[0; 10]),
        PacketBuf::from_slice(&vec![0; 1600]),
    ];
    assert_eq!(port.send_burst(&mut bad).unwrap(), 0);
    let c = port.counters();
    assert_eq!(c.dropped(DropReason::Runt), 1);
    assert_eq!(c.dropped(DropReason::Oversize), 1);
    assert_eq!(c.tx_dropped, 2);

    // An oversize frame from the namespace (its MTU raised behind the port's back) is dropped
    // and counted on receive, whether longer than the MTU allows or than the buffer.
    ip(&["-n", &name, "link", "set", &name, "mtu", "4000"]);
    for size in ["1600", "3000"] {
        let mut big = spawn_ping(&name, "10.99.0.2", &["-s", size, "-W1"]);
        wait_while(&mut big, Duration::from_secs(4), || {
            responder.serve(&mut port, &mut rx);
        });
    }
    let c = port.counters();
    assert_eq!(c.dropped(DropReason::Oversize), 3, "{c:?}");
    assert_eq!(c.rx_dropped, 2);

    drop(port);
    // Dropping the port removes the device, even inside the namespace.
    let out = std::process::Command::new("ip")
        .args(["-n", &name, "link", "show", &name])
        .output()
        .unwrap();
    assert!(!out.status.success(), "TAP device outlived its port");
}

#[test]
fn tap_bad_name_is_an_error() {
    require_root!();
    let err = TapPort::create(&TapConfig::new("this-name-is-far-too-long")).unwrap_err();
    assert!(
        err.to_string().contains("not a valid interface name"),
        "{err}"
    );
}

//! Tunnel fields are visible to flows: a bridge with a VXLAN port (in one namespace's
//! underlay) and a TAP port (moved into a host namespace) talks to a Linux `vxlan` device
//! (VNI 100) in another namespace, with
//! `in_port=<vxlan>,tun_id=100 actions=output:<tap>` and
//! `in_port=<tap> actions=set_field:100->tun_id,set_field:<peer>->tun_dst,output:<vxlan>`.
//! Needs root; skipped otherwise.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::{Cleanup, in_netns, ip, ping, ping_until, pipeline_with, prefix, veth};
use wyvern_datapath::{Bridge, BridgeConfig, PortKind, PortSpec, PortType};

#[test]
fn bridge_vxlan_port_reaches_kernel_vxlan() {
    require_root!();
    let p = prefix("bv");
    let (ns_u, ns_k, ns_h) = (format!("{p}u"), format!("{p}k"), format!("{p}h"));
    let (u0, k0, vx, tap) = (
        format!("{p}u0"),
        format!("{p}k0"),
        format!("{p}vx"),
        format!("{p}t"),
    );
    let mut cleanup = Cleanup::default();
    for link in [&u0, &k0, &tap] {
        cleanup.link(link);
    }
    for ns in [&ns_u, &ns_k, &ns_h] {
        cleanup.netns(ns);
    }
    // Underlay: 192.168.93.1 (bridge's VTEP, in ns_u) <-> 192.168.93.2 (kernel VTEP, ns_k).
    veth(&u0, &ns_u, "192.168.93.1/24", &k0, &ns_k);
    ip(&["-n", &ns_k, "addr", "add", "192.168.93.2/24", "dev", &k0]);
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
        "192.168.93.1",
        "local",
        "192.168.93.2",
        "dstport",
        "4789",
        "dev",
        &k0,
    ]);
    ip(&["-n", &ns_k, "addr", "add", "10.93.0.2/24", "dev", &vx]);
    ip(&["-n", &ns_k, "link", "set", &vx, "up"]);

    let config = BridgeConfig {
        workers: 2,
        local_port: false,
        ..BridgeConfig::new(&format!("{p}br"))
    };
    let pipeline = pipeline_with(&[]);
    let bridge = Bridge::start(pipeline.clone(), config).expect("start bridge");
    let tap_no = bridge
        .add_port(PortSpec {
            name: tap.clone(),
            kind: PortKind::Tap {
                mac: None,
                mtu: Some(1450),
                offload: true,
            },
            ofport: Some(10),
        })
        .expect("add TAP");
    ip(&["link", "set", &tap, "netns", &ns_h]);
    ip(&["-n", &ns_h, "addr", "add", "10.93.0.1/24", "dev", &tap]);
    ip(&["-n", &ns_h, "link", "set", &tap, "up"]);
    let vx_no = in_netns(&ns_u, || {
        bridge.add_port(PortSpec {
            name: format!("{p}vxp"),
            kind: PortKind::Vxlan {
                local: SocketAddrV4::new(Ipv4Addr::new(192, 168, 93, 1), 4789),
                dst_port: 4789,
            },
            ofport: Some(20),
        })
    })
    .expect("add VXLAN port");
    assert_eq!(bridge.port(vx_no).unwrap().kind, PortType::Vxlan);

    let flows = [
        format!("in_port={vx_no},tun_id=100 actions=output:{tap_no}"),
        format!(
            "in_port={tap_no} actions=set_field:100->tun_id,set_field:192.168.93.2->tun_dst,output:{vx_no}"
        ),
    ];
    let mods: Vec<_> = flows
        .iter()
        .map(|f| {
            wyvern_pipeline::text::parse_flow(f, wyvern_pipeline::flow::FlowModCommand::Add)
                .unwrap()
        })
        .collect();
    pipeline.apply(&mods).unwrap();

    assert!(
        ping_until(&ns_h, "10.93.0.2", 5),
        "ping host -> kernel VTEP side failed: {:#?}",
        bridge.ports()
    );
    let (ok, out) = ping(&ns_h, "10.93.0.2", 3);
    assert!(ok, "{out}");
    let (ok, out) = ping(&ns_k, "10.93.0.1", 3);
    assert!(ok, "{out}");
    let vxp = bridge.port(vx_no).unwrap();
    assert!(
        vxp.counters.rx_packets >= 6 && vxp.counters.tx_packets >= 6,
        "{vxp:?}"
    );
    bridge.shutdown();
}

//! Shutdown closes every port: the LOCAL port's and other TAP devices the bridge created are
//! removed and the XDP program of an AF_XDP port is detached (`ip link` shows neither).
//! Needs root; skipped otherwise.

mod common;

use common::{Cleanup, in_netns, link_show, pipeline_with, prefix, veth};
use wyvern_datapath::afxdp::XdpMode;
use wyvern_datapath::{
    Bridge, BridgeConfig, BridgeError, OFPP_LOCAL, PortKind, PortSpec, PortType,
};

#[test]
fn bridge_shutdown_removes_taps_and_detaches_xdp() {
    require_root!();
    let p = prefix("bs");
    let (ns_a, ns_sw) = (format!("{p}a"), format!("{p}s"));
    let (a0, a1, tap, br) = (
        format!("{p}a0"),
        format!("{p}a1"),
        format!("{p}t"),
        format!("{p}br"),
    );
    let mut cleanup = Cleanup::default();
    for link in [&a0, &a1, &tap, &br] {
        cleanup.link(link);
    }
    cleanup.netns(&ns_a);
    cleanup.netns(&ns_sw);
    veth(&a0, &ns_a, "10.96.0.1/24", &a1, &ns_sw);

    let bridge = in_netns(&ns_sw, || {
        let bridge = Bridge::start(
            pipeline_with(&["actions=NORMAL"]),
            BridgeConfig {
                workers: 2,
                ..BridgeConfig::new(&br)
            },
        )?;
        bridge.add_port(PortSpec {
            name: a1.clone(),
            kind: PortKind::Afxdp {
                iface: a1.clone(),
                mode: XdpMode::Generic,
                queues: None,
            },
            ofport: None,
        })?;
        bridge.add_port(PortSpec {
            name: tap.clone(),
            kind: PortKind::Tap {
                mac: None,
                mtu: None,
                offload: true,
            },
            ofport: None,
        })?;
        Ok::<_, BridgeError>(bridge)
    })
    .expect("bridge with ports");
    let local = bridge.port(OFPP_LOCAL).expect("LOCAL port");
    assert_eq!(
        (local.kind, local.name.as_str()),
        (PortType::Local, br.as_str())
    );
    assert!(link_show(Some(&ns_sw), &br).is_some(), "LOCAL TAP missing");
    assert!(link_show(Some(&ns_sw), &tap).is_some(), "TAP missing");
    let shown = link_show(Some(&ns_sw), &a1).expect("veth");
    assert!(shown.contains("xdp"), "no XDP program on {a1}: {shown}");

    bridge.shutdown();
    assert!(link_show(Some(&ns_sw), &br).is_none(), "LOCAL TAP survived");
    assert!(link_show(Some(&ns_sw), &tap).is_none(), "TAP survived");
    let shown = link_show(Some(&ns_sw), &a1).expect("veth");
    assert!(
        !shown.contains("xdp"),
        "XDP still attached to {a1}: {shown}"
    );
    assert!(bridge.ports().is_empty());
    // Idempotent, and the bridge refuses new ports.
    bridge.shutdown();
    let again = bridge.add_port(PortSpec {
        name: tap.clone(),
        kind: PortKind::Tap {
            mac: None,
            mtu: None,
            offload: true,
        },
        ofport: None,
    });
    assert!(matches!(again, Err(BridgeError::ShutDown)), "{again:?}");
    assert!(link_show(None, &tap).is_none());
}

//! The Dragonflow pipeline of the blog posts, run with real frames through a packet worker.
//!
//! Ports: 11 = vm1 (net1, 10.1.0.0/24, segmentation id 0x1f42), 12 = vm2 (net2, 10.2.0.0/24,
//! 0x1f43), 13 = another VM on net1, and 2, 6, 7, 8 = the DHCP, tunnel, router and patch ports
//! that table 0 hands to NORMAL.

use std::sync::Arc;

#[path = "common/frames.rs"]
mod frames;
use frames::*;

use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::{FlowMod, FlowModCommand};
use wyvern_pipeline::translate::PacketInReason;
use wyvern_pipeline::wire::{self, build};
use wyvern_pipeline::{FlowFilter, Pipeline, PipelineConfig, PipelinePort, RemovedReason};

const VM3: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x00, 0x13];
const VM3_IP: [u8; 4] = [10, 1, 0, 6];

fn load(p: &Pipeline, text: &str) {
    let mods: Vec<FlowMod> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            wyvern_pipeline::text::parse_flow(l, FlowModCommand::Add)
                .unwrap_or_else(|e| panic!("{l}: {e}"))
        })
        .collect();
    p.apply(&mods).expect("flows load");
}

fn dragonflow() -> Arc<Pipeline> {
    let p = Pipeline::new(PipelineConfig::default());
    load(&p, include_str!("../examples/dragonflow.flows"));
    load(
        &p,
        "table=0, priority=1000,in_port=13 actions=write_metadata:0x1f42/0xffff,goto_table:40",
    );
    let port = |no| PipelinePort {
        no,
        network: 0,
        no_flood: false,
        down: false,
    };
    p.set_ports([2, 6, 7, 8, 11, 12, 13].into_iter().map(port).collect());
    p
}

/// Runs one frame through a worker; returns (port, bytes) per output.

#[test]
fn gateway_arp_is_answered_out_the_in_port_by_table_51() {
    let p = dragonflow();
    let mut w = p.worker();
    let mut req = vec![0u8; 60];
    let n = build::arp_request(&mut req, VM1, VM1_IP, [10, 1, 0, 1]).unwrap();
    let out = run(&mut w, 11, &req[..n]);
    assert_eq!(out.len(), 1, "one reply, no flood");
    assert_eq!(out[0].0, 11, "IN_PORT");
    let k = key_of(&out[0].1);
    assert_eq!(k.get(Field::ArpOp), 2);
    assert_eq!(k.get(Field::EthSrc), mac(R1_NET1));
    assert_eq!(k.get(Field::ArpSha), mac(R1_NET1));
    assert_eq!(k.get(Field::ArpSpa), 0x0a01_0001);
    assert_eq!(k.get(Field::ArpTha), mac(VM1));
    assert_eq!(k.get(Field::ArpTpa), 0x0a01_0005);

    // vm2 asking for net1's gateway on net2 gets no answer from table 51: NORMAL floods it
    // in net2 only (there is no other port in net2).
    let n = build::arp_request(&mut req, VM2, VM2_IP, [10, 1, 0, 1]).unwrap();
    assert!(run(&mut w, 12, &req[..n]).is_empty());
}

#[test]
fn cross_subnet_ping_goes_to_controller_then_is_routed_by_learned_flows() {
    let p = dragonflow();
    let mut w = p.worker();
    let ping = icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64);
    assert!(run(&mut w, 12, &ping).is_empty());
    let pin = p.next_packet_in().expect("a packet-in");
    assert_eq!(pin.reason, PacketInReason::Action);
    assert_eq!(pin.table, 52);
    assert_eq!(pin.key.get(Field::Metadata), 0x1f43);
    assert_eq!(pin.key.get(Field::InPort), 12);
    assert_eq!(pin.data, ping, "whole frame (CONTROLLER:65535)");

    load(&p, include_str!("../examples/dragonflow-learned.flows"));
    let out = run(&mut w, 12, &ping);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 11);
    let k = key_of(&out[0].1);
    assert_eq!(k.get(Field::IpTtl), 63);
    assert_eq!(k.get(Field::EthSrc), mac(R1_NET2));
    assert_eq!(k.get(Field::EthDst), mac(VM1));
    assert!(p.next_packet_in().is_none());
    // The IPv4 checksum still verifies after dec_ttl.
    assert!(wire::checksum::verifies(&out[0].1[14..34], 0));

    // The cached path: the same packet again, then counters reach the learned flow.
    run(&mut w, 12, &ping);
    w.flush();
    let learned = p.dump_flows(&FlowFilter {
        table: 52,
        cookie: 0x1008000000019,
        cookie_mask: u64::MAX,
        ..FlowFilter::default()
    });
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].packets, 2);
    assert_eq!(learned[0].bytes, 2 * ping.len() as u64);
    assert!(p.counters().cache_hits >= 1);
}

#[test]
fn same_subnet_stays_l2_and_broadcast_floods_only_its_network() {
    let p = dragonflow();
    let mut w = p.worker();
    // A broadcast from vm1 (net1) reaches port 13 (net1) only.
    let mut req = vec![0u8; 60];
    let n = build::arp_request(&mut req, VM1, VM1_IP, VM3_IP).unwrap();
    let out = run(&mut w, 11, &req[..n]);
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![13]);
    // vm3 answers; NORMAL learned vm1 behind 11, so the reply is unicast.
    let mut rep = vec![0u8; 60];
    let n = build::arp_reply(&mut rep, (VM3, VM3_IP), (VM1, VM1_IP)).unwrap();
    let out = run(&mut w, 13, &rep[..n]);
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![11]);
    // Same-subnet IP goes through table 52's priority-30 NORMAL flow, unchanged.
    let ping = icmp((VM1, VM1_IP), (VM3, VM3_IP), 64);
    let out = run(&mut w, 11, &ping);
    assert_eq!(out, vec![(13, ping.clone())]);
}

#[test]
fn ttl_one_is_an_invalid_ttl_packet_in_and_a_counted_drop() {
    let p = dragonflow();
    load(&p, include_str!("../examples/dragonflow-learned.flows"));
    let mut w = p.worker();
    let ping = icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 1);
    assert!(run(&mut w, 12, &ping).is_empty());
    let pin = p.next_packet_in().expect("invalid_ttl packet-in");
    assert_eq!(pin.reason, PacketInReason::InvalidTtl);
    assert_eq!(pin.table, 52);
    w.flush();
    assert_eq!(
        p.counters().drops[wyvern_pipeline::stats::DropReason::InvalidTtl as usize],
        1
    );
}

#[test]
fn learned_flows_expire_by_idle_timeout_unless_used() {
    let p = dragonflow();
    let learned = include_str!("../examples/dragonflow-learned.flows")
        .replace("idle_timeout=300", "idle_timeout=1");
    let learned: String = learned
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let learned = learned.replace(
        "cookie=0x1008000040051",
        "send_flow_rem cookie=0x1008000040051",
    );
    load(&p, &learned);
    let mut w = p.worker();
    let ping = icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64);
    let mut removed = Vec::new();
    for _ in 0..6 {
        std::thread::sleep(std::time::Duration::from_millis(250));
        run(&mut w, 12, &ping);
        w.flush();
        removed.extend(p.expire());
    }
    // Only the reverse flow asked for send_flow_rem, and it expired while unused.
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].reason, RemovedReason::IdleTimeout);
    assert_eq!(removed[0].stats.spec.cookie, 0x1008000040051);
    // The used flow (vm2 → vm1) is alive; the unused reverse flow has expired.
    let left = p.dump_flows(&FlowFilter {
        table: 52,
        ..FlowFilter::default()
    });
    let cookies: Vec<u64> = left
        .iter()
        .map(|f| f.spec.cookie)
        .filter(|c| *c != 0)
        .collect();
    assert_eq!(cookies, vec![0x1008000000019]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(
        p.expire().is_empty(),
        "the forward flow did not ask for send_flow_rem"
    );
    assert!(
        p.dump_flows(&FlowFilter::default())
            .iter()
            .all(|f| f.spec.cookie == 0)
    );
}

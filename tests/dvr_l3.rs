//! The built-in DVR pipeline and reactive L3 controller on the blog's topology, with real
//! frames through a packet worker (no root needed; the namespace lab runs the same code).

use std::collections::HashMap;
use std::sync::Arc;

#[path = "common/frames.rs"]
mod frames;
use frames::*;

use wyvern_pipeline::dvr::compile::{CompileInput, L3Mode, compile};
use wyvern_pipeline::dvr::controller::{L3Config, L3Controller, Outcome, route_cookie};
use wyvern_pipeline::dvr::topology::Topology;
use wyvern_pipeline::field::Field;
use wyvern_pipeline::wire::{self};
use wyvern_pipeline::{FlowFilter, Pipeline, PipelineConfig, PipelinePort, Worker};

const TOPOLOGY: &str = include_str!("../examples/blog-lab.toml");

struct Lab {
    pipeline: Arc<Pipeline>,
    worker: Worker,
    l3: L3Controller,
}

fn lab(mode: L3Mode) -> Lab {
    let topo = Arc::new(Topology::from_toml(TOPOLOGY, "blog-lab.toml").unwrap());
    topo.validate(Some("node1")).unwrap();
    let ofports: HashMap<String, u32> = [("vm1".to_string(), 11), ("vm2".to_string(), 12)].into();
    let input = CompileInput {
        chassis: "node1",
        ofports: ofports.clone(),
        tunnel_port: None,
        l3_mode: mode,
    };
    let pipeline = Pipeline::new(PipelineConfig::default());
    pipeline.apply(&compile(&topo, &input).unwrap()).unwrap();
    pipeline.set_ports(
        [11, 12]
            .into_iter()
            .map(|no| PipelinePort {
                no,
                network: 0,
                no_flood: false,
                down: false,
            })
            .collect(),
    );
    let worker = pipeline.worker();
    let l3 = L3Controller::new(topo, "node1", ofports, None, L3Config::default());
    Lab {
        pipeline,
        worker,
        l3,
    }
}

impl Lab {
    /// Sends a frame in; runs the controller on any packet-ins; returns what left the switch
    /// (worker outputs, then frames the controller injected).
    fn send(&mut self, in_port: u32, frame: &[u8]) -> (Vec<(u32, Vec<u8>)>, Vec<Outcome>) {
        let mut sent = run(&mut self.worker, in_port, frame);
        let mut outcomes = Vec::new();
        while let Some(pin) = self.pipeline.next_packet_in() {
            outcomes.push(self.l3.handle(&self.pipeline, &pin));
        }
        while let Some(i) = self.pipeline.take_injected() {
            sent.push((i.port, i.data));
        }
        (sent, outcomes)
    }
}

fn learned(p: &Pipeline) -> Vec<wyvern_pipeline::flow::FlowStats> {
    p.dump_flows(&FlowFilter {
        table: 52,
        cookie: 0xd1 << 56,
        cookie_mask: 0xff << 56,
        ..FlowFilter::default()
    })
}

#[test]
fn first_routed_ping_is_delivered_and_two_flows_are_learned() {
    let mut lab = lab(L3Mode::Reactive);
    let ping = icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64);
    let (sent, outcomes) = lab.send(12, &ping);
    assert_eq!(outcomes, vec![Outcome::Routed { flows: 2 }]);
    assert_eq!(sent.len(), 1, "the first packet is not lost");
    assert_eq!(sent[0].0, 11);
    let k = key_of(&sent[0].1);
    assert_eq!(k.get(Field::IpTtl), 63);
    assert_eq!(
        k.get(Field::EthSrc),
        mac(R1_NET1),
        "the router's MAC on the destination network"
    );
    assert_eq!(k.get(Field::EthDst), mac(VM1));

    let flows = learned(&lab.pipeline);
    assert_eq!(flows.len(), 2);
    let text: Vec<String> = flows
        .iter()
        .map(|f| wyvern_pipeline::text::format_spec(&f.spec))
        .collect();
    assert!(text.iter().any(|t| t.contains(
        "idle_timeout=300, priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11"
    )), "{text:#?}");
    assert!(text.iter().any(|t| t.contains("in_port=11,dl_src=fa:16:3e:00:17:e6,dl_dst=fa:16:3e:c0:8d:8b,nw_src=10.1.0.5,nw_dst=10.2.0.5")), "{text:#?}");

    // The second packet and the reply need no controller.
    let (sent, outcomes) = lab.send(12, &ping);
    assert!(outcomes.is_empty());
    assert_eq!(sent[0].0, 11);
    let reply = icmp((VM1, VM1_IP), (R1_NET1, VM2_IP), 64);
    let (sent, outcomes) = lab.send(11, &reply);
    assert!(
        outcomes.is_empty(),
        "the reverse flow was learned with the forward one"
    );
    assert_eq!(sent[0].0, 12);
    assert_eq!(key_of(&sent[0].1).get(Field::EthDst), mac(VM2));
}

#[test]
fn removing_a_port_deletes_its_learned_flows_by_cookie() {
    let mut lab = lab(L3Mode::Reactive);
    lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64));
    assert_eq!(learned(&lab.pipeline).len(), 2);
    let vm1 = lab.l3.port_id("vm1").unwrap();
    let vm2 = lab.l3.port_id("vm2").unwrap();
    assert!(
        learned(&lab.pipeline)
            .iter()
            .any(|f| f.spec.cookie == route_cookie(vm2, vm1))
    );
    assert_eq!(lab.l3.forget_port(&lab.pipeline, "vm1").unwrap(), 2);
    assert!(learned(&lab.pipeline).is_empty());
}

#[test]
fn the_packet_in_and_inject_wakers_fire_for_the_first_packet() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut lab = lab(L3Mode::Reactive);
    let woken_pin = Arc::new(AtomicUsize::new(0));
    let woken_inj = Arc::new(AtomicUsize::new(0));
    let (a, b) = (woken_pin.clone(), woken_inj.clone());
    lab.pipeline.set_packet_in_waker(Box::new(move || {
        a.fetch_add(1, Ordering::Relaxed);
    }));
    lab.pipeline.set_inject_waker(Box::new(move || {
        b.fetch_add(1, Ordering::Relaxed);
    }));
    // The first packet is punted (packet-in waker), the controller re-injects it (inject waker).
    let (sent, _) = lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64));
    assert_eq!(sent.len(), 1);
    assert_eq!(woken_pin.load(Ordering::Relaxed), 1);
    assert_eq!(woken_inj.load(Ordering::Relaxed), 1);
    // The second takes the learned flow: nobody is woken.
    lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64));
    assert_eq!(woken_pin.load(Ordering::Relaxed), 1);
    assert_eq!(woken_inj.load(Ordering::Relaxed), 1);
}

#[test]
fn ports_keep_their_cookie_ids_when_the_topology_changes() {
    let mut lab = lab(L3Mode::Reactive);
    let vm1 = lab.l3.port_id("vm1").unwrap();
    let vm2 = lab.l3.port_id("vm2").unwrap();
    let mut topo = Topology::from_toml(TOPOLOGY, "blog-lab.toml").unwrap();
    // A new port listed first, and vm1 removed: the others keep their ids.
    let mut vm0 = topo.ports[1].clone();
    vm0.name = "vm0".into();
    vm0.mac = "fa:16:3e:00:00:09".into();
    vm0.ips = vec!["10.2.0.9".parse().unwrap()];
    topo.ports.insert(0, vm0);
    topo.ports.retain(|p| p.name != "vm1");
    let ofports = [("vm0".to_string(), 13), ("vm2".to_string(), 12)].into();
    lab.l3.set_topology(Arc::new(topo), ofports, None);
    assert_eq!(lab.l3.port_id("vm2"), Some(vm2));
    assert_eq!(
        lab.l3.port_id("vm1"),
        Some(vm1),
        "a removed port's id is not reused"
    );
    let vm0 = lab.l3.port_id("vm0").unwrap();
    assert!(vm0 != vm1 && vm0 != vm2);
}

#[test]
fn router_interface_answers_ping_and_expired_ttl_gets_time_exceeded() {
    let mut lab = lab(L3Mode::Reactive);
    let (sent, outcomes) = lab.send(11, &icmp((VM1, VM1_IP), (R1_NET1, [10, 1, 0, 1]), 64));
    assert_eq!(outcomes, vec![Outcome::EchoReplied]);
    let k = key_of(&sent[0].1);
    assert_eq!(sent[0].0, 11);
    assert_eq!(k.get(Field::Icmpv4Type), 0);
    assert_eq!(k.get(Field::Ipv4Src), 0x0a01_0001);
    assert_eq!(k.get(Field::EthDst), mac(VM1));
    assert!(wire::checksum::verifies(&sent[0].1[14..34], 0));

    lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64));
    let (sent, outcomes) = lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 1));
    assert_eq!(outcomes, vec![Outcome::TtlExceeded]);
    let k = key_of(&sent[0].1);
    assert_eq!(sent[0].0, 12);
    assert_eq!(k.get(Field::Icmpv4Type), 11);
    assert_eq!(
        k.get(Field::Ipv4Src),
        0x0a02_0001,
        "from the router interface on vm2's network"
    );
    assert_eq!(k.get(Field::Ipv4Dst), 0x0a02_0005);
    assert!(
        wire::checksum::verifies(&sent[0].1[34..], 0),
        "ICMP checksum"
    );
}

#[test]
fn unknown_destination_is_a_counted_drop() {
    let mut lab = lab(L3Mode::Reactive);
    let (sent, outcomes) = lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, [10, 1, 0, 99]), 64));
    assert!(sent.is_empty());
    assert!(matches!(outcomes[..], [Outcome::NoRoute(_)]));
    assert_eq!(lab.l3.counters.no_route, 1);
}

#[test]
fn proactive_mode_routes_without_any_packet_in() {
    let mut lab = lab(L3Mode::Proactive);
    let (sent, outcomes) = lab.send(12, &icmp((VM2, VM2_IP), (R1_NET2, VM1_IP), 64));
    assert!(outcomes.is_empty());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, 11);
    assert_eq!(key_of(&sent[0].1).get(Field::IpTtl), 63);
}

//! What this measures: the built-in reactive L3 controller's path for new host pairs, in
//! process — what `wyvern run` does between a packet worker seeing the first packet of a
//! host pair and that packet leaving rewritten for its destination.
//!
//! The topology is the one `benches/dvr_setup.sh` measures in the lab: the blog's lab (r1
//! joining net1 and net2, vm1 and vm2 on node1) plus net3 (10.3.0.0/16, on r1) with one port,
//! `gen`, that owns [`PAIRS`] addresses 10.3.1.0, 10.3.1.1, … — the load generator's port, a
//! known port with a known MAC whose every address starts a new host pair towards vm1.
//!
//! - `dvr_controller/new_pairs`: a batch of 32 UDP frames from 32 new source addresses of
//!   `gen` to vm1 through `Worker::process` (every one a table-52 miss → packet-in), then the
//!   packet-ins through the controller as one batch, as the control thread hands them over
//!   (route, install the two flows of each pair, re-inject the first packet through the
//!   tables), then the 32 re-injected frames taken from the
//!   injection queue. `thrpt` is host pairs per second. The learned flows accumulate (two per
//!   pair) up to 2 × [`PAIRS`]; then, outside the timed region, they are deleted and the
//!   addresses start again, so the table-52 size seen is spread over 0–120,000 flows as in
//!   the lab run.
//!
//! - `dvr_controller/one_pair`: the same for a batch of one frame: the controller's share of
//!   the first packet's added latency (the lab run adds the thread wake-ups around it).
//!
//! The setup checks the route: one batch installs 64 flows and re-injects 32 frames, all to
//! vm1's port, rewritten.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../tests/common/dvr.rs"]
mod dvr;
use wyvern_pipeline::action::PortNo;
use wyvern_pipeline::dvr::compile::L3Mode;
use wyvern_pipeline::dvr::controller::{L3Controller, LEARNED_COOKIE_TAG};
use wyvern_pipeline::dvr::topology::Topology;
use wyvern_pipeline::flow::{FlowMod, FlowModCommand, FlowSpec};
use wyvern_pipeline::wire::{Frame, build};
use wyvern_pipeline::{FlowFilter, PacketMeta, Pipeline, RxPacket, Verdicts, Worker};

/// Addresses of the generator's port: host pairs before the flows are wiped.
const PAIRS: u32 = 60_000;
const BATCH: usize = 32;
const FRAME_LEN: usize = 64;
const HEADROOM: usize = 64;
const SLOT: usize = 192;

const GEN_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xaa, 0x00, 0x01];
const R1_NET3: [u8; 6] = [0xfa, 0x16, 0x3e, 0xc6, 0x00, 0x01];
const VM1: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x17, 0xe6];
const VM1_IP: [u8; 4] = [10, 1, 0, 5];
const VM1_PORT: u32 = 11;
const GEN_PORT: u32 = 14;

/// The `n`-th address of the generator's port: 10.3.1.0 + n.
fn gen_ip(n: u32) -> [u8; 4] {
    (u32::from_be_bytes([10, 3, 1, 0]) + n).to_be_bytes()
}

/// The blog's lab plus net3 and the generator's port (the lab run adds the same with
/// `wyvern topology apply`).
fn topology() -> Topology {
    let mut text = include_str!("../examples/blog-lab.toml").replace(
        "interfaces = [\n",
        "interfaces = [\n  { network = \"net3\", ip = \"10.3.0.1\", mac = \"fa:16:3e:c6:00:01\" },\n",
    );
    text.push_str(
        "\n[[network]]\nname = \"net3\"\nsegmentation_id = 0x1f44\nsubnets = [{ cidr = \"10.3.0.0/16\", gateway = \"10.3.0.1\" }]\n",
    );
    let ips: Vec<String> = (0..PAIRS)
        .map(|n| format!("\"{}\"", std::net::Ipv4Addr::from(gen_ip(n))))
        .collect();
    text.push_str(&format!(
        "\n[[port]]\nname = \"gen\"\nnetwork = \"net3\"\nmac = \"fa:16:3e:aa:00:01\"\nips = [{}]\nchassis = \"node1\"\ninterface = \"gen-br\"\ntype = \"afxdp\"\nofport = {GEN_PORT}\n",
        ips.join(",")
    ));
    Topology::from_toml(&text, "bench").expect("topology parses")
}

struct Bench {
    pipeline: Arc<Pipeline>,
    worker: Worker,
    l3: L3Controller,
    /// The next generator address to use.
    next: u32,
}

impl Bench {
    fn new() -> Bench {
        let dvr::Chassis {
            pipeline,
            worker,
            l3,
        } = dvr::chassis(
            topology(),
            "node1",
            &[("vm1", VM1_PORT), ("vm2", 12), ("gen", GEN_PORT)],
            L3Mode::Reactive,
        );
        Bench {
            pipeline,
            worker,
            l3,
            next: 0,
        }
    }

    /// `n` frames from the next `n` generator addresses (wiping the learned flows first when
    /// the addresses run out).
    fn next_batch(&mut self, buf: &mut [u8], n: usize) {
        if self.next + n as u32 > PAIRS {
            self.pipeline
                .apply(&[FlowMod {
                    command: FlowModCommand::Delete,
                    spec: FlowSpec {
                        table: 52,
                        cookie: LEARNED_COOKIE_TAG,
                        ..FlowSpec::default()
                    },
                    cookie_mask: 0xff << 56,
                    out_port: PortNo::ANY,
                }])
                .expect("delete learned flows");
            self.next = 0;
        }
        for slot in buf.chunks_mut(SLOT).take(n) {
            let spec = build::Ipv4Spec {
                src_mac: GEN_MAC,
                dst_mac: R1_NET3,
                src_ip: gen_ip(self.next),
                dst_ip: VM1_IP,
                ttl: 64,
            };
            self.next += 1;
            let n = build::udp4(&mut slot[HEADROOM..], &spec, 1024, 9, 22).expect("frame fits");
            assert_eq!(n, FRAME_LEN);
        }
    }

    /// The timed path: the first `n` frames through the worker, their packet-ins through the
    /// controller, the re-injected frames out of the queue. Returns how many frames were
    /// re-injected and how many went to vm1 rewritten.
    fn run(&mut self, buf: &mut [u8], n: usize, out: &mut Verdicts) -> (usize, usize) {
        let mut slots = buf.chunks_mut(SLOT);
        let mut batch: [RxPacket<'_>; BATCH] = std::array::from_fn(|_| RxPacket {
            frame: Frame::new(slots.next().expect("32 slots"), HEADROOM, FRAME_LEN).expect("fits"),
            in_port: GEN_PORT,
            meta: PacketMeta::default(),
        });
        self.worker.process(&mut batch[..n], out);
        // As the control thread does: drain what is queued, hand it over as one batch.
        let pins: Vec<_> = std::iter::from_fn(|| self.pipeline.next_packet_in()).collect();
        self.l3.handle_batch(&self.pipeline, &pins);
        let (mut injected, mut to_vm1) = (0, 0);
        while let Some(i) = self.pipeline.take_injected() {
            injected += 1;
            if i.port == VM1_PORT && i.data[0..6] == VM1 && i.data[22] == 63 {
                to_vm1 += 1;
            }
        }
        (injected, to_vm1)
    }
}

fn learned(p: &Pipeline) -> usize {
    p.dump_flows(&FlowFilter {
        table: 52,
        cookie: LEARNED_COOKIE_TAG,
        cookie_mask: 0xff << 56,
        ..FlowFilter::default()
    })
    .len()
}

fn dvr_controller(c: &mut Criterion) {
    let mut b = Bench::new();
    let mut buf = vec![0u8; BATCH * SLOT];
    let mut out = Verdicts::default();
    b.next_batch(&mut buf, BATCH);
    assert_eq!(
        b.run(&mut buf, BATCH, &mut out),
        (BATCH, BATCH),
        "every pair routed"
    );
    assert_eq!(learned(&b.pipeline), 2 * BATCH, "two flows per pair");
    assert_eq!(b.l3.counters.routed, BATCH as u64);

    let mut g = c.benchmark_group("dvr_controller");
    for (name, n) in [("new_pairs", BATCH), ("one_pair", 1)] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    b.next_batch(&mut buf, n);
                    let t = Instant::now();
                    let (injected, _) = b.run(&mut buf, n, &mut out);
                    total += t.elapsed();
                    assert_eq!(injected, n);
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, dvr_controller);
criterion_main!(benches);

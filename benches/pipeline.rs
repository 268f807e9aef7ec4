//! What this measures: the whole per-packet path of a packet worker, `Worker::process` on
//! batches of 32 frames, on Dragonflow's reactive east-west (DVR) route.
//!
//! The frames are 64-byte UDP/IPv4 frames from vm2 (port 12, net2) to vm1 (net1) through the
//! distributed router: table 0 (`in_port=12`: write_metadata, goto 40) → table 40 (priority 1,
//! goto 52) → table 52 (the learned flow: dec_ttl, two MAC rewrites, output:11). Each of the 32
//! frames has its own UDP source port, so the batch is 32 distinct flows (32 cache entries),
//! not one flow replayed.
//!
//! - `pipeline/dvr_cached`: seed + learned flows, flow cache warm (every packet a cache hit):
//!   parse, hash, cache probe, counters, execute (dec_ttl + 2 rewrites + output).
//!   `pipeline/dvr_cached_one_flow`: the same with all 32 frames of one flow (one UDP source
//!   port), as in the forwarding benchmark (`benches/forward.sh`).
//! - `pipeline/dvr_miss`: the same frames with a 2-slot flow cache, which 32 distinct keys
//!   cycling through evict before any of them comes back: every packet walks the three tables
//!   (the setup asserts that every packet was a cache miss). 10,000 extra flows over 5 tables
//!   and 20 masks are installed, with priorities chosen so that 16 subtables are probed per
//!   packet (see `extra_flows`). `pipeline/dvr_miss_seed` is the same without the extra flows.
//! - `pipeline/translate`: only the table walk (`translate`) of one key, extra flows installed
//!   (what `dvr_miss` does per packet besides parse, cache insert and execute).
//! - `pipeline/extract`: only the parse of one of these frames into a flow key.
//! - `pipeline/frame_reset`: the cost of restoring a batch from its template (what the other
//!   benches do between iterations, outside the timed region); for reference.
//!
//! Throughput is reported per packet (`Throughput::Elements(32)` for batches), so criterion's
//! `thrpt` is packets/s and `time / 32` is ns per packet. The frames change in place (TTL,
//! checksum, MACs), so each batch is restored from a template before it runs; the restore is
//! outside the timed region (`iter_custom` times each batch on its own) and is measured on
//! its own by `frame_reset`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wyvern_pipeline::flow::{FlowMod, FlowModCommand};
use wyvern_pipeline::flowmod::{FlowEditor, FlowLimits};
use wyvern_pipeline::key::FlowKey;
use wyvern_pipeline::tables::new_tables;
use wyvern_pipeline::translate::translate;
use wyvern_pipeline::wire::{self, Frame, build};
use wyvern_pipeline::{
    PacketMeta, Pipeline, PipelineConfig, PipelinePort, RxPacket, Verdicts, Worker,
};

const VM1: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x17, 0xe6];
const VM2: [u8; 6] = [0xfa, 0x16, 0x3e, 0xcf, 0x4b, 0xed];
const R1_NET2: [u8; 6] = [0xfa, 0x16, 0x3e, 0xc5, 0x02, 0x4d];
const VM1_IP: [u8; 4] = [10, 1, 0, 5];
const VM2_IP: [u8; 4] = [10, 2, 0, 5];
const VM2_PORT: u32 = 12;
const VM1_PORT: u32 = 11;

const BATCH: usize = 32;
const FRAME_LEN: usize = 64;
const HEADROOM: usize = 64;
const SLOT: usize = 192;

fn parse(lines: impl IntoIterator<Item = String>) -> Vec<FlowMod> {
    lines
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            wyvern_pipeline::text::parse_flow(l.trim(), FlowModCommand::Add)
                .unwrap_or_else(|e| panic!("{l}: {e}"))
        })
        .collect()
}

/// The flows of the benchmark, in the batches they are applied in.
fn dvr_flows(extra: bool) -> Vec<Vec<FlowMod>> {
    let mut v = vec![
        parse(text_lines(include_str!("../examples/dragonflow.flows"))),
        parse(text_lines(include_str!(
            "../examples/dragonflow-learned.flows"
        ))),
    ];
    if extra {
        v.push(parse(extra_flows()));
    }
    v
}

fn text_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The 10,000 extra flows: 20 masks × 500 flows over tables 0, 40, 52 (on the packet's
/// path) and 53, 60 (off it). None matches the benchmark's frames (the setup checks the
/// verdicts). On the path, the masks' priorities sit above the rule the packet matches, so
/// priority pruning cannot skip them: 3 extra subtables probed in table 0, 4 (+ the 4 seed
/// masks) in table 40, 3 (+ the learned flows' own) in table 52: 16 probes per packet.
fn extra_flows() -> Vec<String> {
    let mut v = Vec::with_capacity(10_000);
    for i in 0..500u32 {
        let (a, b) = (i >> 8, i & 0xff);
        let mac = format!("fa:16:3f:00:{a:02x}:{b:02x}");
        let md = 0x2000 + i;
        let port = 100 + i;
        // Table 0: per-port classification (same mask as the seed's), port security,
        // source-address checks, tunnel demux. Matched rule: in_port=12 at 1000.
        v.push(format!(
            "table=0, priority=1000,in_port={port} actions=write_metadata:{md:#x}/0xffff,goto_table:40"
        ));
        v.push(format!(
            "table=0, priority=2000,in_port={port},dl_src={mac} actions=goto_table:40"
        ));
        v.push(format!(
            "table=0, priority=1500,ip,in_port={port},dl_src={mac},nw_src=10.9.{a}.{b} actions=goto_table:40"
        ));
        v.push(format!(
            "table=0, priority=1100,tun_id={:#x} actions=write_metadata:{md:#x}/0xffff,goto_table:40",
            i + 1
        ));
        // Table 40: floating IPs, L2 lookups, security groups, TCP services. Matched rule:
        // the priority-1 default, so every subtable is probed.
        v.push(format!(
            "table=40, priority=200,ip,metadata={md:#x},nw_dst=172.16.{a}.{b} actions=goto_table:52"
        ));
        v.push(format!(
            "table=40, priority=150,metadata={md:#x},dl_dst={mac} actions=output:{port}"
        ));
        v.push(format!(
            "table=40, priority=300,ip,metadata={md:#x},nw_src=10.{a}.{b}.0/24 actions=goto_table:52"
        ));
        v.push(format!(
            "table=40, priority=400,tcp,tp_dst={} actions=goto_table:52",
            10_000 + i
        ));
        // Table 52: learned flows of other VM pairs (the matched rule's own mask), host
        // routes, pair routes, UDP services. Matched rule: the learned flow at 100.
        v.push(format!(
            "table=52, priority=100,ip,metadata={md:#x},in_port={port},dl_src={mac},dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.{a}.{b},nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11"
        ));
        v.push(format!(
            "table=52, priority=110,ip,metadata={md:#x},nw_dst=10.7.{a}.{b} actions=output:{port}"
        ));
        v.push(format!(
            "table=52, priority=120,ip,metadata=0x1f43,nw_src=10.2.{}.{b},nw_dst=10.1.{a}.{b} actions=output:{port}",
            a + 1
        ));
        v.push(format!(
            "table=52, priority=130,udp,metadata={md:#x},tp_dst={} actions=output:{port}",
            20_000 + i
        ));
        // Tables 53 and 60, off the path.
        v.push(format!(
            "table=53, priority=100,metadata={md:#x},dl_dst={mac} actions=output:{port}"
        ));
        v.push(format!(
            "table=53, priority=90,ip,metadata={md:#x},nw_dst=10.8.{a}.{b} actions=output:{port}"
        ));
        v.push(format!(
            "table=53, priority=80,arp,metadata={md:#x},arp_tpa=10.8.{a}.{b} actions=output:{port}"
        ));
        v.push(format!(
            "table=53, priority=70,in_port={port},metadata={md:#x} actions=output:{port}"
        ));
        v.push(format!(
            "table=60, priority=100,tun_id={:#x} actions=output:6",
            i + 1
        ));
        v.push(format!(
            "table=60, priority=90,tun_id={:#x},dl_dst={mac} actions=output:6",
            i + 1
        ));
        v.push(format!(
            "table=60, priority=80,metadata={md:#x},reg6={:#x} actions=output:6",
            i + 1
        ));
        v.push(format!(
            "table=60, priority=70,ip,nw_dst=10.{a}.{b}.0/24 actions=output:6"
        ));
    }
    v
}

/// The Dragonflow seed flows, the two learned flows, and the ports, as in
/// `tests/dragonflow_pipeline.rs`; plus the extra flows if asked.
fn dvr_pipeline(cache_slots: usize, extra: bool) -> Arc<Pipeline> {
    let p = Pipeline::new(PipelineConfig {
        cache_slots,
        ..PipelineConfig::default()
    });
    for batch in dvr_flows(extra) {
        p.apply(&batch).expect("flows load");
    }
    let port = |no| PipelinePort {
        no,
        network: 0,
        no_flood: false,
        down: false,
    };
    p.set_ports([2, 6, 7, 8, 11, 12, 13].into_iter().map(port).collect());
    p
}

/// 32 frames (each at `HEADROOM` in its own `SLOT`-byte slot) of `flows` flows: UDP source
/// ports 1000.. in turn (32 flows: each frame its own).
fn template(flows: usize) -> Vec<u8> {
    let mut buf = vec![0u8; BATCH * SLOT];
    let spec = build::Ipv4Spec {
        src_mac: VM2,
        dst_mac: R1_NET2,
        src_ip: VM2_IP,
        dst_ip: VM1_IP,
        ttl: 64,
    };
    for (i, slot) in buf.chunks_mut(SLOT).enumerate() {
        let sport = 1000 + (i % flows) as u16;
        let n = build::udp4(&mut slot[HEADROOM..], &spec, sport, 5001, 22).expect("frame fits");
        assert_eq!(n, FRAME_LEN);
    }
    buf
}

/// Runs the 32 frames of `buf` through `worker`.
#[inline]
fn run(worker: &mut Worker, buf: &mut [u8], out: &mut Verdicts) {
    let mut slots = buf.chunks_mut(SLOT);
    let mut batch: [RxPacket<'_>; BATCH] = std::array::from_fn(|_| RxPacket {
        frame: Frame::new(slots.next().expect("32 slots"), HEADROOM, FRAME_LEN).expect("fits"),
        in_port: VM2_PORT,
        meta: PacketMeta::default(),
    });
    worker.process(&mut batch, out);
}

/// Checks that every frame of a batch was routed to vm1, rewritten.
fn check_routed(buf: &[u8], out: &Verdicts) {
    assert_eq!(out.emits.len(), BATCH, "every frame routed");
    assert!(out.emits.iter().all(|e| e.port == VM1_PORT));
    for slot in buf.chunks(SLOT) {
        let f = &slot[HEADROOM..HEADROOM + FRAME_LEN];
        assert_eq!(&f[0..6], &VM1, "eth_dst rewritten");
        assert_eq!(&f[6..12], &R1_NET2, "eth_src rewritten");
        assert_eq!(f[22], 63, "TTL decremented");
    }
}

fn bench_worker(c: &mut Criterion, name: &str, p: &Arc<Pipeline>, tmpl: &[u8], expect_hits: bool) {
    let mut worker = p.worker();
    let mut out = Verdicts::default();
    // Warm up (fills the cache when there is room) and check the route and the cache
    // behaviour before timing anything.
    for _ in 0..4 {
        let mut buf = tmpl.to_vec();
        run(&mut worker, &mut buf, &mut out);
        check_routed(&buf, &out);
    }
    worker.flush();
    let before = p.counters();
    let mut buf = tmpl.to_vec();
    run(&mut worker, &mut buf, &mut out);
    worker.flush();
    let after = p.counters();
    let (hits, misses) = (
        after.cache_hits - before.cache_hits,
        after.cache_misses - before.cache_misses,
    );
    if expect_hits {
        assert_eq!(
            (hits, misses),
            (BATCH as u64, 0),
            "{name}: cache must be warm"
        );
    } else {
        assert_eq!(
            (hits, misses),
            (0, BATCH as u64),
            "{name}: every packet must miss"
        );
    }

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            // Each batch is timed on its own: the restore from the template (which also
            // leaves the frames in L1, as a NIC ring's would be after a prefetch) is outside.
            // The two `Instant::now` calls add about 25 ns per batch (< 1 ns per packet).
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                buf.copy_from_slice(tmpl);
                let t = Instant::now();
                run(&mut worker, black_box(&mut buf), &mut out);
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let tmpl = template(BATCH);
    let cached = dvr_pipeline(wyvern_pipeline::cache::DEFAULT_CACHE_SLOTS, false);
    bench_worker(c, "dvr_cached", &cached, &tmpl, true);
    bench_worker(c, "dvr_cached_one_flow", &cached, &template(1), true);

    // Two slots (the minimum): 32 distinct keys cycling through them never hit.
    let miss = dvr_pipeline(2, true);
    bench_worker(c, "dvr_miss", &miss, &tmpl, false);
    let miss_seed = dvr_pipeline(2, false);
    bench_worker(c, "dvr_miss_seed", &miss_seed, &tmpl, false);

    let frame = &tmpl[HEADROOM..HEADROOM + FRAME_LEN];
    let mut key = FlowKey::default();
    wire::extract(frame, VM2_PORT, &mut key).expect("parses");
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(1));
    // The same tables as `dvr_miss`, built through a bare editor so that `translate` can be
    // timed on one snapshot (`Pipeline::trace` registers a new reader per call).
    let (writer, readers) = new_tables();
    let mut editor = FlowEditor::new(writer, FlowLimits::default());
    for batch in dvr_flows(true) {
        editor.apply(&batch, 0).expect("flows load");
    }
    let reader = readers.reader();
    let tables = reader.enter().expect("published");
    let t = translate(&tables, &key, 0, None);
    assert_eq!(t.visits.len(), 3, "tables 0, 40, 52");
    assert!(t.visits.iter().all(|v| v.rule.is_some()));
    g.bench_function("translate", |b| {
        b.iter(|| translate(&tables, black_box(&key), 0, None))
    });
    g.bench_function("extract", |b| {
        b.iter(|| {
            let mut k = FlowKey::default();
            let l = wire::extract(black_box(frame), VM2_PORT, &mut k);
            (k, l)
        })
    });
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut buf = tmpl.clone();
    g.bench_function("frame_reset", |b| {
        b.iter(|| {
            buf.copy_from_slice(black_box(&tmpl));
            black_box(&mut buf);
        })
    });
    g.finish();
    drop(tables);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);

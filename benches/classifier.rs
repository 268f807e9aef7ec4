//! What this measures: how fast flows go into a table of a million, the control path's side
//! of the classifier.
//!
//! The flows are Dragonflow's learned routing flows (`common/learned.rs`: table 52, priority
//! 100, `ip,metadata,in_port,dl_src,dl_dst,nw_src,nw_dst`, dec_ttl + two MAC rewrites + output,
//! 1,000 destinations sharing their action lists).
//!
//! - `classifier/insert_apply_fill_1m`: an empty pipeline filled to 1,000,000 flows through
//!   `Pipeline::apply` in batches of 1,000 adds (what the OpenFlow endpoint does with a bundle
//!   or a burst of flow mods): validation, interning, the batch's planning, both left-right
//!   copies of the table, publishing. Average over the whole fill, resizes included.
//! - `classifier/insert_apply_at_1m`: batches of 1,000 new adds into a pipeline that already
//!   holds 1,000,000 flows (10 batches per iteration, then removed again outside the timing).
//! - `classifier/delete_strict_at_1m`: batches of 1,000 `delete_strict` of flows a pipeline
//!   holding 1,000,000 has (10 batches per iteration, added back outside the timing): strict
//!   commands find their flow by a hash lookup, so this costs about what an add does.
//! - `classifier/insert_raw_fill_1m`: `Classifier::insert` of 1,000,000 prebuilt rules into an
//!   empty classifier: the tuple-space insert alone, one copy.
//!
//! Throughput is flows per second (`Throughput::Elements`). Memory per flow is measured by the
//! `flow_memory` bench binary (it needs a counting global allocator, which would slow these).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use wyvern_pipeline::classifier::Classifier;
use wyvern_pipeline::flow::{FlowMod, FlowModCommand, FlowSpec};
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::rule::{MatchShape, Rule};
use wyvern_pipeline::{Pipeline, PipelineConfig};

mod common {
    pub mod learned;
}
use common::learned::{
    VMS, learned_adds, learned_deletes, learned_instructions, learned_match, learned_spec,
};

const FLOWS: u32 = 1_000_000;
const BATCH: u32 = 1_000;

fn batches(range: std::ops::Range<u32>) -> Vec<Vec<FlowMod>> {
    let mut v = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let j = (i + BATCH).min(range.end);
        v.push(learned_adds(i..j));
        i = j;
    }
    v
}

fn filled(fill: &[Vec<FlowMod>]) -> Arc<Pipeline> {
    let p = Pipeline::new(PipelineConfig::default());
    for b in fill {
        p.apply(b).expect("adds apply");
    }
    p
}

/// A flow outside table 52, added and removed to move both left-right copies along.
fn dummy(command: FlowModCommand) -> FlowMod {
    FlowMod {
        command,
        ..FlowMod::add(FlowSpec {
            table: 200,
            ..FlowSpec::default()
        })
    }
}

fn insert(c: &mut Criterion) {
    let fill = batches(0..FLOWS);
    let mut g = c.benchmark_group("classifier");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(10));

    g.throughput(Throughput::Elements(u64::from(FLOWS)));
    g.bench_function("insert_apply_fill_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let p = Pipeline::new(PipelineConfig::default());
                let t = Instant::now();
                for batch in &fill {
                    p.apply(black_box(batch)).expect("adds apply");
                }
                total += t.elapsed();
                drop(p);
            }
            total
        })
    });

    // Steady state: 10 batches of new flows into the full table, then (untimed) removed
    // by cookie so the table is back at 1,000,000 for the next iteration.
    const PER_ITER: u32 = 10 * BATCH;
    // Marked with cookie bit 47 (the filled flows have it clear) to be removed by cookie.
    let extra: Vec<Vec<FlowMod>> = batches(FLOWS..FLOWS + PER_ITER)
        .into_iter()
        .map(|b| {
            b.into_iter()
                .map(|mut fm| {
                    fm.spec.cookie |= 1 << 47;
                    fm
                })
                .collect()
        })
        .collect();
    let remove_extra = FlowMod {
        command: FlowModCommand::Delete,
        cookie_mask: 1 << 47,
        ..FlowMod::add(FlowSpec {
            table: 52,
            cookie: 1 << 47,
            matching: Match::new(),
            ..FlowSpec::default()
        })
    };
    let p = filled(&fill);
    g.throughput(Throughput::Elements(u64::from(PER_ITER)));
    g.bench_function("insert_apply_at_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for batch in &extra {
                    p.apply(black_box(batch)).expect("adds apply");
                }
                // Publishing once more brings the second copy up to date inside the timing.
                p.apply(&[dummy(FlowModCommand::Add)]).expect("dummy");
                total += t.elapsed();
                p.apply(&[remove_extra.clone(), dummy(FlowModCommand::Delete)])
                    .expect("remove");
                p.apply(&[dummy(FlowModCommand::Add)]).expect("dummy");
                p.apply(&[dummy(FlowModCommand::Delete)]).expect("dummy");
            }
            total
        })
    });
    let sizes = p.table_stats();
    assert_eq!(
        sizes[52].active, FLOWS as usize,
        "back at 1M after each iteration"
    );

    // Strict deletes of flows spread over the table, added back untimed.
    let step = FLOWS / PER_ITER;
    let picked = |mods: fn(std::ops::Range<u32>) -> Vec<FlowMod>| -> Vec<Vec<FlowMod>> {
        let all: Vec<FlowMod> = (0..PER_ITER)
            .flat_map(|k| mods(k * step..k * step + 1))
            .collect();
        all.chunks(BATCH as usize)
            .map(<[FlowMod]>::to_vec)
            .collect()
    };
    let (deletes, readds) = (picked(learned_deletes), picked(learned_adds));
    g.bench_function("delete_strict_at_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for batch in &deletes {
                    p.apply(black_box(batch)).expect("deletes apply");
                }
                p.apply(&[dummy(FlowModCommand::Add)]).expect("dummy");
                total += t.elapsed();
                assert_eq!(p.table_stats()[52].active, (FLOWS - PER_ITER) as usize);
                for batch in &readds {
                    p.apply(batch).expect("adds apply");
                }
                p.apply(&[dummy(FlowModCommand::Delete)]).expect("dummy");
            }
            total
        })
    });
    drop(p);
    drop(fill);

    // Raw classifier inserts of prebuilt rules.
    let shape = Arc::new(MatchShape::of(&learned_match(0)));
    let insts: Vec<_> = (0..VMS)
        .map(|d| Arc::new(learned_instructions(d)))
        .collect();
    let rules: Vec<Arc<Rule>> = (0..FLOWS)
        .map(|i| {
            Arc::new(Rule::new(
                &learned_spec(i),
                shape.clone(),
                insts[(i % VMS) as usize].clone(),
                0,
            ))
        })
        .collect();
    g.throughput(Throughput::Elements(u64::from(FLOWS)));
    g.bench_function("insert_raw_fill_1m", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut c = Classifier::new();
                let t = Instant::now();
                for r in &rules {
                    c.insert(r.clone());
                }
                total += t.elapsed();
                assert_eq!(c.len(), FLOWS as usize);
                drop(c);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, insert);
criterion_main!(benches);

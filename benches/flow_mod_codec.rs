//! What this measures: the client's and the endpoint's work per flow mod, each step alone, on
//! the learned flows of `common/learned.rs` (the flows `benches/ingest.sh` loads end to end):
//!
//! - `flow_mod/parse_text`: `text::parse_flow` of a flow line as `add-flows` reads it
//!   (`wyvern add-flows`' parsing, `ovs-ofctl`'s syntax);
//! - `flow_mod/encode`: a FLOW_MOD message from the parsed flow mod (`codec::encode`);
//! - `flow_mod/decode`: the FLOW_MOD bytes back to a flow mod, checks included
//!   (`codec::decode`, what the endpoint does with every message it reads).
//!
//! Each iteration handles 1,000 different flows; throughput is flow mods per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wyvern_ofproto::codec;
use wyvern_ofproto::msg::{FlowModMsg, Message};
use wyvern_pipeline::flow::{FlowModCommand, FlowStats};
use wyvern_pipeline::text::{FlowStyle, format_flow, parse_flow};

mod common {
    pub mod learned;
}
use common::learned::learned_adds;

const FLOWS: u32 = 1_000;

fn flow_mod(c: &mut Criterion) {
    let mods = learned_adds(0..FLOWS);
    // The flows as `dump-flows --no-stats` prints them, which is also add-flows' input.
    let text: Vec<String> = mods
        .iter()
        .map(|fm| {
            let stats = FlowStats {
                spec: fm.spec.clone(),
                duration: Duration::ZERO,
                packets: 0,
                bytes: 0,
            };
            format_flow(&stats, FlowStyle::NoStats)
        })
        .collect();
    for (line, fm) in text.iter().zip(&mods) {
        assert_eq!(&parse_flow(line, FlowModCommand::Add).expect("parses"), fm);
    }
    let msgs: Vec<Message> = mods
        .iter()
        .map(|fm| Message::FlowMod(FlowModMsg::new(fm.clone())))
        .collect();
    let wire: Vec<Vec<u8>> = msgs.iter().map(|m| codec::encode(m, 7)).collect();
    for (bytes, m) in wire.iter().zip(&msgs) {
        assert_eq!(&codec::decode(bytes).expect("decodes").1, m);
    }

    let mut g = c.benchmark_group("flow_mod");
    g.throughput(Throughput::Elements(u64::from(FLOWS)));
    g.bench_function("parse_text", |b| {
        b.iter(|| {
            for line in &text {
                black_box(parse_flow(black_box(line), FlowModCommand::Add).expect("parses"));
            }
        })
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(codec::encode(black_box(m), 7));
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for bytes in &wire {
                black_box(codec::decode(black_box(bytes)).expect("decodes"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, flow_mod);
criterion_main!(benches);

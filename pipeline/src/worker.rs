//! A packet worker's view of the pipeline: processes batches of frames.
//!
//! Each datapath thread owns one [`Worker`]. [`Worker::process`] takes a batch of received
//! frames and fills [`Verdicts`]: for each frame, parse once into a flow key, look the key up
//! in the worker's flow cache, translate through the tables on a miss, then execute. The
//! tables are entered once per batch (no lock), nothing is allocated per packet on a cache hit,
//! and counters stay in the worker until [`Worker::flush`] (called at least every
//! [`FLUSH_INTERVAL_MS`] while busy, and by the datapath when idle).

use std::sync::Arc;

use crate::cache::FlowCache;
use crate::execute::{ExecEnv, PacketMeta, Verdicts, execute};
use crate::key::FlowKey;
use crate::pipeline::Pipeline;
use crate::stats::{DropReason, WorkerCounters};
use crate::tables::TablesReader;
use crate::translate::translate;
use crate::wire::{self, Frame, Layout};

/// How often a busy worker credits its counters to rules and tables.
pub const FLUSH_INTERVAL_MS: u64 = 100;

/// One received frame.
#[derive(Debug)]
pub struct RxPacket<'a> {
    pub frame: Frame<'a>,
    pub in_port: u32,
    /// Tunnel fields set by the receiving tunnel port (zero otherwise).
    pub meta: PacketMeta,
}

/// A packet worker's handle on the pipeline.
#[derive(Debug)]
pub struct Worker {
    pipeline: Arc<Pipeline>,
    reader: TablesReader,
    cache: FlowCache,
    counters: WorkerCounters,
    last_flush_ms: u64,
}

impl Worker {
    pub(crate) fn new(pipeline: Arc<Pipeline>, reader: TablesReader, cache_slots: usize) -> Self {
        Worker {
            pipeline,
            reader,
            cache: FlowCache::new(cache_slots),
            counters: WorkerCounters::default(),
            last_flush_ms: 0,
        }
    }

    /// Runs a batch of frames through the pipeline. `out` is cleared first.
    pub fn process(&mut self, batch: &mut [RxPacket<'_>], out: &mut Verdicts) {
        out.clear();
        let p = &*self.pipeline;
        let now_ms = p.now_ms();
        let Some(tables) = self.reader.enter() else {
            return;
        };
        self.cache
            .set_generation(tables.generation(), p.table_counters(), now_ms);
        let mut env = ExecEnv {
            macs: p.macs(),
            ports: tables.ports(),
            packet_ins: p.packet_in_queue(),
            counters: &mut self.counters,
            now_ms,
        };
        let packet_ins_before = env.counters.packet_ins;
        let mut layout = Layout::default();
        for (index, pkt) in batch.iter_mut().enumerate() {
            env.counters.packets += 1;
            let mut key = FlowKey::default();
            pkt.meta.write_to(&mut key);
            match wire::extract_into(pkt.frame.bytes(), pkt.in_port, &mut key, &mut layout) {
                Ok(()) => {}
                Err(reason) if reason.is_drop() => {
                    env.counters.drop(DropReason::Runt);
                    continue;
                }
                Err(_) => env.counters.parse_truncated += 1,
            }
            let hash = key.hash64();
            let slot = match self.cache.find(&key, hash) {
                Some(slot) => {
                    env.counters.cache_hits += 1;
                    slot
                }
                None => {
                    env.counters.cache_misses += 1;
                    let t = Arc::new(translate(&tables, &key, 0, None));
                    self.cache.insert(key, hash, t, p.table_counters(), now_ms)
                }
            };
            self.cache.credit(slot, pkt.frame.len());
            if let Some(t) = self.cache.entry(slot) {
                execute(
                    t,
                    index as u16,
                    &mut pkt.frame,
                    &layout,
                    pkt.meta,
                    out,
                    &mut env,
                );
            }
        }
        let queued_packet_ins = self.counters.packet_ins != packet_ins_before;
        drop(tables);
        if queued_packet_ins {
            p.wake_packet_in();
        }
        if now_ms.saturating_sub(self.last_flush_ms) >= FLUSH_INTERVAL_MS {
            self.flush();
        }
    }

    /// Credits cached counters to rules and tables and adds this worker's counters to the
    /// pipeline's totals. Call it when idle so statistics and idle timeouts stay current.
    pub fn flush(&mut self) {
        let p = &*self.pipeline;
        let now_ms = p.now_ms();
        self.cache.flush(p.table_counters(), now_ms);
        p.counters_sink().absorb(&mut self.counters);
        self.last_flush_ms = now_ms;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.flush();
    }
}


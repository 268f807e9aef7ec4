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
        let mut previous: Option<usize> = None;
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
            // Packets of one flow come in runs: the previous packet's slot is tried first,
            // which spares hashing the key and probing for it.
            let slot = match previous.filter(|&s| self.cache.holds(s, &key)) {
                Some(slot) => {
                    env.counters.cache_hits += 1;
                    slot
                }
                None => {
                    let hash = key.hash64();
                    match self.cache.find(&key, hash) {
                        Some(slot) => {
                            env.counters.cache_hits += 1;
                            slot
                        }
                        None => {
                            env.counters.cache_misses += 1;
                            let t = Arc::new(translate(&tables, &key, 0, None));
                            self.cache.insert(key, hash, t, p.table_counters(), now_ms)
                        }
                    }
                }
            };
            previous = Some(slot);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowModCommand;
    use crate::flowmod::FlowFilter;
    use crate::pipeline::PipelineConfig;
    use crate::tables::PipelinePort;
    use crate::text::parse_flow;
    use crate::wire::build;

    /// A UDP frame to `dst_ip`, in a buffer with 64 bytes of headroom.
    fn udp_to(dst_ip: [u8; 4]) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 64];
        let spec = build::Ipv4Spec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: [10, 0, 0, 9],
            dst_ip,
            ttl: 64,
        };
        let n = build::udp4(&mut b[64..], &spec, 1000, 2000, 18).unwrap();
        b.truncate(64 + n);
        b
    }

    /// Runs of one flow take the previous packet's cache slot without hashing; a packet of
    /// another flow, or the same bytes on another port, must not: each packet still gets its
    /// own flow's actions and counts for its own flow.
    #[test]
    fn runs_of_one_flow_and_alternating_flows_each_get_their_own_entry() {
        let p = Pipeline::new(PipelineConfig::default());
        let flows = [
            "priority=10,ip,in_port=1,nw_dst=10.0.0.1 actions=output:2",
            "priority=10,ip,in_port=1,nw_dst=10.0.0.2 actions=output:3",
            "priority=10,in_port=5 actions=output:4",
        ];
        let mods: Vec<_> = flows
            .iter()
            .map(|f| parse_flow(f, FlowModCommand::Add).unwrap())
            .collect();
        p.apply(&mods).unwrap();
        let port = |no| PipelinePort {
            no,
            network: 0,
            no_flood: false,
            down: false,
        };
        p.set_ports([1, 2, 3, 4, 5].into_iter().map(port).collect());
        let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        // (destination, in_port, the port it must leave by)
        let packets = [
            (a, 1, 2),
            (a, 1, 2),
            (b, 1, 3),
            (a, 1, 2),
            (b, 1, 3),
            (b, 1, 3),
            (a, 5, 4),
            (a, 1, 2),
        ];
        let mut w = p.worker();
        let mut out = Verdicts::default();
        // Twice: cache misses first, then every packet a hit.
        for round in 0..2 {
            let mut bufs: Vec<Vec<u8>> = packets.iter().map(|&(ip, _, _)| udp_to(ip)).collect();
            let mut batch: Vec<RxPacket<'_>> = bufs
                .iter_mut()
                .zip(packets)
                .map(|(buf, (_, in_port, _))| {
                    let len = buf.len() - 64;
                    RxPacket {
                        frame: Frame::new(buf, 64, len).unwrap(),
                        in_port,
                        meta: crate::execute::PacketMeta::default(),
                    }
                })
                .collect();
            w.process(&mut batch, &mut out);
            let ports: Vec<u32> = out.emits.iter().map(|e| e.port).collect();
            let want: Vec<u32> = packets.iter().map(|&(_, _, out)| out).collect();
            assert_eq!(ports, want, "round {round}");
        }
        w.flush();
        let dump = p.dump_flows(&FlowFilter::default());
        let counts: Vec<u64> = mods
            .iter()
            .map(|m| {
                let flow = dump.iter().find(|s| s.spec.matching == m.spec.matching);
                flow.expect("the flow is installed").packets
            })
            .collect();
        assert_eq!(counts, [8, 6, 2], "n_packets per flow over both rounds");
        let c = p.counters();
        assert_eq!((c.cache_misses, c.cache_hits), (3, 13));
    }
}

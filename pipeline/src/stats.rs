//! Counters that make the fast path observable, in disjoint documented categories.
//!
//! Every packet a worker receives ends up in exactly one of: delivered (at least one output,
//! NORMAL or controller), or dropped with one [`DropReason`]. Separately, every packet is
//! either a flow-cache hit or a miss. Workers count into plain local counters
//! ([`WorkerCounters`]) and add them to the shared [`PipelineCounters`] when they flush their
//! flow cache, so the fast path never writes a shared cache line per packet.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a packet went nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than an Ethernet header.
    Runt,
    /// No flow matched and the table has no table-miss flow (OpenFlow 1.3: drop).
    TableMiss,
    /// The flow's actions output nowhere (`actions=drop`, or every output skipped).
    NoAction,
    /// `dec_ttl` found TTL ≤ 1 (the packet went to the controller as `invalid_ttl`, if any
    /// controller takes it; either way it is not forwarded).
    InvalidTtl,
    /// `resubmit` nested deeper than the bound.
    ResubmitDepth,
    /// More table lookups than the bound (a resubmit loop).
    TooManyLookups,
    /// NORMAL: the destination is behind the port the packet came in on.
    NormalHairpin,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 7] = [
        DropReason::Runt,
        DropReason::TableMiss,
        DropReason::NoAction,
        DropReason::InvalidTtl,
        DropReason::ResubmitDepth,
        DropReason::TooManyLookups,
        DropReason::NormalHairpin,
    ];

    /// The counter's name.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Runt => "runt",
            DropReason::TableMiss => "table_miss",
            DropReason::NoAction => "no_action",
            DropReason::InvalidTtl => "invalid_ttl",
            DropReason::ResubmitDepth => "resubmit_depth",
            DropReason::TooManyLookups => "too_many_lookups",
            DropReason::NormalHairpin => "normal_hairpin",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A worker's own counters (no atomics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounters {
    /// Packets received from the datapath.
    pub packets: u64,
    /// Packets whose key was found in the flow cache.
    pub cache_hits: u64,
    /// Packets that needed a full table walk.
    pub cache_misses: u64,
    /// Drops by [`DropReason`] (index = `reason as usize`).
    pub drops: [u64; DropReason::ALL.len()],
    /// Packets handed to the controller queue.
    pub packet_ins: u64,
    /// Packets meant for the controller that found its queue full.
    pub packet_ins_dropped: u64,
    /// Frames whose headers stopped parsing early (still processed on their valid layers).
    pub parse_truncated: u64,
}

impl WorkerCounters {
    /// Counts a drop.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
}

/// Totals over every worker.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    packets: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    drops: [AtomicU64; DropReason::ALL.len()],
    packet_ins: AtomicU64,
    packet_ins_dropped: AtomicU64,
    parse_truncated: AtomicU64,
}

impl PipelineCounters {
    /// Adds a worker's counters and zeroes them.
    pub fn absorb(&self, w: &mut WorkerCounters) {
        let add = |a: &AtomicU64, v: &mut u64| {
            if *v != 0 {
                a.fetch_add(std::mem::take(v), Ordering::Relaxed);
            }
        };
        add(&self.packets, &mut w.packets);
        add(&self.cache_hits, &mut w.cache_hits);
        add(&self.cache_misses, &mut w.cache_misses);
        for (a, v) in self.drops.iter().zip(w.drops.iter_mut()) {
            add(a, v);
        }
        add(&self.packet_ins, &mut w.packet_ins);
        add(&self.packet_ins_dropped, &mut w.packet_ins_dropped);
        add(&self.parse_truncated, &mut w.parse_truncated);
    }

    /// A copy of the totals.
    pub fn snapshot(&self) -> WorkerCounters {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WorkerCounters {
            packets: get(&self.packets),
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            drops: std::array::from_fn(|n| get(&self.drops[n])),
            packet_ins: get(&self.packet_ins),
            packet_ins_dropped: get(&self.packet_ins_dropped),
            parse_truncated: get(&self.parse_truncated),
        }
    }
}

/// Lookup and match counts of one table (OpenFlow table stats).
#[derive(Debug, Default)]
pub struct TableCounters {
    pub lookups: AtomicU64,
    pub matched: AtomicU64,
}

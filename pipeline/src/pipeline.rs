//! [`Pipeline`]: the engine as a whole, and the narrow control API everything else uses.
//!
//! The datapath gets a [`Worker`] per thread ([`Pipeline::worker`]) and drains frames that
//! controllers inject ([`Pipeline::take_injected`]). The OpenFlow endpoint and the built-in
//! controller use only these calls:
//!
//! | call | what it does |
//! |---|---|
//! | [`apply`](Pipeline::apply), [`apply_from`](Pipeline::apply_from) | a batch of flow mods, atomically (all or none) |
//! | [`packet_out`](Pipeline::packet_out) | runs a frame through actions (or the tables) and queues the result for the datapath |
//! | [`resubmit`](Pipeline::resubmit), [`resubmit_all`](Pipeline::resubmit_all) | runs frames through the tables from a table (the built-in controller's re-injection), queued likewise |
//! | [`next_packet_in`](Pipeline::next_packet_in) | the next packet for the controller, from a bounded queue |
//! | [`expire`](Pipeline::expire) | removes timed-out flows and old MAC entries; returns flow-removed events |
//! | [`dump_flows`](Pipeline::dump_flows), [`aggregate`](Pipeline::aggregate), [`table_stats`](Pipeline::table_stats), [`counters`](Pipeline::counters) | statistics |
//! | [`set_ports`](Pipeline::set_ports) | the ports FLOOD, ALL and NORMAL may use |
//! | [`trace`](Pipeline::trace) | what the tables do with a flow key, step by step |
//!
//! The flow editor sits behind a mutex that only these calls take; packet workers never do.
//!
//! Both queues have a waker ([`Pipeline::set_packet_in_waker`], [`Pipeline::set_inject_waker`]):
//! a callback run once per batch that queued a packet-in, and once per injection, so that the
//! control thread and the datapath react at once instead of at their next poll.

use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwapOption;
use std::time::{Duration, Instant};

use crossbeam::queue::ArrayQueue;

use crate::action::{Action, N_TABLES};
use crate::cache::DEFAULT_CACHE_SLOTS;
use crate::execute::{ExecEnv, PacketIn, PacketMeta, Verdicts, execute};
use crate::flow::{FlowMod, FlowStats};
use crate::flowmod::{
    BatchError, FlowEditor, FlowFilter, FlowLimits, FlowRemoved, PendingBatch, SourcedBatchError,
};
use crate::key::FlowKey;
use crate::normal::{DEFAULT_MAC_AGING, MacTable};
use crate::stats::{PipelineCounters, TableCounters, WorkerCounters};
use crate::tables::{PipelinePort, ReaderFactory, new_tables};
use crate::translate::{TraceEvent, Translation, translate, translate_actions};
use crate::wire::{self, Frame};
use crate::worker::Worker;

/// Sizes and limits of a pipeline.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Flow-cache slots per worker.
    pub cache_slots: usize,
    /// Packet-ins waiting for the controller before new ones are dropped (and counted).
    pub packet_in_queue: usize,
    /// Injected (packet-out) frames waiting for the datapath.
    pub injected_queue: usize,
    pub mac_aging: Duration,
    pub limits: FlowLimits,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            cache_slots: DEFAULT_CACHE_SLOTS,
            packet_in_queue: 4096,
            injected_queue: 4096,
            mac_aging: DEFAULT_MAC_AGING,
            limits: FlowLimits::default(),
        }
    }
}

/// A frame a controller asked to send, ready for the datapath.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    pub port: u32,
    pub meta: PacketMeta,
    pub data: Vec<u8>,
}

/// Why a packet-out was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketOutError {
    /// The frame is shorter than an Ethernet header.
    #[error("packet-out frame of {0} bytes is shorter than an Ethernet header")]
    Runt(usize),
    /// The datapath's injection queue is full.
    #[error("injection queue full: the datapath is not draining packet-outs")]
    QueueFull,
}

/// One table's statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableStats {
    pub table: u8,
    pub active: usize,
    pub lookups: u64,
    pub matched: u64,
}

/// Totals of a flow selection (OpenFlow aggregate stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregateStats {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u32,
}

/// The whole engine.
pub struct Pipeline {
    editor: Mutex<FlowEditor>,
    readers: ReaderFactory,
    macs: MacTable,
    counters: PipelineCounters,
    tables: Box<[TableCounters]>,
    packet_ins: ArrayQueue<PacketIn>,
    injected: ArrayQueue<Injected>,
    packet_in_waker: ArcSwapOption<Waker>,
    inject_waker: ArcSwapOption<Waker>,
    epoch: Instant,
    cache_slots: usize,
}

/// A callback that wakes whoever drains a queue. It must not block.
pub type Waker = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("cache_slots", &self.cache_slots)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// An empty pipeline (every table empty: every packet is a table miss).
    pub fn new(config: PipelineConfig) -> Arc<Self> {
        let (writer, readers) = new_tables();
        Arc::new(Pipeline {
            editor: Mutex::new(FlowEditor::new(writer, config.limits)),
            readers,
            macs: MacTable::new(config.mac_aging),
            counters: PipelineCounters::default(),
            tables: (0..N_TABLES).map(|_| TableCounters::default()).collect(),
            packet_ins: ArrayQueue::new(config.packet_in_queue.max(1)),
            injected: ArrayQueue::new(config.injected_queue.max(1)),
            packet_in_waker: ArcSwapOption::empty(),
            inject_waker: ArcSwapOption::empty(),
            epoch: Instant::now(),
            cache_slots: config.cache_slots,
        })
    }

    /// Milliseconds since the pipeline started (the clock of timeouts and durations).
    #[inline]
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A handle for one packet worker thread.
    pub fn worker(self: &Arc<Self>) -> Worker {
        Worker::new(self.clone(), self.readers.reader(), self.cache_slots)
    }

    fn editor(&self) -> MutexGuard<'_, FlowEditor> {
        // A panic while holding the editor cannot leave the published tables inconsistent
        // (changes are published whole), so a poisoned lock is still usable.
        self.editor.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a batch of flow mods atomically; returns the flows removed that asked to be
    /// reported.
    pub fn apply(&self, mods: &[FlowMod]) -> Result<Vec<FlowRemoved>, BatchError> {
        self.editor().apply(mods, self.now_ms())
    }

    /// Like [`Pipeline::apply`], with the mods made one at a time by a source that can fail
    /// (decoding a bundle as it is applied); see [`FlowEditor::apply_from`].
    pub fn apply_from<M, E>(
        &self,
        mods: impl IntoIterator<Item = Result<M, E>>,
    ) -> Result<Vec<FlowRemoved>, SourcedBatchError<E>>
    where
        M: std::borrow::Borrow<FlowMod>,
    {
        self.editor().apply_from(mods, self.now_ms())
    }

    /// A batch to plan a part at a time (an ONF bundle, as its messages arrive) and apply
    /// whole later; see [`FlowEditor::begin`].
    pub fn begin_batch<E>(&self) -> PendingBatch<E> {
        self.editor().begin()
    }

    /// Plans the next mods of `batch`; see [`FlowEditor::plan`].
    pub fn plan<M, E>(
        &self,
        batch: &mut PendingBatch<E>,
        mods: impl IntoIterator<Item = Result<M, E>>,
    ) where
        M: std::borrow::Borrow<FlowMod>,
    {
        self.editor().plan(batch, mods)
    }

    /// Applies a planned batch atomically, planning it again from `replan` if the tables
    /// changed since it began; see [`FlowEditor::commit`].
    pub fn commit<M, E, I>(
        &self,
        batch: PendingBatch<E>,
        replan: impl FnOnce() -> I,
    ) -> Result<Vec<FlowRemoved>, SourcedBatchError<E>>
    where
        M: std::borrow::Borrow<FlowMod>,
        I: IntoIterator<Item = Result<M, E>>,
    {
        self.editor().commit(batch, self.now_ms(), replan)
    }

    /// Removes flows past their idle or hard timeout and ages the MAC table. Call about once
    /// a second.
    pub fn expire(&self) -> Vec<FlowRemoved> {
        let now = self.now_ms();
        self.macs.age(now);
        self.editor().expire(now)
    }

    /// Flows selected by `filter`, by table ascending and priority descending.
    pub fn dump_flows(&self, filter: &FlowFilter) -> Vec<FlowStats> {
        self.editor().dump(filter, self.now_ms())
    }

    /// Totals over the flows `filter` selects.
    pub fn aggregate(&self, filter: &FlowFilter) -> AggregateStats {
        self.editor().aggregate(filter)
    }

    /// Statistics of every table.
    pub fn table_stats(&self) -> Vec<TableStats> {
        use std::sync::atomic::Ordering;
        let sizes = self.editor().table_sizes();
        self.tables
            .iter()
            .enumerate()
            .map(|(n, c)| TableStats {
                table: n as u8,
                active: sizes.get(n).copied().unwrap_or(0),
                lookups: c.lookups.load(Ordering::Relaxed),
                matched: c.matched.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The pipeline's packet counters (as of the workers' last flush).
    pub fn counters(&self) -> WorkerCounters {
        self.counters.snapshot()
    }

    /// Replaces the ports FLOOD, ALL and NORMAL may send to. MAC entries on ports that are
    /// gone are forgotten.
    pub fn set_ports(&self, ports: Vec<PipelinePort>) {
        let mut editor = self.editor();
        let before: Vec<u32> = self
            .readers
            .reader()
            .enter()
            .map(|t| t.ports().iter().map(|p| p.no).collect())
            .unwrap_or_default();
        for gone in before.iter().filter(|n| !ports.iter().any(|p| p.no == **n)) {
            self.macs.flush_port(*gone);
        }
        editor.set_ports(ports);
    }

    /// Runs `waker` whenever a batch queued packet-ins (replacing any earlier one).
    pub fn set_packet_in_waker(&self, waker: Waker) {
        self.packet_in_waker.store(Some(Arc::new(waker)));
    }

    /// Runs `waker` whenever frames were injected for the datapath (replacing any earlier one).
    pub fn set_inject_waker(&self, waker: Waker) {
        self.inject_waker.store(Some(Arc::new(waker)));
    }

    pub(crate) fn wake_packet_in(&self) {
        if let Some(w) = &*self.packet_in_waker.load() {
            w();
        }
    }

    /// The next packet for the controller.
    pub fn next_packet_in(&self) -> Option<PacketIn> {
        self.packet_ins.pop()
    }

    /// The next frame a controller injected, for the datapath to send.
    pub fn take_injected(&self) -> Option<Injected> {
        self.injected.pop()
    }

    /// Runs `data`, as if received on `in_port`, through `actions` (`output:TABLE` sends it
    /// through the tables from table 0) and queues what comes out for the datapath. Returns
    /// how many frames were queued.
    pub fn packet_out(
        &self,
        in_port: u32,
        meta: PacketMeta,
        actions: &[Action],
        data: &[u8],
    ) -> Result<usize, PacketOutError> {
        self.inject([(in_port, meta, data)], |tables, key| {
            translate_actions(tables, key, actions, None)
        })
    }

    /// Runs `data` through the tables from `table`, as if received on `in_port` (how the
    /// built-in controller re-injects a packet after installing its flow).
    pub fn resubmit(
        &self,
        in_port: u32,
        meta: PacketMeta,
        table: u8,
        data: &[u8],
    ) -> Result<usize, PacketOutError> {
        self.resubmit_all(table, [(in_port, meta, data)])
    }

    /// [`Pipeline::resubmit`] of many frames, each `(in_port, meta, data)`, on one snapshot of
    /// the tables and with one wake-up of the datapath for all (how the built-in controller
    /// re-injects the first packets of a batch of new host pairs). Stops at the first frame
    /// that fails and returns its error; the frames before it stay queued.
    pub fn resubmit_all<'a>(
        &self,
        table: u8,
        frames: impl IntoIterator<Item = (u32, PacketMeta, &'a [u8])>,
    ) -> Result<usize, PacketOutError> {
        self.inject(frames, |tables, key| translate(tables, key, table, None))
    }

    /// Runs every frame through `run`'s translation, executes it and queues the outputs for
    /// the datapath; wakes the datapath once at the end (and the controller, if a frame went
    /// to it).
    fn inject<'a>(
        &self,
        frames: impl IntoIterator<Item = (u32, PacketMeta, &'a [u8])>,
        run: impl Fn(&crate::tables::Tables, &FlowKey) -> Translation,
    ) -> Result<usize, PacketOutError> {
        let reader = self.readers.reader();
        let Some(tables) = reader.enter() else {
            return Ok(0);
        };
        let mut counters = WorkerCounters::default();
        let mut injector = Injector {
            pipeline: self,
            tables: &tables,
            counters: &mut counters,
            buf: Vec::new(),
            out: Verdicts::default(),
            now_ms: self.now_ms(),
            queued: 0,
        };
        let result = frames
            .into_iter()
            .try_for_each(|(in_port, meta, data)| injector.inject(in_port, meta, data, &run));
        let queued = injector.queued;
        drop(injector);
        drop(tables);
        if counters.packet_ins > 0 {
            self.wake_packet_in();
        }
        self.counters.absorb(&mut counters);
        if queued > 0
            && let Some(w) = &*self.inject_waker.load()
        {
            w();
        }
        result.map(|()| queued)
    }

    /// What the tables do with `key` from `table`, step by step, without touching counters.
    pub fn trace(&self, key: &FlowKey, table: u8) -> (Translation, Vec<TraceEvent>) {
        let reader = self.readers.reader();
        let mut events = Vec::new();
        let t = match reader.enter() {
            Some(tables) => translate(&tables, key, table, Some(&mut events)),
            None => Translation::default(),
        };
        (t, events)
    }

    pub(crate) fn macs(&self) -> &MacTable {
        &self.macs
    }

    pub(crate) fn packet_in_queue(&self) -> &ArrayQueue<PacketIn> {
        &self.packet_ins
    }

    pub(crate) fn table_counters(&self) -> &[TableCounters] {
        &self.tables
    }

    pub(crate) fn counters_sink(&self) -> &PipelineCounters {
        &self.counters
    }
}

/// Runs injected frames through one snapshot of the tables (see [`Pipeline::resubmit_all`]).
struct Injector<'a> {
    pipeline: &'a Pipeline,
    tables: &'a crate::tables::Tables,
    counters: &'a mut WorkerCounters,
    /// The frame being run, with headroom for pushed headers (reused).
    buf: Vec<u8>,
    out: Verdicts,
    now_ms: u64,
    /// Frames queued for the datapath so far.
    queued: usize,
}

impl Injector<'_> {
    /// Runs `data`, as received on `in_port`, through `run`'s translation and queues what
    /// comes out.
    fn inject(
        &mut self,
        in_port: u32,
        meta: PacketMeta,
        data: &[u8],
        run: impl Fn(&crate::tables::Tables, &FlowKey) -> Translation,
    ) -> Result<(), PacketOutError> {
        const HEADROOM: usize = 64;
        self.buf.clear();
        self.buf.resize(HEADROOM, 0);
        self.buf.extend_from_slice(data);
        let mut frame = Frame::new(&mut self.buf, HEADROOM, data.len())
            .ok_or(PacketOutError::Runt(data.len()))?;
        let mut key = FlowKey::default();
        meta.write_to(&mut key);
        let layout = match wire::extract(frame.bytes(), in_port, &mut key) {
            Ok(l) => l,
            Err(stop) if stop.reason.is_drop() => return Err(PacketOutError::Runt(data.len())),
            Err(stop) => stop.layout,
        };
        let t = run(self.tables, &key);
        let p = self.pipeline;
        let mut env = ExecEnv {
            macs: &p.macs,
            ports: self.tables.ports(),
            packet_ins: &p.packet_ins,
            counters: self.counters,
            now_ms: self.now_ms,
        };
        self.out.clear();
        execute(&t, 0, &mut frame, &layout, meta, &mut self.out, &mut env);
        let final_bytes = frame.bytes();
        for e in &self.out.emits {
            let data = self
                .out
                .copy_bytes(e.data)
                .map_or_else(|| final_bytes.to_vec(), <[u8]>::to_vec);
            let injected = Injected {
                port: e.port,
                meta: e.meta,
                data,
            };
            if p.injected.push(injected).is_err() {
                return Err(PacketOutError::QueueFull);
            }
            self.queued += 1;
        }
        Ok(())
    }
}

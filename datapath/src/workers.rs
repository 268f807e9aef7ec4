//! Packet workers: the threads that move frames between ports and the pipeline.
//!
//! ## The loop
//! Each worker owns some ports (see [`crate::bridge`]) and loops:
//! 1. wait in epoll (mio) until a port is readable or the worker is woken (its
//!    [`mio::Waker`]: a command, a frame from another worker, an injected frame), at most
//!    [`IDLE_TICK`]; or, busy-polling, do not wait, and ask epoll only every
//!    `BUSY_EPOLL_TURNS` (32) turns: ports whose receive costs no system call
//!    ([`Port::busy_pollable`], the AF_XDP rings) are tried on every turn regardless;
//! 2. apply commands (add or remove a port, new routing map, stop);
//! 3. send what other workers queued for its ports, then what controllers injected;
//! 4. for each readable port, receive a burst of up to [`BURST`] frames, run it through
//!    [`wyvern_pipeline::Worker::process`] as one batch and transmit the verdicts: frames for
//!    its own ports are gathered in one burst per output port and sent together; frames for
//!    ports of another worker go to that worker's inbox;
//! 5. when idle (busy-polling: every `HOUSEKEEPING_TURNS` (1,024) turns), flush the pipeline
//!    worker's counters and publish the worker's; about once a second, check link states.
//!
//! mio's epoll is edge-triggered, so a port stays "ready" while its last receive returned
//! frames, and is received from again before the worker sleeps.
//!
//! ## No allocation per frame, no copy where it can be helped
//! The receive burst, the per-port transmit bursts, the verdicts and the pipeline batch vector
//! are allocated once and reused. A frame going to one port of this worker is not copied: its
//! buffer is swapped into the output burst; and when every frame of a receive burst goes, in
//! order and as it is, to one port of this worker (one routed flow), the receive burst is
//! handed to that port whole, with no per-frame delivery at all. A frame an AF_XDP port received lives in a UMEM
//! frame ([`crate::afxdp`]); the AF_XDP ports of one worker share a UMEM, so when such a frame
//! goes to one of them the port hands the frame itself to the kernel. A frame going to
//! another worker's port crosses in a heap buffer from that worker's pool: swapped in if the
//! frame was already in a heap buffer, copied if it is in a UMEM frame (UMEM frames never
//! leave their worker). A frame going to several ports is copied once per extra port.
//! [`WorkerStats::tx_zero_copy`] and [`WorkerStats::tx_copied`] count the outcome.
//!
//! ## Offloads
//! A frame from a TAP with offloads may still need its checksum completed, or be a TCP
//! super-frame ([`crate::offload`]). A port that takes offloads (another such TAP) gets it as
//! it is; for any other port the worker does the work while queueing the frame: it cuts a
//! super-frame into segments written straight into the port's transmit burst, or completes the
//! checksum in the queued copy ([`WorkerStats::sw_segmented`], [`WorkerStats::sw_checksums`]).
//!
//! ## Counters
//! Per-port counters are the port's own plus the drops the worker makes on its behalf
//! (configuration says no: [`DropReason::AdminDown`]), published after every burst that moved
//! frames and with the housekeeping (so an empty receive, which a busy-polling worker makes
//! on every turn, costs no publishing). Frames no port can count (to a port number that does
//! not exist, or to a full inbox of another worker) are counted in [`WorkerStats`].

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};
use crossbeam::queue::ArrayQueue;
// hashbrown's default hasher (foldhash): the port maps are looked up once per output frame,
// where std's SipHash cost about 20 ns.
use hashbrown::HashMap;
use wyvern_pipeline::{EmitData, Pipeline, RxPacket, Verdicts};

use crate::bridge::PortShared;
use crate::counters::{DropReason, PortCounters};
use crate::offload::segment::Segmenter;
use crate::offload::{Gso, Offload};
use crate::packet::{Burst, PacketBuf, PacketMeta, TunnelMeta};
use crate::port::Port;

/// Most frames received from one port and processed as one batch.
pub const BURST: usize = 64;

/// Frames another worker can queue for this worker's ports (and buffers in its pool).
pub const INBOX_DEPTH: usize = 1024;

/// Longest sleep of an idle worker (it flushes counters and checks links on waking).
pub const IDLE_TICK: Duration = Duration::from_millis(100);

/// A busy-polling worker asks epoll about its ports once per this many turns.
const BUSY_EPOLL_TURNS: u32 = 32;

/// Counters are flushed and links checked on every idle turn of a sleeping worker, and once per
/// this many turns otherwise (a busy-polling worker, or one that never runs out of frames).
const HOUSEKEEPING_TURNS: u32 = 1024;

/// How often a worker checks its ports' link state.
const LINK_CHECK: Duration = Duration::from_secs(1);

/// Most injected frames sent per loop iteration.
const INJECT_PER_LOOP: usize = 256;

/// The mio token of the worker's waker (port tokens are slot indexes).
const WAKE_TOKEN: mio::Token = mio::Token(usize::MAX);

/// The OpenFlow port routing map: port number → owning worker.
pub(crate) type Routes = HashMap<u32, usize>;

/// Commands from the bridge to a worker.
pub(crate) enum Cmd {
    Add {
        no: u32,
        port: Box<dyn Port>,
        shared: Arc<PortShared>,
    },
    Del {
        no: u32,
        reply: Sender<Option<Box<dyn Port>>>,
    },
    Routes(Arc<Routes>),
    Stop,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Add { no, .. } => write!(f, "Add({no})"),
            Cmd::Del { no, .. } => write!(f, "Del({no})"),
            Cmd::Routes(r) => write!(f, "Routes({} ports)", r.len()),
            Cmd::Stop => f.write_str("Stop"),
        }
    }
}

/// A frame handed from one worker to another, for port `port`.
#[derive(Debug)]
pub(crate) struct Xfer {
    port: u32,
    buf: PacketBuf,
}

/// Counters of one worker's forwarding path, for frames no port counts. Disjoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Batches run through the pipeline.
    pub batches: u64,
    /// Frames (emits, injected frames, handed-over frames) for a port number that does not
    /// exist (any more).
    pub no_such_port: u64,
    /// Frames for another worker's port dropped because its inbox or buffer pool was full.
    pub inbox_full: u64,
    /// Frames handed to another worker.
    pub handed_over: u64,
    /// Injected (packet-out) frames sent.
    pub injected: u64,
    /// Injected frames that did not fit a buffer.
    pub injected_oversize: u64,
    /// Receive or send calls that failed (the port counts the details).
    pub port_errors: u64,
    /// Frames this worker's ports sent without any copy in this process: AF_XDP ports handing
    /// over the UMEM frame the frame was received into (the sum of the ports'
    /// [`PortCounters::tx_zero_copy`]).
    pub tx_zero_copy: u64,
    /// Frames this worker's ports sent after copying them at least once (into a UMEM frame,
    /// a buffer of another worker, a TAP device or socket, or a flood's extra copies).
    pub tx_copied: u64,
    /// TCP super-frames from TAPs with offloads that this worker cut into segments for a port
    /// that takes no offloads ([`crate::offload::segment`]).
    pub sw_segmented: u64,
    /// Partial checksums from TAPs with offloads that this worker completed for a port that
    /// takes no offloads.
    pub sw_checksums: u64,
}

#[derive(Debug, Default)]
pub(crate) struct AtomicWorkerStats {
    batches: AtomicU64,
    no_such_port: AtomicU64,
    inbox_full: AtomicU64,
    handed_over: AtomicU64,
    injected: AtomicU64,
    injected_oversize: AtomicU64,
    port_errors: AtomicU64,
    tx_zero_copy: AtomicU64,
    tx_copied: AtomicU64,
    sw_segmented: AtomicU64,
    sw_checksums: AtomicU64,
}

impl AtomicWorkerStats {
    fn publish(&self, s: &WorkerStats) {
        let st = |a: &AtomicU64, v: u64| a.store(v, Ordering::Relaxed);
        st(&self.batches, s.batches);
        st(&self.no_such_port, s.no_such_port);
        st(&self.inbox_full, s.inbox_full);
        st(&self.handed_over, s.handed_over);
        st(&self.injected, s.injected);
        st(&self.injected_oversize, s.injected_oversize);
        st(&self.port_errors, s.port_errors);
        st(&self.tx_zero_copy, s.tx_zero_copy);
        st(&self.tx_copied, s.tx_copied);
        st(&self.sw_segmented, s.sw_segmented);
        st(&self.sw_checksums, s.sw_checksums);
    }

    pub(crate) fn snapshot(&self) -> WorkerStats {
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WorkerStats {
            batches: ld(&self.batches),
            no_such_port: ld(&self.no_such_port),
            inbox_full: ld(&self.inbox_full),
            handed_over: ld(&self.handed_over),
            injected: ld(&self.injected),
            injected_oversize: ld(&self.injected_oversize),
            port_errors: ld(&self.port_errors),
            tx_zero_copy: ld(&self.tx_zero_copy),
            tx_copied: ld(&self.tx_copied),
            sw_segmented: ld(&self.sw_segmented),
            sw_checksums: ld(&self.sw_checksums),
        }
    }
}

/// What other threads may touch of a worker: its inbox, buffer pool, waker and statistics.
#[derive(Debug)]
pub(crate) struct WorkerShared {
    inbox: ArrayQueue<Xfer>,
    pool: ArrayQueue<PacketBuf>,
    pub(crate) waker: mio::Waker,
    pub(crate) stats: AtomicWorkerStats,
}

impl WorkerShared {
    /// A worker's shared half and the poll instance its waker is registered with.
    pub(crate) fn new() -> std::io::Result<(WorkerShared, mio::Poll)> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKE_TOKEN)?;
        let pool = ArrayQueue::new(INBOX_DEPTH);
        for _ in 0..INBOX_DEPTH {
            let _ = pool.push(PacketBuf::new());
        }
        let shared = WorkerShared {
            inbox: ArrayQueue::new(INBOX_DEPTH),
            pool,
            waker,
            stats: AtomicWorkerStats::default(),
        };
        Ok((shared, poll))
    }
}

/// Everything a worker thread starts with.
pub(crate) struct WorkerParts {
    pub(crate) index: usize,
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) poll: mio::Poll,
    pub(crate) cmds: Receiver<Cmd>,
    pub(crate) shared: Arc<WorkerShared>,
    pub(crate) peers: Arc<[Arc<WorkerShared>]>,
    pub(crate) busy_poll: bool,
    pub(crate) link_changes: Sender<u32>,
}

/// One port owned by this worker.
struct Slot {
    no: u32,
    port: Box<dyn Port>,
    shared: Arc<PortShared>,
    /// Frames gathered for this port, sent at the end of the batch (or when full).
    tx: Burst,
    /// Whether `tx` is in `WorkerLoop::dirty`.
    dirty: bool,
    /// Whether the last receive returned frames (edge-triggered epoll: receive again).
    ready: bool,
    /// Whether a busy-polling worker receives from the port on every turn (it costs no
    /// system call, or epoll cannot watch the port); the others when epoll says so.
    spin: bool,
    /// Whether the port takes frames with offload work left ([`Port::accepts_offloads`]).
    offloads: bool,
    /// Drops this worker made on the port's behalf; `rx_dropped` here are frames the port
    /// already counted as received.
    extra: PortCounters,
    extra_rx_bytes: u64,
    /// The port's `tx_zero_copy` and copied transmits as last added to [`WorkerStats`].
    seen_tx: (u64, u64),
}

impl Slot {
    /// Publish the port's counters, and add its transmits since the last call to the
    /// worker's copy counters.
    fn publish(&mut self, stats: &mut WorkerStats) {
        let mut c = self.port.counters();
        let tx = (c.tx_zero_copy, c.tx_packets.saturating_sub(c.tx_zero_copy));
        stats.tx_zero_copy += tx.0.saturating_sub(self.seen_tx.0);
        stats.tx_copied += tx.1.saturating_sub(self.seen_tx.1);
        self.seen_tx = tx;
        let x = &self.extra;
        c.rx_packets = c.rx_packets.saturating_sub(x.rx_dropped);
        c.rx_bytes = c.rx_bytes.saturating_sub(self.extra_rx_bytes);
        c.rx_dropped += x.rx_dropped;
        c.tx_dropped += x.tx_dropped;
        for (d, e) in c.drops.iter_mut().zip(x.drops) {
            *d += e;
        }
        self.shared.publish(&c);
    }
}

/// A frame on its way to a port's transmit burst.
enum Outgoing<'a> {
    /// A buffer of this worker, for the frame's last use: swapped into the burst.
    Own(&'a mut PacketBuf),
    /// A heap buffer from another worker: swapped into the burst, or copied if the burst's
    /// buffer holds a UMEM frame (which stays here); see [`Burst::push_from`].
    Foreign(&'a mut PacketBuf),
    /// Bytes to copy (a flood's extra copy, an injected frame).
    Bytes(&'a [u8]),
}

impl Outgoing<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Outgoing::Own(buf) | Outgoing::Foreign(buf) => buf.data(),
            Outgoing::Bytes(bytes) => bytes,
        }
    }
}

impl Slot {
    /// Queue a frame for this port, sending the burst first if it is full. For a port that
    /// takes no offloads, what a TAP's offloads left is done first: a super-frame is cut into
    /// segments, a partial checksum completed. Returns whether anything was queued.
    fn enqueue(&mut self, frame: Outgoing<'_>, meta: PacketMeta, stats: &mut WorkerStats) -> bool {
        if let (false, Some(gso)) = (self.offloads, meta.offload.gso) {
            return self.segment(frame.bytes(), gso, meta, stats);
        }
        if self.tx.is_full() {
            self.send(stats);
        }
        let stored = match frame {
            Outgoing::Own(buf) => self.tx.swap_slot(buf),
            Outgoing::Foreign(buf) => self.tx.push_from(buf),
            Outgoing::Bytes(bytes) => self.tx.push_copy(bytes),
        };
        let Some(last) = stored.then(|| self.tx.packets_mut().last_mut()).flatten() else {
            self.extra.tx_drop(DropReason::Oversize, 1);
            return false;
        };
        last.meta = meta;
        if !self.offloads && meta.offload.partial_checksum {
            last.meta.offload = Offload::default();
            stats.sw_checksums += 1;
            if let Err(reason) = meta.offload.complete_checksum(last.data_mut()) {
                self.tx.drop_last();
                self.extra.tx_drop(reason, 1);
                return false;
            }
        }
        true
    }

    /// Queue the segments of the super-frame `frame`.
    fn segment(
        &mut self,
        frame: &[u8],
        gso: Gso,
        meta: PacketMeta,
        stats: &mut WorkerStats,
    ) -> bool {
        let mut segments = match Segmenter::new(frame, gso) {
            Ok(s) => s,
            Err(reason) => {
                self.extra.tx_drop(reason, 1);
                return false;
            }
        };
        stats.sw_segmented += 1;
        let meta = PacketMeta {
            offload: Offload::default(),
            ..meta
        };
        let room = segments.max_len();
        let mut any = false;
        loop {
            if self.tx.is_full() {
                self.send(stats);
            }
            let Some(buf) = self.tx.next_slot_with_room(room) else {
                break;
            };
            match segments.next_into(buf) {
                None => break,
                Some(true) => {
                    buf.meta = meta;
                    self.tx.commit();
                    any = true;
                }
                Some(false) => {
                    self.extra.tx_drop(DropReason::Oversize, 1);
                    break;
                }
            }
        }
        any
    }

    /// Send the transmit burst.
    fn send(&mut self, stats: &mut WorkerStats) {
        if self.tx.is_empty() {
            return;
        }
        transmit(&mut *self.port, self.no, self.tx.packets_mut(), stats);
        self.tx.clear();
        self.publish(stats);
    }

    /// Send `bufs` (a whole receive burst) as they are, after what the transmit burst holds.
    fn send_now(&mut self, bufs: &mut [PacketBuf], stats: &mut WorkerStats) {
        self.send(stats);
        transmit(&mut *self.port, self.no, bufs, stats);
        self.publish(stats);
    }
}

fn transmit(port: &mut dyn Port, no: u32, bufs: &mut [PacketBuf], stats: &mut WorkerStats) {
    if let Err(e) = port.send_burst(bufs) {
        stats.port_errors += 1;
        tracing::debug!(port = no, error = %e, "send failed");
    }
}

/// Where an output frame's bytes are.
#[derive(Clone, Copy)]
enum Src {
    /// Packet `i` of the receive burst, as processed.
    Rx(usize),
    /// `arena[offset..offset + len]`: a copy in the verdicts' arena, or an injected frame.
    Arena(usize, usize),
}

/// The bytes of `src`: a frame of the receive burst `rx`, or a piece of `arena`.
fn src_bytes<'a>(rx: &'a Burst, arena: &'a [u8], src: Src) -> Option<&'a [u8]> {
    match src {
        Src::Rx(i) => rx.packets().get(i).map(PacketBuf::data),
        Src::Arena(off, len) => arena.get(off..off + len),
    }
}

/// A worker thread's state.
pub(crate) struct WorkerLoop {
    index: usize,
    pipeline: Arc<Pipeline>,
    pw: wyvern_pipeline::Worker,
    poll: mio::Poll,
    events: mio::Events,
    cmds: Receiver<Cmd>,
    shared: Arc<WorkerShared>,
    peers: Arc<[Arc<WorkerShared>]>,
    busy_poll: bool,
    link_changes: Sender<u32>,
    routes: Arc<Routes>,
    slots: Vec<Option<Slot>>,
    by_no: HashMap<u32, usize>,
    dirty: Vec<usize>,
    wake_peer: Vec<bool>,
    rx: Burst,
    verdicts: Verdicts,
    /// The pipeline batch's vector, empty between batches (see `recycle`).
    batch: Vec<RxPacket<'static>>,
    /// Per received frame: how many outputs still use its buffer.
    refs: [u16; BURST],
    /// Per received frame: its window after processing.
    windows: [(usize, usize); BURST],
    stats: WorkerStats,
    last_link_check: Instant,
}

/// An empty vector with `v`'s allocation, for items of another lifetime. The pipeline batch
/// borrows the receive burst, so its vector cannot outlive one batch; this keeps its memory.
fn recycle<'a, 'b>(mut v: Vec<RxPacket<'a>>) -> Vec<RxPacket<'b>> {
    v.clear();
    // Collecting a mapped `IntoIter` into a `Vec` of the same layout reuses the allocation
    // (std's in-place collection); the vector is empty, so the closure never runs.
    v.into_iter()
        .map(|_| -> RxPacket<'b> { unreachable!("the vector is empty") })
        .collect()
}

fn pipeline_meta(meta: PacketMeta) -> wyvern_pipeline::PacketMeta {
    let l4_checksum_partial = meta.offload.partial_checksum;
    match meta.tunnel {
        Some(t) => wyvern_pipeline::PacketMeta {
            tun_id: u64::from(t.tun_id),
            tun_src: u32::from(t.tun_src),
            tun_dst: u32::from(t.tun_dst),
            pkt_mark: 0,
            l4_checksum_partial,
        },
        None => wyvern_pipeline::PacketMeta {
            l4_checksum_partial,
            ..wyvern_pipeline::PacketMeta::default()
        },
    }
}

/// The datapath's metadata for an output with the pipeline's `meta` (tunnel fields) of a
/// frame that had `offload` work left.
fn port_meta(meta: &wyvern_pipeline::PacketMeta, offload: Offload) -> PacketMeta {
    PacketMeta {
        tunnel: (meta.tun_dst != 0).then(|| TunnelMeta {
            tun_id: meta.tun_id as u32,
            tun_src: Ipv4Addr::from(meta.tun_src),
            tun_dst: Ipv4Addr::from(meta.tun_dst),
        }),
        offload,
    }
}

impl WorkerLoop {
    pub(crate) fn new(p: WorkerParts) -> Self {
        let n_peers = p.peers.len();
        WorkerLoop {
            index: p.index,
            pw: p.pipeline.worker(),
            pipeline: p.pipeline,
            poll: p.poll,
            events: mio::Events::with_capacity(256),
            cmds: p.cmds,
            shared: p.shared,
            peers: p.peers,
            busy_poll: p.busy_poll,
            link_changes: p.link_changes,
            routes: Arc::default(),
            slots: Vec::new(),
            by_no: HashMap::new(),
            dirty: Vec::with_capacity(64),
            wake_peer: vec![false; n_peers],
            rx: Burst::new(BURST),
            verdicts: Verdicts::default(),
            batch: Vec::with_capacity(BURST),
            refs: [0; BURST],
            windows: [(0, 0); BURST],
            stats: WorkerStats::default(),
            last_link_check: Instant::now(),
        }
    }

    /// Run until told to stop; returns the ports still owned (for the bridge to close).
    pub(crate) fn run(mut self) -> Vec<(u32, Box<dyn Port>)> {
        let mut busy = false;
        let mut turn = 0u32;
        loop {
            turn = turn.wrapping_add(1);
            // Busy-polling, epoll is asked only every few turns: the ports that need it (TAP,
            // VXLAN) wait a little, the ring ports are polled on every turn regardless.
            if !self.busy_poll || turn.is_multiple_of(BUSY_EPOLL_TURNS) {
                self.wait_events(busy);
            }
            if !self.commands() {
                break;
            }
            busy = self.drain_inbox();
            busy |= self.drain_injected();
            for i in 0..self.slots.len() {
                let ready = self.slots[i]
                    .as_ref()
                    .is_some_and(|s| s.ready || (self.busy_poll && s.spin));
                if ready {
                    busy |= self.poll_port(i);
                }
            }
            let idle = !busy && !self.busy_poll;
            if idle || turn.is_multiple_of(HOUSEKEEPING_TURNS) {
                self.pw.flush();
                for slot in self.slots.iter_mut().flatten() {
                    slot.publish(&mut self.stats);
                }
                self.shared.stats.publish(&self.stats);
                if self.last_link_check.elapsed() >= LINK_CHECK {
                    self.check_links();
                }
            }
        }
        self.pw.flush();
        self.shared.stats.publish(&self.stats);
        let registry = self.poll.registry();
        self.slots
            .into_iter()
            .flatten()
            .map(|mut s| {
                let _ = s.port.deregister(registry);
                (s.no, s.port)
            })
            .collect()
    }

    /// Wait in epoll for readable ports or a wake-up (not at all when busy-polling or when
    /// frames are pending, at most [`IDLE_TICK`] otherwise); marks the ports it reports ready.
    fn wait_events(&mut self, busy: bool) {
        let pending = self.slots.iter().flatten().any(|s| s.ready);
        let timeout = if self.busy_poll || pending || busy {
            Duration::ZERO
        } else {
            IDLE_TICK
        };
        if let Err(e) = self.poll.poll(&mut self.events, Some(timeout))
            && e.kind() != std::io::ErrorKind::Interrupted
        {
            tracing::error!(worker = self.index, error = %e, "epoll failed");
            std::thread::sleep(IDLE_TICK);
        }
        for ev in self.events.iter() {
            if let Some(Some(slot)) = self.slots.get_mut(ev.token().0) {
                slot.ready = true;
            }
        }
    }

    /// Apply pending commands; false to stop.
    fn commands(&mut self) -> bool {
        while let Ok(cmd) = self.cmds.try_recv() {
            match cmd {
                Cmd::Add { no, port, shared } => self.add(no, port, shared),
                Cmd::Del { no, reply } => {
                    let port = self.del(no);
                    let _ = reply.send(port);
                }
                Cmd::Routes(r) => self.routes = r,
                Cmd::Stop => return false,
            }
        }
        true
    }

    fn add(&mut self, no: u32, mut port: Box<dyn Port>, shared: Arc<PortShared>) {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        // A busy-polling worker tries ring ports on every turn, so it does not register them:
        // a socket in an epoll set pays for a wake-up call on every transmit completion.
        let spin = if self.busy_poll && port.busy_pollable() {
            true
        } else {
            match port.register(self.poll.registry(), mio::Token(i)) {
                Ok(()) => port.busy_pollable(),
                Err(e) => {
                    tracing::warn!(worker = self.index, port = no, error = %e,
                        "cannot register port with epoll; it is busy-polled");
                    true
                }
            }
        };
        let before = port.counters();
        let offloads = port.accepts_offloads();
        let mut slot = Slot {
            no,
            port,
            shared,
            tx: Burst::new(BURST),
            dirty: false,
            // Frames may have arrived before registration: look once.
            ready: true,
            spin,
            offloads,
            extra: PortCounters::default(),
            extra_rx_bytes: 0,
            seen_tx: (
                before.tx_zero_copy,
                before.tx_packets.saturating_sub(before.tx_zero_copy),
            ),
        };
        slot.publish(&mut self.stats);
        self.slots[i] = Some(slot);
        self.by_no.insert(no, i);
    }

    fn del(&mut self, no: u32) -> Option<Box<dyn Port>> {
        let i = self.by_no.remove(&no)?;
        let mut slot = self.slots.get_mut(i)?.take()?;
        self.dirty.retain(|&d| d != i);
        let _ = slot.port.deregister(self.poll.registry());
        slot.publish(&mut self.stats);
        // UMEM frames the bursts hold keep their UMEM alive: let go of them all, so that the
        // port's UMEM, if it had one of its own, goes with the port. (The others are taken
        // again as frames arrive.)
        self.rx.release_umem();
        for other in self.slots.iter_mut().flatten() {
            other.tx.release_umem();
        }
        Some(slot.port)
    }

    /// Send what other workers queued for this worker's ports.
    fn drain_inbox(&mut self) -> bool {
        let mut any = false;
        for _ in 0..INBOX_DEPTH {
            let Some(mut x) = self.shared.inbox.pop() else {
                break;
            };
            any = true;
            match self.by_no.get(&x.port).copied() {
                Some(i) => {
                    if let Some(slot) = self.slots[i].as_mut() {
                        if slot.shared.config().blocks_tx() {
                            slot.extra.tx_drop(DropReason::AdminDown, 1);
                        } else {
                            let meta = x.buf.meta;
                            let frame = Outgoing::Foreign(&mut x.buf);
                            if slot.enqueue(frame, meta, &mut self.stats) && !slot.dirty {
                                slot.dirty = true;
                                self.dirty.push(i);
                            }
                        }
                    }
                }
                None => self.stats.no_such_port += 1,
            }
            x.buf.reset();
            // The pool has room for every buffer of this worker's economy.
            let _ = self.shared.pool.push(x.buf);
        }
        if any {
            self.flush_tx();
        }
        any
    }

    /// Send what controllers injected.
    fn drain_injected(&mut self) -> bool {
        let mut any = false;
        for _ in 0..INJECT_PER_LOOP {
            let Some(inj) = self.pipeline.take_injected() else {
                break;
            };
            any = true;
            if inj.data.len() > crate::packet::MAX_FRAME_LEN {
                self.stats.injected_oversize += 1;
                continue;
            }
            self.stats.injected += 1;
            let len = inj.data.len();
            self.deliver(
                inj.port,
                Src::Arena(0, len),
                &inj.data,
                port_meta(&inj.meta, Offload::default()),
            );
        }
        if any {
            self.flush_tx();
            self.wake_peers();
        }
        any
    }

    /// Receive a burst from slot `i`, run it through the pipeline and send the verdicts.
    fn poll_port(&mut self, i: usize) -> bool {
        let Some(slot) = self.slots[i].as_mut() else {
            return false;
        };
        self.rx.clear();
        let n = match slot.port.recv_burst(&mut self.rx) {
            Ok(n) => n,
            Err(e) => {
                self.stats.port_errors += 1;
                tracing::debug!(worker = self.index, port = slot.no, error = %e, "receive failed");
                0
            }
        };
        slot.ready = n > 0;
        if n == 0 {
            // Drops the port counted without returning frames are published by the
            // housekeeping: a busy-polling worker polls an idle port on every turn.
            return false;
        }
        if slot.shared.config().blocks_rx() {
            for p in self.rx.packets() {
                slot.extra.rx_drop(DropReason::AdminDown);
                slot.extra_rx_bytes += p.len() as u64;
            }
            slot.publish(&mut self.stats);
            return true;
        }
        slot.publish(&mut self.stats);
        let in_port = slot.no;
        self.process(in_port);
        true
    }

    fn process(&mut self, in_port: u32) {
        let mut batch = recycle(std::mem::take(&mut self.batch));
        for buf in self.rx.packets_mut() {
            let meta = pipeline_meta(buf.meta);
            batch.push(RxPacket {
                frame: buf.frame(),
                in_port,
                meta,
            });
        }
        self.pw.process(&mut batch, &mut self.verdicts);
        for (w, p) in self.windows.iter_mut().zip(batch.iter()) {
            *w = (p.frame.headroom(), p.frame.len());
        }
        self.batch = recycle(batch);
        let n = self.rx.len();
        for (buf, &(start, len)) in self.rx.packets_mut().iter_mut().zip(&self.windows[..n]) {
            buf.set_window(start, len);
        }
        self.stats.batches += 1;
        if self.send_whole_burst() {
            self.flush_tx();
            return;
        }

        let verdicts = std::mem::take(&mut self.verdicts);
        self.refs[..n].fill(0);
        for e in &verdicts.emits {
            if e.data == EmitData::Frame
                && let Some(r) = self.refs.get_mut(usize::from(e.packet))
            {
                *r += 1;
            }
        }
        for e in &verdicts.emits {
            let src = match e.data {
                EmitData::Frame => Src::Rx(usize::from(e.packet)),
                EmitData::Copy { offset, len } => Src::Arena(offset as usize, len as usize),
            };
            // What the received frame's offloads left goes with each of its outputs.
            let offload = self
                .rx
                .packets()
                .get(usize::from(e.packet))
                .map(|p| p.meta.offload)
                .unwrap_or_default();
            self.deliver(e.port, src, &verdicts.arena, port_meta(&e.meta, offload));
        }
        self.verdicts = verdicts;
        self.flush_tx();
        self.wake_peers();
    }

    /// When the verdicts send every frame of the burst, in order and as they are (in their
    /// receive buffers, no tunnel metadata, no offload work left), to one port of this
    /// worker, that port is handed the receive burst whole, as the bare forwarder does: no
    /// per-frame delivery, no buffer swapped into its transmit burst. One routed flow between
    /// two ports of a worker is that case. Returns whether it was.
    fn send_whole_burst(&mut self) -> bool {
        let emits = &self.verdicts.emits;
        let Some(first) = emits.first() else {
            return false;
        };
        let plain = wyvern_pipeline::PacketMeta::default();
        let whole = emits.len() == self.rx.len()
            && emits.iter().enumerate().all(|(i, e)| {
                usize::from(e.packet) == i
                    && e.port == first.port
                    && e.data == EmitData::Frame
                    && e.meta == plain
            })
            && self
                .rx
                .packets()
                .iter()
                .all(|p| p.meta == PacketMeta::default());
        if !whole {
            return false;
        }
        let Some(slot) = self
            .by_no
            .get(&first.port)
            .and_then(|&i| self.slots[i].as_mut())
        else {
            return false;
        };
        if slot.shared.config().blocks_tx() {
            slot.extra
                .tx_drop(DropReason::AdminDown, emits.len() as u64);
        } else {
            slot.send_now(self.rx.packets_mut(), &mut self.stats);
        }
        true
    }

    /// Whether an output of `src` is the last one using its receive buffer (then the buffer
    /// may be handed over instead of copied); counts the use.
    fn last_use(&mut self, src: Src) -> bool {
        match src {
            Src::Rx(i) => match self.refs.get_mut(i) {
                Some(r) => {
                    *r = r.saturating_sub(1);
                    *r == 0
                }
                None => false,
            },
            Src::Arena(..) => false,
        }
    }

    /// Output one frame of the current batch to OpenFlow port `no`.
    fn deliver(&mut self, no: u32, src: Src, arena: &[u8], meta: PacketMeta) {
        let swap = self.last_use(src);
        if let Src::Rx(i) = src
            && i >= self.rx.len()
        {
            return;
        }
        if let Some(&i) = self.by_no.get(&no) {
            let Some(slot) = self.slots[i].as_mut() else {
                return;
            };
            if slot.shared.config().blocks_tx() {
                slot.extra.tx_drop(DropReason::AdminDown, 1);
                return;
            }
            // The frame's bytes are looked at only when they are copied.
            let frame = match (swap, src) {
                (true, Src::Rx(p)) => Outgoing::Own(&mut self.rx.packets_mut()[p]),
                _ => match src_bytes(&self.rx, arena, src) {
                    Some(bytes) => Outgoing::Bytes(bytes),
                    None => return,
                },
            };
            if slot.enqueue(frame, meta, &mut self.stats) && !slot.dirty {
                slot.dirty = true;
                self.dirty.push(i);
            }
        } else if let Some(&w) = self.routes.get(&no) {
            let peer = &self.peers[w];
            let Some(mut buf) = peer.pool.pop() else {
                self.stats.inbox_full += 1;
                return;
            };
            match (swap, src) {
                (true, Src::Rx(p)) if !self.rx.packets()[p].is_umem() => {
                    std::mem::swap(&mut buf, &mut self.rx.packets_mut()[p]);
                }
                _ => {
                    let Some(bytes) = src_bytes(&self.rx, arena, src) else {
                        let _ = peer.pool.push(buf);
                        return;
                    };
                    buf.reserve_room(bytes.len());
                    buf.reset();
                    buf.set_frame(bytes);
                }
            }
            buf.meta = meta;
            match peer.inbox.push(Xfer { port: no, buf }) {
                Ok(()) => {
                    self.stats.handed_over += 1;
                    self.wake_peer[w] = true;
                }
                Err(x) => {
                    self.stats.inbox_full += 1;
                    let _ = peer.pool.push(x.buf);
                }
            }
        } else {
            self.stats.no_such_port += 1;
        }
    }

    /// Send every gathered output burst.
    fn flush_tx(&mut self) {
        for &i in &self.dirty {
            if let Some(slot) = self.slots[i].as_mut() {
                slot.send(&mut self.stats);
                slot.dirty = false;
            }
        }
        self.dirty.clear();
    }

    fn wake_peers(&mut self) {
        for (w, wake) in self.wake_peer.iter_mut().enumerate() {
            if std::mem::take(wake) {
                // A failed wake only delays the frames until the peer's idle tick.
                let _ = self.peers[w].waker.wake();
            }
        }
    }

    fn check_links(&mut self) {
        self.last_link_check = Instant::now();
        for slot in self.slots.iter().flatten() {
            if slot.shared.set_link_up(slot.port.link_up()) {
                let _ = self.link_changes.send(slot.no);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_keeps_the_allocation() {
        let v: Vec<RxPacket<'static>> = Vec::with_capacity(BURST);
        let ptr = v.as_ptr() as usize;
        let w: Vec<RxPacket<'_>> = recycle(v);
        assert!(w.capacity() >= BURST);
        assert_eq!(w.as_ptr() as usize, ptr);
    }

    #[test]
    fn tunnel_meta_converts_both_ways() {
        let m = PacketMeta {
            tunnel: Some(TunnelMeta {
                tun_id: 100,
                tun_src: Ipv4Addr::new(1, 2, 3, 4),
                tun_dst: Ipv4Addr::new(5, 6, 7, 8),
            }),
            offload: Offload::default(),
        };
        assert_eq!(port_meta(&pipeline_meta(m), Offload::default()), m);
        let none = PacketMeta::default();
        assert_eq!(port_meta(&pipeline_meta(none), none.offload).tunnel, None);
    }
}

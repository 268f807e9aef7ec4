//! [`Bridge`]: the ports and packet workers of one switch.
//!
//! ## What
//! A bridge owns a set of ports, each with an OpenFlow port number, and a fixed set of packet
//! worker threads ([`crate::workers`]) that move frames between the ports and the
//! [`Pipeline`]. The control side (the OpenFlow endpoint, the CLI) adds and removes ports,
//! changes their OpenFlow configuration, reads their description and counters
//! ([`Bridge::ports`]) and listens to [`PortEvent`]s for `PORT_STATUS`.
//!
//! ## Design
//! - Every port is owned by exactly one worker, which alone receives from it and sends to it
//!   (ports are `Send`, not `Sync`). A new port goes to the worker with the fewest ports.
//! - Which worker owns which port number is a small routing map every worker holds an
//!   immutable copy of; the bridge sends each worker a new copy when ports come and go.
//! - A frame for a port another worker owns crosses over that worker's bounded, lock-free
//!   inbox ([`crossbeam::queue::ArrayQueue`]); buffers travel with it and come back through
//!   the owner's buffer pool, so nothing is allocated per frame.
//! - The AF_XDP ports of one worker share a UMEM ([`crate::afxdp::umem`]; up to
//!   [`crate::afxdp::PORTS_PER_UMEM`] ports each, more UMEMs as needed), so frames between
//!   them are handed over, not copied. An AF_XDP port goes to the worker with the fewest ports
//!   and joins one of its UMEMs; a port that binds in zero-copy mode keeps a UMEM of its own.
//! - What the control side reads while traffic flows (counters, link state, configuration)
//!   lives in per-port atomics the owning worker publishes (`PortShared`); reading it never
//!   stops a worker.
//! - The pipeline's port list (for FLOOD, ALL and NORMAL) is rewritten from the bridge's port
//!   table on every change ([`Pipeline::set_ports`], which also forgets MAC entries on ports
//!   that are gone). A port is excluded from outputs only when configured `port_down`: a TAP's
//!   link state cannot always be read once moved to another namespace, and a port wrongly
//!   excluded would never be written to again to find out it is back.
//!
//! ## Namespaces
//! A port is opened in the network namespace of the thread calling [`Bridge::add_port`] (AF_XDP
//! interfaces are looked up there, TAP devices created there, VXLAN sockets bound there); the
//! workers use the descriptors from wherever they run.
//!
//! ## Thread-safety
//! `Bridge` is `Sync`: control calls take `&self` and serialise on one mutex that workers never
//! take. [`Bridge::shutdown`] stops the workers, drops every port (closing AF_XDP sockets, which
//! detaches the XDP program libxdp attached, and removing the TAP devices the bridge created)
//! and returns when all of that is done; dropping the bridge does the same.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};
use wyvern_pipeline::{Pipeline, PipelinePort};

use crate::afxdp::{AfXdpConfig, AfXdpPort, SharedUmem, WeakUmem, XdpMode};
use crate::counters::{DropReason, PortCounters};
use crate::port::{MacAddr, Port, PortError};
use crate::tap::{TapConfig, TapPort};
use crate::vxlan::{VxlanConfig, VxlanPort};
use crate::workers::{self, Cmd, Routes, WorkerShared, WorkerStats};

/// OpenFlow's `OFPP_LOCAL`: the bridge's own port.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;

/// OpenFlow's `OFPP_MAX`: the highest number of a physical port.
pub const OFPP_MAX: u32 = 0xffff_ff00;

/// Errors of the bridge's control calls.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// OpenFlow port number {0} is already in use
    #[error("OpenFlow port number {0} is already in use")]
    PortNoInUse(u32),
    /// {0} is not a valid OpenFlow port number for a port (1..=0xffffff00)
    #[error("{0} is not a valid OpenFlow port number for a port (1..=0xffffff00)")]
    BadPortNo(u32),
    /// no port number {0}
    #[error("no port number {0}")]
    NoSuchPort(u32),
    /// a port named {0:?} already exists
    #[error("a port named {0:?} already exists")]
    NameInUse(String),
    /// the port could not be opened
    #[error(transparent)]
    Port(#[from] PortError),
    /// the bridge is shut down
    #[error("the bridge is shut down")]
    ShutDown,
    /// a packet worker did not answer (it died)
    #[error("packet worker {0} did not answer")]
    WorkerGone(usize),
    /// could not start a thread
    #[error("could not start a thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Result of bridge control calls.
pub type Result<T, E = BridgeError> = std::result::Result<T, E>;

/// How to start a bridge.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Bridge name; also the name of the LOCAL port's TAP device (at most 15 bytes).
    pub name: String,
    /// Number of packet worker threads (at least 1).
    pub workers: usize,
    /// Busy-poll the ports instead of sleeping in epoll when idle (one core per worker).
    pub busy_poll: bool,
    /// Create the LOCAL port (`OFPP_LOCAL`): a TAP device named after the bridge.
    pub local_port: bool,
}

impl BridgeConfig {
    /// A bridge named `name`, one worker per available core (at most 8), sleeping when idle,
    /// with a LOCAL port.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            workers: default_workers(),
            busy_poll: false,
            local_port: true,
        }
    }
}

/// One worker per available core, at most 8.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// What kind of port to open, and its parameters.
#[derive(Debug, Clone)]
pub enum PortKind {
    /// AF_XDP sockets on the queues of the existing interface `iface`.
    Afxdp {
        /// Interface to bind to.
        iface: String,
        /// XDP attach mode.
        mode: XdpMode,
        /// How many queues to bind, from queue 0 (`None`: all of them, see
        /// [`AfXdpConfig::queues`]).
        queues: Option<u32>,
    },
    /// A new TAP device named like the port, removed when the port is.
    Tap {
        /// MAC address to set (`None`: the kernel's random one).
        mac: Option<MacAddr>,
        /// MTU to set (`None`: 1500).
        mtu: Option<u32>,
        /// Checksum and TCP segmentation offload with the stack behind the TAP
        /// ([`TapConfig::offload`]).
        offload: bool,
    },
    /// The flow-based VXLAN port, receiving on `local`.
    Vxlan {
        /// Local VTEP address and UDP port.
        local: SocketAddrV4,
        /// UDP port of the remote VTEPs.
        dst_port: u16,
    },
}

/// A port to add.
#[derive(Debug, Clone)]
pub struct PortSpec {
    /// Port name (for a TAP, the device name; unique within the bridge).
    pub name: String,
    /// What to open.
    pub kind: PortKind,
    /// The OpenFlow port number wanted (`None`: the lowest free number from 1).
    pub ofport: Option<u32>,
}

/// The kind of an existing port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortType {
    /// AF_XDP socket on an interface.
    Afxdp,
    /// TAP device created by the bridge.
    Tap,
    /// Flow-based VXLAN tunnel port.
    Vxlan,
    /// The bridge's LOCAL port (a TAP device named after the bridge).
    Local,
    /// A port built by the caller and handed to [`Bridge::attach`].
    Other,
}

/// The OpenFlow configuration of a port (`ofp_port_config`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortConfig {
    /// `OFPPC_PORT_DOWN`: administratively down; nothing is received from or sent to it.
    pub port_down: bool,
    /// `OFPPC_NO_RECV`: drop everything received on the port.
    pub no_recv: bool,
    /// `OFPPC_NO_FWD`: drop everything sent to the port.
    pub no_fwd: bool,
    /// `OFPPC_NO_PACKET_IN`: recorded and reported; the pipeline decides about packet-ins.
    pub no_packet_in: bool,
    /// `OFPPC_NO_FLOOD` (OpenFlow 1.0, kept by OVS): excluded from FLOOD and NORMAL flooding.
    pub no_flood: bool,
}

impl PortConfig {
    /// `OFPPC_PORT_DOWN`.
    pub const PORT_DOWN: u32 = 1 << 0;
    /// `OFPPC_NO_RECV`.
    pub const NO_RECV: u32 = 1 << 2;
    /// `OFPPC_NO_FLOOD` (OpenFlow 1.0 value, as OVS uses it).
    pub const NO_FLOOD: u32 = 1 << 4;
    /// `OFPPC_NO_FWD`.
    pub const NO_FWD: u32 = 1 << 5;
    /// `OFPPC_NO_PACKET_IN`.
    pub const NO_PACKET_IN: u32 = 1 << 6;

    /// The OpenFlow bit mask.
    pub fn bits(self) -> u32 {
        let bit = |on: bool, b: u32| if on { b } else { 0 };
        bit(self.port_down, Self::PORT_DOWN)
            | bit(self.no_recv, Self::NO_RECV)
            | bit(self.no_flood, Self::NO_FLOOD)
            | bit(self.no_fwd, Self::NO_FWD)
            | bit(self.no_packet_in, Self::NO_PACKET_IN)
    }

    /// From an OpenFlow bit mask (unknown bits ignored).
    pub fn from_bits(bits: u32) -> Self {
        Self {
            port_down: bits & Self::PORT_DOWN != 0,
            no_recv: bits & Self::NO_RECV != 0,
            no_fwd: bits & Self::NO_FWD != 0,
            no_packet_in: bits & Self::NO_PACKET_IN != 0,
            no_flood: bits & Self::NO_FLOOD != 0,
        }
    }

    /// Whether received frames are dropped.
    pub fn blocks_rx(self) -> bool {
        self.port_down || self.no_recv
    }

    /// Whether frames to send are dropped.
    pub fn blocks_tx(self) -> bool {
        self.port_down || self.no_fwd
    }
}

/// A port as OpenFlow describes it (PORT_DESC, PORT_STATS, PORT_STATUS).
#[derive(Debug, Clone)]
pub struct PortInfo {
    /// OpenFlow port number.
    pub no: u32,
    /// Port name.
    pub name: String,
    /// Ethernet address.
    pub mac: MacAddr,
    /// MTU.
    pub mtu: u32,
    /// What kind of port.
    pub kind: PortType,
    /// Link state as last seen by the owning worker (checked about once a second).
    pub link_up: bool,
    /// OpenFlow configuration.
    pub config: PortConfig,
    /// Counters, as of the owning worker's last burst on the port.
    pub counters: PortCounters,
    /// When the port was added (for `duration_sec` in port statistics).
    pub created: Instant,
}

/// Why a [`PortEvent`] was sent (`ofp_port_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortReason {
    /// `OFPPR_ADD`.
    Add,
    /// `OFPPR_DELETE`.
    Delete,
    /// `OFPPR_MODIFY`: configuration or link state changed.
    Modify,
}

/// A change to the bridge's ports, for OpenFlow `PORT_STATUS`.
#[derive(Debug, Clone)]
pub struct PortEvent {
    /// What happened.
    pub reason: PortReason,
    /// The port after the change (before it, for `Delete`).
    pub port: PortInfo,
}

/// Counters, link state and configuration of one port, shared between its owning worker
/// (the only writer of counters and link state) and the control side.
#[derive(Debug)]
pub(crate) struct PortShared {
    counters: [AtomicU64; COUNTER_WORDS],
    link_up: AtomicBool,
    config: AtomicU32,
}

const COUNTER_WORDS: usize = 10 + DropReason::COUNT;

impl PortShared {
    fn new(link_up: bool, config: PortConfig) -> Self {
        Self {
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            link_up: AtomicBool::new(link_up),
            config: AtomicU32::new(config.bits()),
        }
    }

    /// Publish a counters snapshot.
    pub(crate) fn publish(&self, c: &PortCounters) {
        let words = [
            c.rx_packets,
            c.rx_bytes,
            c.rx_dropped,
            c.rx_errors,
            c.tx_packets,
            c.tx_bytes,
            c.tx_dropped,
            c.tx_errors,
            c.tx_zero_copy,
            c.rx_csum_completed,
        ];
        for (slot, v) in self.counters.iter().zip(words.iter().chain(c.drops.iter())) {
            slot.store(*v, Ordering::Relaxed);
        }
    }

    /// The last published counters.
    pub(crate) fn counters(&self) -> PortCounters {
        let w = |i: usize| self.counters[i].load(Ordering::Relaxed);
        PortCounters {
            rx_packets: w(0),
            rx_bytes: w(1),
            rx_dropped: w(2),
            rx_errors: w(3),
            tx_packets: w(4),
            tx_bytes: w(5),
            tx_dropped: w(6),
            tx_errors: w(7),
            tx_zero_copy: w(8),
            rx_csum_completed: w(9),
            drops: std::array::from_fn(|i| w(10 + i)),
        }
    }

    pub(crate) fn config(&self) -> PortConfig {
        PortConfig::from_bits(self.config.load(Ordering::Relaxed))
    }

    /// Record the link state; true if it changed.
    pub(crate) fn set_link_up(&self, up: bool) -> bool {
        self.link_up.swap(up, Ordering::Relaxed) != up
    }
}

/// The bridge's record of one port.
#[derive(Debug)]
struct Entry {
    name: String,
    mac: MacAddr,
    mtu: u32,
    kind: PortType,
    worker: usize,
    created: Instant,
    shared: Arc<PortShared>,
}

impl Entry {
    fn info(&self, no: u32) -> PortInfo {
        PortInfo {
            no,
            name: self.name.clone(),
            mac: self.mac,
            mtu: self.mtu,
            kind: self.kind,
            link_up: self.shared.link_up.load(Ordering::Relaxed),
            config: self.shared.config(),
            counters: self.shared.counters(),
            created: self.created,
        }
    }
}

type WorkerJoin = JoinHandle<Vec<(u32, Box<dyn Port>)>>;

/// The worker with the fewest ports, of `workers`.
fn least_loaded(state: &State, workers: usize) -> usize {
    let mut load = vec![0usize; workers];
    for e in state.ports.values() {
        load[e.worker] += 1;
    }
    (0..workers).min_by_key(|&w| load[w]).unwrap_or(0)
}

#[derive(Debug, Default)]
struct State {
    ports: BTreeMap<u32, Entry>,
    /// Per worker, the UMEMs its AF_XDP ports share (see [`crate::afxdp::umem`]).
    umems: Vec<Vec<WeakUmem>>,
    threads: Vec<WorkerJoin>,
    monitor: Option<JoinHandle<()>>,
    running: bool,
}

#[derive(Debug)]
struct WorkerHandle {
    cmds: Sender<Cmd>,
    shared: Arc<WorkerShared>,
}

impl WorkerHandle {
    fn send(&self, cmd: Cmd) -> bool {
        let ok = self.cmds.send(cmd).is_ok();
        // A failed wake means the worker is gone; the send above already said so.
        let _ = self.shared.waker.wake();
        ok
    }
}

#[derive(Debug)]
struct Inner {
    name: String,
    pipeline: Arc<Pipeline>,
    workers: Vec<WorkerHandle>,
    state: Mutex<State>,
    events_tx: Sender<PortEvent>,
    events_rx: Receiver<PortEvent>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // No invariant of `State` spans a panic point, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rewrite the pipeline's port list from the port table.
    fn sync_pipeline(&self, state: &State) {
        let ports = state
            .ports
            .iter()
            .map(|(&no, e)| {
                let config = e.shared.config();
                PipelinePort {
                    no,
                    network: 0,
                    no_flood: config.no_flood,
                    down: config.port_down,
                }
            })
            .collect();
        self.pipeline.set_ports(ports);
    }

    /// Send every worker the current routing map.
    fn publish_routes(&self, state: &State) {
        let routes: Routes = state.ports.iter().map(|(&no, e)| (no, e.worker)).collect();
        let routes = Arc::new(routes);
        for w in &self.workers {
            w.send(Cmd::Routes(Arc::clone(&routes)));
        }
    }

    fn event(&self, reason: PortReason, port: PortInfo) {
        // The receiver lives as long as `Inner`, so this cannot fail.
        let _ = self.events_tx.send(PortEvent { reason, port });
    }
}

/// The ports and packet workers of one switch (see the module documentation).
#[derive(Debug)]
pub struct Bridge {
    inner: Arc<Inner>,
}

/// Wakes a bridge's first worker so it sends what controllers injected
/// ([`Pipeline::take_injected`]) without waiting for its idle tick. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InjectKick {
    shared: Arc<WorkerShared>,
}

impl InjectKick {
    /// Wake the worker.
    pub fn kick(&self) {
        // A failed wake only delays the injected frames until the worker's idle tick.
        let _ = self.shared.waker.wake();
    }
}

impl Bridge {
    /// Start the workers (and create the LOCAL port if asked to).
    pub fn start(pipeline: Arc<Pipeline>, config: BridgeConfig) -> Result<Bridge> {
        crate::port::check_ifname(&config.name)?;
        let n = config.workers.max(1);
        let (mon_tx, mon_rx) = crossbeam::channel::unbounded::<u32>();
        let mut handles = Vec::with_capacity(n);
        let mut loops = Vec::with_capacity(n);
        for index in 0..n {
            let (cmd_tx, cmd_rx) = crossbeam::channel::unbounded();
            let (shared, poll) = WorkerShared::new().map_err(BridgeError::Spawn)?;
            let shared = Arc::new(shared);
            handles.push(WorkerHandle {
                cmds: cmd_tx,
                shared: Arc::clone(&shared),
            });
            loops.push((index, shared, poll, cmd_rx));
        }
        let peers: Arc<[Arc<WorkerShared>]> =
            handles.iter().map(|h| Arc::clone(&h.shared)).collect();
        let mut threads = Vec::with_capacity(n);
        for (index, shared, poll, cmd_rx) in loops {
            let lp = workers::WorkerLoop::new(workers::WorkerParts {
                index,
                pipeline: Arc::clone(&pipeline),
                poll,
                cmds: cmd_rx,
                shared,
                peers: Arc::clone(&peers),
                busy_poll: config.busy_poll,
                link_changes: mon_tx.clone(),
            });
            let t = std::thread::Builder::new()
                .name(format!("{}-w{index}", config.name))
                .spawn(move || lp.run())
                .map_err(BridgeError::Spawn)?;
            threads.push(t);
        }
        drop(mon_tx);
        let (events_tx, events_rx) = crossbeam::channel::unbounded();
        let inner = Arc::new(Inner {
            name: config.name.clone(),
            pipeline,
            workers: handles,
            state: Mutex::new(State {
                threads,
                umems: vec![Vec::new(); n],
                running: true,
                ..State::default()
            }),
            events_tx,
            events_rx,
        });
        let weak = Arc::downgrade(&inner);
        let monitor = std::thread::Builder::new()
            .name(format!("{}-mon", config.name))
            .spawn(move || {
                // Ends when every worker has stopped (the channel disconnects).
                for no in mon_rx.iter() {
                    let Some(inner) = weak.upgrade() else { break };
                    let state = inner.state();
                    if let Some(e) = state.ports.get(&no) {
                        inner.event(PortReason::Modify, e.info(no));
                    }
                }
            })
            .map_err(BridgeError::Spawn)?;
        inner.state().monitor = Some(monitor);
        let bridge = Bridge { inner };
        if config.local_port {
            let tap = TapPort::create(&TapConfig::new(&config.name))?;
            bridge.insert(Box::new(tap), PortType::Local, Some(OFPP_LOCAL))?;
        }
        Ok(bridge)
    }

    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The pipeline the bridge feeds.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.inner.pipeline
    }

    /// Open the port `spec` describes (in the calling thread's network namespace) and add it;
    /// returns its OpenFlow port number.
    pub fn add_port(&self, spec: PortSpec) -> Result<u32> {
        if let Some(no) = spec.ofport {
            self.check_free(no)?;
        }
        if self
            .inner
            .state()
            .ports
            .values()
            .any(|e| e.name == spec.name)
        {
            return Err(BridgeError::NameInUse(spec.name));
        }
        let mut worker = None;
        let (port, kind): (Box<dyn Port>, PortType) = match &spec.kind {
            PortKind::Afxdp {
                iface,
                mode,
                queues,
            } => {
                // The port goes to the worker whose UMEM it joins.
                let w = self.least_loaded_worker();
                let mut cfg = AfXdpConfig::new(iface);
                cfg.mode = *mode;
                cfg.queues = *queues;
                cfg.umem = self.worker_umem(w, &cfg);
                worker = Some(w);
                (Box::new(AfXdpPort::open(&cfg)?), PortType::Afxdp)
            }
            PortKind::Tap { mac, mtu, offload } => {
                let mut cfg = TapConfig::new(&spec.name);
                cfg.mac = *mac;
                cfg.mtu = *mtu;
                cfg.offload = *offload;
                (Box::new(TapPort::create(&cfg)?), PortType::Tap)
            }
            PortKind::Vxlan { local, dst_port } => {
                let mut cfg = VxlanConfig::new(&spec.name, *local.ip());
                cfg.local = *local;
                cfg.dst_port = *dst_port;
                (Box::new(VxlanPort::open(&cfg)?), PortType::Vxlan)
            }
        };
        let name = spec.name;
        self.insert_named(port, name, kind, spec.ofport, worker)
    }

    /// Add a port the caller built (a loopback port, say); returns its OpenFlow port number.
    pub fn attach(&self, port: Box<dyn Port>, ofport: Option<u32>) -> Result<u32> {
        self.insert(port, PortType::Other, ofport)
    }

    fn check_free(&self, no: u32) -> Result<()> {
        if no == 0 || no > OFPP_MAX {
            return Err(BridgeError::BadPortNo(no));
        }
        if self.inner.state().ports.contains_key(&no) {
            return Err(BridgeError::PortNoInUse(no));
        }
        Ok(())
    }

    fn insert(&self, port: Box<dyn Port>, kind: PortType, ofport: Option<u32>) -> Result<u32> {
        let name = port.name().to_owned();
        self.insert_named(port, name, kind, ofport, None)
    }

    /// The worker with the fewest ports.
    fn least_loaded_worker(&self) -> usize {
        let state = self.inner.state();
        least_loaded(&state, self.inner.workers.len())
    }

    /// A UMEM with room for one more port among worker `w`'s, made if needed; `None` if one
    /// cannot be made (the port then uses a UMEM of its own).
    fn worker_umem(&self, w: usize, cfg: &AfXdpConfig) -> Option<SharedUmem> {
        let known = {
            let mut state = self.inner.state();
            let umems = &mut state.umems[w];
            umems.retain(|u| u.upgrade().is_some());
            umems
                .iter()
                .filter_map(WeakUmem::upgrade)
                .find(SharedUmem::has_room)
        };
        if known.is_some() {
            return known;
        }
        match SharedUmem::new(cfg.ring_size, cfg.frame_size) {
            Ok(umem) => {
                self.inner.state().umems[w].push(umem.downgrade());
                Some(umem)
            }
            Err(e) => {
                tracing::warn!(bridge = %self.inner.name, error = %e,
                    "cannot make a shared UMEM; AF_XDP ports will copy frames between them");
                None
            }
        }
    }

    /// Add `port`; it goes to `worker` if given, else to the worker with the fewest ports.
    fn insert_named(
        &self,
        port: Box<dyn Port>,
        name: String,
        kind: PortType,
        ofport: Option<u32>,
        worker: Option<usize>,
    ) -> Result<u32> {
        let inner = &self.inner;
        let mut state = inner.state();
        if !state.running {
            return Err(BridgeError::ShutDown);
        }
        if state.ports.values().any(|e| e.name == name) {
            return Err(BridgeError::NameInUse(name));
        }
        let no = match ofport {
            Some(OFPP_LOCAL) if kind == PortType::Local => OFPP_LOCAL,
            Some(no) if no == 0 || no > OFPP_MAX => return Err(BridgeError::BadPortNo(no)),
            Some(no) if state.ports.contains_key(&no) => return Err(BridgeError::PortNoInUse(no)),
            Some(no) => no,
            None => (1..=OFPP_MAX)
                .find(|n| !state.ports.contains_key(n))
                .ok_or(BridgeError::BadPortNo(OFPP_MAX))?,
        };
        let worker = worker
            .filter(|&w| w < inner.workers.len())
            .unwrap_or_else(|| least_loaded(&state, inner.workers.len()));
        let shared = Arc::new(PortShared::new(port.link_up(), PortConfig::default()));
        let entry = Entry {
            name,
            mac: port.mac(),
            mtu: port.mtu(),
            kind,
            worker,
            created: Instant::now(),
            shared: Arc::clone(&shared),
        };
        if !inner.workers[worker].send(Cmd::Add { no, port, shared }) {
            return Err(BridgeError::WorkerGone(worker));
        }
        let info = entry.info(no);
        state.ports.insert(no, entry);
        inner.publish_routes(&state);
        inner.sync_pipeline(&state);
        drop(state);
        tracing::info!(bridge = %inner.name, port = no, name = %info.name, ?kind, "port added");
        inner.event(PortReason::Add, info);
        Ok(no)
    }

    /// Remove port `no`: it stops receiving and sending, leaves the pipeline's port list (and
    /// its MAC entries are forgotten), and is closed (a TAP the bridge created is removed)
    /// before this returns.
    pub fn del_port(&self, no: u32) -> Result<()> {
        let inner = &self.inner;
        let mut state = inner.state();
        let entry = state.ports.remove(&no).ok_or(BridgeError::NoSuchPort(no))?;
        inner.publish_routes(&state);
        inner.sync_pipeline(&state);
        let (tx, rx) = crossbeam::channel::bounded(1);
        let w = &inner.workers[entry.worker];
        let port = if w.send(Cmd::Del { no, reply: tx }) {
            rx.recv_timeout(Duration::from_secs(10)).ok().flatten()
        } else {
            None
        };
        // Counters as of the removal.
        let info = entry.info(no);
        drop(port);
        drop(state);
        tracing::info!(bridge = %inner.name, port = no, "port deleted");
        inner.event(PortReason::Delete, info);
        Ok(())
    }

    /// Every port, by number.
    pub fn ports(&self) -> Vec<PortInfo> {
        let state = self.inner.state();
        state.ports.iter().map(|(&no, e)| e.info(no)).collect()
    }

    /// One port.
    pub fn port(&self, no: u32) -> Option<PortInfo> {
        self.inner.state().ports.get(&no).map(|e| e.info(no))
    }

    /// Change a port's OpenFlow configuration (`OFPT_PORT_MOD`); the pipeline's port list
    /// follows and a `Modify` event is sent if anything changed.
    pub fn set_port_config(&self, no: u32, config: PortConfig) -> Result<()> {
        let inner = &self.inner;
        let state = inner.state();
        let e = state.ports.get(&no).ok_or(BridgeError::NoSuchPort(no))?;
        let old = e.shared.config.swap(config.bits(), Ordering::Relaxed);
        if old == config.bits() {
            return Ok(());
        }
        let info = e.info(no);
        inner.sync_pipeline(&state);
        drop(state);
        inner.event(PortReason::Modify, info);
        Ok(())
    }

    /// Port changes, for `PORT_STATUS`. Every receiver shares one queue: each event goes to
    /// one of them.
    pub fn events(&self) -> Receiver<PortEvent> {
        self.inner.events_rx.clone()
    }

    /// A handle that wakes a worker to send injected frames at once.
    pub fn inject_kick(&self) -> InjectKick {
        InjectKick {
            shared: Arc::clone(&self.inner.workers[0].shared),
        }
    }

    /// Per-worker counters of the forwarding path (frames that no port counts).
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.inner
            .workers
            .iter()
            .map(|w| w.shared.stats.snapshot())
            .collect()
    }

    /// Which worker owns port `no`.
    pub fn port_worker(&self, no: u32) -> Option<usize> {
        self.inner.state().ports.get(&no).map(|e| e.worker)
    }

    /// Stop the workers and close every port (detaching XDP programs, removing TAP devices
    /// the bridge created). Returns when all of that is done; later calls do nothing.
    pub fn shutdown(&self) {
        let inner = &self.inner;
        let (threads, monitor) = {
            let mut state = inner.state();
            if !state.running {
                return;
            }
            state.running = false;
            state.ports.clear();
            inner.pipeline.set_ports(Vec::new());
            (std::mem::take(&mut state.threads), state.monitor.take())
        };
        for w in &inner.workers {
            w.send(Cmd::Stop);
        }
        for t in threads {
            match t.join() {
                // Dropping the ports closes them.
                Ok(ports) => drop(ports),
                Err(_) => tracing::error!(bridge = %inner.name, "a packet worker panicked"),
            }
        }
        if let Some(m) = monitor {
            let _ = m.join();
        }
        tracing::info!(bridge = %inner.name, "bridge shut down");
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopback::LoopbackPort;
    use crate::packet::{Burst, PacketBuf};
    use wyvern_pipeline::PipelineConfig;
    use wyvern_pipeline::flow::FlowModCommand;
    use wyvern_pipeline::text::parse_flow;

    fn pipeline(flows: &[&str]) -> Arc<Pipeline> {
        let p = Pipeline::new(PipelineConfig::default());
        let mods: Vec<_> = flows
            .iter()
            .map(|f| parse_flow(f, FlowModCommand::Add).unwrap())
            .collect();
        p.apply(&mods).unwrap();
        p
    }

    fn config(workers: usize) -> BridgeConfig {
        BridgeConfig {
            workers,
            local_port: false,
            ..BridgeConfig::new("wytest")
        }
    }

    fn eth(dst: [u8; 6], src: [u8; 6], len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&[0x88, 0xb5]); // local experimental EtherType
        f
    }

    /// Receive from `port` until `want` frames arrived or 3 s passed.
    fn recv(port: &mut LoopbackPort, want: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut rx = Burst::new(64);
        let deadline = Instant::now() + Duration::from_secs(3);
        while got.len() < want && Instant::now() < deadline {
            rx.clear();
            port.recv_burst(&mut rx).unwrap();
            got.extend(rx.packets().iter().map(|p| p.data().to_vec()));
            std::thread::sleep(Duration::from_millis(1));
        }
        got
    }

    fn send(port: &mut LoopbackPort, frame: &[u8]) {
        let mut f = PacketBuf::from_slice(frame);
        assert_eq!(port.send_burst(std::slice::from_mut(&mut f)).unwrap(), 1);
    }

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    #[test]
    fn normal_switching_across_workers() {
        let bridge = Bridge::start(pipeline(&["priority=0 actions=NORMAL"]), config(2)).unwrap();
        let events = bridge.events();
        let (mut a, a_sw) = LoopbackPort::pair("a", "a-sw");
        let (mut b, b_sw) = LoopbackPort::pair("b", "b-sw");
        let na = bridge.attach(Box::new(a_sw), None).unwrap();
        let nb = bridge.attach(Box::new(b_sw), Some(7)).unwrap();
        assert_eq!((na, nb), (1, 7));
        assert_ne!(bridge.port_worker(na), bridge.port_worker(nb));
        for _ in 0..2 {
            assert_eq!(events.try_recv().unwrap().reason, PortReason::Add);
        }

        // Broadcast from a floods to b; b's reply is unicast back to a.
        send(&mut a, &eth([0xff; 6], A, 60));
        assert_eq!(recv(&mut b, 1), vec![eth([0xff; 6], A, 60)]);
        for i in 0..100 {
            send(&mut b, &eth(A, B, 60 + i));
        }
        assert_eq!(recv(&mut a, 100).len(), 100);
        // A runt is the receiving port's counted drop; forwarding goes on.
        send(&mut a, &[0; 5]);
        send(&mut a, &eth(B, A, 64));
        assert_eq!(recv(&mut b, 1), vec![eth(B, A, 64)]);

        let ports = bridge.ports();
        let pa = ports.iter().find(|p| p.no == na).unwrap();
        let pb = ports.iter().find(|p| p.no == nb).unwrap();
        assert_eq!(pa.counters.rx_packets, 2);
        assert_eq!(pa.counters.dropped(DropReason::Runt), 1);
        assert_eq!(pa.counters.tx_packets, 100);
        assert_eq!((pb.counters.rx_packets, pb.counters.tx_packets), (100, 2));
        let handed: u64 = bridge.worker_stats().iter().map(|s| s.handed_over).sum();
        assert_eq!(handed, 102);
        bridge.shutdown();
    }

    #[test]
    fn port_numbers_config_and_removal() {
        let bridge = Bridge::start(pipeline(&["priority=0 actions=NORMAL"]), config(1)).unwrap();
        let events = bridge.events();
        let (mut a, a_sw) = LoopbackPort::pair("a", "a-sw");
        let (mut b, b_sw) = LoopbackPort::pair("b", "b-sw");
        let (_c, c_sw) = LoopbackPort::pair("c", "c-sw");
        let na = bridge.attach(Box::new(a_sw), Some(3)).unwrap();
        assert!(matches!(
            bridge.attach(Box::new(c_sw), Some(3)),
            Err(BridgeError::PortNoInUse(3))
        ));
        let (_c, c_sw) = LoopbackPort::pair("c", "a-sw");
        assert!(matches!(
            bridge.attach(Box::new(c_sw), None),
            Err(BridgeError::NameInUse(_))
        ));
        let (_c, c_sw) = LoopbackPort::pair("c", "c-sw");
        assert!(matches!(
            bridge.attach(Box::new(c_sw), Some(0)),
            Err(BridgeError::BadPortNo(0))
        ));
        let nb = bridge.attach(Box::new(b_sw), None).unwrap();
        assert_eq!(nb, 1);

        let down = PortConfig {
            port_down: true,
            ..PortConfig::default()
        };
        bridge.set_port_config(nb, down).unwrap();
        send(&mut a, &eth(B, A, 60));
        send(&mut b, &eth(A, B, 60));
        std::thread::sleep(Duration::from_millis(200));
        let pb = bridge.port(nb).unwrap();
        assert_eq!(pb.config, down);
        assert_eq!(pb.counters.dropped(DropReason::AdminDown), 1);
        assert_eq!((pb.counters.rx_packets, pb.counters.rx_dropped), (0, 1));
        bridge.set_port_config(nb, PortConfig::default()).unwrap();
        send(&mut a, &eth(B, A, 61));
        assert_eq!(recv(&mut b, 1), vec![eth(B, A, 61)]);

        bridge.del_port(na).unwrap();
        assert!(matches!(
            bridge.del_port(na),
            Err(BridgeError::NoSuchPort(3))
        ));
        let reasons: Vec<_> = events.try_iter().map(|e| (e.reason, e.port.no)).collect();
        assert_eq!(
            reasons,
            [
                (PortReason::Add, 3),
                (PortReason::Add, 1),
                (PortReason::Modify, 1),
                (PortReason::Modify, 1),
                (PortReason::Delete, 3)
            ]
        );
        // Frames to the removed port are counted, not sent anywhere.
        send(&mut b, &eth(A, B, 60));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(bridge.ports().len(), 1);
        bridge.shutdown();
        assert!(matches!(
            bridge.attach(Box::new(LoopbackPort::pair("x", "y").0), None),
            Err(BridgeError::ShutDown)
        ));
    }

    #[test]
    fn injected_frames_are_sent() {
        let p = pipeline(&["priority=0 actions=NORMAL"]);
        let bridge = Bridge::start(Arc::clone(&p), config(2)).unwrap();
        let (mut a, a_sw) = LoopbackPort::pair("a", "a-sw");
        let (mut b, b_sw) = LoopbackPort::pair("b", "b-sw");
        let na = bridge.attach(Box::new(a_sw), None).unwrap();
        bridge.attach(Box::new(b_sw), None).unwrap();
        let out = wyvern_pipeline::action::Action::Output {
            port: wyvern_pipeline::action::PortNo::FLOOD,
            max_len: 0,
        };
        let n = p
            .packet_out(na, Default::default(), &[out], &eth([0xff; 6], A, 60))
            .unwrap();
        assert_eq!(n, 1);
        bridge.inject_kick().kick();
        assert_eq!(recv(&mut b, 1).len(), 1);
        assert!(recv(&mut a, 1).is_empty());
    }

    /// A burst whose frames all go, in order, to one port of the worker is handed to that
    /// port whole; a burst that mixes ports, or drops some of its frames, goes frame by frame.
    /// Each port must get exactly its frames, in order, either way.
    #[test]
    fn whole_bursts_and_mixed_bursts_reach_their_ports_in_order() {
        const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
        const D: [u8; 6] = [2, 0, 0, 0, 0, 0xd];
        let bridge = Bridge::start(
            pipeline(&[
                "priority=10,in_port=1,dl_dst=02:00:00:00:00:0b actions=output:2",
                "priority=10,in_port=1,dl_dst=02:00:00:00:00:0c actions=output:3",
                "priority=10,in_port=4,dl_dst=02:00:00:00:00:0b actions=output:2",
                "priority=10,in_port=4,dl_dst=02:00:00:00:00:0d actions=drop",
            ]),
            config(1),
        )
        .unwrap();
        let (mut a, a_sw) = LoopbackPort::pair("a", "a-sw");
        let (mut b, b_sw) = LoopbackPort::pair("b", "b-sw");
        let (mut c, c_sw) = LoopbackPort::pair("c", "c-sw");
        let (mut e, e_sw) = LoopbackPort::pair("e", "e-sw");
        assert_eq!(bridge.attach(Box::new(b_sw), Some(2)).unwrap(), 2);
        assert_eq!(bridge.attach(Box::new(c_sw), Some(3)).unwrap(), 3);
        // Queued before their ports are attached, so that each arrives as one burst: from
        // port 1 frames for two ports, from port 4 frames for one port with a drop between.
        for (dst, len) in [(B, 60), (B, 61), (C, 62), (B, 63), (C, 64)] {
            send(&mut a, &eth(dst, A, len));
        }
        for (dst, len) in [(B, 65), (D, 66), (B, 67)] {
            send(&mut e, &eth(dst, A, len));
        }
        assert_eq!(bridge.attach(Box::new(a_sw), Some(1)).unwrap(), 1);
        assert_eq!(bridge.attach(Box::new(e_sw), Some(4)).unwrap(), 4);
        let want_c: Vec<_> = [62, 64].map(|len| eth(C, A, len)).to_vec();
        assert_eq!(recv(&mut c, 2), want_c);
        // Then bursts of frames for b alone.
        for len in 70..100 {
            send(&mut a, &eth(B, A, len));
        }
        let want_b: Vec<_> = [60, 61, 63, 65, 67]
            .into_iter()
            .chain(70..100)
            .map(|len| eth(B, A, len))
            .collect();
        assert_eq!(recv(&mut b, want_b.len()), want_b);
        assert!(recv(&mut c, 1).is_empty(), "nothing else for c");
        let ports = bridge.ports();
        let tx = |no| {
            ports
                .iter()
                .find(|p| p.no == no)
                .unwrap()
                .counters
                .tx_packets
        };
        assert_eq!((tx(2), tx(3)), (35, 2));
        bridge.shutdown();
    }
}

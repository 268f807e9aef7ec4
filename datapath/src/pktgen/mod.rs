//! # pktgen: wyvern's packet generator and counting receiver
//!
//! ## What
//! Users benchmark wyvern by sending it UDP/IPv4 frames as fast as one core can and counting
//! what comes out. This kernel has no `pktgen` module, so wyvern ships one. A generator that
//! is slower than the thing it measures measures itself, so the design goal is that one core
//! of the generator outruns one core of the switch.
//!
//! ## Design
//! **Sending** ([`Sender`]) has two back ends, chosen by [`TxMode`]:
//! - *live frames* (`live`): the kernel's XDP test run in live-frames mode (Linux ≥ 5.18).
//!   A hand-assembled XDP program ([`progs::tx`]) is "run" on a template frame `repeat` times
//!   as if received on the sending interface, rewrites each frame and returns `XDP_TX`, and
//!   the kernel transmits it through the driver's XDP path: no socket, no skb, no copy from
//!   user space. Measured: 6.7 Mpps of 64-byte frames into a veth from one core (7.7 Mpps
//!   per CPU-second of the sender thread), received and counted by [`Receiver`] on the peer.
//!   On a veth the peer's NAPI poll runs on the sender's CPU, so that core also pays for the
//!   receive program.
//! - *AF_XDP* (`xsk`): a transmit-only AF_XDP socket whose UMEM frames hold the template;
//!   each frame sent gets its flow field, stamp and checksums rewritten in user space. On a
//!   veth that is copy mode, about 1 Mpps.
//!
//! `auto` uses live frames and falls back to AF_XDP when the kernel refuses them.
//!
//! **Frames** ([`frame`]) are built once by `wyvern_pipeline::wire::build::udp4`, carry a
//! marker and an optional send timestamp in the payload, and vary one 16-bit field (UDP source
//! port or the end of the source IP) over `--flows` values, with both checksums kept right.
//!
//! **Pacing**: the sender thread sends in chunks (one `BPF_PROG_RUN`, or one AF_XDP ring
//! fill of up to 64 frames) and, with a rate, never gets ahead of `elapsed × rate`. Every
//! live-frames call ends with a page-pool teardown that waits for an RCU grace period
//! (≈ 30 ms on a busy VM), so at full speed the chunk grows until one call takes ≈ 250 ms
//! (that is also how long a stop request may wait), and rate-limited runs send bursts of what
//! is due, one call each: averages are right, spacing is not.
//!
//! **Receiving** ([`Receiver`]) attaches [`progs::rx`] with a BPF link: it counts frames and
//! bytes per CPU, counts pktgen frames apart (the marker), computes latency from stamped ones
//! in the kernel (`bpf_ktime_get_ns()` minus the stamp: same clock, same host), and drops
//! everything (`XDP_DROP`). No socket, no per-packet system call. The link detaches when the
//! receiver is dropped or the process exits.
//!
//! ## Threads and signals
//! The sender runs on its own thread with every signal blocked, so that a SIGINT never
//! interrupts a `BPF_PROG_RUN` midway (which would lose the count of frames sent); the
//! caller's thread watches [`stop_on_signals`]' flag, prints progress and calls
//! [`Sender::stop`]. [`enter_netns`] must be called before the sender starts: threads inherit
//! their creator's network namespace.
//!
//! ## Unsafe code
//! `bpf` (the `bpf(2)` system call), `xsk` (xsk-rs's UMEM and rings) and `sys` (setns,
//! signals, clocks) opt back in to `unsafe`; every block says why it is sound.

#[allow(unsafe_code)]
mod bpf;
pub mod frame;
mod insn;
mod live;
pub mod progs;
mod rx;
#[allow(unsafe_code)]
mod sys;
#[allow(unsafe_code)]
mod xsk;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use frame::{FrameSpec, MAX_SIZE, MIN_SIZE, Template, Vary};
pub use rx::{Latency, Receiver, RxStats};
pub use sys::{DevStats, dev_stats, enter_netns, monotonic_ns, stop_on_signals};

use crate::sys::IfCtl;

/// Why pktgen could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum PktgenError {
    /// frame size out of range
    #[error("frame size {0} is out of range ({MIN_SIZE}..={MAX_SIZE} bytes, without FCS)")]
    BadSize(usize),
    /// bad flow count
    #[error("{0}")]
    BadFlows(String),
    /// bad rate, count or duration
    #[error("{0}")]
    BadLimit(String),
    /// no such interface
    #[error("no interface named {0:?} (in this network namespace)")]
    NoSuchInterface(String),
    /// frame larger than the interface's MTU
    #[error("frame size {size} does not fit {iface}'s MTU {mtu} (at most MTU + 14)")]
    TooBig {
        iface: String,
        size: usize,
        mtu: u32,
    },
    /// cannot enter the network namespace
    #[error("cannot enter network namespace {name:?}: {source}")]
    Netns {
        name: String,
        #[source]
        source: io::Error,
    },
    /// a bpf(2) command failed
    #[error("bpf({what}) failed: {source}")]
    Bpf {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// the kernel rejected a program
    #[error("the kernel rejected the {what} XDP program: {source}\n{log}")]
    Verifier {
        what: &'static str,
        #[source]
        source: io::Error,
        log: String,
    },
    /// live-frames mode is unavailable
    #[error(
        "XDP live-frames mode is not available (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES \
         needs Linux >= 5.18): {source}; use --mode afxdp"
    )]
    LiveUnsupported {
        #[source]
        source: io::Error,
    },
    /// cannot attach the receive program
    #[error("cannot attach the receive XDP program to {iface}: {reason}")]
    Attach { iface: String, reason: String },
    /// cannot open the AF_XDP socket
    #[error("cannot open an AF_XDP socket on {iface}: {reason}")]
    Xsk { iface: String, reason: String },
    /// an operating system call failed
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// the sender thread panicked
    #[error("the sender thread panicked")]
    Panicked,
}

/// How to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    /// XDP live frames (`BPF_PROG_RUN`), Linux ≥ 5.18.
    Live,
    /// A transmit-only AF_XDP socket.
    AfXdp,
    /// Live frames if the kernel has them, else AF_XDP.
    Auto,
}

impl TxMode {
    /// `live`, `afxdp` or `auto`.
    pub fn name(self) -> &'static str {
        match self {
            TxMode::Live => "live",
            TxMode::AfXdp => "afxdp",
            TxMode::Auto => "auto",
        }
    }
}

/// A send run.
#[derive(Debug, Clone)]
pub struct TxConfig {
    /// Interface to send out of (in the namespace of the thread that calls [`Sender::start`]).
    pub iface: String,
    /// The frames. `src_mac` None: the interface's address.
    pub frame: FrameSpec,
    /// Use the interface's MAC as source (overrides `frame.src_mac`).
    pub src_mac_from_iface: bool,
    /// Packets per second; None: as fast as possible.
    pub rate: Option<u64>,
    /// Stop after this many packets.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    pub mode: TxMode,
    /// Write a CLOCK_MONOTONIC stamp into every frame (for the receiver's latency).
    pub timestamp: bool,
}

impl TxConfig {
    /// Send default frames out of `iface` until stopped, as fast as possible, in auto mode.
    pub fn new(iface: &str) -> TxConfig {
        TxConfig {
            iface: iface.to_owned(),
            frame: FrameSpec::default(),
            src_mac_from_iface: true,
            rate: None,
            count: None,
            duration: None,
            mode: TxMode::Auto,
            timestamp: false,
        }
    }
}

/// What a send run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TxReport {
    /// The back end used ([`TxMode::Live`] or [`TxMode::AfXdp`]).
    pub mode: TxMode,
    /// Frames handed to the interface.
    pub packets: u64,
    /// Their bytes (without FCS).
    pub bytes: u64,
    /// From the first frame to the last completion.
    pub elapsed: Duration,
    /// CPU time of the sender thread meanwhile (user + system, including the softirq work
    /// the kernel charged to it). On a busy machine `packets / cpu_time` is the figure that
    /// says what one core can do.
    pub cpu_time: Duration,
    /// Growth of the interface's own `tx_dropped` counter meanwhile (frames the driver
    /// could not pass on; on a veth, e.g. XDP frames to a peer without XDP or GRO).
    pub dev_tx_dropped: u64,
}

impl TxReport {
    /// Packets per second over `elapsed`.
    pub fn pps(&self) -> f64 {
        per_second(self.packets, self.elapsed)
    }

    /// Packets per second of the sender thread's CPU time.
    pub fn pps_per_cpu(&self) -> f64 {
        per_second(self.packets, self.cpu_time)
    }
}

/// `n / elapsed`, 0 for an empty interval.
pub fn per_second(n: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// Counters the sender thread publishes for progress lines.
#[derive(Debug, Default)]
struct Shared {
    packets: AtomicU64,
    stop: AtomicBool,
}

/// First chunk per `BPF_PROG_RUN` at full speed.
const LIVE_CHUNK_START: u64 = 16384;
/// Largest chunk per `BPF_PROG_RUN` (≈ 1.4 s at 6 Mpps).
const LIVE_CHUNK_MAX: u64 = 1 << 23;
/// How long one full-speed `BPF_PROG_RUN` should take: long against the RCU grace period
/// that ends it, short enough for a stop request to be noticed quickly.
const LIVE_CALL_TARGET: Duration = Duration::from_millis(250);
/// Frames per live-frames batch; overridable for measurements (`WYVERN_PKTGEN_BATCH`).
/// 64 (the kernel's default, a NAPI budget): 256 was no faster and overflowed a veth peer's
/// 256-entry ring now and then.
fn live_batch() -> u32 {
    std::env::var("WYVERN_PKTGEN_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}
/// Largest chunk per AF_XDP ring fill (the kernel sends 32 per wakeup in copy mode).
const XSK_CHUNK: u64 = 64;

enum Backend {
    Live(live::LiveTx),
    // Boxed: the socket is much larger than the live-frames state, and there is one.
    Xsk(Box<xsk::XskTx>),
}

/// A send run on its own thread.
#[derive(Debug)]
pub struct Sender {
    mode: TxMode,
    frame_len: usize,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<TxReport, PktgenError>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Live(_) => f.write_str("Live"),
            Backend::Xsk(_) => f.write_str("AfXdp"),
        }
    }
}

impl Sender {
    /// Check `config`, set up the back end and start sending. Errors in the configuration or
    /// the setup come back here, before any frame is sent.
    pub fn start(mut config: TxConfig) -> Result<Sender, PktgenError> {
        if config.rate == Some(0) {
            return Err(PktgenError::BadLimit(
                "--rate must be at least 1 pps".into(),
            ));
        }
        if config.count == Some(0) {
            return Err(PktgenError::BadLimit("--count must be at least 1".into()));
        }
        if config.duration == Some(Duration::ZERO) {
            return Err(PktgenError::BadLimit("--duration must be positive".into()));
        }
        crate::port::check_ifname(&config.iface)
            .map_err(|_| PktgenError::NoSuchInterface(config.iface.clone()))?;
        let ifindex = sys::ifindex(&config.iface)?;
        let ctl = IfCtl::new().map_err(|e| PktgenError::Io {
            what: "interface ioctl socket",
            source: io::Error::other(e.to_string()),
        })?;
        let mtu = ctl
            .mtu(&config.iface)
            .map_err(|_| PktgenError::NoSuchInterface(config.iface.clone()))?;
        if config.frame.size > mtu as usize + 14 {
            return Err(PktgenError::TooBig {
                iface: config.iface.clone(),
                size: config.frame.size,
                mtu,
            });
        }
        if config.src_mac_from_iface {
            config.frame.src_mac = ctl
                .hwaddr(&config.iface)
                .map_err(|_| PktgenError::NoSuchInterface(config.iface.clone()))?
                .0;
        }
        let template = Template::new(&config.frame)?;
        let frame_len = template.len();

        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pktgen-tx".into())
            .spawn(move || {
                sys::block_signals();
                let before = sys::dev_stats(&config.iface).unwrap_or_default();
                let (backend, sent) = match setup(&config, &template, ifindex) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Err(PktgenError::Panicked);
                    }
                };
                let mode = match backend {
                    Backend::Live(_) => TxMode::Live,
                    Backend::Xsk(_) => TxMode::AfXdp,
                };
                let _ = ready_tx.send(Ok(mode));
                let mut report = run(&config, backend, sent, &thread_shared)?;
                report.bytes = report.packets * frame_len as u64;
                let after = sys::dev_stats(&config.iface).unwrap_or_default();
                report.dev_tx_dropped = after.tx_dropped.saturating_sub(before.tx_dropped);
                Ok(report)
            })
            .map_err(|source| PktgenError::Io {
                what: "spawning the sender thread",
                source,
            })?;
        match ready_rx.recv() {
            Ok(Ok(mode)) => Ok(Sender {
                mode,
                frame_len,
                shared,
                thread,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(PktgenError::Panicked)
            }
        }
    }

    /// The back end in use ([`TxMode::Live`] or [`TxMode::AfXdp`]).
    pub fn mode(&self) -> TxMode {
        self.mode
    }

    /// Frames sent so far.
    pub fn packets(&self) -> u64 {
        self.shared.packets.load(Ordering::Relaxed)
    }

    /// Bytes sent so far.
    pub fn bytes(&self) -> u64 {
        self.packets() * self.frame_len as u64
    }

    /// Ask the sender to stop after its current chunk.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the run is over (its limit reached, stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Wait for the end of the run.
    pub fn join(self) -> Result<TxReport, PktgenError> {
        self.thread.join().unwrap_or(Err(PktgenError::Panicked))
    }
}

/// Send a whole run on the calling thread's namespace and wait for it.
pub fn send(config: TxConfig) -> Result<TxReport, PktgenError> {
    Sender::start(config)?.join()
}

/// Open the back end; for live frames, send the first frame as the probe that tells whether
/// the kernel has the mode. Returns the back end and the frames already sent.
fn setup(
    config: &TxConfig,
    template: &Template,
    ifindex: u32,
) -> Result<(Backend, u64), PktgenError> {
    let xsk = || {
        xsk::XskTx::open(&config.iface, template, config.timestamp).map(|x| {
            tracing::info!(iface = %config.iface, zero_copy = x.is_zero_copy(), "pktgen: AF_XDP");
            (Backend::Xsk(Box::new(x)), 0)
        })
    };
    let live = || -> Result<(Backend, u64), PktgenError> {
        let mut l = live::LiveTx::open(template, ifindex, config.timestamp, live_batch())?;
        l.send(1)?;
        tracing::info!(iface = %config.iface, "pktgen: XDP live frames");
        Ok((Backend::Live(l), 1))
    };
    match config.mode {
        TxMode::Live => live(),
        TxMode::AfXdp => xsk(),
        TxMode::Auto => match live() {
            Ok(b) => Ok(b),
            Err(e) if live::is_unsupported(&e) => {
                tracing::info!(error = %e, "pktgen: live frames unavailable, using AF_XDP");
                xsk()
            }
            Err(e) => Err(e),
        },
    }
}

/// The send loop: chunks, pacing, limits.
fn run(
    config: &TxConfig,
    mut backend: Backend,
    mut sent: u64,
    shared: &Shared,
) -> Result<TxReport, PktgenError> {
    let start = Instant::now();
    let cpu_start = sys::thread_cpu_time();
    let deadline = config.duration.map(|d| start + d);
    let count = config.count.unwrap_or(u64::MAX);
    let live = matches!(backend, Backend::Live(_));
    // Live frames: each BPF_PROG_RUN call ends with a page-pool teardown that waits for an
    // RCU grace period (milliseconds, tens of them on a busy VM), so calls must be long for
    // that wait not to dominate. The chunk doubles until a call takes LIVE_CALL_TARGET.
    let mut chunk = if live { LIVE_CHUNK_START } else { XSK_CHUNK };
    // Packets per wall-clock second of the last full-size call, to size the last call
    // before a deadline.
    let mut pace: Option<f64> = None;
    shared.packets.store(sent, Ordering::Relaxed);
    let mut idle = 0u32;
    while sent < count && !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let mut want = (count - sent).min(chunk);
        if let Some(rate) = config.rate {
            // Never ahead of elapsed × rate.
            let due = (now - start).as_secs_f64() * rate as f64;
            let due = due as u64 + 1;
            if due <= sent {
                let next = Duration::from_secs_f64((sent + 1) as f64 / rate as f64);
                let wake = (start + next).min(deadline.unwrap_or(start + next));
                std::thread::sleep(wake.saturating_duration_since(Instant::now()));
                continue;
            }
            want = want.min(due - sent);
        }
        if let (Some(d), Some(pps)) = (deadline, pace) {
            let left = (d - now).as_secs_f64() * pps;
            want = want.min((left as u64).max(1));
        }
        let t0 = Instant::now();
        let n = match &mut backend {
            Backend::Live(l) => l.send(want as u32)?,
            Backend::Xsk(x) => x.send(want as u32, sent)?,
        };
        sent += u64::from(n);
        shared.packets.store(sent, Ordering::Relaxed);
        if live && config.rate.is_none() && want == chunk {
            let took = t0.elapsed();
            pace = Some(per_second(want, took));
            if took < LIVE_CALL_TARGET {
                chunk = (chunk * 2).min(LIVE_CHUNK_MAX);
            } else if took > 2 * LIVE_CALL_TARGET {
                chunk = (chunk / 2).max(LIVE_CHUNK_START);
            }
        }
        if n == 0 {
            // The AF_XDP ring is full: let the kernel catch up.
            idle += 1;
            if idle > 16 {
                std::thread::yield_now();
            }
        } else {
            idle = 0;
        }
    }
    if let Backend::Xsk(x) = &mut backend {
        x.drain(Duration::from_secs(2))?;
    }
    Ok(TxReport {
        mode: match backend {
            Backend::Live(_) => TxMode::Live,
            Backend::Xsk(_) => TxMode::AfXdp,
        },
        packets: sent,
        bytes: 0,
        elapsed: start.elapsed(),
        cpu_time: sys::thread_cpu_time().saturating_sub(cpu_start),
        dev_tx_dropped: 0,
    })
}

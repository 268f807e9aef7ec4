//! AF_XDP ports: one AF_XDP socket per queue of an existing interface (xsk-rs/libxdp).
//!
//! ## Setup
//! [`AfXdpPort::open`] binds one socket to each queue of the interface (every RX queue it has,
//! as `ethtool -l` counts them, or the ones [`AfXdpConfig::queues`] names) and lets libxdp
//! attach its default XDP program, which redirects each queue's frames to that queue's socket:
//! traffic the NIC's RSS (or a veth's sender) spreads over several queues all reaches the
//! port. The port's worker receives from its queues in turn and transmits on the first one.
//! The XDP mode is
//! [`XdpMode::Native`] (driver), [`XdpMode::Generic`] (skb) or [`XdpMode::Auto`] (native,
//! falling back to generic). For each mode, zero-copy is tried first unless
//! [`ZeroCopy::Never`], with a UMEM of the port's own; then copy mode (veth, for one, has no
//! zero-copy), in the [`SharedUmem`] given in [`AfXdpConfig::umem`] if any, else again in a
//! UMEM of its own. The socket uses `XDP_USE_NEED_WAKEUP`, so the fill and TX rings are kicked
//! only when the kernel asks. All the queues of a port bind in the same mode.
//!
//! ## Frames and copies
//! A received frame stays where the kernel wrote it: the port makes the burst's
//! [`PacketBuf`] own the UMEM frame ([`UmemFrame`]), and the pipeline works on it there. To
//! send a buffer that owns a frame of the port's own UMEM, the port puts that frame on its TX
//! ring and gives the buffer a free frame in exchange: nothing is copied. Any other buffer (a
//! heap buffer, a frame of another UMEM) is copied into a free frame: one `memcpy`. So frames
//! move between AF_XDP ports without a copy exactly when the ports share a UMEM, which the
//! bridge arranges for the ports of one worker ([`umem`] explains how).
//!
//! xsk-rs 0.11 builds a TX descriptor only for the address the frame had when it was received
//! (`FrameDesc` has no address setter; descriptors come only from `Umem::new` and the rings), so
//! a frame is always sent from `DATA_OFFSET` (256 bytes) in its UMEM frame. A frame whose start
//! moved in the pipeline (a VLAN tag pushed or popped) is moved back there first, within its
//! own UMEM frame, and counted as copied.
//!
//! ## Checksums
//! Frames from a veth whose sender has checksum offload on arrive with the TCP/UDP checksum
//! only begun (AF_XDP carries no "checksum partial" flag); the port completes them
//! ([`crate::offload`], counted in [`PortCounters::rx_csum_completed`]), so namespaces plugged
//! in by veth need no `ethtool -K … tx off`.
//!
//! Segmentation offload is another matter. In native mode, attaching the XDP program to a
//! veth makes Linux turn TSO/GSO off on its peer, so the namespace sends MTU-sized segments.
//! In generic mode it does not: the namespace's TCP hands its veth 64 KiB super-frames, which
//! do not fit a UMEM frame and are dropped by the kernel (counted in
//! [`XskKernelStats::rx_dropped`]), and TCP stalls. With generic mode on a veth, turn
//! segmentation off on the sending side (`ethtool -K DEV tso off gso off` in the namespace) or
//! use native mode ([`XdpMode::Auto`] picks native on veth).
//!
//! ## Unsafe code
//! All of it is in this module's submodules: [`umem`] (the frame memory), `socket` (the ring
//! calls), `queue` (frames between rings and buffers) and `detach` (libbpf calls); each block
//! says why it is sound.

mod detach;
mod queue;
mod socket;
pub mod umem;

use std::io;
use std::os::fd::RawFd;

use crate::counters::PortCounters;
use crate::packet::{Burst, PacketBuf};
use crate::port::{MacAddr, Port, PortError, Result, check_ifname};
use crate::sys::IfCtl;
use detach::XdpDetach;
use queue::{QueueSocket, TxScratch};

pub(crate) use umem::DATA_OFFSET;
pub use umem::{PORTS_PER_UMEM, SharedUmem, UmemFrame, WeakUmem};

/// Which XDP attach mode to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// Driver (native) XDP (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// Generic (skb) XDP (`XDP_FLAGS_SKB_MODE`); works on any interface.
    Generic,
    /// Native if the driver supports it, else generic.
    Auto,
}

/// Whether to use zero-copy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroCopy {
    /// Zero-copy if the driver supports it, else copy mode.
    Auto,
    /// Zero-copy or fail.
    Required,
    /// Always copy mode.
    Never,
}

/// How to open an AF_XDP port.
#[derive(Debug, Clone)]
pub struct AfXdpConfig {
    /// Existing interface to bind to (in the calling thread's network namespace).
    pub iface: String,
    /// The first queue id to bind to.
    pub queue: u32,
    /// How many queues to bind, from `queue`; `None`: every RX queue of the interface (its
    /// `ethtool -l` RX + combined channels, or 1 if the driver does not say).
    pub queues: Option<u32>,
    /// XDP attach mode.
    pub mode: XdpMode,
    /// Zero-copy policy.
    pub zero_copy: ZeroCopy,
    /// Size of each ring (RX, TX, fill, completion); a power of two. The UMEM gets twice as
    /// many frames (half for receiving, half for sending).
    pub ring_size: u32,
    /// UMEM frame size (2048 or 4096); frames longer than this minus the XDP headroom (256)
    /// cannot be received.
    pub frame_size: u32,
    /// The UMEM to bind to in copy mode, shared with other ports (`None`: one of the port's
    /// own). Used only if its frame size is `frame_size`; a full one is not joined.
    pub umem: Option<SharedUmem>,
}

impl AfXdpConfig {
    /// Every queue of `iface`, auto mode, zero-copy if possible, 2048-entry rings, 2048-byte
    /// frames.
    pub fn new(iface: &str) -> Self {
        Self {
            iface: iface.to_owned(),
            queue: 0,
            queues: None,
            mode: XdpMode::Auto,
            zero_copy: ZeroCopy::Auto,
            ring_size: 2048,
            frame_size: 2048,
            umem: None,
        }
    }
}

/// Kernel-side statistics of the socket (`XDP_STATISTICS`), separate from [`PortCounters`]:
/// these are frames the kernel dropped before this port saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XskKernelStats {
    /// Frames dropped for reasons other than invalid descriptors.
    pub rx_dropped: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty: u64,
    /// Invalid descriptors on RX.
    pub rx_invalid_descs: u64,
    /// Invalid descriptors on TX.
    pub tx_invalid_descs: u64,
}

/// Most queues one port binds.
pub const MAX_QUEUES: u32 = 64;

/// An AF_XDP port: one socket per interface queue (see the module documentation).
#[derive(Debug)]
pub struct AfXdpPort {
    name: String,
    mac: MacAddr,
    mtu: u32,
    mode: XdpMode,
    zero_copy: bool,
    ctl: IfCtl,
    // Field order matters: the sockets close (and their UMEM slots take their frames back)
    // before `_detach` detaches the XDP program.
    queues: Vec<QueueSocket>,
    /// The queue the next receive starts with (turns rotate, so none starves).
    next_rx: usize,
    tx: TxScratch,
    /// UMEM frames of other UMEMs that a receive displaced from burst buffers, dropped once
    /// the queue's UMEM is unlocked.
    displaced: Vec<UmemFrame>,
    counters: PortCounters,
    /// Detaches the XDP program the bind attached, once the sockets are closed.
    _detach: Option<XdpDetach>,
}

impl AfXdpPort {
    /// Bind to the queues of `config.iface` (see the module documentation for the fallbacks).
    pub fn open(config: &AfXdpConfig) -> Result<AfXdpPort> {
        check_ifname(&config.iface)?;
        let ctl = IfCtl::new()?;
        // Resolves the name in this thread's namespace, and fails early for a missing one.
        let mac = ctl
            .hwaddr(&config.iface)
            .map_err(|_| PortError::NoSuchInterface(config.iface.clone()))?;
        let mtu = ctl.mtu(&config.iface)?;
        let count = match config.queues {
            Some(n) => n,
            None => ctl.rx_queues(&config.iface).unwrap_or(1),
        };
        if count == 0 || count > MAX_QUEUES {
            return Err(PortError::Config(format!(
                "{count} queues for {}: bind 1 to {MAX_QUEUES}",
                config.iface
            )));
        }
        let ids = config.queue..config.queue.saturating_add(count);

        let modes: &[XdpMode] = match config.mode {
            XdpMode::Auto => &[XdpMode::Native, XdpMode::Generic],
            XdpMode::Native => &[XdpMode::Native],
            XdpMode::Generic => &[XdpMode::Generic],
        };
        let copies: &[bool] = match config.zero_copy {
            ZeroCopy::Auto => &[true, false],
            ZeroCopy::Required => &[true],
            ZeroCopy::Never => &[false],
        };
        let before = XdpDetach::attached(&config.iface);
        let mut errors = Vec::new();
        for &mode in modes {
            for &zc in copies {
                // Every queue in this mode, or none: a failed queue closes the ones bound.
                let attempt: Result<Vec<QueueSocket>> = ids
                    .clone()
                    .map(|q| QueueSocket::open(config, q, mode, zc))
                    .collect();
                match attempt {
                    Ok(queues) => {
                        let zero_copy = queues.iter().all(QueueSocket::is_zero_copy);
                        tracing::info!(
                            iface = %config.iface, queues = ?ids, ?mode, zero_copy,
                            shared_umem = queues.iter().all(QueueSocket::is_shared_umem),
                            "AF_XDP sockets bound"
                        );
                        let ring = config.ring_size as usize;
                        return Ok(AfXdpPort {
                            name: config.iface.clone(),
                            mac,
                            mtu,
                            mode,
                            zero_copy,
                            ctl,
                            queues,
                            next_rx: 0,
                            tx: TxScratch::with_capacity(ring),
                            displaced: Vec::with_capacity(ring),
                            counters: PortCounters::default(),
                            _detach: XdpDetach::arm(&config.iface, mode, before),
                        });
                    }
                    Err(e) => {
                        tracing::debug!(?mode, zero_copy = zc, error = %e, "AF_XDP bind attempt failed");
                        errors.push(format!(
                            "{mode:?}/{}: {e}",
                            if zc { "zero-copy" } else { "copy" }
                        ));
                    }
                }
            }
        }
        Err(PortError::Xdp {
            iface: config.iface.clone(),
            queue: config.queue,
            reason: errors.join("; "),
        })
    }

    /// The XDP mode the sockets ended up in ([`XdpMode::Native`] or [`XdpMode::Generic`]).
    pub fn xdp_mode(&self) -> XdpMode {
        self.mode
    }

    /// Whether every socket is bound in zero-copy mode.
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Whether the sockets share their UMEM with other ports' sockets.
    pub fn is_shared_umem(&self) -> bool {
        self.queues.iter().all(QueueSocket::is_shared_umem)
    }

    /// The queue ids the port's sockets are bound to.
    pub fn queues(&self) -> Vec<u32> {
        self.queues.iter().map(QueueSocket::queue).collect()
    }

    /// The kernel's statistics for the port's sockets, summed.
    pub fn kernel_stats(&self) -> Result<XskKernelStats> {
        let mut sum = XskKernelStats::default();
        for q in &self.queues {
            let s = q.kernel_stats()?;
            sum.rx_dropped += s.rx_dropped;
            sum.rx_ring_full += s.rx_ring_full;
            sum.rx_fill_ring_empty += s.rx_fill_ring_empty;
            sum.rx_invalid_descs += s.rx_invalid_descs;
            sum.tx_invalid_descs += s.tx_invalid_descs;
        }
        Ok(sum)
    }
}

impl Port for AfXdpPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    fn link_up(&self) -> bool {
        let want = libc::IFF_UP | libc::IFF_RUNNING;
        self.ctl
            .flags(&self.name)
            .is_ok_and(|flags| flags & want == want)
    }

    fn recv_burst(&mut self, out: &mut Burst) -> Result<usize> {
        let count = self.queues.len();
        let mut n = 0;
        for turn in 0..count {
            if out.remaining() == 0 {
                break;
            }
            let q = &mut self.queues[(self.next_rx + turn) % count];
            n += q.receive(out, self.mtu, &mut self.counters, &mut self.displaced);
            self.displaced.clear();
        }
        self.next_rx = (self.next_rx + 1) % count;
        Ok(n)
    }

    fn send_burst(&mut self, bufs: &mut [PacketBuf]) -> Result<usize> {
        // The first queue whose UMEM holds the burst's first frame sends it without copies;
        // any queue can send (one port's queues usually share one UMEM).
        let q = bufs
            .first()
            .and_then(|b| self.queues.iter().position(|q| q.owns(b)))
            .unwrap_or(0);
        self.queues[q].transmit(bufs, self.mtu, &mut self.counters, &mut self.tx)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.queues.first().map(QueueSocket::raw_fd)
    }

    /// Every queue's socket, under the one token.
    fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        for q in &self.queues {
            registry.register(
                &mut mio::unix::SourceFd(&q.raw_fd()),
                token,
                mio::Interest::READABLE,
            )?;
        }
        Ok(())
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        for q in &self.queues {
            registry.deregister(&mut mio::unix::SourceFd(&q.raw_fd()))?;
        }
        Ok(())
    }

    /// The RX ring is memory shared with the kernel: looking at it is no system call.
    fn busy_pollable(&self) -> bool {
        true
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

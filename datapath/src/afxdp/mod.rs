//! AF_XDP ports: one AF_XDP socket bound to one queue of an existing interface (xsk-rs/libxdp).
//!
//! ## Setup
//! [`AfXdpPort::open`] binds a socket to `(interface, queue)` and lets libxdp attach its default
//! XDP program, which redirects the queue's frames to the socket. The XDP mode is
//! [`XdpMode::Native`] (driver), [`XdpMode::Generic`] (skb) or [`XdpMode::Auto`] (native,
//! falling back to generic). For each mode, zero-copy is tried first unless
//! [`ZeroCopy::Never`], with a UMEM of the port's own; then copy mode (veth, for one, has no
//! zero-copy), in the [`SharedUmem`] given in [`AfXdpConfig::umem`] if any, else again in a
//! UMEM of its own. The socket uses `XDP_USE_NEED_WAKEUP`, so the fill and TX rings are kicked
//! only when the kernel asks. One port serves one queue: open one port per queue to use
//! several.
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
//! calls) and `detach` (libbpf calls); each block says why it is sound.

mod detach;
mod socket;
pub mod umem;

use std::os::fd::RawFd;
use std::sync::Arc;

use xsk_rs::FrameDesc;

use crate::counters::{DropReason, PortCounters, check_frame_len};
use crate::offload;
use crate::packet::{Burst, PacketBuf};
use crate::port::{MacAddr, Port, PortError, Result, check_ifname};
use crate::sys::IfCtl;
use detach::XdpDetach;
use socket::Rings;
use umem::{Member, Umem};

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
    /// Queue id to bind to.
    pub queue: u32,
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
    /// Queue 0 of `iface`, auto mode, zero-copy if possible, 2048-entry rings, 2048-byte frames.
    pub fn new(iface: &str) -> Self {
        Self {
            iface: iface.to_owned(),
            queue: 0,
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

/// An AF_XDP socket on one interface queue (see the module documentation).
#[derive(Debug)]
pub struct AfXdpPort {
    name: String,
    queue: u32,
    mac: MacAddr,
    mtu: u32,
    mode: XdpMode,
    zero_copy: bool,
    ctl: IfCtl,
    // Field order matters: `rings` is dropped first, closing the socket; then `member`, which
    // takes back the frames left in the socket's rings; then `_detach`.
    rings: Rings,
    member: Member,
    /// TX descriptors of the burst being sent.
    staged: Vec<FrameDesc>,
    /// For each of `staged`: whether the frame was handed over without a copy.
    handed_over: Vec<bool>,
    /// UMEM frames of other UMEMs that a receive displaced from burst buffers, dropped once
    /// this port's UMEM is unlocked.
    displaced: Vec<UmemFrame>,
    counters: PortCounters,
    /// Detaches the XDP program the bind attached, once the socket is closed.
    _detach: Option<XdpDetach>,
}

impl AfXdpPort {
    /// Bind to `config.iface`/`config.queue` (see the module documentation for the fallbacks).
    pub fn open(config: &AfXdpConfig) -> Result<AfXdpPort> {
        check_ifname(&config.iface)?;
        let ctl = IfCtl::new()?;
        // Resolves the name in this thread's namespace, and fails early for a missing one.
        let mac = ctl
            .hwaddr(&config.iface)
            .map_err(|_| PortError::NoSuchInterface(config.iface.clone()))?;
        let mtu = ctl.mtu(&config.iface)?;

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
                let attempt = Self::member(config, zc)
                    .and_then(|member| Ok((Rings::open(config, &member, mode, zc)?, member)));
                match attempt {
                    Ok((rings, member)) => {
                        let zero_copy = rings.is_zero_copy();
                        tracing::info!(
                            iface = %config.iface, queue = config.queue, ?mode, zero_copy,
                            shared_umem = member.umem.is_shared(), "AF_XDP socket bound"
                        );
                        let ring = config.ring_size as usize;
                        let mut port = AfXdpPort {
                            name: config.iface.clone(),
                            queue: config.queue,
                            mac,
                            mtu,
                            mode,
                            zero_copy,
                            ctl,
                            rings,
                            member,
                            staged: Vec::with_capacity(ring),
                            handed_over: Vec::with_capacity(ring),
                            displaced: Vec::with_capacity(ring),
                            counters: PortCounters::default(),
                            _detach: XdpDetach::arm(&config.iface, mode, before),
                        };
                        let umem = &port.member.umem;
                        port.rings.refill(umem, &mut umem.lock(), port.member.slot);
                        return Ok(port);
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

    /// The UMEM slot for an attempt: the shared UMEM for copy mode if one fits, else a UMEM of
    /// the port's own.
    fn member(config: &AfXdpConfig, zero_copy: bool) -> Result<Member> {
        let shared = config
            .umem
            .as_ref()
            .filter(|u| !zero_copy && u.0.frame_size() == config.frame_size as usize)
            .and_then(|u| u.0.join(&config.iface, config.queue));
        if let Some(member) = shared {
            return Ok(member);
        }
        if config.umem.is_some() && !zero_copy {
            tracing::info!(iface = %config.iface,
                "shared UMEM full or unsuitable; using one of the port's own");
        }
        Umem::private(config.frame_size, config.ring_size)?
            .join(&config.iface, config.queue)
            .ok_or_else(|| PortError::Config("a new UMEM refused its first port".into()))
    }

    /// The XDP mode the socket ended up in ([`XdpMode::Native`] or [`XdpMode::Generic`]).
    pub fn xdp_mode(&self) -> XdpMode {
        self.mode
    }

    /// Whether the socket is bound in zero-copy mode.
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Whether the socket shares its UMEM with other ports' sockets.
    pub fn is_shared_umem(&self) -> bool {
        self.member.umem.is_shared()
    }

    /// The queue id the socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The kernel's statistics for this socket.
    pub fn kernel_stats(&self) -> Result<XskKernelStats> {
        self.rings.kernel_stats()
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
        let umem = &self.member.umem;
        let slot = self.member.slot;
        let mut frames = umem.lock();
        self.rings.complete(umem, &mut frames, slot);
        self.rings.refill(umem, &mut frames, slot);
        self.rings.kick_fill();
        let mut n = 0;
        let descs = self.rings.receive(out.remaining());
        // The kernel wrote these frames from another CPU: load the first line of each before
        // working on any, so that the cache misses overlap instead of coming one per frame.
        for desc in descs {
            if let Some((index, start)) = umem.locate(desc) {
                // SAFETY: the frame just came off this socket's RX ring, so this port owns it
                // and nothing else writes it; the shared reference lives for this statement.
                let bytes = unsafe { umem.frame_bytes(index) };
                std::hint::black_box(bytes.get(start).copied());
            }
        }
        for desc in descs {
            let Some((index, start)) = umem.locate(desc) else {
                // The kernel returned an address outside the UMEM: nothing to take back.
                self.counters.rx_errors += 1;
                continue;
            };
            frames.took_off_ring(index, slot);
            let len = desc.lengths().data();
            let verdict = if desc.has_more_frames() {
                Err(DropReason::Fragmented)
            } else {
                check_frame_len(len, self.mtu)
            };
            let buf = match (verdict, out.next_slot()) {
                (Ok(()), Some(buf)) => buf,
                (Ok(()), None) => {
                    frames.give(index);
                    self.counters.rx_drop(DropReason::RxRingFull);
                    continue;
                }
                (Err(reason), _) => {
                    frames.give(index);
                    self.counters.rx_drop(reason);
                    continue;
                }
            };
            // The buffer takes the frame; a frame of this UMEM it held goes back to the stock.
            match buf.umem_mut() {
                Some(held) if held.is_of(umem) => frames.give(held.exchange(index)),
                _ => {
                    if let Some(other) = buf.set_umem(UmemFrame::new(Arc::clone(umem), index)) {
                        self.displaced.push(other);
                    }
                }
            }
            if buf.set_received(start, len) {
                if offload::complete_partial_checksum(buf.data_mut()) {
                    self.counters.rx_csum_completed += 1;
                }
                out.commit();
                self.counters.rx(len);
                n += 1;
            } else {
                self.counters.rx_drop(DropReason::Oversize);
            }
        }
        self.rings.refill(umem, &mut frames, slot);
        drop(frames);
        self.displaced.clear();
        Ok(n)
    }

    fn send_burst(&mut self, bufs: &mut [PacketBuf]) -> Result<usize> {
        let umem = &self.member.umem;
        let slot = self.member.slot;
        let mut frames = umem.lock();
        self.rings.complete(umem, &mut frames, slot);
        self.staged.clear();
        self.handed_over.clear();
        for buf in bufs.iter_mut() {
            let len = buf.len();
            if let Err(reason) = check_frame_len(len, self.mtu) {
                self.counters.tx_drop(reason, 1);
                continue;
            }
            let (index, zero_copy) = if buf.umem().is_some_and(|f| f.is_of(umem)) {
                // Hand the buffer's own frame over, from where a TX descriptor can point.
                let Some(moved) = buf.align_to(DATA_OFFSET) else {
                    self.counters.tx_drop(DropReason::Oversize, 1);
                    continue;
                };
                let zero_copy = !moved && !buf.copied();
                let index = match (frames.take(), buf.umem_mut()) {
                    (Some(fresh), Some(held)) => held.exchange(fresh),
                    // No free frame to give the buffer in exchange: it goes back to the heap.
                    _ => match buf.take_umem() {
                        Some(held) => held.into_index(),
                        None => continue,
                    },
                };
                buf.reset();
                (index, zero_copy)
            } else {
                let Some(index) = frames.take() else {
                    self.counters.tx_drop(DropReason::NoBuffer, 1);
                    continue;
                };
                // SAFETY: `index` was just taken from the stock, so this port owns the frame
                // and nothing else references its bytes.
                let frame = unsafe { umem.frame_bytes_mut(index) };
                match frame.get_mut(DATA_OFFSET..DATA_OFFSET + len) {
                    Some(dst) => dst.copy_from_slice(buf.data()),
                    None => {
                        frames.give(index);
                        self.counters.tx_drop(DropReason::Oversize, 1);
                        continue;
                    }
                }
                (index, false)
            };
            // SAFETY: this port owns frame `index` of its UMEM (taken from the stock or from
            // the buffer above) until it is put on the TX ring or given back below.
            let desc = unsafe { umem.desc(index, len) };
            self.staged.push(desc);
            self.handed_over.push(zero_copy);
        }
        let sent = self.rings.transmit(&self.staged);
        let mut bytes = 0;
        for (i, (desc, zero_copy)) in self.staged.iter().zip(&self.handed_over).enumerate() {
            let Some((index, _)) = umem.locate(desc) else {
                continue;
            };
            if i < sent {
                frames.put_on_ring(index, slot);
                bytes += desc.lengths().data() as u64;
                self.counters.tx_zero_copy += u64::from(*zero_copy);
            } else {
                frames.give(index);
            }
        }
        drop(frames);
        self.counters.tx_packets += sent as u64;
        self.counters.tx_bytes += bytes;
        let unsent = (self.staged.len() - sent) as u64;
        if unsent > 0 {
            self.counters.tx_drop(DropReason::TxRingFull, unsent);
        }
        if let Err(e) = self.rings.kick_tx(sent) {
            self.counters.tx_errors += 1;
            return Err(PortError::io("sendto(AF_XDP) wakeup", e));
        }
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.rings.raw_fd())
    }

    /// The RX ring is memory shared with the kernel: looking at it is no system call.
    fn busy_pollable(&self) -> bool {
        true
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

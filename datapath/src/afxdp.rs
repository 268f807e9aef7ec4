//! AF_XDP ports: one AF_XDP socket bound to one queue of an existing interface (xsk-rs/libxdp).
//!
//! ## Setup
//! [`AfXdpPort::open`] makes a UMEM for the socket alone (no sharing), binds the socket to
//! `(interface, queue)` and lets libxdp attach its default XDP program, which redirects the
//! queue's frames to the socket. The XDP mode is [`XdpMode::Native`] (driver), [`XdpMode::Generic`]
//! (skb) or [`XdpMode::Auto`] (native, falling back to generic); zero-copy is tried first unless
//! [`ZeroCopy::Never`], falling back to copy mode (veth, for one, has no zero-copy). The socket
//! uses `XDP_USE_NEED_WAKEUP`, so the fill and TX rings are kicked only when the kernel asks.
//! One port serves one queue: open one port per queue to use several.
//!
//! ## Frame ownership
//! The UMEM's frames are split in two fixed halves: RX frames circulate between the fill ring,
//! the RX ring and this port; TX frames between this port's free list, the TX ring and the
//! completion ring. xsk-rs leaves "who may touch which frame when" to its callers (its ring and
//! data accessors are `unsafe`); the private `xsk` module below turns that rule into types: an
//! `OwnedFrame` is a non-`Clone` handle that exists only while the frame is out of every ring,
//! rings are produced to by moving handles in and consumed from by getting handles out, and the
//! frame's bytes are reachable only through a handle. That module holds all the unsafe code.
//!
//! ## Copies
//! Received frames are copied from the UMEM into the caller's [`Burst`] buffers, and sent frames
//! from [`PacketBuf`]s into TX frames: one `memcpy` each way, no allocation. (The UMEM frame
//! cannot become a `PacketBuf` without copying: xsk-rs fixes a frame's start address, so the
//! headroom pushes a `PacketBuf` promises could not be expressed as a TX descriptor.)

use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};

use crate::counters::{DropReason, PortCounters, check_frame_len};
use crate::packet::{Burst, PacketBuf};
use crate::port::{MacAddr, Port, PortError, Result, check_ifname};
use crate::sys::IfCtl;

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
    xsk: xsk::Xsk,
    /// RX frames owned by us, waiting to go back to the fill ring.
    rx_free: Vec<xsk::OwnedFrame>,
    /// RX frames just taken from the RX ring.
    rx_pending: Vec<xsk::OwnedFrame>,
    /// TX frames owned by us and free to write.
    tx_free: Vec<xsk::OwnedFrame>,
    /// TX frames written and waiting to go on the TX ring.
    tx_ready: Vec<xsk::OwnedFrame>,
    counters: PortCounters,
    /// Detaches the XDP program the bind attached; declared after `xsk` so that it runs once
    /// the socket is closed.
    _detach: Option<xsk::XdpDetach>,
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
        let before = xsk::XdpDetach::attached(&config.iface);
        let mut errors = Vec::new();
        for &mode in modes {
            for &zc in copies {
                match xsk::Xsk::open(config, mode, zc) {
                    Ok((xsk, rx_frames, tx_frames)) => {
                        tracing::info!(
                            iface = %config.iface, queue = config.queue, ?mode, zero_copy = zc,
                            "AF_XDP socket bound"
                        );
                        let ring = config.ring_size as usize;
                        let mut port = AfXdpPort {
                            name: config.iface.clone(),
                            queue: config.queue,
                            mac,
                            mtu,
                            mode,
                            zero_copy: zc,
                            ctl,
                            xsk,
                            rx_free: rx_frames,
                            rx_pending: Vec::with_capacity(ring),
                            tx_free: tx_frames,
                            tx_ready: Vec::with_capacity(ring),
                            counters: PortCounters::default(),
                            _detach: xsk::XdpDetach::arm(&config.iface, mode, before),
                        };
                        port.xsk.fill(&mut port.rx_free);
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

    /// The XDP mode the socket ended up in ([`XdpMode::Native`] or [`XdpMode::Generic`]).
    pub fn xdp_mode(&self) -> XdpMode {
        self.mode
    }

    /// Whether the socket is bound in zero-copy mode.
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// The queue id the socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The kernel's statistics for this socket.
    pub fn kernel_stats(&self) -> Result<XskKernelStats> {
        self.xsk.kernel_stats()
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
        self.xsk.fill(&mut self.rx_free);
        self.xsk.kick_fill();
        if self.xsk.receive(&mut self.rx_pending, out.remaining()) == 0 {
            return Ok(0);
        }
        let mut n = 0;
        for frame in self.rx_pending.drain(..) {
            let data = self.xsk.data(&frame);
            let verdict = if frame.is_fragment() {
                Err(DropReason::Fragmented)
            } else {
                check_frame_len(data.len(), self.mtu)
            };
            match verdict {
                Ok(()) => match out.next_slot().map(|slot| slot.set_frame(data)) {
                    Some(true) => {
                        out.commit();
                        self.counters.rx(data.len());
                        n += 1;
                    }
                    Some(false) => self.counters.rx_drop(DropReason::Oversize),
                    None => self.counters.rx_drop(DropReason::RxRingFull),
                },
                Err(reason) => self.counters.rx_drop(reason),
            }
            self.rx_free.push(frame);
        }
        self.xsk.fill(&mut self.rx_free);
        Ok(n)
    }

    fn send_burst(&mut self, frames: &mut [PacketBuf]) -> Result<usize> {
        self.xsk.complete(&mut self.tx_free);
        for pkt in frames.iter() {
            if let Err(reason) = check_frame_len(pkt.len(), self.mtu) {
                self.counters.tx_drop(reason, 1);
                continue;
            }
            let Some(mut frame) = self.tx_free.pop() else {
                self.counters.tx_drop(DropReason::NoBuffer, 1);
                continue;
            };
            if self.xsk.write(&mut frame, pkt.data()) {
                self.tx_ready.push(frame);
            } else {
                self.counters.tx_drop(DropReason::Oversize, 1);
                self.tx_free.push(frame);
            }
        }
        let (sent, bytes) = self.xsk.transmit(&mut self.tx_ready);
        self.counters.tx_packets += sent as u64;
        self.counters.tx_bytes += bytes;
        let unsent = self.tx_ready.len() as u64;
        if unsent > 0 {
            self.counters.tx_drop(DropReason::TxRingFull, unsent);
            self.tx_free.append(&mut self.tx_ready);
        }
        if let Err(e) = self.xsk.kick_tx() {
            self.counters.tx_errors += 1;
            return Err(PortError::io("sendto(AF_XDP) wakeup", e));
        }
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.xsk.raw_fd())
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

/// xsk-rs behind owned frame handles: the only unsafe code of the AF_XDP port.
mod xsk {
    use super::*;
    use std::ffi::CString;
    use std::fs::File;

    /// Removes, when dropped, the XDP program libxdp attached to an interface for the port's
    /// socket. libxdp removes it itself only when it could load its multi-program dispatcher;
    /// when it falls back to attaching its socket program alone, closing the socket leaves the
    /// program attached. It is detached only if the interface had no XDP program before the
    /// port was opened and still has the one seen after, and in the network namespace the
    /// port was opened in (interface indexes are per namespace; the drop may run elsewhere).
    #[derive(Debug)]
    pub(super) struct XdpDetach {
        netns: File,
        ifindex: libc::c_int,
        flags: u32,
        prog_id: u32,
    }

    fn ifindex(iface: &str) -> Option<libc::c_int> {
        let name = CString::new(iface).ok()?;
        // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        libc::c_int::try_from(index).ok().filter(|&i| i > 0)
    }

    /// The id of the XDP program attached to `ifindex` in `flags`' mode (0: any), if any.
    fn query(ifindex: libc::c_int, flags: u32) -> Option<u32> {
        let mut id = 0u32;
        // SAFETY: `id` is a valid, exclusively borrowed u32 for libbpf to write the id into;
        // the call only reads the other (plain) arguments.
        let rc = unsafe { libxdp_sys::bpf_xdp_query_id(ifindex, flags as libc::c_int, &mut id) };
        (rc == 0 && id != 0).then_some(id)
    }

    /// `XDP_FLAGS_SKB_MODE` and `XDP_FLAGS_DRV_MODE` of `<linux/if_link.h>`.
    fn mode_flags(mode: XdpMode) -> u32 {
        match mode {
            XdpMode::Native => 1 << 2,
            XdpMode::Generic | XdpMode::Auto => 1 << 1,
        }
    }

    impl XdpDetach {
        /// Whether `iface` (in this thread's namespace) has an XDP program attached now.
        pub(super) fn attached(iface: &str) -> bool {
            ifindex(iface).is_some_and(|i| query(i, 0).is_some())
        }

        /// Remember the program now attached to `iface` in `mode`, unless one was attached
        /// before the port was opened (`before`).
        pub(super) fn arm(iface: &str, mode: XdpMode, before: bool) -> Option<XdpDetach> {
            if before {
                return None;
            }
            let ifindex = ifindex(iface)?;
            let flags = mode_flags(mode);
            let prog_id = query(ifindex, flags)?;
            let netns = File::open("/proc/thread-self/ns/net").ok()?;
            Some(XdpDetach {
                netns,
                ifindex,
                flags,
                prog_id,
            })
        }

        fn detach(&self) {
            // SAFETY: `netns` is an open namespace file; setns(2) changes only the calling
            // thread's namespace, and this thread is a short-lived one of our own.
            if unsafe { libc::setns(self.netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return;
            }
            if query(self.ifindex, self.flags) == Some(self.prog_id) {
                // SAFETY: plain arguments; a null `opts` is documented as "no options".
                let rc = unsafe {
                    libxdp_sys::bpf_xdp_detach(self.ifindex, self.flags, std::ptr::null())
                };
                if rc != 0 {
                    tracing::warn!(ifindex = self.ifindex, rc, "detaching XDP program failed");
                }
            }
        }
    }

    impl Drop for XdpDetach {
        fn drop(&mut self) {
            std::thread::scope(|s| {
                s.spawn(|| self.detach());
            });
        }
    }
    use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

    /// A UMEM frame that is in no ring: this process may read and write it.
    ///
    /// Invariants, kept by this module alone (nothing outside it can make one):
    /// - a handle is made only from a descriptor `Umem::new` returned for this socket's UMEM,
    ///   or one the RX or completion ring handed back, so it always names a frame of the one
    ///   UMEM of the `Xsk` it came from (each `AfXdpPort` has exactly one `Xsk` and keeps its
    ///   handles to itself);
    /// - there is at most one handle per frame, and none while the frame is in a ring: handles
    ///   are not `Clone`, and producing to a ring consumes them.
    #[derive(Debug)]
    pub(super) struct OwnedFrame(FrameDesc);

    impl OwnedFrame {
        /// True if the kernel split the packet and more frames follow (multi-buffer).
        pub(super) fn is_fragment(&self) -> bool {
            self.0.has_more_frames()
        }
    }

    /// One AF_XDP socket, its UMEM and its four rings.
    #[derive(Debug)]
    pub(super) struct Xsk {
        // Queues first: each holds a handle on the socket and UMEM, which are deleted when
        // the last handle goes, so the field order is not load-bearing; it only reads right.
        rx: RxQueue,
        tx: TxQueue,
        fill: FillQueue,
        comp: CompQueue,
        umem: Umem,
        /// Reused descriptor array for ring calls (never grows past the ring size).
        scratch: Vec<FrameDesc>,
    }

    fn qsize(n: u32) -> Result<QueueSize> {
        QueueSize::new(n).map_err(|e| PortError::Config(format!("ring size {n}: {e}")))
    }

    impl Xsk {
        /// A new UMEM and socket on `config.iface`/`config.queue` in `mode`, zero-copy or
        /// copy; returns the socket and the handles of its RX and TX frames.
        pub(super) fn open(
            config: &AfXdpConfig,
            mode: XdpMode,
            zero_copy: bool,
        ) -> Result<(Xsk, Vec<OwnedFrame>, Vec<OwnedFrame>)> {
            let ring = config.ring_size;
            let xdp_err = |reason: String| PortError::Xdp {
                iface: config.iface.clone(),
                queue: config.queue,
                reason,
            };
            let frame_size = FrameSize::new(config.frame_size)
                .map_err(|e| PortError::Config(format!("frame size: {e}")))?;
            let umem_config = UmemConfig::builder()
                .frame_size(frame_size)
                .fill_queue_size(qsize(ring)?)
                .comp_queue_size(qsize(ring)?)
                .frame_headroom(0)
                .build()
                .map_err(|e| PortError::Config(format!("UMEM: {e}")))?;
            let frame_count = ring
                .checked_mul(2)
                .and_then(NonZeroU32::new)
                .ok_or_else(|| PortError::Config(format!("ring size {ring}")))?;
            let (umem, descs) = Umem::new(umem_config, frame_count, false)
                .map_err(|e| xdp_err(format!("UMEM: {e}")))?;

            let xdp_flags = match mode {
                XdpMode::Native => XdpFlags::XDP_FLAGS_DRV_MODE,
                XdpMode::Generic | XdpMode::Auto => XdpFlags::XDP_FLAGS_SKB_MODE,
            };
            let copy_flag = if zero_copy {
                BindFlags::XDP_ZEROCOPY
            } else {
                BindFlags::XDP_COPY
            };
            let socket_config = SocketConfig::builder()
                .rx_queue_size(qsize(ring)?)
                .tx_queue_size(qsize(ring)?)
                .libxdp_flags(LibxdpFlags::empty())
                .xdp_flags(xdp_flags)
                .bind_flags(copy_flag | BindFlags::XDP_USE_NEED_WAKEUP)
                .build();
            let iface: Interface = config
                .iface
                .parse()
                .map_err(|_| PortError::BadName(config.iface.clone()))?;
            // SAFETY: xsk-rs requires XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD only when the UMEM is
            // shared and the (interface, queue) pair is already bound from it. This UMEM was
            // created just above and is used for this one socket only, so neither holds.
            let (tx, rx, rings) =
                unsafe { Socket::new(socket_config, &umem, &iface, config.queue) }
                    .map_err(|e| xdp_err(format!("socket: {e}")))?;
            let (fill, comp) =
                rings.ok_or_else(|| xdp_err("no fill/completion ring for a new UMEM".into()))?;

            let mut frames = descs.into_iter().map(OwnedFrame);
            let rx_frames: Vec<OwnedFrame> = frames.by_ref().take(ring as usize).collect();
            let tx_frames: Vec<OwnedFrame> = frames.collect();
            let xsk = Xsk {
                rx,
                tx,
                fill,
                comp,
                umem,
                scratch: Vec::with_capacity(ring as usize),
            };
            Ok((xsk, rx_frames, tx_frames))
        }

        /// The socket's descriptor (readable when the RX ring has frames).
        pub(super) fn raw_fd(&self) -> RawFd {
            self.rx.fd().as_raw_fd()
        }

        /// Copy the descriptors of `frames[from..]` into the scratch array.
        fn stage(&mut self, frames: &[OwnedFrame], from: usize) {
            self.scratch.clear();
            self.scratch.extend(frames[from..].iter().map(|f| f.0));
        }

        /// Move as many frames from the end of `frames` onto the fill ring as fit.
        pub(super) fn fill(&mut self, frames: &mut Vec<OwnedFrame>) -> usize {
            let want = frames.len() as u32;
            let n = self.fill.nb_free(want).min(want) as usize;
            if n == 0 {
                return 0;
            }
            let from = frames.len() - n;
            self.stage(frames, from);
            // SAFETY: every descriptor staged comes from an `OwnedFrame` of this UMEM, and
            // owning it means the frame is in no ring and nothing else reads or writes it. The
            // handles of the frames produced are dropped right below, so the frames are not
            // touched again until the RX ring hands them back.
            let done = unsafe { self.fill.produce(&self.scratch) };
            frames.drain(from..from + done);
            done
        }

        /// Wake the kernel to process the fill ring, if it asked to be woken.
        pub(super) fn kick_fill(&mut self) {
            if self.fill.needs_wakeup() {
                // A failed poll only delays reception until the next call.
                let _ = self.fill.wakeup(self.rx.fd_mut(), 0);
            }
        }

        /// Take up to `max` received frames off the RX ring, appending them to `out`.
        pub(super) fn receive(&mut self, out: &mut Vec<OwnedFrame>, max: usize) -> usize {
            let max = max.min(self.scratch.capacity());
            self.scratch.clear();
            self.scratch.resize(max, FrameDesc::default());
            // SAFETY: the RX ring of this socket only holds frames of this UMEM (we filled it
            // with them), so the descriptors written into `scratch` name frames of this UMEM
            // that the kernel has finished with.
            let n = unsafe { self.rx.consume(&mut self.scratch) };
            out.extend(self.scratch[..n].iter().copied().map(OwnedFrame));
            n
        }

        /// Move frames from the front of `frames` onto the TX ring, as many as fit; returns
        /// how many and their total length. Unsent frames stay in `frames`.
        pub(super) fn transmit(&mut self, frames: &mut Vec<OwnedFrame>) -> (usize, u64) {
            let want = frames.len() as u32;
            let n = self.tx.nb_free(want).min(want) as usize;
            if n == 0 {
                return (0, 0);
            }
            self.scratch.clear();
            self.scratch.extend(frames[..n].iter().map(|f| f.0));
            // SAFETY: as in `fill`: the descriptors come from owned handles of this UMEM's
            // frames, and the handles of the produced frames are dropped right below, so the
            // frames are untouched until the completion ring returns them.
            let done = unsafe { self.tx.produce(&self.scratch) };
            let bytes = self.scratch[..done]
                .iter()
                .map(|d| d.lengths().data() as u64)
                .sum();
            frames.drain(..done);
            (done, bytes)
        }

        /// Wake the kernel to send what is on the TX ring, if it asked to be woken (in copy
        /// mode it always does while frames wait; the call is cheap when it did not).
        pub(super) fn kick_tx(&mut self) -> io::Result<()> {
            if self.tx.needs_wakeup() {
                self.tx.wakeup()?;
            }
            Ok(())
        }

        /// Take frames the kernel has finished sending off the completion ring.
        pub(super) fn complete(&mut self, out: &mut Vec<OwnedFrame>) -> usize {
            self.scratch.clear();
            self.scratch
                .resize(self.scratch.capacity(), FrameDesc::default());
            // SAFETY: the completion ring only returns frames this socket put on its TX ring,
            // all of this UMEM.
            let n = unsafe { self.comp.consume(&mut self.scratch) };
            out.extend(self.scratch[..n].iter().copied().map(OwnedFrame));
            n
        }

        /// The bytes of a frame we own.
        pub(super) fn data<'a>(&'a self, frame: &'a OwnedFrame) -> &'a [u8] {
            // SAFETY: `frame` names a frame of this UMEM in no ring, so the kernel does not
            // write it; the shared borrow of its only handle excludes any `write` meanwhile.
            unsafe { self.umem.data(&frame.0) }.contents()
        }

        /// Replace a frame's bytes with `bytes`; false if it does not fit the frame.
        pub(super) fn write(&self, frame: &mut OwnedFrame, bytes: &[u8]) -> bool {
            // SAFETY: `frame` names a frame of this UMEM in no ring, so the kernel neither
            // reads nor writes it; the exclusive borrow of its only handle excludes any other
            // access from this process.
            let mut data = unsafe { self.umem.data_mut(&mut frame.0) };
            let mut cursor = data.cursor();
            if bytes.len() > cursor.buf_len() {
                return false;
            }
            cursor.set_pos(0);
            io::Write::write_all(&mut cursor, bytes).is_ok()
        }

        pub(super) fn kernel_stats(&self) -> Result<XskKernelStats> {
            let s = self
                .rx
                .fd()
                .xdp_statistics()
                .map_err(|e| PortError::io("getsockopt(XDP_STATISTICS)", e))?;
            Ok(XskKernelStats {
                rx_dropped: s.rx_dropped(),
                rx_ring_full: s.rx_ring_full(),
                rx_fill_ring_empty: s.rx_fill_ring_empty_descs(),
                rx_invalid_descs: s.rx_invalid_descs(),
                tx_invalid_descs: s.tx_invalid_descs(),
            })
        }
    }
}

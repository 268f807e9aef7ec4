//! One AF_XDP socket and its four rings, moving frames of a [`Umem`] by index.
//!
//! xsk-rs leaves "who may touch which frame when" to its callers (its ring calls are
//! `unsafe`). Here a frame goes onto a ring only from the caller's hands (taken from the stock
//! or from a [`crate::afxdp::UmemFrame`]) and comes off one into the caller's hands, and the
//! UMEM's owner tags follow it, so each frame is in one place at a time (see [`super::umem`]).

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use xsk_rs::config::{BindFlags, Interface, LibxdpFlags, QueueSize, SocketConfig, XdpFlags};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue};

use super::umem::{Frames, Member, PortSlot, Umem};
use super::{AfXdpConfig, XdpMode, XskKernelStats};
use crate::port::{PortError, Result};

/// Most frames one `sendto(2)` makes the kernel send in copy mode (`TX_BATCH_SIZE` in
/// `net/xdp/xsk.c`).
const TX_BATCH_SIZE: usize = 32;

fn qsize(n: u32) -> Result<QueueSize> {
    QueueSize::new(n).map_err(|e| PortError::Config(format!("ring size {n}: {e}")))
}

/// An AF_XDP socket bound to one interface queue, and its rings.
#[derive(Debug)]
pub(super) struct Rings {
    rx: RxQueue,
    tx: TxQueue,
    fill: FillQueue,
    comp: CompQueue,
    /// Descriptors consumed from the RX or completion ring (fixed length: the ring size).
    consumed: Box<[FrameDesc]>,
    /// Descriptors to produce to the fill ring (never grows past the ring size).
    to_fill: Vec<FrameDesc>,
}

impl Rings {
    /// A socket on `config.iface`/`queue` from `member`'s UMEM, in XDP `mode`. A
    /// socket that is its UMEM's first binds zero-copy or copy (`zero_copy`); one joining a
    /// shared UMEM gets the mode of the UMEM's first socket.
    pub(super) fn open(
        config: &AfXdpConfig,
        queue: u32,
        member: &Member,
        mode: XdpMode,
        zero_copy: bool,
    ) -> Result<Rings> {
        let ring = config.ring_size;
        let xdp_err = |reason: String| PortError::Xdp {
            iface: config.iface.clone(),
            queue,
            reason,
        };
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
        // A socket closed a moment ago keeps its queue busy until the kernel's workqueue
        // releases its buffer pool: a port removed and added again (or reopened in another
        // mode) waits that out, up to a second.
        let mut busy_retries = 20;
        let (tx, rx, rings) = loop {
            // SAFETY: xsk-rs requires XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD only when the UMEM is
            // shared and the (interface, queue) pair is already bound from it. `member` is
            // this socket's slot, which `Umem::join` grants only if no other socket of the
            // UMEM serves this (namespace, interface, queue).
            match unsafe { Socket::new(socket_config, member.umem.xsk(), &iface, queue) } {
                Ok(socket) => break socket,
                Err(e) => {
                    let busy = std::error::Error::source(&e)
                        .and_then(|c| c.downcast_ref::<io::Error>())
                        .is_some_and(|c| c.raw_os_error() == Some(libc::EBUSY));
                    if busy && busy_retries > 0 {
                        busy_retries -= 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        continue;
                    }
                    let cause = std::error::Error::source(&e)
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default();
                    let hint = if busy {
                        " (another AF_XDP socket holds this queue: another program, or another port on this interface)"
                    } else {
                        ""
                    };
                    return Err(xdp_err(format!("socket: {e}{cause}{hint}")));
                }
            }
        };
        let (fill, comp) = rings.ok_or_else(|| xdp_err("no fill/completion ring".into()))?;
        let size = ring.max(member.umem.ring_size()) as usize;
        Ok(Rings {
            rx,
            tx,
            fill,
            comp,
            consumed: vec![FrameDesc::default(); size].into_boxed_slice(),
            to_fill: Vec::with_capacity(size),
        })
    }

    /// The socket's descriptor (readable when the RX ring has frames).
    pub(super) fn raw_fd(&self) -> RawFd {
        self.rx.fd().as_raw_fd()
    }

    /// Move free frames from the stock onto the fill ring, as many as it has room for.
    pub(super) fn refill(&mut self, umem: &Umem, frames: &mut Frames, slot: PortSlot) -> usize {
        let room = self.fill.nb_free(umem.ring_size()) as usize;
        let n = room.min(frames.free()).min(self.to_fill.capacity());
        if n == 0 {
            return 0;
        }
        self.to_fill.clear();
        for _ in 0..n {
            if let Some(index) = frames.take() {
                self.to_fill.push(umem.fill_desc(index));
                frames.put_on_ring(index, slot);
            }
        }
        // SAFETY: every descriptor staged names a frame of this socket's UMEM just taken from
        // the stock, so nothing else reads or writes it; its owner tag now says it is in this
        // socket's rings, and it is not touched again until the RX ring hands it back. `n`
        // does not exceed the free room, so all of them are produced.
        let done = unsafe { self.fill.produce(&self.to_fill) };
        for desc in &self.to_fill[done..] {
            // Not produced after all: back to the stock.
            if let Some((index, _)) = umem.locate(desc) {
                frames.took_off_ring(index, slot);
                frames.give(index);
            }
        }
        done
    }

    /// Wake the kernel to process the fill ring, if it asked to be woken.
    pub(super) fn kick_fill(&mut self) {
        if self.fill.needs_wakeup() {
            // A failed poll only delays reception until the next call.
            let _ = self.fill.wakeup(self.rx.fd_mut(), 0);
        }
    }

    /// Take up to `max` received frames off the RX ring. The frames named by the returned
    /// descriptors are the caller's: it must record them with [`Frames::took_off_ring`] and then
    /// keep, send or free each.
    pub(super) fn receive(&mut self, max: usize) -> &[FrameDesc] {
        let max = max.min(self.consumed.len());
        // SAFETY: the RX ring of this socket only holds frames of its UMEM (the fill ring was
        // given only those), so the descriptors written into `consumed` name frames of this
        // UMEM the kernel has finished with.
        let n = unsafe { self.rx.consume(&mut self.consumed[..max]) };
        &self.consumed[..n]
    }

    /// Put `descs` (frames the caller owns, of this socket's UMEM) on the TX ring, from the
    /// front, as many as fit; returns how many. The caller records the frames produced as in
    /// this socket's rings and keeps the others.
    pub(super) fn transmit(&mut self, descs: &[FrameDesc]) -> usize {
        let want = descs.len() as u32;
        let n = self.tx.nb_free(want).min(want) as usize;
        if n == 0 {
            return 0;
        }
        // SAFETY: the descriptors name frames of this socket's UMEM that the caller owns
        // (taken from the stock or off a ring, not given away) and does not touch again until
        // the completion ring returns them.
        unsafe { self.tx.produce(&descs[..n]) }
    }

    /// Wake the kernel to send the `pending` frames on the TX ring, if it asked to be woken
    /// (in copy mode it always does while frames wait).
    ///
    /// In copy mode one `sendto(2)` sends at most 32 frames (the kernel's `TX_BATCH_SIZE`)
    /// and fails with `EAGAIN` while more wait, so this calls it until it succeeds, once per
    /// 32 frames and once more at most: a burst of 64 needs two or three calls, not one per
    /// burst with the rest left to fill the ring. (`EAGAIN` also means the completion ring is
    /// full; the bound keeps that from spinning.) `ENOBUFS`, `EBUSY` and `ENETDOWN` (the
    /// device cannot take more now) end the kicking quietly, as in libxdp's examples.
    pub(super) fn kick_tx(&mut self, pending: usize) -> io::Result<()> {
        if !self.tx.needs_wakeup() {
            return Ok(());
        }
        for _ in 0..=pending.div_ceil(TX_BATCH_SIZE) {
            // SAFETY: sendto(2) with a null buffer of length 0 and no address reads no memory;
            // the descriptor is this socket's, open while `self.rx` lives.
            let rc = unsafe {
                libc::sendto(
                    self.raw_fd(),
                    std::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    std::ptr::null(),
                    0,
                )
            };
            if rc >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                Some(libc::ENOBUFS | libc::EBUSY | libc::ENETDOWN) => return Ok(()),
                _ => return Err(err),
            }
        }
        Ok(())
    }

    /// Take the frames the kernel has finished sending off the completion ring and put them
    /// back in the stock; returns how many.
    pub(super) fn complete(&mut self, umem: &Umem, frames: &mut Frames, slot: PortSlot) -> usize {
        // SAFETY: the completion ring only returns frames this socket put on its TX ring, all
        // of its UMEM.
        let n = unsafe { self.comp.consume(&mut self.consumed) };
        for desc in &self.consumed[..n] {
            if let Some((index, _)) = umem.locate(desc) {
                frames.took_off_ring(index, slot);
                frames.give(index);
            }
        }
        n
    }

    /// Whether the kernel bound the socket in zero-copy mode (`XDP_OPTIONS`).
    pub(super) fn is_zero_copy(&self) -> bool {
        let mut opts = libxdp_sys::xdp_options { flags: 0 };
        let mut len = std::mem::size_of_val(&opts) as libc::socklen_t;
        // SAFETY: getsockopt(2) writes at most `len` bytes into `opts`, a valid, exclusively
        // borrowed `xdp_options`, and `len` is its size; the descriptor is open (owned by
        // `self.rx`).
        let rc = unsafe {
            libc::getsockopt(
                self.raw_fd(),
                libc::SOL_XDP,
                libxdp_sys::XDP_OPTIONS as libc::c_int,
                (&raw mut opts).cast(),
                &mut len,
            )
        };
        rc == 0 && opts.flags & libxdp_sys::XDP_OPTIONS_ZEROCOPY != 0
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

//! One queue of an AF_XDP port: a socket bound to one interface queue, its UMEM slot, and the
//! burst receive and transmit that move frames between its rings and [`PacketBuf`]s (see the
//! parent module for how frames change hands without copies).

use std::os::fd::RawFd;
use std::sync::Arc;

use xsk_rs::FrameDesc;

use super::socket::Rings;
use super::umem::{Member, Umem};
use super::{AfXdpConfig, DATA_OFFSET, UmemFrame, XdpMode, XskKernelStats};
use crate::counters::{DropReason, PortCounters, check_frame_len};
use crate::offload;
use crate::packet::{Burst, PacketBuf};
use crate::port::{PortError, Result};

/// A socket on one queue of the port's interface.
#[derive(Debug)]
pub(super) struct QueueSocket {
    queue: u32,
    // Field order matters: `rings` is dropped first, closing the socket; then `member`, which
    // takes back the frames left in the socket's rings.
    rings: Rings,
    member: Member,
}

/// What the queues of one port share while sending: the TX descriptors of the burst and, for
/// each, whether its frame was handed over without a copy.
#[derive(Debug, Default)]
pub(super) struct TxScratch {
    staged: Vec<FrameDesc>,
    handed_over: Vec<bool>,
}

impl TxScratch {
    pub(super) fn with_capacity(n: usize) -> TxScratch {
        TxScratch {
            staged: Vec::with_capacity(n),
            handed_over: Vec::with_capacity(n),
        }
    }
}

impl QueueSocket {
    /// Binds a socket to `config.iface`/`queue` in `mode`, zero-copy or not, with its fill
    /// ring stocked.
    pub(super) fn open(
        config: &AfXdpConfig,
        queue: u32,
        mode: XdpMode,
        zero_copy: bool,
    ) -> Result<QueueSocket> {
        let member = Self::member(config, queue, zero_copy)?;
        let rings = Rings::open(config, queue, &member, mode, zero_copy)?;
        let mut q = QueueSocket {
            queue,
            rings,
            member,
        };
        let umem = &q.member.umem;
        q.rings.refill(umem, &mut umem.lock(), q.member.slot);
        Ok(q)
    }

    /// The UMEM slot for a socket: the shared UMEM for copy mode if one fits, else a UMEM of
    /// the socket's own.
    fn member(config: &AfXdpConfig, queue: u32, zero_copy: bool) -> Result<Member> {
        let shared = config
            .umem
            .as_ref()
            .filter(|u| !zero_copy && u.0.frame_size() == config.frame_size as usize)
            .and_then(|u| u.0.join(&config.iface, queue));
        if let Some(member) = shared {
            return Ok(member);
        }
        if config.umem.is_some() && !zero_copy {
            tracing::info!(iface = %config.iface, queue,
                "shared UMEM full or unsuitable; using one of the queue's own");
        }
        Umem::private(config.frame_size, config.ring_size)?
            .join(&config.iface, queue)
            .ok_or_else(|| PortError::Config("a new UMEM refused its first socket".into()))
    }

    pub(super) fn queue(&self) -> u32 {
        self.queue
    }

    pub(super) fn is_zero_copy(&self) -> bool {
        self.rings.is_zero_copy()
    }

    pub(super) fn is_shared_umem(&self) -> bool {
        self.member.umem.is_shared()
    }

    pub(super) fn raw_fd(&self) -> RawFd {
        self.rings.raw_fd()
    }

    pub(super) fn kernel_stats(&self) -> Result<XskKernelStats> {
        self.rings.kernel_stats()
    }

    /// Appends up to `out.remaining()` frames from the RX ring to `out`; returns how many.
    /// Frames of other UMEMs that the burst's buffers held go to `displaced`, for the caller
    /// to drop once this UMEM is unlocked.
    pub(super) fn receive(
        &mut self,
        out: &mut Burst,
        mtu: u32,
        counters: &mut PortCounters,
        displaced: &mut Vec<UmemFrame>,
    ) -> usize {
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
                counters.rx_errors += 1;
                continue;
            };
            frames.took_off_ring(index, slot);
            let len = desc.lengths().data();
            let verdict = if desc.has_more_frames() {
                Err(DropReason::Fragmented)
            } else {
                check_frame_len(len, mtu)
            };
            let buf = match (verdict, out.next_slot()) {
                (Ok(()), Some(buf)) => buf,
                (Ok(()), None) => {
                    frames.give(index);
                    counters.rx_drop(DropReason::RxRingFull);
                    continue;
                }
                (Err(reason), _) => {
                    frames.give(index);
                    counters.rx_drop(reason);
                    continue;
                }
            };
            // The buffer takes the frame; a frame of this UMEM it held goes back to the stock.
            match buf.umem_mut() {
                Some(held) if held.is_of(umem) => frames.give(held.exchange(index)),
                _ => {
                    if let Some(other) = buf.set_umem(UmemFrame::new(Arc::clone(umem), index)) {
                        displaced.push(other);
                    }
                }
            }
            if buf.set_received(start, len) {
                if offload::complete_partial_checksum(buf.data_mut()) {
                    counters.rx_csum_completed += 1;
                }
                out.commit();
                counters.rx(len);
                n += 1;
            } else {
                counters.rx_drop(DropReason::Oversize);
            }
        }
        self.rings.refill(umem, &mut frames, slot);
        n
    }

    /// Puts `bufs` on the TX ring (handing over frames of this UMEM, copying the others) and
    /// wakes the kernel; returns how many were sent. What is not sent is dropped and counted.
    pub(super) fn transmit(
        &mut self,
        bufs: &mut [PacketBuf],
        mtu: u32,
        counters: &mut PortCounters,
        scratch: &mut TxScratch,
    ) -> Result<usize> {
        let umem = &self.member.umem;
        let slot = self.member.slot;
        let mut frames = umem.lock();
        self.rings.complete(umem, &mut frames, slot);
        scratch.staged.clear();
        scratch.handed_over.clear();
        for buf in bufs.iter_mut() {
            let len = buf.len();
            if let Err(reason) = check_frame_len(len, mtu) {
                counters.tx_drop(reason, 1);
                continue;
            }
            let (index, zero_copy) = if buf.umem().is_some_and(|f| f.is_of(umem)) {
                // Hand the buffer's own frame over, from where a TX descriptor can point.
                let Some(moved) = buf.align_to(DATA_OFFSET) else {
                    counters.tx_drop(DropReason::Oversize, 1);
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
                    counters.tx_drop(DropReason::NoBuffer, 1);
                    continue;
                };
                // SAFETY: `index` was just taken from the stock, so this port owns the frame
                // and nothing else references its bytes.
                let frame = unsafe { umem.frame_bytes_mut(index) };
                match frame.get_mut(DATA_OFFSET..DATA_OFFSET + len) {
                    Some(dst) => dst.copy_from_slice(buf.data()),
                    None => {
                        frames.give(index);
                        counters.tx_drop(DropReason::Oversize, 1);
                        continue;
                    }
                }
                (index, false)
            };
            // SAFETY: this port owns frame `index` of its UMEM (taken from the stock or from
            // the buffer above) until it is put on the TX ring or given back below.
            let desc = unsafe { umem.desc(index, len) };
            scratch.staged.push(desc);
            scratch.handed_over.push(zero_copy);
        }
        let sent = self.rings.transmit(&scratch.staged);
        let mut bytes = 0;
        for (i, (desc, zero_copy)) in scratch.staged.iter().zip(&scratch.handed_over).enumerate() {
            let Some((index, _)) = umem.locate(desc) else {
                continue;
            };
            if i < sent {
                frames.put_on_ring(index, slot);
                bytes += desc.lengths().data() as u64;
                counters.tx_zero_copy += u64::from(*zero_copy);
            } else {
                frames.give(index);
            }
        }
        drop(frames);
        counters.tx_packets += sent as u64;
        counters.tx_bytes += bytes;
        let unsent = (scratch.staged.len() - sent) as u64;
        if unsent > 0 {
            counters.tx_drop(DropReason::TxRingFull, unsent);
        }
        if let Err(e) = self.rings.kick_tx(sent) {
            counters.tx_errors += 1;
            return Err(PortError::io("sendto(AF_XDP) wakeup", e));
        }
        Ok(sent)
    }

    /// Whether a buffer's frame belongs to this queue's UMEM (it can be sent without a copy).
    pub(super) fn owns(&self, buf: &PacketBuf) -> bool {
        buf.umem().is_some_and(|f| f.is_of(&self.member.umem))
    }
}

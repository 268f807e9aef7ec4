//! Packet buffers with headroom, and the reusable burst that carries them.
//!
//! A [`PacketBuf`] owns one fixed-size byte buffer allocated when the buffer is made and never
//! again. The frame lives in `buf[start..end]`; `start` begins at [`HEADROOM`], so headers can be
//! prepended ([`PacketBuf::push_front`]) and removed ([`PacketBuf::pull_front`]) without copying
//! the payload. A [`Burst`] is a fixed set of such buffers plus a fill count; ports append
//! received frames to it and a worker clears and reuses it on every poll.
//!
//! ## UMEM frames
//! A buffer's bytes may instead live in a frame of an AF_XDP UMEM (a
//! [`crate::afxdp::UmemFrame`] the buffer owns): an AF_XDP port receives into its UMEM and
//! makes the burst's buffer own the frame, so the pipeline works on the frame where the kernel
//! put it, with the UMEM frame's XDP headroom in front of it (256 bytes), and an AF_XDP port of
//! the same UMEM sends it by handing the frame over. A buffer keeps its UMEM frame when reset,
//! so any port may receive into it; its heap buffer waits unused meanwhile. A buffer records
//! whether its frame was copied into it ([`PacketBuf::set_frame`]) rather than received there,
//! for the copy counters.
//!
//! No accessor panics: every operation that could go out of bounds returns `None`/`false`.

use std::net::Ipv4Addr;

use wyvern_pipeline::wire::Frame;

use crate::afxdp::UmemFrame;

/// Bytes reserved in front of every received frame: room for an outer Ethernet (14), IPv4 (20),
/// UDP (8) and VXLAN (8) header (50 bytes), a pushed VLAN tag (4) and more.
pub const HEADROOM: usize = 128;

/// Largest frame (Ethernet header included, FCS excluded) a default buffer holds.
///
/// 2048 bytes covers a 1500-byte MTU with VLAN tags and leaves room to detect an oversize
/// frame (one longer than the port's MTU allows) instead of silently truncating it.
pub const MAX_FRAME_LEN: usize = 2048;

/// Length of an Ethernet header (destination, source, EtherType).
pub const ETH_HLEN: usize = 14;

pub use crate::offload::Offload;

/// Tunnel metadata: set by the VXLAN port on decapsulation, read by it on encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelMeta {
    /// The VNI (24 bits), OpenFlow's `tun_id`.
    pub tun_id: u32,
    /// Outer source IPv4 address (`tun_src`): the remote VTEP on receive, ignored on send.
    pub tun_src: Ipv4Addr,
    /// Outer destination IPv4 address (`tun_dst`): the local VTEP on receive, the remote VTEP
    /// to send to on encapsulation.
    pub tun_dst: Ipv4Addr,
}

/// Per-packet metadata that travels with a frame between a port and the pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// Tunnel fields, for frames received from or sent to a tunnel port.
    pub tunnel: Option<TunnelMeta>,
    /// Checksum and segmentation work a TAP with offloads left to the datapath.
    pub offload: Offload,
}

/// One packet: a fixed buffer, the frame's position in it, and its metadata.
pub struct PacketBuf {
    heap: Box<[u8]>,
    /// When set, the buffer's bytes are this UMEM frame's, not `heap`'s.
    umem: Option<UmemFrame>,
    start: usize,
    end: usize,
    /// Whether the frame was copied into the buffer (rather than received into it).
    copied: bool,
    /// Metadata for this frame; reset by [`PacketBuf::reset`].
    pub meta: PacketMeta,
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("capacity", &self.buf().len())
            .field("umem", &self.umem.is_some())
            .field("start", &self.start)
            .field("len", &self.len())
            .field("copied", &self.copied)
            .field("meta", &self.meta)
            .finish()
    }
}

impl Default for PacketBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// A clone lives on the heap, whatever the original's storage.
impl Clone for PacketBuf {
    fn clone(&self) -> Self {
        Self {
            heap: self.buf().into(),
            umem: None,
            start: self.start,
            end: self.end,
            copied: self.copied,
            meta: self.meta,
        }
    }
}

impl PacketBuf {
    /// An empty buffer with [`HEADROOM`] bytes of headroom and room for a
    /// [`MAX_FRAME_LEN`]-byte frame.
    pub fn new() -> Self {
        Self::with_capacity(HEADROOM, MAX_FRAME_LEN)
    }

    /// An empty buffer with `headroom` bytes of headroom and `room` bytes for the frame.
    pub fn with_capacity(headroom: usize, room: usize) -> Self {
        Self {
            heap: vec![0; headroom + room].into_boxed_slice(),
            umem: None,
            start: headroom,
            end: headroom,
            copied: false,
            meta: PacketMeta::default(),
        }
    }

    /// The whole buffer: the UMEM frame if the buffer has one, else the heap buffer.
    #[inline]
    fn buf(&self) -> &[u8] {
        match &self.umem {
            Some(frame) => frame.bytes(),
            None => &self.heap,
        }
    }

    /// The whole buffer, writable.
    #[inline]
    fn buf_mut(&mut self) -> &mut [u8] {
        match &mut self.umem {
            Some(frame) => frame.bytes_mut(),
            None => &mut self.heap,
        }
    }

    /// A buffer holding a copy of `frame` (test and control-path helper; allocates).
    pub fn from_slice(frame: &[u8]) -> Self {
        let mut p = Self::with_capacity(HEADROOM, frame.len().max(MAX_FRAME_LEN));
        p.set_frame(frame);
        p
    }

    /// Forget the frame and its metadata; the frame starts again at the default headroom
    /// ([`HEADROOM`], or in a UMEM frame where the kernel would put a received frame).
    pub fn reset(&mut self) {
        let headroom = match &self.umem {
            Some(_) => crate::afxdp::DATA_OFFSET,
            None => HEADROOM.min(self.heap.len()),
        };
        self.start = headroom;
        self.end = headroom;
        self.copied = false;
        self.meta = PacketMeta::default();
    }

    /// The frame.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let (start, end) = (self.start, self.end);
        &self.buf()[start..end]
    }

    /// The frame, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.start, self.end);
        &mut self.buf_mut()[start..end]
    }

    /// Frame length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True if the buffer holds no frame bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes free in front of the frame.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the frame.
    pub fn tailroom(&self) -> usize {
        self.buf().len() - self.end
    }

    /// Most bytes a frame can have when it starts at the current position.
    pub fn room(&self) -> usize {
        self.buf().len() - self.start
    }

    /// Grow the frame by `n` bytes at the front and return them to be written (e.g. a VXLAN
    /// header); `None` if the headroom is too small.
    pub fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        let start = self.start.checked_sub(n)?;
        self.start = start;
        Some(&mut self.buf_mut()[start..start + n])
    }

    /// Remove `n` bytes from the front of the frame (e.g. a decapsulated header); false (and
    /// nothing changed) if the frame is shorter than `n`.
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n;
        true
    }

    /// Shorten the frame to `len` bytes (no-op if already shorter).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }

    /// Replace the frame with a copy of `frame`, keeping the current start; false (and nothing
    /// changed) if it does not fit.
    pub fn set_frame(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.room() {
            return false;
        }
        self.end = self.start + frame.len();
        let (start, end) = (self.start, self.end);
        self.buf_mut()[start..end].copy_from_slice(frame);
        self.copied = true;
        true
    }

    /// Replace the frame with a copy of `head` followed by `tail`, keeping the current start;
    /// false (and nothing changed) if they do not fit.
    pub fn set_frame_parts(&mut self, head: &[u8], tail: &[u8]) -> bool {
        let len = head.len() + tail.len();
        if len > self.room() {
            return false;
        }
        let start = self.start;
        let buf = self.buf_mut();
        buf[start..start + head.len()].copy_from_slice(head);
        buf[start + head.len()..start + len].copy_from_slice(tail);
        self.end = start + len;
        self.copied = true;
        true
    }

    /// Make sure the buffer has room for a frame of `room` bytes after [`HEADROOM`]: a buffer
    /// in a UMEM frame too small for that goes back to its heap buffer, and a heap buffer too
    /// small is replaced by a larger one (an allocation, once per buffer: buffers only grow,
    /// for the 64 KiB frames of TAPs with offloads). The buffer is reset if anything changed.
    pub fn reserve_room(&mut self, room: usize) {
        if self.room() >= room {
            return;
        }
        self.release_umem();
        if self.heap.len() < HEADROOM + room {
            self.heap = vec![0; HEADROOM + room].into_boxed_slice();
        }
        self.reset();
    }

    /// Whether the frame was copied into this buffer ([`PacketBuf::set_frame`]) since the
    /// last [`PacketBuf::reset`], rather than received into it or left as it was.
    pub fn copied(&self) -> bool {
        self.copied
    }

    /// Whether the buffer's bytes live in an AF_XDP UMEM frame.
    pub fn is_umem(&self) -> bool {
        self.umem.is_some()
    }

    /// The UMEM frame holding the buffer's bytes, if any.
    pub(crate) fn umem(&self) -> Option<&UmemFrame> {
        self.umem.as_ref()
    }

    /// The UMEM frame holding the buffer's bytes, if any, writable (to exchange it for another
    /// frame of the same UMEM: follow with [`PacketBuf::reset`] or
    /// [`PacketBuf::set_received`]).
    pub(crate) fn umem_mut(&mut self) -> Option<&mut UmemFrame> {
        self.umem.as_mut()
    }

    /// Make `frame` the buffer's storage, returning the UMEM frame it had, if any; the buffer
    /// is reset.
    pub(crate) fn set_umem(&mut self, frame: UmemFrame) -> Option<UmemFrame> {
        let old = self.umem.replace(frame);
        self.reset();
        old
    }

    /// Take the buffer's UMEM frame, if any; the buffer is reset onto its heap buffer.
    pub(crate) fn take_umem(&mut self) -> Option<UmemFrame> {
        let old = self.umem.take();
        self.reset();
        old
    }

    /// Give the buffer's UMEM frame, if any, back to its UMEM; the buffer is reset onto its
    /// heap buffer. For buffers leaving the worker that owns the UMEM.
    pub(crate) fn release_umem(&mut self) {
        if self.umem.is_some() {
            drop(self.take_umem());
        }
    }

    /// Set the frame to `len` bytes a port received at `start`; false (and nothing changed)
    /// if that is outside the buffer.
    pub(crate) fn set_received(&mut self, start: usize, len: usize) -> bool {
        let ok = self.set_window(start, len);
        if ok {
            self.copied = false;
        }
        ok
    }

    /// Move the frame so that it starts at `start`; returns whether it had to move, `None`
    /// (and nothing changed) if it does not fit there.
    pub(crate) fn align_to(&mut self, start: usize) -> Option<bool> {
        if start == self.start {
            return Some(false);
        }
        let len = self.len();
        if start.checked_add(len)? > self.buf().len() {
            return None;
        }
        let from = self.start..self.end;
        self.buf_mut().copy_within(from, start);
        self.start = start;
        self.end = start + len;
        Some(true)
    }

    /// The whole room after the current start, for a port to read a frame into; follow with
    /// [`PacketBuf::set_len`].
    pub fn recv_area(&mut self) -> &mut [u8] {
        let start = self.start;
        &mut self.buf_mut()[start..]
    }

    /// Set the frame length after writing into [`PacketBuf::recv_area`]; clamped to the room.
    pub fn set_len(&mut self, len: usize) {
        self.end = self.start + len.min(self.room());
    }

    /// The frame as the pipeline sees it: a [`Frame`] over this buffer, headroom included, so
    /// actions can push headers in place. Read the result back with [`PacketBuf::set_window`].
    pub fn frame(&mut self) -> Frame<'_> {
        let (start, len) = (self.start, self.len());
        match Frame::new(self.buf_mut(), start, len) {
            Some(frame) => frame,
            // Every method keeps `start <= end <= buf.len()`, which is all `Frame::new` checks.
            None => unreachable!("PacketBuf keeps its frame inside its buffer"),
        }
    }

    /// Set the frame to `buf[start..start + len]` (the window a [`Frame`] ended with); false
    /// (and nothing changed) if that is outside the buffer.
    pub fn set_window(&mut self, start: usize, len: usize) -> bool {
        match start.checked_add(len) {
            Some(end) if end <= self.buf().len() => {
                self.start = start;
                self.end = end;
                true
            }
            _ => false,
        }
    }

    /// Insert an 802.1Q tag (TPID 0x8100, `tci`) after the MAC addresses, moving only the 12
    /// address bytes into the headroom. False if the frame has no Ethernet header or there is
    /// no headroom.
    pub fn push_vlan(&mut self, tci: u16) -> bool {
        if self.len() < 12 || self.start < 4 {
            return false;
        }
        let old = self.start;
        self.start -= 4;
        let start = self.start;
        let buf = self.buf_mut();
        buf.copy_within(old..old + 12, start);
        let tag = &mut buf[start + 12..start + 16];
        tag[..2].copy_from_slice(&0x8100u16.to_be_bytes());
        tag[2..].copy_from_slice(&tci.to_be_bytes());
        true
    }
}

/// A fixed set of reusable packet buffers and how many of them hold a frame.
///
/// Ports append to a burst ([`Burst::next_slot`] + [`Burst::commit`]); a worker reads the
/// filled prefix ([`Burst::packets`]) and clears it ([`Burst::clear`]) for the next poll. The
/// buffers are allocated once, in [`Burst::new`].
#[derive(Debug, Clone)]
pub struct Burst {
    bufs: Vec<PacketBuf>,
    len: usize,
}

impl Burst {
    /// Default number of frames per burst.
    pub const DEFAULT_SIZE: usize = 32;

    /// A burst of `size` default-sized buffers.
    pub fn new(size: usize) -> Self {
        Self {
            bufs: (0..size).map(|_| PacketBuf::new()).collect(),
            len: 0,
        }
    }

    /// Number of filled buffers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no buffer is filled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Number of buffers still free.
    pub fn remaining(&self) -> usize {
        self.bufs.len() - self.len
    }

    /// True if every buffer is filled.
    pub fn is_full(&self) -> bool {
        self.len == self.bufs.len()
    }

    /// Empty the burst (buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The next free buffer, reset; fill it, then [`Burst::commit`] it. `None` if the burst is
    /// full.
    pub fn next_slot(&mut self) -> Option<&mut PacketBuf> {
        let slot = self.bufs.get_mut(self.len)?;
        slot.reset();
        Some(slot)
    }

    /// Like [`Burst::next_slot`], for a port that needs room for `room` bytes (see
    /// [`PacketBuf::reserve_room`]).
    pub fn next_slot_with_room(&mut self, room: usize) -> Option<&mut PacketBuf> {
        let slot = self.next_slot()?;
        slot.reserve_room(room);
        Some(slot)
    }

    /// Count the buffer returned by the last [`Burst::next_slot`] as filled.
    pub fn commit(&mut self) {
        if self.len < self.bufs.len() {
            self.len += 1;
        }
    }

    /// Copy `frame` into the next free buffer (made large enough: see
    /// [`PacketBuf::reserve_room`]); false if the burst is full.
    pub fn push_copy(&mut self, frame: &[u8]) -> bool {
        let stored = self
            .next_slot_with_room(frame.len())
            .is_some_and(|slot| slot.set_frame(frame));
        if stored {
            self.commit();
        }
        stored
    }

    /// The filled buffers.
    pub fn packets(&self) -> &[PacketBuf] {
        &self.bufs[..self.len]
    }

    /// The filled buffers, writable (e.g. to rewrite headers or to hand to `send_burst`).
    pub fn packets_mut(&mut self) -> &mut [PacketBuf] {
        &mut self.bufs[..self.len]
    }

    /// Swap the next free buffer with `other` and count it as filled (zero-copy hand-off).
    pub(crate) fn swap_slot(&mut self, other: &mut PacketBuf) -> bool {
        match self.bufs.get_mut(self.len) {
            Some(slot) => {
                std::mem::swap(slot, other);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Move the frame of a heap buffer `other` into the next free buffer: by swapping the
    /// buffers if that one is on the heap too, else (it holds a UMEM frame, which must stay
    /// with this burst's worker) by copying the frame into it. `other` ends up a heap buffer
    /// either way. False if the burst is full or the frame does not fit.
    pub(crate) fn push_from(&mut self, other: &mut PacketBuf) -> bool {
        let Some(slot) = self.bufs.get_mut(self.len) else {
            return false;
        };
        slot.reserve_room(other.len());
        if slot.is_umem() {
            slot.reset();
            if !slot.set_frame(other.data()) {
                return false;
            }
            slot.meta = other.meta;
        } else {
            std::mem::swap(slot, other);
        }
        self.len += 1;
        true
    }

    /// Forget the last filled buffer (a frame that turned out not to be sendable).
    pub(crate) fn drop_last(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// Give every UMEM frame the burst's buffers hold back to its UMEM (when the UMEM's port
    /// goes: the frames keep it alive). Empties the burst.
    pub(crate) fn release_umem(&mut self) {
        self.len = 0;
        for buf in &mut self.bufs {
            buf.release_umem();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_keep_payload_in_place() {
        let mut p = PacketBuf::from_slice(&[1, 2, 3, 4]);
        assert_eq!(p.headroom(), HEADROOM);
        p.push_front(8).unwrap().copy_from_slice(&[9; 8]);
        assert_eq!(p.len(), 12);
        assert_eq!(&p.data()[8..], &[1, 2, 3, 4]);
        assert!(p.pull_front(8));
        assert_eq!(p.data(), &[1, 2, 3, 4]);
        assert!(!p.pull_front(5));
        assert!(p.push_front(HEADROOM + 1).is_none());
    }

    #[test]
    fn push_vlan_inserts_tag_after_macs() {
        let frame: Vec<u8> = (0u8..20).collect();
        let mut p = PacketBuf::from_slice(&frame);
        assert!(p.push_vlan(0x0064));
        assert_eq!(&p.data()[..12], &frame[..12]);
        assert_eq!(&p.data()[12..16], &[0x81, 0x00, 0x00, 0x64]);
        assert_eq!(&p.data()[16..], &frame[12..]);
        let mut short = PacketBuf::from_slice(&[0; 5]);
        assert!(!short.push_vlan(1));
    }

    #[test]
    fn burst_reuses_buffers() {
        let mut b = Burst::new(2);
        assert!(b.push_copy(&[1]));
        assert!(b.push_copy(&[2, 2]));
        assert!(!b.push_copy(&[3]));
        assert_eq!(b.packets()[1].data(), &[2, 2]);
        b.clear();
        assert!(b.is_empty());
        let slot = b.next_slot().unwrap();
        assert!(slot.is_empty());
        assert_eq!(slot.headroom(), HEADROOM);
    }

    #[test]
    fn frame_window_round_trips() {
        let mut p = PacketBuf::from_slice(&[1, 2, 3, 4]);
        let mut f = p.frame();
        assert_eq!(f.bytes(), &[1, 2, 3, 4]);
        assert!(f.push_front(2));
        let (start, len) = (f.headroom(), f.len());
        assert!(p.set_window(start, len));
        assert_eq!(p.len(), 6);
        assert_eq!(&p.data()[2..], &[1, 2, 3, 4]);
        assert!(!p.set_window(usize::MAX, 2));
        assert!(!p.set_window(0, HEADROOM + MAX_FRAME_LEN + 1));
    }

    #[test]
    fn oversized_copy_is_refused() {
        let mut p = PacketBuf::with_capacity(HEADROOM, 4);
        assert!(!p.set_frame(&[0; 5]));
        assert!(p.set_frame(&[0; 4]));
    }
}

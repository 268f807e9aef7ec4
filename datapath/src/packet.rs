//! Packet buffers with headroom, and the reusable burst that carries them.
//!
//! A [`PacketBuf`] owns one fixed-size byte buffer allocated when the buffer is made and never
//! again. The frame lives in `buf[start..end]`; `start` begins at [`HEADROOM`], so headers can be
//! prepended ([`PacketBuf::push_front`]) and removed ([`PacketBuf::pull_front`]) without copying
//! the payload. A [`Burst`] is a fixed set of such buffers plus a fill count; ports append
//! received frames to it and a worker clears and reuses it on every poll.
//!
//! No accessor panics: every operation that could go out of bounds returns `None`/`false`.

use std::net::Ipv4Addr;

use wyvern_pipeline::wire::Frame;

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
}

/// One packet: a fixed buffer, the frame's position in it, and its metadata.
pub struct PacketBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Metadata for this frame; reset by [`PacketBuf::reset`].
    pub meta: PacketMeta,
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("capacity", &self.buf.len())
            .field("start", &self.start)
            .field("len", &self.len())
            .field("meta", &self.meta)
            .finish()
    }
}

impl Default for PacketBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for PacketBuf {
    fn clone(&self) -> Self {
        Self {
            buf: self.buf.clone(),
            start: self.start,
            end: self.end,
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
            buf: vec![0; headroom + room].into_boxed_slice(),
            start: headroom,
            end: headroom,
            meta: PacketMeta::default(),
        }
    }

    /// A buffer holding a copy of `frame` (test and control-path helper; allocates).
    pub fn from_slice(frame: &[u8]) -> Self {
        let mut p = Self::with_capacity(HEADROOM, frame.len().max(MAX_FRAME_LEN));
        p.set_frame(frame);
        p
    }

    /// Forget the frame and its metadata; the frame starts again at the default headroom.
    pub fn reset(&mut self) {
        let headroom = HEADROOM.min(self.buf.len());
        self.start = headroom;
        self.end = headroom;
        self.meta = PacketMeta::default();
    }

    /// The frame.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The frame, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
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
        self.buf.len() - self.end
    }

    /// Most bytes a frame can have when it starts at the current position.
    pub fn room(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Grow the frame by `n` bytes at the front and return them to be written (e.g. a VXLAN
    /// header); `None` if the headroom is too small.
    pub fn push_front(&mut self, n: usize) -> Option<&mut [u8]> {
        let start = self.start.checked_sub(n)?;
        self.start = start;
        Some(&mut self.buf[start..start + n])
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
        self.buf[self.start..self.end].copy_from_slice(frame);
        true
    }

    /// The whole room after the current start, for a port to read a frame into; follow with
    /// [`PacketBuf::set_len`].
    pub fn recv_area(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..]
    }

    /// Set the frame length after writing into [`PacketBuf::recv_area`]; clamped to the room.
    pub fn set_len(&mut self, len: usize) {
        self.end = self.start + len.min(self.room());
    }

    /// The frame as the pipeline sees it: a [`Frame`] over this buffer, headroom included, so
    /// actions can push headers in place. Read the result back with [`PacketBuf::set_window`].
    pub fn frame(&mut self) -> Frame<'_> {
        let (start, len) = (self.start, self.len());
        match Frame::new(&mut self.buf, start, len) {
            Some(frame) => frame,
            // Every method keeps `start <= end <= buf.len()`, which is all `Frame::new` checks.
            None => unreachable!("PacketBuf keeps its frame inside its buffer"),
        }
    }

    /// Set the frame to `buf[start..start + len]` (the window a [`Frame`] ended with); false
    /// (and nothing changed) if that is outside the buffer.
    pub fn set_window(&mut self, start: usize, len: usize) -> bool {
        match start.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
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
        self.buf.copy_within(old..old + 12, self.start);
        let tag = &mut self.buf[self.start + 12..self.start + 16];
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

    /// Count the buffer returned by the last [`Burst::next_slot`] as filled.
    pub fn commit(&mut self) {
        if self.len < self.bufs.len() {
            self.len += 1;
        }
    }

    /// Copy `frame` into the next free buffer; false if the burst is full or the frame does not
    /// fit a buffer.
    pub fn push_copy(&mut self, frame: &[u8]) -> bool {
        let stored = self.next_slot().is_some_and(|slot| slot.set_frame(frame));
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

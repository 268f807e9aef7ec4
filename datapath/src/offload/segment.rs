//! Software segmentation (GSO) of a TCP super-frame, for ports that cannot take one.
//!
//! A super-frame has one Ethernet/IP/TCP header and up to 64 KiB of payload. Each segment
//! gets a copy of the headers and the next `gso.size` payload bytes, then what Linux's
//! `tcp_gso_segment`/`inet_gso_segment` change: the IPv4 total length, an IPv4 identifier one
//! higher per segment and the header checksum (IPv6: the payload length), the TCP sequence
//! number, FIN and PSH only on the last segment, CWR only on the first, and a complete TCP
//! checksum.

use wyvern_pipeline::wire::checksum::{fold, sum};

use super::{Gso, L4, PROTO_TCP, be16, locate_l4, put16};
use crate::counters::DropReason;
use crate::packet::PacketBuf;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Writes the segments of one super-frame, one per call of [`Segmenter::next_into`].
#[derive(Debug)]
pub struct Segmenter<'a> {
    frame: &'a [u8],
    l4: L4,
    /// Ethernet, IP and TCP headers' length: where the payload starts.
    hdr_len: usize,
    payload_len: usize,
    mss: usize,
    /// Payload bytes already written out.
    done: usize,
    index: u16,
}

impl<'a> Segmenter<'a> {
    /// Segments of `frame`, a TCP super-frame, of `gso.size` payload bytes each.
    pub fn new(frame: &'a [u8], gso: Gso) -> Result<Segmenter<'a>, DropReason> {
        let l4 = locate_l4(frame)
            .filter(|l4| l4.proto == PROTO_TCP && l4.len >= 20)
            .ok_or(DropReason::BadOffload)?;
        let tcp_len = usize::from(frame[l4.offset + 12] >> 4) * 4;
        if tcp_len < 20 || tcp_len > l4.len || gso.size == 0 {
            return Err(DropReason::BadOffload);
        }
        Ok(Segmenter {
            frame,
            l4,
            hdr_len: l4.offset + tcp_len,
            payload_len: l4.len - tcp_len,
            mss: usize::from(gso.size),
            done: 0,
            index: 0,
        })
    }

    /// Length of the longest segment (the headers and a full payload).
    pub fn max_len(&self) -> usize {
        self.hdr_len + self.mss.min(self.payload_len)
    }

    /// How many segments there are.
    pub fn count(&self) -> usize {
        self.payload_len.div_ceil(self.mss).max(1)
    }

    /// Write the next segment into `buf` (replacing its frame); `None` when all are written,
    /// `Some(false)` if it does not fit `buf` (nothing written).
    pub fn next_into(&mut self, buf: &mut PacketBuf) -> Option<bool> {
        if self.done >= self.payload_len && (self.index > 0 || self.payload_len > 0) {
            return None;
        }
        let chunk = self.mss.min(self.payload_len - self.done);
        let payload = &self.frame[self.hdr_len + self.done..self.hdr_len + self.done + chunk];
        if !buf.set_frame_parts(&self.frame[..self.hdr_len], payload) {
            return Some(false);
        }
        let last = self.done + chunk >= self.payload_len;
        self.fix(buf.data_mut(), chunk, last);
        self.done += chunk;
        self.index += 1;
        Some(true)
    }

    /// Fix the copied headers of a segment of `chunk` payload bytes.
    fn fix(&self, seg: &mut [u8], chunk: usize, last: bool) {
        let (l3, l4) = (self.l4.l3, self.l4.offset);
        let tcp_len = self.hdr_len - l4 + chunk;
        let ip_len = seg.len() - l3;
        if self.l4.v6 {
            put16(seg, l3 + 4, tcp_len as u16);
        } else {
            put16(seg, l3 + 2, ip_len as u16);
            let id = be16(seg, l3 + 4).unwrap_or(0).wrapping_add(self.index);
            put16(seg, l3 + 4, id);
            put16(seg, l3 + 10, 0);
            let ihl = l4 - l3;
            put16(seg, l3 + 10, !fold(sum(&seg[l3..l3 + ihl], 0)));
        }
        let seq = u32::from_be_bytes([seg[l4 + 4], seg[l4 + 5], seg[l4 + 6], seg[l4 + 7]]);
        let seq = seq.wrapping_add(self.done as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        if !last {
            seg[l4 + 13] &= !(TCP_FIN | TCP_PSH);
        }
        if self.index > 0 {
            seg[l4 + 13] &= !TCP_CWR;
        }
        // The pseudo-header with this segment's length, then the segment.
        let pseudo = pseudo_sum(seg, &self.l4, tcp_len);
        put16(seg, l4 + 16, 0);
        put16(seg, l4 + 16, !fold(sum(&seg[l4..], pseudo)));
    }
}

/// The pseudo-header sum of a segment of `tcp_len` bytes with `l4`'s addresses.
fn pseudo_sum(seg: &[u8], l4: &L4, tcp_len: usize) -> u32 {
    use wyvern_pipeline::wire::checksum::{pseudo_header_v4, pseudo_header_v6};
    let l3 = l4.l3;
    if l4.v6 {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&seg[l3 + 8..l3 + 24]);
        dst.copy_from_slice(&seg[l3 + 24..l3 + 40]);
        pseudo_header_v6(src, dst, PROTO_TCP, tcp_len as u32)
    } else {
        let mut src = [0u8; 4];
        let mut dst = [0u8; 4];
        src.copy_from_slice(&seg[l3 + 12..l3 + 16]);
        dst.copy_from_slice(&seg[l3 + 16..l3 + 20]);
        pseudo_header_v4(src, dst, PROTO_TCP, tcp_len as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::tests::{checksums_ok, partial, tcp_v4, tcp_v6};
    use etherparse::SlicedPacket;

    /// (seq, flags, payload) of each segment; checks every checksum.
    fn segments(frame: &[u8], mss: u16) -> Vec<(u32, u8, Vec<u8>)> {
        let mut s = Segmenter::new(
            frame,
            Gso {
                size: mss,
                ecn: false,
            },
        )
        .unwrap();
        let n = s.count();
        let mut out = Vec::new();
        let mut buf = PacketBuf::new();
        while let Some(ok) = s.next_into(&mut buf) {
            assert!(ok);
            let f = buf.data();
            assert!(checksums_ok(f), "segment {}", out.len());
            let p = SlicedPacket::from_ethernet(f).unwrap();
            let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
                panic!("not TCP")
            };
            let flags = f[f.len() - t.payload().len() - t.to_header().header_len() + 13];
            out.push((t.sequence_number(), flags, t.payload().to_vec()));
        }
        assert_eq!(out.len(), n);
        out
    }

    #[test]
    fn ipv4_super_frame_becomes_mss_sized_segments() {
        let payload: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
        let frame = partial(&tcp_v4(&payload));
        let segs = segments(&frame, 1448);
        assert_eq!(segs.len(), 3);
        assert_eq!(
            segs.iter().map(|s| s.2.len()).collect::<Vec<_>>(),
            [1448, 1448, 1104]
        );
        assert_eq!(
            segs.iter().map(|s| s.0).collect::<Vec<_>>(),
            [7, 1455, 2903]
        );
        // PSH only on the last one.
        assert_eq!(
            segs.iter().map(|s| s.1 & TCP_PSH).collect::<Vec<_>>(),
            [0, 0, 8]
        );
        let joined: Vec<u8> = segs.into_iter().flat_map(|s| s.2).collect();
        assert_eq!(joined, payload);
    }

    #[test]
    fn ipv6_super_frame_wraps_sequence_numbers_and_keeps_fin_last() {
        let payload = vec![0xab; 3000];
        let segs = segments(&tcp_v6(&payload), 1000);
        assert_eq!(
            segs.iter().map(|s| s.0).collect::<Vec<_>>(),
            [
                0xffff_fff0,
                0xffff_fff0u32.wrapping_add(1000),
                0xffff_fff0u32.wrapping_add(2000)
            ]
        );
        assert_eq!(
            segs.iter().map(|s| s.1 & TCP_FIN).collect::<Vec<_>>(),
            [0, 0, 1]
        );
    }

    #[test]
    fn cwr_stays_on_the_first_segment_only() {
        let mut frame = tcp_v4(&[1; 3000]);
        frame[14 + 20 + 13] |= TCP_CWR;
        let segs = segments(&frame, 1000);
        assert_eq!(
            segs.iter().map(|s| s.1 & TCP_CWR).collect::<Vec<_>>(),
            [TCP_CWR, 0, 0]
        );
    }

    #[test]
    fn a_segment_too_big_for_the_buffer_is_refused() {
        let frame = tcp_v4(&[1; 3000]);
        let mut s = Segmenter::new(
            &frame,
            Gso {
                size: 3000,
                ecn: false,
            },
        )
        .unwrap();
        let mut small = PacketBuf::with_capacity(128, 1000);
        assert_eq!(s.next_into(&mut small), Some(false));
    }

    #[test]
    fn non_tcp_frames_are_refused() {
        let mut frame = tcp_v4(&[1; 100]);
        frame[23] = 17;
        assert!(
            Segmenter::new(
                &frame,
                Gso {
                    size: 50,
                    ecn: false
                }
            )
            .is_err()
        );
    }
}

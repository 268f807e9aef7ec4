//! Checksum and segmentation offloads: what senders leave to the device, and finishing it.
//!
//! ## Partial checksums from a veth (AF_XDP)
//! With transmit checksum offload on (the default for veth and TAP devices), Linux does not
//! compute a TCP or UDP checksum itself: it stores the sum of the pseudo-header alone in the
//! checksum field (`CHECKSUM_PARTIAL`) and leaves the rest to the device. On a veth pair the
//! device is the peer, which passes the flag along with the frame; but an AF_XDP socket gets
//! bytes only, so the switch receives TCP segments and UDP datagrams whose checksum field
//! holds just the pseudo-header sum. Sent on like that, the far end drops them: TCP between
//! namespaces plugged in by veth would not work.
//!
//! [`complete_partial_checksum`] recognises such a frame by that very value — the field equals
//! the folded pseudo-header sum — and computes the checksum the device would have. A frame
//! whose checksum is already complete is left alone unless its checksum happens to equal its
//! pseudo-header sum (1 in 65,536 frames), in which case the checksum computed is the one it
//! already had. The only frame this changes wrongly is a corrupted one whose corrupted
//! checksum happens to equal its pseudo-header sum: it leaves with a valid checksum.
//!
//! ## Offloads through a TAP (virtio-net header)
//! A TAP device opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD` hands over, in front of each
//! frame, a virtio-net header saying what the device (us) still has to do: complete the
//! checksum at `csum_start + csum_offset` (`NEEDS_CSUM`), and cut a TCP super-frame of up to
//! 64 KiB into segments of `gso_size` payload bytes (`gso_type`). [`Offload::from_vnet_hdr`]
//! reads that into the frame's [`Offload`] metadata; [`Offload::vnet_hdr`] writes it back for
//! a TAP that takes offloads, whose kernel then does the work (or passes the super-frame on to
//! the namespace's stack as it is, which is the point). For any other port the worker finishes
//! the job in software: [`Offload::complete_checksum`], or [`segment::Segmenter`] for a
//! super-frame.
//!
//! While the frame goes through the pipeline, a partial checksum's field holds the complement
//! of the pseudo-header sum, not the sum: in that form the pipeline's incremental checksum
//! updates (a rewritten address or port) keep it right, exactly as they keep a complete
//! checksum right. The field is turned back when the frame leaves. (A partial UDP checksum
//! whose complement would be 0 — "no checksum" to the pipeline — is completed on arrival
//! instead.)
//!
//! Only IPv4 (unfragmented) and IPv6 (without extension headers) carrying TCP or UDP directly,
//! untagged or under up to two VLAN tags, are looked at; that is what Linux offloads.

pub mod segment;

use wyvern_pipeline::wire::checksum::{fold, pseudo_header_v4, pseudo_header_v6, sum};

use crate::counters::DropReason;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    let b = frame.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn put16(frame: &mut [u8], at: usize, v: u16) {
    frame[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Where a frame's IP packet and its TCP or UDP segment are.
#[derive(Debug, Clone, Copy)]
struct L4 {
    /// Start of the IP header.
    l3: usize,
    v6: bool,
    /// Start of the TCP/UDP header.
    offset: usize,
    /// Length of the segment (header and payload).
    len: usize,
    proto: u8,
    /// Unfolded sum of the pseudo-header.
    pseudo: u32,
}

impl L4 {
    /// Offset of the checksum field in the frame, for TCP or UDP long enough to have one.
    fn checksum_at(&self) -> Option<usize> {
        match self.proto {
            PROTO_TCP if self.len >= 20 => Some(self.offset + 16),
            PROTO_UDP if self.len >= 8 => Some(self.offset + 6),
            _ => None,
        }
    }

    /// The checksum of the segment, whose checksum field holds the folded pseudo-header sum.
    fn checksum_over(&self, frame: &[u8]) -> u16 {
        // The field holds the pseudo-header's sum, so summing the segment with it in place
        // adds the pseudo-header: what a device computes for a partial checksum.
        let c = !fold(sum(&frame[self.offset..self.offset + self.len], 0));
        if self.proto == PROTO_UDP && c == 0 {
            // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
            0xffff
        } else {
            c
        }
    }
}

fn locate_l4(frame: &[u8]) -> Option<L4> {
    let mut at = 12;
    let mut ethertype = be16(frame, at)?;
    for _ in 0..2 {
        if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
            at += 4;
            ethertype = be16(frame, at)?;
        }
    }
    let l3 = at + 2;
    let ip = frame.get(l3..)?;
    let (offset, len, proto, pseudo, v6) = match ethertype {
        ETHERTYPE_IPV4 => {
            let ihl = usize::from(*ip.first()? & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            let fragment = be16(ip, 6)? & 0x3fff != 0;
            if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || total > ip.len() || fragment {
                return None;
            }
            let proto = ip[9];
            let src: [u8; 4] = ip[12..16].try_into().ok()?;
            let dst: [u8; 4] = ip[16..20].try_into().ok()?;
            let len = total - ihl;
            let pseudo = pseudo_header_v4(src, dst, proto, u16::try_from(len).ok()?);
            (l3 + ihl, len, proto, pseudo, false)
        }
        ETHERTYPE_IPV6 => {
            let len = usize::from(be16(ip, 4)?);
            if ip.first()? >> 4 != 6 || ip.len() < 40 + len {
                return None;
            }
            let proto = ip[6];
            let src: [u8; 16] = ip[8..24].try_into().ok()?;
            let dst: [u8; 16] = ip[24..40].try_into().ok()?;
            let pseudo = pseudo_header_v6(src, dst, proto, len as u32);
            (l3 + 40, len, proto, pseudo, true)
        }
        _ => return None,
    };
    Some(L4 {
        l3,
        v6,
        offset,
        len,
        proto,
        pseudo,
    })
}

/// If `frame`'s TCP or UDP checksum was left partial by the sender's offload (see the module
/// documentation), compute it; returns whether it did.
pub fn complete_partial_checksum(frame: &mut [u8]) -> bool {
    let Some(l4) = locate_l4(frame) else {
        return false;
    };
    let Some(at) = l4.checksum_at() else {
        return false;
    };
    if be16(frame, at) != Some(fold(l4.pseudo)) {
        return false;
    }
    let checksum = l4.checksum_over(frame);
    put16(frame, at, checksum);
    true
}

/// Length of the virtio-net header (`struct virtio_net_hdr`, no `num_buffers`) in front of
/// every frame of a TAP with offloads.
pub const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV4`, `_TCPV6`, `_ECN`.
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_ECN: u8 = 0x80;

/// A TCP super-frame to cut into segments (`gso_type`, `gso_size` of the virtio-net header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gso {
    /// Payload bytes per segment (the MSS).
    pub size: u16,
    /// The sender set ECN's CWR on the super-frame, and wants it on the first segment only
    /// (`VIRTIO_NET_HDR_GSO_ECN`).
    pub ecn: bool,
}

/// What is left to do to a frame that a TAP with offloads handed over (see the module
/// documentation). The default is nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The TCP/UDP checksum is partial; its field holds the complement of the pseudo-header
    /// sum while the frame is in the datapath.
    pub partial_checksum: bool,
    /// The frame is a TCP super-frame to segment.
    pub gso: Option<Gso>,
}

impl Offload {
    /// The work a received frame's virtio-net header asks for; turns a partial checksum's
    /// field into the pipeline's form (or completes it when that is not possible). `Err`: a
    /// header this datapath does not take (a counted drop).
    pub fn from_vnet_hdr(
        hdr: &[u8; VNET_HDR_LEN],
        frame: &mut [u8],
    ) -> Result<Offload, DropReason> {
        let (flags, gso_type) = (hdr[0], hdr[1]);
        let le16 = |at: usize| usize::from(u16::from_le_bytes([hdr[at], hdr[at + 1]]));
        let (gso_size, csum_start, csum_offset) = (le16(4), le16(6), le16(8));
        let mut offload = Offload::default();
        if flags & F_NEEDS_CSUM != 0 {
            let l4 = locate_l4(frame).filter(|l4| {
                l4.offset == csum_start && l4.checksum_at() == Some(csum_start + csum_offset)
            });
            match l4 {
                Some(l4) => {
                    let at = csum_start + csum_offset;
                    let field = !be16(frame, at).ok_or(DropReason::BadOffload)?;
                    if l4.proto == PROTO_UDP && field == 0 {
                        put16(frame, at, !field);
                        put16(frame, at, l4.checksum_over(frame));
                    } else {
                        put16(frame, at, field);
                        offload.partial_checksum = true;
                    }
                }
                // Not a segment we can find again later: complete it now, where it says.
                None => complete_at(frame, csum_start, csum_offset)?,
            }
        }
        let v6 = match gso_type & !GSO_ECN {
            0 => return Ok(offload),
            GSO_TCPV4 => false,
            GSO_TCPV6 => true,
            // UDP segmentation is never enabled (`TUNSETOFFLOAD` without `TUN_F_USO*`).
            _ => return Err(DropReason::BadOffload),
        };
        let tcp = locate_l4(frame).filter(|l4| l4.proto == PROTO_TCP && l4.v6 == v6);
        match (tcp, u16::try_from(gso_size)) {
            (Some(_), Ok(size)) if size > 0 && offload.partial_checksum => {
                offload.gso = Some(Gso {
                    size,
                    ecn: gso_type & GSO_ECN != 0,
                });
                Ok(offload)
            }
            _ => Err(DropReason::BadOffload),
        }
    }

    /// The virtio-net header that sends `frame` to a TAP with offloads; turns a partial
    /// checksum's field back into the pseudo-header sum the kernel expects. `Err` if the
    /// frame's TCP/UDP segment cannot be found any more.
    pub fn vnet_hdr(&self, frame: &mut [u8]) -> Result<[u8; VNET_HDR_LEN], DropReason> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        if !self.partial_checksum {
            return Ok(hdr);
        }
        let l4 = locate_l4(frame).ok_or(DropReason::BadOffload)?;
        let at = l4.checksum_at().ok_or(DropReason::BadOffload)?;
        let field = be16(frame, at).ok_or(DropReason::BadOffload)?;
        put16(frame, at, !field);
        let le16 = |v: usize| u16::try_from(v).map(u16::to_le_bytes);
        hdr[0] = F_NEEDS_CSUM;
        hdr[6..8].copy_from_slice(&le16(l4.offset).map_err(|_| DropReason::BadOffload)?);
        hdr[8..10].copy_from_slice(&le16(at - l4.offset).map_err(|_| DropReason::BadOffload)?);
        if let Some(gso) = self.gso {
            let tcp_len = usize::from(frame[l4.offset + 12] >> 4) * 4;
            hdr[1] = if l4.v6 { GSO_TCPV6 } else { GSO_TCPV4 } | if gso.ecn { GSO_ECN } else { 0 };
            hdr[2..4]
                .copy_from_slice(&le16(l4.offset + tcp_len).map_err(|_| DropReason::BadOffload)?);
            hdr[4..6].copy_from_slice(&gso.size.to_le_bytes());
        }
        Ok(hdr)
    }

    /// Complete a partial checksum in software (for a port without offloads); `Err` if the
    /// frame's TCP/UDP segment cannot be found any more. Not for super-frames: segment those.
    pub fn complete_checksum(&self, frame: &mut [u8]) -> Result<(), DropReason> {
        if !self.partial_checksum {
            return Ok(());
        }
        let l4 = locate_l4(frame).ok_or(DropReason::BadOffload)?;
        let at = l4.checksum_at().ok_or(DropReason::BadOffload)?;
        let field = be16(frame, at).ok_or(DropReason::BadOffload)?;
        put16(frame, at, !field);
        put16(frame, at, l4.checksum_over(frame));
        Ok(())
    }
}

/// Complete the checksum at `start + offset` over `frame[start..]`, the generic way a device
/// does (the field holds the sum of what the checksum covers outside that range).
fn complete_at(frame: &mut [u8], start: usize, offset: usize) -> Result<(), DropReason> {
    let at = start.checked_add(offset).ok_or(DropReason::BadOffload)?;
    if at + 2 > frame.len() {
        return Err(DropReason::BadOffload);
    }
    let c = !fold(sum(&frame[start..], 0));
    put16(frame, at, c);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    pub(crate) fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 5001, 7, 1024)
            .psh()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    pub(crate) fn tcp_v6(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6([0xfd; 16], [0xfe; 16], 64)
            .tcp(40000, 5001, 0xffff_fff0, 1024)
            .fin()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn udp_v6_tagged(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .single_vlan(100.try_into().unwrap())
            .ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(1000, 2000)
            .write(&mut out, payload)
            .unwrap();
        out
    }

    /// `frame` with its L4 checksum replaced by what a sender with offload leaves there.
    pub(crate) fn partial(frame: &[u8]) -> Vec<u8> {
        let mut f = frame.to_vec();
        let l4 = locate_l4(&f).unwrap();
        let at = l4.checksum_at().unwrap();
        put16(&mut f, at, fold(l4.pseudo));
        f
    }

    /// Whether `frame`'s IPv4 header checksum (if any) and TCP/UDP checksum verify.
    pub(crate) fn checksums_ok(frame: &[u8]) -> bool {
        let p = SlicedPacket::from_ethernet(frame).unwrap();
        let (ip, transport) = (p.net.unwrap(), p.transport.unwrap());
        match (ip, transport) {
            (etherparse::NetSlice::Ipv4(ip), TransportSlice::Tcp(t)) => {
                let h = ip.header().to_header();
                let want = t.to_header().calc_checksum_ipv4(&h, t.payload());
                h.calc_header_checksum() == ip.header().header_checksum()
                    && want.unwrap() == t.checksum()
            }
            (etherparse::NetSlice::Ipv6(ip), TransportSlice::Tcp(t)) => {
                let want = t
                    .to_header()
                    .calc_checksum_ipv6(&ip.header().to_header(), t.payload());
                want.unwrap() == t.checksum()
            }
            (etherparse::NetSlice::Ipv6(ip), TransportSlice::Udp(u)) => {
                let want = u
                    .to_header()
                    .calc_checksum_ipv6(&ip.header().to_header(), u.payload());
                want.unwrap() == u.checksum()
            }
            _ => panic!("unexpected frame"),
        }
    }

    /// A virtio-net header as a TAP hands it over.
    pub(crate) fn vnet(
        flags: u8,
        gso_type: u8,
        gso_size: u16,
        start: u16,
        offset: u16,
    ) -> [u8; 10] {
        let mut h = [0u8; 10];
        h[0] = flags;
        h[1] = gso_type;
        h[4..6].copy_from_slice(&gso_size.to_le_bytes());
        h[6..8].copy_from_slice(&start.to_le_bytes());
        h[8..10].copy_from_slice(&offset.to_le_bytes());
        h
    }

    #[test]
    fn partial_checksums_are_completed() {
        for good in [tcp_v4(b"hello, world"), udp_v6_tagged(&[7; 101])] {
            assert!(checksums_ok(&good));
            let mut f = partial(&good);
            assert!(!checksums_ok(&f));
            assert!(complete_partial_checksum(&mut f));
            assert_eq!(f, good);
        }
    }

    #[test]
    fn complete_checksums_are_left_alone() {
        for good in [tcp_v4(&[1; 1000]), udp_v6_tagged(b"")] {
            let mut f = good.clone();
            assert!(!complete_partial_checksum(&mut f));
            assert_eq!(f, good);
        }
    }

    #[test]
    fn fragments_and_other_frames_are_not_touched() {
        let mut frag = partial(&tcp_v4(&[3; 64]));
        frag[14 + 6] |= 0x20; // more fragments
        let before = frag.clone();
        assert!(!complete_partial_checksum(&mut frag));
        assert_eq!(frag, before);
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!complete_partial_checksum(&mut arp));
    }

    #[test]
    fn truncated_frames_never_panic() {
        for good in [tcp_v4(&[9; 40]), udp_v6_tagged(&[9; 40])] {
            let f = partial(&good);
            for len in 0..f.len() {
                let mut cut = f[..len].to_vec();
                assert!(!complete_partial_checksum(&mut cut), "length {len}");
                let hdr = vnet(F_NEEDS_CSUM, GSO_TCPV4, 1000, 34, 16);
                let _ = Offload::from_vnet_hdr(&hdr, &mut cut);
                let _ = Offload::default().complete_checksum(&mut cut);
            }
        }
    }

    #[test]
    fn vnet_partial_checksum_round_trips_and_completes() {
        let good = tcp_v4(&[5; 300]);
        let sent = partial(&good);
        let hdr = vnet(F_NEEDS_CSUM, 0, 0, 34, 16);
        let mut f = sent.clone();
        let off = Offload::from_vnet_hdr(&hdr, &mut f).unwrap();
        assert_eq!(
            off,
            Offload {
                partial_checksum: true,
                gso: None
            }
        );
        // To a TAP with offloads: the same header and frame as received.
        let mut out = f.clone();
        assert_eq!(off.vnet_hdr(&mut out).unwrap(), hdr);
        assert_eq!(out, sent);
        // To any other port: a complete checksum.
        off.complete_checksum(&mut f).unwrap();
        assert_eq!(f, good);
    }

    #[test]
    fn pipeline_address_rewrites_keep_a_partial_checksum_right() {
        use wyvern_pipeline::wire::checksum::update32;
        let mut f = partial(&tcp_v4(&[1; 64]));
        let off = Offload::from_vnet_hdr(&vnet(F_NEEDS_CSUM, 0, 0, 34, 16), &mut f).unwrap();
        // What the pipeline does for set_field:10.9.9.9->ip_dst: the address and, through
        // the pseudo-header, the TCP checksum (IPv4 header checksum left aside here).
        let (old, new) = (
            u32::from_be_bytes([10, 0, 0, 2]),
            u32::from_be_bytes([10, 9, 9, 9]),
        );
        f[30..34].copy_from_slice(&new.to_be_bytes());
        let c = update32(be16(&f, 50).unwrap(), old, new);
        put16(&mut f, 50, c);
        off.vnet_hdr(&mut f).unwrap();
        let l4 = locate_l4(&f).unwrap();
        assert_eq!(
            be16(&f, 50),
            Some(fold(l4.pseudo)),
            "the new pseudo-header sum"
        );
    }

    #[test]
    fn vnet_super_frames_are_recognised() {
        let mut f = partial(&tcp_v6(&[2; 5000]));
        let hdr = vnet(F_NEEDS_CSUM, GSO_TCPV6 | GSO_ECN, 1440, 54, 16);
        let off = Offload::from_vnet_hdr(&hdr, &mut f).unwrap();
        assert_eq!(
            off.gso,
            Some(Gso {
                size: 1440,
                ecn: true
            })
        );
        let back = off.vnet_hdr(&mut f).unwrap();
        assert_eq!(back[..2], hdr[..2]);
        assert_eq!(u16::from_le_bytes([back[2], back[3]]), 54 + 20, "hdr_len");
        // The wrong IP version, UDP segmentation, or no partial checksum: refused.
        for bad in [
            vnet(F_NEEDS_CSUM, GSO_TCPV4, 1440, 54, 16),
            vnet(F_NEEDS_CSUM, 5, 1440, 54, 16),
            vnet(0, GSO_TCPV6, 1440, 0, 0),
            vnet(F_NEEDS_CSUM, GSO_TCPV6, 0, 54, 16),
        ] {
            let mut g = partial(&tcp_v6(&[2; 5000]));
            assert_eq!(
                Offload::from_vnet_hdr(&bad, &mut g),
                Err(DropReason::BadOffload)
            );
        }
    }

    #[test]
    fn a_checksum_request_elsewhere_is_completed_on_arrival() {
        // ICMP-like: a checksum at a place that is no TCP/UDP field, over the rest.
        let mut f = tcp_v4(&[4; 40]);
        f[23] = 1; // protocol ICMP
        let (start, offset) = (34u16, 2u16);
        let hdr = vnet(F_NEEDS_CSUM, 0, 0, start, offset);
        put16(&mut f, 36, 0);
        let off = Offload::from_vnet_hdr(&hdr, &mut f).unwrap();
        assert_eq!(off, Offload::default());
        assert_eq!(fold(sum(&f[34..], 0)), 0xffff);
    }
}

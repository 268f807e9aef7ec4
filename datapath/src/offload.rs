//! Finishing what a sender's checksum offload left to the device.
//!
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
//! Only IPv4 (unfragmented) and IPv6 (without extension headers) carrying TCP or UDP directly,
//! untagged or under up to two VLAN tags, are looked at; that is what Linux offloads.

use wyvern_pipeline::wire::checksum::{fold, pseudo_header_v4, pseudo_header_v6, sum};

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

/// Where a frame's TCP or UDP segment is: offset, length, protocol and pseudo-header sum.
struct L4 {
    offset: usize,
    len: usize,
    proto: u8,
    pseudo: u32,
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
    let (offset, len, proto, pseudo) = match ethertype {
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
            (l3 + ihl, len, proto, pseudo)
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
            (l3 + 40, len, proto, pseudo)
        }
        _ => return None,
    };
    Some(L4 {
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
    let field_at = match l4.proto {
        PROTO_TCP if l4.len >= 20 => 16,
        PROTO_UDP if l4.len >= 8 => 6,
        _ => return false,
    };
    let at = l4.offset + field_at;
    if be16(frame, at) != Some(fold(l4.pseudo)) {
        return false;
    }
    // The field holds the pseudo-header's sum, so summing the segment with it in place adds
    // the pseudo-header: what the device computes.
    let segment = &frame[l4.offset..l4.offset + l4.len];
    let mut checksum = !fold(sum(segment, 0));
    if l4.proto == PROTO_UDP && checksum == 0 {
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        checksum = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 5001, 7, 1024)
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
    fn partial(frame: &[u8]) -> Vec<u8> {
        let mut f = frame.to_vec();
        let l4 = locate_l4(&f).unwrap();
        let at = l4.offset + if l4.proto == PROTO_TCP { 16 } else { 6 };
        f[at..at + 2].copy_from_slice(&fold(l4.pseudo).to_be_bytes());
        f
    }

    fn checksum_ok(frame: &[u8]) -> bool {
        let p = SlicedPacket::from_ethernet(frame).unwrap();
        let ip = p.net.unwrap();
        match (ip, p.transport.unwrap()) {
            (etherparse::NetSlice::Ipv4(ip), TransportSlice::Tcp(t)) => {
                let want = t
                    .to_header()
                    .calc_checksum_ipv4(&ip.header().to_header(), t.payload());
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

    #[test]
    fn partial_checksums_are_completed() {
        for good in [tcp_v4(b"hello, world"), udp_v6_tagged(&[7; 101])] {
            assert!(checksum_ok(&good));
            let mut f = partial(&good);
            assert!(!checksum_ok(&f));
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
            }
        }
    }
}

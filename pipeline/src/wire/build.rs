//! Builders of small valid frames, for tests, benches and the packet generator.
//!
//! Each writes one frame at the start of `buf` with every length and checksum right and
//! returns its length, or `None` (writing nothing) when `buf` is too small. No allocation.
//! The payload is the byte pattern `0, 1, 2, ...` (wrapping).

use super::checksum::{checksum, fold, pseudo_header_v4, sum};
use super::ethernet::{self, HEADER_LEN as ETH_LEN};
use super::{arp, ipv4, l4};
use crate::field::{ETH_TYPE_ARP, ETH_TYPE_IPV4, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP};

/// The Ethernet and IPv4 header parameters of a built frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Spec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    pub ttl: u8,
}

fn eth(buf: &mut [u8], src: [u8; 6], dst: [u8; 6], ethertype: u16) {
    buf[ethernet::field::DST].copy_from_slice(&dst);
    buf[ethernet::field::SRC].copy_from_slice(&src);
    buf[ethernet::field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
}

fn fill_payload(b: &mut [u8]) {
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
}

/// Writes Ethernet + IPv4 (no options, DF set) around an L4 segment of `l4_len` bytes whose
/// bytes the caller writes next. Returns the frame length, or `None` if it does not fit.
fn ipv4_frame(buf: &mut [u8], s: &Ipv4Spec, proto: u8, l4_len: usize) -> Option<usize> {
    let ip_len = ipv4::MIN_HEADER_LEN + l4_len;
    let total = ETH_LEN + ip_len;
    if buf.len() < total || ip_len > usize::from(u16::MAX) {
        return None;
    }
    eth(buf, s.src_mac, s.dst_mac, ETH_TYPE_IPV4);
    let h = &mut buf[ETH_LEN..ETH_LEN + ipv4::MIN_HEADER_LEN];
    h[ipv4::field::VER_IHL] = 0x45;
    h[ipv4::field::TOS] = 0;
    h[ipv4::field::TOTAL_LEN].copy_from_slice(&(ip_len as u16).to_be_bytes());
    h[ipv4::field::IDENT].copy_from_slice(&0u16.to_be_bytes());
    h[ipv4::field::FLAGS_FRAG].copy_from_slice(&ipv4::FLAG_DF.to_be_bytes());
    h[ipv4::field::TTL] = s.ttl;
    h[ipv4::field::PROTO] = proto;
    h[ipv4::field::CHECKSUM].fill(0);
    h[ipv4::field::SRC].copy_from_slice(&s.src_ip);
    h[ipv4::field::DST].copy_from_slice(&s.dst_ip);
    let c = checksum(h);
    h[ipv4::field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

/// The TCP/UDP checksum of `seg` (checksum field zeroed) under the IPv4 pseudo-header.
fn l4_checksum_v4(s: &Ipv4Spec, proto: u8, seg: &[u8]) -> u16 {
    let ph = pseudo_header_v4(s.src_ip, s.dst_ip, proto, seg.len() as u16);
    !fold(sum(seg, ph))
}

/// Ethernet + IPv4 + UDP with `payload_len` bytes of payload.
pub fn udp4(
    buf: &mut [u8],
    s: &Ipv4Spec,
    sport: u16,
    dport: u16,
    payload_len: usize,
) -> Option<usize> {
    let l4_len = l4::UDP_HEADER_LEN + payload_len;
    let total = ipv4_frame(buf, s, IP_PROTO_UDP, l4_len)?;
    let seg = &mut buf[ETH_LEN + ipv4::MIN_HEADER_LEN..total];
    seg[l4::field::SRC_PORT].copy_from_slice(&sport.to_be_bytes());
    seg[l4::field::DST_PORT].copy_from_slice(&dport.to_be_bytes());
    seg[l4::field::UDP_LEN].copy_from_slice(&(l4_len as u16).to_be_bytes());
    seg[l4::field::UDP_CHECKSUM].fill(0);
    fill_payload(&mut seg[l4::UDP_HEADER_LEN..]);
    let c = match l4_checksum_v4(s, IP_PROTO_UDP, seg) {
        0 => 0xffff,
        c => c,
    };
    seg[l4::field::UDP_CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

/// Ethernet + IPv4 + TCP (20-byte header, window 65535) with the given flags byte
/// (e.g. 0x02 SYN, 0x10 ACK), sequence number and `payload_len` bytes of payload.
pub fn tcp4(
    buf: &mut [u8],
    s: &Ipv4Spec,
    ports: (u16, u16),
    flags: u8,
    seq: u32,
    payload_len: usize,
) -> Option<usize> {
    let l4_len = l4::TCP_MIN_HEADER_LEN + payload_len;
    let total = ipv4_frame(buf, s, IP_PROTO_TCP, l4_len)?;
    let seg = &mut buf[ETH_LEN + ipv4::MIN_HEADER_LEN..total];
    seg[..l4::TCP_MIN_HEADER_LEN].fill(0);
    seg[l4::field::SRC_PORT].copy_from_slice(&ports.0.to_be_bytes());
    seg[l4::field::DST_PORT].copy_from_slice(&ports.1.to_be_bytes());
    seg[4..8].copy_from_slice(&seq.to_be_bytes());
    seg[l4::field::TCP_DATA_OFFSET] = 5 << 4;
    seg[13] = flags;
    seg[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    fill_payload(&mut seg[l4::TCP_MIN_HEADER_LEN..]);
    let c = l4_checksum_v4(s, IP_PROTO_TCP, seg);
    seg[l4::field::TCP_CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

/// Ethernet + IPv4 + ICMP echo request (`reply` false, type 8) or reply (type 0).
pub fn icmp4_echo(
    buf: &mut [u8],
    s: &Ipv4Spec,
    reply: bool,
    id: u16,
    seq: u16,
    payload_len: usize,
) -> Option<usize> {
    let l4_len = l4::ICMP_HEADER_LEN + payload_len;
    let total = ipv4_frame(buf, s, IP_PROTO_ICMP, l4_len)?;
    let m = &mut buf[ETH_LEN + ipv4::MIN_HEADER_LEN..total];
    m[l4::field::ICMP_TYPE] = if reply { 0 } else { 8 };
    m[l4::field::ICMP_CODE] = 0;
    m[l4::field::ICMP_CHECKSUM].fill(0);
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    fill_payload(&mut m[l4::ICMP_HEADER_LEN..]);
    let c = checksum(m);
    m[l4::field::ICMP_CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Some(total)
}

/// Length of an ARP frame (Ethernet header + 28 bytes, no padding).
pub const ARP_FRAME_LEN: usize = ETH_LEN + arp::PACKET_LEN;

/// Ethernet + ARP with the given op and addresses; the Ethernet source is `sha` and the
/// destination `eth_dst`.
pub fn arp(
    buf: &mut [u8],
    op: u16,
    eth_dst: [u8; 6],
    (sha, spa): ([u8; 6], [u8; 4]),
    (tha, tpa): ([u8; 6], [u8; 4]),
) -> Option<usize> {
    let b = buf.get_mut(..ARP_FRAME_LEN)?;
    eth(b, sha, eth_dst, ETH_TYPE_ARP);
    let p = &mut b[ETH_LEN..];
    p[arp::field::HTYPE].copy_from_slice(&arp::HTYPE_ETHERNET.to_be_bytes());
    p[arp::field::PTYPE].copy_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    p[arp::field::HLEN] = 6;
    p[arp::field::PLEN] = 4;
    p[arp::field::OP].copy_from_slice(&op.to_be_bytes());
    p[arp::field::SHA].copy_from_slice(&sha);
    p[arp::field::SPA].copy_from_slice(&spa);
    p[arp::field::THA].copy_from_slice(&tha);
    p[arp::field::TPA].copy_from_slice(&tpa);
    Some(ARP_FRAME_LEN)
}

/// A broadcast ARP request from `sha`/`spa` asking for `tpa`.
pub fn arp_request(buf: &mut [u8], sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Option<usize> {
    arp(buf, arp::OP_REQUEST, [0xff; 6], (sha, spa), ([0; 6], tpa))
}

/// An ARP reply from `sha`/`spa` to `tha`/`tpa`, sent to `tha`.
pub fn arp_reply(
    buf: &mut [u8],
    (sha, spa): ([u8; 6], [u8; 4]),
    (tha, tpa): ([u8; 6], [u8; 4]),
) -> Option<usize> {
    arp(buf, arp::OP_REPLY, tha, (sha, spa), (tha, tpa))
}

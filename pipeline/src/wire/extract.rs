//! One pass from frame bytes to a [`FlowKey`] and a [`Layout`].

use super::arp::ArpPacket;
use super::ethernet::{self, EthernetHeader, VlanTag};
use super::ipv4::{self, Ipv4Header};
use super::ipv6::{self, Ipv6Header};
use super::l4::{self, L4Words};
use crate::field::{self as f, Field, VLAN_PRESENT};
use crate::key::FlowKey;

/// The network-layer protocol [`extract`] parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum L3Proto {
    /// None parsed: an unknown EtherType, a non-Ethernet/IPv4 ARP, or a bad header.
    #[default]
    None,
    /// Ethernet/IPv4 ARP (or RARP), 28 bytes at `l3_offset`.
    Arp,
    Ipv4,
    Ipv6,
}

/// The transport-layer protocol [`extract`] parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum L4Proto {
    /// None parsed: another protocol, a later fragment, or a truncated header.
    #[default]
    None,
    Tcp,
    Udp,
    Sctp,
    Icmpv4,
    Icmpv6,
}

/// Where the headers of a parsed frame are, for the rewrites in [`super::rewrite`].
///
/// Offsets are from the first byte of the frame. Only the layers named by `l3` and `l4`
/// are valid; the others' offsets are 0, except `l3_offset`, which is always where the
/// payload after the VLAN tags starts. A layout describes one frame: the rewrites check it
/// against the frame's length and return an error, never panic, when it does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Layout {
    /// VLAN tags parsed (0..=2).
    pub vlan_tags: u8,
    pub l3: L3Proto,
    pub l4: L4Proto,
    /// IPv6 only: a routing header with segments left ≠ 0 is present, so the destination
    /// in the L4 pseudo-header is not `ipv6_dst` and rewriting it leaves the L4 checksum.
    pub ipv6_routing: bool,
    /// Start of the network header (after the Ethernet header and tags).
    pub l3_offset: u32,
    /// Start of the transport header (IP only; set even when `l4` is `None`).
    pub l4_offset: u32,
    /// End of the network packet: IPv4 total length, IPv6 40 + payload length, ARP 28.
    /// Bytes beyond it are Ethernet padding.
    pub l3_end: u32,
}

impl Layout {
    /// The layout with every valid offset moved by `delta` bytes (after a tag push or pop).
    pub(crate) fn shifted(mut self, delta: i32) -> Layout {
        let mv = |o: u32| o.wrapping_add_signed(delta);
        self.l3_offset = mv(self.l3_offset);
        if self.l3 != L3Proto::None {
            self.l3_end = mv(self.l3_end);
        }
        if matches!(self.l3, L3Proto::Ipv4 | L3Proto::Ipv6) {
            self.l4_offset = mv(self.l4_offset);
        }
        self
    }
}

/// Why [`extract`] stopped before the end of the headers it knows.
///
/// Every reason but [`StopReason::TruncatedEthernet`] still yields a usable key (the layers
/// before the stop are filled in); the caller counts them as parse misses by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// Shorter than the 14-byte Ethernet header: nothing to match, drop the frame.
    TruncatedEthernet,
    /// A VLAN TPID without the 4 bytes of TCI and inner EtherType: `eth_type` is the TPID.
    TruncatedVlan,
    /// ARP shorter than 28 bytes: only the L2 fields are set.
    TruncatedArp,
    /// IPv4 shorter than its header or its total length: only the L2 fields are set.
    TruncatedIpv4,
    /// IPv4 with version ≠ 4, IHL < 5 or total length < header length: only L2 fields.
    BadIpv4Header,
    /// IPv6 shorter than 40 bytes or its payload length: only the L2 fields are set.
    TruncatedIpv6,
    /// IPv6 with version ≠ 6: only the L2 fields are set.
    BadIpv6Header,
    /// An IPv6 extension header runs past the payload: L2 fields and the IPv6 addresses
    /// are set, as in OVS; `ip_proto`, TTL, DSCP/ECN and frag are not.
    TruncatedIpv6Ext,
    /// The TCP, UDP, SCTP or ICMP header is shorter than its fixed part: L3 fields are set.
    TruncatedL4,
    /// TCP data offset below 5 or past the end of the segment: L3 fields are set.
    BadTcpHeader,
}

impl StopReason {
    /// Every reason, in declaration order ([`StopReason::index`] indexes it).
    pub const ALL: [StopReason; 10] = [
        StopReason::TruncatedEthernet,
        StopReason::TruncatedVlan,
        StopReason::TruncatedArp,
        StopReason::TruncatedIpv4,
        StopReason::BadIpv4Header,
        StopReason::TruncatedIpv6,
        StopReason::BadIpv6Header,
        StopReason::TruncatedIpv6Ext,
        StopReason::TruncatedL4,
        StopReason::BadTcpHeader,
    ];

    /// A dense index for a counter array of `ALL.len()` entries.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// True when the frame cannot be processed at all and must be dropped.
    #[inline]
    pub fn is_drop(self) -> bool {
        self == StopReason::TruncatedEthernet
    }

    /// A short snake_case name for counters and traces.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::TruncatedEthernet => "truncated_ethernet",
            StopReason::TruncatedVlan => "truncated_vlan",
            StopReason::TruncatedArp => "truncated_arp",
            StopReason::TruncatedIpv4 => "truncated_ipv4",
            StopReason::BadIpv4Header => "bad_ipv4_header",
            StopReason::TruncatedIpv6 => "truncated_ipv6",
            StopReason::BadIpv6Header => "bad_ipv6_header",
            StopReason::TruncatedIpv6Ext => "truncated_ipv6_ext",
            StopReason::TruncatedL4 => "truncated_l4",
            StopReason::BadTcpHeader => "bad_tcp_header",
        }
    }
}

/// [`extract`] stopped early: why, and the layout of the layers it did parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseStop {
    pub reason: StopReason,
    /// Valid for the layers before the stop; rewrites of those layers work.
    pub layout: Layout,
}

impl std::fmt::Display for ParseStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason.name())
    }
}

impl std::error::Error for ParseStop {}

/// The first key word that holds a packet header field; the words before it hold metadata
/// (in_port, pkt_mark, metadata, tunnel, registers) that the caller owns.
fn first_header_word() -> usize {
    Field::EthDst.info().word
}

/// [`FlowKey::set`] for the constant fields of this pass, forced inline so that the
/// field's position folds to constants.
#[inline(always)]
fn put(key: &mut FlowKey, field: Field, value: u128) {
    let i = field.info();
    if i.bits > 64 {
        key.words[i.word] = (value >> 64) as u64;
        key.words[i.word + 1] = value as u64;
    } else {
        let m = (crate::field::mask_of_width(i.bits) as u64) << i.shift;
        let v = ((value as u64) << i.shift) & m;
        key.words[i.word] = (key.words[i.word] & !m) | v;
    }
}

/// OVS `nw_frag` bits.
const FRAG_ANY: u128 = 1;
const FRAG_LATER: u128 = 2;

/// Parses `frame` once and fills `key` with every header field it carries.
///
/// * `in_port` is written to [`Field::InPort`]. The other metadata fields (`pkt_mark`,
///   `metadata`, `tun_*`, `reg0..7`) are left as the caller set them: zero them, or set the
///   tunnel fields from the decapsulation, before calling. Every header field (Ethernet
///   onwards) is first cleared, so a field the packet lacks reads 0, as the key requires.
/// * Ethernet, then up to two 802.1Q (0x8100) or 802.1ad (0x88a8) tags: `vlan_vid` is
///   `0x1000 | vid` and `vlan_pcp` the priority of the outermost tag; `eth_type` is the
///   EtherType after the tags (a third TPID is left as `eth_type`). An 802.3 length field
///   (< 0x600) gives `eth_type` 0x05ff, as OVS.
/// * ARP/RARP (Ethernet/IPv4 only): op, spa, tpa, sha, tha.
/// * IPv4: addresses, proto, DSCP, ECN, TTL, frag; options are skipped by IHL and the
///   packet ends at its total length (the rest is padding). L4 is parsed only in the first
///   fragment.
/// * IPv6: addresses, hop limit (as `nw_ttl`), traffic class (DSCP, ECN); hop-by-hop,
///   routing, fragment, destination-options and AH headers are walked to the upper-layer
///   protocol, which becomes `ip_proto`. A later fragment stops at the fragment header.
/// * TCP/UDP/SCTP ports, ICMPv4 / ICMPv6 type and code.
///
/// Any byte string is accepted and nothing panics or allocates. `Ok` means every header the
/// key describes was parsed as far as the packet goes. `Err` says which header was
/// truncated or bad; the key then holds the layers before it (as OVS's `miniflow_extract`
/// leaves them) and [`ParseStop::layout`] describes those layers.
#[inline(always)]
pub fn extract(frame: &[u8], in_port: u32, key: &mut FlowKey) -> Result<Layout, ParseStop> {
    let mut layout = Layout::default();
    match extract_into(frame, in_port, key, &mut layout) {
        Ok(()) => Ok(layout),
        Err(reason) => Err(ParseStop { reason, layout }),
    }
}

/// [`extract`] into a layout the caller keeps (reset here): the packet worker's form.
///
/// The layout is written field by field; copying it out whole right after (what returning it
/// does) loads 16 bytes that were just stored in pieces, which the CPU cannot forward from
/// the stores: a stall of a dozen cycles per packet, a quarter of `Worker::process` in the
/// forwarding benchmark's profile. A layout read field by field where it was written costs
/// nothing of the kind.
#[inline(always)]
pub fn extract_into(
    frame: &[u8],
    in_port: u32,
    key: &mut FlowKey,
    layout: &mut Layout,
) -> Result<(), StopReason> {
    for w in &mut key.words[first_header_word()..] {
        *w = 0;
    }
    put(key, Field::InPort, u128::from(in_port));
    *layout = Layout::default();
    extract_l2(frame, key, layout)
}

#[inline(always)]
fn extract_l2(frame: &[u8], key: &mut FlowKey, layout: &mut Layout) -> Result<(), StopReason> {
    let Some(eth) = EthernetHeader::new_checked(frame) else {
        return Err(StopReason::TruncatedEthernet);
    };
    put(key, Field::EthDst, eth.dst());
    put(key, Field::EthSrc, eth.src());
    let mut eth_type = eth.ethertype();
    let mut off = ethernet::HEADER_LEN;

    while ethernet::is_vlan_tpid(eth_type) && layout.vlan_tags < ethernet::MAX_TAGS {
        let Some(tag) = frame.get(off..).and_then(VlanTag::new_checked) else {
            put(key, Field::EthType, u128::from(eth_type));
            layout.l3_offset = off as u32;
            return Err(StopReason::TruncatedVlan);
        };
        if layout.vlan_tags == 0 {
            put(key, Field::VlanVid, VLAN_PRESENT | u128::from(tag.vid()));
            put(key, Field::VlanPcp, u128::from(tag.pcp()));
        }
        layout.vlan_tags += 1;
        eth_type = tag.ethertype();
        off += ethernet::TAG_LEN;
    }
    layout.l3_offset = off as u32;
    if eth_type < ethernet::ETH_TYPE_MIN {
        put(key, Field::EthType, u128::from(ethernet::ETH_TYPE_NONE));
        return Ok(());
    }
    put(key, Field::EthType, u128::from(eth_type));
    // `off` is at most 22 and the tags were read from `frame`, so this never fails.
    let l3 = frame.get(off..).unwrap_or_default();
    match eth_type {
        f::ETH_TYPE_IPV4 => extract_ipv4(l3, off, key, layout),
        f::ETH_TYPE_IPV6 => extract_ipv6(l3, off, key, layout),
        f::ETH_TYPE_ARP | f::ETH_TYPE_RARP => {
            let Some(arp) = ArpPacket::new_checked(l3) else {
                return Err(StopReason::TruncatedArp);
            };
            if arp.is_ethernet_ipv4() {
                put(key, Field::ArpOp, u128::from(arp.op()));
                put(key, Field::ArpSpa, u128::from(arp.spa()));
                put(key, Field::ArpTpa, u128::from(arp.tpa()));
                put(key, Field::ArpSha, arp.sha());
                put(key, Field::ArpTha, arp.tha());
                layout.l3 = L3Proto::Arp;
                layout.l3_end = (off + super::arp::PACKET_LEN) as u32;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[inline]
fn extract_ipv4(
    b: &[u8],
    off: usize,
    key: &mut FlowKey,
    layout: &mut Layout,
) -> Result<(), StopReason> {
    let Some(ip) = Ipv4Header::new_checked(b) else {
        return Err(StopReason::TruncatedIpv4);
    };
    let hlen = ip.header_len();
    let tot = ip.total_len();
    if ip.version() != 4 || hlen < ipv4::MIN_HEADER_LEN || tot < hlen {
        return Err(StopReason::BadIpv4Header);
    }
    if b.len() < tot {
        return Err(StopReason::TruncatedIpv4);
    }
    let proto = ip.proto();
    put(
        key,
        Field::Ipv4Src,
        u128::from(u32::from_be_bytes(ip.src())),
    );
    put(
        key,
        Field::Ipv4Dst,
        u128::from(u32::from_be_bytes(ip.dst())),
    );
    put(key, Field::IpProto, u128::from(proto));
    put(key, Field::IpDscp, u128::from(ip.tos() >> 2));
    put(key, Field::IpEcn, u128::from(ip.tos() & 3));
    put(key, Field::IpTtl, u128::from(ip.ttl()));
    let ff = ip.flags_frag();
    let mut frag = 0;
    if ff & (ipv4::FLAG_MF | ipv4::FRAG_OFFSET_MASK) != 0 {
        frag |= FRAG_ANY;
        if ff & ipv4::FRAG_OFFSET_MASK != 0 {
            frag |= FRAG_LATER;
        }
    }
    put(key, Field::IpFrag, frag);
    layout.l3 = L3Proto::Ipv4;
    layout.l4_offset = (off + hlen) as u32;
    layout.l3_end = (off + tot) as u32;
    if frag & FRAG_LATER != 0 {
        return Ok(());
    }
    let l4 = b.get(hlen..tot).unwrap_or_default();
    extract_l4(l4, proto, false, key, layout)
}

#[inline]
fn extract_ipv6(
    b: &[u8],
    off: usize,
    key: &mut FlowKey,
    layout: &mut Layout,
) -> Result<(), StopReason> {
    let Some(ip) = Ipv6Header::new_checked(b) else {
        return Err(StopReason::TruncatedIpv6);
    };
    if ip.version() != 6 {
        return Err(StopReason::BadIpv6Header);
    }
    let end = ipv6::HEADER_LEN + ip.payload_len();
    let Some(packet) = b.get(..end) else {
        return Err(StopReason::TruncatedIpv6);
    };
    put(key, Field::Ipv6Src, ip.src());
    put(key, Field::Ipv6Dst, ip.dst());
    layout.l3 = L3Proto::Ipv6;
    layout.l3_end = (off + end) as u32;

    // Walk the extension headers. Each is at least 8 bytes, so this terminates.
    let mut nh = ip.next_header();
    let mut at = ipv6::HEADER_LEN;
    let mut frag = 0;
    loop {
        layout.l4_offset = (off + at) as u32;
        let rest = packet.get(at..).unwrap_or_default();
        let len = match nh {
            ipv6::NH_HOP_BY_HOP | ipv6::NH_ROUTING | ipv6::NH_DEST_OPTS | ipv6::NH_AUTH => {
                let Some(&[next, hlen]) = rest.first_chunk::<2>() else {
                    return Err(StopReason::TruncatedIpv6Ext);
                };
                let len = if nh == ipv6::NH_AUTH {
                    (usize::from(hlen) + 2) * 4
                } else {
                    (usize::from(hlen) + 1) * 8
                };
                if rest.len() < len {
                    return Err(StopReason::TruncatedIpv6Ext);
                }
                // Segments left is byte 3 of a routing header (len ≥ 8 here).
                if nh == ipv6::NH_ROUTING && rest.get(3).is_some_and(|&s| s != 0) {
                    layout.ipv6_routing = true;
                }
                nh = next;
                len
            }
            ipv6::NH_FRAGMENT => {
                let Some(h) = rest.first_chunk::<{ ipv6::FRAGMENT_LEN }>() else {
                    return Err(StopReason::TruncatedIpv6Ext);
                };
                nh = h[0];
                frag |= FRAG_ANY;
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 {
                    frag |= FRAG_LATER;
                }
                ipv6::FRAGMENT_LEN
            }
            _ => break,
        };
        at += len;
        if frag & FRAG_LATER != 0 {
            layout.l4_offset = (off + at) as u32;
            break;
        }
    }
    let tc = ip.traffic_class();
    put(key, Field::IpProto, u128::from(nh));
    put(key, Field::IpDscp, u128::from(tc >> 2));
    put(key, Field::IpEcn, u128::from(tc & 3));
    put(key, Field::IpTtl, u128::from(ip.hop_limit()));
    put(key, Field::IpFrag, frag);
    if frag & FRAG_LATER != 0 {
        return Ok(());
    }
    let l4 = packet.get(at..).unwrap_or_default();
    extract_l4(l4, nh, true, key, layout)
}

#[inline]
fn extract_l4(
    b: &[u8],
    proto: u8,
    v6: bool,
    key: &mut FlowKey,
    layout: &mut Layout,
) -> Result<(), StopReason> {
    let (kind, min_len) = match (proto, v6) {
        (f::IP_PROTO_TCP, _) => (L4Proto::Tcp, l4::TCP_MIN_HEADER_LEN),
        (f::IP_PROTO_UDP, _) => (L4Proto::Udp, l4::UDP_HEADER_LEN),
        (f::IP_PROTO_SCTP, _) => (L4Proto::Sctp, l4::SCTP_HEADER_LEN),
        (f::IP_PROTO_ICMP, false) => (L4Proto::Icmpv4, l4::ICMP_HEADER_LEN),
        (f::IP_PROTO_ICMPV6, true) => (L4Proto::Icmpv6, l4::ICMP_HEADER_LEN),
        _ => return Ok(()),
    };
    let words = match L4Words::new_checked(b) {
        Some(w) if b.len() >= min_len => w,
        _ => return Err(StopReason::TruncatedL4),
    };
    if kind == L4Proto::Tcp {
        let doff = b
            .get(l4::field::TCP_DATA_OFFSET)
            .map_or(0, |&x| usize::from(x >> 4) * 4);
        if doff < l4::TCP_MIN_HEADER_LEN || doff > b.len() {
            return Err(StopReason::BadTcpHeader);
        }
    }
    // Constant fields in every call, so each `put` compiles to a shift and a store.
    let (w0, w1) = (u128::from(words.word0()), u128::from(words.word1()));
    match kind {
        L4Proto::Tcp => {
            put(key, Field::TcpSrc, w0);
            put(key, Field::TcpDst, w1);
        }
        L4Proto::Udp => {
            put(key, Field::UdpSrc, w0);
            put(key, Field::UdpDst, w1);
        }
        L4Proto::Sctp => {
            put(key, Field::SctpSrc, w0);
            put(key, Field::SctpDst, w1);
        }
        L4Proto::Icmpv4 => {
            put(key, Field::Icmpv4Type, w0 >> 8);
            put(key, Field::Icmpv4Code, w0 & 0xff);
        }
        L4Proto::Icmpv6 => {
            put(key, Field::Icmpv6Type, w0 >> 8);
            put(key, Field::Icmpv6Code, w0 & 0xff);
        }
        L4Proto::None => {}
    }
    layout.l4 = kind;
    Ok(())
}

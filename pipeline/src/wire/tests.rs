//! Tests of the wire module: cross-checks against etherparse, every truncated length,
//! never-panic properties, and checksum-preserving rewrites.

use etherparse::{
    DoubleVlanHeader, EtherType, IpDscp, IpEcn, IpFragOffset, IpHeaders, IpNumber, Ipv4Extensions,
    Ipv4Header, Ipv6Extensions, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, PacketBuilder,
    SingleVlanHeader, SlicedPacket, VlanHeader, VlanId, VlanPcp,
};
use proptest::prelude::*;

use super::build::{self, Ipv4Spec};
use super::checksum::{crc32c, fold, pseudo_header_v4, pseudo_header_v6, sum, verifies};
use super::*;
use crate::field::{Field, VLAN_PRESENT};
use crate::key::FlowKey;

// ---------------------------------------------------------------------------------------
// Packet specifications and an etherparse-built frame for each.

#[derive(Clone, Debug)]
enum L4Spec {
    Udp(u16, u16),
    Tcp(u16, u16),
    Sctp(u16, u16),
    /// ICMPv4 in IPv4, ICMPv6 in IPv6.
    Icmp(u8, u8),
    Other(u8),
}

#[derive(Clone, Debug)]
enum L3Spec {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        dscp: u8,
        ecn: u8,
        /// (more fragments, offset in 8-byte units)
        frag: (bool, u16),
        l4: L4Spec,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        hlim: u8,
        tc: u8,
        hop_by_hop: bool,
        dest_opts: bool,
        /// (more fragments, offset)
        frag: Option<(bool, u16)>,
        l4: L4Spec,
    },
    Arp {
        op: u16,
        sha: [u8; 6],
        spa: [u8; 4],
        tha: [u8; 6],
        tpa: [u8; 4],
    },
}

#[derive(Clone, Debug)]
struct Spec {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    /// (vid, pcp); the outer TPID is 0x88a8 when `qinq`.
    vlans: Vec<(u16, u8)>,
    qinq: bool,
    l3: L3Spec,
    payload_len: usize,
}

fn l4_strategy() -> impl Strategy<Value = L4Spec> {
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| L4Spec::Udp(a, b)),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| L4Spec::Tcp(a, b)),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| L4Spec::Sctp(a, b)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| L4Spec::Icmp(a, b)),
        Just(L4Spec::Other(47)),
    ]
}

/// `fragments`: whether IP fragments may be generated (rewrite tests avoid them because
/// an L4 checksum over a fragmented datagram cannot be verified from one fragment).
fn spec_strategy(fragments: bool) -> impl Strategy<Value = Spec> {
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        0u8..64,
        0u8..4,
        (any::<bool>(), prop_oneof![Just(0u16), 1u16..0x1fff]),
        l4_strategy(),
    )
        .prop_map(move |(src, dst, ttl, dscp, ecn, frag, l4)| L3Spec::V4 {
            src,
            dst,
            ttl,
            dscp,
            ecn,
            frag: if fragments { frag } else { (false, 0) },
            l4,
        });
    let v6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u8>(),
        any::<u8>(),
        any::<(bool, bool)>(),
        proptest::option::of((any::<bool>(), prop_oneof![Just(0u16), 1u16..0x1fff])),
        l4_strategy(),
    )
        .prop_map(
            move |(src, dst, hlim, tc, (hop_by_hop, dest_opts), frag, l4)| L3Spec::V6 {
                src,
                dst,
                hlim,
                tc,
                hop_by_hop,
                dest_opts,
                frag: if fragments { frag } else { None },
                l4,
            },
        );
    let arp = (
        1u16..3,
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(op, sha, spa, tha, tpa)| L3Spec::Arp {
            op,
            sha,
            spa,
            tha,
            tpa,
        });
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        proptest::collection::vec((0u16..4096, 0u8..8), 0..=2),
        any::<bool>(),
        prop_oneof![3 => v4, 2 => v6, 1 => arp],
        0usize..40,
    )
        .prop_map(|(src_mac, dst_mac, vlans, qinq, l3, payload_len)| Spec {
            src_mac,
            dst_mac,
            qinq: qinq && !vlans.is_empty(),
            vlans,
            l3,
            payload_len,
        })
}

fn vlan_header(&(vid, pcp): &(u16, u8)) -> SingleVlanHeader {
    SingleVlanHeader {
        pcp: VlanPcp::try_new(pcp).unwrap(),
        drop_eligible_indicator: false,
        vlan_id: VlanId::try_new(vid).unwrap(),
        ether_type: EtherType(0),
    }
}

/// Writes the SCTP common header with a correct CRC32c over `seg` (an SCTP packet).
fn finish_sctp(seg: &mut [u8], sport: u16, dport: u16) {
    seg[0..2].copy_from_slice(&sport.to_be_bytes());
    seg[2..4].copy_from_slice(&dport.to_be_bytes());
    seg[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    seg[8..12].fill(0);
    let c = crc32c(seg);
    seg[8..12].copy_from_slice(&c.to_le_bytes());
}

/// Builds the frame with etherparse (SCTP and "other" protocols as raw IP payloads).
fn build_frame(s: &Spec) -> Vec<u8> {
    let payload: Vec<u8> = (0..s.payload_len).map(|i| i as u8 ^ 0x5a).collect();
    let eth = PacketBuilder::ethernet2(s.src_mac, s.dst_mac);
    let vlan = match s.vlans.as_slice() {
        [] => None,
        [one] => Some(VlanHeader::Single(vlan_header(one))),
        [outer, inner, ..] => Some(VlanHeader::Double(DoubleVlanHeader {
            outer: vlan_header(outer),
            inner: vlan_header(inner),
        })),
    };
    let mut out = Vec::new();
    let (ip, l4) = match &s.l3 {
        L3Spec::Arp {
            op,
            sha,
            spa,
            tha,
            tpa,
        } => {
            let arp = etherparse::ArpPacket::new(
                etherparse::ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                etherparse::ArpOperation(*op),
                sha,
                spa,
                tha,
                tpa,
            )
            .unwrap();
            match vlan {
                Some(v) => eth.vlan(v).arp(arp).write(&mut out).unwrap(),
                None => eth.arp(arp).write(&mut out).unwrap(),
            }
            return patch_qinq(s, out);
        }
        L3Spec::V4 {
            src,
            dst,
            ttl,
            dscp,
            ecn,
            frag,
            l4,
        } => {
            let mut h = Ipv4Header::new(0, *ttl, IpNumber(0), *src, *dst).unwrap();
            h.dscp = IpDscp::try_new(*dscp).unwrap();
            h.ecn = IpEcn::try_new(*ecn).unwrap();
            h.more_fragments = frag.0;
            h.fragment_offset = IpFragOffset::try_new(frag.1).unwrap();
            (IpHeaders::Ipv4(h, Ipv4Extensions::default()), l4)
        }
        L3Spec::V6 {
            src,
            dst,
            hlim,
            tc,
            hop_by_hop,
            dest_opts,
            frag,
            l4,
        } => {
            let h = Ipv6Header {
                traffic_class: *tc,
                flow_label: Default::default(),
                payload_length: 0,
                next_header: IpNumber(0),
                hop_limit: *hlim,
                source: *src,
                destination: *dst,
            };
            let raw = |_| Ipv6RawExtHeader::new_raw(IpNumber(0), &[0; 6]).unwrap();
            let exts = Ipv6Extensions {
                hop_by_hop_options: hop_by_hop.then(|| raw(())),
                destination_options: dest_opts.then(|| raw(())),
                routing: None,
                fragment: frag.map(|(more, off)| {
                    Ipv6FragmentHeader::new(
                        IpNumber(0),
                        IpFragOffset::try_new(off).unwrap(),
                        more,
                        7,
                    )
                }),
                auth: None,
            };
            (IpHeaders::Ipv6(h, exts), l4)
        }
    };
    let v6 = matches!(ip, IpHeaders::Ipv6(..));
    let step = match vlan {
        Some(v) => eth.vlan(v).ip(ip),
        None => eth.ip(ip),
    };
    match l4 {
        L4Spec::Udp(a, b) => step.udp(*a, *b).write(&mut out, &payload).unwrap(),
        L4Spec::Tcp(a, b) => step
            .tcp(*a, *b, 1000, 512)
            .write(&mut out, &payload)
            .unwrap(),
        L4Spec::Icmp(t, c) if v6 => step
            .icmpv6_raw(*t, *c, [1, 2, 3, 4])
            .write(&mut out, &payload)
            .unwrap(),
        L4Spec::Icmp(t, c) => step
            .icmpv4_raw(*t, *c, [1, 2, 3, 4])
            .write(&mut out, &payload)
            .unwrap(),
        L4Spec::Sctp(a, b) => {
            let mut seg = vec![0u8; 12 + s.payload_len];
            seg[12..].copy_from_slice(&payload);
            finish_sctp(&mut seg, *a, *b);
            step.write(&mut out, IpNumber::SCTP, &seg).unwrap();
        }
        L4Spec::Other(p) => step.write(&mut out, IpNumber(*p), &payload).unwrap(),
    }
    patch_qinq(s, out)
}

fn patch_qinq(s: &Spec, mut out: Vec<u8>) -> Vec<u8> {
    if s.qinq {
        out[12..14].copy_from_slice(&0x88a8u16.to_be_bytes());
    }
    out
}

/// The key the spec's frame must produce (from the spec, not from our parser).
fn expected_key(s: &Spec, in_port: u32) -> FlowKey {
    let mut k = FlowKey::default();
    let mac = |m: &[u8; 6]| ethernet::mac(m);
    k.set(Field::InPort, in_port.into());
    k.set(Field::EthSrc, mac(&s.src_mac));
    k.set(Field::EthDst, mac(&s.dst_mac));
    if let Some(&(vid, pcp)) = s.vlans.first() {
        k.set(Field::VlanVid, VLAN_PRESENT | u128::from(vid));
        k.set(Field::VlanPcp, pcp.into());
    }
    let (v6, l4, later) = match &s.l3 {
        L3Spec::Arp {
            op,
            sha,
            spa,
            tha,
            tpa,
        } => {
            k.set(Field::EthType, 0x0806);
            k.set(Field::ArpOp, (*op).into());
            k.set(Field::ArpSha, mac(sha));
            k.set(Field::ArpTha, mac(tha));
            k.set(Field::ArpSpa, u32::from_be_bytes(*spa).into());
            k.set(Field::ArpTpa, u32::from_be_bytes(*tpa).into());
            return k;
        }
        L3Spec::V4 {
            src,
            dst,
            ttl,
            dscp,
            ecn,
            frag,
            l4,
        } => {
            k.set(Field::EthType, 0x0800);
            k.set(Field::Ipv4Src, u32::from_be_bytes(*src).into());
            k.set(Field::Ipv4Dst, u32::from_be_bytes(*dst).into());
            k.set(Field::IpTtl, (*ttl).into());
            k.set(Field::IpDscp, (*dscp).into());
            k.set(Field::IpEcn, (*ecn).into());
            let f = match frag {
                (false, 0) => 0,
                (true, 0) => 1,
                _ => 3,
            };
            k.set(Field::IpFrag, f);
            (false, l4, f == 3)
        }
        L3Spec::V6 {
            src,
            dst,
            hlim,
            tc,
            frag,
            l4,
            ..
        } => {
            k.set(Field::EthType, 0x86dd);
            k.set(Field::Ipv6Src, u128::from_be_bytes(*src));
            k.set(Field::Ipv6Dst, u128::from_be_bytes(*dst));
            k.set(Field::IpTtl, (*hlim).into());
            k.set(Field::IpDscp, (tc >> 2).into());
            k.set(Field::IpEcn, (tc & 3).into());
            let f = match frag {
                None => 0,
                Some((_, 0)) => 1,
                Some(_) => 3,
            };
            k.set(Field::IpFrag, f);
            (true, l4, f == 3)
        }
    };
    let proto = match l4 {
        L4Spec::Udp(..) => 17,
        L4Spec::Tcp(..) => 6,
        L4Spec::Sctp(..) => 132,
        L4Spec::Icmp(..) if v6 => 58,
        L4Spec::Icmp(..) => 1,
        L4Spec::Other(p) => *p,
    };
    k.set(Field::IpProto, proto.into());
    if later {
        return k;
    }
    match *l4 {
        L4Spec::Udp(a, b) => {
            k.set(Field::UdpSrc, a.into());
            k.set(Field::UdpDst, b.into());
        }
        L4Spec::Tcp(a, b) => {
            k.set(Field::TcpSrc, a.into());
            k.set(Field::TcpDst, b.into());
        }
        L4Spec::Sctp(a, b) => {
            k.set(Field::SctpSrc, a.into());
            k.set(Field::SctpDst, b.into());
        }
        L4Spec::Icmp(t, c) if v6 => {
            k.set(Field::Icmpv6Type, t.into());
            k.set(Field::Icmpv6Code, c.into());
        }
        L4Spec::Icmp(t, c) => {
            k.set(Field::Icmpv4Type, t.into());
            k.set(Field::Icmpv4Code, c.into());
        }
        L4Spec::Other(_) => {}
    }
    k
}

/// Checks our key against etherparse's own parse of the same bytes, for every field
/// etherparse reports.
fn cross_check_etherparse(frame: &[u8], key: &FlowKey) {
    let p = SlicedPacket::from_ethernet(frame).expect("etherparse parses our test frames");
    if let Some(etherparse::LinkSlice::Ethernet2(e)) = &p.link {
        assert_eq!(key.get(Field::EthSrc), ethernet::mac(&e.source()));
        assert_eq!(key.get(Field::EthDst), ethernet::mac(&e.destination()));
    }
    if let Some(etherparse::LinkExtSlice::Vlan(v)) = p.link_exts.first() {
        let vid = VLAN_PRESENT | u128::from(v.vlan_identifier().value());
        assert_eq!(key.get(Field::VlanVid), vid);
        assert_eq!(
            key.get(Field::VlanPcp),
            u128::from(v.priority_code_point().value())
        );
    }
    match &p.net {
        Some(etherparse::NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            assert_eq!(
                key.get(Field::Ipv4Src),
                u32::from_be_bytes(h.source()).into()
            );
            assert_eq!(
                key.get(Field::Ipv4Dst),
                u32::from_be_bytes(h.destination()).into()
            );
            assert_eq!(key.get(Field::IpProto), h.protocol().0.into());
            assert_eq!(key.get(Field::IpTtl), h.ttl().into());
            assert_eq!(key.get(Field::IpDscp), h.dcp().value().into());
            assert_eq!(key.get(Field::IpEcn), h.ecn().value().into());
        }
        Some(etherparse::NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            assert_eq!(key.get(Field::Ipv6Src), u128::from_be_bytes(h.source()));
            assert_eq!(
                key.get(Field::Ipv6Dst),
                u128::from_be_bytes(h.destination())
            );
            assert_eq!(key.get(Field::IpTtl), h.hop_limit().into());
            assert_eq!(key.get(Field::IpDscp), (h.traffic_class() >> 2).into());
            assert_eq!(key.get(Field::IpProto), ip.payload().ip_number.0.into());
        }
        Some(etherparse::NetSlice::Arp(a)) => {
            assert_eq!(key.get(Field::ArpOp), a.operation().0.into());
            assert_eq!(key.get(Field::ArpSha), ethernet::mac(a.sender_hw_addr()));
            assert_eq!(
                key.get(Field::ArpTpa),
                ethernet::mac(a.target_protocol_addr())
            );
        }
        None => {}
    }
    match &p.transport {
        Some(etherparse::TransportSlice::Udp(u)) => {
            assert_eq!(key.get(Field::UdpSrc), u.source_port().into());
            assert_eq!(key.get(Field::UdpDst), u.destination_port().into());
        }
        Some(etherparse::TransportSlice::Tcp(t)) => {
            assert_eq!(key.get(Field::TcpSrc), t.source_port().into());
            assert_eq!(key.get(Field::TcpDst), t.destination_port().into());
        }
        Some(etherparse::TransportSlice::Icmpv4(i)) => {
            assert_eq!(key.get(Field::Icmpv4Type), i.type_u8().into());
            assert_eq!(key.get(Field::Icmpv4Code), i.code_u8().into());
        }
        Some(etherparse::TransportSlice::Icmpv6(i)) => {
            assert_eq!(key.get(Field::Icmpv6Type), i.type_u8().into());
            assert_eq!(key.get(Field::Icmpv6Code), i.code_u8().into());
        }
        _ => {}
    }
}

/// True when the IPv4 header checksum and the L4 checksum of `frame` verify by full
/// recomputation (the L4 check is skipped for fragments).
fn checksums_verify(frame: &[u8], l: &Layout) -> bool {
    let (l3, l4, end) = (
        l.l3_offset as usize,
        l.l4_offset as usize,
        l.l3_end as usize,
    );
    let seg = &frame[l4..end];
    let pseudo = match l.l3 {
        L3Proto::Ipv4 => {
            let h = &frame[l3..l4];
            if !verifies(h, 0) {
                return false;
            }
            if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
                return true;
            }
            pseudo_header_v4(
                h[12..16].try_into().unwrap(),
                h[16..20].try_into().unwrap(),
                h[9],
                seg.len() as u16,
            )
        }
        L3Proto::Ipv6 => {
            let h = &frame[l3..l3 + 40];
            let nh = match l.l4 {
                L4Proto::Tcp => 6,
                L4Proto::Udp => 17,
                _ => 58,
            };
            pseudo_header_v6(
                h[8..24].try_into().unwrap(),
                h[24..40].try_into().unwrap(),
                nh,
                seg.len() as u32,
            )
        }
        _ => return true,
    };
    match l.l4 {
        L4Proto::Tcp | L4Proto::Icmpv6 => verifies(seg, pseudo),
        L4Proto::Udp => seg[6..8] == [0, 0] || verifies(seg, pseudo),
        L4Proto::Icmpv4 => verifies(seg, 0),
        L4Proto::Sctp => {
            let stored = u32::from_le_bytes(seg[8..12].try_into().unwrap());
            let mut s = seg.to_vec();
            s[8..12].fill(0);
            crc32c(&s) == stored
        }
        L4Proto::None => true,
    }
}

fn key_of(frame: &[u8]) -> (Result<Layout, ParseStop>, FlowKey) {
    let mut k = FlowKey::default();
    let r = extract(frame, 7, &mut k);
    (r, k)
}

// ---------------------------------------------------------------------------------------
// Known-good frames.

const SPEC: Ipv4Spec = Ipv4Spec {
    src_mac: [0x02, 0, 0, 0, 0, 1],
    dst_mac: [0x02, 0, 0, 0, 0, 2],
    src_ip: [10, 0, 0, 1],
    dst_ip: [10, 0, 0, 2],
    ttl: 64,
};

#[test]
fn builder_frames_parse_and_match_etherparse() {
    let mut buf = [0u8; 256];
    let n = build::udp4(&mut buf, &SPEC, 1234, 53, 22).unwrap();
    assert_eq!(n, 64);
    let (r, k) = key_of(&buf[..n]);
    let l = r.unwrap();
    assert_eq!(
        (l.l3, l.l4, l.l3_offset, l.l4_offset),
        (L3Proto::Ipv4, L4Proto::Udp, 14, 34)
    );
    assert_eq!(k.get(Field::InPort), 7);
    assert_eq!(k.get(Field::UdpDst), 53);
    assert_eq!(k.get(Field::Ipv4Src), 0x0a00_0001);
    assert_eq!(k.get(Field::IpTtl), 64);
    assert!(checksums_verify(&buf[..n], &l));
    cross_check_etherparse(&buf[..n], &k);

    let n = build::tcp4(&mut buf, &SPEC, (40000, 80), 0x02, 1, 0).unwrap();
    let (r, k) = key_of(&buf[..n]);
    let l = r.unwrap();
    assert_eq!(l.l4, L4Proto::Tcp);
    assert_eq!((k.get(Field::TcpSrc), k.get(Field::TcpDst)), (40000, 80));
    assert!(checksums_verify(&buf[..n], &l));
    cross_check_etherparse(&buf[..n], &k);

    let n = build::icmp4_echo(&mut buf, &SPEC, false, 1, 2, 56).unwrap();
    let (r, k) = key_of(&buf[..n]);
    let l = r.unwrap();
    assert_eq!(l.l4, L4Proto::Icmpv4);
    assert_eq!((k.get(Field::Icmpv4Type), k.get(Field::Icmpv4Code)), (8, 0));
    assert!(checksums_verify(&buf[..n], &l));
    cross_check_etherparse(&buf[..n], &k);

    let n = build::arp_request(&mut buf, SPEC.src_mac, SPEC.src_ip, SPEC.dst_ip).unwrap();
    let (r, k) = key_of(&buf[..n]);
    assert_eq!(r.unwrap().l3, L3Proto::Arp);
    assert_eq!(k.get(Field::ArpOp), 1);
    assert_eq!(k.get(Field::EthDst), 0xffff_ffff_ffff);
    assert_eq!(k.get(Field::ArpTpa), 0x0a00_0002);
    cross_check_etherparse(&buf[..n], &k);

    let n = build::arp_reply(
        &mut buf,
        (SPEC.src_mac, SPEC.src_ip),
        (SPEC.dst_mac, SPEC.dst_ip),
    )
    .unwrap();
    let (_, k) = key_of(&buf[..n]);
    assert_eq!(k.get(Field::ArpOp), 2);
    assert_eq!(k.get(Field::ArpTha), 0x0200_0000_0002);

    assert_eq!(build::udp4(&mut buf[..63], &SPEC, 1, 2, 22), None);
}

#[test]
fn metadata_is_left_alone_and_header_fields_are_cleared() {
    let mut buf = [0u8; 128];
    let n = build::udp4(&mut buf, &SPEC, 1, 2, 0).unwrap();
    let mut k = FlowKey::default();
    k.set(Field::Reg3, 0xdead);
    k.set(Field::TunId, 42);
    k.set(Field::PktMark, 9);
    k.set(Field::TcpDst, 999); // stale header field from an earlier packet
    k.set(Field::Ipv6Dst, 1);
    extract(&buf[..n], 3, &mut k).unwrap();
    assert_eq!(k.get(Field::Reg3), 0xdead);
    assert_eq!(k.get(Field::TunId), 42);
    assert_eq!(k.get(Field::PktMark), 9);
    assert_eq!(k.get(Field::InPort), 3);
    assert_eq!(k.get(Field::UdpDst), 2);
    assert_eq!(k.get(Field::Ipv6Dst), 0);
    // Every metadata field lies before the first header word, every header field after.
    for f in Field::ALL {
        let meta = matches!(
            f,
            Field::InPort
                | Field::Metadata
                | Field::TunId
                | Field::TunSrc
                | Field::TunDst
                | Field::PktMark
                | Field::Reg0
                | Field::Reg1
                | Field::Reg2
                | Field::Reg3
                | Field::Reg4
                | Field::Reg5
                | Field::Reg6
                | Field::Reg7
        );
        assert_eq!(f.info().word < Field::EthDst.info().word, meta, "{f:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Stops: truncation and bad headers.

fn sample_frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    let n = build::udp4(&mut buf, &SPEC, 1, 2, 10).unwrap();
    out.push(buf[..n].to_vec());
    let n = build::tcp4(&mut buf, &SPEC, (1, 2), 0x10, 5, 3).unwrap();
    out.push(buf[..n].to_vec());
    let n = build::icmp4_echo(&mut buf, &SPEC, true, 1, 1, 4).unwrap();
    out.push(buf[..n].to_vec());
    let n = build::arp_request(&mut buf, SPEC.src_mac, SPEC.src_ip, SPEC.dst_ip).unwrap();
    out.push(buf[..n].to_vec());
    let v6 = |l4, hop_by_hop, frag| L3Spec::V6 {
        src: [1; 16],
        dst: [2; 16],
        hlim: 9,
        tc: 0xb9,
        hop_by_hop,
        dest_opts: hop_by_hop,
        frag,
        l4,
    };
    for (vlans, l3) in [
        (vec![(5, 3)], v6(L4Spec::Udp(7, 8), false, None)),
        (
            vec![(5, 3), (6, 1)],
            v6(L4Spec::Tcp(7, 8), true, Some((true, 0))),
        ),
        (vec![], v6(L4Spec::Icmp(128, 0), true, None)),
        (vec![(1, 1)], v6(L4Spec::Sctp(1, 2), false, None)),
    ] {
        out.push(build_frame(&Spec {
            src_mac: [1; 6],
            dst_mac: [2; 6],
            vlans,
            qinq: false,
            l3,
            payload_len: 5,
        }));
    }
    out
}

#[test]
fn every_truncated_length_stops_with_a_reason() {
    for frame in sample_frames() {
        let full = key_of(&frame);
        let l = full.0.expect("sample frames parse completely");
        for len in 0..frame.len() {
            let (r, k) = key_of(&frame[..len]);
            let stop = r.expect_err("a truncated frame is never complete");
            let want = if len < 14 {
                StopReason::TruncatedEthernet
            } else if len < l.l3_offset as usize {
                StopReason::TruncatedVlan
            } else {
                match l.l3 {
                    L3Proto::Arp => StopReason::TruncatedArp,
                    L3Proto::Ipv4 => StopReason::TruncatedIpv4,
                    L3Proto::Ipv6 => StopReason::TruncatedIpv6,
                    L3Proto::None => unreachable!(),
                }
            };
            assert_eq!(stop.reason, want, "len {len} of {frame:02x?}");
            assert_eq!(stop.reason.is_drop(), len < 14);
            assert_eq!(k.get(Field::InPort), 7);
            if len >= 14 {
                assert_eq!(k.get(Field::EthSrc), full.1.get(Field::EthSrc));
                // No L3 field survives a truncated L3 header.
                assert_eq!(k.get(Field::IpProto), 0);
                assert_eq!(k.get(Field::Ipv4Src), 0);
                assert_eq!(k.get(Field::Ipv6Src), 0);
            }
        }
    }
}

#[test]
fn truncated_vlan_keeps_the_tpid_as_eth_type() {
    let f = build_frame(&Spec {
        src_mac: [1; 6],
        dst_mac: [2; 6],
        vlans: vec![(5, 3)],
        qinq: true,
        l3: L3Spec::Arp {
            op: 1,
            sha: [3; 6],
            spa: [4; 4],
            tha: [5; 6],
            tpa: [6; 4],
        },
        payload_len: 0,
    });
    let (r, k) = key_of(&f[..16]);
    assert_eq!(r.unwrap_err().reason, StopReason::TruncatedVlan);
    assert_eq!(k.get(Field::EthType), 0x88a8);
    assert_eq!(k.get(Field::VlanVid), 0);
    let (r, k) = key_of(&f);
    assert_eq!(r.unwrap().vlan_tags, 1);
    assert_eq!(k.get(Field::VlanVid), 0x1005);
}

/// An IPv4 frame whose bytes the test then breaks.
fn udp4_frame() -> Vec<u8> {
    let mut buf = [0u8; 128];
    let n = build::udp4(&mut buf, &SPEC, 1, 2, 10).unwrap();
    buf[..n].to_vec()
}

#[test]
fn bad_ipv4_headers_leave_only_l2() {
    let cases: [(&[(usize, u8)], StopReason); 5] = [
        (&[(14, 0x44)], StopReason::BadIpv4Header),        // IHL 4
        (&[(14, 0x65)], StopReason::BadIpv4Header),        // version 6
        (&[(14, 0x4f)], StopReason::BadIpv4Header),        // IHL 15: 60 > total length 38
        (&[(16, 0), (17, 19)], StopReason::BadIpv4Header), // total length 19 < 20
        (&[(16, 1)], StopReason::TruncatedIpv4),           // total length 0x126 > frame
    ];
    for (patch, reason) in cases {
        let mut f = udp4_frame();
        for &(at, v) in patch {
            f[at] = v;
        }
        let (r, k) = key_of(&f);
        let stop = r.unwrap_err();
        assert_eq!(stop.reason, reason, "{patch:?}");
        assert_eq!(stop.layout.l3, L3Proto::None);
        assert_eq!(k.get(Field::EthType), 0x0800);
        assert_eq!(k.get(Field::Ipv4Src), 0);
        assert_eq!(k.get(Field::IpTtl), 0);
    }
}

#[test]
fn short_l4_keeps_l3_and_padding_is_ignored() {
    // Total length says 20 + 4: a UDP header cut in half.
    let mut f = udp4_frame();
    f[16..18].copy_from_slice(&24u16.to_be_bytes());
    let (r, k) = key_of(&f);
    let stop = r.unwrap_err();
    assert_eq!(stop.reason, StopReason::TruncatedL4);
    assert_eq!(
        (stop.layout.l3, stop.layout.l4),
        (L3Proto::Ipv4, L4Proto::None)
    );
    assert_eq!(k.get(Field::Ipv4Dst), 0x0a00_0002);
    assert_eq!(k.get(Field::IpProto), 17);
    assert_eq!(k.get(Field::UdpSrc), 0);
    // Ethernet padding after the IP packet is not part of it.
    let mut f = udp4_frame();
    f.extend_from_slice(&[0xee; 20]);
    let l = key_of(&f).0.unwrap();
    assert_eq!(l.l3_end as usize, f.len() - 20);
}

#[test]
fn bad_tcp_data_offset() {
    let mut buf = [0u8; 128];
    let n = build::tcp4(&mut buf, &SPEC, (1, 2), 0, 0, 0).unwrap();
    for doff in [0u8, 4, 6] {
        let mut f = buf[..n].to_vec();
        f[34 + 12] = doff << 4;
        let (r, k) = key_of(&f);
        assert_eq!(r.unwrap_err().reason, StopReason::BadTcpHeader, "{doff}");
        assert_eq!(k.get(Field::TcpDst), 0);
        assert_eq!(k.get(Field::IpProto), 6);
    }
}

#[test]
fn ipv4_fragments() {
    let mut f = udp4_frame();
    // First fragment: MF set, offset 0: L4 parsed, frag = 1.
    f[20..22].copy_from_slice(&0x2000u16.to_be_bytes());
    let (r, k) = key_of(&f);
    assert_eq!(r.unwrap().l4, L4Proto::Udp);
    assert_eq!((k.get(Field::IpFrag), k.get(Field::UdpSrc)), (1, 1));
    // Later fragment: no L4, frag = 3.
    f[20..22].copy_from_slice(&0x0001u16.to_be_bytes());
    let (r, k) = key_of(&f);
    assert_eq!(r.unwrap().l4, L4Proto::None);
    assert_eq!((k.get(Field::IpFrag), k.get(Field::UdpSrc)), (3, 0));
    // DF alone is not a fragment.
    f[20..22].copy_from_slice(&0x4000u16.to_be_bytes());
    assert_eq!(key_of(&f).1.get(Field::IpFrag), 0);
}

/// Ethernet + IPv6 with the given extension bytes and L4 bytes after them.
fn v6_frame(first_nh: u8, exts: &[u8], l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    let plen = (exts.len() + l4.len()) as u16;
    f.extend_from_slice(&[0x6b, 0x90, 0, 0]);
    f.extend_from_slice(&plen.to_be_bytes());
    f.extend_from_slice(&[first_nh, 33]);
    f.extend_from_slice(&[0x11; 16]);
    f.extend_from_slice(&[0x22; 16]);
    f.extend_from_slice(exts);
    f.extend_from_slice(l4);
    f
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let udp = [0, 1, 0, 2, 0, 8, 0, 0];
    // Hop-by-hop (8) → routing (8, segments left 1) → AH (12) → dest opts (16) → UDP.
    let mut exts = vec![43, 0, 0, 0, 0, 0, 0, 0];
    exts.extend_from_slice(&[51, 0, 0, 1, 0, 0, 0, 0]);
    exts.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    exts.extend_from_slice(&[17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let f = v6_frame(0, &exts, &udp);
    let (r, k) = key_of(&f);
    let l = r.unwrap();
    assert!(l.ipv6_routing);
    assert_eq!(l.l4_offset as usize, 14 + 40 + exts.len());
    assert_eq!(k.get(Field::IpProto), 17);
    assert_eq!(k.get(Field::UdpDst), 2);
    assert_eq!(k.get(Field::IpTtl), 33);
    assert_eq!((k.get(Field::IpDscp), k.get(Field::IpEcn)), (0xb9 >> 2, 1));
    // Cutting the payload length inside an extension header stops there, keeping addresses.
    let mut cut = f.clone();
    cut[18..20].copy_from_slice(&20u16.to_be_bytes());
    let (r, k) = key_of(&cut);
    assert_eq!(r.unwrap_err().reason, StopReason::TruncatedIpv6Ext);
    assert_eq!(k.get(Field::Ipv6Src), u128::from_be_bytes([0x11; 16]));
    assert_eq!((k.get(Field::IpProto), k.get(Field::IpTtl)), (0, 0));
    // A later fragment stops at the fragment header with its next header as ip_proto.
    let frag_later = [6, 0, 0, 8, 0, 0, 0, 1];
    let (r, k) = key_of(&v6_frame(44, &frag_later, &[0; 20]));
    assert_eq!(r.unwrap().l4, L4Proto::None);
    assert_eq!((k.get(Field::IpProto), k.get(Field::IpFrag)), (6, 3));
    // An atomic fragment (offset 0, M 0) is a fragment to OVS and its L4 is parsed.
    let (r, k) = key_of(&v6_frame(44, &[17, 0, 0, 0, 0, 0, 0, 1], &udp));
    assert_eq!(r.unwrap().l4, L4Proto::Udp);
    assert_eq!((k.get(Field::IpFrag), k.get(Field::UdpSrc)), (1, 1));
    // Version 4 in an IPv6 EtherType.
    let mut bad = v6_frame(17, &[], &udp);
    bad[14] = 0x4b;
    assert_eq!(
        key_of(&bad).0.unwrap_err().reason,
        StopReason::BadIpv6Header
    );
}

#[test]
fn odd_ethernet_types() {
    let mut f = udp4_frame();
    f[12..14].copy_from_slice(&0x0040u16.to_be_bytes()); // 802.3 length
    let (r, k) = key_of(&f);
    assert_eq!(r.unwrap().l3, L3Proto::None);
    assert_eq!(k.get(Field::EthType), 0x05ff);
    // Three tags: the third TPID is eth_type, nothing after it is parsed.
    let mut g = f[..12].to_vec();
    for _ in 0..3 {
        g.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    }
    g.extend_from_slice(&[0x08, 0x00]);
    g.extend_from_slice(&udp4_frame()[14..]);
    let (r, k) = key_of(&g);
    let l = r.unwrap();
    assert_eq!((l.vlan_tags, l.l3), (2, L3Proto::None));
    assert_eq!(k.get(Field::EthType), 0x8100);
    // Non-Ethernet ARP is not described by the key.
    let mut a = [0u8; 64];
    let n = build::arp_request(&mut a, [1; 6], [1; 4], [2; 4]).unwrap();
    a[14 + 1] = 6; // hrd 6 (IEEE 802)
    let (r, k) = key_of(&a[..n]);
    assert_eq!(r.unwrap().l3, L3Proto::None);
    assert_eq!((k.get(Field::EthType), k.get(Field::ArpOp)), (0x0806, 0));
}

// ---------------------------------------------------------------------------------------
// Properties.

/// Runs every rewrite on a copy of `frame` with `layout`: none may panic.
fn rewrites_never_panic(frame: &[u8], layout: &Layout, value: u128) {
    for f in Field::ALL {
        let mut c = frame.to_vec();
        let _ = set_field(&mut c, layout, f, value);
    }
    let mut c = frame.to_vec();
    let _ = dec_ttl(&mut c, layout);
    let mut buf = vec![0u8; frame.len() + 8];
    buf[8..].copy_from_slice(frame);
    let mut fr = Frame::new(&mut buf, 8, frame.len()).unwrap();
    if let Ok(l) = push_vlan(&mut fr, 0x8100, layout) {
        let _ = pop_vlan(&mut fr, &l);
    }
    let _ = pop_vlan(&mut fr, layout);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn extract_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        value in any::<u128>(),
    ) {
        let (r, _) = key_of(&bytes);
        let l = match r { Ok(l) => l, Err(s) => s.layout };
        rewrites_never_panic(&bytes, &l, value);
    }

    #[test]
    fn extract_never_panics_after_valid_prefixes(
        ethertype in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806), Just(0x8100),
                                  Just(0x88a8), any::<u16>()],
        proto in prop_oneof![Just(6u8), Just(17), Just(132), Just(1), Just(58), Just(0),
                             Just(43), Just(44), Just(51), Just(60), any::<u8>()],
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        ihl in 5u8..16,
        value in any::<u128>(),
    ) {
        // Ethernet, then bytes that often form a plausible IP header.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        let n = tail.len();
        let mut t = tail.clone();
        if ethertype == 0x0800 && n >= 20 {
            t[0] = 0x40 | ihl;
            t[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            t[6] &= 0x20;
            t[9] = proto;
        } else if ethertype == 0x86dd && n >= 40 {
            t[0] = 0x60;
            t[4..6].copy_from_slice(&((n - 40) as u16).to_be_bytes());
            t[6] = proto;
        }
        f.extend_from_slice(&t);
        let (r, _) = key_of(&f);
        let l = match r { Ok(l) => l, Err(s) => s.layout };
        rewrites_never_panic(&f, &l, value);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        spec in spec_strategy(true),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        value in any::<u128>(),
    ) {
        let mut f = build_frame(&spec);
        for (i, v) in flips {
            let i = i.index(f.len());
            f[i] = v;
        }
        let len = cut.index(f.len() + 1);
        let (r, _) = key_of(&f[..len]);
        let l = match r { Ok(l) => l, Err(s) => s.layout };
        rewrites_never_panic(&f[..len], &l, value);
    }

    #[test]
    fn valid_frames_give_the_expected_key(spec in spec_strategy(true), port in any::<u32>()) {
        let f = build_frame(&spec);
        let mut k = FlowKey::default();
        let l = extract(&f, port, &mut k).unwrap();
        prop_assert_eq!(k, expected_key(&spec, port));
        prop_assert_eq!(l.vlan_tags as usize, spec.vlans.len());
        prop_assert_eq!(l.l3_offset as usize, 14 + 4 * spec.vlans.len());
        cross_check_etherparse(&f, &k);
        prop_assert!(checksums_verify(&f, &l));
    }

    #[test]
    fn set_field_changes_exactly_that_field_and_keeps_checksums(
        spec in spec_strategy(false),
        field in proptest::sample::select(Field::ALL.to_vec()),
        value in any::<u128>(),
    ) {
        let mut f = build_frame(&spec);
        let orig = f.clone();
        let (r, before) = key_of(&f);
        let l = r.unwrap();
        match set_field(&mut f, &l, field, value) {
            Ok(()) => {
                let (r2, after) = key_of(&f);
                prop_assert_eq!(r2.unwrap(), l);
                let mut want = before;
                let v = value & field.full_mask();
                let v = if field == Field::VlanVid { VLAN_PRESENT | (v & 0xfff) } else { v };
                want.set(field, v);
                prop_assert_eq!(after, want);
                prop_assert!(checksums_verify(&f, &l));
            }
            Err(e) => {
                prop_assert_eq!(&f, &orig);
                let absent = match e {
                    RewriteError::Absent(x) => x == field,
                    RewriteError::NotAHeaderField(x) | RewriteError::ReadOnly(x) => {
                        x == field && !field.info().writable
                            || field.info().word < Field::EthDst.info().word
                    }
                    RewriteError::LayoutMismatch => false,
                };
                prop_assert!(absent, "{:?}", e);
            }
        }
    }

    #[test]
    fn dec_ttl_decrements_and_keeps_checksums(spec in spec_strategy(false)) {
        let mut f = build_frame(&spec);
        let (r, before) = key_of(&f);
        let l = r.unwrap();
        let ttl = before.get(Field::IpTtl) as u8;
        let out = dec_ttl(&mut f, &l);
        let (_, after) = key_of(&f);
        match l.l3 {
            L3Proto::Ipv4 | L3Proto::Ipv6 if ttl > 1 => {
                prop_assert_eq!(out, TtlOutcome::Decremented(ttl - 1));
                let mut want = before;
                want.set(Field::IpTtl, u128::from(ttl - 1));
                prop_assert_eq!(after, want);
            }
            L3Proto::Ipv4 | L3Proto::Ipv6 => {
                prop_assert_eq!(out, TtlOutcome::Expired);
                prop_assert_eq!(after, before);
            }
            _ => prop_assert_eq!(out, TtlOutcome::NotIp),
        }
        prop_assert!(checksums_verify(&f, &l));
    }

    #[test]
    fn push_then_pop_vlan_restores_the_frame(
        spec in spec_strategy(true),
        tpid in prop_oneof![Just(0x8100u16), Just(0x88a8)],
    ) {
        let f = build_frame(&spec);
        let (r, before) = key_of(&f);
        let l = r.unwrap();
        let mut buf = vec![0u8; 4 + f.len()];
        buf[4..].copy_from_slice(&f);
        let mut fr = Frame::new(&mut buf, 4, f.len()).unwrap();
        match push_vlan(&mut fr, tpid, &l) {
            Ok(pushed) => {
                prop_assert_eq!(fr.headroom(), 0);
                let (r2, k2) = key_of(fr.bytes());
                prop_assert_eq!(r2.unwrap(), pushed);
                let mut want = before;
                if spec.vlans.is_empty() {
                    want.set(Field::VlanVid, VLAN_PRESENT);
                }
                prop_assert_eq!(k2, want);
                prop_assert_eq!(push_vlan(&mut fr, tpid, &pushed).unwrap_err(),
                    if pushed.vlan_tags >= 2 { VlanError::TooManyTags } else { VlanError::NoHeadroom });
                let popped = pop_vlan(&mut fr, &pushed).unwrap();
                prop_assert_eq!(popped, l);
                prop_assert_eq!(fr.bytes(), &f[..]);
            }
            Err(e) => {
                prop_assert_eq!(e, VlanError::TooManyTags);
                prop_assert_eq!(spec.vlans.len(), 2);
            }
        }
    }
}

#[test]
fn vlan_edge_cases() {
    let f = udp4_frame();
    let (r, _) = key_of(&f);
    let l = r.unwrap();
    let mut buf = f.clone();
    let mut fr = Frame::new(&mut buf, 0, f.len()).unwrap();
    assert_eq!(push_vlan(&mut fr, 0x8100, &l), Err(VlanError::NoHeadroom));
    assert_eq!(
        push_vlan(&mut fr, 0x0800, &l),
        Err(VlanError::NotVlanTpid(0x0800))
    );
    assert_eq!(pop_vlan(&mut fr, &l), Err(VlanError::NotTagged));
    assert_eq!(fr.bytes(), &f[..]);
    // set_field on VLAN fields of an untagged frame.
    let mut g = f.clone();
    assert_eq!(
        set_field(&mut g, &l, Field::VlanVid, 0x1005),
        Err(RewriteError::Absent(Field::VlanVid))
    );
    assert_eq!(
        set_field(&mut g, &l, Field::TcpDst, 1),
        Err(RewriteError::Absent(Field::TcpDst))
    );
    assert_eq!(
        set_field(&mut g, &l, Field::Reg0, 1),
        Err(RewriteError::NotAHeaderField(Field::Reg0))
    );
    assert_eq!(
        set_field(&mut g, &l, Field::EthType, 1),
        Err(RewriteError::ReadOnly(Field::EthType))
    );
    // A layout from a longer frame does not fit a shorter one.
    assert_eq!(
        set_field(&mut g[..30], &l, Field::Ipv4Src, 1),
        Err(RewriteError::LayoutMismatch)
    );
    assert_eq!(dec_ttl(&mut g[..20], &l), TtlOutcome::NotIp);
    // A push on a tagged frame copies the outer tag's VID and PCP.
    let spec = Spec {
        src_mac: [1; 6],
        dst_mac: [2; 6],
        vlans: vec![(100, 5)],
        qinq: false,
        l3: L3Spec::Arp {
            op: 1,
            sha: [1; 6],
            spa: [1; 4],
            tha: [0; 6],
            tpa: [2; 4],
        },
        payload_len: 0,
    };
    let f = build_frame(&spec);
    let l = key_of(&f).0.unwrap();
    let mut buf = vec![0u8; 4 + f.len()];
    buf[4..].copy_from_slice(&f);
    let mut fr = Frame::new(&mut buf, 4, f.len()).unwrap();
    let l2 = push_vlan(&mut fr, 0x88a8, &l).unwrap();
    assert_eq!(
        &fr.bytes()[12..20],
        &[0x88, 0xa8, 0xa0, 100, 0x81, 0x00, 0xa0, 100]
    );
    assert_eq!(l2.l3_end, l.l3_end + 4);
}

#[test]
fn sctp_port_rewrite_keeps_a_wrong_crc_wrong() {
    let spec = Spec {
        src_mac: [1; 6],
        dst_mac: [2; 6],
        vlans: vec![],
        qinq: false,
        l3: L3Spec::V4 {
            src: [1; 4],
            dst: [2; 4],
            ttl: 3,
            dscp: 0,
            ecn: 0,
            frag: (false, 0),
            l4: L4Spec::Sctp(5, 6),
        },
        payload_len: 16,
    };
    let mut f = build_frame(&spec);
    let l = key_of(&f).0.unwrap();
    let at = l.l4_offset as usize + 8;
    f[at] ^= 0x55;
    set_field(&mut f, &l, Field::SctpDst, 99).unwrap();
    assert!(!checksums_verify(&f, &l));
    f[at] ^= 0x55;
    assert!(checksums_verify(&f, &l));
    assert_eq!(key_of(&f).1.get(Field::SctpDst), 99);
}

#[test]
fn udp_zero_checksum_stays_zero() {
    let mut f = udp4_frame();
    f[40..42].fill(0);
    let l = key_of(&f).0.unwrap();
    set_field(&mut f, &l, Field::Ipv4Src, 0x0102_0304).unwrap();
    set_field(&mut f, &l, Field::UdpDst, 4789).unwrap();
    assert_eq!(&f[40..42], &[0, 0]);
    assert!(checksums_verify(&f, &l));
}

#[test]
fn ipv6_dst_rewrite_with_routing_header_leaves_l4_checksum() {
    let mut seg = vec![0, 1, 0, 2, 0, 8, 0, 0];
    let f0 = v6_frame(43, &[17, 0, 0, 1, 0, 0, 0, 0], &seg);
    // Compute the UDP checksum with the routing header's (here: unchanged) destination.
    let ph = pseudo_header_v6([0x11; 16], [0x22; 16], 17, 8);
    let c = !fold(sum(&seg, ph));
    seg[6..8].copy_from_slice(&c.to_be_bytes());
    let mut f = v6_frame(43, &[17, 0, 0, 1, 0, 0, 0, 0], &seg);
    assert_ne!(f0, f);
    let l = key_of(&f).0.unwrap();
    assert!(l.ipv6_routing);
    set_field(&mut f, &l, Field::Ipv6Dst, 5).unwrap();
    assert_eq!(&f[f.len() - 2..], &c.to_be_bytes());
}

#[test]
fn a_partial_l4_checksum_is_completed_in_a_copy() {
    use super::checksum::complete_partial;
    let mut buf = [0u8; 256];
    for tcp in [false, true] {
        let n = if tcp {
            build::tcp4(&mut buf, &SPEC, (40000, 5001), 0x02, 7, 30).unwrap()
        } else {
            build::udp4(&mut buf, &SPEC, 1234, 53, 30).unwrap()
        };
        let whole = buf[..n].to_vec();
        let mut key = FlowKey::default();
        let layout = extract(&whole, 1, &mut key).unwrap();
        let at = layout.l4_offset as usize + if tcp { 16 } else { 6 };
        // The datapath's form of a partial checksum: the complement of the folded
        // pseudo-header sum (what `Offload::from_vnet_hdr` leaves in the field).
        let proto = if tcp { 6 } else { 17 };
        let l4_len = (n - layout.l4_offset as usize) as u16;
        let pseudo = fold(pseudo_header_v4(SPEC.src_ip, SPEC.dst_ip, proto, l4_len));
        let mut partial = whole.clone();
        partial[at..at + 2].copy_from_slice(&(!pseudo).to_be_bytes());
        assert_ne!(partial, whole);

        let mut copy = partial.clone();
        complete_partial(&partial, &layout, &mut copy);
        assert_eq!(copy, whole, "tcp={tcp}");
        // A copy cut short after the field gets the whole segment's checksum.
        let mut short = partial[..at + 4].to_vec();
        complete_partial(&partial, &layout, &mut short);
        assert_eq!(short, whole[..at + 4], "tcp={tcp}");
        // One cut before the field is left alone.
        let mut shorter = partial[..at].to_vec();
        complete_partial(&partial, &layout, &mut shorter);
        assert_eq!(shorter, partial[..at]);
    }
}

//! In-place header rewrites that keep every checksum right.
//!
//! Checksums are updated incrementally (RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`), so a
//! rewrite costs the same for a 64-byte and a 9000-byte packet and a checksum that was wrong
//! before stays wrong by the same amount (the switch does not repair or validate). The one
//! exception is SCTP, whose CRC32c cannot be updated incrementally: a port rewrite
//! recomputes it over the SCTP packet, keeping any error it had (as OVS does).
//!
//! Every function takes the [`Layout`] that [`extract`](super::extract()) returned for the
//! same bytes. A layout that does not fit the frame is an error, never a panic.

use thiserror::Error;

use super::checksum::{crc32c, udp_update, update_bytes, update16, update32};
use super::ethernet::{self, mac_bytes};
use super::extract::{L3Proto, L4Proto, Layout};
use super::frame::Frame;
use super::l4::field as l4f;
use super::{arp, ipv4, ipv6};
use crate::field::Field;

/// Why a rewrite was not done (the frame is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum RewriteError {
    /// The field is metadata (in_port, registers, tunnel, pkt_mark), not a header field.
    #[error("{0:?} is not a packet header field")]
    NotAHeaderField(Field),
    /// The field is read-only in the packet (eth_type, ip_proto, nw_frag).
    #[error("{0:?} cannot be written")]
    ReadOnly(Field),
    /// The packet does not carry the field (no such header was parsed).
    #[error("the packet has no {0:?}")]
    Absent(Field),
    /// The layout points past the end of the frame: it belongs to other bytes.
    #[error("the layout does not fit the frame")]
    LayoutMismatch,
}

/// Why a VLAN push or pop was not done (the frame is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum VlanError {
    /// Fewer than 4 bytes of headroom in front of the frame.
    #[error("no headroom for a VLAN tag")]
    NoHeadroom,
    /// The frame already has two tags, the most the key and `extract` describe.
    #[error("the frame already carries two VLAN tags")]
    TooManyTags,
    /// pop_vlan on an untagged frame.
    #[error("the frame carries no VLAN tag")]
    NotTagged,
    /// push_vlan with an EtherType that is not 0x8100 or 0x88a8.
    #[error("{0:#06x} is not a VLAN TPID")]
    NotVlanTpid(u16),
    /// The layout does not fit the frame.
    #[error("the layout does not fit the frame")]
    LayoutMismatch,
}

/// What [`dec_ttl`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TtlOutcome {
    /// The TTL (hop limit) was decremented to this value.
    Decremented(u8),
    /// The TTL was 0 or 1: the packet is unchanged and the caller must drop it and send
    /// an `invalid_ttl` packet-in (OpenFlow 1.3.5 §5.12, OFPR_INVALID_TTL).
    Expired,
    /// The packet has no IPv4 or IPv6 header (or the layout does not fit): nothing done.
    NotIp,
}

type R = Result<(), RewriteError>;

/// `len` bytes at `at`, or [`RewriteError::LayoutMismatch`].
#[inline]
fn bytes_at(frame: &mut [u8], at: u32, len: usize) -> Result<&mut [u8], RewriteError> {
    let at = at as usize;
    frame
        .get_mut(at..at.saturating_add(len))
        .ok_or(RewriteError::LayoutMismatch)
}

#[inline]
fn rd16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
fn wr16(b: &mut [u8], at: usize, v: u16) {
    if let Some(d) = b.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_be_bytes());
    }
}

/// Applies `upd` to the 16-bit checksum at `at` of `b`.
#[inline]
fn fix_csum(b: &mut [u8], at: usize, upd: impl FnOnce(u16) -> u16) {
    let c = rd16(b, at);
    wr16(b, at, upd(c));
}

/// Fixes the L4 checksum of the packet after a change in its pseudo-header (an address),
/// given as a run of old and new bytes.
fn fix_l4_pseudo(frame: &mut [u8], layout: &Layout, old: &[u8], new: &[u8]) -> R {
    let (csum_at, udp) = match (layout.l4, layout.l3) {
        (L4Proto::Tcp, _) => (l4f::TCP_CHECKSUM.start, false),
        (L4Proto::Udp, _) => (l4f::UDP_CHECKSUM.start, true),
        (L4Proto::Icmpv6, L3Proto::Ipv6) => (l4f::ICMP_CHECKSUM.start, false),
        _ => return Ok(()),
    };
    let l4 = bytes_at(frame, layout.l4_offset, csum_at + 2)?;
    let upd = |c| update_bytes(c, old, new);
    if udp {
        fix_csum(l4, csum_at, |c| udp_update(c, upd));
    } else {
        fix_csum(l4, csum_at, upd);
    }
    Ok(())
}

/// Rewrites one byte of an IPv4 header and fixes the header checksum.
fn ipv4_set_byte(frame: &mut [u8], layout: &Layout, at: usize, f: impl FnOnce(u8) -> u8) -> R {
    let h = bytes_at(frame, layout.l3_offset, ipv4::MIN_HEADER_LEN)?;
    let word_at = at & !1;
    let old = rd16(h, word_at);
    if let Some(b) = h.get_mut(at) {
        *b = f(*b);
    }
    let new = rd16(h, word_at);
    fix_csum(h, ipv4::field::CHECKSUM.start, |c| update16(c, old, new));
    Ok(())
}

/// Rewrites a 16-bit L4 field at `at` and fixes the L4 checksum.
fn l4_set16(frame: &mut [u8], layout: &Layout, at: usize, v: u16) -> R {
    match layout.l4 {
        L4Proto::Sctp => {
            let (start, end) = (layout.l4_offset as usize, layout.l3_end as usize);
            let p = frame
                .get_mut(start..end)
                .filter(|p| p.len() >= super::l4::SCTP_HEADER_LEN)
                .ok_or(RewriteError::LayoutMismatch)?;
            let cs = l4f::SCTP_CHECKSUM;
            let stored = p
                .get(cs.clone())
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            p[cs.clone()].fill(0);
            let before = crc32c(p);
            wr16(p, at, v);
            let after = crc32c(p);
            p[cs].copy_from_slice(&(stored ^ before ^ after).to_le_bytes());
            Ok(())
        }
        L4Proto::Tcp | L4Proto::Udp | L4Proto::Icmpv4 | L4Proto::Icmpv6 => {
            let (csum_at, udp) = match layout.l4 {
                L4Proto::Tcp => (l4f::TCP_CHECKSUM.start, false),
                L4Proto::Udp => (l4f::UDP_CHECKSUM.start, true),
                _ => (l4f::ICMP_CHECKSUM.start, false),
            };
            let h = bytes_at(frame, layout.l4_offset, csum_at.max(at) + 2)?;
            let old = rd16(h, at);
            wr16(h, at, v);
            if udp {
                fix_csum(h, csum_at, |c| udp_update(c, |c| update16(c, old, v)));
            } else {
                fix_csum(h, csum_at, |c| update16(c, old, v));
            }
            Ok(())
        }
        L4Proto::None => Err(RewriteError::LayoutMismatch),
    }
}

/// Writes `value` (right-aligned, as in the key; bits above the field's width are ignored)
/// into `field` of the packet, fixing every checksum that covers it.
///
/// * `eth_src`, `eth_dst`: always present.
/// * `vlan_vid` (the low 12 bits; the 0x1000 bit may be set or not), `vlan_pcp`: the
///   outermost tag; [`RewriteError::Absent`] if untagged.
/// * `arp_*`: Ethernet/IPv4 ARP.
/// * `ipv4_src`/`ipv4_dst`: IPv4 header checksum and the TCP/UDP pseudo-header checksum (a
///   UDP checksum of 0 stays 0).
/// * `ip_dscp`, `ip_ecn`, `nw_ttl`: IPv4 (header checksum) or IPv6 (no checksum).
/// * `ipv6_src`/`ipv6_dst`: the TCP/UDP/ICMPv6 pseudo-header checksum (not for `ipv6_dst`
///   when a routing header names another final destination).
/// * `tcp_*`, `udp_*`, `sctp_*` ports, `icmp_*`/`icmpv6_*` type and code: the L4 checksum
///   (SCTP: CRC32c recomputed over the SCTP packet).
///
/// The field must belong to the packet's protocols as `layout` records them; otherwise
/// [`RewriteError::Absent`] and the frame is untouched.
pub fn set_field(frame: &mut [u8], layout: &Layout, field: Field, value: u128) -> R {
    use Field::*;
    let value = value & field.full_mask();
    let absent = Err(RewriteError::Absent(field));
    match field {
        InPort | Metadata | TunId | TunSrc | TunDst | PktMark | Reg0 | Reg1 | Reg2 | Reg3
        | Reg4 | Reg5 | Reg6 | Reg7 => Err(RewriteError::NotAHeaderField(field)),
        EthType | IpProto | IpFrag => Err(RewriteError::ReadOnly(field)),
        EthDst | EthSrc => {
            let r = if field == EthDst {
                ethernet::field::DST
            } else {
                ethernet::field::SRC
            };
            let d = frame.get_mut(r).ok_or(RewriteError::LayoutMismatch)?;
            d.copy_from_slice(&mac_bytes(value));
            Ok(())
        }
        VlanVid | VlanPcp => {
            if layout.vlan_tags == 0 {
                return absent;
            }
            let tci = bytes_at(frame, ethernet::HEADER_LEN as u32, 2)?;
            let old = rd16(tci, 0);
            let new = if field == VlanVid {
                (old & 0xf000) | (value as u16 & 0x0fff)
            } else {
                (old & 0x1fff) | ((value as u16) << 13)
            };
            wr16(tci, 0, new);
            Ok(())
        }
        ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => {
            if layout.l3 != L3Proto::Arp {
                return absent;
            }
            let p = bytes_at(frame, layout.l3_offset, arp::PACKET_LEN)?;
            let (r, bytes): (_, &[u8]) = match field {
                ArpOp => (arp::field::OP, &(value as u16).to_be_bytes()),
                ArpSpa => (arp::field::SPA, &(value as u32).to_be_bytes()),
                ArpTpa => (arp::field::TPA, &(value as u32).to_be_bytes()),
                ArpSha => (arp::field::SHA, &mac_bytes(value)),
                _ => (arp::field::THA, &mac_bytes(value)),
            };
            if let Some(d) = p.get_mut(r) {
                d.copy_from_slice(bytes);
            }
            Ok(())
        }
        Ipv4Src | Ipv4Dst => {
            if layout.l3 != L3Proto::Ipv4 {
                return absent;
            }
            let r = if field == Ipv4Src {
                ipv4::field::SRC
            } else {
                ipv4::field::DST
            };
            let new = (value as u32).to_be_bytes();
            let h = bytes_at(frame, layout.l3_offset, ipv4::MIN_HEADER_LEN)?;
            let old =
                u32::from_be_bytes([h[r.start], h[r.start + 1], h[r.start + 2], h[r.start + 3]]);
            h[r].copy_from_slice(&new);
            fix_csum(h, ipv4::field::CHECKSUM.start, |c| {
                update32(c, old, value as u32)
            });
            fix_l4_pseudo(frame, layout, &old.to_be_bytes(), &new)
        }
        Ipv6Src | Ipv6Dst => {
            if layout.l3 != L3Proto::Ipv6 {
                return absent;
            }
            let r = if field == Ipv6Src {
                ipv6::field::SRC
            } else {
                ipv6::field::DST
            };
            let new = value.to_be_bytes();
            let h = bytes_at(frame, layout.l3_offset, ipv6::HEADER_LEN)?;
            let old = ipv6::to16(&h[r.clone()]);
            h[r].copy_from_slice(&new);
            if field == Ipv6Dst && layout.ipv6_routing {
                return Ok(());
            }
            fix_l4_pseudo(frame, layout, &old, &new)
        }
        IpDscp | IpEcn | IpTtl => match layout.l3 {
            L3Proto::Ipv4 => {
                let v = value as u8;
                match field {
                    IpDscp => {
                        ipv4_set_byte(frame, layout, ipv4::field::TOS, |t| (t & 0x03) | (v << 2))
                    }
                    IpEcn => ipv4_set_byte(frame, layout, ipv4::field::TOS, |t| (t & 0xfc) | v),
                    _ => ipv4_set_byte(frame, layout, ipv4::field::TTL, |_| v),
                }
            }
            L3Proto::Ipv6 => {
                let h = bytes_at(frame, layout.l3_offset, ipv6::HEADER_LEN)?;
                let v = value as u32;
                let w0 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
                let w0 = match field {
                    IpDscp => (w0 & !(0xfc << 20)) | (v << 22),
                    IpEcn => (w0 & !(0x03 << 20)) | (v << 20),
                    _ => {
                        h[ipv6::field::HOP_LIMIT] = value as u8;
                        return Ok(());
                    }
                };
                h[ipv6::field::VER_TC_FLOW].copy_from_slice(&w0.to_be_bytes());
                Ok(())
            }
            _ => absent,
        },
        TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst => {
            let want = match field {
                TcpSrc | TcpDst => L4Proto::Tcp,
                UdpSrc | UdpDst => L4Proto::Udp,
                _ => L4Proto::Sctp,
            };
            if layout.l4 != want {
                return absent;
            }
            let at = if matches!(field, TcpSrc | UdpSrc | SctpSrc) {
                l4f::SRC_PORT.start
            } else {
                l4f::DST_PORT.start
            };
            l4_set16(frame, layout, at, value as u16)
        }
        Icmpv4Type | Icmpv4Code | Icmpv6Type | Icmpv6Code => {
            let want = if matches!(field, Icmpv4Type | Icmpv4Code) {
                L4Proto::Icmpv4
            } else {
                L4Proto::Icmpv6
            };
            if layout.l4 != want {
                return absent;
            }
            let h = bytes_at(frame, layout.l4_offset, 2)?;
            let [t, c] = [h[0], h[1]];
            let v = value as u8;
            let word = if matches!(field, Icmpv4Type | Icmpv6Type) {
                u16::from_be_bytes([v, c])
            } else {
                u16::from_be_bytes([t, v])
            };
            l4_set16(frame, layout, 0, word)
        }
    }
}

/// Decrements the IPv4 TTL (fixing the header checksum) or the IPv6 hop limit.
///
/// A TTL of 0 or 1 is not touched and gives [`TtlOutcome::Expired`].
pub fn dec_ttl(frame: &mut [u8], layout: &Layout) -> TtlOutcome {
    let (len, at) = match layout.l3 {
        L3Proto::Ipv4 => (ipv4::MIN_HEADER_LEN, ipv4::field::TTL),
        L3Proto::Ipv6 => (ipv6::HEADER_LEN, ipv6::field::HOP_LIMIT),
        _ => return TtlOutcome::NotIp,
    };
    let Ok(h) = bytes_at(frame, layout.l3_offset, len) else {
        return TtlOutcome::NotIp;
    };
    let ttl = h[at];
    if ttl <= 1 {
        return TtlOutcome::Expired;
    }
    if layout.l3 == L3Proto::Ipv4 {
        // TTL is the high byte of the TTL/protocol word.
        let old = rd16(h, at);
        h[at] = ttl - 1;
        fix_csum(h, ipv4::field::CHECKSUM.start, |c| {
            update16(c, old, old - 0x100)
        });
    } else {
        h[at] = ttl - 1;
    }
    TtlOutcome::Decremented(ttl - 1)
}

/// Pushes a new outermost VLAN tag with TPID `tpid` (0x8100 or 0x88a8) into the headroom.
///
/// As OpenFlow 1.3.5 §5.12.1 says, the new tag copies VID and PCP from the tag that was
/// outermost, or is 0 when the frame was untagged (set them with `set_field` next). The 12
/// MAC bytes move 4 bytes forward; the payload does not move. Returns the frame's new
/// layout (`vlan_tags + 1`, every offset + 4).
pub fn push_vlan(frame: &mut Frame<'_>, tpid: u16, layout: &Layout) -> Result<Layout, VlanError> {
    if !ethernet::is_vlan_tpid(tpid) {
        return Err(VlanError::NotVlanTpid(tpid));
    }
    if layout.vlan_tags >= ethernet::MAX_TAGS {
        return Err(VlanError::TooManyTags);
    }
    if frame.len() < ethernet::HEADER_LEN + usize::from(layout.vlan_tags) * ethernet::TAG_LEN {
        return Err(VlanError::LayoutMismatch);
    }
    if !frame.push_front(ethernet::TAG_LEN) {
        return Err(VlanError::NoHeadroom);
    }
    let b = frame.bytes_mut();
    b.copy_within(4..16, 0);
    let tci = if layout.vlan_tags > 0 { rd16(b, 18) } else { 0 };
    wr16(b, 12, tpid);
    wr16(b, 14, tci);
    let mut l = layout.shifted(ethernet::TAG_LEN as i32);
    l.vlan_tags += 1;
    Ok(l)
}

/// Removes the outermost VLAN tag: the 12 MAC bytes move 4 bytes back and the frame
/// starts 4 bytes later (the freed bytes return to the headroom). Returns the new layout.
pub fn pop_vlan(frame: &mut Frame<'_>, layout: &Layout) -> Result<Layout, VlanError> {
    if layout.vlan_tags == 0 {
        return Err(VlanError::NotTagged);
    }
    if frame.len() < ethernet::HEADER_LEN + usize::from(layout.vlan_tags) * ethernet::TAG_LEN {
        return Err(VlanError::LayoutMismatch);
    }
    frame.bytes_mut().copy_within(0..12, 4);
    frame.pull_front(ethernet::TAG_LEN);
    let mut l = layout.shifted(-(ethernet::TAG_LEN as i32));
    l.vlan_tags -= 1;
    Ok(l)
}

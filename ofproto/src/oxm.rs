//! OXM and NXM field headers, and `ofp_match`.
//!
//! OpenFlow 1.3.5 §7.2.3.2: "The flow match fields are described using the OpenFlow Extensible
//! Match (OXM) format, which is a compact type-length-value (TLV) format. Each OXM TLV is 5 to 259
//! (inclusive) bytes long." The header is `oxm_class(16) oxm_field(7) oxm_hasmask(1)
//! oxm_length(8)`; "If `oxm_hasmask` is 1, then the OXM TLV contains a bitmask and its length is
//! effectively doubled, so `oxm_length` is always even."
//!
//! Three classes are understood: OpenFlow basic (0x8000, fields 0..39), and Nicira's NXM_0
//! (0x0000) and NXM_1 (0x0001), which `ovs-ofctl` uses for registers, tunnel metadata,
//! `pkt_mark`, ARP hardware addresses and inside NXAST_REG_MOVE / REG_LOAD. Decoding accepts
//! either class for a field that has both; encoding picks one: [`oxm_header`] (basic first) for
//! matches and `set_field`, [`nxm_header`] (NXM first) for move and load, which is what
//! `ovs-ofctl` 3.1 sends. A field given in the other class decodes fine but re-encodes in the
//! preferred one.
//!
//! OpenFlow 1.3.5 §7.2.3.1: "The `length` field is the length of ofp_match excluding padding. …
//! the OXM TLVs are followed by the minimal amount of padding needed to make the total length of
//! the ofp_match a multiple of 8."

use wyvern_pipeline::field::{Field, VLAN_PRESENT};
use wyvern_pipeline::flow_match::Match;

use crate::error::{BadMatchCode, DecodeError, Layer};
use crate::msg::buf::{Put, Reader};

/// NXM_0: Nicira's copies of the OpenFlow 1.0 fields.
pub const CLASS_NXM_0: u16 = 0x0000;
/// NXM_1: Nicira extension fields.
pub const CLASS_NXM_1: u16 = 0x0001;
/// OFPXMC_OPENFLOW_BASIC.
pub const CLASS_OPENFLOW_BASIC: u16 = 0x8000;
/// OFPXMC_EXPERIMENTER: the header is followed by a 32-bit experimenter id.
pub const CLASS_EXPERIMENTER: u16 = 0xffff;

/// OFPMT_OXM, the only match type of OpenFlow 1.3.
pub const OFPMT_OXM: u16 = 1;

/// A 32-bit OXM/NXM header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OxmHeader(pub u32);

impl OxmHeader {
    pub const fn new(class: u16, field: u8, hasmask: bool, len: u8) -> Self {
        OxmHeader(
            (class as u32) << 16
                | ((field as u32) & 0x7f) << 9
                | (hasmask as u32) << 8
                | len as u32,
        )
    }
    pub fn class(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub fn field(self) -> u8 {
        ((self.0 >> 9) & 0x7f) as u8
    }
    pub fn hasmask(self) -> bool {
        self.0 & 0x100 != 0
    }
    /// Payload length (value, plus mask when `hasmask`).
    pub fn len(self) -> u8 {
        self.0 as u8
    }
    /// True for a zero-length payload.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
    /// The same field with `hasmask` set and the length doubled.
    pub fn masked(self) -> Self {
        OxmHeader::new(self.class(), self.field(), true, self.len().wrapping_mul(2))
    }
}

/// One row of the header table: a wire field, its width in bytes, its name, and the pipeline
/// field it carries (`None` for OpenFlow basic fields the pipeline does not implement).
#[derive(Clone, Copy, Debug)]
pub struct OxmField {
    pub header: OxmHeader,
    pub name: &'static str,
    pub field: Option<Field>,
}

const fn b(field: u8, len: u8, name: &'static str, f: Option<Field>) -> OxmField {
    OxmField {
        header: OxmHeader::new(CLASS_OPENFLOW_BASIC, field, false, len),
        name,
        field: f,
    }
}
const fn n0(field: u8, len: u8, name: &'static str, f: Field) -> OxmField {
    OxmField {
        header: OxmHeader::new(CLASS_NXM_0, field, false, len),
        name,
        field: Some(f),
    }
}
const fn n1(field: u8, len: u8, name: &'static str, f: Field) -> OxmField {
    OxmField {
        header: OxmHeader::new(CLASS_NXM_1, field, false, len),
        name,
        field: Some(f),
    }
}

use Field as F;

/// Every OpenFlow basic field (OpenFlow 1.3.5 §7.2.3.7, `oxm_ofb_match_fields` 0..39) and the
/// NXM fields the pipeline carries.
pub const OXM_FIELDS: &[OxmField] = &[
    b(0, 4, "OXM_OF_IN_PORT", Some(F::InPort)),
    b(1, 4, "OXM_OF_IN_PHY_PORT", None),
    b(2, 8, "OXM_OF_METADATA", Some(F::Metadata)),
    b(3, 6, "OXM_OF_ETH_DST", Some(F::EthDst)),
    b(4, 6, "OXM_OF_ETH_SRC", Some(F::EthSrc)),
    b(5, 2, "OXM_OF_ETH_TYPE", Some(F::EthType)),
    b(6, 2, "OXM_OF_VLAN_VID", Some(F::VlanVid)),
    b(7, 1, "OXM_OF_VLAN_PCP", Some(F::VlanPcp)),
    b(8, 1, "OXM_OF_IP_DSCP", Some(F::IpDscp)),
    b(9, 1, "OXM_OF_IP_ECN", Some(F::IpEcn)),
    b(10, 1, "OXM_OF_IP_PROTO", Some(F::IpProto)),
    b(11, 4, "OXM_OF_IPV4_SRC", Some(F::Ipv4Src)),
    b(12, 4, "OXM_OF_IPV4_DST", Some(F::Ipv4Dst)),
    b(13, 2, "OXM_OF_TCP_SRC", Some(F::TcpSrc)),
    b(14, 2, "OXM_OF_TCP_DST", Some(F::TcpDst)),
    b(15, 2, "OXM_OF_UDP_SRC", Some(F::UdpSrc)),
    b(16, 2, "OXM_OF_UDP_DST", Some(F::UdpDst)),
    b(17, 2, "OXM_OF_SCTP_SRC", Some(F::SctpSrc)),
    b(18, 2, "OXM_OF_SCTP_DST", Some(F::SctpDst)),
    b(19, 1, "OXM_OF_ICMPV4_TYPE", Some(F::Icmpv4Type)),
    b(20, 1, "OXM_OF_ICMPV4_CODE", Some(F::Icmpv4Code)),
    b(21, 2, "OXM_OF_ARP_OP", Some(F::ArpOp)),
    b(22, 4, "OXM_OF_ARP_SPA", Some(F::ArpSpa)),
    b(23, 4, "OXM_OF_ARP_TPA", Some(F::ArpTpa)),
    b(24, 6, "OXM_OF_ARP_SHA", Some(F::ArpSha)),
    b(25, 6, "OXM_OF_ARP_THA", Some(F::ArpTha)),
    b(26, 16, "OXM_OF_IPV6_SRC", Some(F::Ipv6Src)),
    b(27, 16, "OXM_OF_IPV6_DST", Some(F::Ipv6Dst)),
    b(28, 4, "OXM_OF_IPV6_FLABEL", None),
    b(29, 1, "OXM_OF_ICMPV6_TYPE", Some(F::Icmpv6Type)),
    b(30, 1, "OXM_OF_ICMPV6_CODE", Some(F::Icmpv6Code)),
    b(31, 16, "OXM_OF_IPV6_ND_TARGET", None),
    b(32, 6, "OXM_OF_IPV6_ND_SLL", None),
    b(33, 6, "OXM_OF_IPV6_ND_TLL", None),
    b(34, 4, "OXM_OF_MPLS_LABEL", None),
    b(35, 1, "OXM_OF_MPLS_TC", None),
    b(36, 1, "OXM_OF_MPLS_BOS", None),
    b(37, 3, "OXM_OF_PBB_ISID", None),
    b(38, 8, "OXM_OF_TUNNEL_ID", Some(F::TunId)),
    b(39, 2, "OXM_OF_IPV6_EXTHDR", None),
    n0(1, 6, "NXM_OF_ETH_DST", F::EthDst),
    n0(2, 6, "NXM_OF_ETH_SRC", F::EthSrc),
    n0(3, 2, "NXM_OF_ETH_TYPE", F::EthType),
    n0(6, 1, "NXM_OF_IP_PROTO", F::IpProto),
    n0(7, 4, "NXM_OF_IP_SRC", F::Ipv4Src),
    n0(8, 4, "NXM_OF_IP_DST", F::Ipv4Dst),
    n0(9, 2, "NXM_OF_TCP_SRC", F::TcpSrc),
    n0(10, 2, "NXM_OF_TCP_DST", F::TcpDst),
    n0(11, 2, "NXM_OF_UDP_SRC", F::UdpSrc),
    n0(12, 2, "NXM_OF_UDP_DST", F::UdpDst),
    n0(13, 1, "NXM_OF_ICMP_TYPE", F::Icmpv4Type),
    n0(14, 1, "NXM_OF_ICMP_CODE", F::Icmpv4Code),
    n0(15, 2, "NXM_OF_ARP_OP", F::ArpOp),
    n0(16, 4, "NXM_OF_ARP_SPA", F::ArpSpa),
    n0(17, 4, "NXM_OF_ARP_TPA", F::ArpTpa),
    n1(0, 4, "NXM_NX_REG0", F::Reg0),
    n1(1, 4, "NXM_NX_REG1", F::Reg1),
    n1(2, 4, "NXM_NX_REG2", F::Reg2),
    n1(3, 4, "NXM_NX_REG3", F::Reg3),
    n1(4, 4, "NXM_NX_REG4", F::Reg4),
    n1(5, 4, "NXM_NX_REG5", F::Reg5),
    n1(6, 4, "NXM_NX_REG6", F::Reg6),
    n1(7, 4, "NXM_NX_REG7", F::Reg7),
    n1(16, 8, "NXM_NX_TUN_ID", F::TunId),
    n1(17, 6, "NXM_NX_ARP_SHA", F::ArpSha),
    n1(18, 6, "NXM_NX_ARP_THA", F::ArpTha),
    n1(19, 16, "NXM_NX_IPV6_SRC", F::Ipv6Src),
    n1(20, 16, "NXM_NX_IPV6_DST", F::Ipv6Dst),
    n1(21, 1, "NXM_NX_ICMPV6_TYPE", F::Icmpv6Type),
    n1(22, 1, "NXM_NX_ICMPV6_CODE", F::Icmpv6Code),
    n1(26, 1, "NXM_NX_IP_FRAG", F::IpFrag),
    n1(28, 1, "NXM_NX_IP_ECN", F::IpEcn),
    n1(29, 1, "NXM_NX_IP_TTL", F::IpTtl),
    n1(31, 4, "NXM_NX_TUN_IPV4_SRC", F::TunSrc),
    n1(32, 4, "NXM_NX_TUN_IPV4_DST", F::TunDst),
    n1(33, 4, "NXM_NX_PKT_MARK", F::PktMark),
];

/// [`OXM_FIELDS`] indexed both ways, built once: every match field and set_field of every
/// message is looked up here, and a scan of the table per field was a fifth of decoding a
/// flow mod.
struct Index {
    /// The first row of each class and field, at [`Index::slot`].
    rows: Vec<Option<&'static OxmField>>,
    /// [`oxm_header`] and [`nxm_header`] of each field, by `Field as usize`.
    headers: Vec<(OxmHeader, OxmHeader)>,
}

impl Index {
    /// Where a header's row is: the classes of the table times the 128 field numbers.
    fn slot(header: OxmHeader) -> Option<usize> {
        let class = match header.class() {
            CLASS_NXM_0 => 0,
            CLASS_NXM_1 => 1,
            CLASS_OPENFLOW_BASIC => 2,
            _ => return None,
        };
        Some(class * 128 + usize::from(header.field()))
    }
}

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut rows = vec![None; 3 * 128];
        for r in OXM_FIELDS {
            if let Some(slot) = Index::slot(r.header).and_then(|i| rows.get_mut(i))
                && slot.is_none()
            {
                *slot = Some(r);
            }
        }
        let fields = Field::ALL
            .iter()
            .map(|&f| f as usize + 1)
            .max()
            .unwrap_or(0);
        let mut headers = vec![(OxmHeader(0), OxmHeader(0)); fields];
        for f in Field::ALL {
            if let Some(slot) = headers.get_mut(f as usize) {
                *slot = (
                    preferred(f, [CLASS_OPENFLOW_BASIC, CLASS_NXM_1, CLASS_NXM_0]),
                    preferred(f, [CLASS_NXM_0, CLASS_NXM_1, CLASS_OPENFLOW_BASIC]),
                );
            }
        }
        Index { rows, headers }
    })
}

/// The table row for a header's class and field (hasmask and length ignored).
pub fn lookup(header: OxmHeader) -> Option<&'static OxmField> {
    Index::slot(header).and_then(|i| index().rows.get(i).copied().flatten())
}

fn preferred(field: Field, class_order: [u16; 3]) -> OxmHeader {
    class_order
        .iter()
        .find_map(|c| {
            OXM_FIELDS
                .iter()
                .find(|r| r.field == Some(field) && r.header.class() == *c)
        })
        .map(|r| r.header)
        // Every pipeline field has at least one row; this is never reached.
        .unwrap_or(OxmHeader(0))
}

/// The header used for `field` in a match or `set_field`: OpenFlow basic when the field has
/// one, NXM otherwise (`reg0`..`reg7`, `tun_src`/`tun_dst`, `pkt_mark`, `nw_ttl`, `nw_frag`).
pub fn oxm_header(field: Field) -> OxmHeader {
    index()
        .headers
        .get(field as usize)
        .map_or(OxmHeader(0), |h| h.0)
}

/// The header used for `field` in NXAST_REG_MOVE / REG_LOAD: NXM when the field has one (as
/// `ovs-ofctl` sends them), OpenFlow basic otherwise (`metadata`, `vlan_vid`, ...).
pub fn nxm_header(field: Field) -> OxmHeader {
    index()
        .headers
        .get(field as usize)
        .map_or(OxmHeader(0), |h| h.1)
}

/// Width in bytes of `field`'s value on the wire.
pub fn wire_len(field: Field) -> usize {
    usize::from(oxm_header(field).len())
}

/// The pipeline field a header (without mask) names, if it is one we carry and its length is
/// the field's length.
pub fn field_of(header: OxmHeader) -> Result<Field, DecodeError> {
    let row = lookup(header).ok_or_else(|| {
        DecodeError::bad_match(
            BadMatchCode::BadField,
            format!("unknown field header {:#010x}", header.0),
        )
    })?;
    let field = row.field.ok_or_else(|| {
        DecodeError::bad_match(
            BadMatchCode::BadField,
            format!("{} is not supported", row.name),
        )
    })?;
    let want = if header.hasmask() {
        row.header.len() * 2
    } else {
        row.header.len()
    };
    if header.len() != want {
        return Err(DecodeError::BadLength {
            layer: Layer::Match,
            what: row.name,
            len: usize::from(header.len()),
        });
    }
    Ok(field)
}

/// Reads an unsigned big-endian number of up to 16 bytes.
pub(crate) fn be_value(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b))
}

/// Writes the low `len` bytes of `v`, big-endian.
pub(crate) fn put_value(out: &mut Vec<u8>, v: u128, len: usize) {
    out.extend_from_slice(&v.to_be_bytes()[16 - len.min(16)..]);
}

/// One decoded OXM TLV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OxmEntry {
    pub field: Field,
    pub value: u128,
    /// `None` when the TLV had no mask.
    pub mask: Option<u128>,
}

/// Reads one OXM TLV; the value and mask are checked against the field's width.
pub(crate) fn read_entry(r: &mut Reader<'_>) -> Result<OxmEntry, DecodeError> {
    let header = OxmHeader(r.u32()?);
    if header.class() == CLASS_EXPERIMENTER {
        return Err(DecodeError::bad_match(
            BadMatchCode::BadField,
            format!("experimenter OXM {:#010x} is not supported", header.0),
        ));
    }
    let payload = r.bytes(usize::from(header.len()))?;
    let field = field_of(header)?;
    let n = wire_len(field);
    let full = field.full_mask();
    let value = be_value(&payload[..n.min(payload.len())]);
    let mask = header
        .hasmask()
        .then(|| be_value(&payload[n.min(payload.len())..]));
    if value & !full != 0 {
        return Err(DecodeError::bad_match(
            BadMatchCode::BadValue,
            format!("{}: value {value:#x} is too wide", field.info().match_name),
        ));
    }
    if let Some(m) = mask
        && m & !full != 0
    {
        return Err(DecodeError::bad_match(
            BadMatchCode::BadMask,
            format!("{}: mask {m:#x} is too wide", field.info().match_name),
        ));
    }
    Ok(OxmEntry { field, value, mask })
}

/// Writes one OXM TLV with `header` (without mask) as the field's header.
pub(crate) fn write_entry(out: &mut Vec<u8>, header: OxmHeader, value: u128, mask: Option<u128>) {
    let n = usize::from(header.len());
    match mask {
        None => {
            out.put_u32(header.0);
            put_value(out, value, n);
        }
        Some(m) => {
            out.put_u32(header.masked().0);
            put_value(out, value, n);
            put_value(out, m, n);
        }
    }
}

/// OpenFlow 1.3.5 §7.2.3.8: VLAN_VID with a VID but without OFPVID_PRESENT is not a valid
/// match ("OFPVID_NONE … packets without a VLAN tag", "OFPVID_PRESENT … with a VLAN tag").
fn check_vlan(e: &OxmEntry) -> Result<(), DecodeError> {
    if e.field == Field::VlanVid && e.value & 0x0fff != 0 && e.value & VLAN_PRESENT == 0 {
        return Err(DecodeError::bad_match(
            BadMatchCode::BadValue,
            format!("vlan_vid {:#x} has a VID but not OFPVID_PRESENT", e.value),
        ));
    }
    Ok(())
}

/// Decodes an `ofp_match` (header, OXM TLVs and padding) in wire order. Prerequisites are not
/// checked here; the caller runs [`Match::validate`] where they matter (flow mods).
pub(crate) fn decode_match(r: &mut Reader<'_>) -> Result<Match, DecodeError> {
    let mut hr = Reader::new(r.bytes(4).map_err(to_match_len)?, Layer::Match);
    let typ = hr.u16()?;
    let len = usize::from(hr.u16()?);
    if typ != OFPMT_OXM {
        return Err(DecodeError::bad_match(
            BadMatchCode::BadType,
            format!("match type {typ} is not OFPMT_OXM"),
        ));
    }
    if len < 4 {
        return Err(DecodeError::BadLength {
            layer: Layer::Match,
            what: "ofp_match",
            len,
        });
    }
    let body = r.bytes(len - 4).map_err(to_match_len)?;
    r.skip(len.next_multiple_of(8) - len)
        .map_err(to_match_len)?;
    let mut tlvs = Reader::new(body, Layer::Match);
    let mut m = Match::new();
    while !tlvs.is_empty() {
        let e = read_entry(&mut tlvs)?;
        check_vlan(&e)?;
        m.push(e.field, e.value, e.mask.unwrap_or(e.field.full_mask()))?;
    }
    Ok(m)
}

fn to_match_len(e: DecodeError) -> DecodeError {
    match e {
        DecodeError::Truncated {
            needed, available, ..
        } => DecodeError::Truncated {
            layer: Layer::Match,
            needed,
            available,
        },
        other => other,
    }
}

/// Length of the OXM TLVs of `m`.
fn oxm_len(m: &Match) -> usize {
    m.fields()
        .iter()
        .map(|f| 4 + wire_len(f.field) * if f.is_exact() { 1 } else { 2 })
        .sum()
}

/// Encodes an `ofp_match`, fields in the order given, padded to 8.
pub fn encode_match(m: &Match, out: &mut Vec<u8>) {
    let start = out.len();
    out.put_u16(OFPMT_OXM);
    out.put_u16(crate::msg::buf::len16(4 + oxm_len(m)));
    for f in m.fields() {
        let mask = (!f.is_exact()).then_some(f.mask);
        write_entry(out, oxm_header(f.field), f.value, mask);
    }
    out.pad_to_8(start);
}

/// Decodes an `ofp_match` from `bytes`, which must hold exactly the match and its padding.
pub fn decode_match_bytes(bytes: &[u8]) -> Result<Match, DecodeError> {
    let mut r = Reader::new(bytes, Layer::Match);
    let m = decode_match(&mut r)?;
    if !r.is_empty() {
        return Err(DecodeError::BadLength {
            layer: Layer::Match,
            what: "ofp_match trailing bytes",
            len: bytes.len(),
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_the_notes() {
        assert_eq!(nxm_header(Field::ArpSha).0, 0x0001_2206);
        assert_eq!(nxm_header(Field::ArpTha).0, 0x0001_2406);
        assert_eq!(nxm_header(Field::ArpSpa).0, 0x0000_2004);
        assert_eq!(nxm_header(Field::ArpTpa).0, 0x0000_2204);
        assert_eq!(nxm_header(Field::TunId).0, 0x0001_2008);
        assert_eq!(nxm_header(Field::PktMark).0, 0x0001_4204);
        assert_eq!(nxm_header(Field::Reg6).0, 0x0001_0c04);
        assert_eq!(nxm_header(Field::Metadata).0, 0x8000_0408);
        assert_eq!(oxm_header(Field::TunDst).0, 0x0001_4004);
        assert_eq!(oxm_header(Field::TunId).0, 0x8000_4c08);
        assert_eq!(oxm_header(Field::Reg7).0, 0x0001_0e04);
        assert_eq!(oxm_header(Field::EthDst).masked().0, 0x8000_070c);
        assert_eq!(oxm_header(Field::Ipv4Dst).masked().0, 0x8000_1908);
        // Every pipeline field has a header whose row names it and whose width holds it.
        for f in Field::ALL {
            for h in [oxm_header(f), nxm_header(f)] {
                assert_eq!(field_of(h), Ok(f), "{f:?}");
                assert!(usize::from(f.bits()) <= usize::from(h.len()) * 8, "{f:?}");
            }
        }
        // 40 basic fields.
        let basic = OXM_FIELDS
            .iter()
            .filter(|r| r.header.class() == CLASS_OPENFLOW_BASIC)
            .count();
        assert_eq!(basic, 40);
    }

    #[test]
    fn bad_entries_map_to_bad_match_codes() {
        let code = |bytes: &[u8]| decode_match_bytes(bytes).unwrap_err().type_code();
        // Unknown field.
        assert_eq!(
            code(&[0, 1, 0, 12, 0x80, 0, 0x7e, 4, 0, 0, 0, 6, 0, 0, 0, 0]),
            (4, 6)
        );
        // Wrong length for in_port.
        assert_eq!(code(&[0, 1, 0, 11, 0x80, 0, 0, 3, 0, 0, 6, 0]), (4, 1));
        // Value outside mask (metadata 0x1f / 0x0f).
        let mut v = vec![0, 1, 0, 24, 0x80, 0, 5, 16];
        v.extend_from_slice(&0x1fu64.to_be_bytes());
        v.extend_from_slice(&0x0fu64.to_be_bytes());
        assert_eq!(code(&v), (4, 5));
        // A mask on in_port.
        let v = [0, 1, 0, 12, 0x80, 0, 1, 8, 0, 0, 0, 6, 0, 0, 0, 7];
        assert_eq!(code(&v[..12]), (4, 1));
        let mut v = vec![0, 1, 0, 16, 0x80, 0, 1, 8, 0, 0, 0, 6, 0, 0, 0, 0xff];
        v.extend_from_slice(&[0; 0]);
        assert_eq!(code(&v), (4, 8));
        // Duplicate.
        let v = [
            0, 1, 0, 20, 0x80, 0, 0, 4, 0, 0, 0, 6, 0x80, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 0,
        ];
        assert_eq!(code(&v), (4, 10));
        // Match type 0 (OFPMT_STANDARD).
        assert_eq!(code(&[0, 0, 0, 4, 0, 0, 0, 0]), (4, 0));
        // VID without the present bit.
        assert_eq!(
            code(&[0, 1, 0, 10, 0x80, 0, 0x0c, 2, 0, 5, 0, 0, 0, 0, 0, 0]),
            (4, 7)
        );
    }
}

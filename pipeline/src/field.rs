//! The fields the pipeline can match, set, move and load, declared once.
//!
//! Every field has one [`FieldInfo`] row in [`Field::info`]: its width, where it lives in the
//! [`FlowKey`](crate::key::FlowKey) (word, shift), whether OpenFlow lets it be masked or written,
//! its OpenFlow 1.3 prerequisite, and the names OVS uses for it in flow text (`dl_src` in a
//! match, `eth_src` in `set_field`, `NXM_OF_ETH_SRC` in `move`/`load`). Fields whose protocols
//! exclude each other share key bits exactly as in OVS (`arp_spa` and `nw_src`, `tcp_src` and
//! `udp_src`, `icmp_type` and `icmpv6_type`); the prerequisite of a match keeps them apart.
//!
//! Values travel as `u128` (the widest field, an IPv6 address), right-aligned.

/// A header or metadata field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    InPort,
    Metadata,
    TunId,
    TunSrc,
    TunDst,
    PktMark,
    Reg0,
    Reg1,
    Reg2,
    Reg3,
    Reg4,
    Reg5,
    Reg6,
    Reg7,
    EthSrc,
    EthDst,
    EthType,
    /// OpenFlow 1.3 VLAN_VID: 12-bit VID plus the 0x1000 "present" bit.
    VlanVid,
    VlanPcp,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    IpProto,
    IpDscp,
    IpEcn,
    IpTtl,
    /// OVS `nw_frag`: bit 0 = is a fragment, bit 1 = is a later fragment.
    IpFrag,
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Icmpv4Type,
    Icmpv4Code,
    Icmpv6Type,
    Icmpv6Code,
}

/// The 0x1000 bit of [`Field::VlanVid`]: the frame carries an 802.1Q tag.
pub const VLAN_PRESENT: u128 = 0x1000;

/// How a field's value is written in flow text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    Decimal,
    Hex,
    /// Hex with four digits, as OVS prints `dl_type=0x0800`.
    EtherType,
    Mac,
    Ipv4,
    Ipv6,
    /// An OpenFlow port number, with reserved ports by name (`LOCAL`, `CONTROLLER`, ...).
    Port,
    /// `no`, `yes`, `first`, `later`, `not_later`.
    Frag,
}

/// What a field requires of the rest of the match (OpenFlow 1.3.5 §7.2.3.8, table 12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prerequisite {
    None,
    /// `eth_type` is one of these.
    EthType(&'static [u16]),
    /// `eth_type` is one of the first list and `ip_proto` equals the second.
    IpProto(&'static [u16], u8),
    /// `vlan_vid` matches a present tag.
    VlanPresent,
}

pub const ETH_TYPE_IPV4: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_RARP: u16 = 0x8035;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
pub const IP_PROTO_ICMP: u8 = 1;
pub const IP_PROTO_TCP: u8 = 6;
pub const IP_PROTO_UDP: u8 = 17;
pub const IP_PROTO_ICMPV6: u8 = 58;
pub const IP_PROTO_SCTP: u8 = 132;

const IP: &[u16] = &[ETH_TYPE_IPV4, ETH_TYPE_IPV6];
const IPV4: &[u16] = &[ETH_TYPE_IPV4];
const IPV6: &[u16] = &[ETH_TYPE_IPV6];
const ARP: &[u16] = &[ETH_TYPE_ARP, ETH_TYPE_RARP];

/// The static description of one field.
#[derive(Clone, Copy, Debug)]
pub struct FieldInfo {
    /// Width in bits.
    pub bits: u16,
    /// Index of the first `u64` word in the flow key (IPv6 addresses take two words).
    pub word: usize,
    /// Bit offset inside that word.
    pub shift: u32,
    pub maskable: bool,
    pub writable: bool,
    pub prerequisite: Prerequisite,
    pub format: ValueFormat,
    /// Name in a match as OVS prints it (`dl_src`, `nw_src`, `tp_dst`).
    pub match_name: &'static str,
    /// Name in `set_field:V->NAME` as OVS prints it (`eth_src`, `ip_src`, `tcp_dst`).
    pub set_name: &'static str,
    /// Name in `move:`/`load:` (`NXM_OF_ETH_SRC`, `NXM_NX_REG6`, `OXM_OF_METADATA`).
    pub nxm_name: &'static str,
    /// Other names accepted when parsing.
    pub aliases: &'static [&'static str],
}

impl Field {
    /// Every field, in the canonical order OVS prints matches in (after `priority` and the
    /// protocol shorthand).
    pub const ALL: [Field; 43] = [
        Field::PktMark,
        Field::Reg0,
        Field::Reg1,
        Field::Reg2,
        Field::Reg3,
        Field::Reg4,
        Field::Reg5,
        Field::Reg6,
        Field::Reg7,
        Field::TunId,
        Field::TunSrc,
        Field::TunDst,
        Field::Metadata,
        Field::InPort,
        Field::VlanVid,
        Field::VlanPcp,
        Field::EthSrc,
        Field::EthDst,
        Field::EthType,
        Field::Ipv4Src,
        Field::Ipv4Dst,
        Field::ArpSpa,
        Field::ArpTpa,
        Field::Ipv6Src,
        Field::Ipv6Dst,
        Field::IpProto,
        Field::ArpOp,
        Field::ArpSha,
        Field::ArpTha,
        Field::IpDscp,
        Field::IpEcn,
        Field::IpTtl,
        Field::IpFrag,
        Field::TcpSrc,
        Field::UdpSrc,
        Field::SctpSrc,
        Field::TcpDst,
        Field::UdpDst,
        Field::SctpDst,
        Field::Icmpv4Type,
        Field::Icmpv6Type,
        Field::Icmpv4Code,
        Field::Icmpv6Code,
    ];

    /// The field's static description.
    pub fn info(self) -> &'static FieldInfo {
        use Field::*;
        use Prerequisite as P;
        use ValueFormat as F;
        macro_rules! row {
            ($bits:expr, $word:expr, $shift:expr, $mask:expr, $write:expr, $pre:expr, $fmt:expr,
             $m:expr, $s:expr, $n:expr, [$($a:expr),*]) => {{
                const ROW: FieldInfo = FieldInfo {
                    bits: $bits, word: $word, shift: $shift, maskable: $mask, writable: $write,
                    prerequisite: $pre, format: $fmt, match_name: $m, set_name: $s, nxm_name: $n,
                    aliases: &[$($a),*],
                };
                &ROW
            }};
        }
        match self {
            InPort => row!(
                32,
                0,
                0,
                false,
                true,
                P::None,
                F::Port,
                "in_port",
                "in_port",
                "NXM_OF_IN_PORT",
                []
            ),
            PktMark => row!(
                32,
                0,
                32,
                true,
                true,
                P::None,
                F::Hex,
                "pkt_mark",
                "pkt_mark",
                "NXM_NX_PKT_MARK",
                []
            ),
            Metadata => row!(
                64,
                1,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "metadata",
                "metadata",
                "OXM_OF_METADATA",
                []
            ),
            TunId => row!(
                64,
                2,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "tun_id",
                "tun_id",
                "NXM_NX_TUN_ID",
                ["tunnel_id"]
            ),
            TunSrc => row!(
                32,
                3,
                0,
                true,
                true,
                P::None,
                F::Ipv4,
                "tun_src",
                "tun_src",
                "NXM_NX_TUN_IPV4_SRC",
                []
            ),
            TunDst => row!(
                32,
                3,
                32,
                true,
                true,
                P::None,
                F::Ipv4,
                "tun_dst",
                "tun_dst",
                "NXM_NX_TUN_IPV4_DST",
                []
            ),
            Reg0 => row!(
                32,
                4,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "reg0",
                "reg0",
                "NXM_NX_REG0",
                []
            ),
            Reg1 => row!(
                32,
                4,
                32,
                true,
                true,
                P::None,
                F::Hex,
                "reg1",
                "reg1",
                "NXM_NX_REG1",
                []
            ),
            Reg2 => row!(
                32,
                5,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "reg2",
                "reg2",
                "NXM_NX_REG2",
                []
            ),
            Reg3 => row!(
                32,
                5,
                32,
                true,
                true,
                P::None,
                F::Hex,
                "reg3",
                "reg3",
                "NXM_NX_REG3",
                []
            ),
            Reg4 => row!(
                32,
                6,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "reg4",
                "reg4",
                "NXM_NX_REG4",
                []
            ),
            Reg5 => row!(
                32,
                6,
                32,
                true,
                true,
                P::None,
                F::Hex,
                "reg5",
                "reg5",
                "NXM_NX_REG5",
                []
            ),
            Reg6 => row!(
                32,
                7,
                0,
                true,
                true,
                P::None,
                F::Hex,
                "reg6",
                "reg6",
                "NXM_NX_REG6",
                []
            ),
            Reg7 => row!(
                32,
                7,
                32,
                true,
                true,
                P::None,
                F::Hex,
                "reg7",
                "reg7",
                "NXM_NX_REG7",
                []
            ),
            EthDst => row!(
                48,
                8,
                0,
                true,
                true,
                P::None,
                F::Mac,
                "dl_dst",
                "eth_dst",
                "NXM_OF_ETH_DST",
                ["eth_dst"]
            ),
            EthType => row!(
                16,
                8,
                48,
                false,
                false,
                P::None,
                F::EtherType,
                "dl_type",
                "eth_type",
                "NXM_OF_ETH_TYPE",
                ["eth_type"]
            ),
            EthSrc => row!(
                48,
                9,
                0,
                true,
                true,
                P::None,
                F::Mac,
                "dl_src",
                "eth_src",
                "NXM_OF_ETH_SRC",
                ["eth_src"]
            ),
            VlanVid => row!(
                13,
                9,
                48,
                true,
                true,
                P::None,
                F::Decimal,
                "vlan_vid",
                "vlan_vid",
                "OXM_OF_VLAN_VID",
                []
            ),
            VlanPcp => row!(
                3,
                9,
                61,
                false,
                true,
                P::VlanPresent,
                F::Decimal,
                "dl_vlan_pcp",
                "vlan_pcp",
                "OXM_OF_VLAN_PCP",
                ["vlan_pcp"]
            ),
            Ipv4Src => row!(
                32,
                10,
                0,
                true,
                true,
                P::EthType(IPV4),
                F::Ipv4,
                "nw_src",
                "ip_src",
                "NXM_OF_IP_SRC",
                ["ip_src"]
            ),
            Ipv4Dst => row!(
                32,
                10,
                32,
                true,
                true,
                P::EthType(IPV4),
                F::Ipv4,
                "nw_dst",
                "ip_dst",
                "NXM_OF_IP_DST",
                ["ip_dst"]
            ),
            ArpSpa => row!(
                32,
                10,
                0,
                true,
                true,
                P::EthType(ARP),
                F::Ipv4,
                "arp_spa",
                "arp_spa",
                "NXM_OF_ARP_SPA",
                []
            ),
            ArpTpa => row!(
                32,
                10,
                32,
                true,
                true,
                P::EthType(ARP),
                F::Ipv4,
                "arp_tpa",
                "arp_tpa",
                "NXM_OF_ARP_TPA",
                []
            ),
            ArpSha => row!(
                48,
                11,
                0,
                true,
                true,
                P::EthType(ARP),
                F::Mac,
                "arp_sha",
                "arp_sha",
                "NXM_NX_ARP_SHA",
                []
            ),
            IpProto => row!(
                8,
                11,
                48,
                false,
                false,
                P::EthType(IP),
                F::Decimal,
                "nw_proto",
                "ip_proto",
                "NXM_OF_IP_PROTO",
                ["ip_proto"]
            ),
            IpDscp => row!(
                6,
                11,
                56,
                false,
                true,
                P::EthType(IP),
                F::Decimal,
                "ip_dscp",
                "ip_dscp",
                "OXM_OF_IP_DSCP",
                []
            ),
            IpEcn => row!(
                2,
                11,
                62,
                false,
                true,
                P::EthType(IP),
                F::Decimal,
                "nw_ecn",
                "nw_ecn",
                "NXM_NX_IP_ECN",
                ["ip_ecn"]
            ),
            ArpTha => row!(
                48,
                12,
                0,
                true,
                true,
                P::EthType(ARP),
                F::Mac,
                "arp_tha",
                "arp_tha",
                "NXM_NX_ARP_THA",
                []
            ),
            IpTtl => row!(
                8,
                12,
                48,
                false,
                true,
                P::EthType(IP),
                F::Decimal,
                "nw_ttl",
                "nw_ttl",
                "NXM_NX_IP_TTL",
                []
            ),
            IpFrag => row!(
                2,
                12,
                56,
                true,
                false,
                P::EthType(IP),
                F::Frag,
                "nw_frag",
                "nw_frag",
                "NXM_NX_IP_FRAG",
                ["ip_frag"]
            ),
            TcpSrc => row!(
                16,
                13,
                0,
                true,
                true,
                P::IpProto(IP, IP_PROTO_TCP),
                F::Decimal,
                "tp_src",
                "tcp_src",
                "NXM_OF_TCP_SRC",
                ["tcp_src"]
            ),
            TcpDst => row!(
                16,
                13,
                16,
                true,
                true,
                P::IpProto(IP, IP_PROTO_TCP),
                F::Decimal,
                "tp_dst",
                "tcp_dst",
                "NXM_OF_TCP_DST",
                ["tcp_dst"]
            ),
            UdpSrc => row!(
                16,
                13,
                0,
                true,
                true,
                P::IpProto(IP, IP_PROTO_UDP),
                F::Decimal,
                "tp_src",
                "udp_src",
                "NXM_OF_UDP_SRC",
                ["udp_src"]
            ),
            UdpDst => row!(
                16,
                13,
                16,
                true,
                true,
                P::IpProto(IP, IP_PROTO_UDP),
                F::Decimal,
                "tp_dst",
                "udp_dst",
                "NXM_OF_UDP_DST",
                ["udp_dst"]
            ),
            SctpSrc => row!(
                16,
                13,
                0,
                true,
                true,
                P::IpProto(IP, IP_PROTO_SCTP),
                F::Decimal,
                "tp_src",
                "sctp_src",
                "OXM_OF_SCTP_SRC",
                ["sctp_src"]
            ),
            SctpDst => row!(
                16,
                13,
                16,
                true,
                true,
                P::IpProto(IP, IP_PROTO_SCTP),
                F::Decimal,
                "tp_dst",
                "sctp_dst",
                "OXM_OF_SCTP_DST",
                ["sctp_dst"]
            ),
            ArpOp => row!(
                16,
                13,
                32,
                false,
                true,
                P::EthType(ARP),
                F::Decimal,
                "arp_op",
                "arp_op",
                "NXM_OF_ARP_OP",
                []
            ),
            Icmpv4Type => row!(
                8,
                13,
                48,
                false,
                true,
                P::IpProto(IPV4, IP_PROTO_ICMP),
                F::Decimal,
                "icmp_type",
                "icmp_type",
                "NXM_OF_ICMP_TYPE",
                ["icmpv4_type"]
            ),
            Icmpv4Code => row!(
                8,
                13,
                56,
                false,
                true,
                P::IpProto(IPV4, IP_PROTO_ICMP),
                F::Decimal,
                "icmp_code",
                "icmp_code",
                "NXM_OF_ICMP_CODE",
                ["icmpv4_code"]
            ),
            Icmpv6Type => row!(
                8,
                13,
                48,
                false,
                true,
                P::IpProto(IPV6, IP_PROTO_ICMPV6),
                F::Decimal,
                "icmpv6_type",
                "icmpv6_type",
                "NXM_NX_ICMPV6_TYPE",
                []
            ),
            Icmpv6Code => row!(
                8,
                13,
                56,
                false,
                true,
                P::IpProto(IPV6, IP_PROTO_ICMPV6),
                F::Decimal,
                "icmpv6_code",
                "icmpv6_code",
                "NXM_NX_ICMPV6_CODE",
                []
            ),
            Ipv6Src => row!(
                128,
                14,
                0,
                true,
                true,
                P::EthType(IPV6),
                F::Ipv6,
                "ipv6_src",
                "ipv6_src",
                "NXM_NX_IPV6_SRC",
                []
            ),
            Ipv6Dst => row!(
                128,
                16,
                0,
                true,
                true,
                P::EthType(IPV6),
                F::Ipv6,
                "ipv6_dst",
                "ipv6_dst",
                "NXM_NX_IPV6_DST",
                []
            ),
        }
    }

    /// Width in bits.
    pub fn bits(self) -> u16 {
        self.info().bits
    }

    /// All ones over the field's width.
    pub fn full_mask(self) -> u128 {
        mask_of_width(self.bits())
    }

    /// The field whose `nxm_name` (or OXM name) is `name`.
    pub fn from_nxm_name(name: &str) -> Option<Field> {
        Field::ALL
            .iter()
            .copied()
            .find(|f| f.info().nxm_name == name)
    }

    /// The field a flow-text name refers to: a match name, a `set_field` name or an alias.
    ///
    /// Names shared by several fields (`tp_src`) resolve to the TCP field; the caller that
    /// knows the protocol refines it with [`Field::for_protocol`].
    pub fn from_text_name(name: &str) -> Option<Field> {
        // Built once: flow text names a field per match item and per set_field, and a scan of
        // every field's names was the largest part of parsing a flow.
        static BY_NAME: std::sync::OnceLock<hashbrown::HashMap<&'static str, Field>> =
            std::sync::OnceLock::new();
        let by_name = BY_NAME.get_or_init(|| {
            let mut m = hashbrown::HashMap::new();
            for f in Field::ALL {
                let i = f.info();
                let names = [i.match_name, i.set_name].into_iter();
                for n in names.chain(i.aliases.iter().copied()) {
                    // The first field in `ALL` order that has the name wins.
                    m.entry(n).or_insert(f);
                }
            }
            m
        });
        by_name.get(name).copied()
    }

    /// Refines a field that several protocols share (`tp_src`, `icmp_type`) to the variant for
    /// `ip_proto`; other fields are returned unchanged.
    pub fn for_protocol(self, ip_proto: u8) -> Field {
        use Field::*;
        match (self, ip_proto) {
            (TcpSrc | UdpSrc | SctpSrc, IP_PROTO_UDP) => UdpSrc,
            (TcpSrc | UdpSrc | SctpSrc, IP_PROTO_SCTP) => SctpSrc,
            (TcpSrc | UdpSrc | SctpSrc, _) => TcpSrc,
            (TcpDst | UdpDst | SctpDst, IP_PROTO_UDP) => UdpDst,
            (TcpDst | UdpDst | SctpDst, IP_PROTO_SCTP) => SctpDst,
            (TcpDst | UdpDst | SctpDst, _) => TcpDst,
            (Icmpv4Type | Icmpv6Type, IP_PROTO_ICMPV6) => Icmpv6Type,
            (Icmpv4Type | Icmpv6Type, _) => Icmpv4Type,
            (Icmpv4Code | Icmpv6Code, IP_PROTO_ICMPV6) => Icmpv6Code,
            (Icmpv4Code | Icmpv6Code, _) => Icmpv4Code,
            (f, _) => f,
        }
    }

    /// The register field `reg0`..`reg7` for index `n`.
    pub fn reg(n: u8) -> Option<Field> {
        const REGS: [Field; 8] = [
            Field::Reg0,
            Field::Reg1,
            Field::Reg2,
            Field::Reg3,
            Field::Reg4,
            Field::Reg5,
            Field::Reg6,
            Field::Reg7,
        ];
        REGS.get(usize::from(n)).copied()
    }
}

/// All ones over `bits` bits (0..=128).
pub fn mask_of_width(bits: u16) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// A bit range of a field, as `NXM_NX_TUN_ID[0..31]` names it (`[]` is the whole field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldRange {
    pub field: Field,
    /// Lowest bit of the range.
    pub offset: u16,
    /// Number of bits (at least 1).
    pub bits: u16,
}

impl FieldRange {
    /// The whole field.
    pub fn whole(field: Field) -> Self {
        FieldRange {
            field,
            offset: 0,
            bits: field.bits(),
        }
    }

    /// A checked sub-range: `offset + bits` must lie inside the field.
    pub fn new(field: Field, offset: u16, bits: u16) -> Option<Self> {
        (bits > 0 && u32::from(offset) + u32::from(bits) <= u32::from(field.bits())).then_some(
            FieldRange {
                field,
                offset,
                bits,
            },
        )
    }

    /// True when the range covers the whole field.
    pub fn is_whole(&self) -> bool {
        self.offset == 0 && self.bits == self.field.bits()
    }

    /// The mask of the range's bits inside the field's value.
    pub fn mask(&self) -> u128 {
        mask_of_width(self.bits) << self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_unless_protocols_exclude_each_other() {
        // Two fields may share key bits only if their prerequisites can never both hold.
        let bitset = |f: Field| -> Vec<(usize, u32)> {
            let i = f.info();
            (0..u32::from(i.bits))
                .map(|b| (i.word + (i.shift + b) as usize / 64, (i.shift + b) % 64))
                .collect()
        };
        for (n, a) in Field::ALL.iter().enumerate() {
            for b in &Field::ALL[n + 1..] {
                let shared = bitset(*a).iter().any(|x| bitset(*b).contains(x));
                if shared {
                    assert_ne!(
                        a.info().prerequisite,
                        b.info().prerequisite,
                        "{a:?} and {b:?} share key bits under the same prerequisite"
                    );
                    assert_ne!(a.info().prerequisite, Prerequisite::None, "{a:?}/{b:?}");
                }
            }
        }
    }

    #[test]
    fn every_field_fits_its_word() {
        for f in Field::ALL {
            let i = f.info();
            if i.bits <= 64 {
                assert!(i.shift + u32::from(i.bits) <= 64, "{f:?}");
            } else {
                assert_eq!(i.shift, 0, "{f:?}");
            }
        }
    }

    #[test]
    fn names_resolve_back() {
        assert_eq!(Field::from_text_name("dl_src"), Some(Field::EthSrc));
        assert_eq!(Field::from_text_name("eth_src"), Some(Field::EthSrc));
        assert_eq!(Field::from_text_name("tun_dst"), Some(Field::TunDst));
        assert_eq!(Field::from_nxm_name("NXM_NX_ARP_SHA"), Some(Field::ArpSha));
        assert_eq!(
            Field::from_text_name("tp_dst").map(|f| f.for_protocol(17)),
            Some(Field::UdpDst)
        );
        assert_eq!(
            FieldRange::new(Field::TunId, 0, 32).map(|r| r.is_whole()),
            Some(false)
        );
        assert!(FieldRange::new(Field::PktMark, 1, 32).is_none());
    }
}

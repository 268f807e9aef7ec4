//! Ethernet II and 802.1Q / 802.1ad tags.
//!
//! ```text
//! 0      6      12        14
//! | dst  | src  | type/TPID | [TCI | type]... payload
//! ```

/// Byte offsets of the Ethernet header's fields.
pub mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// Length of one VLAN tag (TPID + TCI).
pub const TAG_LEN: usize = 4;
/// 802.1ad service tag TPID.
pub const ETH_TYPE_QINQ: u16 = 0x88a8;
/// The most tags [`extract`](super::extract()) parses; a third TPID is left as `eth_type`.
pub const MAX_TAGS: u8 = 2;
/// EtherType values below this are 802.3 lengths.
pub const ETH_TYPE_MIN: u16 = 0x0600;
/// The `eth_type` OVS gives an 802.3 frame without an EtherType (`FLOW_DL_TYPE_NONE`).
pub const ETH_TYPE_NONE: u16 = 0x05ff;

/// True for a TPID that [`extract`](super::extract()) treats as a VLAN tag.
#[inline]
pub fn is_vlan_tpid(t: u16) -> bool {
    t == crate::field::ETH_TYPE_VLAN || t == ETH_TYPE_QINQ
}

/// A checked view of the 14-byte Ethernet header.
#[derive(Clone, Copy, Debug)]
pub struct EthernetHeader<'a>(&'a [u8; HEADER_LEN]);

impl<'a> EthernetHeader<'a> {
    /// The header at the start of `b`, if `b` is long enough.
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(EthernetHeader)
    }
    /// Each MAC is read as one big-endian 8-byte word around it and shifted or masked into
    /// place: a load and a byte swap instead of six shifts of a 128-bit value (`mac`).
    #[inline]
    pub fn dst(&self) -> u128 {
        let h = self.0;
        let w = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
        u128::from(w >> 16)
    }
    #[inline]
    pub fn src(&self) -> u128 {
        let h = self.0;
        let w = u64::from_be_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
        u128::from(w & 0xffff_ffff_ffff)
    }
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.0[12], self.0[13]])
    }
}

/// The 4 bytes after a TPID: TCI and the next EtherType.
#[derive(Clone, Copy, Debug)]
pub struct VlanTag<'a>(&'a [u8; 4]);

impl<'a> VlanTag<'a> {
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(VlanTag)
    }
    #[inline]
    pub fn tci(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }
}

/// A MAC address as a right-aligned integer (the key's form).
#[inline]
pub fn mac(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x))
}

/// The 6 bytes of a MAC address held right-aligned in `v`.
#[inline]
pub fn mac_bytes(v: u128) -> [u8; 6] {
    let b = (v as u64).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

//! ARP for Ethernet and IPv4 (RFC 826), the only form the key describes.
//!
//! ```text
//! 0    2    4   5   6    8      14    18     24    28
//! |hrd |pro |hln|pln| op | sha  | spa | tha  | tpa |
//! ```

/// Byte offsets of the ARP fields.
pub mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OP: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// `hrd` for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A checked view of a 28-byte ARP packet (any hardware/protocol type).
#[derive(Clone, Copy, Debug)]
pub struct ArpPacket<'a>(&'a [u8; PACKET_LEN]);

impl<'a> ArpPacket<'a> {
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(ArpPacket)
    }
    /// True for Ethernet hardware and IPv4 protocol addresses (hln 6, pln 4).
    #[inline]
    pub fn is_ethernet_ipv4(&self) -> bool {
        let b = self.0;
        u16::from_be_bytes([b[0], b[1]]) == HTYPE_ETHERNET
            && u16::from_be_bytes([b[2], b[3]]) == crate::field::ETH_TYPE_IPV4
            && b[field::HLEN] == 6
            && b[field::PLEN] == 4
    }
    #[inline]
    pub fn op(&self) -> u16 {
        u16::from_be_bytes([self.0[6], self.0[7]])
    }
    #[inline]
    pub fn sha(&self) -> u128 {
        super::ethernet::mac(&self.0[field::SHA])
    }
    #[inline]
    pub fn spa(&self) -> u32 {
        u32::from_be_bytes([self.0[14], self.0[15], self.0[16], self.0[17]])
    }
    #[inline]
    pub fn tha(&self) -> u128 {
        super::ethernet::mac(&self.0[field::THA])
    }
    #[inline]
    pub fn tpa(&self) -> u32 {
        u32::from_be_bytes([self.0[24], self.0[25], self.0[26], self.0[27]])
    }
}

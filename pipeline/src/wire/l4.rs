//! TCP, UDP, SCTP and ICMP(v6): only the leading bytes the key and the rewrites touch.
//!
//! All four start with two 16-bit words (ports, or ICMP type/code plus checksum), so one
//! view serves them; each protocol's header length and checksum offset is below.

/// Byte offsets of the L4 fields.
pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const ICMP_TYPE: usize = 0;
    pub const ICMP_CODE: usize = 1;
    pub const ICMP_CHECKSUM: Range<usize> = 2..4;
    pub const UDP_LEN: Range<usize> = 4..6;
    pub const UDP_CHECKSUM: Range<usize> = 6..8;
    pub const SCTP_CHECKSUM: Range<usize> = 8..12;
    /// Data offset (high 4 bits, in 32-bit words).
    pub const TCP_DATA_OFFSET: usize = 12;
    pub const TCP_CHECKSUM: Range<usize> = 16..18;
}

pub const TCP_MIN_HEADER_LEN: usize = 20;
pub const UDP_HEADER_LEN: usize = 8;
/// Common header: ports, verification tag, checksum.
pub const SCTP_HEADER_LEN: usize = 12;
/// Type, code, checksum and the 4-byte rest of header (OVS's `ICMP_HEADER_LEN`).
pub const ICMP_HEADER_LEN: usize = 8;

/// The first 4 bytes of an L4 header.
#[derive(Clone, Copy, Debug)]
pub struct L4Words<'a>(&'a [u8; 4]);

impl<'a> L4Words<'a> {
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(L4Words)
    }
    /// Source port, or ICMP type (high byte) and code (low byte).
    #[inline]
    pub fn word0(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }
    /// Destination port, or the ICMP checksum.
    #[inline]
    pub fn word1(&self) -> u16 {
        u16::from_be_bytes([self.0[2], self.0[3]])
    }
}

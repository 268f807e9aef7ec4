//! IPv4 (RFC 791).
//!
//! ```text
//! 0        1     2         4      6           8     9      10      12    16    20
//! |ver/ihl |tos  |tot_len  | id   |flags/frag |ttl  |proto |csum   | src | dst | options
//! ```

/// Byte offsets of the fixed IPv4 header's fields.
pub mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    /// DSCP (high 6 bits) and ECN (low 2 bits).
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTO: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of the fixed header (IHL 5).
pub const MIN_HEADER_LEN: usize = 20;
/// More Fragments flag in the flags/fragment word.
pub const FLAG_MF: u16 = 0x2000;
/// Don't Fragment flag.
pub const FLAG_DF: u16 = 0x4000;
/// Fragment offset bits.
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of the fixed 20 bytes of an IPv4 header (length checked, contents not).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Header<'a>(&'a [u8; MIN_HEADER_LEN]);

impl<'a> Ipv4Header<'a> {
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(Ipv4Header)
    }
    #[inline]
    pub fn version(&self) -> u8 {
        self.0[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.0[field::VER_IHL] & 0x0f) * 4
    }
    #[inline]
    pub fn tos(&self) -> u8 {
        self.0[field::TOS]
    }
    #[inline]
    pub fn total_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.0[2], self.0[3]]))
    }
    #[inline]
    pub fn flags_frag(&self) -> u16 {
        u16::from_be_bytes([self.0[6], self.0[7]])
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.0[field::TTL]
    }
    #[inline]
    pub fn proto(&self) -> u8 {
        self.0[field::PROTO]
    }
    #[inline]
    pub fn src(&self) -> [u8; 4] {
        [self.0[12], self.0[13], self.0[14], self.0[15]]
    }
    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        [self.0[16], self.0[17], self.0[18], self.0[19]]
    }
}

//! IPv6 (RFC 8200) and the extension headers [`extract`](super::extract()) walks.
//!
//! ```text
//! 0              4         6     7      8     24    40
//! |ver/tc/flow   |plen     |next |hlim  | src | dst | extension headers... L4
//! ```

/// Byte offsets of the IPv6 header's fields.
pub mod field {
    use core::ops::Range;
    /// Version (4 bits), traffic class (8), flow label (20).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// Extension header numbers.
pub const NH_HOP_BY_HOP: u8 = 0;
pub const NH_ROUTING: u8 = 43;
pub const NH_FRAGMENT: u8 = 44;
pub const NH_AUTH: u8 = 51;
pub const NH_DEST_OPTS: u8 = 60;
/// Length of the fragment extension header.
pub const FRAGMENT_LEN: usize = 8;

/// A view of the 40-byte IPv6 header.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Ipv6Header<'a> {
    #[inline]
    pub fn new_checked(b: &'a [u8]) -> Option<Self> {
        b.first_chunk().map(Ipv6Header)
    }
    #[inline]
    fn word0(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
    #[inline]
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    #[inline]
    pub fn payload_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.0[4], self.0[5]]))
    }
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.0[field::NEXT_HEADER]
    }
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.0[field::HOP_LIMIT]
    }
    #[inline]
    pub fn src(&self) -> u128 {
        u128::from_be_bytes(to16(&self.0[field::SRC]))
    }
    #[inline]
    pub fn dst(&self) -> u128 {
        u128::from_be_bytes(to16(&self.0[field::DST]))
    }
}

/// Copies 16 bytes (fewer are zero-padded; never panics).
#[inline]
pub(crate) fn to16(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

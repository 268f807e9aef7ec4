//! The internet checksum (RFC 1071), its incremental update (RFC 1624) and CRC32c (SCTP).
//!
//! Sums are carried unfolded in a `u32` so that several pieces (a pseudo-header, a header, a
//! payload) can be added before one [`fold`]. Every function is total: odd lengths are padded
//! with a zero byte as RFC 1071 says.

/// Adds `data` as big-endian 16-bit words to `acc` (ones' complement, unfolded).
///
/// An odd trailing byte is the high byte of a last word. `acc` must stay below 2³¹ between
/// calls, which holds for any sum of less than 32 KiB of words plus a folded value; longer
/// inputs are folded as they go.
#[inline]
pub fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    let mut n = 0usize;
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
        n += 1;
        if n == 0x4000 {
            acc = u32::from(fold(acc));
            n = 0;
        }
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds carries back into 16 bits (end-around carry).
#[inline]
pub fn fold(mut acc: u32) -> u16 {
    acc = (acc & 0xffff) + (acc >> 16);
    acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// The internet checksum of `data`: the complement of its ones' complement sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// True when `data` (which includes its checksum field) sums to all ones, i.e. verifies.
#[inline]
pub fn verifies(data: &[u8], acc: u32) -> bool {
    fold(sum(data, acc)) == 0xffff
}

/// The unfolded sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768).
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], proto: u8, l4_len: u16) -> u32 {
    sum(&src, sum(&dst, u32::from(proto) + u32::from(l4_len)))
}

/// The unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1).
#[inline]
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, l4_len: u32) -> u32 {
    let len = u32::from(fold(l4_len)) + (l4_len >> 16);
    sum(&src, sum(&dst, u32::from(next_header) + len))
}

/// Writes into `copy` (the first bytes of `frame`) the TCP/UDP checksum of `frame`, whose
/// field holds a partial checksum in the datapath's form: the complement of the folded
/// pseudo-header sum ([`crate::PacketMeta::l4_checksum_partial`]). The sum runs over the
/// whole segment of `frame`, so a truncated copy gets the checksum of the frame it was cut
/// from. Frames without a TCP/UDP checksum field, and copies too short to hold it, are left
/// alone.
pub fn complete_partial(frame: &[u8], layout: &super::Layout, copy: &mut [u8]) {
    let field_at = match layout.l4 {
        super::L4Proto::Tcp => 16,
        super::L4Proto::Udp => 6,
        _ => return,
    };
    let (start, end) = (layout.l4_offset as usize, layout.l3_end as usize);
    let at = start + field_at;
    let (Some(segment), Some(field)) = (frame.get(start..end), frame.get(at..at + 2)) else {
        return;
    };
    let field = u16::from_be_bytes([field[0], field[1]]);
    // The segment's sum with the field put back to the pseudo-header sum it stands for:
    // take `field` out (add its complement) and put `!field` in.
    let acc = sum(segment, 2 * u32::from(!field));
    let mut c = !fold(acc);
    if layout.l4 == super::L4Proto::Udp && c == 0 {
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        c = 0xffff;
    }
    if let Some(dst) = copy.get_mut(at..at + 2) {
        dst.copy_from_slice(&c.to_be_bytes());
    }
}

/// RFC 1624 eqn. 3: the checksum `hc` after one 16-bit word changes from `old` to `new`,
/// `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!hc) + u32::from(!old) + u32::from(new))
}

/// [`update16`] for a 32-bit field (two words), e.g. an IPv4 address.
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let acc = u32::from(!hc)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!old as u16)
        + (new >> 16)
        + (new & 0xffff);
    !fold(acc)
}

/// [`update16`] for a run of words, e.g. an IPv6 address. `old` and `new` must have the
/// same, even length (a trailing odd byte is treated as a high byte, as in [`sum`]).
#[inline]
pub fn update_bytes(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    // ~m summed word by word equals the complement of the folded sum of m.
    let acc = u32::from(!hc) + u32::from(!fold(sum(old, 0))) + u32::from(fold(sum(new, 0)));
    !fold(acc)
}

/// A UDP checksum after an update: 0 means "no checksum" and stays 0; a computed 0 is sent
/// as 0xffff (RFC 768).
#[inline]
pub fn udp_update(hc: u16, update: impl FnOnce(u16) -> u16) -> u16 {
    if hc == 0 {
        return 0;
    }
    match update(hc) {
        0 => 0xffff,
        v => v,
    }
}

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC32c (Castagnoli, RFC 3720 B.4), as SCTP uses it (RFC 9260 Appendix A).
///
/// SCTP stores the result in little-endian byte order in its checksum field (as Linux's
/// `sctp_compute_cksum` does), computed with that field zeroed.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d, 0)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            sum(&[0x12, 0x34, 0x56], 0),
            sum(&[0x12, 0x34, 0x56, 0x00], 0)
        );
    }

    proptest! {
        #[test]
        fn incremental_matches_full(
            mut data in proptest::collection::vec(any::<u8>(), 2..200),
            idx in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            if data.len() % 2 == 1 { data.push(0); }
            let w = idx.index(data.len() / 2) * 2;
            let hc = checksum(&data);
            let old = u16::from_be_bytes([data[w], data[w + 1]]);
            data[w..w + 2].copy_from_slice(&new.to_be_bytes());
            let hc2 = update16(hc, old, new);
            // Equal up to the two zeros of ones' complement.
            let full = checksum(&data);
            prop_assert!(hc2 == full || (hc2 == 0xffff && full == 0) || (hc2 == 0 && full == 0xffff));
        }

        #[test]
        fn incremental_32_and_bytes_verify(
            mut data in proptest::collection::vec(any::<u8>(), 16..100),
            new in any::<[u8; 16]>(),
        ) {
            if data.len() % 2 == 1 { data.push(0); }
            let hc = checksum(&data);
            // Place the checksum as a trailing word so the whole buffer verifies.
            let mut buf = data.clone();
            buf.extend_from_slice(&hc.to_be_bytes());
            prop_assert!(verifies(&buf, 0));
            let old4 = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let new4 = u32::from_be_bytes([new[0], new[1], new[2], new[3]]);
            buf[..4].copy_from_slice(&new[..4]);
            let n = buf.len();
            let c = u16::from_be_bytes([buf[n - 2], buf[n - 1]]);
            let c = update32(c, old4, new4);
            buf[n - 2..].copy_from_slice(&c.to_be_bytes());
            prop_assert!(verifies(&buf, 0));
            let old16: [u8; 16] = buf[..16].try_into().unwrap();
            buf[..16].copy_from_slice(&new);
            let c = u16::from_be_bytes([buf[n - 2], buf[n - 1]]);
            let c = update_bytes(c, &old16, &new);
            buf[n - 2..].copy_from_slice(&c.to_be_bytes());
            prop_assert!(verifies(&buf, 0));
        }
    }
}

//! The flow key: every field of one packet, in fixed-width words.
//!
//! A [`FlowKey`] is what the classifier looks up and what actions rewrite before the bytes are
//! touched. It is a plain array of `u64` words so that masking, hashing and comparing are a
//! few word operations; [`Field::info`] says where each field lives. Fields a packet does not
//! have are zero (OVS does the same), so a key compares equal to another exactly when the two
//! packets are indistinguishable to every flow.

use crate::field::{Field, mask_of_width};

/// Number of `u64` words in a flow key.
pub const KEY_WORDS: usize = 18;

/// All fields of one packet.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub words: [u64; KEY_WORDS],
}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("FlowKey");
        for field in Field::ALL {
            let v = self.get(field);
            if v != 0 {
                s.field(field.info().match_name, &format_args!("{v:#x}"));
            }
        }
        s.finish()
    }
}

impl FlowKey {
    /// Reads a field, right-aligned.
    #[inline]
    pub fn get(&self, field: Field) -> u128 {
        let i = field.info();
        if i.bits > 64 {
            (u128::from(self.words[i.word]) << 64) | u128::from(self.words[i.word + 1])
        } else {
            let m = mask_of_width(i.bits) as u64;
            u128::from((self.words[i.word] >> i.shift) & m)
        }
    }

    /// Writes a field; bits above its width are ignored.
    #[inline]
    pub fn set(&mut self, field: Field, value: u128) {
        let i = field.info();
        if i.bits > 64 {
            self.words[i.word] = (value >> 64) as u64;
            self.words[i.word + 1] = value as u64;
        } else {
            let m = (mask_of_width(i.bits) as u64) << i.shift;
            let v = ((value as u64) << i.shift) & m;
            self.words[i.word] = (self.words[i.word] & !m) | v;
        }
    }

    /// Writes only the bits of `mask` (right-aligned, field-relative).
    #[inline]
    pub fn set_masked(&mut self, field: Field, value: u128, mask: u128) {
        let old = self.get(field);
        self.set(field, (old & !mask) | (value & mask));
    }

    /// A fast 64-bit hash of the whole key (for the exact-match cache).
    #[inline]
    pub fn hash64(&self) -> u64 {
        hash_words(&self.words)
    }

    /// The key with only the bits of `mask` kept.
    #[inline]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = FlowKey::default();
        for n in 0..KEY_WORDS {
            out.words[n] = self.words[n] & mask.words[n];
        }
        out
    }
}

/// Multiply-rotate hash over words (FxHash-like, then a final avalanche).
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = 0;
    for &w in words {
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    // fmix64 from MurmurHash3: spreads low-entropy keys over all bits.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_round_trip_every_field() {
        for f in Field::ALL {
            let mut k = FlowKey::default();
            let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128 & f.full_mask();
            k.set(f, v);
            assert_eq!(k.get(f), v, "{f:?}");
            k.set(f, u128::MAX);
            assert_eq!(k.get(f), f.full_mask(), "{f:?} must not spill");
        }
    }

    #[test]
    fn set_masked_keeps_other_bits() {
        let mut k = FlowKey::default();
        k.set(Field::Metadata, 0xaaaa_0000);
        k.set_masked(Field::Metadata, 0x1f42, 0xffff);
        assert_eq!(k.get(Field::Metadata), 0xaaaa_1f42);
    }
}

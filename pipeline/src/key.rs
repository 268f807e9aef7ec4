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
#[derive(Clone, Copy, Eq, Default)]
pub struct FlowKey {
    pub words: [u64; KEY_WORDS],
}

impl PartialEq for FlowKey {
    /// Word-wise, branch-free (the derived comparison calls `memcmp`, which the flow cache's
    /// hit path paid for on every packet).
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .fold(0u64, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::hash::Hash for FlowKey {
    /// Consistent with `eq`: equal keys have equal words.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.words.hash(state);
    }
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

/// One multiplier per key word position (a SplitMix64 sequence), so that equal words in
/// different positions hash differently.
const HASH_KEYS: [u64; KEY_WORDS] = {
    let mut k = [0u64; KEY_WORDS];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut i = 0;
    while i < KEY_WORDS {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        k[i] = z ^ (z >> 31);
        i += 1;
    }
    k
};

/// The high and low halves of the 128-bit product, xored (the "folded multiply" of foldhash
/// and wyhash).
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A fast hash of up to [`KEY_WORDS`] words (flow-cache keys, subtable keys).
///
/// Words are taken in pairs, each pair mixed by one folded multiply with its position's
/// constants; the pairs are independent of each other, so the multiplies overlap in the
/// pipeline instead of forming one long dependency chain (18 words cost about as much as
/// 4 did with a word-at-a-time chain). MurmurHash3's fmix64 then spreads the sum over every
/// bit, as the hash tables use both the low bits (bucket) and the top 7 (tag).
#[inline]
pub fn hash_words(words: &[u64]) -> u64 {
    let mut h = words.len() as u64;
    let mut pairs = words.chunks_exact(2);
    for (i, p) in pairs.by_ref().enumerate() {
        let k = 2 * i;
        h = h.wrapping_add(folded_multiply(
            p[0] ^ HASH_KEYS[k % KEY_WORDS],
            p[1] ^ HASH_KEYS[(k + 1) % KEY_WORDS],
        ));
    }
    if let [last] = pairs.remainder() {
        let k = words.len() - 1;
        h = h.wrapping_add(folded_multiply(
            last ^ HASH_KEYS[k % KEY_WORDS],
            HASH_KEYS[(k + 1) % KEY_WORDS],
        ));
    }
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

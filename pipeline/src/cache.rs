//! The per-worker flow cache: flow key → the translation the tables gave it.
//!
//! An exact-match cache (OVS's EMC): a fixed array of slots, two candidate slots per key hash.
//! A hit replays the cached [`Translation`] without touching the tables. Each slot counts the
//! packets and bytes it served; [`FlowCache::flush`] credits them to the rules the translation
//! hit (and the tables it visited), so per-packet work stays in the worker's own memory.
//!
//! Invalidation is exact with respect to the tables: every slot records the tables'
//! generation, and any flow or port change publishes a new generation, after which older
//! slots are misses. The cache holds no locks and allocates only when a miss is inserted.

use std::sync::Arc;

use crate::key::FlowKey;
use crate::stats::TableCounters;
use crate::translate::Translation;

/// Default number of slots (a power of two).
pub const DEFAULT_CACHE_SLOTS: usize = 8192;

#[derive(Debug, Default)]
struct Slot {
    generation: u64,
    hash: u64,
    key: FlowKey,
    entry: Option<Arc<Translation>>,
    packets: u64,
    bytes: u64,
}

/// One worker's flow cache.
#[derive(Debug)]
pub struct FlowCache {
    slots: Box<[Slot]>,
    mask: usize,
    /// Generation the valid slots belong to (0 = nothing is valid).
    generation: u64,
    /// Slots with uncredited counters.
    dirty: Vec<u32>,
}

impl FlowCache {
    /// A cache with `slots` slots (rounded up to a power of two, at least 2).
    pub fn new(slots: usize) -> Self {
        let n = slots.max(2).next_power_of_two();
        FlowCache {
            slots: (0..n).map(|_| Slot::default()).collect(),
            mask: n - 1,
            generation: 0,
            dirty: Vec::with_capacity(n),
        }
    }

    /// Makes every slot stale unless it belongs to `generation`. Counters are flushed first.
    #[inline]
    pub fn set_generation(&mut self, generation: u64, tables: &[TableCounters], now_ms: u64) {
        if generation != self.generation {
            self.flush(tables, now_ms);
            self.generation = generation;
        }
    }

    /// The slot index holding `key`, if cached.
    #[inline]
    pub fn find(&self, key: &FlowKey, hash: u64) -> Option<usize> {
        let a = hash as usize & self.mask;
        let b = a ^ 1;
        [a, b].into_iter().find(|&i| {
            let s = &self.slots[i];
            s.generation == self.generation && s.hash == hash && s.entry.is_some() && s.key == *key
        })
    }

    /// Whether slot `i` holds `key` (checked without its hash: for the slot a previous
    /// packet of the batch used, where consecutive packets of one flow find it again).
    #[inline]
    pub fn holds(&self, i: usize, key: &FlowKey) -> bool {
        self.slots
            .get(i)
            .is_some_and(|s| s.generation == self.generation && s.entry.is_some() && s.key == *key)
    }

    /// The translation in slot `i`.
    #[inline]
    pub fn entry(&self, i: usize) -> Option<&Arc<Translation>> {
        self.slots.get(i).and_then(|s| s.entry.as_ref())
    }

    /// Counts one packet of `bytes` bytes served by slot `i`.
    #[inline]
    pub fn credit(&mut self, i: usize, bytes: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if s.packets == 0 {
                self.dirty.push(i as u32);
            }
            s.packets += 1;
            s.bytes += bytes as u64;
        }
    }

    /// Caches `entry` for `key`, evicting (after crediting) what was there. Returns the slot.
    pub fn insert(
        &mut self,
        key: FlowKey,
        hash: u64,
        entry: Arc<Translation>,
        tables: &[TableCounters],
        now_ms: u64,
    ) -> usize {
        let a = hash as usize & self.mask;
        let b = a ^ 1;
        let stale = |s: &Slot| s.generation != self.generation || s.entry.is_none();
        let i = if stale(&self.slots[a]) {
            a
        } else if stale(&self.slots[b]) {
            b
        } else if self.slots[a].packets <= self.slots[b].packets {
            a
        } else {
            b
        };
        credit_slot(&mut self.slots[i], tables, now_ms);
        self.slots[i] = Slot {
            generation: self.generation,
            hash,
            key,
            entry: Some(entry),
            packets: 0,
            bytes: 0,
        };
        i
    }

    /// Credits every slot's counters to its rules and tables.
    pub fn flush(&mut self, tables: &[TableCounters], now_ms: u64) {
        for i in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.slots.get_mut(i as usize) {
                credit_slot(s, tables, now_ms);
            }
        }
    }
}

fn credit_slot(s: &mut Slot, tables: &[TableCounters], now_ms: u64) {
    use std::sync::atomic::Ordering;
    if s.packets == 0 {
        return;
    }
    if let Some(t) = &s.entry {
        for v in &t.visits {
            if let Some(c) = tables.get(usize::from(v.table)) {
                c.lookups.fetch_add(s.packets, Ordering::Relaxed);
                if v.rule.is_some() {
                    c.matched.fetch_add(s.packets, Ordering::Relaxed);
                }
            }
            if let Some(r) = &v.rule {
                r.counters.credit(s.packets, s.bytes, now_ms);
            }
        }
    }
    s.packets = 0;
    s.bytes = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;

    #[test]
    fn hit_miss_and_generation_invalidation() {
        let tables: Vec<TableCounters> = (0..255).map(|_| TableCounters::default()).collect();
        let mut c = FlowCache::new(16);
        c.set_generation(1, &tables, 0);
        let mut k = FlowKey::default();
        k.set(Field::InPort, 3);
        let h = k.hash64();
        assert_eq!(c.find(&k, h), None);
        let i = c.insert(k, h, Arc::new(Translation::default()), &tables, 0);
        assert_eq!(c.find(&k, h), Some(i));
        assert!(c.holds(i, &k));
        let mut other = k;
        other.set(Field::InPort, 4);
        assert!(!c.holds(i, &other), "another key is not held");
        assert!(!c.holds(i ^ 1, &k), "nor is the key in the slot next to it");
        c.set_generation(2, &tables, 0);
        assert_eq!(c.find(&k, h), None, "a new generation invalidates");
        assert!(!c.holds(i, &k), "a new generation invalidates the slot");
    }
}

//! One flow table's classifier: finds the highest-priority rule that matches a flow key.
//!
//! ## What
//! A [`Classifier`] holds the rules of one OpenFlow table. [`Classifier::lookup`] returns the
//! matching rule with the highest priority. Which of two overlapping rules of equal priority
//! wins is undefined, as in OpenFlow (`check_overlap` lets a controller forbid them).
//!
//! ## Design: tuple space search
//! Rules are grouped by their *shape*, the set of bits they match (the mask). Each group is a
//! [`Subtable`]: a hash table from the masked key words to the rules with those values. A
//! lookup masks the packet's key once per subtable and probes its hash table, so its cost
//! grows with the number of distinct masks, not the number of rules. This is the design of
//! Open vSwitch's `lib/classifier.c`.
//!
//! ## Priority pruning
//! Each subtable knows the highest priority among its rules. Subtables are kept sorted by it,
//! and a lookup stops as soon as the next subtable cannot beat the best match found so far.
//! With the Dragonflow tables (a few masks per table, priorities grouped by mask) most lookups
//! probe one or two subtables.
//!
//! ## Storage
//! A subtable stores only `Arc<Rule>` pointers in a `hashbrown::HashTable`; the key words live
//! in the rule itself, with a 32-bit hash of them ([`Rule::key_hash`]) that growing the table
//! rehashes from and that a probe compares before the words. Several rules with the same
//! masked value (different priorities) are separate entries found through the same hash.
//!
//! ## Concurrency
//! A classifier is a plain single-threaded structure. Concurrency comes from the layer above:
//! [`tables`](crate::tables) keeps two copies and lets packet workers read one while the
//! control path changes the other, so a lookup never waits for a flow change.

use std::collections::BTreeMap;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::key::{FlowKey, KEY_WORDS, hash_words};

/// The table hash of key words whose 32-bit hash is `h`: the bucket comes from the low bits,
/// hashbrown's 7-bit tag from the top ones, so both get hash bits.
#[inline]
fn table_hash(h: u32) -> u64 {
    u64::from(h) | (u64::from(h) << 32)
}

/// The 32-bit hash of key words, as [`Rule::key_hash`] stores it.
#[inline]
fn words_hash(words: &[u64]) -> u32 {
    hash_words(words) as u32
}
use crate::rule::{MatchShape, Rule};

/// Rules sharing one mask.
#[derive(Debug, Clone)]
pub struct Subtable {
    shape_mask: FlowKey,
    words: Box<[u8]>,
    rules: HashTable<Arc<Rule>>,
    /// How many rules have each priority (to know the maximum after removals).
    priorities: BTreeMap<u16, u32>,
}

impl Subtable {
    fn new(shape: &MatchShape) -> Self {
        Subtable {
            shape_mask: shape.mask,
            words: shape.words.clone(),
            rules: HashTable::new(),
            priorities: BTreeMap::new(),
        }
    }

    fn max_priority(&self) -> u16 {
        self.priorities.last_key_value().map_or(0, |(p, _)| *p)
    }

    #[inline]
    fn masked_words<'a>(&self, key: &FlowKey, buf: &'a mut [u64; KEY_WORDS]) -> &'a [u64] {
        for (i, &w) in self.words.iter().enumerate() {
            let w = usize::from(w);
            buf[i] = key.words[w] & self.shape_mask.words[w];
        }
        &buf[..self.words.len()]
    }

    #[inline]
    fn best(&self, words: &[u64]) -> Option<&Arc<Rule>> {
        let h = words_hash(words);
        let mut best: Option<&Arc<Rule>> = None;
        for r in self.rules.iter_hash(table_hash(h)) {
            if r.key_hash == h && r.key_is(words) && best.is_none_or(|b| r.priority > b.priority) {
                best = Some(r);
            }
        }
        best
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the subtable holds no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The rules of one table, grouped by mask.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    /// Sorted by descending maximum priority.
    subtables: Vec<Subtable>,
    len: usize,
}

impl Classifier {
    /// An empty table, usable in constants.
    pub const EMPTY: Classifier = Classifier {
        subtables: Vec::new(),
        len: 0,
    };

    /// An empty table.
    pub fn new() -> Self {
        Classifier::default()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds no rule.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct masks.
    pub fn subtable_count(&self) -> usize {
        self.subtables.len()
    }

    /// The highest-priority rule matching `key`.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<&Arc<Rule>> {
        let mut buf = [0u64; KEY_WORDS];
        let mut best: Option<&Arc<Rule>> = None;
        for st in &self.subtables {
            if best.is_some_and(|b| b.priority >= st.max_priority()) {
                break;
            }
            let words = st.masked_words(key, &mut buf);
            if let Some(r) = st.best(words)
                && best.is_none_or(|b| r.priority > b.priority)
            {
                best = Some(r);
            }
        }
        best
    }

    /// The rule with exactly this shape, key words and priority (OpenFlow's strict identity).
    pub fn find_exact(&self, shape: &MatchShape, key: &[u64], priority: u16) -> Option<&Arc<Rule>> {
        let st = self.subtables.iter().find(|s| s.shape_mask == shape.mask)?;
        let h = words_hash(key);
        st.rules
            .iter_hash(table_hash(h))
            .find(|r| r.key_hash == h && r.priority == priority && r.key_is(key))
    }

    /// Adds a rule. The caller has already removed any rule it replaces.
    pub fn insert(&mut self, rule: Arc<Rule>) {
        let pos = match self
            .subtables
            .iter()
            .position(|s| s.shape_mask == rule.shape.mask)
        {
            Some(p) => p,
            None => {
                self.subtables.push(Subtable::new(&rule.shape));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[pos];
        *st.priorities.entry(rule.priority).or_insert(0) += 1;
        let hash = table_hash(rule.key_hash);
        st.rules
            .insert_unique(hash, rule, |r| table_hash(r.key_hash));
        self.len += 1;
        self.resort();
    }

    /// Removes this rule (by identity). Returns whether it was present.
    pub fn remove(&mut self, rule: &Arc<Rule>) -> bool {
        let Some(pos) = self
            .subtables
            .iter()
            .position(|s| s.shape_mask == rule.shape.mask)
        else {
            return false;
        };
        let st = &mut self.subtables[pos];
        let hash = table_hash(rule.key_hash);
        let Ok(entry) = st.rules.find_entry(hash, |r| Arc::ptr_eq(r, rule)) else {
            return false;
        };
        entry.remove();
        if let Some(n) = st.priorities.get_mut(&rule.priority) {
            *n -= 1;
            if *n == 0 {
                st.priorities.remove(&rule.priority);
            }
        }
        if st.is_empty() {
            self.subtables.remove(pos);
        }
        self.len -= 1;
        self.resort();
        true
    }

    fn resort(&mut self) {
        // Insertion sort: almost always already sorted, so this is a single pass.
        for i in 1..self.subtables.len() {
            let mut j = i;
            while j > 0 && self.subtables[j - 1].max_priority() < self.subtables[j].max_priority() {
                self.subtables.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// Every rule, in no particular order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.subtables.iter().flat_map(|s| s.rules.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;
    use crate::flow::FlowSpec;
    use crate::flow_match::Match;

    fn rule(priority: u16, m: Match) -> Arc<Rule> {
        let spec = FlowSpec {
            priority,
            matching: m.clone(),
            ..FlowSpec::default()
        };
        Arc::new(Rule::new(
            &spec,
            Arc::new(MatchShape::of(&m)),
            Arc::new(Vec::new()),
            0,
        ))
    }

    fn key(in_port: u128, metadata: u128) -> FlowKey {
        let mut k = FlowKey::default();
        k.set(Field::InPort, in_port);
        k.set(Field::Metadata, metadata);
        k
    }

    #[test]
    fn highest_priority_wins_across_masks() {
        let mut c = Classifier::new();
        let low = rule(1, Match::new());
        let mid = rule(100, Match::new().exact(Field::Metadata, 7).unwrap());
        let high = rule(1000, Match::new().exact(Field::InPort, 3).unwrap());
        for r in [&low, &mid, &high] {
            c.insert(r.clone());
        }
        assert!(Arc::ptr_eq(c.lookup(&key(3, 7)).unwrap(), &high));
        assert!(Arc::ptr_eq(c.lookup(&key(4, 7)).unwrap(), &mid));
        assert!(Arc::ptr_eq(c.lookup(&key(4, 8)).unwrap(), &low));
        assert!(c.remove(&high));
        assert!(Arc::ptr_eq(c.lookup(&key(3, 7)).unwrap(), &mid));
        assert!(!c.remove(&high), "second removal finds nothing");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn same_value_different_priority_in_one_subtable() {
        let mut c = Classifier::new();
        let m = Match::new().exact(Field::InPort, 3).unwrap();
        let a = rule(10, m.clone());
        let b = rule(20, m.clone());
        c.insert(a.clone());
        c.insert(b.clone());
        assert_eq!(c.subtable_count(), 1);
        assert!(Arc::ptr_eq(c.lookup(&key(3, 0)).unwrap(), &b));
        c.remove(&b);
        assert!(Arc::ptr_eq(c.lookup(&key(3, 0)).unwrap(), &a));
        let shape = MatchShape::of(&m);
        assert!(c.find_exact(&shape, &a.key, 10).is_some());
        assert!(c.find_exact(&shape, &a.key, 20).is_none());
    }

    #[test]
    fn empty_subtables_are_dropped_and_miss_is_none() {
        let mut c = Classifier::new();
        let r = rule(5, Match::new().exact(Field::InPort, 1).unwrap());
        c.insert(r.clone());
        c.remove(&r);
        assert_eq!(c.subtable_count(), 0);
        assert!(c.lookup(&key(1, 0)).is_none());
    }

    proptest::proptest! {
        /// The classifier agrees with a linear scan over the same rules.
        #[test]
        fn agrees_with_linear_scan(
            rules in proptest::collection::vec((0u16..50, 0u128..4, 0u128..4, proptest::bool::ANY, proptest::bool::ANY), 1..40),
            probes in proptest::collection::vec((0u128..4, 0u128..4), 1..20),
        ) {
            let mut c = Classifier::new();
            let mut all = Vec::new();
            for (prio, port, md, use_port, use_md) in rules {
                let mut m = Match::new();
                if use_port { m.push(Field::InPort, port, Field::InPort.full_mask()).unwrap(); }
                if use_md { m.push(Field::Metadata, md, 0xffff).unwrap(); }
                let r = rule(prio, m);
                c.insert(r.clone());
                all.push(r);
            }
            for (port, md) in probes {
                let k = key(port, md);
                let want = all.iter().filter(|r| r.matching().matches(&k)).map(|r| r.priority).max();
                proptest::prop_assert_eq!(c.lookup(&k).map(|r| r.priority), want);
            }
        }
    }
}

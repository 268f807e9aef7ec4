//! An installed flow: its identity, its compact match, its instructions and its counters.
//!
//! Rules are shared (`Arc`) by both copies of the tables (see [`tables`](crate::tables)) and by
//! the flow caches of the packet workers. A rule never changes once built, except its
//! counters, which are atomics. An OpenFlow `modify` builds a new rule with the new
//! instructions that shares the old one's counters (and install time), and swaps it in with
//! the rest of its batch, so the change is atomic and the counters carry over.
//!
//! To keep a million flows cheap, a rule does not store its [`Match`] as given. It stores the
//! masked key words its subtable looks up, plus an interned [`MatchShape`] (the mask and the
//! order the fields were given in) shared by every rule of the same shape; [`Rule::matching`]
//! rebuilds the original match from the two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::action::{Instruction, PortNo, TableId};
use crate::field::Field;
use crate::flow::{FlowFlags, FlowSpec};
use crate::flow_match::Match;
use crate::key::{FlowKey, KEY_WORDS};

/// The mask of a match and the order its fields were given in.
///
/// Two shapes with the same mask but another field order are different shapes (each rule
/// gives its match back in its own order), but they select the same packets: OpenFlow's
/// identity of a flow (strict commands, an add replacing a flow) compares [`MatchShape::mask`]
/// only, through [`MatchShape::mask_hash`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MatchShape {
    /// The fields with their masks, in the order given.
    pub fields: Box<[(Field, u128)]>,
    /// The mask as a flow key.
    pub mask: FlowKey,
    /// Indices of the key words the mask touches, ascending.
    pub words: Box<[u8]>,
    /// `key::hash_words` of the mask's words: equal for shapes with equal masks.
    pub mask_hash: u64,
}

impl MatchShape {
    /// The shape of `m`.
    pub fn of(m: &Match) -> Self {
        let mask = m.to_masked_key().mask;
        let words = (0..KEY_WORDS)
            .filter(|&n| mask.words[n] != 0)
            .map(|n| n as u8)
            .collect();
        MatchShape {
            fields: m.fields().iter().map(|f| (f.field, f.mask)).collect(),
            mask_hash: crate::key::hash_words(&mask.words),
            mask,
            words,
        }
    }

    /// The key words of `value` this shape looks at, one per [`MatchShape::words`].
    pub fn key_words(&self, value: &FlowKey) -> Box<[u64]> {
        self.words
            .iter()
            .map(|&w| value.words[usize::from(w)])
            .collect()
    }

    /// True when both shapes match the same bits (the field order aside).
    #[inline]
    pub fn same_mask(&self, other: &MatchShape) -> bool {
        std::ptr::eq(self, other) || (self.mask_hash == other.mask_hash && self.mask == other.mask)
    }
}

/// Packet and byte counters plus the last time a packet hit the rule.
#[derive(Debug, Default)]
pub struct RuleCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// Milliseconds since the pipeline's epoch.
    pub last_used_ms: AtomicU64,
}

impl RuleCounters {
    /// Credits `packets`/`bytes` used at `now_ms`.
    #[inline]
    pub fn credit(&self, packets: u64, bytes: u64, now_ms: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.last_used_ms.fetch_max(now_ms, Ordering::Relaxed);
    }
}

/// An installed flow.
#[derive(Debug)]
pub struct Rule {
    pub table: TableId,
    pub priority: u16,
    pub flags: FlowFlags,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// `key::hash_words(&key)`, truncated: the classifier's hash tables rehash and compare
    /// from it without reaching into `key` (a second cache miss per rule). It fits in the
    /// struct's padding, so it costs no memory.
    pub key_hash: u32,
    pub cookie: u64,
    /// The masked key words, one per `shape.words`.
    pub key: Box<[u64]>,
    pub shape: Arc<MatchShape>,
    instructions: Arc<Vec<Instruction>>,
    /// Install time, milliseconds since the pipeline's epoch.
    pub created_ms: u64,
    pub counters: Arc<RuleCounters>,
}

impl Rule {
    /// A rule for `spec`, sharing `shape` and `instructions` with others of the same kind.
    pub fn new(
        spec: &FlowSpec,
        shape: Arc<MatchShape>,
        instructions: Arc<Vec<Instruction>>,
        now_ms: u64,
    ) -> Self {
        let key = shape.key_words(&spec.matching.to_masked_key().value);
        Rule {
            key_hash: crate::key::hash_words(&key) as u32,
            table: spec.table,
            priority: spec.priority,
            flags: spec.flags,
            idle_timeout: spec.idle_timeout,
            hard_timeout: spec.hard_timeout,
            cookie: spec.cookie,
            key,
            shape,
            instructions,
            created_ms: now_ms,
            counters: Arc::new(RuleCounters {
                last_used_ms: AtomicU64::new(now_ms),
                ..RuleCounters::default()
            }),
        }
    }

    /// The instructions.
    #[inline]
    pub fn instructions(&self) -> &Arc<Vec<Instruction>> {
        &self.instructions
    }

    /// The same rule with other instructions (OpenFlow modify): it shares this rule's counters
    /// and install time; with `reset_counts`, it has counters of its own that start at zero
    /// (this rule's stay as they are until the new one replaces it: a batch that fails
    /// changes nothing).
    pub fn with_instructions(
        &self,
        instructions: Arc<Vec<Instruction>>,
        reset_counts: bool,
    ) -> Rule {
        let counters = if reset_counts {
            Arc::new(RuleCounters {
                last_used_ms: AtomicU64::new(self.counters.last_used_ms.load(Ordering::Relaxed)),
                ..RuleCounters::default()
            })
        } else {
            self.counters.clone()
        };
        Rule {
            table: self.table,
            priority: self.priority,
            flags: self.flags,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            key_hash: self.key_hash,
            cookie: self.cookie,
            key: self.key.clone(),
            shape: self.shape.clone(),
            instructions,
            created_ms: self.created_ms,
            counters,
        }
    }

    /// The rule's match as value and mask keys.
    pub fn masked_key(&self) -> crate::flow_match::MaskedKey {
        let mut value = FlowKey::default();
        for (i, &w) in self.shape.words.iter().enumerate() {
            value.words[usize::from(w)] = self.key[i];
        }
        crate::flow_match::MaskedKey {
            value,
            mask: self.shape.mask,
        }
    }

    /// The match as it was given.
    pub fn matching(&self) -> Match {
        let value = self.masked_key().value;
        let mut m = Match::new();
        for &(field, mask) in self.shape.fields.iter() {
            // The stored words were checked when the rule was built; a failure here would mean
            // a corrupted shape, so it is skipped rather than trusted.
            let _ = m.push(field, value.get(field) & mask, mask);
        }
        m
    }

    /// The flow as a spec (match rebuilt, current instructions).
    pub fn spec(&self) -> FlowSpec {
        FlowSpec {
            table: self.table,
            priority: self.priority,
            cookie: self.cookie,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            matching: self.matching(),
            instructions: self.instructions().as_ref().clone(),
        }
    }

    /// True when the rule's key words equal `words`.
    #[inline]
    pub fn key_is(&self, words: &[u64]) -> bool {
        // Word by word, inline: the slice comparison calls `memcmp`, whose call costs more
        // than comparing the handful of words a key has.
        self.key.len() == words.len() && self.key.iter().zip(words).all(|(a, b)| a == b)
    }

    /// True when an apply or write action outputs to `port` (OpenFlow's `out_port` filter).
    pub fn outputs_to(&self, port: PortNo) -> bool {
        use crate::action::Action;
        self.instructions().iter().any(|inst| match inst {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a
                .iter()
                .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port)),
            _ => false,
        })
    }
}

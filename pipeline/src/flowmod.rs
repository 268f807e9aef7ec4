//! Flow-table changes, applied as OpenFlow 1.3 §6.4 defines them, a batch at a time.
//!
//! [`FlowEditor`] owns the write side of the tables. [`FlowEditor::apply`] takes a batch of
//! flow mods (one OpenFlow message, a bundle, or a list from the built-in controller) and
//! either applies all of them in one publish or none of them, returning which one failed and
//! why. While planning, each mod sees the published tables plus what earlier mods of the same
//! batch staged, so `add` then `delete` of the same flow in one bundle behaves as in sequence.
//!
//! - `add`: replaces a rule with the same match and priority (counters start over); with
//!   `check_overlap`, a new rule is refused if a rule of the same priority could match the
//!   same packet (a replacing add is not checked, as in Open vSwitch).
//! - `modify` / `modify_strict`: new instructions for the selected rules; counters and
//!   duration stay unless `reset_counts`.
//! - `delete` / `delete_strict`: removes the selected rules, reporting those that asked for
//!   `send_flow_rem`.
//!
//! Non-strict commands select every rule whose match is at least as specific as the request's;
//! strict ones the rule with exactly that match and priority. Both filter by cookie/mask, and
//! deletes by `out_port`. Idle and hard timeouts are enforced by [`FlowEditor::expire`].

use std::sync::Arc;

use hashbrown::{HashMap, HashSet, HashTable};
use thiserror::Error;

use crate::action::{
    ALL_TABLES, Action, Instruction, InstructionError, N_TABLES, PortNo, TableId,
    validate_instructions,
};
use crate::field::Field;
use crate::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec, FlowStats};
use crate::flow_match::{MaskedKey, Match, MatchError};
use crate::rule::{MatchShape, Rule};
use crate::tables::{PipelinePort, TableOp, Tables, TablesWriter};

/// Why a flow mod was refused (each maps to an OpenFlow 1.3 error).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FlowModError {
    /// The table does not exist, or `all tables` was used where one is required.
    #[error("table {0} is not valid here (tables are 0..=253; 255 only for delete)")]
    BadTable(TableId),
    /// The match is not acceptable.
    #[error("bad match: {0}")]
    BadMatch(#[from] MatchError),
    /// The instructions are not acceptable.
    #[error("bad instructions: {0}")]
    BadInstructions(#[from] InstructionError),
    /// `check_overlap` found a rule of the same priority that overlaps.
    #[error("check_overlap: an overlapping flow with priority {0} exists")]
    Overlap(u16),
    /// The table holds as many flows as it may.
    #[error("table {table} is full ({limit} flows)")]
    TableFull { table: TableId, limit: usize },
}

/// A batch failed: nothing of it was applied.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("flow mod #{index} of the batch: {error}")]
pub struct BatchError {
    /// Position of the failing mod in the batch.
    pub index: usize,
    pub error: FlowModError,
}

/// A batch read from a source that can fail (see [`FlowEditor::apply_from`]) failed: nothing
/// of it was applied.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SourcedBatchError<E> {
    /// The source could not produce mod #`index`.
    #[error("flow mod #{index} of the batch could not be read: {error}")]
    Source { index: usize, error: E },
    /// A mod was refused.
    #[error(transparent)]
    Refused(#[from] BatchError),
}

/// Why a flow left its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedReason {
    IdleTimeout,
    HardTimeout,
    Delete,
}

/// A removed flow that asked for `send_flow_rem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRemoved {
    pub reason: RemovedReason,
    pub stats: FlowStats,
}

/// Which flows a stats request or a non-strict change selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFilter {
    /// A table, or [`ALL_TABLES`].
    pub table: TableId,
    pub matching: Match,
    pub cookie: u64,
    pub cookie_mask: u64,
    /// Only flows that output to this port ([`PortNo::ANY`] for all).
    pub out_port: PortNo,
}

impl Default for FlowFilter {
    fn default() -> Self {
        FlowFilter {
            table: ALL_TABLES,
            matching: Match::new(),
            cookie: 0,
            cookie_mask: 0,
            out_port: PortNo::ANY,
        }
    }
}

impl FlowFilter {
    /// The published rules this filter selects, table by table, in no order within a table.
    fn select_from<'a>(&'a self, tables: &'a Tables) -> impl Iterator<Item = &'a Arc<Rule>> + 'a {
        let fk = self.matching.to_masked_key();
        tables
            .iter()
            .filter(|(t, _)| self.table == ALL_TABLES || self.table == *t)
            .flat_map(|(_, c)| c.rules())
            .filter(move |r| self.selects(r, &fk))
    }

    fn selects(&self, rule: &Rule, filter_key: &MaskedKey) -> bool {
        (self.table == ALL_TABLES || self.table == rule.table)
            && (rule.cookie & self.cookie_mask) == (self.cookie & self.cookie_mask)
            && covers(filter_key, &rule.masked_key())
            && (self.out_port == PortNo::ANY || rule.outputs_to(self.out_port))
    }
}

/// True when every packet `rule` matches is also matched by `filter`.
fn covers(filter: &MaskedKey, rule: &MaskedKey) -> bool {
    filter
        .mask
        .words
        .iter()
        .zip(rule.mask.words.iter())
        .zip(filter.value.words.iter().zip(rule.value.words.iter()))
        .all(|((fm, rm), (fv, rv))| fm & !rm == 0 && (fv ^ rv) & fm == 0)
}

/// True when some packet could match both.
fn overlaps(a: &MaskedKey, b: &MaskedKey) -> bool {
    (0..a.mask.words.len())
        .all(|n| (a.value.words[n] ^ b.value.words[n]) & a.mask.words[n] & b.mask.words[n] == 0)
}

/// Limits the editor enforces.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Flows per table before `TABLE_FULL`.
    pub max_flows_per_table: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_flows_per_table: 4_000_000,
        }
    }
}

/// The write side of the tables.
#[derive(Debug)]
pub struct FlowEditor {
    tables: TablesWriter,
    interner: Interner,
    ports: Vec<PipelinePort>,
    limits: FlowLimits,
}

/// Shares match shapes and instruction lists between rules that have the same ones.
///
/// Lookups hash the match's (field, mask) list and the instruction slice as given, so a hit
/// (the common case: a million flows, a few shapes and action lists) allocates nothing.
#[derive(Default)]
struct Interner {
    hasher: hashbrown::DefaultHashBuilder,
    shapes: HashTable<Arc<MatchShape>>,
    instruction_lists: HashTable<Arc<Vec<Instruction>>>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("shapes", &self.shapes.len())
            .field("instruction_lists", &self.instruction_lists.len())
            .finish()
    }
}

impl Interner {
    fn shape_hash(&self, fields: impl Iterator<Item = (Field, u128)>) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.hasher.build_hasher();
        for (field, mask) in fields {
            field.hash(&mut h);
            mask.hash(&mut h);
        }
        h.finish()
    }

    fn shape(&mut self, m: &Match) -> Arc<MatchShape> {
        let fields = || m.fields().iter().map(|f| (f.field, f.mask));
        let hash = self.shape_hash(fields());
        let same = |s: &Arc<MatchShape>| s.fields.iter().copied().eq(fields());
        if let Some(s) = self.shapes.find(hash, same) {
            return s.clone();
        }
        let s = Arc::new(MatchShape::of(m));
        let hasher = &self.hasher;
        let rehash = |s: &Arc<MatchShape>| {
            use std::hash::{BuildHasher, Hash, Hasher};
            let mut h = hasher.build_hasher();
            for (field, mask) in s.fields.iter() {
                field.hash(&mut h);
                mask.hash(&mut h);
            }
            h.finish()
        };
        self.shapes.insert_unique(hash, s.clone(), rehash);
        s
    }

    fn instructions(&mut self, insts: &[Instruction]) -> Arc<Vec<Instruction>> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(insts);
        if let Some(s) = self.instruction_lists.find(hash, |s| s.as_slice() == insts) {
            return s.clone();
        }
        let s = Arc::new(insts.to_vec());
        let hasher = &self.hasher;
        self.instruction_lists
            .insert_unique(hash, s.clone(), |s| hasher.hash_one(s.as_slice()));
        s
    }

    /// Forgets entries no rule uses any more.
    fn purge(&mut self) {
        self.shapes.retain(|s| Arc::strong_count(s) > 1);
        self.instruction_lists.retain(|s| Arc::strong_count(s) > 1);
    }
}

/// What a batch has changed so far, before it is published.
#[derive(Default)]
struct Staged {
    ops: Vec<TableOp>,
    /// Rules added by this batch, found by their identity (table, priority, shape, key
    /// words; see [`identity_hash`]), each with that hash: a bundle of 100,000 flows grows
    /// the table many times, and rehashing from the rules cost as much as planning them.
    added: HashTable<(u64, Arc<Rule>)>,
    /// Published rules this batch removed (by address).
    removed: HashSet<usize>,
    /// Net change of rule count per table.
    delta: HashMap<TableId, isize>,
    /// Removed rules that asked for `send_flow_rem` (reported when the batch is applied).
    events: Vec<Arc<Rule>>,
}

/// The hash of a rule's identity within its table: table, priority, mask and key words.
///
/// The mask enters through [`MatchShape::mask_hash`], not the interned shape's address: two
/// shapes that differ only in field order are one identity (OpenFlow compares matches, not
/// the order they were written in).
fn identity_hash(table: TableId, priority: u16, shape: &MatchShape, key: &[u64]) -> u64 {
    let salt = (u64::from(table) << 16 | u64::from(priority)) ^ shape.mask_hash.rotate_left(24);
    crate::key::hash_words(key) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn same_identity(a: &Rule, table: TableId, priority: u16, shape: &MatchShape, key: &[u64]) -> bool {
    a.table == table && a.priority == priority && a.shape.same_mask(shape) && a.key_is(key)
}

fn rule_identity_hash(r: &Rule) -> u64 {
    identity_hash(r.table, r.priority, &r.shape, &r.key)
}

impl Staged {
    /// The rule this batch sees with exactly this identity: one it added, else a published
    /// one it did not remove. A hash lookup in each, whatever the size of the table.
    fn exact(
        &self,
        tables: &Tables,
        table: TableId,
        priority: u16,
        shape: &MatchShape,
        key: &[u64],
    ) -> Option<Arc<Rule>> {
        let hash = identity_hash(table, priority, shape, key);
        if let Some((_, r)) = self
            .added
            .find(hash, |(_, a)| same_identity(a, table, priority, shape, key))
        {
            return Some(r.clone());
        }
        tables
            .table(table)
            .find_exact(shape, key, priority)
            .filter(|r| !self.removed.contains(&rule_addr(r)))
            .cloned()
    }
}

fn rule_addr(r: &Arc<Rule>) -> usize {
    Arc::as_ptr(r) as usize
}

impl Staged {
    fn remove(&mut self, rule: &Arc<Rule>) {
        let hash = rule_identity_hash(rule);
        let same = |(_, a): &(u64, Arc<Rule>)| {
            same_identity(a, rule.table, rule.priority, &rule.shape, &rule.key)
        };
        match self.added.find_entry(hash, same) {
            Ok(entry) => {
                entry.remove();
            }
            Err(_) => {
                self.removed.insert(rule_addr(rule));
            }
        }
        *self.delta.entry(rule.table).or_default() -= 1;
        self.ops.push(TableOp::Remove(rule.clone()));
    }

    fn insert(&mut self, rule: Arc<Rule>) {
        *self.delta.entry(rule.table).or_default() += 1;
        let hash = rule_identity_hash(&rule);
        let same = |(_, a): &(u64, Arc<Rule>)| {
            same_identity(a, rule.table, rule.priority, &rule.shape, &rule.key)
        };
        match self.added.find_mut(hash, same) {
            Some(slot) => slot.1 = rule.clone(),
            None => {
                self.added
                    .insert_unique(hash, (hash, rule.clone()), |(h, _)| *h);
            }
        }
        self.ops.push(TableOp::Insert(rule));
    }

    /// The rules of `tables` as this batch sees them: published minus removed plus added.
    fn visible<'a>(
        &'a self,
        tables: &'a Tables,
        table: TableId,
    ) -> impl Iterator<Item = &'a Arc<Rule>> + 'a {
        let published: Box<dyn Iterator<Item = (TableId, &Arc<Rule>)> + 'a> = if table == ALL_TABLES
        {
            Box::new(
                tables
                    .iter()
                    .flat_map(|(t, c)| c.rules().map(move |r| (t, r))),
            )
        } else {
            Box::new(tables.table(table).rules().map(move |r| (table, r)))
        };
        published
            .map(|(_, r)| r)
            .filter(|r| !self.removed.contains(&rule_addr(r)))
            .chain(
                self.added
                    .iter()
                    .map(|(_, r)| r)
                    .filter(move |r| table == ALL_TABLES || r.table == table),
            )
    }
}

impl FlowEditor {
    /// An editor over `tables`.
    pub fn new(tables: TablesWriter, limits: FlowLimits) -> Self {
        FlowEditor {
            tables,
            interner: Interner::default(),
            ports: Vec::new(),
            limits,
        }
    }

    /// Applies a whole batch, or nothing of it. Returns the flows removed that asked to be
    /// reported.
    pub fn apply(&mut self, mods: &[FlowMod], now_ms: u64) -> Result<Vec<FlowRemoved>, BatchError> {
        let all = mods.iter().map(Ok::<_, std::convert::Infallible>);
        self.apply_from(all, now_ms).map_err(|e| match e {
            SourcedBatchError::Refused(e) => e,
            SourcedBatchError::Source { error, .. } => match error {},
        })
    }

    /// Applies a batch whose mods are produced one at a time (each is planned, then dropped,
    /// before the next is made: a bundle decoded as it is applied holds one decoded mod at a
    /// time), or nothing of it: a mod the source fails to produce fails the batch too.
    pub fn apply_from<M, E>(
        &mut self,
        mods: impl IntoIterator<Item = Result<M, E>>,
        now_ms: u64,
    ) -> Result<Vec<FlowRemoved>, SourcedBatchError<E>>
    where
        M: std::borrow::Borrow<FlowMod>,
    {
        let mut batch = self.begin();
        self.plan(&mut batch, mods);
        // Nothing can publish between the plan and the commit: nothing to plan again.
        self.commit(batch, now_ms, std::iter::empty::<Result<M, E>>)
    }

    /// A batch to be planned a part at a time ([`FlowEditor::plan`]) and applied whole
    /// ([`FlowEditor::commit`]), against the tables published now.
    pub fn begin<E>(&self) -> PendingBatch<E> {
        PendingBatch {
            staged: Staged::default(),
            generation: self.tables.generation(),
            planned: 0,
            state: Planning::Valid,
            table0_changed: false,
        }
    }

    /// Plans the next mods of `batch`. Their failure, if one fails, is kept for the commit,
    /// and nothing more is planned after it. If the tables were published since the batch
    /// began, its plan is dropped: the commit plans the batch again.
    pub fn plan<M, E>(
        &mut self,
        batch: &mut PendingBatch<E>,
        mods: impl IntoIterator<Item = Result<M, E>>,
    ) where
        M: std::borrow::Borrow<FlowMod>,
    {
        if batch.generation != self.tables.generation() {
            batch.state = Planning::Stale;
        }
        if !matches!(batch.state, Planning::Valid) {
            batch.staged = Staged::default();
            return;
        }
        let guard = self.tables.read();
        // Built only when nothing is published yet: 254 empty classifiers are not free.
        let empty;
        let tables: &Tables = match guard.as_deref() {
            Some(t) => t,
            None => {
                empty = Tables::default();
                &empty
            }
        };
        let mut planner = Planner {
            interner: &mut self.interner,
            limits: self.limits,
            tables,
        };
        for fm in mods {
            let index = batch.planned;
            batch.planned += 1;
            let planned = match fm {
                Err(error) => Err(SourcedBatchError::Source { index, error }),
                Ok(fm) => {
                    let fm = fm.borrow();
                    batch.table0_changed |= fm.spec.table == 0 || fm.spec.table == ALL_TABLES;
                    planner
                        .plan(fm, &mut batch.staged)
                        .map_err(|error| SourcedBatchError::Refused(BatchError { index, error }))
                }
            };
            if let Err(e) = planned {
                batch.state = Planning::Failed(e);
                batch.staged = Staged::default();
                return;
            }
        }
    }

    /// Applies `batch` in one publish, or nothing of it if one of its mods failed. If the
    /// tables were published since it began, the plan is stale: the batch is planned again,
    /// whole, from `replan` (its mods from the first), so it applies exactly as if it had
    /// been planned at once now.
    pub fn commit<M, E, I>(
        &mut self,
        batch: PendingBatch<E>,
        now_ms: u64,
        replan: impl FnOnce() -> I,
    ) -> Result<Vec<FlowRemoved>, SourcedBatchError<E>>
    where
        M: std::borrow::Borrow<FlowMod>,
        I: IntoIterator<Item = Result<M, E>>,
    {
        let mut batch = batch;
        if batch.generation != self.tables.generation() || matches!(batch.state, Planning::Stale) {
            batch = self.begin();
            self.plan(&mut batch, replan());
        }
        match batch.state {
            Planning::Valid => Ok(self.install(batch.staged, batch.table0_changed, now_ms)),
            Planning::Failed(e) => Err(e),
            Planning::Stale => unreachable!("a batch planned just now is not stale"),
        }
    }

    /// Publishes what a batch staged, its new rules installed at `now_ms`; returns the
    /// removed flows that asked to be reported.
    fn install(&mut self, staged: Staged, table0_changed: bool, now_ms: u64) -> Vec<FlowRemoved> {
        let Staged {
            ops, added, events, ..
        } = staged;
        // The batch's own references go, so each new rule has one owner left: its op.
        drop(added);
        let changed = !ops.is_empty();
        for mut op in ops {
            if let TableOp::Insert(rule) = &mut op {
                install_at(rule, now_ms);
            }
            self.tables.append(op);
        }
        if changed {
            self.tables.publish();
            if table0_changed {
                self.refresh_port_networks();
            }
        }
        events
            .iter()
            .map(|r| FlowRemoved {
                reason: RemovedReason::Delete,
                stats: stats_of(r, now_ms),
            })
            .collect()
    }
}

/// The install time of a rule planned but not applied yet.
const NOT_INSTALLED: u64 = u64::MAX;

/// Gives a rule its batch planned (and a modify of such a rule) its install time. A new rule
/// that a later mod of the same batch removed again is shared with that removal and stays
/// as it is: it is never installed.
fn install_at(rule: &mut Arc<Rule>, now_ms: u64) {
    use std::sync::atomic::Ordering;
    if rule.created_ms != NOT_INSTALLED {
        return;
    }
    let _ = rule.counters.last_used_ms.compare_exchange(
        NOT_INSTALLED,
        now_ms,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    if let Some(r) = Arc::get_mut(rule) {
        r.created_ms = now_ms;
    }
}

/// A batch planned a part at a time: an ONF bundle planned as its messages arrive, so that
/// the commit only publishes. See [`FlowEditor::begin`].
pub struct PendingBatch<E> {
    staged: Staged,
    /// The tables' generation the plan was made against.
    generation: u64,
    /// How many mods were planned (the next one's index).
    planned: usize,
    state: Planning<E>,
    table0_changed: bool,
}

impl<E> std::fmt::Debug for PendingBatch<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBatch")
            .field("generation", &self.generation)
            .field("planned", &self.planned)
            .finish_non_exhaustive()
    }
}

/// Where a [`PendingBatch`]'s plan stands.
enum Planning<E> {
    /// Every mod so far planned against the tables of its generation.
    Valid,
    /// A mod failed (nothing more is planned).
    Failed(SourcedBatchError<E>),
    /// The tables changed under the plan: the commit plans again.
    Stale,
}

/// Plans one batch against the published tables.
struct Planner<'a> {
    interner: &'a mut Interner,
    limits: FlowLimits,
    tables: &'a Tables,
}

impl Planner<'_> {
    fn plan(&mut self, fm: &FlowMod, staged: &mut Staged) -> Result<(), FlowModError> {
        let tables = self.tables;
        let spec = &fm.spec;
        let all_ok = matches!(
            fm.command,
            FlowModCommand::Delete | FlowModCommand::DeleteStrict
        );
        if spec.table >= N_TABLES && !(all_ok && spec.table == ALL_TABLES) {
            return Err(FlowModError::BadTable(spec.table));
        }
        spec.matching.validate()?;
        if !all_ok {
            check_targets(&spec.instructions)?;
        }
        match fm.command {
            FlowModCommand::Add => self.plan_add(spec, staged),
            FlowModCommand::Modify | FlowModCommand::ModifyStrict => {
                validate_instructions(spec.table, &spec.instructions)?;
                let insts = self.interner.instructions(&spec.instructions);
                let reset = spec.flags.has(FlowFlags::RESET_COUNTS);
                for old in select(tables, fm, staged) {
                    staged.remove(&old);
                    staged.insert(Arc::new(old.with_instructions(insts.clone(), reset)));
                }
                Ok(())
            }
            FlowModCommand::Delete | FlowModCommand::DeleteStrict => {
                for old in select(tables, fm, staged) {
                    staged.remove(&old);
                    if old.flags.has(FlowFlags::SEND_FLOW_REM) {
                        staged.events.push(old);
                    }
                }
                Ok(())
            }
        }
    }

    fn plan_add(&mut self, spec: &FlowSpec, staged: &mut Staged) -> Result<(), FlowModError> {
        let tables = self.tables;
        validate_instructions(spec.table, &spec.instructions)?;
        let shape = self.interner.shape(&spec.matching);
        let insts = self.interner.instructions(&spec.instructions);
        let rule = Arc::new(Rule::new(spec, shape, insts, NOT_INSTALLED));
        let existing = staged.exact(tables, spec.table, rule.priority, &rule.shape, &rule.key);
        if existing.is_none() && spec.flags.has(FlowFlags::CHECK_OVERLAP) {
            // A flow with the same identity is replaced without an overlap check, as Open
            // vSwitch does (`add_flow_init`): check_overlap guards new flows only.
            let mk = rule.masked_key();
            let clash = staged
                .visible(tables, spec.table)
                .any(|r| r.priority == rule.priority && overlaps(&mk, &r.masked_key()));
            if clash {
                return Err(FlowModError::Overlap(rule.priority));
            }
        }
        match existing {
            Some(old) => staged.remove(&old),
            None => {
                let now = tables.table(spec.table).len() as isize
                    + staged.delta.get(&spec.table).copied().unwrap_or(0);
                if now >= self.limits.max_flows_per_table as isize {
                    return Err(FlowModError::TableFull {
                        table: spec.table,
                        limit: self.limits.max_flows_per_table,
                    });
                }
            }
        }
        staged.insert(rule);
        Ok(())
    }
}

impl FlowEditor {
    /// Removes flows whose idle or hard timeout has passed; returns those that asked to be
    /// reported. Call it about once a second.
    pub fn expire(&mut self, now_ms: u64) -> Vec<FlowRemoved> {
        let mut expired = Vec::new();
        if let Some(tables) = self.tables.read() {
            for (_, c) in tables.iter() {
                for r in c.rules() {
                    if let Some(reason) = expiry(r, now_ms) {
                        expired.push((r.clone(), reason));
                    }
                }
            }
        }
        if expired.is_empty() {
            return Vec::new();
        }
        let mut events = Vec::new();
        let mut table0 = false;
        for (r, reason) in expired {
            table0 |= r.table == 0;
            if r.flags.has(FlowFlags::SEND_FLOW_REM) {
                events.push(FlowRemoved {
                    reason,
                    stats: stats_of(&r, now_ms),
                });
            }
            self.tables.append(TableOp::Remove(r));
        }
        self.tables.publish();
        if table0 {
            self.refresh_port_networks();
        }
        self.interner.purge();
        events
    }

    /// Flows selected by `filter`, grouped by table ascending and by priority descending.
    pub fn dump(&self, filter: &FlowFilter, now_ms: u64) -> Vec<FlowStats> {
        let mut out: Vec<Arc<Rule>> = match self.tables.read() {
            Some(tables) => filter.select_from(&tables).cloned().collect(),
            None => Vec::new(),
        };
        out.sort_by(|a, b| {
            a.table
                .cmp(&b.table)
                .then(b.priority.cmp(&a.priority))
                .then(a.created_ms.cmp(&b.created_ms))
        });
        out.iter().map(|r| stats_of(r, now_ms)).collect()
    }

    /// Totals of the flows selected by `filter`, summed as they are found (nothing is
    /// copied per flow). Counters wrap as OpenFlow's do.
    pub fn aggregate(&self, filter: &FlowFilter) -> crate::pipeline::AggregateStats {
        use std::sync::atomic::Ordering;
        let mut total = crate::pipeline::AggregateStats::default();
        if let Some(tables) = self.tables.read() {
            for r in filter.select_from(&tables) {
                total.packets = total
                    .packets
                    .wrapping_add(r.counters.packets.load(Ordering::Relaxed));
                total.bytes = total
                    .bytes
                    .wrapping_add(r.counters.bytes.load(Ordering::Relaxed));
                total.flows = total.flows.saturating_add(1);
            }
        }
        total
    }

    /// Number of flows in each table (index = table id).
    pub fn table_sizes(&self) -> Vec<usize> {
        self.tables
            .read()
            .map(|t| t.iter().map(|(_, c)| c.len()).collect())
            .unwrap_or_default()
    }

    /// Replaces the set of ports the pipeline knows (for FLOOD, ALL and NORMAL).
    pub fn set_ports(&mut self, ports: Vec<PipelinePort>) {
        self.ports = ports;
        self.ports.sort_by_key(|p| p.no);
        self.ports.dedup_by_key(|p| p.no);
        self.refresh_port_networks();
    }

    /// Recomputes each port's network from table 0 and publishes the port set if it changed.
    ///
    /// A port's network is the metadata that the highest-priority table-0 flow matching exactly
    /// that `in_port` writes with `write_metadata` (what Dragonflow's classification flows do);
    /// ports no such flow classifies are in network 0.
    fn refresh_port_networks(&mut self) {
        let mut networks: HashMap<u32, (u16, u64)> = HashMap::new();
        if let Some(tables) = self.tables.read() {
            for r in tables.table(0).rules() {
                let m = r.matching();
                let Some(port) = m.get(Field::InPort).map(|f| f.value as u32) else {
                    continue;
                };
                let md = r.instructions().iter().find_map(|i| match i {
                    Instruction::WriteMetadata { value, mask } => Some(value & mask),
                    _ => None,
                });
                if let Some(md) = md
                    && networks.get(&port).is_none_or(|(p, _)| r.priority > *p)
                {
                    networks.insert(port, (r.priority, md));
                }
            }
        }
        let ports: Vec<PipelinePort> = self
            .ports
            .iter()
            .map(|p| PipelinePort {
                network: networks.get(&p.no).map_or(0, |(_, md)| *md),
                ..*p
            })
            .collect();
        let current = self
            .tables
            .read()
            .map(|t| t.ports().to_vec())
            .unwrap_or_default();
        if current != ports {
            self.tables.append(TableOp::SetPorts(Arc::new(ports)));
            self.tables.publish();
        }
    }
}

/// The rules a modify or delete selects, as this batch sees them.
///
/// Strict commands name one identity (table, priority, exact match), so they are a hash
/// lookup per table; the others test every rule of the table(s) against the filter.
fn select(tables: &Tables, fm: &FlowMod, staged: &Staged) -> Vec<Arc<Rule>> {
    let spec = &fm.spec;
    let out_port = if matches!(
        fm.command,
        FlowModCommand::Delete | FlowModCommand::DeleteStrict
    ) {
        fm.out_port
    } else {
        PortNo::ANY
    };
    if matches!(
        fm.command,
        FlowModCommand::ModifyStrict | FlowModCommand::DeleteStrict
    ) {
        let shape = MatchShape::of(&spec.matching);
        let key = shape.key_words(&spec.matching.to_masked_key().value);
        let ids = if spec.table == ALL_TABLES {
            0..N_TABLES
        } else {
            spec.table..spec.table.saturating_add(1)
        };
        return ids
            .filter_map(|t| staged.exact(tables, t, spec.priority, &shape, &key))
            .filter(|r| {
                (r.cookie & fm.cookie_mask) == (spec.cookie & fm.cookie_mask)
                    && (out_port == PortNo::ANY || r.outputs_to(out_port))
            })
            .collect();
    }
    let filter = FlowFilter {
        table: spec.table,
        matching: spec.matching.clone(),
        cookie: spec.cookie,
        cookie_mask: fm.cookie_mask,
        out_port,
    };
    let fk = filter.matching.to_masked_key();
    staged
        .visible(tables, spec.table)
        .filter(|r| filter.selects(r, &fk))
        .cloned()
        .collect()
}

/// Every table that `goto_table` and `resubmit` name exists (OpenFlow itself allows up to
/// [`MAX_TABLE`](crate::action::MAX_TABLE); the pipeline has [`N_TABLES`]).
fn check_targets(instructions: &[Instruction]) -> Result<(), InstructionError> {
    let missing = |t: TableId| (t >= N_TABLES).then_some(InstructionError::BadTable(t));
    let bad = instructions.iter().find_map(|inst| match inst {
        Instruction::GotoTable(t) => missing(*t),
        Instruction::ApplyActions(actions) | Instruction::WriteActions(actions) => {
            actions.iter().find_map(|a| match a {
                Action::Resubmit { table: Some(t), .. } => missing(*t),
                _ => None,
            })
        }
        Instruction::ClearActions | Instruction::WriteMetadata { .. } => None,
    });
    bad.map_or(Ok(()), Err)
}

fn expiry(r: &Rule, now_ms: u64) -> Option<RemovedReason> {
    use std::sync::atomic::Ordering;
    if r.hard_timeout > 0 && now_ms.saturating_sub(r.created_ms) >= u64::from(r.hard_timeout) * 1000
    {
        return Some(RemovedReason::HardTimeout);
    }
    let last = r.counters.last_used_ms.load(Ordering::Relaxed);
    if r.idle_timeout > 0 && now_ms.saturating_sub(last) >= u64::from(r.idle_timeout) * 1000 {
        return Some(RemovedReason::IdleTimeout);
    }
    None
}

fn stats_of(r: &Rule, now_ms: u64) -> FlowStats {
    use std::sync::atomic::Ordering;
    FlowStats {
        spec: r.spec(),
        duration: std::time::Duration::from_millis(now_ms.saturating_sub(r.created_ms)),
        packets: r.counters.packets.load(Ordering::Relaxed),
        bytes: r.counters.bytes.load(Ordering::Relaxed),
    }
}

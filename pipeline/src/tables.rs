//! The flow tables as packet workers see them: an immutable snapshot per batch, no locks.
//!
//! [`Tables`] holds the [`N_TABLES`] classifiers, the ports the pipeline may flood to, and a
//! generation number that changes whenever any of them changes. It is kept twice with
//! `left-right`: packet workers read one copy through a [`TablesReader`] (an atomic epoch
//! increment, never a lock) while the control path edits the other; publishing swaps them and
//! waits only for readers still inside the old copy, which leave at the end of their batch.
//! Rules themselves are shared by both copies (`Arc<Rule>`), so a rule costs its memory once.
//!
//! A whole set of changes (one OpenFlow message, one bundle) is appended and then published
//! at once: a worker sees all of it or none of it.

use std::sync::Arc;

use left_right::{Absorb, ReadGuard, ReadHandle, ReadHandleFactory, WriteHandle};

use crate::action::{N_TABLES, TableId};
use crate::classifier::Classifier;
use crate::rule::Rule;

/// A port the pipeline can send to, as FLOOD, ALL and NORMAL need to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelinePort {
    pub no: u32,
    /// The network (metadata value) the port belongs to: what table 0 writes into `metadata`
    /// for packets from this port; 0 for ports table 0 does not classify.
    pub network: u64,
    /// Excluded from FLOOD and NORMAL flooding (OFPPC_NO_FLOOD).
    pub no_flood: bool,
    /// Excluded from every output (OFPPC_PORT_DOWN or link down).
    pub down: bool,
}

/// All tables plus what actions need to know about ports.
#[derive(Clone, Debug)]
pub struct Tables {
    tables: Vec<Classifier>,
    ports: Arc<Vec<PipelinePort>>,
    generation: u64,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            tables: vec![Classifier::new(); usize::from(N_TABLES)],
            ports: Arc::default(),
            generation: 0,
        }
    }
}

impl Tables {
    /// The classifier of table `id` (an empty one for ids past the last table).
    #[inline]
    pub fn table(&self, id: TableId) -> &Classifier {
        static EMPTY: Classifier = Classifier::EMPTY;
        self.tables.get(usize::from(id)).unwrap_or(&EMPTY)
    }

    /// Every table with its id.
    pub fn iter(&self) -> impl Iterator<Item = (TableId, &Classifier)> {
        self.tables
            .iter()
            .enumerate()
            .map(|(n, c)| (n as TableId, c))
    }

    /// The ports, sorted by number.
    #[inline]
    pub fn ports(&self) -> &[PipelinePort] {
        &self.ports
    }

    /// Changes whenever a rule or a port changes.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// One change to the tables.
#[derive(Debug)]
pub enum TableOp {
    Insert(Arc<Rule>),
    Remove(Arc<Rule>),
    SetPorts(Arc<Vec<PipelinePort>>),
    SetGeneration(u64),
}

impl Absorb<TableOp> for Tables {
    fn absorb_first(&mut self, op: &mut TableOp, _other: &Self) {
        match op {
            TableOp::Insert(rule) => {
                if let Some(t) = self.tables.get_mut(usize::from(rule.table)) {
                    t.insert(rule.clone());
                }
            }
            TableOp::Remove(rule) => {
                if let Some(t) = self.tables.get_mut(usize::from(rule.table)) {
                    t.remove(rule);
                }
            }
            TableOp::SetPorts(ports) => self.ports = ports.clone(),
            TableOp::SetGeneration(g) => self.generation = *g,
        }
    }

    fn sync_with(&mut self, first: &Self) {
        *self = first.clone();
    }
}

/// The control side: appends changes and publishes them.
pub struct TablesWriter {
    handle: WriteHandle<Tables, TableOp>,
    generation: u64,
}

impl std::fmt::Debug for TablesWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablesWriter")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A packet worker's read handle. Each worker owns one (it is `Send`, not `Sync`).
pub struct TablesReader {
    handle: ReadHandle<Tables>,
}

impl std::fmt::Debug for TablesReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablesReader").finish_non_exhaustive()
    }
}

/// Makes read handles for new workers (shareable between threads).
pub struct ReaderFactory {
    factory: ReadHandleFactory<Tables>,
}

impl std::fmt::Debug for ReaderFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderFactory").finish_non_exhaustive()
    }
}

/// Creates empty tables and their writer and reader factory.
pub fn new_tables() -> (TablesWriter, ReaderFactory) {
    let (handle, reader) = left_right::new::<Tables, TableOp>();
    let factory = reader.factory();
    (
        TablesWriter {
            handle,
            generation: 0,
        },
        ReaderFactory { factory },
    )
}

impl ReaderFactory {
    /// A read handle for one worker.
    pub fn reader(&self) -> TablesReader {
        TablesReader {
            handle: self.factory.handle(),
        }
    }
}

impl TablesReader {
    /// Enters the current snapshot. Hold the guard for one batch, not longer: publishing
    /// waits for it.
    #[inline]
    pub fn enter(&self) -> Option<ReadGuard<'_, Tables>> {
        self.handle.enter()
    }
}

impl TablesWriter {
    /// Queues changes; nothing is visible until [`TablesWriter::publish`].
    pub fn append(&mut self, op: TableOp) {
        self.handle.append(op);
    }

    /// Makes every queued change visible at once, with a new generation.
    pub fn publish(&mut self) {
        self.generation += 1;
        self.handle.append(TableOp::SetGeneration(self.generation));
        self.handle.publish();
    }

    /// How many times changes were published.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The published tables (what workers see now).
    pub fn read(&self) -> Option<ReadGuard<'_, Tables>> {
        self.handle.enter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Field;
    use crate::flow::FlowSpec;
    use crate::flow_match::Match;
    use crate::key::FlowKey;
    use crate::rule::MatchShape;

    #[test]
    fn changes_are_invisible_until_published_then_all_visible() {
        let (mut w, f) = new_tables();
        let r = f.reader();
        let m = Match::new().exact(Field::InPort, 1).unwrap();
        let mk = |table| {
            let spec = FlowSpec {
                table,
                matching: m.clone(),
                ..FlowSpec::default()
            };
            Arc::new(Rule::new(
                &spec,
                Arc::new(MatchShape::of(&m)),
                Arc::default(),
                0,
            ))
        };
        w.append(TableOp::Insert(mk(0)));
        w.append(TableOp::Insert(mk(5)));
        let mut k = FlowKey::default();
        k.set(Field::InPort, 1);
        assert!(r.enter().unwrap().table(0).lookup(&k).is_none());
        w.publish();
        let g = r.enter().unwrap();
        assert!(g.table(0).lookup(&k).is_some());
        assert!(g.table(5).lookup(&k).is_some());
        assert_eq!(g.generation(), 1);
        drop(g);
        // The second copy catches up on the next publish.
        w.publish();
        assert_eq!(r.enter().unwrap().table(5).len(), 1);
    }
}

//! Translation: walks the tables for one flow key and says what to do to every packet with
//! that key.
//!
//! The result is a flat list of [`DpOp`]s (rewrite this header, decrement the TTL, output to
//! that port, run NORMAL, send to the controller) plus the rules that were hit. Everything an
//! action can depend on is in the key, so the same key always translates to the same list; the
//! packet workers cache it per key and replay it on every later packet of the flow
//! ([`cache`](crate::cache)). This is the split Open vSwitch makes between `ofproto-dpif-xlate`
//! and datapath actions.
//!
//! OpenFlow 1.3 semantics implemented here: instructions run in the spec's order (apply,
//! clear, write, write_metadata, goto); a table miss drops; at the end of the pipeline the
//! action set runs in its fixed order (pop, push, dec_ttl, set/move/load, output); `goto_table`
//! only goes forward; `resubmit` looks up another table and comes back, to a bounded depth;
//! `dec_ttl` at TTL ≤ 1 sends the packet to the controller as `invalid_ttl` and stops; output
//! to the packet's own in_port is skipped unless asked for with `IN_PORT`.

use std::sync::Arc;

use crate::action::{Action, Instruction, PortNo, TableId};
use crate::field::{ETH_TYPE_IPV4, ETH_TYPE_IPV6, Field, VLAN_PRESENT, mask_of_width};
use crate::key::FlowKey;
use crate::rule::Rule;
use crate::stats::DropReason;
use crate::tables::Tables;

/// How deep `resubmit` may nest (Open vSwitch uses the same bound).
pub const MAX_RESUBMIT_DEPTH: u8 = 64;

/// How many table lookups one packet may cause in total.
pub const MAX_LOOKUPS: u16 = 1024;

/// Why a packet was sent to the controller (OpenFlow 1.3 `ofp_packet_in_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketInReason {
    /// A table-miss flow sent it.
    NoMatch,
    /// An explicit `CONTROLLER` action.
    Action,
    /// `dec_ttl` found TTL ≤ 1.
    InvalidTtl,
}

/// One thing to do to a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DpOp {
    /// Rewrite a header field in the frame.
    SetHeader {
        field: Field,
        value: u128,
    },
    /// Set a field that travels with the packet but is not in its bytes (tunnel, pkt_mark).
    SetMeta {
        field: Field,
        value: u128,
    },
    /// Decrement the IPv4 TTL or IPv6 hop limit (known to be > 1).
    DecTtl,
    PushVlan {
        tpid: u16,
    },
    PopVlan,
    /// Send the frame as it is now.
    Output {
        port: u32,
    },
    /// The learning switch, scoped to `network` (the metadata).
    Normal {
        network: u64,
        vlan: u16,
        in_port: u32,
        src: u64,
        dst: u64,
    },
    /// Send the frame as it is now to the controller.
    Controller {
        reason: PacketInReason,
        table: TableId,
        cookie: u64,
        max_len: u16,
        /// The key at this point (OpenFlow puts in_port, metadata and tunnel id in the
        /// packet-in's match).
        key: Box<FlowKey>,
    },
}

/// A table visited, with the rule that matched (None: a miss).
#[derive(Clone, Debug)]
pub struct Visit {
    pub table: TableId,
    pub rule: Option<Arc<Rule>>,
}

/// Everything translation decided for one key.
#[derive(Clone, Debug, Default)]
pub struct Translation {
    pub ops: Vec<DpOp>,
    pub visits: Vec<Visit>,
    /// Set when the packet leaves nowhere (no output, NORMAL or controller).
    pub drop: Option<DropReason>,
    /// The key after every rewrite.
    pub final_key: FlowKey,
    /// `ops` in the shape of a routed or switched unicast packet, precompiled for the
    /// executor (set by translation; `None` for every other shape).
    pub fast: Option<FastPath>,
}

/// A translation whose `ops` are exactly: an optional `DecTtl`, then `SetHeader`s of
/// `eth_src`/`eth_dst` only, then one `Output`, and no drop. Executing it is the same as
/// executing those ops (the rewrites touch disjoint bytes, and nothing was emitted before
/// them that would need its own copy), without dispatching on each op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastPath {
    pub dec_ttl: bool,
    /// The value the last `eth_src` rewrite writes.
    pub eth_src: Option<u128>,
    /// The value the last `eth_dst` rewrite writes.
    pub eth_dst: Option<u128>,
    pub port: u32,
}

impl FastPath {
    /// The fast form of `ops`, if they have its shape.
    pub fn of(ops: &[DpOp]) -> Option<FastPath> {
        let (last, rest) = ops.split_last()?;
        let DpOp::Output { port } = *last else {
            return None;
        };
        let mut f = FastPath {
            dec_ttl: false,
            eth_src: None,
            eth_dst: None,
            port,
        };
        for (i, op) in rest.iter().enumerate() {
            match *op {
                DpOp::DecTtl if i == 0 => f.dec_ttl = true,
                DpOp::SetHeader {
                    field: Field::EthSrc,
                    value,
                } => f.eth_src = Some(value),
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value,
                } => f.eth_dst = Some(value),
                _ => return None,
            }
        }
        Some(f)
    }
}

/// One step of a trace, as `wyvern trace` prints it.
#[derive(Clone, Debug)]
pub enum TraceEvent {
    /// A lookup in `table` (at resubmit depth `depth`) and what matched.
    Lookup {
        table: TableId,
        depth: u8,
        key: FlowKey,
        rule: Option<Arc<Rule>>,
    },
    /// The action set runs at the end of the pipeline.
    ActionSet(Vec<Action>),
    /// A note (skipped output, TTL expiry, resubmit bound).
    Note(String),
}

/// Translates `key` starting at `table`, recording a trace if asked.
pub fn translate(
    tables: &Tables,
    key: &FlowKey,
    table: TableId,
    trace: Option<&mut Vec<TraceEvent>>,
) -> Translation {
    let mut x = Xlate::new(tables, key, trace);
    x.run_pipeline(table);
    x.finish()
}

/// Translates a controller's packet-out: `actions` applied to `key` (`output:TABLE` runs the
/// packet through the tables from table 0).
pub fn translate_actions(
    tables: &Tables,
    key: &FlowKey,
    actions: &[Action],
    trace: Option<&mut Vec<TraceEvent>>,
) -> Translation {
    let mut x = Xlate::new(tables, key, trace);
    x.apply_all(actions);
    x.finish()
}

/// The action set of OpenFlow 1.3 §5.10: at most one action of each kind.
#[derive(Default)]
struct ActionSet {
    pop_vlan: bool,
    push_vlan: Option<Action>,
    dec_ttl: bool,
    sets: Vec<Action>,
    output: Option<Action>,
}

impl ActionSet {
    fn write(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::PopVlan => self.pop_vlan = true,
                Action::PushVlan { .. } => self.push_vlan = Some(a.clone()),
                Action::DecTtl => self.dec_ttl = true,
                Action::Output { .. } => self.output = Some(a.clone()),
                Action::SetField { field, .. } => self.replace_set(*field, a),
                Action::Load { dst, .. } | Action::Move { dst, .. } => {
                    self.replace_set(dst.field, a)
                }
                // A resubmit has no place in the action set; the flow was accepted for its
                // other actions, so this one is ignored as OVS does.
                Action::Resubmit { .. } => {}
            }
        }
    }

    fn replace_set(&mut self, field: Field, a: &Action) {
        self.sets.retain(|s| set_target(s) != Some(field));
        self.sets.push(a.clone());
    }

    fn in_order(&self) -> Vec<Action> {
        let mut v = Vec::new();
        if self.pop_vlan {
            v.push(Action::PopVlan);
        }
        v.extend(self.push_vlan.clone());
        if self.dec_ttl {
            v.push(Action::DecTtl);
        }
        v.extend(self.sets.iter().cloned());
        v.extend(self.output.clone());
        v
    }

    fn is_empty(&self) -> bool {
        !self.pop_vlan
            && self.push_vlan.is_none()
            && !self.dec_ttl
            && self.sets.is_empty()
            && self.output.is_none()
    }
}

fn set_target(a: &Action) -> Option<Field> {
    match a {
        Action::SetField { field, .. } => Some(*field),
        Action::Load { dst, .. } | Action::Move { dst, .. } => Some(dst.field),
        _ => None,
    }
}

struct Xlate<'a, 't> {
    tables: &'a Tables,
    key: FlowKey,
    out: Translation,
    action_set: ActionSet,
    depth: u8,
    lookups: u16,
    /// The rule being executed (for the controller action's cookie and reason).
    current: Option<(TableId, u64, bool)>,
    halted: bool,
    trace: Option<&'t mut Vec<TraceEvent>>,
}

impl<'a, 't> Xlate<'a, 't> {
    fn new(tables: &'a Tables, key: &FlowKey, trace: Option<&'t mut Vec<TraceEvent>>) -> Self {
        Xlate {
            tables,
            key: *key,
            out: Translation::default(),
            action_set: ActionSet::default(),
            depth: 0,
            lookups: 0,
            current: None,
            halted: false,
            trace,
        }
    }

    fn note(&mut self, f: impl FnOnce() -> String) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.push(TraceEvent::Note(f()));
        }
    }

    fn finish(mut self) -> Translation {
        let delivers = self.out.ops.iter().any(|op| {
            matches!(
                op,
                DpOp::Output { .. } | DpOp::Normal { .. } | DpOp::Controller { .. }
            )
        });
        if !delivers && self.out.drop.is_none() {
            self.out.drop = Some(DropReason::NoAction);
        }
        self.out.final_key = self.key;
        if self.out.drop.is_none() {
            self.out.fast = FastPath::of(&self.out.ops);
        }
        self.out
    }

    /// Runs the pipeline from `table`; at the outermost level, ends with the action set.
    fn run_pipeline(&mut self, mut table: TableId) {
        loop {
            if self.halted {
                return;
            }
            self.lookups += 1;
            if self.lookups > MAX_LOOKUPS {
                self.note(|| format!("more than {MAX_LOOKUPS} lookups: dropped"));
                self.halt(DropReason::TooManyLookups);
                return;
            }
            let rule = self.tables.table(table).lookup(&self.key).cloned();
            if let Some(t) = self.trace.as_deref_mut() {
                t.push(TraceEvent::Lookup {
                    table,
                    depth: self.depth,
                    key: self.key,
                    rule: rule.clone(),
                });
            }
            self.out.visits.push(Visit {
                table,
                rule: rule.clone(),
            });
            let Some(rule) = rule else {
                if self.depth == 0 {
                    self.halt(DropReason::TableMiss);
                }
                return;
            };
            let table_miss_flow = rule.priority == 0 && rule.shape.fields.is_empty();
            self.current = Some((table, rule.cookie, table_miss_flow));
            let mut next = None;
            let mut insts: Vec<&Instruction> = rule.instructions().iter().collect();
            insts.sort_by_key(|i| i.rank());
            for inst in insts {
                match inst {
                    Instruction::ApplyActions(actions) => self.apply_all(actions),
                    Instruction::ClearActions => self.action_set = ActionSet::default(),
                    Instruction::WriteActions(actions) => self.action_set.write(actions),
                    Instruction::WriteMetadata { value, mask } => {
                        self.key
                            .set_masked(Field::Metadata, u128::from(*value), u128::from(*mask))
                    }
                    Instruction::GotoTable(t) => next = Some(*t),
                }
                if self.halted {
                    return;
                }
            }
            match next {
                Some(t) if t > table => table = t,
                _ => break,
            }
        }
        if self.depth == 0 && !self.action_set.is_empty() {
            let set = std::mem::take(&mut self.action_set).in_order();
            if let Some(t) = self.trace.as_deref_mut() {
                t.push(TraceEvent::ActionSet(set.clone()));
            }
            self.apply_all(&set);
        }
    }

    fn halt(&mut self, reason: DropReason) {
        self.halted = true;
        if self.out.drop.is_none() {
            self.out.drop = Some(reason);
        }
    }

    fn apply_all(&mut self, actions: &[Action]) {
        for a in actions {
            if self.halted {
                return;
            }
            self.apply(a);
        }
    }

    fn apply(&mut self, a: &Action) {
        match a {
            Action::Output { port, max_len } => self.output(*port, *max_len),
            Action::SetField { field, value } => self.set(*field, *value),
            Action::Load { dst, value } => {
                let cur = self.key.get(dst.field);
                let new = (cur & !dst.mask()) | ((value << dst.offset) & dst.mask());
                self.set(dst.field, new);
            }
            Action::Move { src, dst } => {
                let v = (self.key.get(src.field) >> src.offset) & mask_of_width(src.bits);
                let cur = self.key.get(dst.field);
                let new = (cur & !dst.mask()) | ((v << dst.offset) & dst.mask());
                self.set(dst.field, new);
            }
            Action::DecTtl => self.dec_ttl(),
            Action::PushVlan { ethertype } => {
                let vid = self.key.get(Field::VlanVid) | VLAN_PRESENT;
                self.key.set(Field::VlanVid, vid);
                self.out.ops.push(DpOp::PushVlan { tpid: *ethertype });
                self.out.ops.push(DpOp::SetHeader {
                    field: Field::VlanVid,
                    value: vid,
                });
            }
            Action::PopVlan => {
                if self.key.get(Field::VlanVid) & VLAN_PRESENT != 0 {
                    self.key.set(Field::VlanVid, 0);
                    self.key.set(Field::VlanPcp, 0);
                    self.out.ops.push(DpOp::PopVlan);
                }
            }
            Action::Resubmit { in_port, table } => self.resubmit(*in_port, *table),
        }
    }

    fn set(&mut self, field: Field, value: u128) {
        self.key.set(field, value);
        match field {
            Field::Metadata
            | Field::InPort
            | Field::Reg0
            | Field::Reg1
            | Field::Reg2
            | Field::Reg3
            | Field::Reg4
            | Field::Reg5
            | Field::Reg6
            | Field::Reg7 => {}
            Field::TunId | Field::TunSrc | Field::TunDst | Field::PktMark => {
                self.out.ops.push(DpOp::SetMeta { field, value })
            }
            _ => self.out.ops.push(DpOp::SetHeader { field, value }),
        }
    }

    fn is_ip(&self) -> bool {
        let t = self.key.get(Field::EthType);
        t == u128::from(ETH_TYPE_IPV4) || t == u128::from(ETH_TYPE_IPV6)
    }

    fn dec_ttl(&mut self) {
        if !self.is_ip() {
            return;
        }
        let ttl = self.key.get(Field::IpTtl);
        if ttl <= 1 {
            self.note(|| format!("dec_ttl: TTL {ttl} expires, packet-in invalid_ttl"));
            self.controller(PacketInReason::InvalidTtl, u16::MAX);
            self.halt(DropReason::InvalidTtl);
            return;
        }
        self.key.set(Field::IpTtl, ttl - 1);
        self.out.ops.push(DpOp::DecTtl);
    }

    fn controller(&mut self, reason: PacketInReason, max_len: u16) {
        let (table, cookie, miss) = self.current.unwrap_or((0, 0, false));
        let reason = match reason {
            PacketInReason::Action if miss => PacketInReason::NoMatch,
            r => r,
        };
        self.out.ops.push(DpOp::Controller {
            reason,
            table,
            cookie,
            max_len,
            key: Box::new(self.key),
        });
    }

    fn output(&mut self, port: PortNo, max_len: u16) {
        let in_port = self.key.get(Field::InPort) as u32;
        match port {
            PortNo::IN_PORT => self.out.ops.push(DpOp::Output { port: in_port }),
            PortNo::NORMAL => self.out.ops.push(DpOp::Normal {
                network: self.key.get(Field::Metadata) as u64,
                vlan: self.key.get(Field::VlanVid) as u16,
                in_port,
                src: self.key.get(Field::EthSrc) as u64,
                dst: self.key.get(Field::EthDst) as u64,
            }),
            PortNo::FLOOD | PortNo::ALL => {
                let all = port == PortNo::ALL;
                let ports: Vec<u32> = self
                    .tables
                    .ports()
                    .iter()
                    .filter(|p| p.no != in_port && !p.down && (all || !p.no_flood))
                    .map(|p| p.no)
                    .collect();
                self.out
                    .ops
                    .extend(ports.into_iter().map(|port| DpOp::Output { port }));
            }
            PortNo::CONTROLLER => self.controller(PacketInReason::Action, max_len),
            PortNo::TABLE => {
                if self.depth == 0 && self.current.is_none() {
                    self.run_pipeline(0);
                } else {
                    self.note(|| "output:TABLE is only valid in a packet-out".into());
                }
            }
            PortNo::LOCAL => self.out.ops.push(DpOp::Output {
                port: PortNo::LOCAL.0,
            }),
            PortNo(p) if p == in_port => {
                self.note(|| {
                    format!("output:{p} skipped: it is the packet's in_port (use IN_PORT)")
                });
            }
            PortNo(p) if (1..=PortNo::MAX.0).contains(&p) => {
                self.out.ops.push(DpOp::Output { port: p })
            }
            other => self.note(|| format!("output:{other} ignored")),
        }
    }

    fn resubmit(&mut self, in_port: Option<PortNo>, table: Option<TableId>) {
        if self.depth >= MAX_RESUBMIT_DEPTH {
            self.note(|| format!("resubmit deeper than {MAX_RESUBMIT_DEPTH}: dropped"));
            self.halt(DropReason::ResubmitDepth);
            return;
        }
        let table = table.or(self.current.map(|c| c.0)).unwrap_or(0);
        let saved_port = self.key.get(Field::InPort);
        let saved_current = self.current;
        if let Some(p) = in_port.filter(|p| *p != PortNo::IN_PORT) {
            self.key.set(Field::InPort, u128::from(p.0));
        }
        self.depth += 1;
        self.run_pipeline(table);
        self.depth -= 1;
        self.key.set(Field::InPort, saved_port);
        self.current = saved_current;
    }
}

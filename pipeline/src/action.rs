//! Actions and instructions, as OpenFlow 1.3 (plus the Nicira move/load/resubmit) defines them.
//!
//! These are the version-free forms that the OpenFlow codec decodes into and the flow-text
//! parser produces. [`Instruction`]s are kept in the order given; [`validate_instructions`]
//! enforces OpenFlow 1.3's rules (each kind at most once, `goto_table` only forwards).

use thiserror::Error;

use crate::field::{Field, FieldRange};

/// An OpenFlow port number, with the reserved ports named (OpenFlow 1.3.5 §7.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortNo(pub u32);

impl PortNo {
    /// Highest number of a physical port.
    pub const MAX: PortNo = PortNo(0xffff_ff00);
    pub const IN_PORT: PortNo = PortNo(0xffff_fff8);
    pub const TABLE: PortNo = PortNo(0xffff_fff9);
    pub const NORMAL: PortNo = PortNo(0xffff_fffa);
    pub const FLOOD: PortNo = PortNo(0xffff_fffb);
    pub const ALL: PortNo = PortNo(0xffff_fffc);
    pub const CONTROLLER: PortNo = PortNo(0xffff_fffd);
    pub const LOCAL: PortNo = PortNo(0xffff_fffe);
    pub const ANY: PortNo = PortNo(0xffff_ffff);

    /// The reserved port's OVS name, if this is one.
    pub fn reserved_name(self) -> Option<&'static str> {
        Some(match self {
            PortNo::IN_PORT => "IN_PORT",
            PortNo::TABLE => "TABLE",
            PortNo::NORMAL => "NORMAL",
            PortNo::FLOOD => "FLOOD",
            PortNo::ALL => "ALL",
            PortNo::CONTROLLER => "CONTROLLER",
            PortNo::LOCAL => "LOCAL",
            PortNo::ANY => "ANY",
            _ => return None,
        })
    }

    /// The reserved port called `name` (case-insensitive).
    pub fn from_reserved_name(name: &str) -> Option<PortNo> {
        [
            PortNo::IN_PORT,
            PortNo::TABLE,
            PortNo::NORMAL,
            PortNo::FLOOD,
            PortNo::ALL,
            PortNo::CONTROLLER,
            PortNo::LOCAL,
            PortNo::ANY,
        ]
        .into_iter()
        .find(|p| {
            p.reserved_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .or(match name {
            "NONE" | "none" => Some(PortNo::ANY),
            _ => None,
        })
    }

    /// True for a port that can carry packets (1..=MAX) or LOCAL.
    pub fn is_physical_or_local(self) -> bool {
        (1..=PortNo::MAX.0).contains(&self.0) || self == PortNo::LOCAL
    }
}

impl std::fmt::Display for PortNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reserved_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A flow table number (0..=254 on the wire; 255 means "all tables" in requests).
pub type TableId = u8;

/// The highest table number OpenFlow 1.3 lets a flow mod name (`OFPTT_MAX`). Flow text and
/// OpenFlow messages accept it; whether the table exists is the switch's business: the
/// pipeline has tables `0..N_TABLES`.
pub const MAX_TABLE: TableId = 254;

/// How many tables the pipeline has: `0..N_TABLES`. What the OpenFlow endpoint reports in
/// FEATURES, TABLE and TABLE_FEATURES, and what a flow mod may use. As in Open vSwitch, which
/// reports 254 tables (its table 254 is internal), a flow in table 254 is refused.
pub const N_TABLES: TableId = 254;

/// `table_id` in a request that means every table.
pub const ALL_TABLES: TableId = 0xff;

/// `max_len` that asks the controller action to send the whole packet.
pub const CONTROLLER_MAX_LEN_NO_BUFFER: u16 = 0xffff;

/// One action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send to a port. `max_len` is used only for `CONTROLLER`.
    Output { port: PortNo, max_len: u16 },
    /// Write a field (OpenFlow 1.3 set_field). The value is right-aligned.
    SetField { field: Field, value: u128 },
    /// Write a constant into a bit range (NXAST_REG_LOAD, `load:V->DST[a..b]`).
    Load { dst: FieldRange, value: u128 },
    /// Copy a bit range to another (NXAST_REG_MOVE, `move:SRC[]->DST[]`).
    Move { src: FieldRange, dst: FieldRange },
    /// Decrement the IP TTL; at TTL ≤ 1 the packet goes to the controller as `invalid_ttl`.
    DecTtl,
    /// Push an 802.1Q tag with this TPID (0x8100 or 0x88a8).
    PushVlan { ethertype: u16 },
    /// Remove the outermost 802.1Q tag.
    PopVlan,
    /// Look the packet up again in `table` (default: the current one) with `in_port` replaced
    /// when given, then continue with the next action (NXAST_RESUBMIT_TABLE).
    Resubmit {
        in_port: Option<PortNo>,
        table: Option<TableId>,
    },
}

impl Action {
    /// `output:PORT`.
    pub fn output(port: u32) -> Action {
        Action::Output {
            port: PortNo(port),
            max_len: 0,
        }
    }
}

/// One instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    ApplyActions(Vec<Action>),
    ClearActions,
    WriteActions(Vec<Action>),
    WriteMetadata { value: u64, mask: u64 },
    GotoTable(TableId),
}

impl Instruction {
    /// The OpenFlow 1.3 execution order of this kind of instruction.
    pub fn rank(&self) -> u8 {
        match self {
            Instruction::ApplyActions(_) => 1,
            Instruction::ClearActions => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::GotoTable(_) => 5,
        }
    }
}

/// Why a set of instructions cannot be installed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum InstructionError {
    /// The same kind of instruction appears twice.
    #[error("instruction {0} appears more than once")]
    Duplicate(&'static str),
    /// `goto_table` must go to a later table (OpenFlow 1.3.5 §5.1).
    #[error("goto_table:{to} from table {from}: goto_table may only go to a later table")]
    GotoBackwards { from: TableId, to: TableId },
    /// The table does not exist.
    #[error("table {0} does not exist (tables are 0..=253)")]
    BadTable(TableId),
    /// `write_metadata` sets bits outside its mask.
    #[error("write_metadata:{value:#x}/{mask:#x} sets bits outside its mask")]
    MetadataOutsideMask { value: u64, mask: u64 },
    /// The field cannot be written.
    #[error("field {} cannot be written", .0.info().set_name)]
    ReadOnlyField(Field),
    /// A set_field value is wider than its field.
    #[error("value {value:#x} does not fit field {}", field.info().set_name)]
    ValueTooWide { field: Field, value: u128 },
    /// move/load with source and destination of different sizes.
    #[error("move copies {src} bits into {dst} bits")]
    MoveSizeMismatch { src: u16, dst: u16 },
    /// Output to a port number that cannot be an output.
    #[error("output to port {0} is not allowed")]
    BadOutPort(PortNo),
    /// push_vlan with an EtherType that is not a VLAN TPID.
    #[error("push_vlan:{0:#06x} is not a VLAN EtherType (use 0x8100 or 0x88a8)")]
    BadVlanEthertype(u16),
}

/// Checks instructions for table `table` against OpenFlow 1.3's rules.
pub fn validate_instructions(
    table: TableId,
    insts: &[Instruction],
) -> Result<(), InstructionError> {
    let mut seen = [false; 6];
    for inst in insts {
        let rank = usize::from(inst.rank());
        if seen[rank] {
            return Err(InstructionError::Duplicate(instruction_name(inst)));
        }
        seen[rank] = true;
        match inst {
            Instruction::ApplyActions(actions) | Instruction::WriteActions(actions) => {
                actions.iter().try_for_each(validate_action)?
            }
            Instruction::ClearActions => {}
            Instruction::WriteMetadata { value, mask } => {
                if value & !mask != 0 {
                    return Err(InstructionError::MetadataOutsideMask {
                        value: *value,
                        mask: *mask,
                    });
                }
            }
            Instruction::GotoTable(to) => {
                if *to > MAX_TABLE {
                    return Err(InstructionError::BadTable(*to));
                }
                if *to <= table {
                    return Err(InstructionError::GotoBackwards {
                        from: table,
                        to: *to,
                    });
                }
            }
        }
    }
    Ok(())
}

fn instruction_name(inst: &Instruction) -> &'static str {
    match inst {
        Instruction::ApplyActions(_) => "apply_actions",
        Instruction::ClearActions => "clear_actions",
        Instruction::WriteActions(_) => "write_actions",
        Instruction::WriteMetadata { .. } => "write_metadata",
        Instruction::GotoTable(_) => "goto_table",
    }
}

/// Checks one action on its own.
pub fn validate_action(action: &Action) -> Result<(), InstructionError> {
    match action {
        Action::Output { port, .. } => {
            if port.0 == 0
                || *port == PortNo::ANY
                || (port.0 > PortNo::MAX.0 && port.reserved_name().is_none())
            {
                return Err(InstructionError::BadOutPort(*port));
            }
        }
        Action::SetField { field, value } => {
            if !field.info().writable {
                return Err(InstructionError::ReadOnlyField(*field));
            }
            if value & !field.full_mask() != 0 {
                return Err(InstructionError::ValueTooWide {
                    field: *field,
                    value: *value,
                });
            }
        }
        Action::Load { dst, value } => {
            if !dst.field.info().writable {
                return Err(InstructionError::ReadOnlyField(dst.field));
            }
            if value >> dst.bits.min(127) != 0 && dst.bits < 128 {
                return Err(InstructionError::ValueTooWide {
                    field: dst.field,
                    value: *value,
                });
            }
        }
        Action::Move { src, dst } => {
            if src.bits != dst.bits {
                return Err(InstructionError::MoveSizeMismatch {
                    src: src.bits,
                    dst: dst.bits,
                });
            }
            if !dst.field.info().writable {
                return Err(InstructionError::ReadOnlyField(dst.field));
            }
        }
        Action::PushVlan { ethertype } => {
            if *ethertype != 0x8100 && *ethertype != 0x88a8 {
                return Err(InstructionError::BadVlanEthertype(*ethertype));
            }
        }
        Action::DecTtl | Action::PopVlan => {}
        Action::Resubmit { table, .. } => {
            if table.is_some_and(|t| t > MAX_TABLE) {
                return Err(InstructionError::BadTable(table.unwrap_or_default()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goto_must_go_forward() {
        assert_eq!(
            validate_instructions(40, &[Instruction::GotoTable(40)]),
            Err(InstructionError::GotoBackwards { from: 40, to: 40 })
        );
        assert_eq!(
            validate_instructions(0, &[Instruction::GotoTable(40)]),
            Ok(())
        );
    }

    #[test]
    fn duplicates_and_bad_values_rejected() {
        let twice = [Instruction::ClearActions, Instruction::ClearActions];
        assert!(matches!(
            validate_instructions(0, &twice),
            Err(InstructionError::Duplicate(_))
        ));
        let md = [Instruction::WriteMetadata {
            value: 0x1f,
            mask: 0xf,
        }];
        assert!(validate_instructions(0, &md).is_err());
        let ro = [Instruction::ApplyActions(vec![Action::SetField {
            field: Field::EthType,
            value: 0x0800,
        }])];
        assert!(validate_instructions(0, &ro).is_err());
        let out0 = [Instruction::ApplyActions(vec![Action::output(0)])];
        assert!(validate_instructions(0, &out0).is_err());
    }

    #[test]
    fn reserved_ports_by_name() {
        assert_eq!(PortNo::from_reserved_name("in_port"), Some(PortNo::IN_PORT));
        assert_eq!(PortNo::CONTROLLER.to_string(), "CONTROLLER");
        assert_eq!(PortNo(12).to_string(), "12");
    }
}

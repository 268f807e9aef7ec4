//! A flow as installed (table, priority, cookie, timeouts, flags, match, instructions) and the
//! flow-table changes OpenFlow 1.3 defines (add, modify, delete; strict or not).

use crate::action::{Instruction, PortNo, TableId};
use crate::flow_match::Match;

/// OpenFlow 1.3 flow-mod flags (`ofp_flow_mod_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowFlags(pub u16);

impl FlowFlags {
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    pub const RESET_COUNTS: u16 = 1 << 2;
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    pub const NO_BYT_COUNTS: u16 = 1 << 4;

    /// Flag bits with their OVS names, in the order OVS prints them.
    pub const NAMES: [(u16, &'static str); 5] = [
        (Self::SEND_FLOW_REM, "send_flow_rem"),
        (Self::CHECK_OVERLAP, "check_overlap"),
        (Self::RESET_COUNTS, "reset_counts"),
        (Self::NO_PKT_COUNTS, "no_packet_counts"),
        (Self::NO_BYT_COUNTS, "no_byte_counts"),
    ];

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

/// The default priority of a flow (OpenFlow's OFP_DEFAULT_PRIORITY).
pub const DEFAULT_PRIORITY: u16 = 0x8000;

/// Everything that defines one flow, as given by whoever installs it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowSpec {
    pub table: TableId,
    pub priority: u16,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: FlowFlags,
    pub matching: Match,
    pub instructions: Vec<Instruction>,
}

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            table: 0,
            priority: DEFAULT_PRIORITY,
            cookie: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: FlowFlags::default(),
            matching: Match::new(),
            instructions: Vec::new(),
        }
    }
}

/// OpenFlow 1.3 `ofp_flow_mod_command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowModCommand {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

/// One flow-table change.
///
/// For modify and delete, `spec.table` may be [`ALL_TABLES`](crate::action::ALL_TABLES)
/// (delete only), `cookie_mask` selects flows by cookie, and `out_port` (delete only) keeps only
/// flows that output to that port. `spec.priority` counts only for the strict commands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowMod {
    pub command: FlowModCommand,
    pub spec: FlowSpec,
    pub cookie_mask: u64,
    pub out_port: PortNo,
}

impl FlowMod {
    /// An `add` of `spec`.
    pub fn add(spec: FlowSpec) -> Self {
        FlowMod {
            command: FlowModCommand::Add,
            spec,
            cookie_mask: 0,
            out_port: PortNo::ANY,
        }
    }
}

/// Statistics of one installed flow, as flow-stats replies and `dump-flows` report them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStats {
    pub spec: FlowSpec,
    pub duration: std::time::Duration,
    pub packets: u64,
    pub bytes: u64,
}

//! The one seam between the OpenFlow wire vocabulary ([`crate::msg`]) and the pipeline's
//! control API ([`wyvern_pipeline::Pipeline`]).
//!
//! Everything the endpoint hands to the pipeline or reports from it passes through a function
//! here: flow-stats requests become [`FlowFilter`]s, refused flow-mod batches become OFPT_ERROR
//! (type, code) pairs, and the pipeline's packet-ins, flow-removed events and table counters
//! become their OpenFlow messages.

use wyvern_pipeline::action::PortNo;
use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::{FlowMod, FlowModCommand};
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::pipeline::{PacketOutError, TableStats as PipeTableStats};
use wyvern_pipeline::translate::PacketInReason as PipeReason;
use wyvern_pipeline::{FlowFilter, FlowModError, RemovedReason};

use crate::error::{BadRequestCode, DecodeError, FlowModFailedCode, OfError};
use crate::msg::flow::NO_BUFFER;
use crate::msg::multipart::{FlowStatsRequest, TableStats};
use crate::msg::{FlowRemoved, FlowRemovedReason, PacketIn, PacketInReason};

/// The flows an OFPMP_FLOW or OFPMP_AGGREGATE request selects.
pub fn flow_filter(req: &FlowStatsRequest) -> FlowFilter {
    FlowFilter {
        table: req.table_id,
        matching: req.matching.clone(),
        cookie: req.cookie,
        cookie_mask: req.cookie_mask,
        out_port: req.out_port,
    }
}

/// A FLOW_MOD as the pipeline takes it.
///
/// `out_port` only means something for deletes (OpenFlow 1.3.5 §6.4: "For add, modify or
/// modify-strict, out_port and out_group are ignored"); os-ken sends 0 there, so it is
/// replaced by ANY for the other commands.
pub fn flow_mod(mut fm: FlowMod) -> FlowMod {
    if !matches!(
        fm.command,
        FlowModCommand::Delete | FlowModCommand::DeleteStrict
    ) {
        fm.out_port = PortNo::ANY;
    }
    fm
}

/// The OFPT_ERROR a refused flow mod is answered with.
pub fn flow_mod_error(e: &FlowModError) -> OfError {
    match e {
        FlowModError::BadTable(_) => OfError::FlowModFailed(FlowModFailedCode::BadTableId),
        FlowModError::Overlap(_) => OfError::FlowModFailed(FlowModFailedCode::Overlap),
        FlowModError::TableFull { .. } => OfError::FlowModFailed(FlowModFailedCode::TableFull),
        FlowModError::BadMatch(m) => DecodeError::from(m.clone()).of_error(),
        FlowModError::BadInstructions(i) => DecodeError::from(i.clone()).of_error(),
    }
}

/// The OFPT_ERROR a refused packet-out is answered with, if any (a full injection queue is
/// a counted drop, not the controller's fault).
pub fn packet_out_error(e: &PacketOutError) -> Option<OfError> {
    match e {
        PacketOutError::Runt(_) => Some(OfError::BadRequest(BadRequestCode::BadPacket)),
        PacketOutError::QueueFull => None,
    }
}

/// The wire reason of a pipeline packet-in.
pub fn packet_in_reason(r: PipeReason) -> PacketInReason {
    match r {
        PipeReason::NoMatch => PacketInReason::NoMatch,
        PipeReason::Action => PacketInReason::Action,
        PipeReason::InvalidTtl => PacketInReason::InvalidTtl,
    }
}

/// OFPT_PACKET_IN for a pipeline packet-in: never buffered, the match carries `in_port`, and
/// `metadata` and `tunnel_id` when they are not zero; the data is cut to `max_len` (already
/// done by the pipeline for the action's `max_len`; `max_len` here is the connection's
/// `miss_send_len` for table misses, 0xffff for no limit).
pub fn packet_in(p: &wyvern_pipeline::PacketIn, max_len: u16) -> PacketIn {
    let mut matching = Match::new();
    // Values come from the key, so they always fit their fields; a failure would only drop
    // that field from the match.
    let _ = matching.push(
        Field::InPort,
        p.key.get(Field::InPort),
        Field::InPort.full_mask(),
    );
    for f in [Field::Metadata, Field::TunId] {
        let v = p.key.get(f);
        if v != 0 {
            let _ = matching.push(f, v, f.full_mask());
        }
    }
    let keep = if max_len == 0xffff {
        p.data.len()
    } else {
        p.data.len().min(usize::from(max_len))
    };
    PacketIn {
        buffer_id: NO_BUFFER,
        total_len: u16::try_from(p.total_len).unwrap_or(u16::MAX),
        reason: packet_in_reason(p.reason),
        table_id: p.table,
        cookie: p.cookie,
        matching,
        data: p.data[..keep].to_vec(),
    }
}

/// OFPT_FLOW_REMOVED for a pipeline flow-removed event.
pub fn flow_removed(r: &wyvern_pipeline::FlowRemoved) -> FlowRemoved {
    let s = &r.stats;
    FlowRemoved {
        cookie: s.spec.cookie,
        priority: s.spec.priority,
        reason: match r.reason {
            RemovedReason::IdleTimeout => FlowRemovedReason::IdleTimeout,
            RemovedReason::HardTimeout => FlowRemovedReason::HardTimeout,
            RemovedReason::Delete => FlowRemovedReason::Delete,
        },
        table_id: s.spec.table,
        duration_sec: u32::try_from(s.duration.as_secs()).unwrap_or(u32::MAX),
        duration_nsec: s.duration.subsec_nanos(),
        idle_timeout: s.spec.idle_timeout,
        hard_timeout: s.spec.hard_timeout,
        packet_count: s.packets,
        byte_count: s.bytes,
        matching: s.spec.matching.clone(),
    }
}

/// OFPMP_TABLE entries, one per pipeline table.
pub fn table_stats(stats: &[PipeTableStats]) -> Vec<TableStats> {
    stats
        .iter()
        .map(|t| TableStats {
            table_id: t.table,
            active_count: u32::try_from(t.active).unwrap_or(u32::MAX),
            lookup_count: t.lookups,
            matched_count: t.matched,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wyvern_pipeline::action::InstructionError;
    use wyvern_pipeline::flow_match::MatchError;

    use crate::error::{BadInstructionCode, BadMatchCode};

    #[test]
    fn batch_errors_map_to_their_codes() {
        assert_eq!(
            flow_mod_error(&FlowModError::BadTable(255)),
            OfError::FlowModFailed(FlowModFailedCode::BadTableId)
        );
        assert_eq!(
            flow_mod_error(&FlowModError::Overlap(5)),
            OfError::FlowModFailed(FlowModFailedCode::Overlap)
        );
        assert_eq!(
            flow_mod_error(&FlowModError::TableFull { table: 0, limit: 1 }),
            OfError::FlowModFailed(FlowModFailedCode::TableFull)
        );
        assert_eq!(
            flow_mod_error(&FlowModError::BadMatch(MatchError::Duplicate {
                field: Field::InPort
            })),
            OfError::BadMatch(BadMatchCode::DupField)
        );
        assert_eq!(
            flow_mod_error(&FlowModError::BadInstructions(
                InstructionError::GotoBackwards { from: 5, to: 1 }
            )),
            OfError::BadInstruction(BadInstructionCode::BadTableId)
        );
    }
}

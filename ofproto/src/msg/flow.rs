//! FLOW_MOD and FLOW_REMOVED, and the flow-stats entry they share a layout with.

use std::time::Duration;

use wyvern_pipeline::action::{MAX_TABLE, PortNo, validate_instructions};
use wyvern_pipeline::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec, FlowStats};
use wyvern_pipeline::flow_match::Match;

use crate::error::{DecodeError, FlowModFailedCode, Layer};
use crate::msg::buf::{Put, Reader, len16};
use crate::oxm::{decode_match, encode_match};
use crate::wire_action::{decode_instructions, encode_instructions};

/// `buffer_id` meaning "no buffered packet".
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// OFPG_ANY.
pub const GROUP_ANY: u32 = 0xffff_ffff;

/// OFPT_FLOW_MOD.
///
/// OpenFlow 1.3.5 §7.3.4.1: `struct ofp_flow_mod { header; uint64_t cookie; uint64_t
/// cookie_mask; uint8_t table_id; uint8_t command; uint16_t idle_timeout; uint16_t hard_timeout;
/// uint16_t priority; uint32_t buffer_id; uint32_t out_port; uint32_t out_group; uint16_t flags;
/// uint8_t pad[2]; struct ofp_match match; /* followed by instructions */ }` —
/// "OFP_ASSERT(sizeof(struct ofp_flow_mod) == 56)".
///
/// The pipeline's [`FlowMod`] carries everything but `buffer_id` and `out_group`, kept here.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowModMsg {
    pub flow_mod: FlowMod,
    pub buffer_id: u32,
    pub out_group: u32,
}

impl FlowModMsg {
    /// A flow mod with `buffer_id` NO_BUFFER and `out_group` ANY.
    pub fn new(flow_mod: FlowMod) -> Self {
        FlowModMsg {
            flow_mod,
            buffer_id: NO_BUFFER,
            out_group: GROUP_ANY,
        }
    }

    /// Decodes and checks: command, table, flags, match prerequisites and instructions (for
    /// add and modify, `goto_table` must go forward).
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let cookie = r.u64()?;
        let cookie_mask = r.u64()?;
        let table = r.u8()?;
        let command = match r.u8()? {
            0 => FlowModCommand::Add,
            1 => FlowModCommand::Modify,
            2 => FlowModCommand::ModifyStrict,
            3 => FlowModCommand::Delete,
            4 => FlowModCommand::DeleteStrict,
            c => {
                return Err(DecodeError::FlowMod {
                    code: FlowModFailedCode::BadCommand,
                    detail: format!("flow mod command {c}"),
                });
            }
        };
        let idle_timeout = r.u16()?;
        let hard_timeout = r.u16()?;
        let priority = r.u16()?;
        let buffer_id = r.u32()?;
        let out_port = PortNo(r.u32()?);
        let out_group = r.u32()?;
        let flags = r.u16()?;
        r.skip(2)?;
        let matching = decode_match(&mut r)?;
        let instructions = decode_instructions(r.rest())?;
        if flags & !0x1f != 0 {
            return Err(DecodeError::FlowMod {
                code: FlowModFailedCode::BadFlags,
                detail: format!("flow mod flags {flags:#x}"),
            });
        }
        let adds = matches!(
            command,
            FlowModCommand::Add | FlowModCommand::Modify | FlowModCommand::ModifyStrict
        );
        if adds && table > MAX_TABLE {
            return Err(DecodeError::FlowMod {
                code: FlowModFailedCode::BadTableId,
                detail: format!("table {table} for an add or modify"),
            });
        }
        matching.validate()?;
        if table <= MAX_TABLE {
            validate_instructions(table, &instructions)?;
        }
        Ok(FlowModMsg {
            flow_mod: FlowMod {
                command,
                spec: FlowSpec {
                    table,
                    priority,
                    cookie,
                    idle_timeout,
                    hard_timeout,
                    flags: FlowFlags(flags),
                    matching,
                    instructions,
                },
                cookie_mask,
                out_port,
            },
            buffer_id,
            out_group,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let fm = &self.flow_mod;
        let s = &fm.spec;
        out.put_u64(s.cookie);
        out.put_u64(fm.cookie_mask);
        out.put_u8(s.table);
        out.put_u8(match fm.command {
            FlowModCommand::Add => 0,
            FlowModCommand::Modify => 1,
            FlowModCommand::ModifyStrict => 2,
            FlowModCommand::Delete => 3,
            FlowModCommand::DeleteStrict => 4,
        });
        out.put_u16(s.idle_timeout);
        out.put_u16(s.hard_timeout);
        out.put_u16(s.priority);
        out.put_u32(self.buffer_id);
        out.put_u32(fm.out_port.0);
        out.put_u32(self.out_group);
        out.put_u16(s.flags.0);
        out.put_zeros(2);
        encode_match(&s.matching, out);
        encode_instructions(&s.instructions, out);
    }
}

wire_enum! {
    /// `ofp_flow_removed_reason`.
    pub enum FlowRemovedReason: u8 { IdleTimeout = 0, HardTimeout = 1, Delete = 2, GroupDelete = 3 }
}

/// OFPT_FLOW_REMOVED.
///
/// OpenFlow 1.3.5 §7.4.2: `struct ofp_flow_removed { header; uint64_t cookie; uint16_t priority;
/// uint8_t reason; uint8_t table_id; uint32_t duration_sec; uint32_t duration_nsec; uint16_t
/// idle_timeout; uint16_t hard_timeout; uint64_t packet_count; uint64_t byte_count; struct
/// ofp_match match; }` — "OFP_ASSERT(sizeof(struct ofp_flow_removed) == 56)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: FlowRemovedReason,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub matching: Match,
}

impl FlowRemoved {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let f = FlowRemoved {
            cookie: r.u64()?,
            priority: r.u16()?,
            reason: FlowRemovedReason::from_raw(r.u8()?),
            table_id: r.u8()?,
            duration_sec: r.u32()?,
            duration_nsec: r.u32()?,
            idle_timeout: r.u16()?,
            hard_timeout: r.u16()?,
            packet_count: r.u64()?,
            byte_count: r.u64()?,
            matching: decode_match(&mut r)?,
        };
        crate::msg::switch::exact_end(&r)?;
        Ok(f)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.cookie);
        out.put_u16(self.priority);
        out.put_u8(self.reason.raw());
        out.put_u8(self.table_id);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        encode_match(&self.matching, out);
    }
}

/// Decodes one `ofp_flow_stats` entry.
///
/// OpenFlow 1.3.5 §7.3.5.2: `struct ofp_flow_stats { uint16_t length; uint8_t table_id; uint8_t
/// pad; uint32_t duration_sec; uint32_t duration_nsec; uint16_t priority; uint16_t idle_timeout;
/// uint16_t hard_timeout; uint16_t flags; uint8_t pad2[4]; uint64_t cookie; uint64_t
/// packet_count; uint64_t byte_count; struct ofp_match match; /* followed by instructions */ }`.
///
/// The match and instructions come back in the order the flow was installed with, so
/// `ovs-ofctl dump-flows` prints what was given. Nothing is validated: this is the switch's own
/// output.
pub(crate) fn decode_flow_stats(r: &mut Reader<'_>) -> Result<FlowStats, DecodeError> {
    let len = usize::from(r.clone().u16()?);
    if len < 56 {
        return Err(DecodeError::BadLength {
            layer: Layer::Message,
            what: "ofp_flow_stats",
            len,
        });
    }
    let mut e = Reader::new(r.bytes(len)?, Layer::Message);
    e.skip(2)?;
    let table = e.u8()?;
    e.skip(1)?;
    let sec = e.u32()?;
    let nsec = e.u32()?;
    let priority = e.u16()?;
    let idle_timeout = e.u16()?;
    let hard_timeout = e.u16()?;
    let flags = FlowFlags(e.u16()?);
    e.skip(4)?;
    let cookie = e.u64()?;
    let packets = e.u64()?;
    let bytes = e.u64()?;
    let matching = decode_match(&mut e)?;
    let instructions = decode_instructions(e.rest())?;
    Ok(FlowStats {
        spec: FlowSpec {
            table,
            priority,
            cookie,
            idle_timeout,
            hard_timeout,
            flags,
            matching,
            instructions,
        },
        duration: Duration::new(u64::from(sec), nsec),
        packets,
        bytes,
    })
}

/// Encodes one `ofp_flow_stats` entry (durations past `u32::MAX` seconds saturate).
pub(crate) fn encode_flow_stats(f: &FlowStats, out: &mut Vec<u8>) {
    let start = out.len();
    let s = &f.spec;
    out.put_u16(0);
    out.put_u8(s.table);
    out.put_zeros(1);
    out.put_u32(u32::try_from(f.duration.as_secs()).unwrap_or(u32::MAX));
    out.put_u32(f.duration.subsec_nanos());
    out.put_u16(s.priority);
    out.put_u16(s.idle_timeout);
    out.put_u16(s.hard_timeout);
    out.put_u16(s.flags.0);
    out.put_zeros(4);
    out.put_u64(s.cookie);
    out.put_u64(f.packets);
    out.put_u64(f.bytes);
    encode_match(&s.matching, out);
    encode_instructions(&s.instructions, out);
    let len = len16(out.len() - start);
    out.set_u16(start, len);
}

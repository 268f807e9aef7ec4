//! Actions and instructions on the wire.
//!
//! OpenFlow 1.3.5 §7.2.5: "An action definition contains the action type, length, and any
//! associated data … The length field is the length of the action, including any padding to make
//! it 64-bit aligned." §7.2.4: "Instructions … the length field is the length of the
//! instruction, including any padding to make it 64-bit aligned".
//!
//! Standard actions: OUTPUT (0), PUSH_VLAN (17), POP_VLAN (18), DEC_NW_TTL (24), SET_FIELD (25).
//! Nicira actions (`OFPAT_EXPERIMENTER`, experimenter 0x00002320): RESUBMIT (1), REG_MOVE (6),
//! REG_LOAD (7), RESUBMIT_TABLE (14), and REG_LOAD2 (33) for loads wider than 64 bits. Any other
//! action is an error with the code OpenFlow prescribes (`OFPBAC_BAD_TYPE`,
//! `OFPBAC_BAD_EXPERIMENTER`, `OFPBAC_BAD_EXP_TYPE`); the pipeline's [`Action`] has no room for
//! it.

use wyvern_pipeline::action::{Action, Instruction, PortNo};
use wyvern_pipeline::field::{Field, FieldRange};

use crate::error::{BadActionCode, BadInstructionCode, DecodeError, Layer};
use crate::msg::buf::{Put, Reader, len16, round8};
use crate::oxm::{self, OxmHeader};

pub const OFPAT_OUTPUT: u16 = 0;
pub const OFPAT_PUSH_VLAN: u16 = 17;
pub const OFPAT_POP_VLAN: u16 = 18;
pub const OFPAT_DEC_NW_TTL: u16 = 24;
pub const OFPAT_SET_FIELD: u16 = 25;
pub const OFPAT_EXPERIMENTER: u16 = 0xffff;

/// Nicira's experimenter id.
pub const NX_VENDOR_ID: u32 = 0x0000_2320;
pub const NXAST_RESUBMIT: u16 = 1;
pub const NXAST_REG_MOVE: u16 = 6;
pub const NXAST_REG_LOAD: u16 = 7;
pub const NXAST_RESUBMIT_TABLE: u16 = 14;
pub const NXAST_REG_LOAD2: u16 = 33;

pub const OFPIT_GOTO_TABLE: u16 = 1;
pub const OFPIT_WRITE_METADATA: u16 = 2;
pub const OFPIT_WRITE_ACTIONS: u16 = 3;
pub const OFPIT_APPLY_ACTIONS: u16 = 4;
pub const OFPIT_CLEAR_ACTIONS: u16 = 5;
pub const OFPIT_METER: u16 = 6;
pub const OFPIT_EXPERIMENTER: u16 = 0xffff;

/// The OpenFlow 1.0 16-bit form of a port, as NXAST_RESUBMIT carries it.
fn port_to_16(p: PortNo) -> u16 {
    if p.0 >= 0xffff_ff00 {
        (p.0 - 0xffff_0000) as u16
    } else {
        p.0 as u16
    }
}

fn port_from_16(p: u16) -> PortNo {
    if p >= 0xff00 {
        PortNo(u32::from(p) + 0xffff_0000)
    } else {
        PortNo(u32::from(p))
    }
}

fn bad(code: BadActionCode, detail: impl Into<String>) -> DecodeError {
    DecodeError::bad_action(code, detail)
}

/// Decodes a field header inside an action (set_field, move, load); problems become action
/// errors (`set` picks the SET_FIELD codes).
fn action_field(h: OxmHeader, set: bool) -> Result<Field, DecodeError> {
    let (ty, len, arg) = if set {
        (
            BadActionCode::BadSetType,
            BadActionCode::BadSetLen,
            BadActionCode::BadSetArgument,
        )
    } else {
        (
            BadActionCode::BadArgument,
            BadActionCode::BadLen,
            BadActionCode::BadArgument,
        )
    };
    if h.hasmask() && set {
        return Err(bad(
            arg,
            format!("set_field header {:#010x} has a mask", h.0),
        ));
    }
    oxm::field_of(h).map_err(|e| match e {
        DecodeError::BadLength { .. } => bad(len, e.to_string()),
        other => bad(ty, other.to_string()),
    })
}

/// Decodes one action from the front of `r`.
fn decode_action(r: &mut Reader<'_>) -> Result<Action, DecodeError> {
    let mut hr = r.clone();
    let typ = hr.u16()?;
    let len = usize::from(hr.u16()?);
    if len < 8 || !len.is_multiple_of(8) {
        return Err(DecodeError::BadLength {
            layer: Layer::Action,
            what: "action",
            len,
        });
    }
    let mut a = Reader::new(r.bytes(len)?, Layer::Action);
    a.skip(4)?;
    let fixed = |want: usize| {
        if len == want {
            Ok(())
        } else {
            Err(DecodeError::BadLength {
                layer: Layer::Action,
                what: "action of fixed size",
                len,
            })
        }
    };
    match typ {
        OFPAT_OUTPUT => {
            fixed(16)?;
            let port = PortNo(a.u32()?);
            let max_len = a.u16()?;
            Ok(Action::Output { port, max_len })
        }
        OFPAT_PUSH_VLAN => {
            fixed(8)?;
            Ok(Action::PushVlan {
                ethertype: a.u16()?,
            })
        }
        OFPAT_POP_VLAN => fixed(8).map(|_| Action::PopVlan),
        OFPAT_DEC_NW_TTL => fixed(8).map(|_| Action::DecTtl),
        OFPAT_SET_FIELD => {
            let h = OxmHeader(a.u32()?);
            let field = action_field(h, true)?;
            let n = oxm::wire_len(field);
            if round8(8 + n) != len {
                return Err(bad(
                    BadActionCode::BadSetLen,
                    format!("set_field of {n} bytes in an action of {len}"),
                ));
            }
            let value = oxm::be_value(a.bytes(n)?);
            if value & !field.full_mask() != 0 {
                return Err(bad(
                    BadActionCode::BadSetArgument,
                    format!("set_field value {value:#x} too wide"),
                ));
            }
            Ok(Action::SetField { field, value })
        }
        OFPAT_EXPERIMENTER => {
            let exp = a.u32()?;
            if exp != NX_VENDOR_ID {
                return Err(bad(
                    BadActionCode::BadExperimenter,
                    format!("experimenter {exp:#010x}"),
                ));
            }
            decode_nx_action(a.u16()?, len, &mut a)
        }
        other => Err(bad(
            BadActionCode::BadType,
            format!("action type {other} is not supported"),
        )),
    }
}

fn decode_nx_action(subtype: u16, len: usize, a: &mut Reader<'_>) -> Result<Action, DecodeError> {
    let fixed = |want: usize| {
        if len == want {
            Ok(())
        } else {
            Err(DecodeError::BadLength {
                layer: Layer::Action,
                what: "Nicira action",
                len,
            })
        }
    };
    let range = |f: Field, ofs: u16, bits: u16| {
        FieldRange::new(f, ofs, bits).ok_or_else(|| {
            bad(
                BadActionCode::BadArgument,
                format!("bits {ofs}+{bits} outside {}", f.info().nxm_name),
            )
        })
    };
    match subtype {
        NXAST_RESUBMIT | NXAST_RESUBMIT_TABLE => {
            fixed(16)?;
            let in_port = port_from_16(a.u16()?);
            let table = a.u8()?;
            let in_port = (in_port != PortNo::IN_PORT).then_some(in_port);
            let table = (subtype == NXAST_RESUBMIT_TABLE && table != 0xff).then_some(table);
            Ok(Action::Resubmit { in_port, table })
        }
        NXAST_REG_MOVE => {
            fixed(24)?;
            let n_bits = a.u16()?;
            let src_ofs = a.u16()?;
            let dst_ofs = a.u16()?;
            let src = action_field(OxmHeader(a.u32()?), false)?;
            let dst = action_field(OxmHeader(a.u32()?), false)?;
            Ok(Action::Move {
                src: range(src, src_ofs, n_bits)?,
                dst: range(dst, dst_ofs, n_bits)?,
            })
        }
        NXAST_REG_LOAD => {
            fixed(24)?;
            let ofs_nbits = a.u16()?;
            let dst = action_field(OxmHeader(a.u32()?), false)?;
            let value = u128::from(a.u64()?);
            let dst = range(dst, ofs_nbits >> 6, (ofs_nbits & 0x3f) + 1)?;
            if value >> dst.bits != 0 {
                return Err(bad(
                    BadActionCode::BadArgument,
                    format!("load value {value:#x} wider than {} bits", dst.bits),
                ));
            }
            Ok(Action::Load { dst, value })
        }
        NXAST_REG_LOAD2 => {
            let h = OxmHeader(a.u32()?);
            let masked = h.hasmask();
            let field = action_field(
                OxmHeader::new(
                    h.class(),
                    h.field(),
                    false,
                    h.len() / if masked { 2 } else { 1 },
                ),
                false,
            )?;
            let n = oxm::wire_len(field);
            let want = round8(10 + 4 + n * if masked { 2 } else { 1 });
            if want != len || (masked && usize::from(h.len()) != 2 * n) {
                return Err(DecodeError::BadLength {
                    layer: Layer::Action,
                    what: "NXAST_REG_LOAD2",
                    len,
                });
            }
            let v = oxm::be_value(a.bytes(n)?);
            let mask = if masked {
                oxm::be_value(a.bytes(n)?)
            } else {
                field.full_mask()
            };
            let ofs = mask.trailing_zeros().min(127) as u16;
            let bits = mask.count_ones() as u16;
            let dst = range(field, ofs, bits)?;
            if dst.mask() != mask || v & !mask != 0 {
                return Err(bad(
                    BadActionCode::BadArgument,
                    "load2 mask is not one run of bits covering the value",
                ));
            }
            Ok(Action::Load {
                dst,
                value: v >> ofs,
            })
        }
        other => Err(bad(
            BadActionCode::BadExpType,
            format!("Nicira action subtype {other} is not supported"),
        )),
    }
}

/// Decodes a list of actions that fills `bytes` exactly.
pub fn decode_actions(bytes: &[u8]) -> Result<Vec<Action>, DecodeError> {
    let mut r = Reader::new(bytes, Layer::Action);
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(decode_action(&mut r)?);
    }
    Ok(out)
}

fn nx_header(out: &mut Vec<u8>, len: u16, subtype: u16) {
    out.put_u16(OFPAT_EXPERIMENTER);
    out.put_u16(len);
    out.put_u32(NX_VENDOR_ID);
    out.put_u16(subtype);
}

/// Encodes one action.
///
/// Values the wire cannot carry are written as close as it allows: a resubmit `in_port` above
/// 0xff00 that is not reserved keeps its low 16 bits.
pub fn encode_action(action: &Action, out: &mut Vec<u8>) {
    let start = out.len();
    match action {
        Action::Output { port, max_len } => {
            out.put_u16(OFPAT_OUTPUT);
            out.put_u16(16);
            out.put_u32(port.0);
            out.put_u16(*max_len);
            out.put_zeros(6);
        }
        Action::PushVlan { ethertype } => {
            out.put_u16(OFPAT_PUSH_VLAN);
            out.put_u16(8);
            out.put_u16(*ethertype);
            out.put_zeros(2);
        }
        Action::PopVlan => {
            out.put_u16(OFPAT_POP_VLAN);
            out.put_u16(8);
            out.put_zeros(4);
        }
        Action::DecTtl => {
            out.put_u16(OFPAT_DEC_NW_TTL);
            out.put_u16(8);
            out.put_zeros(4);
        }
        Action::SetField { field, value } => {
            let h = oxm::oxm_header(*field);
            out.put_u16(OFPAT_SET_FIELD);
            out.put_u16(len16(round8(8 + usize::from(h.len()))));
            oxm::write_entry(out, h, *value, None);
            out.pad_to_8(start);
        }
        Action::Move { src, dst } => {
            nx_header(out, 24, NXAST_REG_MOVE);
            out.put_u16(src.bits);
            out.put_u16(src.offset);
            out.put_u16(dst.offset);
            out.put_u32(oxm::nxm_header(src.field).0);
            out.put_u32(oxm::nxm_header(dst.field).0);
        }
        Action::Load { dst, value } if dst.bits <= 64 => {
            nx_header(out, 24, NXAST_REG_LOAD);
            out.put_u16(dst.offset << 6 | (dst.bits - 1));
            out.put_u32(oxm::nxm_header(dst.field).0);
            out.put_u64(*value as u64);
        }
        Action::Load { dst, value } => {
            let h = oxm::nxm_header(dst.field);
            let n = usize::from(h.len());
            let masked = !dst.is_whole();
            nx_header(
                out,
                len16(round8(14 + n * (1 + usize::from(masked)))),
                NXAST_REG_LOAD2,
            );
            let mask = masked.then_some(dst.mask());
            oxm::write_entry(out, h, value << dst.offset, mask);
            out.pad_to_8(start);
        }
        Action::Resubmit { in_port, table } => {
            let subtype = if table.is_some() {
                NXAST_RESUBMIT_TABLE
            } else {
                NXAST_RESUBMIT
            };
            nx_header(out, 16, subtype);
            out.put_u16(port_to_16(in_port.unwrap_or(PortNo::IN_PORT)));
            out.put_u8(if subtype == NXAST_RESUBMIT {
                0
            } else {
                table.unwrap_or(0xff)
            });
            out.put_zeros(3);
        }
    }
}

/// Encodes a list of actions.
pub fn encode_actions(actions: &[Action], out: &mut Vec<u8>) {
    for a in actions {
        encode_action(a, out);
    }
}

/// Decodes a list of instructions that fills `bytes` exactly.
pub fn decode_instructions(bytes: &[u8]) -> Result<Vec<Instruction>, DecodeError> {
    let mut r = Reader::new(bytes, Layer::Instruction);
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut hr = r.clone();
        let typ = hr.u16()?;
        let len = usize::from(hr.u16()?);
        if len < 8 || !len.is_multiple_of(8) {
            return Err(DecodeError::BadLength {
                layer: Layer::Instruction,
                what: "instruction",
                len,
            });
        }
        let mut i = Reader::new(r.bytes(len)?, Layer::Instruction);
        i.skip(4)?;
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(DecodeError::BadLength {
                    layer: Layer::Instruction,
                    what: "instruction of fixed size",
                    len,
                })
            }
        };
        out.push(match typ {
            OFPIT_GOTO_TABLE => {
                fixed(8)?;
                Instruction::GotoTable(i.u8()?)
            }
            OFPIT_WRITE_METADATA => {
                fixed(24)?;
                i.skip(4)?;
                Instruction::WriteMetadata {
                    value: i.u64()?,
                    mask: i.u64()?,
                }
            }
            OFPIT_WRITE_ACTIONS | OFPIT_APPLY_ACTIONS => {
                i.skip(4)?;
                let actions = decode_actions(i.rest())?;
                if typ == OFPIT_WRITE_ACTIONS {
                    Instruction::WriteActions(actions)
                } else {
                    Instruction::ApplyActions(actions)
                }
            }
            OFPIT_CLEAR_ACTIONS => {
                fixed(8)?;
                Instruction::ClearActions
            }
            OFPIT_METER => {
                return Err(DecodeError::bad_inst(
                    BadInstructionCode::UnsupInst,
                    "meter instruction is not supported",
                ));
            }
            OFPIT_EXPERIMENTER => {
                return Err(DecodeError::bad_inst(
                    BadInstructionCode::BadExperimenter,
                    "experimenter instructions are not supported",
                ));
            }
            other => {
                return Err(DecodeError::bad_inst(
                    BadInstructionCode::UnknownInst,
                    format!("instruction type {other}"),
                ));
            }
        });
    }
    Ok(out)
}

/// Encodes a list of instructions in the order given.
pub fn encode_instructions(insts: &[Instruction], out: &mut Vec<u8>) {
    for inst in insts {
        let start = out.len();
        match inst {
            Instruction::GotoTable(t) => {
                out.put_u16(OFPIT_GOTO_TABLE);
                out.put_u16(8);
                out.put_u8(*t);
                out.put_zeros(3);
            }
            Instruction::WriteMetadata { value, mask } => {
                out.put_u16(OFPIT_WRITE_METADATA);
                out.put_u16(24);
                out.put_zeros(4);
                out.put_u64(*value);
                out.put_u64(*mask);
            }
            Instruction::ApplyActions(actions) | Instruction::WriteActions(actions) => {
                let typ = if matches!(inst, Instruction::ApplyActions(_)) {
                    OFPIT_APPLY_ACTIONS
                } else {
                    OFPIT_WRITE_ACTIONS
                };
                out.put_u16(typ);
                out.put_u16(0);
                out.put_zeros(4);
                encode_actions(actions, out);
                let len = len16(out.len() - start);
                out.set_u16(start + 2, len);
            }
            Instruction::ClearActions => {
                out.put_u16(OFPIT_CLEAR_ACTIONS);
                out.put_u16(8);
                out.put_zeros(4);
            }
        }
    }
}

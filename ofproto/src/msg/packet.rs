//! PACKET_IN and PACKET_OUT.

use wyvern_pipeline::action::{Action, PortNo, validate_action};
use wyvern_pipeline::flow_match::Match;

use crate::error::{DecodeError, Layer};
use crate::msg::buf::{Put, Reader, len16};
use crate::oxm::{decode_match, encode_match};
use crate::wire_action::{decode_actions, encode_actions};

wire_enum! {
    /// `ofp_packet_in_reason`.
    pub enum PacketInReason: u8 { NoMatch = 0, Action = 1, InvalidTtl = 2 }
}

/// OFPT_PACKET_IN.
///
/// OpenFlow 1.3.5 §7.4.1: `struct ofp_packet_in { header; uint32_t buffer_id; uint16_t
/// total_len; uint8_t reason; uint8_t table_id; uint64_t cookie; struct ofp_match match; /*
/// Followed by: - Exactly 2 all-zero padding bytes, then - An Ethernet frame whose length is
/// inferred from header.length. */ }`. The match carries the pipeline fields (`in_port`,
/// `metadata`, `tunnel_id`, registers) of the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: PacketInReason,
    pub table_id: u8,
    pub cookie: u64,
    pub matching: Match,
    pub data: Vec<u8>,
}

impl PacketIn {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let buffer_id = r.u32()?;
        let total_len = r.u16()?;
        let reason = PacketInReason::from_raw(r.u8()?);
        let table_id = r.u8()?;
        let cookie = r.u64()?;
        let matching = decode_match(&mut r)?;
        r.skip(2)?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            matching,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        out.put_u8(self.reason.raw());
        out.put_u8(self.table_id);
        out.put_u64(self.cookie);
        encode_match(&self.matching, out);
        out.put_zeros(2);
        out.extend_from_slice(&self.data);
    }
}

/// OFPT_PACKET_OUT.
///
/// OpenFlow 1.3.5 §7.3.7: `struct ofp_packet_out { header; uint32_t buffer_id; uint32_t
/// in_port; uint16_t actions_len; uint8_t pad[6]; struct ofp_action_header actions[0]; /*
/// uint8_t data[0]; */ }` — "The data field is only meaningful if buffer_id == -1
/// (OFP_NO_BUFFER)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketOut {
    pub buffer_id: u32,
    pub in_port: PortNo,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let buffer_id = r.u32()?;
        let in_port = PortNo(r.u32()?);
        let actions_len = usize::from(r.u16()?);
        r.skip(6)?;
        let actions = decode_actions(r.bytes(actions_len)?)?;
        for a in &actions {
            validate_action(a)?;
        }
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.buffer_id);
        out.put_u32(self.in_port.0);
        let at = out.len();
        out.put_u16(0);
        out.put_zeros(6);
        let start = out.len();
        encode_actions(&self.actions, out);
        let len = len16(out.len() - start);
        out.set_u16(at, len);
        out.extend_from_slice(&self.data);
    }
}

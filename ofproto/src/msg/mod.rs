//! OpenFlow 1.3 messages as version-free structs, one module per message family.
//!
//! [`Message`] is the one flat enum the endpoint dispatches on. Each family module decodes a
//! message *body* (the bytes after the 8-byte header) into its struct and encodes it back;
//! [`crate::codec`] adds and checks the header.

pub(crate) mod buf;
pub mod experimenter;
pub mod flow;
pub mod hello;
pub mod multipart;
pub mod packet;
pub mod port;
pub mod switch;
pub mod table_features;

use crate::error::DecodeError;

pub use experimenter::{BundleAdd, BundleControl, BundleCtrlType, Experimenter};
pub use flow::{FlowModMsg, FlowRemoved, FlowRemovedReason};
pub use hello::{ErrorMsg, Hello, HelloElement};
pub use multipart::{MpReply, MpRequest, MultipartReply, MultipartRequest};
pub use packet::{PacketIn, PacketInReason, PacketOut};
pub use port::{PortDesc, PortMod, PortReason, PortStatus};
pub use switch::{AsyncConfig, ControllerRole, FeaturesReply, Role, SwitchConfig, TableMod};
pub use table_features::{TableFeatureProp, TableFeatures};

/// `ofp_type` values.
pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;
}

/// Every OpenFlow 1.3 message wyvern understands.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter(Experimenter),
    FeaturesRequest,
    FeaturesReply(FeaturesReply),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowModMsg),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
}

impl Message {
    /// The `ofp_type` of this message.
    pub fn msg_type(&self) -> u8 {
        use Message::*;
        use msg_type as t;
        match self {
            Hello(_) => t::HELLO,
            Error(_) => t::ERROR,
            EchoRequest(_) => t::ECHO_REQUEST,
            EchoReply(_) => t::ECHO_REPLY,
            Experimenter(_) => t::EXPERIMENTER,
            FeaturesRequest => t::FEATURES_REQUEST,
            FeaturesReply(_) => t::FEATURES_REPLY,
            GetConfigRequest => t::GET_CONFIG_REQUEST,
            GetConfigReply(_) => t::GET_CONFIG_REPLY,
            SetConfig(_) => t::SET_CONFIG,
            PacketIn(_) => t::PACKET_IN,
            FlowRemoved(_) => t::FLOW_REMOVED,
            PortStatus(_) => t::PORT_STATUS,
            PacketOut(_) => t::PACKET_OUT,
            FlowMod(_) => t::FLOW_MOD,
            PortMod(_) => t::PORT_MOD,
            TableMod(_) => t::TABLE_MOD,
            MultipartRequest(_) => t::MULTIPART_REQUEST,
            MultipartReply(_) => t::MULTIPART_REPLY,
            BarrierRequest => t::BARRIER_REQUEST,
            BarrierReply => t::BARRIER_REPLY,
            RoleRequest(_) => t::ROLE_REQUEST,
            RoleReply(_) => t::ROLE_REPLY,
            GetAsyncRequest => t::GET_ASYNC_REQUEST,
            GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            SetAsync(_) => t::SET_ASYNC,
        }
    }

    /// Decodes a message body of type `msg_type`.
    pub fn decode_body(typ: u8, body: &[u8]) -> Result<Message, DecodeError> {
        use msg_type as t;
        let empty = |m: Message| {
            if body.is_empty() {
                Ok(m)
            } else {
                Err(DecodeError::BadLength {
                    layer: crate::error::Layer::Message,
                    what: "message that has no body",
                    len: body.len(),
                })
            }
        };
        Ok(match typ {
            t::HELLO => Message::Hello(Hello::decode(body)?),
            t::ERROR => Message::Error(ErrorMsg::decode(body)?),
            t::ECHO_REQUEST => Message::EchoRequest(body.to_vec()),
            t::ECHO_REPLY => Message::EchoReply(body.to_vec()),
            t::EXPERIMENTER => Message::Experimenter(Experimenter::decode(body)?),
            t::FEATURES_REQUEST => empty(Message::FeaturesRequest)?,
            t::FEATURES_REPLY => Message::FeaturesReply(FeaturesReply::decode(body)?),
            t::GET_CONFIG_REQUEST => empty(Message::GetConfigRequest)?,
            t::GET_CONFIG_REPLY => Message::GetConfigReply(SwitchConfig::decode(body)?),
            t::SET_CONFIG => Message::SetConfig(SwitchConfig::decode(body)?),
            t::PACKET_IN => Message::PacketIn(PacketIn::decode(body)?),
            t::FLOW_REMOVED => Message::FlowRemoved(FlowRemoved::decode(body)?),
            t::PORT_STATUS => Message::PortStatus(PortStatus::decode(body)?),
            t::PACKET_OUT => Message::PacketOut(PacketOut::decode(body)?),
            t::FLOW_MOD => Message::FlowMod(FlowModMsg::decode(body)?),
            t::PORT_MOD => Message::PortMod(PortMod::decode(body)?),
            t::TABLE_MOD => Message::TableMod(TableMod::decode(body)?),
            t::MULTIPART_REQUEST => Message::MultipartRequest(MultipartRequest::decode(body)?),
            t::MULTIPART_REPLY => Message::MultipartReply(MultipartReply::decode(body)?),
            t::BARRIER_REQUEST => empty(Message::BarrierRequest)?,
            t::BARRIER_REPLY => empty(Message::BarrierReply)?,
            t::ROLE_REQUEST => Message::RoleRequest(Role::decode(body)?),
            t::ROLE_REPLY => Message::RoleReply(Role::decode(body)?),
            t::GET_ASYNC_REQUEST => empty(Message::GetAsyncRequest)?,
            t::GET_ASYNC_REPLY => Message::GetAsyncReply(AsyncConfig::decode(body)?),
            t::SET_ASYNC => Message::SetAsync(AsyncConfig::decode(body)?),
            other => return Err(DecodeError::BadType(other)),
        })
    }

    /// Appends the body (everything after the header) to `out`.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        use Message::*;
        match self {
            Hello(h) => h.encode(out),
            Error(e) => e.encode(out),
            EchoRequest(d) | EchoReply(d) => out.extend_from_slice(d),
            Experimenter(e) => e.encode(out),
            FeaturesRequest | GetConfigRequest | BarrierRequest | BarrierReply
            | GetAsyncRequest => {}
            FeaturesReply(f) => f.encode(out),
            GetConfigReply(c) | SetConfig(c) => c.encode(out),
            PacketIn(p) => p.encode(out),
            FlowRemoved(f) => f.encode(out),
            PortStatus(p) => p.encode(out),
            PacketOut(p) => p.encode(out),
            FlowMod(f) => f.encode(out),
            PortMod(p) => p.encode(out),
            TableMod(t) => t.encode(out),
            MultipartRequest(m) => m.encode(out),
            MultipartReply(m) => m.encode(out),
            RoleRequest(r) | RoleReply(r) => r.encode(out),
            GetAsyncReply(a) | SetAsync(a) => a.encode(out),
        }
    }
}

#[cfg(test)]
pub(crate) mod golden;
#[cfg(test)]
mod tests;

//! OFPT_EXPERIMENTER: Nicira's NXT_SET_PACKET_IN_FORMAT, the ONF bundle messages, wyvern's own
//! admin request and reply, and any other experimenter message kept raw.
//!
//! OpenFlow 1.3.5 §7.5.4: `struct ofp_experimenter_header { header; uint32_t experimenter;
//! uint32_t exp_type; /* Experimenter-defined arbitrary additional data. */ }`.
//!
//! ONF extension 230 (bundles, as OVS sends them under OpenFlow 1.3): BUNDLE_CONTROL (exp_type
//! 2300) is `bundle_id(4) type(2) flags(2)` and properties; BUNDLE_ADD_MESSAGE (2301) is
//! `bundle_id(4) pad(2) flags(2)`, then a whole OpenFlow message (its own header and xid), then
//! padding and properties.
//!
//! wyvern's admin messages (experimenter [`WYVERN_EXPERIMENTER`]) carry what `ovs-appctl` and
//! `ovs-vsctl` do for Open vSwitch — `trace`, `add-port`, `del-port`, `topology apply` — over the
//! same OpenFlow connection the client verbs use, so every connection string works for them
//! too. WYV_ADMIN_REQUEST (1) is the command's words, each followed by a NUL byte;
//! WYV_ADMIN_REPLY (2) is a status word (0: done, 1: failed) and UTF-8 text, with the request's
//! xid.

use crate::error::{DecodeError, Layer};
use crate::msg::Message;
use crate::msg::buf::{Put, Reader};

/// Nicira's experimenter id.
pub const NX_EXPERIMENTER: u32 = 0x0000_2320;
/// NXT_SET_PACKET_IN_FORMAT.
pub const NXT_SET_PACKET_IN_FORMAT: u32 = 16;
/// The ONF experimenter id.
pub const ONF_EXPERIMENTER: u32 = 0x4f4e_4600;
/// ONF_ET_BUNDLE_CONTROL.
pub const ONF_ET_BUNDLE_CONTROL: u32 = 2300;
/// ONF_ET_BUNDLE_ADD_MESSAGE.
pub const ONF_ET_BUNDLE_ADD_MESSAGE: u32 = 2301;

/// wyvern's experimenter id: "WYV" in the low three bytes.
pub const WYVERN_EXPERIMENTER: u32 = 0x0057_5956;
/// WYV_ADMIN_REQUEST: a command for the switch's admin handler.
pub const WYV_ADMIN_REQUEST: u32 = 1;
/// WYV_ADMIN_REPLY: what the command did.
pub const WYV_ADMIN_REPLY: u32 = 2;

/// OFPBF_ATOMIC.
pub const BUNDLE_ATOMIC: u16 = 1;
/// OFPBF_ORDERED.
pub const BUNDLE_ORDERED: u16 = 2;

wire_enum! {
    /// `ofp_bundle_ctrl_type`.
    pub enum BundleCtrlType: u16 {
        OpenRequest = 0, OpenReply = 1, CloseRequest = 2, CloseReply = 3, CommitRequest = 4,
        CommitReply = 5, DiscardRequest = 6, DiscardReply = 7,
    }
}

/// ONF BUNDLE_CONTROL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BundleControl {
    pub bundle_id: u32,
    pub ctrl_type: BundleCtrlType,
    pub flags: u16,
    /// Bundle properties, raw.
    pub properties: Vec<u8>,
}

/// ONF BUNDLE_ADD_MESSAGE.
#[derive(Clone, Debug, PartialEq)]
pub struct BundleAdd {
    pub bundle_id: u32,
    pub flags: u16,
    /// The xid in the inner message's header (`ovs-ofctl` uses the outer xid).
    pub xid: u32,
    pub message: Box<Message>,
    /// Padding after the inner message and any properties, raw.
    pub trailer: Vec<u8>,
}

/// An OFPT_EXPERIMENTER message.
#[derive(Clone, Debug, PartialEq)]
pub enum Experimenter {
    /// NXT_SET_PACKET_IN_FORMAT: 0 = standard, 1 = NXT_PACKET_IN, 2 = NXT_PACKET_IN2.
    SetPacketInFormat(u32),
    BundleControl(BundleControl),
    BundleAdd(BundleAdd),
    /// WYV_ADMIN_REQUEST: a command's words (none of them holds a NUL byte).
    AdminRequest(Vec<String>),
    /// WYV_ADMIN_REPLY: whether the command succeeded, and its output or error.
    AdminReply {
        ok: bool,
        text: String,
    },
    /// Anything else: the endpoint answers OFPBRC_BAD_EXPERIMENTER or BAD_EXP_TYPE.
    Other {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
}

impl Experimenter {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let experimenter = r.u32()?;
        let exp_type = r.u32()?;
        Ok(match (experimenter, exp_type) {
            (NX_EXPERIMENTER, NXT_SET_PACKET_IN_FORMAT) => {
                let f = r.u32()?;
                crate::msg::switch::exact_end(&r)?;
                Experimenter::SetPacketInFormat(f)
            }
            (ONF_EXPERIMENTER, ONF_ET_BUNDLE_CONTROL) => {
                Experimenter::BundleControl(BundleControl {
                    bundle_id: r.u32()?,
                    ctrl_type: BundleCtrlType::from_raw(r.u16()?),
                    flags: r.u16()?,
                    properties: r.rest().to_vec(),
                })
            }
            (ONF_EXPERIMENTER, ONF_ET_BUNDLE_ADD_MESSAGE) => {
                let bundle_id = r.u32()?;
                r.skip(2)?;
                let flags = r.u16()?;
                let rest = r.rest();
                let mut hr = Reader::new(rest, Layer::Message);
                hr.skip(2)?;
                let len = usize::from(hr.u16()?);
                let mut inner = Reader::new(rest, Layer::Message);
                let inner_bytes = inner.bytes(len.max(8))?;
                // A bundle inside a bundle is refused before decoding, which also bounds the
                // decoder's recursion to one level.
                if inner_bytes.get(1) == Some(&4)
                    && inner_bytes.get(8..12) == Some(&ONF_EXPERIMENTER.to_be_bytes()[..])
                {
                    return Err(DecodeError::bad_request(
                        crate::error::BadRequestCode::BadExpType,
                        "an ONF bundle message cannot be added to a bundle",
                    ));
                }
                let (h, message) = crate::codec::decode(inner_bytes)?;
                Experimenter::BundleAdd(BundleAdd {
                    bundle_id,
                    flags,
                    xid: h.xid,
                    message: Box::new(message),
                    trailer: inner.rest().to_vec(),
                })
            }
            (WYVERN_EXPERIMENTER, WYV_ADMIN_REQUEST) => {
                Experimenter::AdminRequest(admin_words(r.rest())?)
            }
            (WYVERN_EXPERIMENTER, WYV_ADMIN_REPLY) => {
                let ok = match r.u32()? {
                    0 => true,
                    1 => false,
                    _ => return Err(admin_error("an admin reply's status must be 0 or 1")),
                };
                let text = String::from_utf8(r.rest().to_vec())
                    .map_err(|_| admin_error("an admin reply's text is not UTF-8"))?;
                Experimenter::AdminReply { ok, text }
            }
            _ => Experimenter::Other {
                experimenter,
                exp_type,
                data: r.rest().to_vec(),
            },
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Experimenter::SetPacketInFormat(f) => {
                out.put_u32(NX_EXPERIMENTER);
                out.put_u32(NXT_SET_PACKET_IN_FORMAT);
                out.put_u32(*f);
            }
            Experimenter::BundleControl(b) => {
                out.put_u32(ONF_EXPERIMENTER);
                out.put_u32(ONF_ET_BUNDLE_CONTROL);
                out.put_u32(b.bundle_id);
                out.put_u16(b.ctrl_type.raw());
                out.put_u16(b.flags);
                out.extend_from_slice(&b.properties);
            }
            Experimenter::BundleAdd(b) => {
                out.put_u32(ONF_EXPERIMENTER);
                out.put_u32(ONF_ET_BUNDLE_ADD_MESSAGE);
                out.put_u32(b.bundle_id);
                out.put_zeros(2);
                out.put_u16(b.flags);
                out.extend_from_slice(&crate::codec::encode(&b.message, b.xid));
                out.extend_from_slice(&b.trailer);
            }
            Experimenter::AdminRequest(words) => {
                out.put_u32(WYVERN_EXPERIMENTER);
                out.put_u32(WYV_ADMIN_REQUEST);
                for w in words {
                    out.extend_from_slice(w.as_bytes());
                    out.push(0);
                }
            }
            Experimenter::AdminReply { ok, text } => {
                out.put_u32(WYVERN_EXPERIMENTER);
                out.put_u32(WYV_ADMIN_REPLY);
                out.put_u32(u32::from(!ok));
                out.extend_from_slice(text.as_bytes());
            }
            Experimenter::Other {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
        }
    }
}

fn admin_error(what: &'static str) -> DecodeError {
    DecodeError::bad_request(crate::error::BadRequestCode::BadLen, what)
}

/// The NUL-terminated words of an admin request.
fn admin_words(body: &[u8]) -> Result<Vec<String>, DecodeError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let Some(words) = body.strip_suffix(&[0]) else {
        return Err(admin_error("an admin request must end with a NUL byte"));
    };
    words
        .split(|&b| b == 0)
        .map(|w| {
            String::from_utf8(w.to_vec()).map_err(|_| admin_error("an admin request is not UTF-8"))
        })
        .collect()
}

//! # wyvern-ofproto: the OpenFlow 1.3 endpoint
//!
//! Decodes OpenFlow 1.3 messages (plus the Nicira and ONF extensions real tools send) into
//! version-free structs, serves connections from controllers and `ovs-ofctl`, and applies what
//! they ask to the pipeline through its control API.
//!
//! ## Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`client`] | a blocking OpenFlow 1.3 client (connect, HELLO, request/reply by xid, multipart reassembly, pipelined flow mods, bundles) |
//! | [`codec`] | framing: the 8-byte header, [`codec::decode`] / [`codec::encode`], the TCP stream [`codec::FrameSplitter`] |
//! | [`error`] | OFPT_ERROR types and codes as total enums, [`error::DecodeError`] and its (type, code) mapping |
//! | [`oxm`] | OXM / NXM headers ↔ [`wyvern_pipeline::field::Field`], `ofp_match` decode and encode |
//! | [`wire_action`] | actions (OpenFlow 1.3 plus NXAST_REG_MOVE / REG_LOAD / RESUBMIT) and instructions |
//! | [`msg`] | the [`msg::Message`] enum and one module per message family: |
//! | [`msg::hello`] | HELLO, ERROR, ECHO_REQUEST / ECHO_REPLY |
//! | [`msg::switch`] | FEATURES, GET/SET_CONFIG, TABLE_MOD, ROLE, GET/SET_ASYNC |
//! | [`msg::flow`] | FLOW_MOD, FLOW_REMOVED |
//! | [`msg::packet`] | PACKET_IN, PACKET_OUT |
//! | [`msg::port`] | `ofp_port`, PORT_STATUS, PORT_MOD |
//! | [`msg::multipart`] | MULTIPART request / reply (DESC, FLOW, AGGREGATE, TABLE, PORT_STATS, PORT_DESC, GROUP/METER_FEATURES) |
//! | [`msg::table_features`] | `ofp_table_features` and its properties, the TABLE_FEATURES reply builder |
//! | [`msg::experimenter`] | EXPERIMENTER: NXT_SET_PACKET_IN_FORMAT, ONF bundles (2300 / 2301), anything else raw |
//! | [`endpoint`] | listeners and controller connections (OVS connection strings), the shared switch state (roles, async config, fail mode), the control thread |
//! | [`conn`] | one connection's I/O: stream, outbox with its limits (replies paced, packet-ins shed, the rest bounded), reader and writer threads, inactivity probe |
//! | `handler` | the dispatch of every received message, without I/O |
//! | `flow_batch` | consecutive FLOW_MODs of a connection applied as one pipeline batch, each still its own transaction |
//! | [`translate`] | the one seam between wire structs and the pipeline's control API |
//! | [`ports`] | [`ports::PortProvider`], what the endpoint needs from whoever owns the ports |
//! | [`services`] | [`services::Services`]: the ports, admin commands and in-process controller the embedding process plugs in |
//!
//! Every decoder works on a byte slice, never panics, and turns anything it cannot accept into a
//! [`error::DecodeError`] that names the OFPT_ERROR (type, code) the endpoint should answer with.
#![forbid(unsafe_code)]

/// Declares a protocol enum that is total: every raw value decodes, unknown ones to
/// `Unknown(raw)`.
macro_rules! wire_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident : $raw:ty { $($(#[$vm:meta])* $var:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vm])* $var,)*
            /// A value this implementation does not know, kept as is.
            Unknown($raw),
        }
        impl $name {
            /// The variant for a raw wire value.
            pub fn from_raw(raw: $raw) -> Self {
                match raw {
                    $($val => $name::$var,)*
                    other => $name::Unknown(other),
                }
            }
            /// The raw wire value.
            pub fn raw(self) -> $raw {
                match self {
                    $($name::$var => $val,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

pub mod client;
pub mod codec;
pub mod conn;
pub mod endpoint;
pub mod error;
mod flow_batch;
mod handler;
pub mod msg;
pub mod oxm;
pub mod ports;
pub mod services;
pub mod translate;
pub mod wire_action;

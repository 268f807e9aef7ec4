//! `packet-out` (both syntaxes) and `monitor`.

use std::io::Write as _;

use clap::Args;
use wyvern_ofproto::client::ClientError;
use wyvern_ofproto::msg::flow::NO_BUFFER;
use wyvern_ofproto::msg::{Message, PacketOut, SwitchConfig};
use wyvern_pipeline::action::{Action, Instruction, PortNo};
use wyvern_pipeline::flow::FlowModCommand;
use wyvern_pipeline::text::parse_flow;

use super::print::{format_bytes, format_message};
use super::stats::parse_port;
use super::{Conn, OfctlError, parse_hex};

/// `packet-out`: `[TARGET] in_port=P,packet=HEX,actions=ACTIONS` or
/// `[TARGET] IN_PORT ACTIONS HEX...`.
#[derive(Debug, Args)]
pub struct PacketOutArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[arg(required = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `monitor`: `[TARGET] [MISS_LEN]`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// `[TARGET] [MISS_LEN]`: MISS_LEN sets miss_send_len with SET_CONFIG first.
    pub args: Vec<String>,
}

/// An action list in `actions=` syntax (`drop` or empty for none).
pub fn parse_actions(text: &str) -> Result<Vec<Action>, OfctlError> {
    let fm = parse_flow(&format!("actions={text}"), FlowModCommand::Add)
        .map_err(|e| OfctlError::Text(e.to_string()))?;
    match fm.spec.instructions.as_slice() {
        [] => Ok(Vec::new()),
        [Instruction::ApplyActions(a)] => Ok(a.clone()),
        _ => Err(OfctlError::Text(format!(
            "\"{text}\": a packet-out takes actions only, not instructions"
        ))),
    }
}

/// The new syntax: `in_port=P,packet=HEX,actions=…` (items in any order, `actions` last).
pub fn parse_packet_out(text: &str) -> Result<PacketOut, OfctlError> {
    let (head, actions) = match text.find("actions=") {
        Some(i) => (&text[..i], &text[i + "actions=".len()..]),
        None => {
            return Err(OfctlError::Text(format!(
                "\"{text}\": a packet-out needs actions=..."
            )));
        }
    };
    let mut in_port = PortNo::CONTROLLER.0;
    let mut packet = None;
    for item in head.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("in_port", v)) => in_port = parse_port(v)?,
            Some(("packet", v)) => packet = Some(parse_hex(v)?),
            Some(("packet_type", _)) => {}
            _ => {
                return Err(OfctlError::Text(format!(
                    "\"{item}\": unknown packet-out field (expected in_port=, packet=, actions=)"
                )));
            }
        }
    }
    Ok(PacketOut {
        buffer_id: NO_BUFFER,
        in_port: PortNo(in_port),
        actions: parse_actions(actions)?,
        data: packet.ok_or_else(|| {
            OfctlError::Text(format!("\"{text}\": a packet-out needs packet=HEX"))
        })?,
    })
}

pub fn packet_out(a: &PacketOutArgs) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let msgs: Vec<Message> = match rest {
        [] => return Err(OfctlError::Usage("packet-out needs a packet".into())),
        [one] => vec![Message::PacketOut(parse_packet_out(one)?)],
        [in_port, actions, packets @ ..] if !packets.is_empty() => {
            let in_port = PortNo(parse_port(in_port)?);
            let actions = parse_actions(actions)?;
            packets
                .iter()
                .map(|p| {
                    Ok(Message::PacketOut(PacketOut {
                        buffer_id: NO_BUFFER,
                        in_port,
                        actions: actions.clone(),
                        data: parse_hex(p)?,
                    }))
                })
                .collect::<Result<_, OfctlError>>()?
        }
        _ => {
            return Err(OfctlError::Usage(
                "packet-out takes [TARGET] in_port=P,packet=HEX,actions=A or [TARGET] IN_PORT ACTIONS HEX..."
                    .into(),
            ));
        }
    };
    let mut s = a.conn.connect(&target)?;
    s.client.transact(msgs).map_err(|e| s.fail(e))
}

pub fn monitor(a: &MonitorArgs) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let miss_len = match rest {
        [] => None,
        [n] => Some(n.parse::<u16>().map_err(|_| {
            OfctlError::Usage(format!("\"{n}\": miss_len must be a number 0..=65535"))
        })?),
        _ => {
            return Err(OfctlError::Usage(
                "monitor takes [TARGET] [MISS_LEN]".into(),
            ));
        }
    };
    let mut s = a.conn.connect(&target)?;
    if let Some(miss_send_len) = miss_len {
        let flags = match s.client.request(&Message::GetConfigRequest) {
            Ok((_, Message::GetConfigReply(c))) => c.flags,
            Ok(_) => 0,
            Err(e) => return Err(s.fail(e)),
        };
        let set = Message::SetConfig(SwitchConfig {
            flags,
            miss_send_len,
        });
        s.client.transact([set]).map_err(|e| s.fail(e))?;
    }
    s.client.set_timeout(None);
    loop {
        match s.client.recv() {
            Ok(r) => {
                let text = match &r.message {
                    Ok(m) => format_message(&r.header, m),
                    Err(_) => format_bytes(&r.bytes),
                };
                // As ovs-ofctl: asynchronous messages go to stderr.
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
                let _ = err.flush();
            }
            Err(ClientError::Closed) => return Ok(()),
            Err(e) => return Err(s.fail(e)),
        }
    }
}

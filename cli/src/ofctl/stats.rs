//! `show`, `dump-desc`, `dump-tables`, `dump-ports [PORT]` and `dump-ports-desc`: one request
//! (or, for `show`, three) and the replies printed as they are.

use std::path::PathBuf;

use clap::Args;
use wyvern_ofproto::msg::{Message, MpRequest};
use wyvern_pipeline::action::PortNo;

use super::print::format_message;
use super::{Conn, OfctlError, Session, is_target, out, parse_target};

/// `[TARGET]`, where a bare word names a bridge.
#[derive(Debug, Args)]
pub struct TargetOnly {
    #[command(flatten)]
    pub conn: Conn,
    /// A connection string (tcp:IP:PORT, unix:PATH) or a bridge name.
    pub target: Option<String>,
}

/// `[TARGET] [PORT]`.
#[derive(Debug, Args)]
pub struct DumpPorts {
    #[command(flatten)]
    pub conn: Conn,
    /// `[TARGET] [PORT]`: PORT is a number or LOCAL.
    pub args: Vec<String>,
}

impl TargetOnly {
    fn session(&self) -> Result<Session, OfctlError> {
        let target = match &self.target {
            None => self.conn.default_target(),
            Some(t) if is_target(t) => parse_target(t)?,
            Some(bridge) => wyvern_ofproto::client::Target::Unix(PathBuf::from(format!(
                "/run/wyvern/{bridge}.mgmt"
            ))),
        };
        self.conn.connect(&target)
    }
}

/// Sends one multipart request and prints every reply message.
fn dump(s: &mut Session, body: MpRequest) -> Result<(), OfctlError> {
    let replies = s.client.multipart(body).map_err(|e| s.fail(e))?;
    for (h, m) in replies {
        out(&format_message(&h, &Message::MultipartReply(m)));
    }
    Ok(())
}

pub fn show(a: &TargetOnly) -> Result<(), OfctlError> {
    let mut s = a.session()?;
    let (h, m) = s
        .client
        .request(&Message::FeaturesRequest)
        .map_err(|e| s.fail(e))?;
    out(&format_message(&h, &m));
    dump(&mut s, MpRequest::PortDesc)?;
    let (h, m) = s
        .client
        .request(&Message::GetConfigRequest)
        .map_err(|e| s.fail(e))?;
    out(&format_message(&h, &m));
    Ok(())
}

pub fn dump_desc(a: &TargetOnly) -> Result<(), OfctlError> {
    dump(&mut a.session()?, MpRequest::Desc)
}

pub fn dump_tables(a: &TargetOnly) -> Result<(), OfctlError> {
    dump(&mut a.session()?, MpRequest::Table)
}

pub fn dump_ports_desc(a: &TargetOnly) -> Result<(), OfctlError> {
    dump(&mut a.session()?, MpRequest::PortDesc)
}

pub fn dump_ports(a: &DumpPorts) -> Result<(), OfctlError> {
    let (target, rest) = a.conn.split(&a.args)?;
    let port_no = match rest {
        [] => PortNo::ANY.0,
        [p] => parse_port(p)?,
        _ => return Err(OfctlError::Usage("dump-ports takes [TARGET] [PORT]".into())),
    };
    dump(
        &mut a.conn.connect(&target)?,
        MpRequest::PortStats { port_no },
    )
}

/// A port number or a reserved port name (LOCAL, ANY, ...).
pub fn parse_port(s: &str) -> Result<u32, OfctlError> {
    PortNo::from_reserved_name(s)
        .map(|p| p.0)
        .or_else(|| s.parse::<u32>().ok())
        .ok_or_else(|| {
            OfctlError::Usage(format!("\"{s}\": not a port number or reserved port name"))
        })
}

//! wyvern's own verbs, sent as admin messages over the same OpenFlow connection as the
//! `ovs-ofctl` verbs (so every connection string works): `add-port`, `del-port`,
//! `topology apply|show`, and `trace` against the live switch (see `crate::admin` for what the
//! switch does with each).

use clap::{Args, Subcommand};
use wyvern_ofproto::client::ClientError;

use super::{Conn, OfctlError, out};

/// `[TARGET] NAME KEY=VALUE...`.
#[derive(Debug, Args)]
pub struct AddPort {
    #[command(flatten)]
    pub conn: Conn,
    /// `[TARGET] NAME type=afxdp|tap|vxlan [interface=DEV] [ofport=N] [options:KEY=VALUE]...`
    #[arg(required = true, num_args = 1..)]
    pub args: Vec<String>,
}

/// `[TARGET] PORT`.
#[derive(Debug, Args)]
pub struct DelPort {
    #[command(flatten)]
    pub conn: Conn,
    /// `[TARGET] NAME|NUMBER`
    #[arg(required = true, num_args = 1..=2)]
    pub args: Vec<String>,
}

/// `topology apply [TARGET] FILE`, `topology show [TARGET]`.
#[derive(Debug, Subcommand)]
pub enum Topology {
    /// Takes the DVR topology of FILE while the switch runs: ports and flows follow.
    Apply {
        #[command(flatten)]
        conn: Conn,
        /// `[TARGET] FILE` (read by the switch: the path is made absolute here).
        #[arg(required = true, num_args = 1..=2)]
        args: Vec<String>,
    },
    /// Prints this chassis, its VM ports and the L3 controller's counters.
    Show {
        #[command(flatten)]
        conn: Conn,
        /// `[TARGET]`
        #[arg(num_args = 0..=1)]
        args: Vec<String>,
    },
}

/// Sends one admin command to the target and prints its output.
pub fn send(conn: &Conn, args: &[String], command: Vec<String>) -> Result<(), OfctlError> {
    let (target, rest) = conn.split(args)?;
    if !rest.is_empty() {
        return Err(OfctlError::Usage(format!(
            "unexpected arguments: {}",
            rest.join(" ")
        )));
    }
    let mut s = conn.connect(&target)?;
    match s.client.admin(&command) {
        Ok(Ok(text)) => {
            out(&text);
            Ok(())
        }
        Ok(Err(text)) => Err(OfctlError::Usage(format!("{}: {text}", s.target))),
        Err(ClientError::Peer { .. }) => Err(OfctlError::Usage(format!(
            "{}: the switch refused wyvern's admin message: it is not a wyvern switch (use ovs-appctl / ovs-vsctl there)",
            s.target
        ))),
        Err(e) => Err(s.fail(e)),
    }
}

/// Splits off a leading target, then returns the rest and the target part of `args`.
fn split_target(args: &[String]) -> (&[String], &[String]) {
    match args.first() {
        Some(first) if super::is_target(first) => (&args[..1], &args[1..]),
        _ => (&[], args),
    }
}

pub fn add_port(a: &AddPort) -> Result<(), OfctlError> {
    let (target, words) = split_target(&a.args);
    let mut command = vec!["add-port".to_owned()];
    command.extend(words.iter().cloned());
    send(&a.conn, target, command)
}

pub fn del_port(a: &DelPort) -> Result<(), OfctlError> {
    let (target, words) = split_target(&a.args);
    let [port] = words else {
        return Err(OfctlError::Usage(
            "usage: del-port [TARGET] NAME|NUMBER".into(),
        ));
    };
    send(&a.conn, target, vec!["del-port".into(), port.clone()])
}

pub fn topology(t: &Topology) -> Result<(), OfctlError> {
    match t {
        Topology::Apply { conn, args } => {
            let (target, words) = split_target(args);
            let [file] = words else {
                return Err(OfctlError::Usage(
                    "usage: topology apply [TARGET] FILE".into(),
                ));
            };
            let path = std::path::absolute(file).map_err(|source| OfctlError::Read {
                path: file.into(),
                source,
            })?;
            send(
                conn,
                target,
                vec![
                    "topology".into(),
                    "apply".into(),
                    path.display().to_string(),
                ],
            )
        }
        Topology::Show { conn, args } => send(conn, args, vec!["topology".into(), "show".into()]),
    }
}

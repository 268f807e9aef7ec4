//! `wyvern trace`: what the tables do with a packet (OVS microflow syntax), table by table.
//!
//! With `--flows FILE`, offline: loads FILE (lines as `ovs-ofctl add-flows` reads them, or
//! `dump-flows` output) into a fresh pipeline. Without, against the live switch at TARGET (its
//! management socket by default), like `ovs-appctl ofproto/trace`: the same text either way.

use std::path::PathBuf;

use clap::Args;
use wyvern_pipeline::flow::FlowModCommand;
use wyvern_pipeline::{Pipeline, PipelineConfig, text, trace};

use crate::ofctl::admin;
use crate::ofctl::{Conn, OfctlError};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Flows to load, one per line (`#` starts a comment); without, the live switch is traced.
    #[arg(long)]
    flows: Vec<PathBuf>,
    /// The table the packet enters.
    #[arg(long, default_value_t = 0)]
    table: u8,
    #[command(flatten)]
    conn: Conn,
    /// `[TARGET] PACKET`, e.g. `in_port=12,ip,dl_src=fa:16:3e:cf:4b:ed,nw_src=10.2.0.5,nw_dst=10.1.0.5`.
    #[arg(required = true, num_args = 1..=2)]
    args: Vec<String>,
}

/// Why a trace could not run.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The flows file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line of the flows file is not a flow.
    #[error("{path}:{line}: {error}")]
    Flow {
        path: PathBuf,
        line: usize,
        error: text::TextError,
    },
    /// The flows could not be installed together.
    #[error("{path}: {error}")]
    Install {
        path: PathBuf,
        error: wyvern_pipeline::BatchError,
    },
    /// The packet is not valid microflow syntax.
    #[error("packet: {0}")]
    Packet(text::TextError),
    /// The live switch could not be asked.
    #[error("{0}")]
    Live(#[from] OfctlError),
}

pub fn run(args: &TraceArgs) -> Result<(), TraceError> {
    if args.flows.is_empty() {
        let (target, packet) = match args.args.as_slice() {
            [t, p] => (std::slice::from_ref(t), p),
            [p] => (&[][..], p),
            _ => {
                return Err(TraceError::Live(OfctlError::Usage(
                    "usage: trace [TARGET] PACKET".into(),
                )));
            }
        };
        let command = vec![
            "trace".into(),
            "--table".into(),
            args.table.to_string(),
            packet.clone(),
        ];
        return Ok(admin::send(&args.conn, target, command)?);
    }
    let [packet] = args.args.as_slice() else {
        return Err(TraceError::Live(OfctlError::Usage(
            "with --flows, give only the packet (no target)".into(),
        )));
    };
    let pipeline = Pipeline::new(PipelineConfig::default());
    for path in &args.flows {
        let content = std::fs::read_to_string(path).map_err(|source| TraceError::Read {
            path: path.clone(),
            source,
        })?;
        let mut mods = Vec::new();
        for (n, line) in content.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("OFPST_FLOW") {
                continue;
            }
            let m =
                text::parse_flow(line, FlowModCommand::Add).map_err(|error| TraceError::Flow {
                    path: path.clone(),
                    line: n + 1,
                    error,
                })?;
            mods.push(m);
        }
        pipeline.apply(&mods).map_err(|error| TraceError::Install {
            path: path.clone(),
            error,
        })?;
    }
    let key = text::parse_packet(packet).map_err(TraceError::Packet)?;
    let (translation, events) = pipeline.trace(&key, args.table);
    print!("{}", trace::render(&key, &translation, &events));
    Ok(())
}

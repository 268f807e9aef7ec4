//! `wyvern run`: the switch — the pipeline and its OpenFlow endpoint — until SIGINT or
//! SIGTERM.
//!
//! Settings come from `--config FILE` (see [`crate::config`]) and the command line; command
//! line values replace the file's (`--bridge`, `--fail-mode`, `--dpid`) or add to them
//! (`--listen`, `--controller`). The management socket `punix:<run-dir>/<bridge>.mgmt` is
//! always opened. There are no datapath ports yet: frames that packet-outs produce are
//! counted and dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{info, warn};
use wyvern_ofproto::endpoint::{ConnTarget, Endpoint, EndpointConfig, FailMode};
use wyvern_ofproto::services::Services;
use wyvern_pipeline::{Pipeline, PipelineConfig};

use crate::config::{self, ConfigError, check_bridge, parse_dpid};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The bridge name [default: br-int].
    #[arg(long)]
    bridge: Option<String>,
    /// Listen for OpenFlow connections: ptcp:PORT[:IP] or punix:PATH (repeatable).
    #[arg(long, value_name = "CONN")]
    listen: Vec<String>,
    /// Connect to an OpenFlow controller: tcp:IP:PORT or unix:PATH (repeatable).
    #[arg(long, value_name = "CONN")]
    controller: Vec<String>,
    /// What happens without a controller: secure (flows stay) or standalone (NORMAL fallback)
    /// [default: secure].
    #[arg(long, value_name = "MODE")]
    fail_mode: Option<String>,
    /// The datapath id, in hex [default: derived from the bridge name].
    #[arg(long, value_name = "HEX")]
    dpid: Option<String>,
    /// Where the management socket `<bridge>.mgmt` is created.
    #[arg(long, default_value = "/run/wyvern", value_name = "DIR")]
    run_dir: PathBuf,
}

/// Why the switch could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration file is wrong.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A command-line value is wrong.
    #[error("{0}")]
    Arg(String),
    /// The endpoint could not start.
    #[error("{0}")]
    Endpoint(#[from] wyvern_ofproto::endpoint::EndpointError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// A datapath id for a bridge with none configured: FNV-1a of the name, 48 bits (like a MAC).
fn dpid_of(bridge: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bridge.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h & 0xffff_ffff_ffff
}

fn targets(list: &[String], passive: bool, flag: &str) -> Result<Vec<ConnTarget>, RunError> {
    list.iter()
        .map(|s| {
            let t: ConnTarget = s
                .parse()
                .map_err(|e| RunError::Arg(format!("--{flag}: {e}")))?;
            if t.is_passive() != passive {
                return Err(RunError::Arg(format!(
                    "--{flag} {s}: use {}",
                    if passive {
                        "ptcp: or punix:"
                    } else {
                        "tcp: or unix:"
                    }
                )));
            }
            Ok(t)
        })
        .collect()
}

/// The endpoint configuration from the file and the command line.
fn endpoint_config(args: &RunArgs) -> Result<EndpointConfig, RunError> {
    let file = match &args.config {
        Some(p) => Some(config::load(p)?),
        None => None,
    };
    let bridge = args
        .bridge
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.bridge.clone()))
        .unwrap_or_else(|| "br-int".to_owned());
    check_bridge(&bridge).map_err(|m| RunError::Arg(format!("--bridge: {m}")))?;
    let dpid = match &args.dpid {
        Some(d) => parse_dpid(d).map_err(|m| RunError::Arg(format!("--dpid: {m}")))?,
        None => file
            .as_ref()
            .and_then(|f| f.dpid)
            .unwrap_or_else(|| dpid_of(&bridge)),
    };
    let mut c = EndpointConfig::new(&bridge, dpid);
    c.fail_mode = match &args.fail_mode {
        Some(m) => m
            .parse::<FailMode>()
            .map_err(|m| RunError::Arg(format!("--fail-mode: {m}")))?,
        None => file.as_ref().and_then(|f| f.fail_mode).unwrap_or_default(),
    };
    if let Some(f) = &file {
        c.listen.extend(f.listen.iter().cloned());
        c.controllers.extend(f.controllers.iter().cloned());
        if !f.ports.is_empty() {
            warn!(
                ports = f.ports.len(),
                "[[port]] entries are checked but not opened yet (no datapath in this build)"
            );
        }
    }
    c.listen.extend(targets(&args.listen, true, "listen")?);
    c.controllers
        .extend(targets(&args.controller, false, "controller")?);
    c.mgmt = Some(args.run_dir.join(format!("{bridge}.mgmt")));
    Ok(c)
}

/// Runs the switch until SIGINT or SIGTERM.
pub fn run(args: &RunArgs) -> Result<(), RunError> {
    let config = endpoint_config(args)?;
    // Installed before anything starts, so a signal during start-up is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(RunError::Signals)?;
    let pipeline = Pipeline::new(PipelineConfig::default());
    info!(
        bridge = %config.bridge,
        dpid = format!("{:016x}", config.datapath_id),
        fail_mode = ?config.fail_mode,
        "starting"
    );
    let endpoint = Endpoint::start(config, pipeline.clone(), Services::default())?;

    // No datapath yet: drain what packet-outs produce so the injection queue never fills.
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let drain = {
        let (stop, dropped, pipeline) = (stop.clone(), dropped.clone(), pipeline.clone());
        thread::Builder::new()
            .name("no-datapath".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    while pipeline.take_injected().is_some() {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            })
            .map_err(|e| RunError::Arg(format!("cannot start a thread: {e}")))?
    };

    let sig = signals.forever().next();
    info!(signal = ?sig, "stopping");
    endpoint.shutdown();
    stop.store(true, Ordering::Release);
    let _ = drain.join();
    info!(
        packet_out_frames_dropped = dropped.load(Ordering::Relaxed),
        "stopped"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpid_from_bridge_name_is_stable_and_48_bits() {
        assert_eq!(dpid_of("br-int"), dpid_of("br-int"));
        assert_ne!(dpid_of("br-int"), dpid_of("br-ex"));
        assert!(dpid_of("br-int") < 1 << 48);
    }
}

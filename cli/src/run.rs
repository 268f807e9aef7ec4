//! `wyvern run`: the switch — datapath ports and packet workers, the pipeline, its OpenFlow
//! endpoint and, with a topology, the built-in DVR — until SIGINT or SIGTERM.
//!
//! Settings come from `--config FILE` (see [`crate::config`]) and the command line; command
//! line values replace the file's (`--bridge`, `--fail-mode`, `--dpid`, `--workers`,
//! `--busy-poll`) or add to them (`--listen`, `--controller`). The management socket
//! `punix:<run-dir>/<bridge>.mgmt` is always opened.
//!
//! Start-up order: the pipeline; the bridge with its packet workers (and the LOCAL port, a TAP
//! named after the bridge); the configured datapath ports; the DVR (its VM ports, tunnel port,
//! flows and controller); then the endpoint, so that controllers see a switch that is
//! complete. A port that cannot be opened stops the start with the port's name and why.
//! Shutdown reverses it: the endpoint closes, then the bridge closes every port (detaching
//! XDP programs, removing the TAP devices it created).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{info, warn};
use wyvern_datapath::{Bridge, BridgeConfig};
use wyvern_ofproto::endpoint::{ConnTarget, Endpoint, EndpointConfig, FailMode};
use wyvern_ofproto::services::Services;
use wyvern_pipeline::{Pipeline, PipelineConfig};

use crate::admin::Admin;
use crate::bridge_ports::{BridgePorts, OpenError, port_spec};
use crate::config::{self, Config, ConfigError, check_bridge, parse_dpid};
use crate::dvr::{Dvr, DvrError};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file (TOML): switch settings, ports, and the DVR topology.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The bridge name [default: br-int].
    #[arg(long)]
    bridge: Option<String>,
    /// This node's chassis in the topology [default: the only chassis].
    #[arg(long, value_name = "NAME")]
    chassis: Option<String>,
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
    /// Packet worker threads [default: one per core, at most 8].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Busy-poll the ports instead of sleeping when idle (lowest latency; a core per worker).
    #[arg(long)]
    busy_poll: bool,
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
    /// The bridge could not start.
    #[error("cannot start bridge {bridge}: {source}")]
    Bridge {
        bridge: String,
        #[source]
        source: wyvern_datapath::BridgeError,
    },
    /// A configured port could not be opened.
    #[error("{0}")]
    Port(#[from] OpenError),
    /// The DVR could not start.
    #[error("{0}")]
    Dvr(#[from] DvrError),
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
fn endpoint_config(args: &RunArgs, file: Option<&Config>) -> Result<EndpointConfig, RunError> {
    let bridge = args
        .bridge
        .clone()
        .or_else(|| file.and_then(|f| f.bridge.clone()))
        .unwrap_or_else(|| "br-int".to_owned());
    check_bridge(&bridge).map_err(|m| RunError::Arg(format!("--bridge: {m}")))?;
    let dpid = match &args.dpid {
        Some(d) => parse_dpid(d).map_err(|m| RunError::Arg(format!("--dpid: {m}")))?,
        None => file
            .and_then(|f| f.dpid)
            .unwrap_or_else(|| dpid_of(&bridge)),
    };
    let mut c = EndpointConfig::new(&bridge, dpid);
    c.fail_mode = match &args.fail_mode {
        Some(m) => m
            .parse::<FailMode>()
            .map_err(|m| RunError::Arg(format!("--fail-mode: {m}")))?,
        None => file.and_then(|f| f.fail_mode).unwrap_or_default(),
    };
    if let Some(f) = file {
        c.listen.extend(f.listen.iter().cloned());
        c.controllers.extend(f.controllers.iter().cloned());
    }
    c.listen.extend(targets(&args.listen, true, "listen")?);
    c.controllers
        .extend(targets(&args.controller, false, "controller")?);
    c.mgmt = Some(args.run_dir.join(format!("{bridge}.mgmt")));
    Ok(c)
}

/// Starts the bridge. Without `local_port` in the file, a LOCAL port that cannot be created
/// (no privileges, say) is left out with a warning; asked for, it is an error.
fn start_bridge(
    pipeline: &Arc<Pipeline>,
    name: &str,
    args: &RunArgs,
    file: Option<&Config>,
) -> Result<Arc<Bridge>, RunError> {
    let mut cfg = BridgeConfig::new(name);
    if let Some(w) = args.workers.or(file.and_then(|f| f.workers)) {
        if w == 0 || w > 64 {
            return Err(RunError::Arg(format!("--workers {w}: use 1 to 64")));
        }
        cfg.workers = w;
    }
    cfg.busy_poll = args.busy_poll || file.and_then(|f| f.busy_poll).unwrap_or(false);
    let asked = file.and_then(|f| f.local_port);
    cfg.local_port = asked.unwrap_or(true);
    let fail = |source| RunError::Bridge {
        bridge: name.to_owned(),
        source,
    };
    let bridge = match Bridge::start(pipeline.clone(), cfg.clone()) {
        Ok(b) => b,
        Err(e) if asked.is_none() => {
            warn!(
                "no LOCAL port: cannot create TAP device {name}: {e} (set local_port = false to silence this)"
            );
            cfg.local_port = false;
            Bridge::start(pipeline.clone(), cfg.clone()).map_err(fail)?
        }
        Err(e) => return Err(fail(e)),
    };
    info!(
        bridge = name,
        workers = cfg.workers,
        busy_poll = cfg.busy_poll,
        "bridge started"
    );
    Ok(Arc::new(bridge))
}

/// Runs the switch until SIGINT or SIGTERM.
pub fn run(args: &RunArgs) -> Result<(), RunError> {
    let file = match &args.config {
        Some(p) => Some(config::load(p)?),
        None => None,
    };
    let config = endpoint_config(args, file.as_ref())?;
    if args.chassis.is_some() && file.as_ref().is_none_or(|f| f.dvr.is_none()) {
        return Err(RunError::Arg(
            "--chassis needs a configuration with a topology (--config FILE)".into(),
        ));
    }
    // The topology is checked before anything is opened.
    if let Some(d) = file.as_ref().and_then(|f| f.dvr.as_ref()) {
        d.for_chassis(args.chassis.as_deref())?;
    }
    // Installed before anything starts, so a signal during start-up is not lost.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(RunError::Signals)?;
    let pipeline = Pipeline::new(PipelineConfig::default());
    info!(
        bridge = %config.bridge,
        dpid = format!("{:016x}", config.datapath_id),
        fail_mode = ?config.fail_mode,
        "starting"
    );
    let bridge = start_bridge(&pipeline, &config.bridge, args, file.as_ref())?;
    let kick = bridge.inject_kick();
    pipeline.set_inject_waker(Box::new(move || kick.kick()));
    for p in file.iter().flat_map(|f| &f.ports) {
        let origin = match &args.config {
            Some(path) => format!("{}:{}", path.display(), p.line),
            None => "configuration".into(),
        };
        bridge.add_port(port_spec(p)).map_err(|source| OpenError {
            name: p.name.clone(),
            origin,
            source,
        })?;
    }
    let (dvr, hook) = match file.and_then(|f| f.dvr) {
        Some(d) => {
            let (dvr, hook) =
                Dvr::start(pipeline.clone(), bridge.clone(), d, args.chassis.as_deref())?;
            (Some(dvr), hook)
        }
        None => (None, None),
    };
    let services = Services {
        ports: Arc::new(BridgePorts::new(bridge.clone())),
        admin: Some(Arc::new(Admin {
            pipeline: pipeline.clone(),
            bridge: bridge.clone(),
            dvr,
        })),
        packet_in_hook: hook,
    };
    let endpoint = Endpoint::start(config, pipeline.clone(), services)?;
    info!("ready");

    let sig = signals.forever().next();
    info!(signal = ?sig, "stopping");
    endpoint.shutdown();
    bridge.shutdown();
    info!("stopped");
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

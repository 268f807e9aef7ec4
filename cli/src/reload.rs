//! The ports `wyvern run` opened from its configuration file, and what SIGHUP does: read the
//! file again and make the switch follow it.
//!
//! On reload, datapath `[[port]]`s that are gone are closed, new ones opened, and changed ones
//! (type, interface, number, options) reopened; ports added by hand (`wyvern add-port`) are
//! left alone. The DVR topology goes to [`Dvr::apply`]. Settings that only a restart changes
//! (bridge, listeners, controllers, fail mode, workers) are reported, not applied. A file that
//! does not parse changes nothing: the switch keeps running as it was.

use std::collections::BTreeMap;
use std::path::Path;

use tracing::{error, info, warn};
use wyvern_datapath::Bridge;

use crate::bridge_ports::{OpenError, port_spec};
use crate::config::{self, Config, PortConfig};
use crate::dvr::Dvr;

/// The datapath ports opened from the configuration file: name → (OpenFlow number, entry).
#[derive(Debug, Default)]
pub struct ConfiguredPorts {
    open: BTreeMap<String, (u32, PortConfig)>,
}

/// Whether two entries open the same port (where in the file they are does not count).
fn same_port(a: &PortConfig, b: &PortConfig) -> bool {
    (&a.name, a.kind, &a.interface, a.ofport, &a.options)
        == (&b.name, b.kind, &b.interface, b.ofport, &b.options)
}

impl ConfiguredPorts {
    /// Opens `p` on the bridge; `file` names where it was configured, for errors.
    pub fn open(&mut self, bridge: &Bridge, p: &PortConfig, file: &Path) -> Result<u32, OpenError> {
        let no = bridge.add_port(port_spec(p)).map_err(|source| OpenError {
            name: p.name.clone(),
            origin: format!("{}:{}", file.display(), p.line),
            source,
        })?;
        self.open.insert(p.name.clone(), (no, p.clone()));
        Ok(no)
    }

    /// Closes and opens ports until they are what `wanted` lists.
    fn follow(&mut self, bridge: &Bridge, wanted: &[PortConfig], file: &Path) {
        let stale: Vec<(String, u32)> = self
            .open
            .iter()
            .filter(|(name, (_, p))| !wanted.iter().any(|w| w.name == **name && same_port(w, p)))
            .map(|(name, (no, _))| (name.clone(), *no))
            .collect();
        for (name, no) in stale {
            match bridge.del_port(no) {
                Ok(()) => info!(port = %name, "reload: port closed"),
                // Deleted by hand already.
                Err(e) => warn!(port = %name, "reload: {e}"),
            }
            self.open.remove(&name);
        }
        let missing: Vec<&PortConfig> = wanted
            .iter()
            .filter(|w| !self.open.contains_key(&w.name))
            .collect();
        for p in missing {
            match self.open(bridge, p, file) {
                Ok(no) => info!(port = %p.name, no, "reload: port opened"),
                Err(e) => error!("reload: {e}"),
            }
        }
    }
}

/// Reads `file` again and applies it (see the module documentation). `running` is the
/// configuration the switch started with.
pub fn reload(
    file: &Path,
    running: &Config,
    bridge: &Bridge,
    ports: &mut ConfiguredPorts,
    dvr: Option<&Dvr>,
) {
    let new = match config::load(file) {
        Ok(c) => c,
        Err(e) => {
            error!("reload: {e}; nothing changed");
            return;
        }
    };
    let restart_only = [
        ("bridge", running.bridge != new.bridge),
        ("dpid", running.dpid != new.dpid),
        ("fail_mode", running.fail_mode != new.fail_mode),
        ("listen", running.listen != new.listen),
        ("controllers", running.controllers != new.controllers),
        ("workers", running.workers != new.workers),
        ("busy_poll", running.busy_poll != new.busy_poll),
        ("local_port", running.local_port != new.local_port),
    ];
    for (what, _) in restart_only.iter().filter(|(_, changed)| *changed) {
        warn!("reload: `{what}` changed: it takes effect when the switch restarts");
    }
    ports.follow(bridge, &new.ports, file);
    match (dvr, new.dvr) {
        (Some(dvr), Some(topology)) => match dvr.apply(topology) {
            Ok(summary) => info!("reload: {}", summary.trim_end()),
            Err(e) => error!("reload: {e}"),
        },
        (None, None) => {}
        _ => warn!("reload: adding or removing the whole DVR topology takes a restart"),
    }
}

//! The DVR part of the configuration: the topology every node shares, and the L3 settings.
//!
//! ```toml
//! l3_mode = "reactive"          # or "proactive": host routes installed up front, no packet-in
//! builtin_controller = true     # false: packet-ins go to the `controllers` instead
//! l3_idle_timeout = 300         # seconds, of the flows the controller learns
//! l3_hard_timeout = 0
//!
//! [[chassis]]
//! name = "node1"
//! vtep = "192.168.50.1"
//!
//! [[network]]
//! name = "net1"
//! segmentation_id = 0x1f42
//! subnets = [{ cidr = "10.1.0.0/24", gateway = "10.1.0.1" }]
//!
//! [[router]]
//! name = "r1"
//! interfaces = [{ network = "net1", ip = "10.1.0.1", mac = "fa:16:3e:c0:8d:8b" }]
//!
//! [[port]]
//! name = "vm1"
//! network = "net1"
//! mac = "fa:16:3e:00:17:e6"
//! ips = ["10.1.0.5"]
//! chassis = "node1"
//! type = "afxdp"                # local ports: afxdp (interface required) or tap
//! interface = "vm1-br"
//! ofport = 11                   # optional
//! ```
//!
//! [`DvrConfig::for_chassis`] picks this node (`--chassis`, or the only chassis there is),
//! validates the topology as seen from it and checks that its own ports can be opened.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use wyvern_pipeline::dvr::compile::L3Mode;
use wyvern_pipeline::dvr::controller::L3Config;
use wyvern_pipeline::dvr::topology::{Port, PortType, Topology};

use super::port::VmPort;
use super::{ConfigError, Locator, Raw, bounded};

/// The DVR topology and L3 settings of a configuration file.
#[derive(Clone, Debug, PartialEq)]
pub struct DvrConfig {
    pub file: PathBuf,
    pub topology: Topology,
    pub l3_mode: L3Mode,
    /// Packet-ins are handled in-process (true) or left to the OpenFlow controllers.
    pub builtin_controller: bool,
    pub l3: L3Config,
    /// The line of each VM port, by name.
    lines: Vec<(String, usize)>,
}

/// One node's view of the topology.
#[derive(Clone, Debug)]
pub struct LocalDvr {
    pub chassis: String,
    pub vtep: Ipv4Addr,
    /// The ports on this chassis, each with a type and an interface.
    pub ports: Vec<Port>,
    /// Whether other chassis exist (the node needs a tunnel port).
    pub multi_node: bool,
}

pub(super) fn assemble(
    loc: &Locator<'_>,
    raw: &Raw,
    vm_ports: Vec<VmPort>,
) -> Result<Option<DvrConfig>, ConfigError> {
    let has_dvr = !raw.chassis.is_empty()
        || !raw.network.is_empty()
        || !raw.router.is_empty()
        || !vm_ports.is_empty();
    let settings = [
        raw.l3_mode.as_ref().map(|s| s.span()),
        raw.l3_idle_timeout.as_ref().map(|s| s.span()),
        raw.l3_hard_timeout.as_ref().map(|s| s.span()),
    ];
    if !has_dvr {
        if let Some(span) = settings.into_iter().flatten().next() {
            return Err(loc.error(
                span,
                "L3 settings need a topology: add [[chassis]], [[network]], [[router]] and VM [[port]]s, or remove them",
            ));
        }
        return Ok(None);
    }
    let l3_mode = match &raw.l3_mode {
        None => L3Mode::Reactive,
        Some(m) => match m.get_ref().as_str() {
            "reactive" => L3Mode::Reactive,
            "proactive" => L3Mode::Proactive,
            other => {
                return Err(loc.error(
                    m.span(),
                    format!("l3_mode \"{other}\" is not reactive or proactive"),
                ));
            }
        },
    };
    let mut l3 = L3Config::default();
    if let Some(t) = bounded(loc, &raw.l3_idle_timeout, "l3_idle_timeout", 0..=65535)? {
        l3.idle_timeout = t as u16;
    }
    if let Some(t) = bounded(loc, &raw.l3_hard_timeout, "l3_hard_timeout", 0..=65535)? {
        l3.hard_timeout = t as u16;
    }
    let lines = vm_ports
        .iter()
        .map(|v| (v.port.name.clone(), v.line))
        .collect();
    Ok(Some(DvrConfig {
        file: loc.file.to_owned(),
        topology: Topology {
            chassis: raw.chassis.clone(),
            networks: raw.network.clone(),
            routers: raw.router.clone(),
            ports: vm_ports
                .into_iter()
                .map(|v| {
                    let mut p = v.port;
                    // A TAP port's device is named after the port unless told otherwise.
                    if p.kind == Some(PortType::Tap) && p.interface.is_none() {
                        p.interface = Some(p.name.clone());
                    }
                    p
                })
                .collect(),
        },
        l3_mode,
        builtin_controller: raw.builtin_controller.unwrap_or(true),
        l3,
        lines,
    }))
}

impl DvrConfig {
    /// Two configurations with the same L3 settings (what a topology reload cannot change).
    pub fn same_settings(&self, other: &DvrConfig) -> bool {
        self.l3_mode == other.l3_mode
            && self.builtin_controller == other.builtin_controller
            && self.l3 == other.l3
    }

    fn error(&self, line: usize, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line,
            column: 1,
            message,
        }
    }

    /// This node's part: `chassis` (or the only chassis), the topology validated from it, and
    /// its ports with what the datapath needs.
    pub fn for_chassis(&self, chassis: Option<&str>) -> Result<LocalDvr, ConfigError> {
        let topo = &self.topology;
        let chassis = match (chassis, topo.chassis.as_slice()) {
            (Some(c), _) => c.to_owned(),
            (None, [only]) => only.name.clone(),
            (None, []) => {
                return Err(self.error(
                    0,
                    "the topology has no [[chassis]]: add one (name, vtep) for this node".into(),
                ));
            }
            (None, _) => {
                let names: Vec<_> = topo.chassis.iter().map(|c| c.name.as_str()).collect();
                return Err(self.error(
                    0,
                    format!(
                        "the topology has several chassis ({}): say which one this node is with --chassis NAME",
                        names.join(", ")
                    ),
                ));
            }
        };
        let Some(vtep) = topo.chassis_named(&chassis).map(|c| c.vtep) else {
            let names: Vec<_> = topo.chassis.iter().map(|c| c.name.as_str()).collect();
            return Err(self.error(
                0,
                format!(
                    "--chassis {chassis}: the topology has no such chassis (it has {})",
                    names.join(", ")
                ),
            ));
        };
        let mut ports = Vec::new();
        for p in topo.ports.iter().filter(|p| p.chassis == chassis) {
            let line = self
                .lines
                .iter()
                .find(|(n, _)| *n == p.name)
                .map_or(0, |(_, l)| *l);
            match p.kind {
                None => {
                    return Err(self.error(
                        line,
                        format!(
                            "port \"{}\" is on this chassis ({chassis}) but has no type: add type = \"afxdp\" (with interface) or \"tap\"",
                            p.name
                        ),
                    ));
                }
                Some(PortType::Afxdp) if p.interface.is_none() => {
                    return Err(self.error(
                        line,
                        format!(
                            "afxdp port \"{}\" needs `interface`, the device (a veth end) to attach to",
                            p.name
                        ),
                    ));
                }
                Some(_) => {}
            }
            ports.push(p.clone());
        }
        topo.validate(Some(&chassis))
            .map_err(|e| self.error(0, e.to_string()))?;
        let multi_node = topo.chassis.len() > 1;
        Ok(LocalDvr {
            chassis,
            vtep,
            ports,
            multi_node,
        })
    }
}

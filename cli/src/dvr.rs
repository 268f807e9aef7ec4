//! The built-in distributed virtual router of `wyvern run`: the DVR part of the configuration
//! made real on one chassis.
//!
//! [`Dvr::start`] opens this chassis's VM ports (and the VXLAN tunnel port when other chassis
//! exist), installs the Dragonflow tables the flow compiler
//! ([`wyvern_pipeline::dvr::compile`]) writes for them, and — with `builtin_controller` — hands
//! the endpoint the reactive L3 controller as its [`PacketInHook`]. [`Dvr::apply`] takes a new
//! topology while the switch runs (`wyvern topology apply`): ports and flows follow, and
//! nothing that did not change is touched (see its documentation).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::{info, warn};
use wyvern_datapath::afxdp::XdpMode;
use wyvern_datapath::tap::TapConfig;
use wyvern_datapath::{Bridge, PortKind, PortSpec};
use wyvern_ofproto::services::PacketInHook;
use wyvern_pipeline::dvr::Stage;
use wyvern_pipeline::dvr::compile::{CompileInput, compile_text};
use wyvern_pipeline::dvr::controller::L3Controller;
use wyvern_pipeline::dvr::topology::{Port, PortType, Topology};
use wyvern_pipeline::flow::{FlowMod, FlowModCommand};
use wyvern_pipeline::translate::PacketInReason;
use wyvern_pipeline::{PacketIn, Pipeline, text};

use crate::bridge_ports::mac;
use crate::config::dvr::{DvrConfig, LocalDvr};

/// The name of the VXLAN tunnel port the DVR opens when other chassis exist.
pub const TUNNEL_PORT: &str = "dvr-vxlan";

/// The VXLAN UDP port.
const VXLAN_PORT: u16 = 4789;

/// Why the DVR could not start or take a topology.
#[derive(Debug, thiserror::Error)]
pub enum DvrError {
    /// The configuration is wrong (file, line, what to change).
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// A port could not be opened.
    #[error("port \"{name}\": {source}")]
    Port {
        name: String,
        #[source]
        source: wyvern_datapath::BridgeError,
    },
    /// The compiled flows were refused (a wyvern bug: the compiler writes them).
    #[error("the DVR flows were refused: {0}")]
    Flows(String),
    /// Something a reload cannot change.
    #[error("{0}")]
    Reload(String),
    /// A topology applied but for ports that could not be opened.
    #[error("{0}")]
    Partly(String),
}

/// The state [`Dvr::apply`] and the packet-in hook share.
struct Shared {
    config: DvrConfig,
    local: LocalDvr,
    /// The VM ports open on the bridge: name → (OpenFlow number, the port as configured).
    open: BTreeMap<String, (u32, Port)>,
    tunnel_port: Option<u32>,
    /// The compiled flows installed, by their text.
    installed: BTreeMap<String, FlowMod>,
    controller: L3Controller,
}

/// The DVR of one chassis.
pub struct Dvr {
    pipeline: Arc<Pipeline>,
    bridge: Arc<Bridge>,
    shared: Arc<Mutex<Shared>>,
    /// Held for a whole [`Dvr::apply`], so that applies come one at a time while `shared` is
    /// held only between the slow steps (the packet-in hook needs it).
    applying: Mutex<()>,
}

impl std::fmt::Debug for Dvr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dvr").finish_non_exhaustive()
    }
}

/// What the bridge opens for a VM port.
fn vm_port_spec(p: &Port) -> PortSpec {
    let iface = p.interface.clone().unwrap_or_else(|| p.name.clone());
    match p.kind {
        Some(PortType::Tap) => PortSpec {
            // The TAP device is the VM's interface once moved into its namespace: it carries
            // the VM's MAC.
            name: iface,
            kind: PortKind::Tap {
                mac: mac(&p.mac),
                mtu: None,
                offload: TapConfig::OFFLOAD,
            },
            ofport: p.ofport,
        },
        _ => PortSpec {
            name: p.name.clone(),
            kind: PortKind::Afxdp {
                iface,
                mode: XdpMode::Auto,
                queues: None,
            },
            ofport: p.ofport,
        },
    }
}

/// Everything about a port that its learned flows depend on: where it is, its addresses,
/// its network's segmentation id and router. A learned flow of a port whose signature
/// changed is stale.
fn route_signature(topo: &Topology, p: &Port, ofport: Option<u32>) -> String {
    let seg = topo.network(&p.network).map(|n| n.segmentation_id);
    let vtep = topo.chassis_named(&p.chassis).map(|c| c.vtep);
    let gateways: Vec<String> = topo
        .routers
        .iter()
        .flat_map(|r| {
            r.interfaces
                .iter()
                .map(move |i| format!("{}:{}:{}:{}", r.name, i.network, i.ip, i.mac))
        })
        .collect();
    // Every router's interfaces count: a route to a port crosses its own network's router
    // and, from the other side, the source network's.
    format!(
        "{}|{seg:?}|{}|{:?}|{}|{vtep:?}|{ofport:?}|{}",
        p.network,
        p.mac,
        p.ips,
        p.chassis,
        gateways.join(",")
    )
}

/// Whether two configurations of a VM port open the same datapath port.
fn same_datapath_port(a: &Port, b: &Port) -> bool {
    a.kind == b.kind
        && a.interface == b.interface
        && a.ofport == b.ofport
        && (a.kind != Some(PortType::Tap) || a.mac == b.mac)
}

fn delete_strict(add: &FlowMod) -> FlowMod {
    FlowMod {
        command: FlowModCommand::DeleteStrict,
        ..add.clone()
    }
}

impl Dvr {
    /// Opens this chassis's ports, installs its flows and returns the DVR with, when the
    /// built-in controller is on, the packet-in hook for the endpoint.
    pub fn start(
        pipeline: Arc<Pipeline>,
        bridge: Arc<Bridge>,
        config: DvrConfig,
        chassis: Option<&str>,
    ) -> Result<(Dvr, Option<Box<dyn PacketInHook>>), DvrError> {
        let local = config.for_chassis(chassis)?;
        let mut open = BTreeMap::new();
        for p in &local.ports {
            let no = bridge
                .add_port(vm_port_spec(p))
                .map_err(|source| DvrError::Port {
                    name: p.name.clone(),
                    source,
                })?;
            open.insert(p.name.clone(), (no, p.clone()));
        }
        let tunnel_port = if local.multi_node {
            let spec = PortSpec {
                name: TUNNEL_PORT.into(),
                kind: PortKind::Vxlan {
                    local: SocketAddrV4::new(local.vtep, VXLAN_PORT),
                    dst_port: VXLAN_PORT,
                },
                ofport: None,
            };
            Some(bridge.add_port(spec).map_err(|source| DvrError::Port {
                name: TUNNEL_PORT.into(),
                source,
            })?)
        } else {
            None
        };
        let ofports: HashMap<String, u32> =
            open.iter().map(|(n, (no, _))| (n.clone(), *no)).collect();
        let controller = L3Controller::new(
            Arc::new(config.topology.clone()),
            &local.chassis,
            ofports,
            tunnel_port,
            config.l3.clone(),
        );
        let builtin = config.builtin_controller;
        let mut shared = Shared {
            config,
            local,
            open,
            tunnel_port,
            installed: BTreeMap::new(),
            controller,
        };
        let flows = shared.compile()?;
        let mods: Vec<FlowMod> = flows.values().cloned().collect();
        pipeline
            .apply(&mods)
            .map_err(|e| DvrError::Flows(e.to_string()))?;
        info!(
            chassis = %shared.local.chassis,
            ports = shared.open.len(),
            flows = mods.len(),
            tunnel_port = ?tunnel_port,
            "DVR pipeline installed"
        );
        shared.installed = flows;
        let shared = Arc::new(Mutex::new(shared));
        let hook: Option<Box<dyn PacketInHook>> = builtin.then(|| {
            Box::new(L3Hook {
                pipeline: pipeline.clone(),
                shared: shared.clone(),
            }) as Box<dyn PacketInHook>
        });
        Ok((
            Dvr {
                pipeline,
                bridge,
                shared,
                applying: Mutex::new(()),
            },
            hook,
        ))
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether OpenFlow port `no` is one the DVR opened (a VM port or the tunnel port).
    pub fn owns_port(&self, no: u32) -> bool {
        let sh = self.shared();
        sh.tunnel_port == Some(no) || sh.open.values().any(|(n, _)| *n == no)
    }

    /// This chassis, its ports, the controller's counters and the packet-ins queued for it or
    /// dropped on a full queue, for `wyvern topology show`.
    pub fn show(&self) -> String {
        let sh = self.shared();
        let mut out = format!(
            "chassis {} (vtep {}), l3_mode {:?}, built-in controller {}\n",
            sh.local.chassis,
            sh.local.vtep,
            sh.config.l3_mode,
            if sh.config.builtin_controller {
                "on"
            } else {
                "off"
            },
        );
        for (name, (no, p)) in &sh.open {
            out.push_str(&format!(
                "port {name}: ofport {no}, network {}, mac {}, ips {}\n",
                p.network,
                p.mac,
                address_list(&p.ips)
            ));
        }
        if let Some(t) = sh.tunnel_port {
            out.push_str(&format!("tunnel {TUNNEL_PORT}: ofport {t}\n"));
        }
        let c = &sh.controller.counters;
        let p = self.pipeline.counters();
        out.push_str(&format!(
            "flows compiled: {}\nl3: routed {}, echo replies {}, ttl exceeded {}, rate limited {}, no route {}\npacket-ins: queued {}, dropped {} (queue full)\n",
            sh.installed.len(),
            c.routed,
            c.echo_replies,
            c.ttl_exceeded,
            c.rate_limited,
            c.no_route,
            p.packet_ins,
            p.packet_ins_dropped,
        ));
        out
    }

    /// Takes a new topology (the DVR part of `config`) while the switch runs:
    /// - VM ports of this chassis that are gone are closed, new ones opened, changed ones
    ///   (type, interface, MAC, number) reopened; the others are left alone;
    /// - the compiled flows that are no longer wanted are deleted and the new ones added, in
    ///   one atomic batch; unchanged flows keep their counters;
    /// - learned flows of every port whose route changed (address, network, router, chassis)
    ///   or that is gone are deleted by cookie; the others stay.
    ///
    /// Returns a summary for the user.
    ///
    /// Ports are closed and opened without holding what the built-in controller needs, so
    /// new host pairs keep being routed while an apply waits on the datapath; learned flows
    /// it installs meanwhile for a port whose route changes are forgotten at the end too.
    pub fn apply(&self, config: DvrConfig) -> Result<String, DvrError> {
        let _one_at_a_time = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        let (local, close, stale, kept) = {
            let mut sh = self.shared();
            let local = self.check(&sh, &config)?;
            let (close, stale) = Self::changes(&sh, &local, &config);
            self.forget(&sh, &stale);
            for (name, _) in &close {
                sh.open.remove(name);
            }
            let kept: BTreeSet<String> = sh.open.keys().cloned().collect();
            (local, close, stale, kept)
        };

        for (name, no) in &close {
            if let Err(e) = self.bridge.del_port(*no) {
                warn!(port = %name, "closing the port failed: {e}");
            }
        }
        // A port that cannot be opened gets no flows; the rest of the topology still applies.
        let mut opened = Vec::new();
        let mut failed = Vec::new();
        for p in &local.ports {
            if kept.contains(p.name.as_str()) {
                // Unchanged: keep the port, with the configuration it was opened with.
                continue;
            }
            match self.bridge.add_port(vm_port_spec(p)) {
                Ok(no) => opened.push((p.clone(), no)),
                Err(e) => failed.push(format!("port \"{}\": {e}", p.name)),
            }
        }

        let mut sh = self.shared();
        for (p, no) in &opened {
            sh.open.insert(p.name.clone(), (*no, p.clone()));
        }
        self.forget(&sh, &stale);
        let opened: Vec<String> = opened.into_iter().map(|(p, _)| p.name).collect();

        // Flows: delete what is no longer wanted, add what is new, in one batch.
        sh.config = config;
        sh.local = local;
        let flows = sh.compile()?;
        let removed: Vec<FlowMod> = sh
            .installed
            .iter()
            .filter(|(line, _)| !flows.contains_key(*line))
            .map(|(_, m)| delete_strict(m))
            .collect();
        let added: Vec<FlowMod> = flows
            .iter()
            .filter(|(line, _)| !sh.installed.contains_key(*line))
            .map(|(_, m)| m.clone())
            .collect();
        let batch: Vec<FlowMod> = removed.iter().chain(&added).cloned().collect();
        self.pipeline
            .apply(&batch)
            .map_err(|e| DvrError::Flows(e.to_string()))?;
        sh.installed = flows;
        let ofports = sh
            .open
            .iter()
            .map(|(n, (no, _))| (n.clone(), *no))
            .collect();
        let topo = Arc::new(sh.config.topology.clone());
        let tunnel = sh.tunnel_port;
        sh.controller.set_topology(topo, ofports, tunnel);
        let closed: BTreeSet<&str> = close.iter().map(|(n, _)| n.as_str()).collect();
        let summary = format!(
            "topology applied on {}: ports opened {}, closed {}; flows added {}, deleted {}; learned flows forgotten for {}\n",
            sh.local.chassis,
            list(opened.iter().map(String::as_str)),
            list(closed.into_iter()),
            added.len(),
            removed.len(),
            list(stale.iter().map(String::as_str)),
        );
        info!("{}", summary.trim_end());
        if failed.is_empty() {
            Ok(summary)
        } else {
            Err(DvrError::Partly(format!(
                "{summary}not opened (no flows installed for them; fix and apply again): {}",
                failed.join("; ")
            )))
        }
    }
}

impl Dvr {
    /// The local view of `config`, if it can replace the running one.
    fn check(&self, sh: &Shared, config: &DvrConfig) -> Result<LocalDvr, DvrError> {
        if !sh.config.same_settings(config) {
            return Err(DvrError::Reload(
                "l3_mode, builtin_controller and the L3 timeouts cannot change while the switch runs: restart it".into(),
            ));
        }
        let local = config.for_chassis(Some(&sh.local.chassis))?;
        if local.multi_node != sh.local.multi_node || local.vtep != sh.local.vtep {
            return Err(DvrError::Reload(
                "adding the first other chassis, removing the last one or changing this chassis's VTEP needs a restart".into(),
            ));
        }
        Ok(local)
    }

    /// The open ports to close (gone or changed: name, OpenFlow number) and the ports whose
    /// learned flows go stale (their route changed, or they are gone or closing).
    fn changes(
        sh: &Shared,
        local: &LocalDvr,
        config: &DvrConfig,
    ) -> (Vec<(String, u32)>, Vec<String>) {
        let (old_topo, new_topo) = (&sh.config.topology, &config.topology);
        let wanted: BTreeMap<&str, &Port> =
            local.ports.iter().map(|p| (p.name.as_str(), p)).collect();
        let changed = |name: &str, old: &Port| {
            wanted
                .get(name)
                .is_none_or(|new| !same_datapath_port(new, old))
        };
        let close: Vec<(String, u32)> = sh
            .open
            .iter()
            .filter(|(n, (_, p))| changed(n, p))
            .map(|(n, (no, _))| (n.clone(), *no))
            .collect();
        let stale = old_topo
            .ports
            .iter()
            .filter(|p| {
                let ofport = sh.open.get(&p.name).map(|(no, _)| *no);
                new_topo
                    .ports
                    .iter()
                    .find(|n| n.name == p.name)
                    .is_none_or(|n| {
                        let closing = close.iter().any(|(c, _)| *c == p.name);
                        closing
                            || route_signature(old_topo, p, ofport)
                                != route_signature(new_topo, n, ofport)
                    })
            })
            .map(|p| p.name.clone())
            .collect();
        (close, stale)
    }

    /// Deletes the learned flows of the `stale` ports.
    fn forget(&self, sh: &Shared, stale: &[String]) {
        for name in stale {
            if let Err(e) = sh.controller.forget_port(&self.pipeline, name) {
                warn!(port = %name, "deleting learned flows failed: {e}");
            }
        }
    }
}

/// Most addresses `topology show` lists for one port: the whole reply must fit one OpenFlow
/// message (64 KiB), and a port may own thousands.
const SHOWN_ADDRESSES: usize = 8;

/// A port's addresses, the first [`SHOWN_ADDRESSES`] of them when there are more.
fn address_list(ips: &[Ipv4Addr]) -> String {
    let shown: Vec<String> = ips
        .iter()
        .take(SHOWN_ADDRESSES)
        .map(|ip| ip.to_string())
        .collect();
    match ips.len() {
        n if n > SHOWN_ADDRESSES => format!("{} ... ({n} in all)", shown.join(" ")),
        _ => shown.join(" "),
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

impl Shared {
    /// The compiled flows for the current topology and ports, by text.
    fn compile(&self) -> Result<BTreeMap<String, FlowMod>, DvrError> {
        let input = CompileInput {
            chassis: &self.local.chassis,
            ofports: self
                .open
                .iter()
                .map(|(n, (no, _))| (n.clone(), *no))
                .collect(),
            tunnel_port: self.tunnel_port,
            l3_mode: self.config.l3_mode,
        };
        compile_text(&self.config.topology, &input)
            .into_iter()
            .map(|line| {
                let m = text::parse_flow(&line, FlowModCommand::Add)
                    .map_err(|e| DvrError::Flows(format!("{line}: {e}")))?;
                Ok((line, m))
            })
            .collect()
    }
}

/// The built-in reactive L3 controller, as the endpoint's packet-in hook.
struct L3Hook {
    pipeline: Arc<Pipeline>,
    shared: Arc<Mutex<Shared>>,
}

/// Whether a packet-in is the router's: from the east-west table, or a TTL expiry. Anything
/// else (flows a controller added) goes on to the OpenFlow controllers.
fn is_routers(p: &PacketIn) -> bool {
    p.table == Stage::EastWest.table() || p.reason == PacketInReason::InvalidTtl
}

impl PacketInHook for L3Hook {
    /// Takes the router's packet-ins of the batch and hands them to the controller at once.
    fn packet_ins(&mut self, batch: &mut Vec<PacketIn>) {
        if !batch.iter().any(is_routers) {
            return;
        }
        let mut sh = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        sh.controller
            .handle_batch(&self.pipeline, batch.iter().filter(|p| is_routers(p)));
        batch.retain(|p| !is_routers(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_address_lists_are_cut_with_their_count() {
        let ips: Vec<Ipv4Addr> = (1..=20).map(|n| Ipv4Addr::new(10, 3, 1, n)).collect();
        assert_eq!(address_list(&ips[..2]), "10.3.1.1 10.3.1.2");
        assert_eq!(
            address_list(&ips),
            "10.3.1.1 10.3.1.2 10.3.1.3 10.3.1.4 10.3.1.5 10.3.1.6 10.3.1.7 10.3.1.8 ... (20 in all)"
        );
    }
}

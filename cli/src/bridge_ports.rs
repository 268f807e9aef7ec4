//! The datapath bridge as the OpenFlow endpoint sees it: [`BridgePorts`] implements
//! [`PortProvider`] over [`Bridge`] — descriptions, counters, PORT_MOD, PORT_STATUS — and
//! [`port_spec`] turns a configured port into what the bridge opens.
//!
//! This is the one file that knows both the datapath's port model and OpenFlow's.

use std::net::SocketAddrV4;
use std::sync::Arc;

use crossbeam::channel::Receiver;
use tracing::warn;
use wyvern_datapath::afxdp::XdpMode;
use wyvern_datapath::tap::TapConfig;
use wyvern_datapath::{
    Bridge, BridgeError, MacAddr, PortConfig as OfPortConfig, PortEvent, PortInfo, PortKind,
    PortReason, PortSpec,
};
use wyvern_ofproto::error::{OfError, PortModFailedCode};
use wyvern_ofproto::msg::multipart::PortStats;
use wyvern_ofproto::msg::port::{OFPPS_LINK_DOWN, OFPPS_LIVE, PortReason as OfPortReason};
use wyvern_ofproto::msg::{PortDesc, PortMod, PortStatus};
use wyvern_ofproto::ports::PortProvider;
use wyvern_pipeline::action::PortNo;

use crate::config;

/// A port's speed as reported: 10 Gb/s, as OVS reports veth and TAP devices.
const SPEED_KBPS: u32 = 10_000_000;

/// The bridge's ports for the OpenFlow endpoint.
#[derive(Debug)]
pub struct BridgePorts {
    bridge: Arc<Bridge>,
}

impl BridgePorts {
    pub fn new(bridge: Arc<Bridge>) -> Self {
        BridgePorts { bridge }
    }
}

fn desc(p: &PortInfo) -> PortDesc {
    let state = if p.link_up && !p.config.port_down {
        OFPPS_LIVE
    } else {
        OFPPS_LINK_DOWN
    };
    PortDesc::new(
        PortNo(p.no),
        &p.name,
        p.mac.0,
        p.config.bits(),
        state,
        SPEED_KBPS,
    )
}

fn stats(p: &PortInfo) -> PortStats {
    let c = &p.counters;
    let age = p.created.elapsed();
    PortStats {
        port_no: p.no,
        rx_packets: c.rx_packets,
        tx_packets: c.tx_packets,
        rx_bytes: c.rx_bytes,
        tx_bytes: c.tx_bytes,
        rx_dropped: c.rx_dropped,
        tx_dropped: c.tx_dropped,
        rx_errors: c.rx_errors,
        tx_errors: c.tx_errors,
        rx_frame_err: 0,
        rx_over_err: 0,
        rx_crc_err: 0,
        collisions: 0,
        duration_sec: age.as_secs() as u32,
        duration_nsec: age.subsec_nanos(),
    }
}

fn status(e: &PortEvent) -> PortStatus {
    PortStatus {
        reason: match e.reason {
            PortReason::Add => OfPortReason::Add,
            PortReason::Delete => OfPortReason::Delete,
            PortReason::Modify => OfPortReason::Modify,
        },
        desc: desc(&e.port),
    }
}

impl PortProvider for BridgePorts {
    fn descs(&self) -> Vec<PortDesc> {
        self.bridge.ports().iter().map(desc).collect()
    }

    fn stats(&self, port: Option<u32>) -> Vec<PortStats> {
        match port {
            Some(no) => self.bridge.port(no).iter().map(stats).collect(),
            None => self.bridge.ports().iter().map(stats).collect(),
        }
    }

    /// OpenFlow 1.3.5 §7.3.4.3: "The mask field is used to select bits in the config field to
    /// change." The hardware address must be the port's: it identifies the port.
    fn port_mod(&self, m: &PortMod) -> Result<(), OfError> {
        let Some(p) = self.bridge.port(m.port_no) else {
            return Err(OfError::PortModFailed(PortModFailedCode::BadPort));
        };
        if m.hw_addr != p.mac.0 {
            return Err(OfError::PortModFailed(PortModFailedCode::BadHwAddr));
        }
        let known = OfPortConfig::PORT_DOWN
            | OfPortConfig::NO_RECV
            | OfPortConfig::NO_FLOOD
            | OfPortConfig::NO_FWD
            | OfPortConfig::NO_PACKET_IN;
        if m.mask & !known != 0 {
            return Err(OfError::PortModFailed(PortModFailedCode::BadConfig));
        }
        let bits = (p.config.bits() & !m.mask) | (m.config & m.mask);
        self.bridge
            .set_port_config(m.port_no, OfPortConfig::from_bits(bits))
            .map_err(|_| OfError::PortModFailed(PortModFailedCode::BadPort))
    }

    fn events(&self) -> Receiver<PortStatus> {
        let (tx, rx) = crossbeam::channel::unbounded();
        let events: Receiver<PortEvent> = self.bridge.events();
        let spawned = std::thread::Builder::new()
            .name("port-status".into())
            .spawn(move || {
                // Ends when the bridge is gone (its channel disconnects) or the endpoint is.
                for e in events.iter() {
                    if tx.send(status(&e)).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            warn!("cannot start the port-status thread: {e}; PORT_STATUS will not be sent");
        }
        rx
    }
}

/// A configured port's problem, with where it was configured.
#[derive(Debug, thiserror::Error)]
#[error("port \"{name}\" ({origin}): {source}")]
pub struct OpenError {
    pub name: String,
    pub origin: String,
    #[source]
    pub source: BridgeError,
}

/// What the bridge opens for a configured datapath port.
pub fn port_spec(p: &config::PortConfig) -> PortSpec {
    let opt = |k: &str| p.options.get(k).map(String::as_str);
    let kind = match p.kind {
        config::PortKind::Afxdp => PortKind::Afxdp {
            iface: p.interface.clone().unwrap_or_else(|| p.name.clone()),
            mode: match opt("mode") {
                Some("native") => XdpMode::Native,
                Some("generic") => XdpMode::Generic,
                _ => XdpMode::Auto,
            },
            queues: opt("queues").and_then(|q| q.parse().ok()),
        },
        config::PortKind::Tap => PortKind::Tap {
            mac: None,
            mtu: opt("mtu").and_then(|m| m.parse().ok()),
            offload: opt("offload").map_or(TapConfig::OFFLOAD, |o| o == "true"),
        },
        config::PortKind::Vxlan => PortKind::Vxlan {
            local: SocketAddrV4::new(
                opt("local_ip")
                    .and_then(|ip| ip.parse().ok())
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                opt("dst_port").and_then(|d| d.parse().ok()).unwrap_or(4789),
            ),
            dst_port: opt("dst_port").and_then(|d| d.parse().ok()).unwrap_or(4789),
        },
    };
    let name = match p.kind {
        // A TAP port's device name is its interface when given.
        config::PortKind::Tap => p.interface.clone().unwrap_or_else(|| p.name.clone()),
        _ => p.name.clone(),
    };
    PortSpec {
        name,
        kind,
        ofport: p.ofport,
    }
}

/// Parses a MAC address the topology already validated.
pub fn mac(text: &str) -> Option<MacAddr> {
    let v = wyvern_pipeline::dvr::topology::parse_unicast_mac(text)?;
    let b = v.to_be_bytes();
    Some(MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]]))
}

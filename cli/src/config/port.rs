//! `[[port]]` entries: datapath ports, and the VM ports of the DVR topology (those that name a
//! `network`), checked with their line numbers.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::Deserialize;
use toml::Spanned;
use wyvern_pipeline::dvr::topology::{Port, PortType};

use super::{ConfigError, Locator};

/// A datapath port's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// An AF_XDP socket on a NIC.
    Afxdp,
    /// A TAP device.
    Tap,
    /// The flow-based VXLAN tunnel port.
    Vxlan,
}

/// One datapath `[[port]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    pub name: String,
    pub kind: PortKind,
    /// The NIC (afxdp) or the TAP device name (tap; defaults to `name`).
    pub interface: Option<String>,
    /// The OpenFlow port number asked for (the lowest free one otherwise).
    pub ofport: Option<u32>,
    /// Type-specific options, as strings.
    pub options: BTreeMap<String, String>,
    /// Where it is defined.
    pub line: usize,
}

/// A VM port of the topology, with its line (for errors found once the chassis is known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmPort {
    pub port: Port,
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPort {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
    ofport: Option<Spanned<i64>>,
    options: Option<Spanned<toml::Table>>,
    network: Option<Spanned<String>>,
    mac: Option<Spanned<String>>,
    #[serde(default)]
    ips: Vec<Ipv4Addr>,
    chassis: Option<Spanned<String>>,
}

/// What the `[[port]]` entries hold.
pub(super) struct Entries {
    pub ports: Vec<PortConfig>,
    pub vm_ports: Vec<VmPort>,
}

/// Highest OpenFlow number of a physical port (OFPP_MAX is 0xffffff00; OVS caps at 0xfeff).
const MAX_OFPORT: i64 = 0xfeff;

fn option_string(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Checks every `[[port]]`: names and OpenFlow numbers unique, each kind with what it needs.
pub(super) fn check_all(
    loc: &Locator<'_>,
    raw: &[Spanned<RawPort>],
) -> Result<Entries, ConfigError> {
    let mut entries = Entries {
        ports: Vec::new(),
        vm_ports: Vec::new(),
    };
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut numbers: BTreeMap<i64, (String, usize)> = BTreeMap::new();
    for p in raw {
        let p = p.get_ref();
        let name = p.name.get_ref();
        if name.is_empty() || name.len() > 15 {
            return Err(loc.error(
                p.name.span(),
                format!("port name \"{name}\" must be 1 to 15 characters long"),
            ));
        }
        if let Some(line) = names.get(name) {
            return Err(loc.error(
                p.name.span(),
                format!("port name \"{name}\" is already used on line {line}; give each port its own name"),
            ));
        }
        names.insert(name.clone(), loc.line_of(&p.name.span()));
        let ofport = match &p.ofport {
            Some(n) => {
                let v = *n.get_ref();
                if !(1..=MAX_OFPORT).contains(&v) {
                    return Err(loc.error(
                        n.span(),
                        format!("ofport {v} of port \"{name}\" must be from 1 to {MAX_OFPORT}"),
                    ));
                }
                if let Some((other, line)) = numbers.get(&v) {
                    return Err(loc.error(
                        n.span(),
                        format!(
                            "ofport {v} is already used by port \"{other}\" (line {line}); give each port its own ofport"
                        ),
                    ));
                }
                numbers.insert(v, (name.clone(), loc.line_of(&n.span())));
                Some(v as u32)
            }
            None => None,
        };
        if let Some(i) = &p.interface
            && (i.get_ref().is_empty() || i.get_ref().len() > 15)
        {
            return Err(loc.error(i.span(), "interface names are 1 to 15 characters long"));
        }
        if p.network.is_some() {
            entries.vm_ports.push(vm_port(loc, p, ofport)?);
        } else {
            entries.ports.push(datapath_port(loc, p, ofport)?);
        }
    }
    Ok(entries)
}

/// A `[[port]]` with a `network`: a VM port of the topology.
fn vm_port(loc: &Locator<'_>, p: &RawPort, ofport: Option<u32>) -> Result<VmPort, ConfigError> {
    let name = p.name.get_ref();
    let need = |what: &str, example: &str| {
        loc.error(
            p.name.span(),
            format!("VM port \"{name}\" needs `{what}` (e.g. {what} = {example})"),
        )
    };
    let mac = p
        .mac
        .as_ref()
        .ok_or_else(|| need("mac", "\"fa:16:3e:00:00:01\""))?;
    let chassis = p
        .chassis
        .as_ref()
        .ok_or_else(|| need("chassis", "\"node1\""))?;
    if let Some(o) = &p.options {
        return Err(loc.error(
            o.span(),
            format!("VM port \"{name}\" takes no options; remove them"),
        ));
    }
    let kind = match &p.kind {
        None => None,
        Some(k) => Some(match k.get_ref().as_str() {
            "afxdp" => PortType::Afxdp,
            "tap" => PortType::Tap,
            other => {
                return Err(loc.error(
                    k.span(),
                    format!("VM port type \"{other}\" is not one of afxdp, tap"),
                ));
            }
        }),
    };
    Ok(VmPort {
        port: Port {
            name: name.clone(),
            network: p
                .network
                .as_ref()
                .map(|n| n.get_ref().clone())
                .unwrap_or_default(),
            mac: mac.get_ref().clone(),
            ips: p.ips.clone(),
            chassis: chassis.get_ref().clone(),
            interface: p.interface.as_ref().map(|i| i.get_ref().clone()),
            kind,
            ofport,
        },
        line: loc.line_of(&p.name.span()),
    })
}

/// A `[[port]]` without a `network`: a datapath port.
fn datapath_port(
    loc: &Locator<'_>,
    p: &RawPort,
    ofport: Option<u32>,
) -> Result<PortConfig, ConfigError> {
    let name = p.name.get_ref();
    for (field, span) in [
        ("mac", p.mac.as_ref().map(Spanned::span)),
        ("chassis", p.chassis.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = span {
            return Err(loc.error(
                span,
                format!("`{field}` belongs to VM ports: give port \"{name}\" a `network` too, or remove it"),
            ));
        }
    }
    if !p.ips.is_empty() {
        return Err(loc.error(
            p.name.span(),
            format!(
                "`ips` belongs to VM ports: give port \"{name}\" a `network` too, or remove it"
            ),
        ));
    }
    let Some(k) = &p.kind else {
        return Err(loc.error(
            p.name.span(),
            format!("port \"{name}\" needs a type: afxdp, tap or vxlan"),
        ));
    };
    let kind = match k.get_ref().as_str() {
        "afxdp" => PortKind::Afxdp,
        "tap" => PortKind::Tap,
        "vxlan" => PortKind::Vxlan,
        other => {
            return Err(loc.error(
                k.span(),
                format!("port type \"{other}\" is not one of afxdp, tap, vxlan"),
            ));
        }
    };
    match (&kind, &p.interface) {
        (PortKind::Afxdp, None) => {
            return Err(loc.error(
                p.name.span(),
                format!(
                    "afxdp port \"{name}\" needs `interface = \"NIC\"`, the device to attach to"
                ),
            ));
        }
        (PortKind::Vxlan, Some(i)) => {
            return Err(loc.error(
                i.span(),
                format!(
                    "vxlan port \"{name}\" takes no interface; remove it (set options.local_ip)"
                ),
            ));
        }
        _ => {}
    }
    let options = check_options(loc, p, kind)?;
    Ok(PortConfig {
        name: name.clone(),
        kind,
        interface: p.interface.as_ref().map(|i| i.get_ref().clone()),
        ofport,
        options,
        line: loc.line_of(&p.name.span()),
    })
}

fn check_options(
    loc: &Locator<'_>,
    p: &RawPort,
    kind: PortKind,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let name = p.name.get_ref();
    let mut options = BTreeMap::new();
    if let Some(o) = &p.options {
        for (k, v) in o.get_ref() {
            let Some(s) = option_string(v) else {
                return Err(loc.error(
                    o.span(),
                    format!("option `{k}` of port \"{name}\" must be a string, number or boolean"),
                ));
            };
            options.insert(k.clone(), s);
        }
    }
    let span = p.options.as_ref().map_or(p.name.span(), |o| o.span());
    let err = |m: String| Err(loc.error(span.clone(), m));
    let allowed: &[&str] = match kind {
        PortKind::Vxlan => &["remote_ip", "local_ip", "key", "dst_port"],
        PortKind::Afxdp => &["mode", "queues"],
        PortKind::Tap => &["mtu", "offload"],
    };
    if let Some(k) = options.keys().find(|k| !allowed.contains(&k.as_str())) {
        return err(format!(
            "option `{k}` is not known for {} port \"{name}\" (known: {})",
            p.kind.as_ref().map_or("", |k| k.get_ref().as_str()),
            allowed.join(", ")
        ));
    }
    match kind {
        PortKind::Vxlan => {
            for flow_only in ["remote_ip", "key"] {
                if let Some(v) = options.get(flow_only)
                    && v != "flow"
                {
                    return err(format!(
                        "options.{flow_only} = \"{v}\" of port \"{name}\": wyvern's vxlan port is flow-based (flows set tun_dst and tun_id); write \"flow\" or remove it"
                    ));
                }
            }
            match options.get("local_ip") {
                None => {
                    return err(format!(
                        "vxlan port \"{name}\" needs options.local_ip, this node's VTEP address (e.g. options = {{ local_ip = \"192.168.50.1\" }})"
                    ));
                }
                Some(ip) if ip.parse::<Ipv4Addr>().is_err() => {
                    return err(format!(
                        "options.local_ip \"{ip}\" of port \"{name}\" is not an IPv4 address"
                    ));
                }
                _ => {}
            }
            if let Some(port) = options.get("dst_port")
                && port.parse::<u16>().is_err()
            {
                return err(format!(
                    "options.dst_port \"{port}\" of port \"{name}\" must be a UDP port number"
                ));
            }
        }
        PortKind::Afxdp => {
            if let Some(m) = options.get("mode")
                && !["native", "generic", "auto"].contains(&m.as_str())
            {
                return err(format!(
                    "options.mode \"{m}\" of port \"{name}\" must be native, generic or auto"
                ));
            }
            if let Some(q) = options.get("queues")
                && !q
                    .parse::<u32>()
                    .is_ok_and(|q| (1..=wyvern_datapath::afxdp::MAX_QUEUES).contains(&q))
            {
                return err(format!(
                    "options.queues \"{q}\" of port \"{name}\" must be from 1 to {} (leave it out to bind every queue of the interface)",
                    wyvern_datapath::afxdp::MAX_QUEUES
                ));
            }
        }
        PortKind::Tap => {
            if let Some(m) = options.get("mtu")
                && !m.parse::<u32>().is_ok_and(|m| (68..=9000).contains(&m))
            {
                return err(format!(
                    "options.mtu \"{m}\" of port \"{name}\" must be from 68 to 9000"
                ));
            }
            if let Some(o) = options.get("offload")
                && o.parse::<bool>().is_err()
            {
                return err(format!(
                    "options.offload \"{o}\" of port \"{name}\" must be true or false"
                ));
            }
        }
    }
    Ok(options)
}

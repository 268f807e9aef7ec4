//! The DVR topology: chassis, networks, routers and ports, shared by every node.
//!
//! A [`Topology`] is plain data. It is read from a TOML file today ([`Topology::from_toml`]);
//! the same structs are what a distributed store (etcd) will hand over later, so nothing here
//! knows where it came from. [`Topology::validate`] checks everything the flow compiler relies
//! on and names the offending object in each error, so a user can fix the file.
//!
//! ```toml
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
//! interface = "vm1-br"   # local ports only: the datapath interface
//! type = "afxdp"         # afxdp or tap
//! ofport = 11            # optional
//! ```

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use serde::Deserialize;
use thiserror::Error;

/// A compute node.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chassis {
    pub name: String,
    /// The VXLAN tunnel endpoint address.
    pub vtep: Ipv4Addr,
}

/// An IPv4 subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// `a.b.c.d/len`.
    pub cidr: String,
    pub gateway: Option<Ipv4Addr>,
}

/// An L2 network (a Neutron network).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub name: String,
    /// Written into `metadata` by table 0 and used as the VXLAN VNI (24 bits).
    pub segmentation_id: u32,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
}

/// A router interface on a network.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterInterface {
    pub network: String,
    pub ip: Ipv4Addr,
    pub mac: String,
}

/// A distributed router: present on every chassis.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    pub name: String,
    #[serde(default)]
    pub interfaces: Vec<RouterInterface>,
}

/// How a local port reaches the datapath.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortType {
    Afxdp,
    Tap,
}

/// A VM (or namespace) port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: String,
    pub network: String,
    pub mac: String,
    #[serde(default)]
    pub ips: Vec<Ipv4Addr>,
    pub chassis: String,
    /// The datapath interface, for ports on the local chassis.
    pub interface: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<PortType>,
    pub ofport: Option<u32>,
}

/// Everything the DVR pipeline is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    #[serde(default)]
    pub chassis: Vec<Chassis>,
    #[serde(default, rename = "network")]
    pub networks: Vec<Network>,
    #[serde(default, rename = "router")]
    pub routers: Vec<Router>,
    #[serde(default, rename = "port")]
    pub ports: Vec<Port>,
}

/// Why a topology cannot be used. Each message names the object to fix.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TopologyError {
    /// The TOML itself is malformed.
    #[error("{0}")]
    Toml(String),
    /// Two objects of one kind share a name.
    #[error("{kind} \"{name}\" is defined twice")]
    DuplicateName { kind: &'static str, name: String },
    /// A reference to an object that does not exist.
    #[error("{from} refers to unknown {kind} \"{name}\"")]
    UnknownReference {
        from: String,
        kind: &'static str,
        name: String,
    },
    /// Not an `a.b.c.d/len` subnet.
    #[error(
        "network \"{network}\": \"{cidr}\" is not a subnet (write a.b.c.d/len with no host bits)"
    )]
    BadCidr { network: String, cidr: String },
    /// Not a MAC address (or a multicast one).
    #[error("{owner}: \"{mac}\" is not a unicast MAC address (write aa:bb:cc:dd:ee:ff)")]
    BadMac { owner: String, mac: String },
    /// A segmentation id is reused or does not fit a VNI.
    #[error("network \"{network}\": segmentation id {id:#x} {why}")]
    BadSegmentationId {
        network: String,
        id: u32,
        why: &'static str,
    },
    /// An address outside every subnet of its network.
    #[error("{owner}: {ip} is outside every subnet of network \"{network}\"")]
    IpOutsideSubnet {
        owner: String,
        ip: Ipv4Addr,
        network: String,
    },
    /// Two subnets a router connects overlap.
    #[error("router \"{router}\": subnets {a} and {b} overlap")]
    OverlappingSubnets {
        router: String,
        a: String,
        b: String,
    },
    /// A MAC or IP used twice in one network.
    #[error("network \"{network}\": {what} {value} is used by both {first} and {second}")]
    DuplicateAddress {
        network: String,
        what: &'static str,
        value: String,
        first: String,
        second: String,
    },
    /// A router interface MAC used twice.
    #[error("router interface MAC {mac} is used by both {first} and {second}")]
    RouterMacReused {
        mac: String,
        first: String,
        second: String,
    },
    /// A local port without what the datapath needs.
    #[error("port \"{port}\" is on this chassis but has no {missing}")]
    LocalPortIncomplete { port: String, missing: &'static str },
}

/// A parsed IPv4 subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/len` (no host bits set).
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.split_once('/')?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let len: u8 = l.parse().ok().filter(|l| *l <= 32)?;
        let c = Cidr { addr, len };
        (u32::from(addr) & !c.mask() == 0).then_some(c)
    }

    /// The netmask as an integer.
    pub fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }

    /// True when `ip` is inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// True when the two share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` into its 48-bit value; `None` for anything else or multicast.
pub fn parse_unicast_mac(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut v = 0u64;
    for p in parts {
        if p.len() != 2 {
            return None;
        }
        v = (v << 8) | u64::from(u8::from_str_radix(p, 16).ok()?);
    }
    (v & 0x0100_0000_0000 == 0).then_some(v)
}

/// The largest segmentation id a VXLAN VNI can carry.
pub const MAX_SEGMENTATION_ID: u32 = 0xff_ffff;

impl Topology {
    /// Parses a topology from TOML text; `source` names it in errors (a file path).
    pub fn from_toml(text: &str, source: &str) -> Result<Topology, TopologyError> {
        toml::from_str(text).map_err(|e| TopologyError::Toml(format!("{source}: {e}")))
    }

    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The chassis called `name`.
    pub fn chassis_named(&self, name: &str) -> Option<&Chassis> {
        self.chassis.iter().find(|c| c.name == name)
    }

    /// Checks the topology as seen from `local` (the chassis this node is, if any).
    pub fn validate(&self, local: Option<&str>) -> Result<(), TopologyError> {
        unique("chassis", self.chassis.iter().map(|c| &c.name))?;
        unique("network", self.networks.iter().map(|n| &n.name))?;
        unique("router", self.routers.iter().map(|r| &r.name))?;
        unique("port", self.ports.iter().map(|p| &p.name))?;
        if let Some(l) = local
            && self.chassis_named(l).is_none()
        {
            return Err(unknown("this node (--chassis)".into(), "chassis", l));
        }
        let subnets = self.check_networks()?;
        self.check_routers(&subnets)?;
        self.check_ports(&subnets, local)
    }

    fn check_networks(&self) -> Result<HashMap<&str, Vec<Cidr>>, TopologyError> {
        let mut seg_ids = HashMap::new();
        let mut subnets = HashMap::new();
        for n in &self.networks {
            let bad_seg = |why| TopologyError::BadSegmentationId {
                network: n.name.clone(),
                id: n.segmentation_id,
                why,
            };
            if n.segmentation_id == 0 || n.segmentation_id > MAX_SEGMENTATION_ID {
                return Err(bad_seg("must be between 1 and 0xffffff (a VXLAN VNI)"));
            }
            if let Some(other) = seg_ids.insert(n.segmentation_id, &n.name) {
                let _ = other;
                return Err(bad_seg("is already used by another network"));
            }
            let mut cidrs = Vec::new();
            for s in &n.subnets {
                let c = Cidr::parse(&s.cidr).ok_or_else(|| TopologyError::BadCidr {
                    network: n.name.clone(),
                    cidr: s.cidr.clone(),
                })?;
                if let Some(gw) = s.gateway
                    && !c.contains(gw)
                {
                    return Err(TopologyError::IpOutsideSubnet {
                        owner: format!("gateway of subnet {c}"),
                        ip: gw,
                        network: n.name.clone(),
                    });
                }
                cidrs.push(c);
            }
            subnets.insert(n.name.as_str(), cidrs);
        }
        Ok(subnets)
    }

    fn check_routers(&self, subnets: &HashMap<&str, Vec<Cidr>>) -> Result<(), TopologyError> {
        let mut macs: HashMap<u64, String> = HashMap::new();
        for r in &self.routers {
            let mut attached: Vec<(Cidr, &str)> = Vec::new();
            for i in &r.interfaces {
                let owner = format!("router \"{}\" interface on \"{}\"", r.name, i.network);
                let cidrs = subnets.get(i.network.as_str()).ok_or_else(|| {
                    unknown(format!("router \"{}\"", r.name), "network", &i.network)
                })?;
                let mac = parse_unicast_mac(&i.mac).ok_or_else(|| TopologyError::BadMac {
                    owner: owner.clone(),
                    mac: i.mac.clone(),
                })?;
                if let Some(first) = macs.insert(mac, owner.clone()) {
                    return Err(TopologyError::RouterMacReused {
                        mac: i.mac.clone(),
                        first,
                        second: owner,
                    });
                }
                let cidr = cidrs.iter().find(|c| c.contains(i.ip)).ok_or_else(|| {
                    TopologyError::IpOutsideSubnet {
                        owner: owner.clone(),
                        ip: i.ip,
                        network: i.network.clone(),
                    }
                })?;
                if let Some((other, _)) = attached
                    .iter()
                    .find(|(c, net)| c.overlaps(cidr) && *net != i.network)
                {
                    return Err(TopologyError::OverlappingSubnets {
                        router: r.name.clone(),
                        a: other.to_string(),
                        b: cidr.to_string(),
                    });
                }
                attached.push((*cidr, &i.network));
            }
        }
        Ok(())
    }

    fn check_ports(
        &self,
        subnets: &HashMap<&str, Vec<Cidr>>,
        local: Option<&str>,
    ) -> Result<(), TopologyError> {
        // (network, value) -> first owner, for MACs and IPs, including router interfaces.
        let mut macs: HashMap<(&str, u64), String> = HashMap::new();
        let mut ips: HashMap<(&str, Ipv4Addr), String> = HashMap::new();
        for r in &self.routers {
            for i in &r.interfaces {
                let owner = format!("router \"{}\"", r.name);
                if let Some(m) = parse_unicast_mac(&i.mac) {
                    macs.insert((i.network.as_str(), m), owner.clone());
                }
                ips.insert((i.network.as_str(), i.ip), owner);
            }
        }
        for p in &self.ports {
            let owner = format!("port \"{}\"", p.name);
            let cidrs = subnets
                .get(p.network.as_str())
                .ok_or_else(|| unknown(owner.clone(), "network", &p.network))?;
            if self.chassis_named(&p.chassis).is_none() {
                return Err(unknown(owner, "chassis", &p.chassis));
            }
            let mac = parse_unicast_mac(&p.mac).ok_or_else(|| TopologyError::BadMac {
                owner: owner.clone(),
                mac: p.mac.clone(),
            })?;
            if let Some(first) = macs.insert((p.network.as_str(), mac), owner.clone()) {
                return Err(TopologyError::DuplicateAddress {
                    network: p.network.clone(),
                    what: "MAC",
                    value: p.mac.clone(),
                    first,
                    second: owner,
                });
            }
            for ip in &p.ips {
                if !cidrs.iter().any(|c| c.contains(*ip)) {
                    return Err(TopologyError::IpOutsideSubnet {
                        owner,
                        ip: *ip,
                        network: p.network.clone(),
                    });
                }
                if let Some(first) = ips.insert((p.network.as_str(), *ip), owner.clone()) {
                    return Err(TopologyError::DuplicateAddress {
                        network: p.network.clone(),
                        what: "IP",
                        value: ip.to_string(),
                        first,
                        second: owner,
                    });
                }
            }
            if local == Some(p.chassis.as_str()) && p.interface.is_none() {
                return Err(TopologyError::LocalPortIncomplete {
                    port: p.name.clone(),
                    missing: "interface",
                });
            }
        }
        Ok(())
    }
}

fn unique<'a>(
    kind: &'static str,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), TopologyError> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(TopologyError::DuplicateName {
                kind,
                name: n.clone(),
            });
        }
    }
    Ok(())
}

fn unknown(from: String, kind: &'static str, name: &str) -> TopologyError {
    TopologyError::UnknownReference {
        from,
        kind,
        name: name.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The blog's lab: two networks on one router, one VM on each, one chassis.
    pub const BLOG: &str = include_str!("../../../examples/blog-lab.toml");

    fn blog() -> Topology {
        Topology::from_toml(BLOG, "blog.toml").unwrap()
    }

    #[test]
    fn the_blog_lab_is_valid() {
        let t = blog();
        assert_eq!(t.validate(Some("node1")), Ok(()));
        assert_eq!(t.ports[1].kind, Some(PortType::Afxdp));
        assert_eq!(t.networks[0].segmentation_id, 0x1f42);
    }

    fn broken(edit: impl FnOnce(&mut Topology)) -> TopologyError {
        let mut t = blog();
        edit(&mut t);
        t.validate(Some("node1")).unwrap_err()
    }

    #[test]
    fn each_bad_case_has_its_error() {
        assert!(matches!(
            broken(|t| t.ports[0].network = "net9".into()),
            TopologyError::UnknownReference {
                kind: "network",
                ..
            }
        ));
        assert!(matches!(
            broken(|t| t.ports[0].chassis = "node9".into()),
            TopologyError::UnknownReference {
                kind: "chassis",
                ..
            }
        ));
        assert!(matches!(
            broken(|t| t.routers[0].interfaces[0].network = "net9".into()),
            TopologyError::UnknownReference { .. }
        ));
        assert!(matches!(
            broken(|t| t.networks[1].subnets[0].cidr = "10.1.0.0/16".into()),
            TopologyError::OverlappingSubnets { .. } | TopologyError::IpOutsideSubnet { .. }
        ));
        assert!(matches!(
            broken(|t| t.ports[0].ips[0] = "10.9.0.5".parse().unwrap()),
            TopologyError::IpOutsideSubnet { .. }
        ));
        assert!(matches!(
            broken(|t| {
                let mut p = t.ports[0].clone();
                p.name = "vm3".into();
                p.ips = vec!["10.1.0.6".parse().unwrap()];
                t.ports.push(p);
            }),
            TopologyError::DuplicateAddress { what: "MAC", .. }
        ));
        assert!(matches!(
            broken(|t| {
                let mut p = t.ports[0].clone();
                p.name = "vm3".into();
                p.mac = "fa:16:3e:00:00:99".into();
                t.ports.push(p);
            }),
            TopologyError::DuplicateAddress { what: "IP", .. }
        ));
        assert!(matches!(
            broken(|t| t.networks[1].segmentation_id = 0x1f42),
            TopologyError::BadSegmentationId { .. }
        ));
        assert!(matches!(
            broken(|t| t.networks[1].segmentation_id = 0x100_0000),
            TopologyError::BadSegmentationId { .. }
        ));
        assert!(matches!(
            broken(|t| t.routers[0].interfaces[1].mac = "fa:16:3e:c0:8d:8b".into()),
            TopologyError::RouterMacReused { .. }
        ));
        assert!(matches!(
            broken(|t| t.ports[0].mac = "01:00:5e:00:00:01".into()),
            TopologyError::BadMac { .. }
        ));
        assert!(matches!(
            broken(|t| t.ports[0].interface = None),
            TopologyError::LocalPortIncomplete { .. }
        ));
        assert!(matches!(
            broken(|t| t.networks[0].subnets[0].cidr = "10.1.0.1/24".into()),
            TopologyError::BadCidr { .. }
        ));
    }

    #[test]
    fn overlapping_subnets_on_one_router_are_refused() {
        let err = broken(|t| {
            t.networks.push(Network {
                name: "net3".into(),
                segmentation_id: 0x1f44,
                subnets: vec![Subnet {
                    cidr: "10.1.0.0/25".into(),
                    gateway: None,
                }],
            });
            t.routers[0].interfaces.push(RouterInterface {
                network: "net3".into(),
                ip: "10.1.0.100".parse().unwrap(),
                mac: "fa:16:3e:00:00:33".into(),
            });
        });
        assert!(
            matches!(err, TopologyError::OverlappingSubnets { .. }),
            "{err}"
        );
    }

    #[test]
    fn toml_errors_name_the_file_and_place() {
        let err = Topology::from_toml("[[network]]\nname = 3\n", "lab.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("lab.toml: "), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let err = Topology::from_toml("[[netwrk]]\n", "lab.toml").unwrap_err();
        assert!(err.to_string().contains("netwrk"), "{err}");
    }
}

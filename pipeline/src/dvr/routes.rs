//! The topology as the reactive L3 controller reads it on every packet-in: indexed once per
//! topology ([`RouteIndex::new`]) so that routing a new host pair is a few hash probes, with
//! no scan over ports or networks and no address parsing.
//!
//! Every lookup gives the answer the topology's lists give when searched in order (the first
//! network, router interface or port that fits), so a topology that validation would reject
//! for a duplicate still routes as before.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use crate::dvr::compile::metadata_mask;
use crate::dvr::topology::{Cidr, Topology, parse_unicast_mac};

/// A router interface.
#[derive(Clone, Debug)]
pub(crate) struct Interface {
    /// Index of its router in the topology.
    pub router: usize,
    /// Index of its network.
    pub network: usize,
    pub ip: Ipv4Addr,
    /// Its MAC (`None` when the topology's text is not a unicast MAC).
    pub mac: Option<u64>,
    /// Its network's subnets.
    pub subnets: Vec<Cidr>,
}

/// Where a port is, seen from this chassis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// On this chassis, with this OpenFlow port number.
    Local(u32),
    /// On another chassis, behind this VTEP.
    Remote(Ipv4Addr),
    /// Nowhere this switch can send to.
    Unreachable,
}

/// A port of the topology.
#[derive(Clone, Debug)]
pub(crate) struct PortEntry {
    /// The id in its learned flows' cookies.
    pub id: u32,
    /// Index of its network.
    pub network: usize,
    pub mac: Option<u64>,
    pub location: Location,
}

/// The lookups of the packet-in path.
#[derive(Debug, Default)]
pub(crate) struct RouteIndex {
    /// Network index by segmentation id (the first network with that id).
    segments: HashMap<u32, usize>,
    /// Port by (network index, address).
    addresses: HashMap<(usize, Ipv4Addr), usize>,
    /// Per network: its gateway, the first interface of the first router on it.
    gateways: Vec<Option<Interface>>,
    /// Per router: its interfaces (those on known networks), in order.
    routers: Vec<Vec<Interface>>,
    router_ips: HashSet<Ipv4Addr>,
    /// Per port of the topology.
    ports: Vec<PortEntry>,
}

impl RouteIndex {
    /// Indexes `topo` for `chassis`, whose local ports have the OpenFlow numbers `ofports`;
    /// `id_of` gives a port's cookie id.
    pub fn new(
        topo: &Topology,
        chassis: &str,
        ofports: &HashMap<String, u32>,
        id_of: impl Fn(&str) -> u32,
    ) -> RouteIndex {
        let mut network_of: HashMap<&str, usize> = HashMap::new();
        let mut segments = HashMap::new();
        for (n, net) in topo.networks.iter().enumerate() {
            network_of.entry(net.name.as_str()).or_insert(n);
            segments.entry(net.segmentation_id).or_insert(n);
        }
        let mut gateways = vec![None; topo.networks.len()];
        let mut routers = Vec::with_capacity(topo.routers.len());
        let mut router_ips = HashSet::new();
        for (r, router) in topo.routers.iter().enumerate() {
            let mut interfaces = Vec::new();
            for i in &router.interfaces {
                router_ips.insert(i.ip);
                let Some(&network) = network_of.get(i.network.as_str()) else {
                    continue;
                };
                let interface = Interface {
                    router: r,
                    network,
                    ip: i.ip,
                    mac: parse_unicast_mac(&i.mac),
                    subnets: topo.networks[network]
                        .subnets
                        .iter()
                        .filter_map(|s| Cidr::parse(&s.cidr))
                        .collect(),
                };
                gateways[network].get_or_insert_with(|| interface.clone());
                interfaces.push(interface);
            }
            routers.push(interfaces);
        }
        let mut addresses = HashMap::new();
        let mut ports = Vec::with_capacity(topo.ports.len());
        for p in &topo.ports {
            let Some(&network) = network_of.get(p.network.as_str()) else {
                continue;
            };
            for ip in &p.ips {
                addresses.entry((network, *ip)).or_insert(ports.len());
            }
            let location = match (ofports.get(&p.name), topo.chassis_named(&p.chassis)) {
                (Some(&no), _) if p.chassis == chassis => Location::Local(no),
                (_, Some(c)) => Location::Remote(c.vtep),
                _ => Location::Unreachable,
            };
            ports.push(PortEntry {
                id: id_of(&p.name),
                network,
                mac: parse_unicast_mac(&p.mac),
                location,
            });
        }
        RouteIndex {
            segments,
            addresses,
            gateways,
            routers,
            router_ips,
            ports,
        }
    }

    /// The network whose segmentation id table 0 wrote into `metadata`.
    pub fn network_of_metadata(&self, metadata: u128) -> Option<usize> {
        // Ids up to 0xffff are written under a 16-bit mask, larger ones under 24 bits.
        let candidate = |mask: u32| {
            let seg = (metadata & u128::from(mask)) as u32;
            self.segments
                .get(&seg)
                .copied()
                .filter(|_| metadata_mask(seg) == mask)
        };
        match (candidate(0xffff), candidate(0xff_ffff)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The router interface on network `net`: the gateway of packets from it.
    pub fn gateway(&self, net: usize) -> Option<&Interface> {
        self.gateways.get(net)?.as_ref()
    }

    /// The first interface of `router`, on another network than `from`, whose subnets hold
    /// `ip`.
    pub fn interface_towards(
        &self,
        router: usize,
        from: usize,
        ip: Ipv4Addr,
    ) -> Option<&Interface> {
        self.routers
            .get(router)?
            .iter()
            .find(|i| i.network != from && i.subnets.iter().any(|c| c.contains(ip)))
    }

    /// The port that owns `ip` on network `net`.
    pub fn port_at(&self, net: usize, ip: Ipv4Addr) -> Option<&PortEntry> {
        self.ports.get(*self.addresses.get(&(net, ip))?)
    }

    /// Whether `ip` is a router interface's address.
    pub fn is_router_ip(&self, ip: Ipv4Addr) -> bool {
        self.router_ips.contains(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dvr::topology::tests::BLOG;

    /// The blog's lab plus net3 with a 24-bit segmentation id, on r1, and vm2 owning a
    /// second address.
    fn index() -> (Topology, RouteIndex) {
        let mut topo = Topology::from_toml(BLOG, "blog.toml").unwrap();
        let mut net3 = topo.networks[0].clone();
        net3.name = "net3".into();
        net3.segmentation_id = 0x12_1f42;
        net3.subnets[0].cidr = "10.3.0.0/16".into();
        net3.subnets[0].gateway = Some(Ipv4Addr::new(10, 3, 0, 1));
        topo.networks.push(net3);
        let mut r1_net3 = topo.routers[0].interfaces[0].clone();
        r1_net3.network = "net3".into();
        r1_net3.ip = Ipv4Addr::new(10, 3, 0, 1);
        r1_net3.mac = "fa:16:3e:c6:00:01".into();
        topo.routers[0].interfaces.push(r1_net3);
        topo.ports[1].ips.push(Ipv4Addr::new(10, 2, 0, 9));
        topo.validate(Some("node1")).unwrap();
        let ofports = [("vm1".to_string(), 11)].into();
        let index = RouteIndex::new(&topo, "node1", &ofports, |name| name.len() as u32);
        (topo, index)
    }

    #[test]
    fn metadata_selects_networks_under_their_own_mask() {
        let (_, ix) = index();
        assert_eq!(ix.network_of_metadata(0x1f42), Some(0));
        assert_eq!(ix.network_of_metadata(0x1f43), Some(1));
        assert_eq!(
            ix.network_of_metadata(0x12_1f42),
            Some(0),
            "net1's 16-bit id matches under its 16-bit mask first (list order)"
        );
        assert_eq!(ix.network_of_metadata(0xff00_1f43), Some(1), "bits past 24");
        assert_eq!(ix.network_of_metadata(0x1f44), None);
    }

    #[test]
    fn a_route_resolves_through_the_index() {
        let (_, ix) = index();
        let gw = ix.gateway(1).unwrap();
        assert_eq!(
            (gw.router, gw.network, gw.ip),
            (0, 1, Ipv4Addr::new(10, 2, 0, 1))
        );
        assert_eq!(gw.mac, parse_unicast_mac("fa:16:3e:c5:02:4d"));
        let to = ix
            .interface_towards(0, 1, Ipv4Addr::new(10, 3, 7, 7))
            .unwrap();
        assert_eq!(to.network, 2);
        assert!(
            ix.interface_towards(0, 1, Ipv4Addr::new(10, 9, 0, 1))
                .is_none()
        );
        assert!(
            ix.interface_towards(0, 1, Ipv4Addr::new(10, 2, 0, 7))
                .is_none(),
            "never back onto the source network"
        );
        let vm1 = ix.port_at(0, Ipv4Addr::new(10, 1, 0, 5)).unwrap();
        assert_eq!(vm1.location, Location::Local(11));
        assert_eq!(vm1.id, 3);
        let vm2 = ix.port_at(1, Ipv4Addr::new(10, 2, 0, 9)).unwrap();
        assert_eq!(vm2.network, 1);
        assert_eq!(
            vm2.location,
            Location::Remote(Ipv4Addr::new(192, 168, 50, 1)),
            "no OpenFlow number: reached through its chassis"
        );
        assert!(
            ix.port_at(0, Ipv4Addr::new(10, 2, 0, 9)).is_none(),
            "wrong network"
        );
        assert!(ix.is_router_ip(Ipv4Addr::new(10, 3, 0, 1)));
        assert!(!ix.is_router_ip(Ipv4Addr::new(10, 1, 0, 5)));
    }
}

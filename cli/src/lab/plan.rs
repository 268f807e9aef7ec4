//! What a lab is made of: the blog's topology spread over N nodes, and its configuration file.
//!
//! The blog's lab is one router `r1` joining net1 (10.1.0.0/24, segmentation id 0x1f42) and
//! net2 (10.2.0.0/24, 0x1f43), with vm1 on net1 and vm2 on net2, and the blog's MAC addresses.
//! On one node both VMs share it. With more nodes, vm1 stays on node1, vm2 moves to node2, and
//! vm3 (net1, 10.1.0.6) joins node2 so that net1 spans two nodes: vm2 → vm1 is routed across
//! the tunnel and vm3 → vm1 is switched across it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// A lab's datapath: how VMs are plugged into their node's switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Datapath {
    /// A veth pair per VM, the node's end bound as an AF_XDP port.
    Afxdp,
    /// A TAP device per VM, created by the switch and moved into the VM's namespace.
    Tap,
}

impl Datapath {
    pub fn name(self) -> &'static str {
        match self {
            Datapath::Afxdp => "afxdp",
            Datapath::Tap => "tap",
        }
    }
}

/// One VM: a network namespace with one interface, `eth0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vm {
    pub name: &'static str,
    pub network: &'static str,
    pub mac: &'static str,
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub ofport: u32,
    /// Index into [`Plan::nodes`].
    pub node: usize,
}

/// One node: a network namespace running a wyvern switch as its chassis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub vtep: Ipv4Addr,
}

/// Everything `wyvern lab up` builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub nodes: Vec<Node>,
    pub vms: Vec<Vm>,
    pub datapath: Datapath,
}

/// The blog's router interfaces: (network, IP, MAC).
const R1: [(&str, [u8; 4], &str); 2] = [
    ("net1", [10, 1, 0, 1], "fa:16:3e:c0:8d:8b"),
    ("net2", [10, 2, 0, 1], "fa:16:3e:c5:02:4d"),
];

/// The node-side name of a VM's interface (a veth end or the TAP device before it moves).
pub fn node_side(vm: &Vm) -> String {
    format!("{}-br", vm.name)
}

impl Plan {
    /// The blog's lab on `nodes` nodes (1 to 4).
    pub fn blog(nodes: usize, datapath: Datapath) -> Plan {
        let nodes: Vec<Node> = (1..=nodes)
            .map(|i| Node {
                name: format!("node{i}"),
                vtep: Ipv4Addr::new(192, 168, 50, i as u8),
            })
            .collect();
        let multi = nodes.len() > 1;
        let mut vms = vec![
            Vm {
                name: "vm1",
                network: "net1",
                mac: "fa:16:3e:00:17:e6",
                ip: Ipv4Addr::new(10, 1, 0, 5),
                gateway: Ipv4Addr::new(10, 1, 0, 1),
                ofport: 11,
                node: 0,
            },
            Vm {
                name: "vm2",
                network: "net2",
                mac: "fa:16:3e:cf:4b:ed",
                ip: Ipv4Addr::new(10, 2, 0, 5),
                gateway: Ipv4Addr::new(10, 2, 0, 1),
                ofport: 12,
                node: usize::from(multi),
            },
        ];
        if multi {
            vms.push(Vm {
                name: "vm3",
                network: "net1",
                mac: "fa:16:3e:00:17:e7",
                ip: Ipv4Addr::new(10, 1, 0, 6),
                gateway: Ipv4Addr::new(10, 1, 0, 1),
                ofport: 13,
                node: 1,
            });
        }
        Plan {
            nodes,
            vms,
            datapath,
        }
    }

    pub fn vm(&self, name: &str) -> Option<&Vm> {
        self.vms.iter().find(|v| v.name == name)
    }

    /// The configuration file every node runs (`wyvern run --config F --chassis NODE`).
    pub fn config(&self) -> String {
        let mut t = String::from(
            "# Written by `wyvern lab up`: the Dragonflow blog's lab.\nbridge = \"br-int\"\nl3_mode = \"reactive\"\n",
        );
        for n in &self.nodes {
            let _ = write!(
                t,
                "\n[[chassis]]\nname = \"{}\"\nvtep = \"{}\"\n",
                n.name, n.vtep
            );
        }
        for (name, seg, cidr, gw) in [
            ("net1", 0x1f42, "10.1.0.0/24", "10.1.0.1"),
            ("net2", 0x1f43, "10.2.0.0/24", "10.2.0.1"),
        ] {
            let _ = write!(
                t,
                "\n[[network]]\nname = \"{name}\"\nsegmentation_id = {seg:#x}\nsubnets = [{{ cidr = \"{cidr}\", gateway = \"{gw}\" }}]\n"
            );
        }
        t.push_str("\n[[router]]\nname = \"r1\"\ninterfaces = [\n");
        for (net, ip, mac) in R1 {
            let _ = writeln!(
                t,
                "  {{ network = \"{net}\", ip = \"{}\", mac = \"{mac}\" }},",
                Ipv4Addr::from(ip)
            );
        }
        t.push_str("]\n");
        for vm in &self.vms {
            let _ = write!(
                t,
                "\n[[port]]\nname = \"{}\"\nnetwork = \"{}\"\nmac = \"{}\"\nips = [\"{}\"]\nchassis = \"{}\"\ntype = \"{}\"\ninterface = \"{}\"\nofport = {}\n",
                vm.name,
                vm.network,
                vm.mac,
                vm.ip,
                self.nodes[vm.node].name,
                self.datapath.name(),
                node_side(vm),
                vm.ofport
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn every_lab_configuration_is_valid_on_every_node() {
        for nodes in 1..=4 {
            for dp in [Datapath::Afxdp, Datapath::Tap] {
                let plan = Plan::blog(nodes, dp);
                let cfg = config::parse(std::path::Path::new("lab.toml"), &plan.config()).unwrap();
                let dvr = cfg.dvr.unwrap();
                for n in &plan.nodes {
                    let local = dvr.for_chassis(Some(&n.name)).unwrap();
                    assert_eq!(local.multi_node, nodes > 1);
                    for p in &local.ports {
                        assert_eq!(p.interface.as_deref(), Some(&*format!("{}-br", p.name)));
                    }
                }
            }
        }
    }

    #[test]
    fn one_node_is_the_blog_and_two_split_it() {
        let one = Plan::blog(1, Datapath::Afxdp);
        assert!(one.vms.iter().all(|v| v.node == 0));
        assert_eq!(one.vms.len(), 2);
        let two = Plan::blog(2, Datapath::Afxdp);
        assert_eq!(two.vm("vm2").unwrap().node, 1);
        assert_eq!(two.vm("vm3").unwrap().network, "net1");
        assert_eq!(two.nodes[1].vtep, Ipv4Addr::new(192, 168, 50, 2));
    }
}

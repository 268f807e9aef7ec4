//! What a lab is made of: the blog's topology spread over N nodes, and its configuration file.
//!
//! The blog's lab is one router `r1` joining net1 (10.1.0.0/24, segmentation id 0x1f42) and
//! net2 (10.2.0.0/24, 0x1f43), with vm1 on net1 and vm2 on net2, and the blog's MAC addresses;
//! vm3 (net1, 10.1.0.6) is vm1's neighbour, for traffic that stays within a subnet. On one
//! node all three share it. With more nodes, vm1 stays on node1 while vm2 and vm3 go to node2:
//! vm2 → vm1 is routed across the tunnel and vm3 → vm1 is switched across it.

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

/// How routes are set up (the configuration's `l3_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum L3Mode {
    /// The first packet of a host pair goes to the controller, which learns its flows.
    Reactive,
    /// Host routes are installed up front: no packet-in.
    Proactive,
}

/// Settings of the switches, beyond the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub l3_mode: L3Mode,
    /// Idle timeout of the learned flows (the configuration's default when `None`).
    pub idle_timeout: Option<u16>,
    /// An external OpenFlow controller taking the packet-ins instead of the built-in one.
    pub controller: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            l3_mode: L3Mode::Reactive,
            idle_timeout: None,
            controller: None,
        }
    }
}

/// Everything `wyvern lab up` builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub nodes: Vec<Node>,
    pub vms: Vec<Vm>,
    pub datapath: Datapath,
    pub settings: Settings,
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
        vms.push(Vm {
            name: "vm3",
            network: "net1",
            mac: "fa:16:3e:00:17:e7",
            ip: Ipv4Addr::new(10, 1, 0, 6),
            gateway: Ipv4Addr::new(10, 1, 0, 1),
            ofport: 13,
            node: usize::from(multi),
        });
        Plan {
            nodes,
            vms,
            datapath,
            settings: Settings::default(),
        }
    }

    pub fn vm(&self, name: &str) -> Option<&Vm> {
        self.vms.iter().find(|v| v.name == name)
    }

    /// The configuration file every node runs (`wyvern run --config F --chassis NODE`).
    pub fn config(&self) -> String {
        let s = &self.settings;
        let mut t = format!(
            "# Written by `wyvern lab up`: the Dragonflow blog's lab.\nbridge = \"br-int\"\nl3_mode = \"{}\"\n",
            match s.l3_mode {
                L3Mode::Reactive => "reactive",
                L3Mode::Proactive => "proactive",
            }
        );
        if let Some(idle) = s.idle_timeout {
            let _ = writeln!(t, "l3_idle_timeout = {idle}");
        }
        if let Some(c) = &s.controller {
            let _ = writeln!(t, "builtin_controller = false\ncontrollers = [\"{c}\"]");
        }
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
    fn settings_reach_the_configuration() {
        let mut plan = Plan::blog(1, Datapath::Tap);
        plan.settings = Settings {
            l3_mode: L3Mode::Proactive,
            idle_timeout: Some(2),
            controller: Some("tcp:127.0.0.1:6633".into()),
        };
        let cfg = config::parse(std::path::Path::new("lab.toml"), &plan.config()).unwrap();
        assert_eq!(cfg.controllers.len(), 1);
        let dvr = cfg.dvr.unwrap();
        assert_eq!(
            dvr.l3_mode,
            wyvern_pipeline::dvr::compile::L3Mode::Proactive
        );
        assert_eq!(dvr.l3.idle_timeout, 2);
        assert!(!dvr.builtin_controller);
    }

    #[test]
    fn one_node_is_the_blog_and_two_split_it() {
        let one = Plan::blog(1, Datapath::Afxdp);
        assert!(one.vms.iter().all(|v| v.node == 0));
        assert_eq!(one.vms.len(), 3);
        let two = Plan::blog(2, Datapath::Afxdp);
        assert_eq!(two.vm("vm2").unwrap().node, 1);
        assert_eq!(two.vm("vm3").unwrap().network, "net1");
        assert_eq!(two.nodes[1].vtep, Ipv4Addr::new(192, 168, 50, 2));
    }
}

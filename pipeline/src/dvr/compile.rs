//! The flow compiler: a topology, seen from one chassis, becomes the DVR pipeline's flows.
//!
//! The flows are written as OVS flow text and parsed, so what is installed is exactly what
//! `dump-flows` shows and what a reader of the Dragonflow blog expects. Flows are emitted only
//! for networks that have a port on this chassis (the optimisation Dragonflow left in its
//! backlog). Per table, highest priority first:
//!
//! **0, port classification.** `in_port=P` → `write_metadata:SEG`, goto 40, for each local
//! port; `in_port=TUNNEL,tun_id=SEG` → the same for each local network when other chassis
//! exist; priority 0 drops what nothing classified.
//!
//! **23, canary.** Priority 0 drop.
//!
//! **40, classifier.** A frame to a MAC on another chassis goes straight to the tunnel table
//! (1500). ARP → 51 (1000). Broadcast and multicast → NORMAL, and from a local port also to
//! table 60 to reach the other chassis of the network (100/10; from the tunnel only NORMAL,
//! 110). The rest → 52 (1).
//!
//! **51, ARP responder.** An ARP request for a router interface IP in its network is turned
//! into the reply in place and sent back out the in-port (100). ARP from the tunnel → NORMAL
//! (3); broadcast ARP from local ports → NORMAL plus the tunnel copies (2); other ARP → NORMAL
//! (1).
//!
//! **52, east-west.** Same subnet → NORMAL (30). Ping to a router interface → the controller
//! (40). Another subnet on the same router → the controller, which learns one flow per
//! direction at priority 100 (20, reactive mode); in proactive mode one flow per destination
//! address is installed up front instead (100). The rest → 53 (1).
//!
//! **53, north-south.** No external networks yet: priority 0 drop.
//!
//! **60, tunnel.** A MAC on another chassis → `tun_id`, `tun_dst`, out the tunnel port
//! (100); broadcast/multicast → one copy per other chassis that hosts a port of the network,
//! never to others (10).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::dvr::Stage;
use crate::dvr::topology::{Cidr, Network, Port, Topology};
use crate::flow::{FlowMod, FlowModCommand};
use crate::text::{self, TextError};

/// How routes between subnets are installed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum L3Mode {
    /// The first packet of a host pair goes to the controller, which installs its flows.
    #[default]
    Reactive,
    /// A flow per destination address is installed as ports appear; no packet-in.
    Proactive,
}

/// What the compiler needs besides the topology.
#[derive(Clone, Debug, Default)]
pub struct CompileInput<'a> {
    /// This chassis.
    pub chassis: &'a str,
    /// OpenFlow port numbers of the local ports, by port name.
    pub ofports: HashMap<String, u32>,
    /// The tunnel port, when other chassis exist.
    pub tunnel_port: Option<u32>,
    pub l3_mode: L3Mode,
}

/// The metadata mask table 0 writes: 16 bits as Dragonflow did, 24 for larger VNIs.
pub fn metadata_mask(segmentation_id: u32) -> u32 {
    if segmentation_id <= 0xffff {
        0xffff
    } else {
        0xff_ffff
    }
}

/// The flows of the DVR pipeline for one chassis, in table order.
pub fn compile(topo: &Topology, input: &CompileInput<'_>) -> Result<Vec<FlowMod>, TextError> {
    let mut out = Vec::new();
    for line in compile_text(topo, input) {
        out.push(text::parse_flow(&line, FlowModCommand::Add)?);
    }
    Ok(out)
}

/// The same flows as text, one per line.
pub fn compile_text(topo: &Topology, input: &CompileInput<'_>) -> Vec<String> {
    let c = Compiler::new(topo, input);
    let mut f = Vec::new();
    c.classification(&mut f);
    f.push(format!(
        "table={}, priority=0 actions=drop",
        Stage::Canary.table()
    ));
    c.classifier(&mut f);
    c.arp_responder(&mut f);
    c.east_west(&mut f);
    f.push(format!(
        "table={}, priority=0 actions=drop",
        Stage::NorthSouth.table()
    ));
    c.tunnel_table(&mut f);
    f
}

struct Compiler<'a> {
    topo: &'a Topology,
    input: &'a CompileInput<'a>,
    /// Networks with a port on this chassis.
    local: Vec<&'a Network>,
}

fn mask_hex(seg: u32) -> String {
    format!("{:#x}/{:#x}", seg, metadata_mask(seg))
}

impl<'a> Compiler<'a> {
    fn new(topo: &'a Topology, input: &'a CompileInput<'a>) -> Self {
        let local = topo
            .networks
            .iter()
            .filter(|n| {
                topo.ports
                    .iter()
                    .any(|p| p.network == n.name && p.chassis == input.chassis)
            })
            .collect();
        Compiler { topo, input, local }
    }

    fn local_ports(&self) -> impl Iterator<Item = (&'a Port, u32)> + '_ {
        self.topo
            .ports
            .iter()
            .filter(|p| p.chassis == self.input.chassis)
            .filter_map(|p| self.input.ofports.get(&p.name).map(|n| (p, *n)))
    }

    fn remote_ports(&self, net: &Network) -> impl Iterator<Item = &'a Port> + '_ {
        let name = net.name.clone();
        let me = self.input.chassis;
        self.topo
            .ports
            .iter()
            .filter(move |p| p.network == name && p.chassis != me)
    }

    /// Other chassis hosting a port of `net`.
    fn remote_chassis(&self, net: &Network) -> BTreeSet<Ipv4Addr> {
        self.remote_ports(net)
            .filter_map(|p| self.topo.chassis_named(&p.chassis).map(|c| c.vtep))
            .collect()
    }

    fn tunnel(&self) -> Option<u32> {
        self.input.tunnel_port
    }

    fn classification(&self, f: &mut Vec<String>) {
        let t = Stage::PortClassification.table();
        let next = Stage::Classifier.table();
        for (p, ofport) in self.local_ports() {
            if let Some(n) = self.topo.network(&p.network) {
                f.push(format!(
                    "table={t}, priority=1000,in_port={ofport} actions=write_metadata:{},goto_table:{next}",
                    mask_hex(n.segmentation_id)
                ));
            }
        }
        if let Some(tun) = self.tunnel() {
            for n in &self.local {
                f.push(format!(
                    "table={t}, priority=1000,tun_id={:#x},in_port={tun} actions=write_metadata:{},goto_table:{next}",
                    n.segmentation_id,
                    mask_hex(n.segmentation_id)
                ));
            }
        }
        f.push(format!("table={t}, priority=0 actions=drop"));
    }

    fn classifier(&self, f: &mut Vec<String>) {
        let t = Stage::Classifier.table();
        let tun_table = Stage::Tunnel.table();
        for n in &self.local {
            for p in self.remote_ports(n) {
                f.push(format!(
                    "table={t}, priority=1500,metadata={:#x},dl_dst={} actions=goto_table:{tun_table}",
                    n.segmentation_id, p.mac
                ));
            }
        }
        f.push(format!(
            "table={t}, priority=1000,arp actions=goto_table:{}",
            Stage::ArpResponder.table()
        ));
        let multi = self.multi_node();
        let replicate = if multi {
            format!(",goto_table:{tun_table}")
        } else {
            String::new()
        };
        if let Some(tun) = self.tunnel().filter(|_| multi) {
            f.push(format!("table={t}, priority=110,in_port={tun},dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL"));
        }
        f.push(format!(
            "table={t}, priority=100,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL{replicate}"
        ));
        f.push(format!(
            "table={t}, priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL{replicate}"
        ));
        f.push(format!(
            "table={t}, priority=1 actions=goto_table:{}",
            Stage::EastWest.table()
        ));
    }

    /// True when some local network has ports on other chassis.
    fn multi_node(&self) -> bool {
        self.tunnel().is_some()
            && self
                .local
                .iter()
                .any(|n| self.remote_ports(n).next().is_some())
    }

    fn arp_responder(&self, f: &mut Vec<String>) {
        let t = Stage::ArpResponder.table();
        for r in &self.topo.routers {
            for i in &r.interfaces {
                let Some(n) = self.local.iter().find(|n| n.name == i.network) else {
                    continue;
                };
                f.push(format!(
                    "table={t}, send_flow_rem priority=100,arp,metadata={:#x},arp_tpa={},arp_op=1 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:{mac}->eth_src,set_field:{mac}->arp_sha,set_field:{ip}->arp_spa,IN_PORT",
                    n.segmentation_id,
                    i.ip,
                    mac = i.mac,
                    ip = i.ip
                ));
            }
        }
        if let Some(tun) = self.tunnel().filter(|_| self.multi_node()) {
            f.push(format!(
                "table={t}, priority=3,in_port={tun} actions=NORMAL"
            ));
            f.push(format!(
                "table={t}, priority=2,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL,goto_table:{}",
                Stage::Tunnel.table()
            ));
        }
        f.push(format!("table={t}, priority=1 actions=NORMAL"));
    }

    fn east_west(&self, f: &mut Vec<String>) {
        let t = Stage::EastWest.table();
        for n in &self.local {
            for s in &n.subnets {
                f.push(format!(
                    "table={t}, priority=30,ip,metadata={:#x},nw_dst={} actions=NORMAL",
                    n.segmentation_id, s.cidr
                ));
            }
        }
        for r in &self.topo.routers {
            for src in &r.interfaces {
                let Some(sn) = self.local.iter().find(|n| n.name == src.network) else {
                    continue;
                };
                // Pings to the router's own addresses, answered by the controller.
                for any in &r.interfaces {
                    f.push(format!(
                        "table={t}, priority=40,icmp,metadata={:#x},nw_dst={},icmp_type=8 actions=CONTROLLER:65535",
                        sn.segmentation_id, any.ip
                    ));
                }
                for dst in r.interfaces.iter().filter(|d| d.network != src.network) {
                    let Some(dn) = self.topo.network(&dst.network) else {
                        continue;
                    };
                    for s in dn.subnets.iter().filter_map(|s| Cidr::parse(&s.cidr)) {
                        match self.input.l3_mode {
                            L3Mode::Reactive => f.push(format!(
                                "table={t}, priority=20,ip,metadata={:#x},nw_dst={s} actions=CONTROLLER:65535",
                                sn.segmentation_id
                            )),
                            L3Mode::Proactive => {
                                for p in self.topo.ports.iter().filter(|p| p.network == dn.name) {
                                    for ip in p.ips.iter().filter(|ip| s.contains(**ip)) {
                                        let mut line = format!(
                                            "table={t}, priority=100,ip,metadata={:#x},nw_dst={ip} actions=dec_ttl,set_field:{}->eth_src,set_field:{}->eth_dst,",
                                            sn.segmentation_id, dst.mac, p.mac
                                        );
                                        self.deliver(&mut line, p, dn);
                                        f.push(line);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        f.push(format!(
            "table={t}, priority=1 actions=goto_table:{}",
            Stage::NorthSouth.table()
        ));
    }

    /// Appends the actions that deliver to `p`: its local port, or the tunnel to its chassis.
    fn deliver(&self, line: &mut String, p: &Port, net: &Network) {
        if let Some(ofport) = self
            .input
            .ofports
            .get(&p.name)
            .filter(|_| p.chassis == self.input.chassis)
        {
            let _ = write!(line, "output:{ofport}");
        } else if let (Some(tun), Some(c)) = (self.tunnel(), self.topo.chassis_named(&p.chassis)) {
            let _ = write!(
                line,
                "set_field:{:#x}->tun_id,set_field:{}->tun_dst,output:{tun}",
                net.segmentation_id, c.vtep
            );
        } else {
            line.push_str("drop");
        }
    }

    fn tunnel_table(&self, f: &mut Vec<String>) {
        let t = Stage::Tunnel.table();
        if let Some(tun) = self.tunnel() {
            for n in &self.local {
                for p in self.remote_ports(n) {
                    let Some(c) = self.topo.chassis_named(&p.chassis) else {
                        continue;
                    };
                    f.push(format!(
                        "table={t}, priority=100,metadata={seg:#x},dl_dst={} actions=set_field:{seg:#x}->tun_id,set_field:{}->tun_dst,output:{tun}",
                        p.mac,
                        c.vtep,
                        seg = n.segmentation_id
                    ));
                }
                let peers = self.remote_chassis(n);
                if !peers.is_empty() {
                    let mut line = format!(
                        "table={t}, priority=10,metadata={seg:#x},dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:{seg:#x}->tun_id",
                        seg = n.segmentation_id
                    );
                    for vtep in peers {
                        let _ = write!(line, ",set_field:{vtep}->tun_dst,output:{tun}");
                    }
                    f.push(line);
                }
            }
        }
        f.push(format!("table={t}, priority=0 actions=drop"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dvr::topology::tests::BLOG;
    use crate::{Pipeline, PipelineConfig};

    fn blog() -> Topology {
        Topology::from_toml(BLOG, "blog.toml").unwrap()
    }

    fn input(mode: L3Mode) -> CompileInput<'static> {
        CompileInput {
            chassis: "node1",
            ofports: [("vm1".to_string(), 11), ("vm2".to_string(), 12)].into(),
            tunnel_port: None,
            l3_mode: mode,
        }
    }

    #[test]
    fn the_blog_lab_compiles_to_the_blogs_flows() {
        let lines = compile_text(&blog(), &input(L3Mode::Reactive));
        for want in [
            "table=0, priority=1000,in_port=11 actions=write_metadata:0x1f42/0xffff,goto_table:40",
            "table=0, priority=1000,in_port=12 actions=write_metadata:0x1f43/0xffff,goto_table:40",
            "table=23, priority=0 actions=drop",
            "table=40, priority=1000,arp actions=goto_table:51",
            "table=40, priority=100,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL",
            "table=40, priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL",
            "table=40, priority=1 actions=goto_table:52",
            "table=51, priority=1 actions=NORMAL",
            "table=52, priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24 actions=CONTROLLER:65535",
            "table=52, priority=30,ip,metadata=0x1f42,nw_dst=10.1.0.0/24 actions=NORMAL",
            "table=52, priority=20,ip,metadata=0x1f42,nw_dst=10.2.0.0/24 actions=CONTROLLER:65535",
            "table=52, priority=30,ip,metadata=0x1f43,nw_dst=10.2.0.0/24 actions=NORMAL",
            "table=52, priority=1 actions=goto_table:53",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "missing {want}\n{}",
                lines.join("\n")
            );
        }
        assert!(
            lines
                .iter()
                .all(|l| !l.starts_with("table=60, priority=10,")),
            "no tunnel copies on one node"
        );
        let mods = compile(&blog(), &input(L3Mode::Reactive)).unwrap();
        Pipeline::new(PipelineConfig::default())
            .apply(&mods)
            .unwrap();
    }

    /// A flow that matches everything must not share its priority with another flow of its
    /// table: which of the two a packet takes would be undefined.
    fn no_catch_all_shares_its_priority(lines: &str) {
        let flows: Vec<(&str, &str, &str)> = lines
            .lines()
            .filter_map(|l| {
                let (head, _) = l.split_once(" actions=")?;
                let (table, rest) = head.split_once(", ")?;
                let (prio, matching) = rest.split_once(',').unwrap_or((rest, ""));
                Some((table, prio.trim_start_matches("send_flow_rem "), matching))
            })
            .collect();
        for (t, p, m) in &flows {
            if m.is_empty() {
                let same = flows
                    .iter()
                    .filter(|(t2, p2, _)| t2 == t && p2 == p)
                    .count();
                assert_eq!(same, 1, "{t} {p}: a catch-all shares its priority\n{lines}");
            }
        }
    }

    #[test]
    fn only_networks_with_a_local_port_get_flows() {
        let mut t = blog();
        t.ports.retain(|p| p.name == "vm1");
        let lines = compile_text(&t, &input(L3Mode::Reactive)).join("\n");
        assert!(lines.contains("metadata=0x1f42"));
        assert!(!lines.contains("metadata=0x1f43"), "{lines}");
        assert!(
            lines.contains("metadata=0x1f42,nw_dst=10.2.0.0/24 actions=CONTROLLER"),
            "routes still go out"
        );
    }

    #[test]
    fn proactive_mode_installs_host_routes_instead_of_punts() {
        let lines = compile_text(&blog(), &input(L3Mode::Proactive)).join("\n");
        assert!(!lines.contains("priority=20,ip"), "{lines}");
        assert!(lines.contains(
            "table=52, priority=100,ip,metadata=0x1f43,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11"
        ), "{lines}");
    }

    #[test]
    fn two_nodes_tunnel_unicast_and_replicate_broadcast_per_chassis() {
        let mut t = blog();
        t.chassis.push(crate::dvr::topology::Chassis {
            name: "node2".into(),
            vtep: "192.168.50.2".parse().unwrap(),
        });
        t.chassis.push(crate::dvr::topology::Chassis {
            name: "node3".into(),
            vtep: "192.168.50.3".parse().unwrap(),
        });
        t.ports[1].chassis = "node2".into();
        let mut vm3 = t.ports[0].clone();
        vm3.name = "vm3".into();
        vm3.mac = "fa:16:3e:00:00:03".into();
        vm3.ips = vec!["10.1.0.7".parse().unwrap()];
        vm3.chassis = "node2".into();
        t.ports.push(vm3);
        t.validate(Some("node1")).unwrap();
        let mut i = input(L3Mode::Reactive);
        i.tunnel_port = Some(6);
        let lines = compile_text(&t, &i).join("\n");
        assert!(lines.contains("table=0, priority=1000,tun_id=0x1f42,in_port=6 actions=write_metadata:0x1f42/0xffff,goto_table:40"), "{lines}");
        assert!(
            !lines.contains("tun_id=0x1f43,in_port=6"),
            "net2 has no local port"
        );
        assert!(lines.contains(
            "table=60, priority=100,metadata=0x1f42,dl_dst=fa:16:3e:00:00:03 actions=set_field:0x1f42->tun_id,set_field:192.168.50.2->tun_dst,output:6"
        ), "{lines}");
        // One copy to node2 (which hosts vm3 of net1), none to node3.
        assert!(lines.contains(
            "table=60, priority=10,metadata=0x1f42,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=set_field:0x1f42->tun_id,set_field:192.168.50.2->tun_dst,output:6"
        ), "{lines}");
        assert!(!lines.contains("192.168.50.3"));
        // ARP broadcasts reach the other chassis too.
        assert!(
            lines.contains(
                "table=51, priority=2,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL,goto_table:60"
            ),
            "{lines}"
        );
        no_catch_all_shares_its_priority(&lines);
        let mods = compile(&t, &i).unwrap();
        Pipeline::new(PipelineConfig::default())
            .apply(&mods)
            .unwrap();
    }
}

//! The built-in reactive L3 controller.
//!
//! It runs in-process and uses only the pipeline's control API, as an external controller
//! would over OpenFlow: it takes packet-ins, installs flows with [`Pipeline::apply`], and
//! re-injects packets with [`Pipeline::resubmit`] / [`Pipeline::packet_out`].
//!
//! - **A new host pair** (a packet-in from table 52 with reason `action`): the source network
//!   is the packet's metadata; the destination is the port whose IP is `nw_dst`, on a network
//!   attached to the same router. It installs one flow per direction in table 52 at priority
//!   100 (match metadata, in_port, dl_src, dl_dst, nw_src, nw_dst; actions dec_ttl, eth_src :=
//!   the router's MAC on the destination network, eth_dst := the destination's MAC, output to
//!   the local port or over the tunnel), then re-injects the packet at table 0 so the first
//!   packet is not lost (Dragonflow lost it three times). The reverse flow is installed only
//!   when the destination is local; a remote destination's node learns its own.
//! - **Cookies** name both ports of the route ([`route_cookie`]), so removing a port deletes its
//!   learned flows with two cookie/mask deletes ([`flows_of_port`]).
//! - **Router functions**: an ICMP echo request to a router interface is answered, and a
//!   packet whose TTL expires (`invalid_ttl`) gets an ICMP time exceeded from the router
//!   interface of its network. Both are rate-limited.
//! - No route: a counted drop, not a crash.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::action::{Action, PortNo};
use crate::dvr::Stage;
use crate::dvr::compile::metadata_mask;
use crate::dvr::topology::{Cidr, Network, Port, RouterInterface, Topology, parse_unicast_mac};
use crate::execute::{PacketIn, PacketMeta};
use crate::field::Field;
use crate::flow::{FlowMod, FlowModCommand, FlowSpec};
use crate::pipeline::Pipeline;
use crate::text;
use crate::translate::PacketInReason;
use crate::wire::checksum;

/// Tag in the top byte of every learned flow's cookie.
pub const LEARNED_COOKIE_TAG: u64 = 0xd1 << 56;

/// The cookie of a learned flow from port `src` to port `dst` (24-bit port ids).
pub fn route_cookie(src: u32, dst: u32) -> u64 {
    LEARNED_COOKIE_TAG | (u64::from(src & 0xff_ffff) << 24) | u64::from(dst & 0xff_ffff)
}

/// The two cookie/mask pairs that select every learned flow involving port `id`.
pub fn flows_of_port(id: u32) -> [(u64, u64); 2] {
    let tag_mask = 0xff << 56;
    [
        (route_cookie(id, 0), tag_mask | (0xff_ffff << 24)),
        (route_cookie(0, id), tag_mask | 0xff_ffff),
    ]
}

/// Settings of the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Config {
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    /// Router replies (echo, time exceeded) per second.
    pub router_replies_per_sec: u32,
}

impl Default for L3Config {
    fn default() -> Self {
        L3Config {
            idle_timeout: 300,
            hard_timeout: 0,
            router_replies_per_sec: 100,
        }
    }
}

/// What the controller did with one packet-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Flows installed (how many) and the packet re-injected.
    Routed { flows: usize },
    /// A ping to a router interface was answered.
    EchoReplied,
    /// An ICMP time exceeded was sent.
    TtlExceeded,
    /// Rate limit reached: nothing sent.
    RateLimited,
    /// No route: dropped (the reason says why).
    NoRoute(&'static str),
}

/// Counters of the controller's decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct L3Counters {
    pub routed: u64,
    pub echo_replies: u64,
    pub ttl_exceeded: u64,
    pub rate_limited: u64,
    pub no_route: u64,
}

/// The reactive L3 controller of one chassis.
#[derive(Debug)]
pub struct L3Controller {
    topo: Arc<Topology>,
    chassis: String,
    ofports: HashMap<String, u32>,
    tunnel_port: Option<u32>,
    config: L3Config,
    bucket: TokenBucket,
    /// Cookie ids by port name: kept for as long as the controller runs, so that a port keeps
    /// its id (and its learned flows their cookie) when the topology changes around it.
    ids: HashMap<String, u32>,
    pub counters: L3Counters,
}

/// A resolved port: where it lives and how to reach it.
struct Endpoint<'a> {
    port: &'a Port,
    net: &'a Network,
    id: u32,
}

impl L3Controller {
    /// A controller for `chassis`, with the local ports' OpenFlow numbers.
    pub fn new(
        topo: Arc<Topology>,
        chassis: &str,
        ofports: HashMap<String, u32>,
        tunnel_port: Option<u32>,
        config: L3Config,
    ) -> Self {
        let bucket = TokenBucket::new(config.router_replies_per_sec);
        let mut c = L3Controller {
            topo: Arc::new(Topology::default()),
            chassis: chassis.to_string(),
            ofports: HashMap::new(),
            tunnel_port,
            config,
            bucket,
            ids: HashMap::new(),
            counters: L3Counters::default(),
        };
        c.set_topology(topo, ofports, tunnel_port);
        c
    }

    /// Takes a new topology and the local ports' numbers. Ports keep their cookie ids; new
    /// ports get fresh ones. Learned flows of ports that changed are not touched here: the
    /// caller deletes them with [`L3Controller::forget_port`].
    pub fn set_topology(
        &mut self,
        topo: Arc<Topology>,
        ofports: HashMap<String, u32>,
        tunnel_port: Option<u32>,
    ) {
        for p in &topo.ports {
            let next = self.ids.len() as u32 + 1;
            self.ids.entry(p.name.clone()).or_insert(next);
        }
        self.topo = topo;
        self.ofports = ofports;
        self.tunnel_port = tunnel_port;
    }

    /// The id used in cookies for the port called `name`: given in the order ports first
    /// appeared, from 1, and never reused.
    pub fn port_id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Handles one packet-in.
    pub fn handle(&mut self, pipeline: &Pipeline, pin: &PacketIn) -> Outcome {
        let outcome = match pin.reason {
            PacketInReason::InvalidTtl => self.time_exceeded(pipeline, pin),
            _ if pin.table != Stage::EastWest.table() => {
                Outcome::NoRoute("packet-in not from the east-west table")
            }
            _ if self.is_echo_to_router(pin) => self.echo_reply(pipeline, pin),
            _ => self.route(pipeline, pin),
        };
        match outcome {
            Outcome::Routed { .. } => self.counters.routed += 1,
            Outcome::EchoReplied => self.counters.echo_replies += 1,
            Outcome::TtlExceeded => self.counters.ttl_exceeded += 1,
            Outcome::RateLimited => self.counters.rate_limited += 1,
            Outcome::NoRoute(reason) => {
                self.counters.no_route += 1;
                tracing::debug!(reason, "l3: dropped packet-in");
            }
        }
        outcome
    }

    fn network_of_metadata(&self, metadata: u128) -> Option<&Network> {
        self.topo.networks.iter().find(|n| {
            u128::from(n.segmentation_id) == metadata & u128::from(metadata_mask(n.segmentation_id))
        })
    }

    /// The router interface on `net` (the gateway of packets from it).
    fn gateway_on(
        &self,
        net: &Network,
    ) -> Option<(&crate::dvr::topology::Router, &RouterInterface)> {
        self.topo.routers.iter().find_map(|r| {
            r.interfaces
                .iter()
                .find(|i| i.network == net.name)
                .map(|i| (r, i))
        })
    }

    fn endpoint_by_ip(&self, net: &'_ Network, ip: Ipv4Addr) -> Option<Endpoint<'_>> {
        let port = self
            .topo
            .ports
            .iter()
            .find(|p| p.network == net.name && p.ips.contains(&ip))?;
        let net = self.topo.network(&port.network)?;
        Some(Endpoint {
            port,
            net,
            id: self.port_id(&port.name)?,
        })
    }

    fn is_echo_to_router(&self, pin: &PacketIn) -> bool {
        let k = &pin.key;
        k.get(Field::IpProto) == 1
            && k.get(Field::Icmpv4Type) == 8
            && self
                .topo
                .routers
                .iter()
                .flat_map(|r| &r.interfaces)
                .any(|i| u128::from(u32::from(i.ip)) == k.get(Field::Ipv4Dst))
    }

    fn route(&mut self, pipeline: &Pipeline, pin: &PacketIn) -> Outcome {
        let k = &pin.key;
        if k.get(Field::EthType) != 0x0800 {
            return Outcome::NoRoute("not IPv4");
        }
        let Some(src_net) = self.network_of_metadata(k.get(Field::Metadata)) else {
            return Outcome::NoRoute("metadata names no network");
        };
        let Some((router, src_gw)) = self.gateway_on(src_net) else {
            return Outcome::NoRoute("the source network has no router");
        };
        if parse_unicast_mac(&src_gw.mac).map(u128::from) != Some(k.get(Field::EthDst)) {
            return Outcome::NoRoute("not addressed to the router's MAC");
        }
        let dst_ip = Ipv4Addr::from(k.get(Field::Ipv4Dst) as u32);
        let src_ip = Ipv4Addr::from(k.get(Field::Ipv4Src) as u32);
        let Some(dst_gw) = router.interfaces.iter().find(|i| {
            i.network != src_net.name
                && self.topo.network(&i.network).is_some_and(|n| {
                    n.subnets
                        .iter()
                        .filter_map(|s| Cidr::parse(&s.cidr))
                        .any(|c| c.contains(dst_ip))
                })
        }) else {
            return Outcome::NoRoute("no router interface reaches the destination");
        };
        let Some(dst_net) = self.topo.network(&dst_gw.network) else {
            return Outcome::NoRoute("unknown destination network");
        };
        let Some(dst) = self.endpoint_by_ip(dst_net, dst_ip) else {
            return Outcome::NoRoute("the destination address is no known port");
        };
        let Some(src) = self.endpoint_by_ip(src_net, src_ip) else {
            return Outcome::NoRoute("the source address is no known port");
        };
        let in_port = k.get(Field::InPort) as u32;
        let mut lines = vec![self.learned_flow(&src, in_port, src_gw, dst_gw, &dst)];
        if let Some(&dst_port) = self
            .ofports
            .get(&dst.port.name)
            .filter(|_| dst.port.chassis == self.chassis)
        {
            lines.push(self.learned_flow(&dst, dst_port, dst_gw, src_gw, &src));
        }
        let mods: Result<Vec<FlowMod>, _> = lines
            .iter()
            .map(|l| text::parse_flow(l, FlowModCommand::Add))
            .collect();
        let Ok(mods) = mods else {
            return Outcome::NoRoute("learned flow did not parse");
        };
        if let Err(e) = pipeline.apply(&mods) {
            tracing::warn!(%e, "l3: installing learned flows failed");
            return Outcome::NoRoute("the switch refused the learned flows");
        }
        let meta = PacketMeta {
            tun_id: k.get(Field::TunId) as u64,
            tun_src: k.get(Field::TunSrc) as u32,
            tun_dst: k.get(Field::TunDst) as u32,
            pkt_mark: k.get(Field::PktMark) as u32,
        };
        if let Err(e) = pipeline.resubmit(in_port, meta, 0, &pin.data) {
            tracing::warn!(%e, "l3: re-injecting the first packet failed");
        }
        Outcome::Routed { flows: mods.len() }
    }

    /// The flow text for traffic from `from` (arriving on `in_port` through `from_gw`) to `to`.
    fn learned_flow(
        &self,
        from: &Endpoint<'_>,
        in_port: u32,
        from_gw: &RouterInterface,
        to_gw: &RouterInterface,
        to: &Endpoint<'_>,
    ) -> String {
        let from_ip = from
            .port
            .ips
            .first()
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let to_ip = to
            .port
            .ips
            .first()
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mut s = format!(
            "cookie={:#x}, table={}, idle_timeout={}, hard_timeout={}, priority=100,ip,metadata={:#x},in_port={in_port},dl_src={},dl_dst={},nw_src={from_ip},nw_dst={to_ip} actions=dec_ttl,set_field:{}->eth_src,set_field:{}->eth_dst,",
            route_cookie(from.id, to.id),
            Stage::EastWest.table(),
            self.config.idle_timeout,
            self.config.hard_timeout,
            from.net.segmentation_id,
            from.port.mac,
            from_gw.mac,
            to_gw.mac,
            to.port.mac,
        );
        match (
            self.ofports.get(&to.port.name),
            self.topo.chassis_named(&to.port.chassis),
        ) {
            (Some(p), _) if to.port.chassis == self.chassis => s.push_str(&format!("output:{p}")),
            (_, Some(c)) if self.tunnel_port.is_some() => s.push_str(&format!(
                "set_field:{:#x}->tun_id,set_field:{}->tun_dst,output:{}",
                to.net.segmentation_id,
                c.vtep,
                self.tunnel_port.unwrap_or_default()
            )),
            _ => s.push_str("drop"),
        }
        s
    }

    /// Deletes every learned flow that involves port `name` (the port went away or changed);
    /// returns how many there were.
    pub fn forget_port(&self, pipeline: &Pipeline, name: &str) -> Result<usize, crate::BatchError> {
        let Some(id) = self.port_id(name) else {
            return Ok(0);
        };
        let selectors = flows_of_port(id);
        let count = selectors
            .iter()
            .map(|&(cookie, cookie_mask)| {
                pipeline
                    .dump_flows(&crate::FlowFilter {
                        table: Stage::EastWest.table(),
                        cookie,
                        cookie_mask,
                        ..crate::FlowFilter::default()
                    })
                    .len()
            })
            .sum::<usize>();
        let mods: Vec<FlowMod> = selectors
            .into_iter()
            .map(|(cookie, mask)| FlowMod {
                command: FlowModCommand::Delete,
                spec: FlowSpec {
                    table: Stage::EastWest.table(),
                    cookie,
                    ..FlowSpec::default()
                },
                cookie_mask: mask,
                out_port: PortNo::ANY,
            })
            .collect();
        pipeline.apply(&mods)?;
        // A flow between a port and itself would be counted twice; there are none.
        Ok(count)
    }

    fn echo_reply(&mut self, pipeline: &Pipeline, pin: &PacketIn) -> Outcome {
        if !self.bucket.take() {
            return Outcome::RateLimited;
        }
        let Some(reply) = echo_reply_frame(&pin.data) else {
            return Outcome::NoRoute("malformed echo request");
        };
        let in_port = pin.key.get(Field::InPort) as u32;
        let _ = pipeline.packet_out(
            in_port,
            PacketMeta::default(),
            &[Action::Output {
                port: PortNo::IN_PORT,
                max_len: 0,
            }],
            &reply,
        );
        Outcome::EchoReplied
    }

    fn time_exceeded(&mut self, pipeline: &Pipeline, pin: &PacketIn) -> Outcome {
        let k = &pin.key;
        if k.get(Field::EthType) != 0x0800 {
            return Outcome::NoRoute("TTL expiry of a non-IPv4 packet");
        }
        let Some(net) = self.network_of_metadata(k.get(Field::Metadata)) else {
            return Outcome::NoRoute("metadata names no network");
        };
        let Some((_, gw)) = self.gateway_on(net) else {
            return Outcome::NoRoute("the network has no router");
        };
        let Some(gw_mac) = parse_unicast_mac(&gw.mac) else {
            return Outcome::NoRoute("bad router MAC");
        };
        let gw_ip = gw.ip;
        if !self.bucket.take() {
            return Outcome::RateLimited;
        }
        let Some(frame) = time_exceeded_frame(&pin.data, gw_mac, gw_ip) else {
            return Outcome::NoRoute("malformed expired packet");
        };
        let in_port = k.get(Field::InPort) as u32;
        let _ = pipeline.packet_out(
            in_port,
            PacketMeta::default(),
            &[Action::Output {
                port: PortNo::IN_PORT,
                max_len: 0,
            }],
            &frame,
        );
        Outcome::TtlExceeded
    }
}

/// A simple token bucket: `rate` tokens per second, burst of `rate`.
#[derive(Debug)]
struct TokenBucket {
    rate: u32,
    tokens: f64,
    last: std::time::Instant,
}

impl TokenBucket {
    fn new(rate: u32) -> Self {
        TokenBucket {
            rate,
            tokens: f64::from(rate),
            last: std::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * f64::from(self.rate);
        self.tokens = (self.tokens + refill).min(f64::from(self.rate));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

const ETH: usize = 14;

/// The echo reply to an Ethernet/IPv4/ICMP echo request: addresses swapped, type 0, TTL 64,
/// checksums updated.
pub fn echo_reply_frame(req: &[u8]) -> Option<Vec<u8>> {
    let ihl = usize::from(*req.get(ETH)? & 0x0f) * 4;
    let icmp = ETH + ihl;
    if ihl < 20 || req.len() < icmp + 8 || req[ETH + 9] != 1 || req[icmp] != 8 {
        return None;
    }
    let mut f = req.to_vec();
    let (dst, src) = (req[0..6].to_vec(), req[6..12].to_vec());
    f[0..6].copy_from_slice(&src);
    f[6..12].copy_from_slice(&dst);
    let (s, d) = (
        req[ETH + 12..ETH + 16].to_vec(),
        req[ETH + 16..ETH + 20].to_vec(),
    );
    f[ETH + 12..ETH + 16].copy_from_slice(&d);
    f[ETH + 16..ETH + 20].copy_from_slice(&s);
    f[ETH + 8] = 64;
    f[ETH + 10..ETH + 12].fill(0);
    let ip_sum = checksum::checksum(&f[ETH..icmp]);
    f[ETH + 10..ETH + 12].copy_from_slice(&ip_sum.to_be_bytes());
    f[icmp] = 0;
    f[icmp + 2..icmp + 4].fill(0);
    // The ICMP message ends where the IP packet says, but never before its own header nor past
    // the frame, whatever the total-length field claims.
    let total = usize::from(u16::from_be_bytes([f[ETH + 2], f[ETH + 3]]));
    let end = (ETH + total).clamp(icmp + 8, f.len());
    let sum = checksum::checksum(&f[icmp..end]);
    f[icmp + 2..icmp + 4].copy_from_slice(&sum.to_be_bytes());
    Some(f)
}

/// An ICMP time exceeded (type 11, code 0) from `router_ip`/`router_mac` back to the sender of
/// `expired`, quoting its IP header and the first 8 bytes after it (RFC 792).
pub fn time_exceeded_frame(
    expired: &[u8],
    router_mac: u64,
    router_ip: Ipv4Addr,
) -> Option<Vec<u8>> {
    let ihl = usize::from(*expired.get(ETH)? & 0x0f) * 4;
    if ihl < 20 || expired.len() < ETH + ihl {
        return None;
    }
    let quoted = &expired[ETH..expired.len().min(ETH + ihl + 8)];
    let total = 20 + 8 + quoted.len();
    let mut f = vec![0u8; ETH + total];
    f[0..6].copy_from_slice(&expired[6..12]);
    f[6..12].copy_from_slice(&router_mac.to_be_bytes()[2..]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[ETH..ETH + 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 1;
    ip[12..16].copy_from_slice(&router_ip.octets());
    ip[16..20].copy_from_slice(&expired[ETH + 12..ETH + 16]);
    let sum = checksum::checksum(&f[ETH..ETH + 20]);
    f[ETH + 10..ETH + 12].copy_from_slice(&sum.to_be_bytes());
    let icmp = ETH + 20;
    f[icmp] = 11;
    f[icmp + 8..].copy_from_slice(quoted);
    let sum = checksum::checksum(&f[icmp..]);
    f[icmp + 2..icmp + 4].copy_from_slice(&sum.to_be_bytes());
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_replies_never_panic_on_any_bytes() {
        let mut frame = vec![0u8; 14 + 20 + 8];
        frame[14] = 0x45;
        frame[14 + 9] = 1;
        frame[34] = 8;
        for total in [0u16, 1, 20, 27, 28, 29, 0xffff] {
            frame[16..18].copy_from_slice(&total.to_be_bytes());
            assert!(echo_reply_frame(&frame).is_some(), "total length {total}");
        }
        for len in 0..frame.len() {
            let _ = echo_reply_frame(&frame[..len]);
            let _ =
                time_exceeded_frame(&frame[..len], 0xfa16_3e00_0001, Ipv4Addr::new(10, 1, 0, 1));
        }
    }
}

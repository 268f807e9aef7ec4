//! The built-in reactive L3 controller.
//!
//! It runs in-process and uses only the pipeline's control API, as an external controller
//! would over OpenFlow: it takes packet-ins, installs flows with [`Pipeline::apply`], and
//! re-injects packets with [`Pipeline::resubmit`] / [`Pipeline::packet_out`].
//!
//! - **A new host pair** (a packet-in from table 52 with reason `action`): the source network
//!   is the packet's metadata; the source is the port that owns `nw_src` there and must have
//!   sent it (`dl_src` is its MAC); the destination is the port whose IP is `nw_dst`, on a
//!   network attached to the same router. The flows match the packet's own addresses (a port
//!   may own several), so the re-injected packet always takes them and never comes back as a
//!   packet-in. It installs one flow per direction in table 52 at priority
//!   100 (match metadata, in_port, dl_src, dl_dst, nw_src, nw_dst; actions dec_ttl, eth_src :=
//!   the router's MAC on the destination network, eth_dst := the destination's MAC, output to
//!   the local port or over the tunnel), then re-injects the packet at table 0 so the first
//!   packet is not lost (Dragonflow lost it three times). The reverse flow is installed only
//!   when the destination is local; a remote destination's node learns its own.
//! - **Batches**: the packet-ins the control thread drained together are handled together
//!   ([`L3Controller::handle_batch`]): all their learned flows go into the tables in one
//!   [`Pipeline::apply`] (one publish, one flow-cache invalidation), then every first packet
//!   is re-injected.
//! - **Cookies** name both ports of the route ([`route_cookie`]), so removing a port deletes its
//!   learned flows with two cookie/mask deletes ([`flows_of_port`]).
//! - **Router functions**: an ICMP echo request to a router interface is answered, and a
//!   packet whose TTL expires (`invalid_ttl`) gets an ICMP time exceeded from the router
//!   interface of its network. Both are rate-limited.
//! - No route: a counted drop, not a crash.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::action::Instruction;
use crate::action::{Action, PortNo};
use crate::dvr::Stage;
use crate::dvr::routes::{Location, PortEntry, RouteIndex};
use crate::dvr::topology::Topology;
use crate::execute::{PacketIn, PacketMeta};
use crate::field::Field;
use crate::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec};
use crate::flow_match::Match;
use crate::pipeline::Pipeline;
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
    /// The topology indexed for the packet-in path (rebuilt by `set_topology`).
    index: RouteIndex,
    tunnel_port: Option<u32>,
    config: L3Config,
    bucket: TokenBucket,
    /// Cookie ids by port name: kept for as long as the controller runs, so that a port keeps
    /// its id (and its learned flows their cookie) when the topology changes around it.
    ids: HashMap<String, u32>,
    pub counters: L3Counters,
}

/// One end of a route: a port, the address of it the packet carries, and its MAC.
struct Endpoint<'a> {
    port: &'a PortEntry,
    ip: Ipv4Addr,
    mac: u64,
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
            index: RouteIndex::default(),
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
        let ids = &self.ids;
        self.index = RouteIndex::new(&topo, &self.chassis, &ofports, |name| {
            ids.get(name).copied().unwrap_or_default()
        });
        self.topo = topo;
        self.tunnel_port = tunnel_port;
    }

    /// The id used in cookies for the port called `name`: given in the order ports first
    /// appeared, from 1, and never reused.
    pub fn port_id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// Handles one packet-in.
    pub fn handle(&mut self, pipeline: &Pipeline, pin: &PacketIn) -> Outcome {
        let mut outcomes = self.handle_batch(pipeline, [pin]);
        outcomes.pop().unwrap_or(Outcome::NoRoute("no packet-in"))
    }

    /// Handles packet-ins in arrival order; returns one outcome each. The flows of every new
    /// host pair among them are installed with one [`Pipeline::apply`] — one table publish
    /// for the batch instead of one per pair — and then their first packets are re-injected.
    /// Router replies go out as they come. If the switch refuses the batch's flows, each pair
    /// is tried on its own, so that one refused pair does not cost the others their route.
    pub fn handle_batch<'a>(
        &mut self,
        pipeline: &Pipeline,
        pins: impl IntoIterator<Item = &'a PacketIn>,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let mut routes = Vec::new();
        let mut mods = Vec::new();
        for pin in pins {
            let outcome = match pin.reason {
                PacketInReason::InvalidTtl => self.time_exceeded(pipeline, pin),
                _ if pin.table != Stage::EastWest.table() => {
                    Outcome::NoRoute("packet-in not from the east-west table")
                }
                _ if self.is_echo_to_router(pin) => self.echo_reply(pipeline, pin),
                _ => match self.route(pin) {
                    Ok(flows) => {
                        let start = mods.len();
                        mods.extend(flows);
                        routes.push(PendingRoute {
                            outcome: outcomes.len(),
                            pin,
                            flows: start..mods.len(),
                        });
                        Outcome::Routed {
                            flows: mods.len() - start,
                        }
                    }
                    Err(no_route) => no_route,
                },
            };
            outcomes.push(outcome);
        }
        install(pipeline, &mods, &routes, &mut outcomes);
        for outcome in &outcomes {
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
        }
        outcomes
    }

    fn is_echo_to_router(&self, pin: &PacketIn) -> bool {
        let k = &pin.key;
        k.get(Field::IpProto) == 1
            && k.get(Field::Icmpv4Type) == 8
            && self
                .index
                .is_router_ip(Ipv4Addr::from(k.get(Field::Ipv4Dst) as u32))
    }

    /// The learned flows of a new host pair (one, or two when the destination is local), or
    /// why there is no route.
    fn route(&self, pin: &PacketIn) -> Result<Vec<FlowMod>, Outcome> {
        let no_route = |why| Err(Outcome::NoRoute(why));
        let k = &pin.key;
        if k.get(Field::EthType) != 0x0800 {
            return no_route("not IPv4");
        }
        let index = &self.index;
        let Some(src_net) = index.network_of_metadata(k.get(Field::Metadata)) else {
            return no_route("metadata names no network");
        };
        let Some(src_gw) = index.gateway(src_net) else {
            return no_route("the source network has no router");
        };
        if src_gw.mac.map(u128::from) != Some(k.get(Field::EthDst)) {
            return no_route("not addressed to the router's MAC");
        }
        let dst_ip = Ipv4Addr::from(k.get(Field::Ipv4Dst) as u32);
        let src_ip = Ipv4Addr::from(k.get(Field::Ipv4Src) as u32);
        let Some(dst_gw) = index.interface_towards(src_gw.router, src_net, dst_ip) else {
            return no_route("no router interface reaches the destination");
        };
        let Some(dst_port) = index.port_at(dst_gw.network, dst_ip) else {
            return no_route("the destination address is no known port");
        };
        let Some(src_port) = index.port_at(src_net, src_ip) else {
            return no_route("the source address is no known port");
        };
        // The learned flow matches the port's MAC: a packet from another MAC would miss it
        // when re-injected and come straight back.
        if src_port.mac.map(u128::from) != Some(k.get(Field::EthSrc)) {
            return no_route("the source MAC is not the source port's");
        }
        let (Some(src_mac), Some(dst_mac), Some(src_gw), Some(dst_gw)) =
            (src_port.mac, dst_port.mac, src_gw.mac, dst_gw.mac)
        else {
            return no_route("a MAC on the route is not a unicast MAC");
        };
        let src = Endpoint {
            port: src_port,
            ip: src_ip,
            mac: src_mac,
        };
        let dst = Endpoint {
            port: dst_port,
            ip: dst_ip,
            mac: dst_mac,
        };
        let in_port = k.get(Field::InPort) as u32;
        let Some(forward) = self.learned_flow(&src, in_port, src_gw, dst_gw, &dst) else {
            return no_route("the destination's chassis cannot be reached");
        };
        let mut mods = vec![forward];
        if let Location::Local(dst_ofport) = dst.port.location {
            mods.extend(self.learned_flow(&dst, dst_ofport, dst_gw, src_gw, &src));
        }
        Ok(mods)
    }

    /// The learned flow for traffic from `from` (arriving on `in_port` through `from_gw`) to
    /// `to`, built as the text `cookie=C, table=52, idle_timeout=I, hard_timeout=H,
    /// priority=100,ip,metadata=SEG,in_port=P,dl_src=M,dl_dst=GW,nw_src=A,nw_dst=B
    /// actions=dec_ttl,set_field:GW2->eth_src,set_field:M2->eth_dst,output:Q` parses (with
    /// `set_field:SEG2->tun_id,set_field:VTEP->tun_dst,output:TUNNEL` towards another
    /// chassis), so `dump-flows` prints exactly that. The addresses are the packet's own: a
    /// port may own several, and the flow must match the packet that is re-injected. `None`
    /// when the destination cannot be reached from here.
    fn learned_flow(
        &self,
        from: &Endpoint<'_>,
        in_port: u32,
        from_gw: u64,
        to_gw: u64,
        to: &Endpoint<'_>,
    ) -> Option<FlowMod> {
        let seg = |net: usize| u128::from(self.topo.networks[net].segmentation_id);
        let matching = [
            (Field::EthType, 0x0800),
            (Field::Metadata, seg(from.port.network)),
            (Field::InPort, u128::from(in_port)),
            (Field::EthSrc, u128::from(from.mac)),
            (Field::EthDst, u128::from(from_gw)),
            (Field::Ipv4Src, u128::from(u32::from(from.ip))),
            (Field::Ipv4Dst, u128::from(u32::from(to.ip))),
        ]
        .into_iter()
        .try_fold(Match::new(), |m, (field, value)| m.exact(field, value))
        .ok()?;
        let mut actions = vec![
            Action::DecTtl,
            Action::SetField {
                field: Field::EthSrc,
                value: u128::from(to_gw),
            },
            Action::SetField {
                field: Field::EthDst,
                value: u128::from(to.mac),
            },
        ];
        match (to.port.location, self.tunnel_port) {
            (Location::Local(p), _) => actions.push(Action::output(p)),
            (Location::Remote(vtep), Some(tunnel)) => actions.extend([
                Action::SetField {
                    field: Field::TunId,
                    value: seg(to.port.network),
                },
                Action::SetField {
                    field: Field::TunDst,
                    value: u128::from(u32::from(vtep)),
                },
                Action::output(tunnel),
            ]),
            _ => return None,
        }
        Some(FlowMod::add(FlowSpec {
            table: Stage::EastWest.table(),
            priority: 100,
            cookie: route_cookie(from.port.id, to.port.id),
            idle_timeout: self.config.idle_timeout,
            hard_timeout: self.config.hard_timeout,
            flags: FlowFlags::default(),
            matching,
            instructions: vec![Instruction::ApplyActions(actions)],
        }))
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
        let Some(net) = self.index.network_of_metadata(k.get(Field::Metadata)) else {
            return Outcome::NoRoute("metadata names no network");
        };
        let Some(gw) = self.index.gateway(net) else {
            return Outcome::NoRoute("the network has no router");
        };
        let Some(gw_mac) = gw.mac else {
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

/// A routed packet-in whose flows are in a batch not yet installed.
struct PendingRoute<'a> {
    /// Index of its outcome.
    outcome: usize,
    pin: &'a PacketIn,
    /// Its flows in the batch.
    flows: std::ops::Range<usize>,
}

/// Installs the flows of `routes` (all of `mods`) in one batch — or, if the switch refuses
/// it, each route's on its own, turning the refused ones into [`Outcome::NoRoute`] — then
/// re-injects the first packet of each route that has its flows, at table 0, all on one
/// snapshot of the tables with one wake-up of the datapath.
fn install(
    pipeline: &Pipeline,
    mods: &[FlowMod],
    routes: &[PendingRoute<'_>],
    outcomes: &mut [Outcome],
) {
    if mods.is_empty() {
        return;
    }
    if pipeline.apply(mods).is_err() {
        for r in routes {
            if let Err(e) = pipeline.apply(&mods[r.flows.clone()]) {
                tracing::warn!(%e, "l3: installing learned flows failed");
                outcomes[r.outcome] = Outcome::NoRoute("the switch refused the learned flows");
            }
        }
    }
    let first_packets = routes
        .iter()
        .filter(|r| matches!(outcomes[r.outcome], Outcome::Routed { .. }))
        .map(|r| {
            let k = &r.pin.key;
            let meta = PacketMeta {
                tun_id: k.get(Field::TunId) as u64,
                tun_src: k.get(Field::TunSrc) as u32,
                tun_dst: k.get(Field::TunDst) as u32,
                pkt_mark: k.get(Field::PktMark) as u32,
                // Packet-in data is whole (see `PacketMeta::l4_checksum_partial`).
                l4_checksum_partial: false,
            };
            (k.get(Field::InPort) as u32, meta, r.pin.data.as_slice())
        });
    if let Err(e) = pipeline.resubmit_all(0, first_packets) {
        tracing::warn!(%e, "l3: re-injecting first packets failed");
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
    use crate::dvr::topology::tests::BLOG;
    use crate::text;

    /// The flows the controller builds are the ones their text gives: `dump-flows` prints
    /// that text, the cookie and timeouts included.
    #[test]
    fn learned_flows_are_what_their_text_parses_to() {
        let mut topo = Topology::from_toml(BLOG, "blog.toml").unwrap();
        let mut node2 = topo.chassis[0].clone();
        node2.name = "node2".into();
        node2.vtep = "192.168.50.2".parse().unwrap();
        topo.chassis.push(node2);
        topo.ports[1].chassis = "node2".into();
        topo.validate(Some("node1")).unwrap();
        let config = L3Config {
            idle_timeout: 30,
            hard_timeout: 7,
            ..L3Config::default()
        };
        let l3 = L3Controller::new(
            Arc::new(topo),
            "node1",
            [("vm1".to_string(), 11)].into(),
            Some(5),
            config,
        );
        let end = |net: usize, ip: [u8; 4], mac: u64| {
            let ip = Ipv4Addr::from(ip);
            Endpoint {
                port: l3.index.port_at(net, ip).unwrap(),
                ip,
                mac,
            }
        };
        let vm1 = end(0, [10, 1, 0, 5], 0xfa16_3e00_17e6);
        let vm2 = end(1, [10, 2, 0, 5], 0xfa16_3ecf_4bed);
        let (r1_net1, r1_net2) = (0xfa16_3ec0_8d8b, 0xfa16_3ec5_024d);
        let parsed = |line: &str| text::parse_flow(line, FlowModCommand::Add).unwrap();
        assert_eq!(
            l3.learned_flow(&vm1, 11, r1_net1, r1_net2, &vm2),
            Some(parsed(
                "cookie=0xd100000001000002, table=52, idle_timeout=30, hard_timeout=7, priority=100,ip,metadata=0x1f42,in_port=11,dl_src=fa:16:3e:00:17:e6,dl_dst=fa:16:3e:c0:8d:8b,nw_src=10.1.0.5,nw_dst=10.2.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:cf:4b:ed->eth_dst,set_field:0x1f43->tun_id,set_field:192.168.50.2->tun_dst,output:5"
            ))
        );
        assert_eq!(
            l3.learned_flow(&vm2, 5, r1_net2, r1_net1, &vm1),
            Some(parsed(
                "cookie=0xd100000002000001, table=52, idle_timeout=30, hard_timeout=7, priority=100,ip,metadata=0x1f43,in_port=5,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11"
            ))
        );
    }

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

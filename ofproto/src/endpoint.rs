//! The OpenFlow endpoint: listeners, active controller connections, the switch-wide state
//! every connection shares, and the control thread that turns pipeline events into
//! asynchronous messages.
//!
//! # What
//! [`Endpoint::start`] opens every connection string of an [`EndpointConfig`] the way OVS
//! names them — `ptcp:PORT[:IP]` and `punix:PATH` listen, `tcp:IP:PORT` and `unix:PATH`
//! connect out (and reconnect with backoff) — plus the bridge's management socket. Every
//! connection is served by [`crate::conn`] and [`crate::handler`]; they all share one
//! [`Switch`]: the pipeline, the [`PortProvider`], the table of live connections with their
//! role and asynchronous configuration, and the master generation id.
//!
//! # Asynchronous messages
//! One control thread, woken by the pipeline's packet-in waker, takes
//! [`Pipeline::next_packet_in`], calls [`Pipeline::expire`] about
//! once a second and reads the port provider's events, and queues PACKET_IN, FLOW_REMOVED and
//! PORT_STATUS on every connection whose role and asynchronous configuration (OpenFlow 1.3.5
//! §7.3.10, element 0 for master and equal, element 1 for slave) ask for that reason. Queueing
//! never blocks: a connection more than [`Limits::max_pending_packet_ins`] behind misses
//! packet-ins (counted in [`EndpointCounters::packet_ins_dropped`]), and one that lets other
//! messages pile up past [`Limits::max_pending_output`] is disconnected; neither is waited
//! for.
//!
//! An in-process controller ([`PacketInHook`], the built-in DVR controller) sees the
//! packet-ins first, on the control thread, a batch at a time (what the thread drained at
//! once, up to 1024); what it handles goes to no connection.
//!
//! # Fail mode
//! `secure` leaves the flow tables alone whatever happens to controllers. `standalone` adds a
//! table-0, priority-0 `NORMAL` flow (cookie [`FALLBACK_COOKIE`]) while no controller
//! connection (one opened from a `tcp:`/`unix:` controller string) has completed its HELLO,
//! and removes it when one has; service connections (listeners, the management socket) do not
//! count, as in OVS.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam::channel::Receiver;
use tracing::{info, warn};
use wyvern_pipeline::action::{Action, Instruction, N_TABLES, PortNo};
use wyvern_pipeline::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec, FlowStats};
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::{FlowFilter, FlowRemoved, PendingBatch, Pipeline, SourcedBatchError};

use crate::codec;
use crate::conn::{Outbox, Stream, serve};
use crate::error::{OfError, RoleRequestFailedCode};
use crate::msg::table_features::{TableFeatures, table_features_reply};
use crate::msg::{AsyncConfig, ControllerRole, Message, PacketInReason, PortStatus, Role};
use crate::ports::PortProvider;
use crate::services::{AdminHandler, PacketInHook, Services};
use crate::translate;

/// The default OpenFlow port.
pub const DEFAULT_PORT: u16 = 6653;

/// The cookie of the `standalone` fail-mode fallback flow.
pub const FALLBACK_COOKIE: u64 = 0x7779_7665_726e_fa11;

/// The most bytes one multipart reply body may hold (65535 less the 16-byte multipart header).
const MP_BODY_MAX: usize = 65535 - 16;

/// An OVS connection string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnTarget {
    /// `ptcp:[PORT][:IP]`: listen on TCP (all addresses unless IP is given).
    PTcp(SocketAddr),
    /// `punix:PATH`: listen on a unix socket.
    PUnix(PathBuf),
    /// `tcp:IP[:PORT]`: connect to a controller.
    Tcp(SocketAddr),
    /// `unix:PATH`: connect to a controller on a unix socket.
    Unix(PathBuf),
}

/// Why a connection string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The method before the first `:` is not one wyvern knows.
    #[error(
        "\"{0}\": unknown connection method (use ptcp:PORT[:IP], punix:PATH, tcp:IP:PORT or unix:PATH)"
    )]
    Method(String),
    /// The port is not a number from 0 to 65535.
    #[error("\"{0}\": bad port (expected a number from 0 to 65535)")]
    Port(String),
    /// The address is not an IPv4 or IPv6 address.
    #[error("\"{0}\": bad IP address (expected e.g. 127.0.0.1 or [::1])")]
    Ip(String),
    /// A unix socket string without a path.
    #[error("\"{0}\": missing socket path")]
    Path(String),
}

fn parse_ip(s: &str, whole: &str) -> Result<IpAddr, TargetError> {
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().map_err(|_| TargetError::Ip(whole.to_owned()))
}

fn parse_port(s: &str, whole: &str) -> Result<u16, TargetError> {
    if s.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    s.parse().map_err(|_| TargetError::Port(whole.to_owned()))
}

/// Splits `IP[:PORT]` (IPv6 in brackets) into its parts.
fn split_ip_port(s: &str) -> (&str, &str) {
    if let Some(rest) = s.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        let port = rest[end + 1..].strip_prefix(':').unwrap_or("");
        return (&s[..end + 2], port);
    }
    match s.rsplit_once(':') {
        Some((ip, port)) => (ip, port),
        None => (s, ""),
    }
}

impl FromStr for ConnTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, TargetError> {
        let (method, rest) = s
            .split_once(':')
            .ok_or_else(|| TargetError::Method(s.to_owned()))?;
        match method {
            "ptcp" => {
                let (port, ip) = match rest.split_once(':') {
                    Some((port, ip)) => (port, Some(ip)),
                    None => (rest, None),
                };
                let port = parse_port(port, s)?;
                let ip = match ip {
                    Some(ip) => parse_ip(ip, s)?,
                    None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                };
                Ok(ConnTarget::PTcp(SocketAddr::new(ip, port)))
            }
            "tcp" => {
                let (ip, port) = split_ip_port(rest);
                Ok(ConnTarget::Tcp(SocketAddr::new(
                    parse_ip(ip, s)?,
                    parse_port(port, s)?,
                )))
            }
            "punix" | "unix" if rest.is_empty() => Err(TargetError::Path(s.to_owned())),
            "punix" => Ok(ConnTarget::PUnix(PathBuf::from(rest))),
            "unix" => Ok(ConnTarget::Unix(PathBuf::from(rest))),
            _ => Err(TargetError::Method(s.to_owned())),
        }
    }
}

impl fmt::Display for ConnTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = |a: &SocketAddr| match a.ip() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        match self {
            ConnTarget::PTcp(a) => write!(f, "ptcp:{}:{}", a.port(), ip(a)),
            ConnTarget::PUnix(p) => write!(f, "punix:{}", p.display()),
            ConnTarget::Tcp(a) => write!(f, "tcp:{}:{}", ip(a), a.port()),
            ConnTarget::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl ConnTarget {
    /// True for the listening kinds (`ptcp:`, `punix:`).
    pub fn is_passive(&self) -> bool {
        matches!(self, ConnTarget::PTcp(_) | ConnTarget::PUnix(_))
    }
}

/// What happens to the flow tables when no controller is connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailMode {
    /// Leave the flows alone.
    #[default]
    Secure,
    /// Add a `priority=0 actions=NORMAL` flow in table 0 while no controller is connected.
    Standalone,
}

impl FromStr for FailMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "secure" => Ok(FailMode::Secure),
            "standalone" => Ok(FailMode::Standalone),
            _ => Err(format!(
                "\"{s}\" is not a fail mode (use secure or standalone)"
            )),
        }
    }
}

/// Limits that keep one peer from hurting the others.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Messages longer than this are answered with OFPBRC_BAD_LEN (OpenFlow caps them at
    /// 65535 bytes anyway).
    pub max_message_len: usize,
    /// Bytes queued for a peer and not yet written: replies wait for the peer to read below
    /// it; asynchronous messages past it disconnect the peer.
    pub max_pending_output: usize,
    /// Bytes queued for a peer past which packet-ins for it are dropped (and counted) instead
    /// of queued: a controller that falls behind loses packet-ins, not its connection.
    pub max_pending_packet_ins: usize,
    /// Messages one bundle may hold.
    pub max_bundle_messages: usize,
    /// Idle time before an ECHO_REQUEST, and then before giving up on the peer.
    pub probe_interval: Duration,
    /// How long one write may block before the peer is disconnected.
    pub write_timeout: Duration,
    /// Longest wait between two attempts to reach a controller.
    pub max_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_len: 65535,
            max_pending_output: 8 << 20,
            max_pending_packet_ins: 1 << 20,
            max_bundle_messages: 1 << 20,
            probe_interval: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// Everything [`Endpoint::start`] needs to know.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The bridge name: DESC's `dp_desc` and the management socket's name.
    pub bridge: String,
    pub datapath_id: u64,
    /// `ptcp:` / `punix:` strings to listen on.
    pub listen: Vec<ConnTarget>,
    /// `tcp:` / `unix:` controllers to connect to.
    pub controllers: Vec<ConnTarget>,
    pub fail_mode: FailMode,
    /// The management socket (`punix:`), if any: see [`EndpointConfig::default_mgmt`].
    pub mgmt: Option<PathBuf>,
    /// `max_entries` of every table in TABLE_FEATURES.
    pub max_entries: u32,
    pub limits: Limits,
}

impl EndpointConfig {
    /// A configuration for `bridge` with defaults: no listeners or controllers, secure fail
    /// mode, and no management socket.
    pub fn new(bridge: &str, datapath_id: u64) -> Self {
        EndpointConfig {
            bridge: bridge.to_owned(),
            datapath_id,
            listen: Vec::new(),
            controllers: Vec::new(),
            fail_mode: FailMode::Secure,
            mgmt: None,
            max_entries: 4_000_000,
            limits: Limits::default(),
        }
    }

    /// `/run/wyvern/<bridge>.mgmt`, the management socket OVS tools are pointed at.
    pub fn default_mgmt(bridge: &str) -> PathBuf {
        PathBuf::from(format!("/run/wyvern/{bridge}.mgmt"))
    }
}

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnKind {
    /// Accepted on a listener or the management socket (`ovs-ofctl`, tools).
    Service,
    /// Opened by the switch to a configured controller.
    Controller,
}

/// Counters of the endpoint, in disjoint categories.
#[derive(Debug, Default)]
pub struct EndpointCounters {
    /// Connections served (accepted or opened).
    pub connections: AtomicU64,
    /// OFPT_ERROR replies sent.
    pub errors_sent: AtomicU64,
    /// PACKET_IN messages queued on connections (one packet to two controllers counts 2).
    pub packet_ins_sent: AtomicU64,
    /// Packet-ins that no connection wanted.
    pub packet_ins_unwanted: AtomicU64,
    /// PACKET_IN messages not queued because their connection was too far behind
    /// ([`Limits::max_pending_packet_ins`]; per connection, as `packet_ins_sent`).
    pub packet_ins_dropped: AtomicU64,
    /// Packet-ins the in-process controller ([`PacketInHook`]) handled.
    pub packet_ins_handled_locally: AtomicU64,
    /// FLOW_REMOVED messages queued.
    pub flow_removed_sent: AtomicU64,
    /// PORT_STATUS messages queued.
    pub port_status_sent: AtomicU64,
    /// Packet-outs dropped because the datapath's injection queue was full.
    pub packet_out_drops: AtomicU64,
}

#[derive(Debug)]
struct ConnEntry {
    out: Outbox,
    kind: ConnKind,
    established: bool,
    role: ControllerRole,
    async_cfg: AsyncConfig,
    miss_send_len: u16,
}

/// OpenFlow 1.3.5 §7.3.10 defaults: masters and equals get every packet-in, port-status and
/// flow-removed reason; slaves get port-status only.
pub const DEFAULT_ASYNC: AsyncConfig = AsyncConfig {
    packet_in_mask: [0x7, 0],
    port_status_mask: [0x7, 0x7],
    flow_removed_mask: [0xf, 0],
};

/// `OFPCML_DEFAULT`: the `miss_send_len` of controller connections. Service connections
/// start at 0, as in OVS (`ovs-ofctl monitor SW 65535` raises it).
const DEFAULT_MISS_SEND_LEN: u16 = 128;

/// The state all connections share.
pub(crate) struct Switch {
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) ports: Arc<dyn PortProvider>,
    pub(crate) admin: Option<Arc<dyn AdminHandler>>,
    pub(crate) config: EndpointConfig,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    /// The last master/slave generation id (OpenFlow 1.3.5 §6.3.5).
    generation: Mutex<Option<u64>>,
    next_id: AtomicU64,
    stop: AtomicBool,
    fallback: Mutex<bool>,
    table_features: OnceLock<Vec<Vec<TableFeatures>>>,
    conn_threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) counters: EndpointCounters,
}

impl Switch {
    fn conns(&self) -> MutexGuard<'_, HashMap<u64, ConnEntry>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub(crate) fn count_error(&self) {
        self.counters.errors_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_packet_out_drop(&self) {
        self.counters
            .packet_out_drops
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn register(&self, kind: ConnKind, out: Outbox) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        self.conns().insert(
            id,
            ConnEntry {
                out,
                kind,
                established: false,
                role: ControllerRole::Equal,
                async_cfg: DEFAULT_ASYNC,
                miss_send_len: match kind {
                    ConnKind::Controller => DEFAULT_MISS_SEND_LEN,
                    ConnKind::Service => 0,
                },
            },
        );
        id
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.conns().remove(&id);
        self.update_fallback();
    }

    /// HELLO negotiation succeeded.
    pub(crate) fn established(&self, id: u64) {
        if let Some(e) = self.conns().get_mut(&id) {
            e.established = true;
        }
        self.update_fallback();
    }

    pub(crate) fn is_slave(&self, id: u64) -> bool {
        self.conns()
            .get(&id)
            .is_some_and(|e| e.role == ControllerRole::Slave)
    }

    pub(crate) fn miss_send_len(&self, id: u64) -> u16 {
        self.conns().get(&id).map_or(0, |e| e.miss_send_len)
    }

    pub(crate) fn set_miss_send_len(&self, id: u64, v: u16) {
        if let Some(e) = self.conns().get_mut(&id) {
            e.miss_send_len = v;
        }
    }

    pub(crate) fn async_config(&self, id: u64) -> AsyncConfig {
        self.conns().get(&id).map_or(DEFAULT_ASYNC, |e| e.async_cfg)
    }

    pub(crate) fn set_async_config(&self, id: u64, a: AsyncConfig) {
        if let Some(e) = self.conns().get_mut(&id) {
            e.async_cfg = a;
        }
    }

    /// OpenFlow 1.3.5 §6.3.5: "If the role value in the message is OFPCR_ROLE_MASTER or
    /// OFPCR_ROLE_SLAVE, the switch must validate generation_id to check for stale messages
    /// … if (int64)(generation_id - cached_generation_id) < 0 … the switch must discard the
    /// role request and return an error message with type OFPET_ROLE_REQUEST_FAILED and code
    /// OFPRRFC_STALE." A new master turns every other master into a slave.
    pub(crate) fn role_request(&self, id: u64, req: Role) -> Result<Role, OfError> {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let mut conns = self.conns();
        let current = conns.get(&id).map_or(ControllerRole::Equal, |e| e.role);
        match req.role {
            ControllerRole::NoChange => {
                return Ok(Role {
                    role: current,
                    generation_id: generation.unwrap_or(0),
                });
            }
            ControllerRole::Equal => {}
            ControllerRole::Master | ControllerRole::Slave => {
                if let Some(g) = *generation
                    && (req.generation_id.wrapping_sub(g) as i64) < 0
                {
                    return Err(OfError::RoleRequestFailed(RoleRequestFailedCode::Stale));
                }
                *generation = Some(req.generation_id);
            }
            ControllerRole::Unknown(_) => {
                return Err(OfError::RoleRequestFailed(RoleRequestFailedCode::BadRole));
            }
        }
        if req.role == ControllerRole::Master {
            for (other, e) in conns.iter_mut() {
                if *other != id && e.role == ControllerRole::Master {
                    info!(conn = other, "demoted to slave by a new master");
                    e.role = ControllerRole::Slave;
                }
            }
        }
        if let Some(e) = conns.get_mut(&id) {
            e.role = req.role;
        }
        Ok(Role {
            role: req.role,
            generation_id: generation.unwrap_or(req.generation_id),
        })
    }

    /// Applies a batch of flow mods atomically and reports the flows it removed; on failure,
    /// the index of the mod that failed and its error.
    pub(crate) fn apply(&self, batch: &[FlowMod]) -> Result<(), (usize, OfError)> {
        self.apply_from(batch.iter().map(Ok))
    }

    /// Like [`Switch::apply`], with the mods made one at a time (decoded as they are
    /// applied); a mod that cannot be made fails the batch with its error.
    pub(crate) fn apply_from<M: std::borrow::Borrow<FlowMod>>(
        &self,
        mods: impl IntoIterator<Item = Result<M, OfError>>,
    ) -> Result<(), (usize, OfError)> {
        self.applied(self.pipeline.apply_from(mods))
    }

    /// Applies a batch planned as its mods arrived (an ONF bundle), planning it again from
    /// `replan` if the tables changed meanwhile; errors as [`Switch::apply`].
    pub(crate) fn commit<M, I>(
        &self,
        batch: PendingBatch<OfError>,
        replan: impl FnOnce() -> I,
    ) -> Result<(), (usize, OfError)>
    where
        M: std::borrow::Borrow<FlowMod>,
        I: IntoIterator<Item = Result<M, OfError>>,
    {
        self.applied(self.pipeline.commit(batch, replan))
    }

    /// Reports the flows a batch removed, or says which mod failed and why.
    fn applied(
        &self,
        outcome: Result<Vec<FlowRemoved>, SourcedBatchError<OfError>>,
    ) -> Result<(), (usize, OfError)> {
        match outcome {
            Ok(removed) => {
                for r in &removed {
                    self.deliver_flow_removed(r);
                }
                Ok(())
            }
            Err(SourcedBatchError::Source { index, error }) => Err((index, error)),
            Err(SourcedBatchError::Refused(e)) => {
                Err((e.index, translate::flow_mod_error(&e.error)))
            }
        }
    }

    /// The TABLE_FEATURES reply bodies, one per message.
    pub(crate) fn table_features(&self) -> &[Vec<TableFeatures>] {
        self.table_features.get_or_init(|| {
            let all = table_features_reply(N_TABLES, self.config.max_entries);
            split_by_size(all, |t| {
                let mut v = Vec::new();
                t.write(&mut v);
                v.len()
            })
        })
    }

    /// Queues `m` on every established connection `wants` picks, with its role and async
    /// configuration: packet-ins only while the connection is less than
    /// [`Limits::max_pending_packet_ins`] behind. Returns how many connections wanted it and
    /// how many got it.
    fn broadcast(&self, wants: impl Fn(&ConnEntry) -> Option<Message>) -> (u64, u64) {
        let conns = self.conns();
        let (mut wanted, mut queued) = (0, 0);
        for e in conns.values().filter(|e| e.established) {
            if let Some(m) = wants(e) {
                wanted += 1;
                let bytes = codec::encode(&m, 0);
                let ok = if matches!(m, Message::PacketIn(_)) {
                    e.out
                        .offer(bytes, self.config.limits.max_pending_packet_ins)
                } else {
                    e.out.send(bytes)
                };
                queued += u64::from(ok);
            }
        }
        (wanted, queued)
    }

    fn deliver_packet_in(&self, p: &wyvern_pipeline::PacketIn) {
        let reason = translate::packet_in_reason(p.reason);
        let (wanted, queued) = self.broadcast(|e| {
            let slot = usize::from(e.role == ControllerRole::Slave);
            if e.async_cfg.packet_in_mask[slot] & (1 << reason.raw()) == 0 {
                return None;
            }
            let max_len = if reason == PacketInReason::NoMatch {
                if e.miss_send_len == 0 {
                    return None;
                }
                e.miss_send_len
            } else {
                0xffff
            };
            Some(Message::PacketIn(translate::packet_in(p, max_len)))
        });
        let c = &self.counters;
        if wanted == 0 {
            c.packet_ins_unwanted.fetch_add(1, Ordering::Relaxed);
        }
        c.packet_ins_sent.fetch_add(queued, Ordering::Relaxed);
        c.packet_ins_dropped
            .fetch_add(wanted - queued, Ordering::Relaxed);
    }

    fn deliver_flow_removed(&self, r: &wyvern_pipeline::FlowRemoved) {
        if r.stats.spec.cookie == FALLBACK_COOKIE {
            return;
        }
        let m = translate::flow_removed(r);
        let (_, n) = self.broadcast(|e| {
            let slot = usize::from(e.role == ControllerRole::Slave);
            (e.async_cfg.flow_removed_mask[slot] & (1 << m.reason.raw()) != 0)
                .then(|| Message::FlowRemoved(m.clone()))
        });
        self.counters
            .flow_removed_sent
            .fetch_add(n, Ordering::Relaxed);
    }

    fn deliver_port_status(&self, ps: &PortStatus) {
        let (_, n) = self.broadcast(|e| {
            let slot = usize::from(e.role == ControllerRole::Slave);
            (e.async_cfg.port_status_mask[slot] & (1 << ps.reason.raw()) != 0)
                .then(|| Message::PortStatus(ps.clone()))
        });
        self.counters
            .port_status_sent
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Adds or removes the `standalone` fallback flow to match the controllers connected.
    fn update_fallback(&self) {
        if self.config.fail_mode != FailMode::Standalone || self.stopping() {
            return;
        }
        let mut installed = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        let controllers = self
            .conns()
            .values()
            .filter(|e| e.kind == ConnKind::Controller && e.established)
            .count();
        let want = controllers == 0;
        if want == *installed {
            return;
        }
        let spec = fallback_spec();
        let m = if want {
            // A priority-0 catch-all of the controller's own stays: it decides misses.
            let own = self.pipeline.dump_flows(&FlowFilter {
                table: 0,
                ..FlowFilter::default()
            });
            if own
                .iter()
                .any(|f| f.spec.priority == 0 && f.spec.matching.is_empty())
            {
                return;
            }
            FlowMod::add(spec)
        } else {
            FlowMod {
                command: FlowModCommand::DeleteStrict,
                spec,
                cookie_mask: u64::MAX,
                out_port: PortNo::ANY,
            }
        };
        match self.pipeline.apply(&[m]) {
            Ok(_) => {
                *installed = want;
                info!(
                    installed = want,
                    "standalone fallback flow (table 0, priority 0, NORMAL)"
                );
            }
            Err(e) => warn!("standalone fallback flow: {e}"),
        }
    }

    fn kill_all(&self) {
        for e in self.conns().values() {
            e.out.kill();
        }
    }
}

fn fallback_spec() -> FlowSpec {
    FlowSpec {
        table: 0,
        priority: 0,
        cookie: FALLBACK_COOKIE,
        idle_timeout: 0,
        hard_timeout: 0,
        flags: FlowFlags(0),
        matching: Match::new(),
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: PortNo::NORMAL,
            max_len: 0,
        }])],
    }
}

/// Cuts `items` into groups whose encoded sizes fit one multipart reply. Always returns at
/// least one (possibly empty) group.
fn split_by_size<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut used = 0;
    for it in items {
        let n = size(&it);
        if !cur.is_empty() && used + n > MP_BODY_MAX {
            out.push(std::mem::take(&mut cur));
            used = 0;
        }
        used += n;
        cur.push(it);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

/// Flow-stats entries cut into multipart reply bodies.
pub(crate) fn split_flow_stats(flows: Vec<FlowStats>) -> Vec<Vec<FlowStats>> {
    split_by_size(flows, |f| {
        let mut v = Vec::new();
        crate::msg::flow::encode_flow_stats(f, &mut v);
        v.len()
    })
}

/// A bound listener's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, a)| (Stream::Tcp(s), a.to_string())),
            Listener::Unix(l) => l
                .accept()
                .map(|(s, _)| (Stream::Unix(s), "unix".to_owned())),
        }
    }
}

/// Binds a unix socket, replacing a stale socket file nobody serves.
fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is being served by another process", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A listener could not be opened.
    #[error("cannot listen on {target}: {source}")]
    Listen {
        target: String,
        #[source]
        source: io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[source] io::Error),
    /// An active string was given as a listener, or the reverse.
    #[error("{0}: {1}")]
    Target(String, &'static str),
}

/// The running endpoint. Stop it with [`Endpoint::shutdown`] (dropping it also stops it).
pub struct Endpoint {
    switch: Arc<Switch>,
    threads: Vec<JoinHandle<()>>,
    addrs: Vec<ListenAddr>,
    unix_paths: Vec<PathBuf>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("addrs", &self.addrs)
            .finish()
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, EndpointError> {
    thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(EndpointError::Thread)
}

impl Endpoint {
    /// Opens every listener, starts connecting to every controller and starts the control
    /// thread.
    pub fn start(
        config: EndpointConfig,
        pipeline: Arc<Pipeline>,
        services: Services,
    ) -> Result<Endpoint, EndpointError> {
        let Services {
            ports,
            admin,
            packet_in_hook,
        } = services;
        let events = ports.events();
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        let mut unix_paths = Vec::new();
        let passive = config
            .listen
            .iter()
            .cloned()
            .chain(config.mgmt.clone().map(ConnTarget::PUnix));
        for t in passive {
            let err = |source| EndpointError::Listen {
                target: t.to_string(),
                source,
            };
            let l = match &t {
                ConnTarget::PTcp(a) => {
                    let l = TcpListener::bind(a).map_err(err)?;
                    addrs.push(ListenAddr::Tcp(l.local_addr().map_err(err)?));
                    Listener::Tcp(l)
                }
                ConnTarget::PUnix(p) => {
                    let l = bind_unix(p).map_err(err)?;
                    addrs.push(ListenAddr::Unix(p.clone()));
                    unix_paths.push(p.clone());
                    Listener::Unix(l)
                }
                active => {
                    return Err(EndpointError::Target(
                        active.to_string(),
                        "is not a listener (use ptcp: or punix:)",
                    ));
                }
            };
            match &l {
                Listener::Tcp(l) => l.set_nonblocking(true),
                Listener::Unix(l) => l.set_nonblocking(true),
            }
            .map_err(err)?;
            info!(%t, "listening");
            listeners.push((t, l));
        }
        for c in &config.controllers {
            if c.is_passive() {
                return Err(EndpointError::Target(
                    c.to_string(),
                    "is not a controller to connect to (use tcp: or unix:)",
                ));
            }
        }
        let controllers = config.controllers.clone();
        let switch = Arc::new(Switch {
            pipeline,
            ports,
            admin,
            config,
            conns: Mutex::new(HashMap::new()),
            generation: Mutex::new(None),
            next_id: AtomicU64::new(1),
            stop: AtomicBool::new(false),
            fallback: Mutex::new(false),
            table_features: OnceLock::new(),
            conn_threads: Mutex::new(Vec::new()),
            counters: EndpointCounters::default(),
        });
        switch.update_fallback();
        let mut threads = Vec::new();
        for (t, l) in listeners {
            let sw = switch.clone();
            threads.push(spawn(format!("of-listen {t}"), move || {
                accept_loop(&sw, &l)
            })?);
        }
        for c in controllers {
            let sw = switch.clone();
            threads.push(spawn(format!("of-connect {c}"), move || {
                connect_loop(&sw, &c)
            })?);
        }
        let sw = switch.clone();
        let control = spawn("of-control".into(), move || {
            control_loop(&sw, &events, packet_in_hook)
        })?;
        let control_thread = control.thread().clone();
        switch
            .pipeline
            .set_packet_in_waker(Box::new(move || control_thread.unpark()));
        threads.push(control);
        Ok(Endpoint {
            switch,
            threads,
            addrs,
            unix_paths,
        })
    }

    /// The addresses listened on, in configuration order (the management socket last); a
    /// `ptcp:0` listener shows the port the system chose.
    pub fn listen_addrs(&self) -> &[ListenAddr] {
        &self.addrs
    }

    /// The endpoint's counters.
    pub fn counters(&self) -> &EndpointCounters {
        &self.switch.counters
    }

    /// Connections that completed HELLO.
    pub fn established(&self) -> usize {
        self.switch
            .conns()
            .values()
            .filter(|e| e.established)
            .count()
    }

    /// Closes every connection and listener and waits for the threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.switch.stop.store(true, Ordering::Release);
        self.switch.kill_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let conns: Vec<_> = std::mem::take(
            &mut *self
                .switch
                .conn_threads
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.switch.kill_all();
        for t in conns {
            let _ = t.join();
        }
        for p in self.unix_paths.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(sw: &Arc<Switch>, l: &Listener) {
    while !sw.stopping() {
        match l.accept() {
            Ok((stream, peer)) => {
                let sw2 = sw.clone();
                let t = thread::Builder::new()
                    .name(format!("of-rx {peer}"))
                    .spawn(move || serve(sw2, stream, ConnKind::Service, peer));
                match t {
                    Ok(t) => {
                        let mut threads = sw.conn_threads.lock().unwrap_or_else(|e| e.into_inner());
                        threads.retain(|t| !t.is_finished());
                        threads.push(t);
                    }
                    Err(e) => warn!("cannot start a connection thread: {e}"),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                warn!("accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn connect(target: &ConnTarget) -> io::Result<Stream> {
    match target {
        ConnTarget::Tcp(a) => {
            TcpStream::connect_timeout(a, Duration::from_secs(2)).map(Stream::Tcp)
        }
        ConnTarget::Unix(p) => UnixStream::connect(p).map(Stream::Unix),
        _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
    }
}

/// Keeps one controller connection up: connect, serve until it drops, wait (1 s doubling up
/// to `max_backoff`), again.
fn connect_loop(sw: &Arc<Switch>, target: &ConnTarget) {
    let mut backoff = Duration::from_secs(1);
    while !sw.stopping() {
        match connect(target) {
            Ok(stream) => {
                backoff = Duration::from_secs(1);
                serve(sw.clone(), stream, ConnKind::Controller, target.to_string());
            }
            Err(e) => info!(%target, "controller not reachable: {e}"),
        }
        let until = Instant::now() + backoff;
        while !sw.stopping() && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        backoff = (backoff * 2).min(sw.config.limits.max_backoff);
    }
}

/// Most packet-ins the control thread drains (and hands the in-process controller) at once.
const PACKET_IN_BATCH: usize = 1024;

fn control_loop(
    sw: &Arc<Switch>,
    port_events: &Receiver<PortStatus>,
    mut hook: Option<Box<dyn PacketInHook>>,
) {
    let mut last_expire = Instant::now();
    let mut batch = Vec::with_capacity(PACKET_IN_BATCH);
    while !sw.stopping() {
        batch.extend(std::iter::from_fn(|| sw.pipeline.next_packet_in()).take(PACKET_IN_BATCH));
        let mut busy = !batch.is_empty();
        if let Some(h) = hook.as_mut().filter(|_| busy) {
            let drained = batch.len();
            h.packet_ins(&mut batch);
            sw.counters
                .packet_ins_handled_locally
                .fetch_add((drained - batch.len()) as u64, Ordering::Relaxed);
        }
        for p in batch.drain(..) {
            sw.deliver_packet_in(&p);
        }
        while let Ok(ps) = port_events.try_recv() {
            sw.deliver_port_status(&ps);
            busy = true;
        }
        if last_expire.elapsed() >= Duration::from_secs(1) {
            last_expire = Instant::now();
            for r in sw.pipeline.expire() {
                sw.deliver_flow_removed(&r);
            }
            sw.update_fallback();
        }
        if !busy {
            // Packet-ins unpark the thread at once (the pipeline's packet-in waker); the
            // timeout paces port events, expiry and the fail-mode check.
            thread::park_timeout(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let p = |s: &str| s.parse::<ConnTarget>();
        assert_eq!(
            p("ptcp:6653:127.0.0.1").unwrap(),
            ConnTarget::PTcp("127.0.0.1:6653".parse().unwrap())
        );
        assert_eq!(
            p("ptcp:16653").unwrap(),
            ConnTarget::PTcp("0.0.0.0:16653".parse().unwrap())
        );
        assert_eq!(
            p("tcp:127.0.0.1:6633").unwrap(),
            ConnTarget::Tcp("127.0.0.1:6633".parse().unwrap())
        );
        assert_eq!(
            p("tcp:127.0.0.1").unwrap(),
            ConnTarget::Tcp("127.0.0.1:6653".parse().unwrap())
        );
        assert_eq!(
            p("tcp:[::1]:6633").unwrap(),
            ConnTarget::Tcp("[::1]:6633".parse().unwrap())
        );
        assert_eq!(
            p("punix:/run/wyvern/br0.mgmt").unwrap(),
            ConnTarget::PUnix("/run/wyvern/br0.mgmt".into())
        );
        assert_eq!(p("unix:/x").unwrap(), ConnTarget::Unix("/x".into()));
        assert!(matches!(p("ssl:1.2.3.4"), Err(TargetError::Method(_))));
        assert!(matches!(p("ptcp:99999"), Err(TargetError::Port(_))));
        assert!(matches!(p("tcp:foo:1"), Err(TargetError::Ip(_))));
        assert!(matches!(p("punix:"), Err(TargetError::Path(_))));
        assert!(matches!(p("nonsense"), Err(TargetError::Method(_))));
        for s in [
            "ptcp:6653:127.0.0.1",
            "tcp:[::1]:6633",
            "unix:/x",
            "punix:/y",
        ] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn splitting_keeps_bodies_under_the_limit() {
        let v: Vec<usize> = vec![30000, 30000, 30000, 10, 65000];
        let chunks = split_by_size(v, |n| *n);
        assert_eq!(
            chunks,
            vec![vec![30000, 30000], vec![30000, 10], vec![65000]]
        );
        assert_eq!(split_by_size(Vec::<usize>::new(), |n| *n), vec![Vec::new()]);
    }
}

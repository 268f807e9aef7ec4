//! What one connection does with each message it receives: the dispatch `switch` of the
//! endpoint, without any I/O.
//!
//! [`Handler::on_frame`] takes one whole message, acts on it (through the pipeline's control
//! API, the [`PortProvider`](crate::ports::PortProvider) and the switch-wide state in
//! [`Switch`]) and queues the replies in the connection's outbox. Messages are handled one at a
//! time, to completion, in the order received: a BARRIER_REPLY is therefore only sent once
//! everything before it is done.
//!
//! Bad input never closes the connection, except a failed HELLO negotiation: a message that
//! does not decode is answered with the OFPT_ERROR its [`DecodeError`](crate::error::DecodeError) names, echoing its first
//! 64 bytes, and the next message is read.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::{debug, warn};
use wyvern_pipeline::action::{ALL_TABLES, N_TABLES};
use wyvern_pipeline::flow::FlowMod;
use wyvern_pipeline::{PacketMeta, PendingBatch};

use crate::codec::{self, Header, OFP_VERSION};
use crate::endpoint::Switch;
use crate::error::{BadRequestCode, HelloFailedCode, OfError, TableFeaturesFailedCode};
use crate::flow_batch::FlowModBatch;
use crate::msg::experimenter::{BUNDLE_ATOMIC, BUNDLE_ORDERED, NX_EXPERIMENTER, ONF_EXPERIMENTER};
use crate::msg::flow::NO_BUFFER;
use crate::msg::multipart::{Desc, GroupFeatures, MeterFeatures};
use crate::msg::{
    BundleAdd, BundleControl, BundleCtrlType, ErrorMsg, Experimenter, FeaturesReply, Hello,
    Message, MpReply, MpRequest, MultipartReply, MultipartRequest, PacketOut, SwitchConfig,
    msg_type,
};
use crate::services::AdminCaller;
use crate::translate;

/// The longest admin reply text: a message is at most 65535 bytes, 20 of them headers.
const ADMIN_TEXT_MAX: usize = 65535 - 20;

/// Cuts an admin reply's text to what one message holds, at a character boundary, saying so.
fn fit_admin_text(mut text: String) -> String {
    const CUT: &str = "\n[output truncated]\n";
    if text.len() > ADMIN_TEXT_MAX {
        let mut end = ADMIN_TEXT_MAX - CUT.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(CUT);
    }
    text
}

/// What the reader does after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    /// Close the connection (after writing what is queued).
    Close,
}

/// ONF bundle error codes (`ONFERR_ET_BUNDLE_*`, carried as OFPET_EXPERIMENTER with the ONF
/// experimenter id, as OVS sends them under OpenFlow 1.3).
mod bundle_err {
    pub const BAD_ID: u16 = 2302;
    pub const BUNDLE_EXIST: u16 = 2303;
    pub const BUNDLE_CLOSED: u16 = 2304;
    pub const BAD_TYPE: u16 = 2306;
    pub const BAD_FLAGS: u16 = 2307;
    pub const MSG_UNSUP: u16 = 2310;
    pub const MSG_TOO_MANY: u16 = 2312;
    pub const MSG_FAILED: u16 = 2313;
}

fn bundle_error(code: u16) -> OfError {
    OfError::Experimenter {
        exp_type: code,
        experimenter: ONF_EXPERIMENTER,
    }
}

/// An open bundle: the FLOW_MODs added to it, as received, and planned as they arrive.
///
/// Each FLOW_MOD is planned against the tables when it is added (see
/// [`wyvern_pipeline::PendingBatch`]), so the commit only publishes, and the planning of a
/// large bundle overlaps with the client still sending it. The messages are also kept as
/// bytes, for the errors that echo them and to plan the bundle again at the commit if the
/// tables changed meanwhile (decoded one at a time: a learned flow's FLOW_MOD is 184 bytes,
/// its decoded form about three times that in several heap blocks, and a bundle of 100,000
/// decoded mods freed after the commit left its holes in the heap between the new rules).
#[derive(Debug)]
struct Bundle {
    closed: bool,
    messages: Bundled,
    /// The flow mods planned so far.
    plan: PendingBatch<OfError>,
}

impl Bundle {
    fn new(switch: &Switch) -> Self {
        Bundle {
            closed: false,
            messages: Bundled::default(),
            plan: switch.pipeline.begin_batch(),
        }
    }
}

/// A bundle's messages as received.
#[derive(Debug, Default)]
struct Bundled {
    /// The inner messages back to back.
    bytes: Vec<u8>,
    /// Each message's xid and where it ends in `bytes`.
    ends: Vec<(u32, usize)>,
}

impl Bundled {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, xid: u32, message: &[u8]) {
        self.bytes.extend_from_slice(message);
        self.ends.push((xid, self.bytes.len()));
    }

    /// The messages in the order they were added, with their xids.
    fn iter(&self) -> impl Iterator<Item = (u32, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&(_, end)| end));
        self.ends
            .iter()
            .zip(starts)
            .map(|(&(xid, end), start)| (xid, &self.bytes[start..end]))
    }
}

/// The flow mod in a bundled message, as the pipeline takes it.
fn bundled_flow_mod(message: &[u8]) -> Result<FlowMod, OfError> {
    match codec::decode(message) {
        Ok((_, Message::FlowMod(fm))) => Ok(translate::flow_mod(fm.flow_mod)),
        Ok(_) => Err(bundle_error(bundle_err::MSG_UNSUP)),
        Err(e) => Err(e.of_error()),
    }
}

/// The protocol state of one connection.
pub(crate) struct Handler {
    id: u64,
    switch: Arc<Switch>,
    out: crate::conn::Outbox,
    negotiated: bool,
    config_flags: u16,
    bundles: HashMap<u32, Bundle>,
    next_xid: u32,
    /// The xid of the last ECHO_REQUEST this side sent.
    echo_xid: Option<u32>,
    /// FLOW_MODs received but not yet applied (see [`crate::flow_batch`]).
    flow_mods: FlowModBatch,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("id", &self.id)
            .field("negotiated", &self.negotiated)
            .finish()
    }
}

impl Handler {
    pub(crate) fn new(id: u64, switch: Arc<Switch>, out: crate::conn::Outbox) -> Self {
        Handler {
            id,
            switch,
            out,
            negotiated: false,
            config_flags: 0,
            bundles: HashMap::new(),
            next_xid: 0x7779_0000,
            echo_xid: None,
            flow_mods: FlowModBatch::default(),
        }
    }

    fn xid(&mut self) -> u32 {
        self.next_xid = self.next_xid.wrapping_add(1);
        self.next_xid
    }

    /// Sends the switch's HELLO (OpenFlow 1.3 only: bitmap 0x10).
    pub(crate) fn start(&mut self) {
        let xid = self.xid();
        self.send(&Message::Hello(Hello::with_versions(&[OFP_VERSION])), xid);
    }

    /// Queues one message.
    /// Queues a reply, waiting while the peer is a full outbox behind (see [`crate::conn`]).
    pub(crate) fn send(&self, m: &Message, xid: u32) {
        self.out.send_reply(
            codec::encode(m, xid),
            self.switch.config.limits.write_timeout,
        );
    }

    /// Sends the inactivity probe.
    pub(crate) fn send_echo_request(&mut self) {
        let xid = self.xid();
        self.echo_xid = Some(xid);
        self.send(&Message::EchoRequest(Vec::new()), xid);
    }

    fn error(&self, xid: u32, error: OfError, request: &[u8]) {
        self.switch.count_error();
        debug!(conn = self.id, ?error, "error reply");
        let e = ErrorMsg {
            error,
            data: request[..request.len().min(64)].to_vec(),
        };
        self.send(&Message::Error(e), xid);
    }

    /// Handles one whole message (header included). A FLOW_MOD may only be queued: call
    /// [`Handler::flush_flow_mods`] once nothing more has arrived.
    pub(crate) fn on_frame(&mut self, frame: &[u8]) -> Next {
        let Ok(header) = Header::parse(frame) else {
            return Next::Continue;
        };
        if !self.negotiated {
            return self.negotiate(header, frame);
        }
        if header.msg_type != msg_type::FLOW_MOD {
            // Whatever this message is, it comes after the queued flow mods.
            self.flush_flow_mods();
        }
        let limit = self.switch.config.limits.max_message_len;
        if frame.len() > limit {
            debug!(
                conn = self.id,
                len = frame.len(),
                limit,
                "message over the size limit"
            );
            self.error(
                header.xid,
                OfError::BadRequest(BadRequestCode::BadLen),
                frame,
            );
            return Next::Continue;
        }
        match codec::decode(frame) {
            Ok((h, msg)) => self.dispatch(h, msg, frame),
            Err(e) => {
                debug!(conn = self.id, "undecodable message: {e}");
                self.flush_flow_mods();
                self.error(header.xid, e.of_error(), frame);
            }
        }
        Next::Continue
    }

    /// Applies the queued FLOW_MODs and sends their errors.
    pub(crate) fn flush_flow_mods(&mut self) {
        if self.flow_mods.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.flow_mods);
        batch.flush(&self.switch, |xid, e, head| self.error(xid, e, head));
        self.flow_mods = batch;
    }

    /// OpenFlow 1.3.5 §6.3.1: "If a Hello element of type OFPHET_VERSIONBITMAP is present,
    /// the negotiated version must be the highest version set in both bitmaps. Otherwise, the
    /// negotiated version must be the smaller of the version number that was sent and the one
    /// that was received". wyvern speaks only 1.3, so a peer that advertises 1.3 or anything
    /// higher without a bitmap settles on 1.3.
    fn negotiate(&mut self, header: Header, frame: &[u8]) -> Next {
        let fail = |this: &Self, why: String| {
            warn!(conn = this.id, "version negotiation failed: {why}");
            let e = ErrorMsg {
                error: OfError::HelloFailed(HelloFailedCode::Incompatible),
                data: why.into_bytes(),
            };
            this.send(&Message::Error(e), header.xid);
            Next::Close
        };
        if header.msg_type != msg_type::HELLO {
            return fail(
                self,
                format!("expected HELLO, received message type {}", header.msg_type),
            );
        }
        let hello = match codec::decode(frame) {
            Ok((_, Message::Hello(h))) => h,
            Ok(_) => return Next::Continue,
            Err(e) => return fail(self, format!("bad HELLO: {e}")),
        };
        let ok = match hello.versions() {
            Some(v) => v.contains(&OFP_VERSION),
            None => header.version >= OFP_VERSION,
        };
        if !ok {
            return fail(
                self,
                format!(
                    "we support version 0x04, peer supports version {:#04x}{}",
                    header.version,
                    hello
                        .versions()
                        .map(|v| format!(" (bitmap {v:?})"))
                        .unwrap_or_default()
                ),
            );
        }
        self.negotiated = true;
        self.switch.established(self.id);
        Next::Continue
    }

    fn dispatch(&mut self, h: Header, msg: Message, frame: &[u8]) {
        let xid = h.xid;
        if is_write(&msg) && self.switch.is_slave(self.id) {
            self.flush_flow_mods();
            self.error(xid, OfError::BadRequest(BadRequestCode::IsSlave), frame);
            return;
        }
        match msg {
            Message::Hello(_) => {}
            Message::Error(e) => debug!(conn = self.id, ?e.error, "peer sent an error"),
            Message::EchoRequest(d) => self.send(&Message::EchoReply(d), xid),
            Message::EchoReply(_) => {
                if self.echo_xid == Some(xid) {
                    self.echo_xid = None;
                }
            }
            Message::FeaturesRequest => {
                let f = FeaturesReply {
                    datapath_id: self.switch.config.datapath_id,
                    n_buffers: 0,
                    n_tables: N_TABLES,
                    auxiliary_id: 0,
                    // FLOW_STATS | TABLE_STATS | PORT_STATS.
                    capabilities: 0x7,
                    reserved: 0,
                };
                self.send(&Message::FeaturesReply(f), xid);
            }
            Message::GetConfigRequest => {
                let c = SwitchConfig {
                    flags: self.config_flags,
                    miss_send_len: self.switch.miss_send_len(self.id),
                };
                self.send(&Message::GetConfigReply(c), xid);
            }
            Message::SetConfig(c) => {
                self.config_flags = c.flags;
                self.switch.set_miss_send_len(self.id, c.miss_send_len);
            }
            Message::BarrierRequest => self.send(&Message::BarrierReply, xid),
            Message::RoleRequest(r) => match self.switch.role_request(self.id, r) {
                Ok(reply) => self.send(&Message::RoleReply(reply), xid),
                Err(e) => self.error(xid, e, frame),
            },
            Message::GetAsyncRequest => {
                let a = self.switch.async_config(self.id);
                self.send(&Message::GetAsyncReply(a), xid);
            }
            Message::SetAsync(a) => self.switch.set_async_config(self.id, a),
            Message::FlowMod(fm) => {
                if self.flow_mods.is_full() {
                    self.flush_flow_mods();
                }
                let flow_mod = translate::flow_mod(fm.flow_mod);
                self.flow_mods.push(flow_mod, xid, fm.buffer_id, frame);
            }
            Message::PacketOut(po) => self.packet_out(xid, &po, frame),
            Message::PortMod(pm) => {
                if let Err(e) = self.switch.ports.port_mod(&pm) {
                    self.error(xid, e, frame);
                }
            }
            Message::TableMod(tm) => {
                // OpenFlow 1.3 defines no table config bits; anything else is refused.
                if tm.table_id >= N_TABLES && tm.table_id != ALL_TABLES {
                    self.error(
                        xid,
                        OfError::TableModFailed(crate::error::TableModFailedCode::BadTable),
                        frame,
                    );
                } else if tm.config & !0x3 != 0 {
                    self.error(
                        xid,
                        OfError::TableModFailed(crate::error::TableModFailedCode::BadConfig),
                        frame,
                    );
                }
            }
            Message::MultipartRequest(req) => self.multipart(xid, req, frame),
            Message::Experimenter(e) => self.experimenter(xid, e, frame),
            // Messages only a switch sends.
            Message::FeaturesReply(_)
            | Message::GetConfigReply(_)
            | Message::PacketIn(_)
            | Message::FlowRemoved(_)
            | Message::PortStatus(_)
            | Message::MultipartReply(_)
            | Message::BarrierReply
            | Message::RoleReply(_)
            | Message::GetAsyncReply(_) => {
                self.error(xid, OfError::BadRequest(BadRequestCode::BadType), frame)
            }
        }
    }

    /// OpenFlow 1.3.5 §7.3.7: "buffer_id ... OFP_NO_BUFFER if none"; wyvern buffers nothing,
    /// so any other id is OFPBRC_BUFFER_UNKNOWN.
    fn packet_out(&mut self, xid: u32, po: &PacketOut, frame: &[u8]) {
        if po.buffer_id != NO_BUFFER {
            self.error(
                xid,
                OfError::BadRequest(BadRequestCode::BufferUnknown),
                frame,
            );
            return;
        }
        let r = self.switch.pipeline.packet_out(
            po.in_port.0,
            PacketMeta::default(),
            &po.actions,
            &po.data,
        );
        if let Err(e) = r {
            match translate::packet_out_error(&e) {
                Some(err) => self.error(xid, err, frame),
                None => {
                    warn!(conn = self.id, "packet-out dropped: {e}");
                    self.switch.count_packet_out_drop();
                }
            }
        }
    }

    fn multipart(&mut self, xid: u32, req: MultipartRequest, frame: &[u8]) {
        let sw = self.switch.clone();
        let one = |body: MpReply| vec![body];
        let replies: Vec<MpReply> = match req.body {
            MpRequest::Desc => one(MpReply::Desc(Desc::wyvern(&sw.config.bridge))),
            MpRequest::Flow(f) => {
                let flows = sw.pipeline.dump_flows(&translate::flow_filter(&f));
                crate::endpoint::split_flow_stats(flows)
                    .into_iter()
                    .map(MpReply::Flow)
                    .collect()
            }
            MpRequest::Aggregate(f) => {
                let a = sw.pipeline.aggregate(&translate::flow_filter(&f));
                one(MpReply::Aggregate {
                    packet_count: a.packets,
                    byte_count: a.bytes,
                    flow_count: a.flows,
                })
            }
            MpRequest::Table => one(MpReply::Table(translate::table_stats(
                &sw.pipeline.table_stats(),
            ))),
            MpRequest::PortStats { port_no } => {
                let port = (port_no != wyvern_pipeline::action::PortNo::ANY.0).then_some(port_no);
                one(MpReply::PortStats(sw.ports.stats(port)))
            }
            MpRequest::PortDesc => one(MpReply::PortDesc(sw.ports.descs())),
            MpRequest::TableFeatures(set) => {
                if !set.is_empty() {
                    self.error(
                        xid,
                        OfError::TableFeaturesFailed(TableFeaturesFailedCode::Eperm),
                        frame,
                    );
                    return;
                }
                sw.table_features()
                    .iter()
                    .cloned()
                    .map(MpReply::TableFeatures)
                    .collect()
            }
            MpRequest::GroupFeatures => one(MpReply::GroupFeatures(GroupFeatures::default())),
            MpRequest::MeterFeatures => one(MpReply::MeterFeatures(MeterFeatures::default())),
            MpRequest::Experimenter { experimenter, .. } => {
                let code = if experimenter == ONF_EXPERIMENTER || experimenter == NX_EXPERIMENTER {
                    BadRequestCode::BadExpType
                } else {
                    BadRequestCode::BadExperimenter
                };
                self.error(xid, OfError::BadRequest(code), frame);
                return;
            }
            MpRequest::Unknown { .. } => {
                self.error(
                    xid,
                    OfError::BadRequest(BadRequestCode::BadMultipart),
                    frame,
                );
                return;
            }
        };
        let n = replies.len();
        for (i, body) in replies.into_iter().enumerate() {
            let flags = if i + 1 < n {
                crate::msg::multipart::MPF_MORE
            } else {
                0
            };
            self.send(
                &Message::MultipartReply(MultipartReply { flags, body }),
                xid,
            );
        }
    }

    fn experimenter(&mut self, xid: u32, e: Experimenter, frame: &[u8]) {
        match e {
            // Only the standard OFPT_PACKET_IN is sent; `ovs-ofctl monitor` falls back to it.
            Experimenter::SetPacketInFormat(_) => self.error(
                xid,
                OfError::BadRequest(BadRequestCode::BadExperimenter),
                frame,
            ),
            Experimenter::BundleControl(b) => self.bundle_control(xid, b, frame),
            Experimenter::BundleAdd(b) => self.bundle_add(xid, b, frame),
            Experimenter::AdminRequest(words) => self.admin(xid, &words),
            // Replies go from the switch, never to it.
            Experimenter::AdminReply { .. } => {
                self.error(xid, OfError::BadRequest(BadRequestCode::BadExpType), frame)
            }
            Experimenter::Other { experimenter, .. } => {
                let code = if experimenter == ONF_EXPERIMENTER || experimenter == NX_EXPERIMENTER {
                    BadRequestCode::BadExpType
                } else {
                    BadRequestCode::BadExperimenter
                };
                self.error(xid, OfError::BadRequest(code), frame);
            }
        }
    }

    fn admin(&mut self, xid: u32, words: &[String]) {
        let caller = AdminCaller {
            read_only: self.switch.is_slave(self.id),
        };
        let result = match &self.switch.admin {
            Some(admin) => admin.run(caller, words),
            None => Err("this switch takes no admin commands".to_owned()),
        };
        let (ok, text) = match result {
            Ok(text) => (true, text),
            Err(text) => (false, text),
        };
        debug!(conn = self.id, ?words, ok, "admin command");
        self.send(
            &Message::Experimenter(Experimenter::AdminReply {
                ok,
                text: fit_admin_text(text),
            }),
            xid,
        );
    }

    fn bundle_reply(&self, xid: u32, b: &BundleControl, ctrl_type: BundleCtrlType) {
        let reply = BundleControl {
            bundle_id: b.bundle_id,
            ctrl_type,
            flags: b.flags,
            properties: Vec::new(),
        };
        self.send(
            &Message::Experimenter(Experimenter::BundleControl(reply)),
            xid,
        );
    }

    /// ONF extension 230 / OpenFlow 1.4 §6.8: open, close, commit and discard. A commit
    /// applies every flow mod of the bundle as one atomic batch.
    fn bundle_control(&mut self, xid: u32, b: BundleControl, frame: &[u8]) {
        if b.flags & !(BUNDLE_ATOMIC | BUNDLE_ORDERED) != 0 {
            self.error(xid, bundle_error(bundle_err::BAD_FLAGS), frame);
            return;
        }
        match b.ctrl_type {
            BundleCtrlType::OpenRequest => {
                if self.bundles.contains_key(&b.bundle_id) {
                    self.error(xid, bundle_error(bundle_err::BUNDLE_EXIST), frame);
                    return;
                }
                self.bundles.insert(b.bundle_id, Bundle::new(&self.switch));
                self.bundle_reply(xid, &b, BundleCtrlType::OpenReply);
            }
            BundleCtrlType::CloseRequest => match self.bundles.get_mut(&b.bundle_id) {
                None => self.error(xid, bundle_error(bundle_err::BAD_ID), frame),
                Some(bundle) if bundle.closed => {
                    self.error(xid, bundle_error(bundle_err::BUNDLE_CLOSED), frame)
                }
                Some(bundle) => {
                    bundle.closed = true;
                    self.bundle_reply(xid, &b, BundleCtrlType::CloseReply);
                }
            },
            BundleCtrlType::CommitRequest => {
                let Some(bundle) = self.bundles.remove(&b.bundle_id) else {
                    self.error(xid, bundle_error(bundle_err::BAD_ID), frame);
                    return;
                };
                let Bundle { plan, messages, .. } = bundle;
                let replan = || messages.iter().map(|(_, m)| bundled_flow_mod(m));
                match self.switch.commit(plan, replan) {
                    Ok(()) => self.bundle_reply(xid, &b, BundleCtrlType::CommitReply),
                    Err((index, e)) => {
                        if let Some((mxid, m)) = messages.iter().nth(index) {
                            self.error(mxid, e, m);
                        }
                        self.error(xid, bundle_error(bundle_err::MSG_FAILED), frame);
                    }
                }
            }
            BundleCtrlType::DiscardRequest => {
                if self.bundles.remove(&b.bundle_id).is_none() {
                    self.error(xid, bundle_error(bundle_err::BAD_ID), frame);
                } else {
                    self.bundle_reply(xid, &b, BundleCtrlType::DiscardReply);
                }
            }
            _ => self.error(xid, bundle_error(bundle_err::BAD_TYPE), frame),
        }
    }

    fn bundle_add(&mut self, xid: u32, b: BundleAdd, frame: &[u8]) {
        // Decoded (and so checked) with the BUNDLE_ADD; planned now, applied at the commit.
        let Message::FlowMod(fm) = *b.message else {
            self.error(xid, bundle_error(bundle_err::MSG_UNSUP), frame);
            return;
        };
        let max = self.switch.config.limits.max_bundle_messages;
        // OpenFlow 1.4 §7.3.9.6: adding to a bundle that does not exist opens it.
        let switch = &self.switch;
        let bundle = self
            .bundles
            .entry(b.bundle_id)
            .or_insert_with(|| Bundle::new(switch));
        if bundle.closed {
            self.error(xid, bundle_error(bundle_err::BUNDLE_CLOSED), frame);
            return;
        }
        if bundle.messages.len() >= max {
            self.error(xid, bundle_error(bundle_err::MSG_TOO_MANY), frame);
            return;
        }
        // The inner message starts after the 16-byte experimenter header and the 8 bytes of
        // bundle_id, pad and flags; its own header says where it ends.
        let inner = frame.get(24..).unwrap_or_default();
        let len = Header::parse(inner).map_or(inner.len(), |h| usize::from(h.length));
        bundle
            .messages
            .push(b.xid, inner.get(..len).unwrap_or(inner));
        let flow_mod = translate::flow_mod(fm.flow_mod);
        switch
            .pipeline
            .plan(&mut bundle.plan, [Ok::<_, OfError>(flow_mod)]);
    }
}

/// Messages a slave may not send (OpenFlow 1.3.5 §6.3.5: "the switch must reject any
/// controller-to-switch commands that modify its state, including OFPT_PACKET_OUT,
/// OFPT_FLOW_MOD, OFPT_GROUP_MOD, OFPT_PORT_MOD, OFPT_TABLE_MOD ... with OFPBRC_IS_SLAVE").
fn is_write(m: &Message) -> bool {
    matches!(
        m,
        Message::FlowMod(_)
            | Message::PacketOut(_)
            | Message::PortMod(_)
            | Message::TableMod(_)
            | Message::Experimenter(Experimenter::BundleControl(_))
            | Message::Experimenter(Experimenter::BundleAdd(_))
    )
}

//! A blocking OpenFlow 1.3 client: what `wyvern dump-flows`, `add-flows` and the other
//! `ovs-ofctl`-style verbs speak to a switch (ours or Open vSwitch).
//!
//! # What
//! [`Client::connect`] opens an OVS connection string ([`Target`]: `tcp:IP:PORT` or
//! `unix:PATH`) and does the HELLO exchange as `ovs-ofctl -O OpenFlow13` does: it sends a
//! HELLO with a version bitmap holding only 1.3 and accepts the peer's HELLO with a bitmap that
//! includes 1.3, or without a bitmap if its header version is 1.3 or later. Then:
//!
//! * [`Client::request`] sends one message and returns the reply with the same xid;
//! * [`Client::multipart`] sends a multipart request and returns every reply message until one
//!   arrives without OFPMPF_REPLY_MORE (reassembly);
//! * [`Client::transact`] pipelines many messages (flow mods) and one BARRIER: it sends all of
//!   them without waiting, drains what the switch sends back while writing, and then waits for
//!   the barrier reply; the first OFPT_ERROR that answers one of them is returned;
//! * [`Client::bundle`] does the same inside an ONF bundle (open, add each, commit);
//! * [`Client::send_encoded`] does either with messages encoded beforehand ([`Encoded`], on
//!   any thread, without a connection), numbering them as it sends them;
//! * [`Client::begin`] does either a part at a time, as the parts are made
//!   ([`TransactionWriter`]), and says which message an error answers;
//! * [`Client::admin`] runs a wyvern admin command (`trace`, `add-port`, ...);
//! * [`Client::recv`] returns the next message that is not an echo (for `monitor`).
//!
//! While waiting, the client answers ECHO_REQUESTs, and messages whose xid is not the one
//! awaited (asynchronous PACKET_IN, FLOW_REMOVED, PORT_STATUS, or late replies) are queued for
//! [`Client::recv`] (at most [`MAX_QUEUED`], the oldest dropped after that), as `ovs-ofctl`
//! skips them.
//!
//! # Errors
//! Every failure is a [`ClientError`]; an OFPT_ERROR from the peer is
//! [`ClientError::Peer`], which carries the whole error message so a caller can print the
//! offending request as `ovs-ofctl` does. Every wait is bounded by the timeout
//! ([`Client::set_timeout`], [`DEFAULT_TIMEOUT`] unless changed; `None` waits forever).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::codec::{self, FrameSplitter, FramingError, Header, OFP_VERSION};
use crate::error::{DecodeError, OfError};
use crate::msg::multipart::MPF_MORE;
use crate::msg::{
    BundleControl, BundleCtrlType, ErrorMsg, Experimenter, Hello, Message, MpReply, MpRequest,
    MultipartReply, MultipartRequest, msg_type,
};
use encoded::BUNDLE_FLAGS;
pub use encoded::{Encoded, Transaction};

/// How long a request waits for its reply unless [`Client::set_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many unsolicited messages are kept for [`Client::recv`].
pub const MAX_QUEUED: usize = 4096;
/// How many bytes of encoded messages [`Client::send_encoded`] gathers before one write (then
/// it reads what the switch has answered so far).
const WRITE_CHUNK: usize = 64 * 1024;

/// Where to connect: an OVS active connection string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `tcp:HOST:PORT` (IPv6 as `tcp:[::1]:6653`).
    Tcp(String),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Target, ClientError> {
        if let Some(rest) = s.strip_prefix("tcp:") {
            let ok = rest
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if ok {
                return Ok(Target::Tcp(rest.to_string()));
            }
        } else if let Some(path) = s.strip_prefix("unix:")
            && !path.is_empty()
        {
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        Err(ClientError::BadTarget(s.to_string()))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "tcp:{a}"),
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Not a connection string the client knows.
    #[error("\"{0}\": not a connection string (expected tcp:IP:PORT or unix:PATH)")]
    BadTarget(String),
    /// The connection could not be opened.
    #[error("connection failed ({0})")]
    Connect(#[source] io::Error),
    /// Reading or writing the connection failed.
    #[error("connection error ({0})")]
    Io(#[source] io::Error),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
    /// Nothing arrived in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    /// The byte stream lost its framing.
    #[error("{0}")]
    Framing(#[from] FramingError),
    /// A message meant for us could not be decoded.
    #[error("received a message that cannot be decoded ({0})")]
    Decode(#[source] DecodeError),
    /// HELLO exchange found no common version.
    #[error(
        "version negotiation failed (we support version 0x04, peer supports version {peer:#04x})"
    )]
    VersionNegotiation { peer: u8 },
    /// The peer answered with OFPT_ERROR.
    #[error("received {}", error_name(.error.error))]
    Peer { xid: u32, error: ErrorMsg },
    /// A reply with the right xid but the wrong type.
    #[error("received unexpected reply of type {got} while waiting for {expected}")]
    Unexpected { expected: &'static str, got: u8 },
}

/// The socket under a [`Client`].
#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(buf),
            Stream::Unix(s) => s.write_all(buf),
        }
    }
}

/// One message as received: its header, its decoded form, and its bytes.
#[derive(Clone, Debug)]
pub struct Received {
    pub header: Header,
    /// The decoded message, or why it could not be decoded.
    pub message: Result<Message, DecodeError>,
    pub bytes: Vec<u8>,
}

/// A blocking OpenFlow 1.3 connection to a switch.
#[derive(Debug)]
pub struct Client {
    stream: Stream,
    splitter: FrameSplitter,
    next_xid: u32,
    timeout: Option<Duration>,
    queued: VecDeque<Received>,
    peer_hello: Hello,
}

impl Client {
    /// Connects to `target` and exchanges HELLOs.
    pub fn connect(target: &Target, timeout: Option<Duration>) -> Result<Client, ClientError> {
        let stream = match target {
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr.as_str()).map_err(ClientError::Connect)?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
            Target::Unix(path) => {
                Stream::Unix(UnixStream::connect(path).map_err(ClientError::Connect)?)
            }
        };
        Client::handshake(stream, timeout)
    }

    /// Runs the client over an already connected Unix socket (tests use a socket pair).
    pub fn from_unix(stream: UnixStream, timeout: Option<Duration>) -> Result<Client, ClientError> {
        Client::handshake(Stream::Unix(stream), timeout)
    }

    fn handshake(stream: Stream, timeout: Option<Duration>) -> Result<Client, ClientError> {
        let mut c = Client {
            stream,
            splitter: FrameSplitter::new(),
            next_xid: 1,
            timeout,
            queued: VecDeque::new(),
            peer_hello: Hello::default(),
        };
        let xid = c.send(&Message::Hello(Hello::with_versions(&[OFP_VERSION])))?;
        debug_assert_eq!(xid, 1);
        let deadline = c.deadline();
        loop {
            let r = c.read_one(deadline, "the peer's HELLO")?;
            match r.message {
                Ok(Message::Hello(h)) => {
                    let ok = match h.versions() {
                        Some(v) => v.contains(&OFP_VERSION),
                        None => r.header.version >= OFP_VERSION,
                    };
                    if !ok {
                        let peer = h
                            .versions()
                            .and_then(|v| v.into_iter().max())
                            .unwrap_or(r.header.version);
                        return Err(ClientError::VersionNegotiation { peer });
                    }
                    c.peer_hello = h;
                    return Ok(c);
                }
                Ok(Message::Error(error)) => {
                    return Err(ClientError::Peer {
                        xid: r.header.xid,
                        error,
                    });
                }
                Ok(Message::EchoRequest(d)) => c.send_xid(&Message::EchoReply(d), r.header.xid)?,
                Ok(_) | Err(_) => {
                    return Err(ClientError::Unexpected {
                        expected: "HELLO",
                        got: r.header.msg_type,
                    });
                }
            }
        }
    }

    /// The HELLO the peer sent.
    pub fn peer_hello(&self) -> &Hello {
        &self.peer_hello
    }

    /// Changes how long each wait may last (`None`: forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The xid the next [`Client::send`] will use.
    pub fn peek_xid(&self) -> u32 {
        self.next_xid
    }

    fn take_xid(&mut self) -> u32 {
        let x = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        x
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// Sends `msg` with a fresh xid and returns that xid.
    pub fn send(&mut self, msg: &Message) -> Result<u32, ClientError> {
        let xid = self.take_xid();
        self.send_xid(msg, xid)?;
        Ok(xid)
    }

    /// Sends `msg` with transaction id `xid`.
    pub fn send_xid(&mut self, msg: &Message, xid: u32) -> Result<(), ClientError> {
        self.send_raw(&codec::encode(msg, xid))
    }

    /// Sends bytes as they are (one or more whole messages).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).map_err(ClientError::Io)
    }

    /// Reads one frame, blocking until `deadline`.
    fn read_one(
        &mut self,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<Received, ClientError> {
        loop {
            if let Some(frame) = self.splitter.next_frame() {
                let bytes = frame?;
                let header = Header::parse(&bytes).map_err(ClientError::Decode)?;
                let message = codec::decode(&bytes).map(|(_, m)| m);
                return Ok(Received {
                    header,
                    message,
                    bytes,
                });
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ClientError::Timeout(self.timeout.unwrap_or_default(), what));
                    }
                    Some(left)
                }
                None => None,
            };
            self.stream
                .set_read_timeout(wait)
                .map_err(ClientError::Io)?;
            let mut buf = [0u8; 64 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.splitter.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }

    /// Reads what has already arrived without blocking, answering echoes and queueing the rest.
    fn drain_ready(&mut self) -> Result<(), ClientError> {
        self.stream.set_nonblocking(true).map_err(ClientError::Io)?;
        let mut buf = [0u8; 64 * 1024];
        let res = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break Err(ClientError::Closed),
                Ok(n) => self.splitter.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(ClientError::Io(e)),
            }
        };
        self.stream
            .set_nonblocking(false)
            .map_err(ClientError::Io)?;
        res?;
        while let Some(frame) = self.splitter.next_frame() {
            let bytes = frame?;
            let header = Header::parse(&bytes).map_err(ClientError::Decode)?;
            let message = codec::decode(&bytes).map(|(_, m)| m);
            self.dispatch(Received {
                header,
                message,
                bytes,
            })?;
        }
        Ok(())
    }

    /// Answers an echo request, or queues the message; returns it back if it is neither.
    fn dispatch(&mut self, r: Received) -> Result<(), ClientError> {
        if let Ok(Message::EchoRequest(d)) = &r.message {
            let d = d.clone();
            return self.send_xid(&Message::EchoReply(d), r.header.xid);
        }
        if self.queued.len() >= MAX_QUEUED {
            self.queued.pop_front();
        }
        self.queued.push_back(r);
        Ok(())
    }

    /// The next message that is not an ECHO_REQUEST (echoes are answered), in arrival order,
    /// whatever its xid. Waits up to the timeout.
    pub fn recv(&mut self) -> Result<Received, ClientError> {
        if let Some(r) = self.queued.pop_front() {
            return Ok(r);
        }
        let deadline = self.deadline();
        loop {
            let r = self.read_one(deadline, "a message")?;
            if let Ok(Message::EchoRequest(d)) = &r.message {
                let d = d.clone();
                self.send_xid(&Message::EchoReply(d), r.header.xid)?;
                continue;
            }
            return Ok(r);
        }
    }

    /// Waits for the next message with one of `xids`; others are queued, echoes answered.
    fn wait_for(
        &mut self,
        xids: &dyn Fn(u32) -> bool,
        deadline: Option<Instant>,
        what: &'static str,
    ) -> Result<Received, ClientError> {
        if let Some(i) = self.queued.iter().position(|r| xids(r.header.xid))
            && let Some(r) = self.queued.remove(i)
        {
            return Ok(r);
        }
        loop {
            let r = self.read_one(deadline, what)?;
            if xids(r.header.xid) && !matches!(r.message, Ok(Message::EchoRequest(_))) {
                return Ok(r);
            }
            self.dispatch(r)?;
        }
    }

    /// Sends `msg` and returns the reply with its xid (an OFPT_ERROR becomes
    /// [`ClientError::Peer`]).
    pub fn request(&mut self, msg: &Message) -> Result<(Header, Message), ClientError> {
        let xid = self.send(msg)?;
        let deadline = self.deadline();
        let r = self.wait_for(&|x| x == xid, deadline, "a reply")?;
        let m = r.message.map_err(ClientError::Decode)?;
        match m {
            Message::Error(error) => Err(ClientError::Peer { xid, error }),
            m => Ok((r.header, m)),
        }
    }

    /// Sends a multipart request and returns every reply message, in order, until one without
    /// OFPMPF_REPLY_MORE. Replies of another multipart type are an error.
    pub fn multipart(
        &mut self,
        body: MpRequest,
    ) -> Result<Vec<(Header, MultipartReply)>, ClientError> {
        let req = MultipartRequest { flags: 0, body };
        let mp_type = req.mp_type();
        let xid = self.send(&Message::MultipartRequest(req))?;
        let mut out = Vec::new();
        loop {
            let deadline = self.deadline();
            let r = self.wait_for(&|x| x == xid, deadline, "a multipart reply")?;
            match r.message.map_err(ClientError::Decode)? {
                Message::MultipartReply(m) if m.mp_type() == mp_type => {
                    let more = m.flags & MPF_MORE != 0;
                    out.push((r.header, m));
                    if !more {
                        return Ok(out);
                    }
                }
                Message::Error(error) => return Err(ClientError::Peer { xid, error }),
                _ => {
                    return Err(ClientError::Unexpected {
                        expected: "a multipart reply of the requested type",
                        got: r.header.msg_type,
                    });
                }
            }
        }
    }

    /// Like [`Client::multipart`], with the reply bodies only.
    pub fn multipart_bodies(&mut self, body: MpRequest) -> Result<Vec<MpReply>, ClientError> {
        Ok(self
            .multipart(body)?
            .into_iter()
            .map(|(_, m)| m.body)
            .collect())
    }

    /// Sends a BARRIER_REQUEST and waits for its reply.
    pub fn barrier(&mut self) -> Result<(), ClientError> {
        match self.request(&Message::BarrierRequest)? {
            (_, Message::BarrierReply) => Ok(()),
            (h, _) => Err(ClientError::Unexpected {
                expected: "BARRIER_REPLY",
                got: h.msg_type,
            }),
        }
    }

    /// Runs a wyvern admin command (`trace`, `add-port`, ...: see
    /// [`crate::services::AdminHandler`]). The outer error is the conversation's; the inner
    /// result is the command's output or its failure text.
    pub fn admin(&mut self, words: &[String]) -> Result<Result<String, String>, ClientError> {
        let req = Message::Experimenter(Experimenter::AdminRequest(words.to_vec()));
        match self.request(&req)? {
            (_, Message::Experimenter(Experimenter::AdminReply { ok: true, text })) => Ok(Ok(text)),
            (_, Message::Experimenter(Experimenter::AdminReply { ok: false, text })) => {
                Ok(Err(text))
            }
            (h, _) => Err(ClientError::Unexpected {
                expected: "a wyvern admin reply",
                got: h.msg_type,
            }),
        }
    }

    /// Sends every message in `msgs` without waiting, then a BARRIER_REQUEST, and waits for
    /// the barrier reply; see [`Client::send_encoded`].
    pub fn transact(&mut self, msgs: impl IntoIterator<Item = Message>) -> Result<(), ClientError> {
        let mut e = Encoded::new();
        for m in msgs {
            e.push(Transaction::Pipelined, m);
        }
        self.send_encoded(Transaction::Pipelined, vec![e])
    }

    /// Applies `msgs` as one atomic, ordered ONF bundle; see [`Client::send_encoded`].
    pub fn bundle(
        &mut self,
        bundle_id: u32,
        msgs: impl IntoIterator<Item = Message>,
    ) -> Result<(), ClientError> {
        let t = Transaction::Bundle(bundle_id);
        let mut e = Encoded::new();
        for m in msgs {
            e.push(t, m);
        }
        self.send_encoded(t, vec![e])
    }

    /// Sends `parts` (encoded for `transaction`), in order, as one transaction, and returns
    /// the first OFPT_ERROR that answers one of its messages, if any; see [`Client::begin`].
    pub fn send_encoded(
        &mut self,
        transaction: Transaction,
        parts: Vec<Encoded>,
    ) -> Result<(), ClientError> {
        let mut writer = self.begin(transaction)?;
        for part in parts {
            writer.send(part)?;
        }
        writer.finish().map_err(|refused| refused.error)
    }

    /// Starts a transaction whose messages are sent a part at a time, as they are made
    /// ([`TransactionWriter`]). For a bundle, this opens it (and waits for the reply).
    pub fn begin(
        &mut self,
        transaction: Transaction,
    ) -> Result<TransactionWriter<'_>, ClientError> {
        if let Transaction::Bundle(bundle_id) = transaction {
            self.bundle_control(bundle_id, BundleCtrlType::OpenRequest)?;
        }
        Ok(TransactionWriter {
            client: self,
            transaction,
            sent: SentXids::default(),
        })
    }

    /// Numbers and writes `part`, recording each message's xid with its position in the
    /// transaction.
    fn write_encoded(&mut self, part: Encoded, sent: &mut SentXids) -> Result<(), ClientError> {
        // The part is numbered from a copy of the counter, then the counter moves on: writing
        // needs the client while the numbering runs.
        let mut next = self.next_xid;
        part.number_and_write(
            WRITE_CHUNK,
            || {
                let x = next;
                next = next.wrapping_add(1).max(1);
                x
            },
            |xid| sent.push(xid),
            |run| {
                self.send_raw(run)?;
                self.drain_ready()
            },
        )?;
        self.next_xid = next;
        Ok(())
    }

    /// Sends `last` and waits for its reply; returns it with the first error that answers
    /// one of `sent` meanwhile.
    fn await_reply(
        &mut self,
        last: &Message,
        what: &'static str,
        sent: &SentXids,
    ) -> Result<(Received, Option<Refused>), ClientError> {
        let xid = self.send(last)?;
        let deadline = self.deadline();
        let mut first_error = None;
        loop {
            let r = self.wait_for(&|x| x == xid || sent.index_of(x).is_some(), deadline, what)?;
            if r.header.xid == xid {
                return Ok((r, first_error));
            }
            match r.message {
                Ok(Message::Error(error)) if first_error.is_none() => {
                    first_error = Some(Refused {
                        index: sent.index_of(r.header.xid),
                        error: ClientError::Peer {
                            xid: r.header.xid,
                            error,
                        },
                    });
                }
                // A reply to one of the messages (none of ours expect one), or a later error:
                // skip it.
                Ok(_) => {}
                Err(e) => return Err(ClientError::Decode(e)),
            }
        }
    }

    /// Sends a BUNDLE_CONTROL request of wyvern's bundle flags and waits for its reply.
    fn bundle_control(
        &mut self,
        bundle_id: u32,
        request: BundleCtrlType,
    ) -> Result<(), ClientError> {
        let (msg, expect) = bundle_request(bundle_id, request);
        match self.request(&msg)? {
            (_, Message::Experimenter(Experimenter::BundleControl(b))) if b.ctrl_type == expect => {
                Ok(())
            }
            (h, _) => Err(ClientError::Unexpected {
                expected: "a BUNDLE_CONTROL reply",
                got: h.msg_type,
            }),
        }
    }
}

/// The BUNDLE_CONTROL `request` for wyvern's bundles (atomic and ordered, as `ovs-ofctl
/// --bundle`), and the reply type that answers it.
fn bundle_request(bundle_id: u32, request: BundleCtrlType) -> (Message, BundleCtrlType) {
    let reply = match request {
        BundleCtrlType::OpenRequest => BundleCtrlType::OpenReply,
        BundleCtrlType::CommitRequest => BundleCtrlType::CommitReply,
        BundleCtrlType::CloseRequest => BundleCtrlType::CloseReply,
        _ => BundleCtrlType::DiscardReply,
    };
    let msg = Message::Experimenter(Experimenter::BundleControl(BundleControl {
        bundle_id,
        ctrl_type: request,
        flags: BUNDLE_FLAGS,
        properties: Vec::new(),
    }));
    (msg, reply)
}

/// A transaction being sent a part at a time ([`Client::begin`]): `wyvern add-flows` sends
/// each part of a file as soon as it is parsed, inside a bundle, so the switch works on the
/// first flows while the client parses the rest, and a bad line still changes nothing.
#[derive(Debug)]
pub struct TransactionWriter<'c> {
    client: &'c mut Client,
    transaction: Transaction,
    sent: SentXids,
}

/// The xids of a transaction's messages, in the order sent: runs of consecutive numbers (one
/// per part, unless the counter wrapped), so recording 100,000 messages costs next to nothing.
#[derive(Debug, Default)]
struct SentXids {
    /// Each run's first xid and length.
    runs: Vec<(u32, usize)>,
}

impl SentXids {
    fn push(&mut self, xid: u32) {
        match self.runs.last_mut() {
            Some((first, len)) if first.wrapping_add(*len as u32) == xid => *len += 1,
            _ => self.runs.push((xid, 1)),
        }
    }

    /// The position in the transaction of the message sent with `xid`.
    fn index_of(&self, xid: u32) -> Option<usize> {
        let mut before = 0;
        for &(first, len) in &self.runs {
            let offset = xid.wrapping_sub(first) as usize;
            if offset < len {
                return Some(before + offset);
            }
            before += len;
        }
        None
    }
}

/// A transaction that failed: the error, and the position of the message it answers (none
/// when it answers the transaction as a whole).
#[derive(Debug)]
pub struct Refused {
    pub index: Option<usize>,
    pub error: ClientError,
}

impl TransactionWriter<'_> {
    /// Numbers and sends the messages of `part` (encoded for this transaction), 64 KiB per
    /// write; between writes it reads what the switch has answered so far, so neither side's
    /// buffers fill up.
    pub fn send(&mut self, part: Encoded) -> Result<(), ClientError> {
        self.client.write_encoded(part, &mut self.sent)
    }

    /// Ends the transaction and returns the first OFPT_ERROR that answered one of its
    /// messages, if any.
    ///
    /// Pipelined: a BARRIER_REQUEST and the wait for its reply. Bundle: a barrier (a switch
    /// may refuse a BUNDLE_ADD when it arrives), then COMMIT, or DISCARD when a message was
    /// refused; a commit that fails reports the message that failed it when the switch
    /// says which (an error with that message's xid before the commit's own error).
    pub fn finish(self) -> Result<(), Refused> {
        let TransactionWriter {
            client,
            transaction,
            sent,
        } = self;
        let whole = |error| Refused { index: None, error };
        let (barrier, refused) = client
            .await_reply(&Message::BarrierRequest, "BARRIER_REPLY", &sent)
            .map_err(whole)?;
        if !matches!(barrier.message, Ok(Message::BarrierReply)) {
            return Err(whole(ClientError::Unexpected {
                expected: "BARRIER_REPLY",
                got: barrier.header.msg_type,
            }));
        }
        let Transaction::Bundle(bundle_id) = transaction else {
            return refused.map_or(Ok(()), Err);
        };
        if let Some(refused) = refused {
            let _ = client.bundle_control(bundle_id, BundleCtrlType::DiscardRequest);
            return Err(refused);
        }
        let (commit, expect) = bundle_request(bundle_id, BundleCtrlType::CommitRequest);
        let (reply, refused) = client
            .await_reply(&commit, "a BUNDLE_CONTROL reply", &sent)
            .map_err(whole)?;
        match reply.message.map_err(|e| whole(ClientError::Decode(e)))? {
            Message::Experimenter(Experimenter::BundleControl(b)) if b.ctrl_type == expect => {
                Ok(())
            }
            Message::Error(error) => Err(refused.unwrap_or(whole(ClientError::Peer {
                xid: reply.header.xid,
                error,
            }))),
            _ => Err(whole(ClientError::Unexpected {
                expected: "a BUNDLE_CONTROL reply",
                got: reply.header.msg_type,
            })),
        }
    }

    /// Gives the transaction up: a bundle is discarded, nothing of it applied. (Pipelined
    /// messages already sent stay applied: only a bundle can be taken back.)
    pub fn abandon(self) -> Result<(), ClientError> {
        match self.transaction {
            Transaction::Bundle(bundle_id) => self
                .client
                .bundle_control(bundle_id, BundleCtrlType::DiscardRequest),
            Transaction::Pipelined => Ok(()),
        }
    }
}

/// OFPT_ERROR's name as Open vSwitch prints it (`OFPBRC_EPERM`, `OFPFMFC_OVERLAP`, ...).
pub fn error_name(e: OfError) -> String {
    use OfError::*;
    const HFC: &[&str] = &["INCOMPATIBLE", "EPERM"];
    const BRC: &[&str] = &[
        "BAD_VERSION",
        "BAD_TYPE",
        "BAD_STAT",
        "BAD_VENDOR",
        "BAD_SUBTYPE",
        "EPERM",
        "BAD_LEN",
        "BUFFER_EMPTY",
        "BUFFER_UNKNOWN",
        "BAD_TABLE_ID",
        "IS_SLAVE",
        "BAD_PORT",
        "BAD_PACKET",
        "MULTIPART_BUFFER_OVERFLOW",
    ];
    const BAC: &[&str] = &[
        "BAD_TYPE",
        "BAD_LEN",
        "BAD_VENDOR",
        "BAD_VENDOR_TYPE",
        "BAD_OUT_PORT",
        "BAD_ARGUMENT",
        "EPERM",
        "TOO_MANY",
        "BAD_QUEUE",
        "BAD_OUT_GROUP",
        "MATCH_INCONSISTENT",
        "UNSUPPORTED_ORDER",
        "BAD_TAG",
        "BAD_SET_TYPE",
        "BAD_SET_LEN",
        "BAD_SET_ARGUMENT",
    ];
    const BIC: &[&str] = &[
        "UNKNOWN_INST",
        "UNSUP_INST",
        "BAD_TABLE_ID",
        "UNSUP_METADATA",
        "UNSUP_METADATA_MASK",
        "BAD_EXPERIMENTER",
        "BAD_EXP_TYPE",
        "BAD_LEN",
        "EPERM",
        "DUP_INST",
    ];
    const BMC: &[&str] = &[
        "BAD_TYPE",
        "BAD_LEN",
        "BAD_TAG",
        "BAD_DL_ADDR_MASK",
        "BAD_NW_ADDR_MASK",
        "BAD_WILDCARDS",
        "BAD_FIELD",
        "BAD_VALUE",
        "BAD_MASK",
        "BAD_PREREQ",
        "DUP_FIELD",
        "EPERM",
    ];
    const FMFC: &[&str] = &[
        "UNKNOWN",
        "TABLE_FULL",
        "BAD_TABLE_ID",
        "OVERLAP",
        "EPERM",
        "BAD_TIMEOUT",
        "BAD_COMMAND",
        "BAD_FLAGS",
    ];
    const GMFC: &[&str] = &[
        "GROUP_EXISTS",
        "INVALID_GROUP",
        "WEIGHT_UNSUPPORTED",
        "OUT_OF_GROUPS",
        "OUT_OF_BUCKETS",
        "CHAINING_UNSUPPORTED",
        "WATCH_UNSUPPORTED",
        "LOOP",
        "UNKNOWN_GROUP",
        "CHAINED_GROUP",
        "BAD_TYPE",
        "BAD_COMMAND",
        "BAD_BUCKET",
        "BAD_WATCH",
        "EPERM",
    ];
    const PMFC: &[&str] = &[
        "BAD_PORT",
        "BAD_HW_ADDR",
        "BAD_CONFIG",
        "BAD_ADVERTISE",
        "EPERM",
    ];
    const TMFC: &[&str] = &["BAD_TABLE", "BAD_CONFIG", "EPERM"];
    const QOFC: &[&str] = &["BAD_PORT", "BAD_QUEUE", "EPERM"];
    const SCFC: &[&str] = &["BAD_FLAGS", "BAD_LEN", "EPERM"];
    const RRFC: &[&str] = &["STALE", "UNSUP", "BAD_ROLE"];
    const MMFC: &[&str] = &[
        "UNKNOWN",
        "METER_EXISTS",
        "INVALID_METER",
        "UNKNOWN_METER",
        "BAD_COMMAND",
        "BAD_FLAGS",
        "BAD_RATE",
        "BAD_BURST",
        "BAD_BAND",
        "BAD_BAND_VALUE",
        "OUT_OF_METERS",
        "OUT_OF_BANDS",
    ];
    const TFFC: &[&str] = &[
        "BAD_TABLE",
        "BAD_METADATA",
        "BAD_TYPE",
        "BAD_LEN",
        "BAD_ARGUMENT",
        "EPERM",
    ];
    const BFC: &[&str] = &[
        "UNKNOWN",
        "EPERM",
        "BAD_ID",
        "BUNDLE_EXIST",
        "BUNDLE_CLOSED",
        "OUT_OF_BUNDLES",
        "BAD_TYPE",
        "BAD_FLAGS",
        "MSG_BAD_LEN",
        "MSG_BAD_XID",
        "MSG_UNSUP",
        "MSG_CONFLICT",
        "MSG_TOO_MANY",
        "MSG_FAILED",
        "TIMEOUT",
        "BUNDLE_IN_PROGRESS",
    ];
    let (t, c) = e.type_code();
    let named = |prefix: &str, names: &[&str], code: u16| match names.get(usize::from(code)) {
        Some(n) => format!("{prefix}_{n}"),
        None => format!("{prefix}_code_{code}"),
    };
    match e {
        HelloFailed(_) => named("OFPHFC", HFC, c),
        BadRequest(_) => named("OFPBRC", BRC, c),
        BadAction(_) => named("OFPBAC", BAC, c),
        BadInstruction(_) => named("OFPBIC", BIC, c),
        BadMatch(_) => named("OFPBMC", BMC, c),
        FlowModFailed(_) => named("OFPFMFC", FMFC, c),
        GroupModFailed(_) => named("OFPGMFC", GMFC, c),
        PortModFailed(_) => named("OFPPMFC", PMFC, c),
        TableModFailed(_) => named("OFPTMFC", TMFC, c),
        QueueOpFailed(_) => named("OFPQOFC", QOFC, c),
        SwitchConfigFailed(_) => named("OFPSCFC", SCFC, c),
        RoleRequestFailed(_) => named("OFPRRFC", RRFC, c),
        MeterModFailed(_) => named("OFPMMFC", MMFC, c),
        TableFeaturesFailed(_) => named("OFPTFFC", TFFC, c),
        Experimenter {
            exp_type,
            experimenter: crate::msg::experimenter::ONF_EXPERIMENTER,
        } if (2300..2316).contains(&exp_type) => named("OFPBFC", BFC, exp_type - 2300),
        Experimenter {
            exp_type,
            experimenter,
        } => format!("OFPET_EXPERIMENTER(vendor={experimenter:#x},type={exp_type})"),
        Unknown { .. } => format!("OFPET_type_{t}_code_{c}"),
    }
}

/// True for the messages a switch sends on its own (xid usually 0).
pub fn is_async(msg_type_raw: u8) -> bool {
    matches!(
        msg_type_raw,
        msg_type::PACKET_IN | msg_type::FLOW_REMOVED | msg_type::PORT_STATUS
    )
}

mod encoded;
#[cfg(test)]
mod tests;

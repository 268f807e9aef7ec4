//! One OpenFlow connection's I/O: a byte stream, its outbox, and the two threads that serve it.
//!
//! # Design
//! Each connection runs on its own pair of threads, so a slow or hostile peer can only stall
//! itself. The *reader* thread owns the protocol state ([`crate::handler::Handler`]): it cuts
//! the stream into messages, handles each one to completion before the next (which is what
//! makes BARRIER trivially correct; FLOW_MODs that arrive in one read are applied together,
//! before anything after them, see `flow_batch`), and runs the inactivity probe. The *writer* thread drains
//! the connection's [`Outbox`]; everyone who sends — the reader with its replies, the control
//! thread with packet-ins, flow-removed and port-status messages — only queues bytes and
//! never blocks the control thread. The outbox counts the bytes queued but not yet written,
//! and each kind of sender meets its limit in its own way:
//! - the reader's replies ([`Outbox::send_reply`]) wait for the writer to drain the outbox
//!   below the limit: a peer that reads gets every part of a large reply (a dump of a million
//!   flows), at the pace it reads; one that stops reading for longer than the write timeout
//!   is disconnected. Only that connection's reader waits; nothing else does.
//! - packet-ins ([`Outbox::offer`]) are dropped, and counted by the caller, while the peer is
//!   more than the packet-in budget behind, as OVS drops packet-ins past its per-controller
//!   queue: a controller that falls behind a flood of new flows loses some packet-ins, not
//!   its connection.
//! - other asynchronous messages ([`Outbox::send`]: flow-removed, port-status) are queued
//!   up to the limit; a peer that lets them grow past it is disconnected.
//!
//! A socket that refuses writes for longer than the write timeout closes the connection.
//!
//! # Keepalive
//! After `probe_interval` without receiving anything the switch sends an ECHO_REQUEST; if
//! nothing at all arrives within another `probe_interval`, the peer is gone and the
//! connection is closed (the OVS inactivity probe).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender, unbounded};
use tracing::{debug, info, warn};

use crate::codec::{FrameSplitter, FramingError};
use crate::endpoint::{ConnKind, Switch};
use crate::error::{BadRequestCode, OfError};
use crate::handler::{Handler, Next};
use crate::msg::ErrorMsg;

/// A connected byte stream: TCP or a unix socket.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }

    fn set_timeouts(&self, read: Duration, write: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(read))?;
                s.set_write_timeout(Some(write))
            }
            Stream::Unix(s) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(read))?;
                s.set_write_timeout(Some(write))
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

enum Out {
    Data(Vec<u8>),
    /// Write what is queued, then close.
    Close,
}

/// Where a connection's outgoing messages wait for its writer thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: Sender<Out>,
    state: Arc<OutboxState>,
    limit: usize,
    closer: Arc<dyn Fn() + Send + Sync>,
}

/// What the senders and the writer share.
#[derive(Default)]
struct OutboxState {
    /// Bytes queued and not yet written.
    pending: AtomicUsize,
    dead: AtomicBool,
    /// Set while packet-ins are being dropped (to log the start of each episode once).
    shedding: AtomicBool,
    /// Signalled by the writer after each write, for [`Outbox::send_reply`].
    drained: Condvar,
    lock: Mutex<()>,
}

impl OutboxState {
    /// Wakes a reply waiting for room. Taking the lock orders this after the waiter's check.
    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.drained.notify_all();
    }
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("pending", &self.state.pending.load(Ordering::Relaxed))
            .field("limit", &self.limit)
            .field("dead", &self.is_dead())
            .finish()
    }
}

impl Outbox {
    /// An outbox whose bytes come out of the returned receiver; `closer` tears the
    /// connection down.
    fn new(limit: usize, closer: Arc<dyn Fn() + Send + Sync>) -> (Outbox, Receiver<Out>) {
        let (tx, rx) = unbounded();
        (
            Outbox {
                tx,
                state: Arc::default(),
                limit,
                closer,
            },
            rx,
        )
    }

    fn queue(&self, bytes: Vec<u8>) -> bool {
        self.state.pending.fetch_add(bytes.len(), Ordering::AcqRel);
        self.tx.send(Out::Data(bytes)).is_ok()
    }

    /// Queues one asynchronous message; never blocks. Returns false (and disconnects the
    /// peer) when the bytes waiting for the peer would pass the limit.
    pub(crate) fn send(&self, bytes: Vec<u8>) -> bool {
        if self.is_dead() {
            return false;
        }
        let now = self.state.pending.load(Ordering::Acquire) + bytes.len();
        if now > self.limit {
            warn!(
                pending = now,
                limit = self.limit,
                "peer is not reading: disconnecting"
            );
            self.kill();
            return false;
        }
        self.queue(bytes)
    }

    /// Queues one packet-in unless the peer is more than `budget` bytes behind; never
    /// blocks. Returns whether it was queued.
    pub(crate) fn offer(&self, bytes: Vec<u8>, budget: usize) -> bool {
        if self.is_dead() {
            return false;
        }
        if self.state.pending.load(Ordering::Acquire) + bytes.len() > budget.min(self.limit) {
            if !self.state.shedding.swap(true, Ordering::Relaxed) {
                warn!(
                    budget,
                    "controller is falling behind: dropping packet-ins until it catches up"
                );
            }
            return false;
        }
        if self.state.shedding.swap(false, Ordering::Relaxed) {
            info!("controller caught up: packet-ins flow again");
        }
        self.queue(bytes)
    }

    /// Queues one reply of the connection's own reader, first waiting while the outbox is
    /// over the limit and the peer keeps reading. Returns false (and disconnects the peer)
    /// when nothing was written for `patience`.
    pub(crate) fn send_reply(&self, bytes: Vec<u8>, patience: Duration) -> bool {
        let state = &*self.state;
        let mut guard = state.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_dead() {
                return false;
            }
            let pending = state.pending.load(Ordering::Acquire);
            if pending == 0 || pending + bytes.len() <= self.limit {
                break;
            }
            let (g, waited) = state
                .drained
                .wait_timeout(guard, patience)
                .unwrap_or_else(|e| e.into_inner());
            guard = g;
            if waited.timed_out() && state.pending.load(Ordering::Acquire) >= pending {
                warn!(
                    pending,
                    limit = self.limit,
                    "peer is not reading its replies: disconnecting"
                );
                drop(guard);
                self.kill();
                return false;
            }
        }
        drop(guard);
        self.queue(bytes)
    }

    /// Closes the connection at once.
    pub(crate) fn kill(&self) {
        self.state.dead.store(true, Ordering::Release);
        (self.closer)();
        self.state.notify();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.state.dead.load(Ordering::Acquire)
    }

    fn close_after_flush(&self) {
        let _ = self.tx.send(Out::Close);
    }
}

fn writer(mut stream: Stream, rx: Receiver<Out>, state: Arc<OutboxState>) {
    while let Ok(m) = rx.recv() {
        match m {
            Out::Data(d) => {
                let r = stream.write_all(&d);
                state.pending.fetch_sub(d.len(), Ordering::AcqRel);
                if let Err(e) = r {
                    debug!("write failed: {e}");
                    state.dead.store(true, Ordering::Release);
                    state.notify();
                    stream.shutdown();
                    return;
                }
                state.notify();
            }
            Out::Close => break,
        }
    }
    let _ = stream.flush();
    stream.shutdown();
}

/// Serves one connection until it closes or the endpoint stops. Blocks the calling thread
/// (the reader); spawns the writer.
pub(crate) fn serve(switch: Arc<Switch>, stream: Stream, kind: ConnKind, peer: String) {
    let limits = switch.config.limits.clone();
    let tick = Duration::from_millis(100).min(limits.probe_interval);
    if let Err(e) = stream.set_timeouts(tick, limits.write_timeout) {
        warn!(%peer, "cannot configure socket: {e}");
        return;
    }
    let (wstream, cstream) = match (stream.try_clone(), stream.try_clone()) {
        (Ok(w), Ok(c)) => (w, c),
        _ => return,
    };
    let closer: Arc<dyn Fn() + Send + Sync> = Arc::new(move || cstream.shutdown());
    let (outbox, rx) = Outbox::new(limits.max_pending_output, closer);
    let state = outbox.state.clone();
    let writer = thread::Builder::new()
        .name(format!("of-tx {peer}"))
        .spawn(move || writer(wstream, rx, state));
    let Ok(writer) = writer else {
        return;
    };
    let id = switch.register(kind, outbox.clone());
    info!(conn = id, %peer, ?kind, "OpenFlow connection up");
    let mut handler = Handler::new(id, switch.clone(), outbox.clone());
    handler.start();
    read_loop(&switch, &mut handler, stream, &outbox, &peer);
    switch.unregister(id);
    outbox.close_after_flush();
    let _ = writer.join();
    info!(conn = id, %peer, "OpenFlow connection closed");
}

fn read_loop(
    switch: &Switch,
    handler: &mut Handler,
    mut stream: Stream,
    outbox: &Outbox,
    peer: &str,
) {
    let probe = switch.config.limits.probe_interval;
    let mut splitter = FrameSplitter::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_rx = Instant::now();
    let mut echo_sent: Option<Instant> = None;
    loop {
        if switch.stopping() || outbox.is_dead() {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                last_rx = Instant::now();
                echo_sent = None;
                splitter.push(&buf[..n]);
                while let Some(frame) = splitter.next_frame() {
                    match frame {
                        Ok(f) => {
                            if handler.on_frame(&f) == Next::Close {
                                handler.flush_flow_mods();
                                return;
                            }
                        }
                        Err(FramingError::LengthTooShort(len)) => {
                            warn!(%peer, len, "framing lost: closing");
                            let e = ErrorMsg {
                                error: OfError::BadRequest(BadRequestCode::BadLen),
                                data: splitter_head(&buf[..n]),
                            };
                            handler.flush_flow_mods();
                            handler.send(&crate::msg::Message::Error(e), 0);
                            return;
                        }
                    }
                }
                // Everything that arrived together has been read: apply its flow mods.
                handler.flush_flow_mods();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                debug!(%peer, "read failed: {e}");
                return;
            }
        }
        let now = Instant::now();
        match echo_sent {
            None if now.duration_since(last_rx) >= probe => {
                handler.send_echo_request();
                echo_sent = Some(now);
            }
            Some(t) if now.duration_since(t) >= probe => {
                warn!(%peer, "no answer to the inactivity probe: disconnecting");
                return;
            }
            _ => {}
        }
    }
}

/// The first bytes of the read that broke the framing, echoed in the error.
fn splitter_head(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len().min(64)].to_vec()
}

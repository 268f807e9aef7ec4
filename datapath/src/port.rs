//! The [`Port`] trait: what the packet workers need from any port.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use crate::counters::PortCounters;
use crate::packet::{Burst, PacketBuf};

/// An Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// A locally administered unicast address derived from `seed` (02:77:79:xx:xx:xx).
    pub fn local(seed: u32) -> MacAddr {
        let b = seed.to_be_bytes();
        MacAddr([0x02, 0x77, 0x79, b[1], b[2], b[3]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Errors of port creation and I/O.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// port name {0:?} is not a valid interface name (1..=15 bytes, no NUL or '/')
    #[error("port name {0:?} is not a valid interface name (1..=15 bytes, no NUL or '/')")]
    BadName(String),
    /// no interface named {0:?}
    #[error("no interface named {0:?}")]
    NoSuchInterface(String),
    /// {what} failed
    #[error("{what} failed: {source}")]
    Io {
        /// The operation that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// AF_XDP setup failed
    #[error("AF_XDP setup on {iface} queue {queue} failed: {reason}")]
    Xdp {
        /// Interface name.
        iface: String,
        /// Queue id.
        queue: u32,
        /// What xsk-rs/libxdp said.
        reason: String,
    },
    /// invalid configuration
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl PortError {
    /// Wrap an OS error with the operation that produced it.
    pub fn io(what: &'static str, source: io::Error) -> Self {
        PortError::Io { what, source }
    }
}

/// Result of port operations.
pub type Result<T, E = PortError> = std::result::Result<T, E>;

/// A port of the switch: something frames are received from and sent to in bursts.
///
/// Ports are owned by one worker thread (`Send`, not `Sync`) and never block: a receive with
/// nothing pending returns `Ok(0)`. Malformed frames are dropped and counted by reason
/// ([`crate::DropReason`]); they are never an `Err`. `Err` is kept for failures of the port
/// itself (a failed system call other than "would block").
pub trait Port: Send + fmt::Debug {
    /// Interface (or port) name.
    fn name(&self) -> &str;

    /// The port's Ethernet address.
    fn mac(&self) -> MacAddr;

    /// The port's MTU (IP payload bytes; frames may be MTU + 14 + 4 long).
    fn mtu(&self) -> u32;

    /// Whether the link is up (carrier on and administratively up, as far as the port knows).
    fn link_up(&self) -> bool;

    /// Append up to `out.remaining()` received frames to `out`; returns how many were appended.
    fn recv_burst(&mut self, out: &mut Burst) -> Result<usize>;

    /// Transmit `frames`; returns how many were handed to the device. Frames not sent (ring
    /// full, malformed) are dropped and counted, never retried. The buffers' contents are
    /// unspecified afterwards: a port may modify a frame in place while sending (a tunnel port
    /// prepends its headers in the headroom), and an AF_XDP port takes a buffer's UMEM frame
    /// (leaving an empty buffer) to send it without a copy.
    fn send_burst(&mut self, frames: &mut [PacketBuf]) -> Result<usize>;

    /// The file descriptor that becomes readable when frames are pending, if the port has one
    /// (the loopback port has none: use [`Port::register`]).
    fn raw_fd(&self) -> Option<RawFd>;

    /// Whether a receive with nothing pending costs no system call (the port's queue is
    /// memory, like AF_XDP's RX ring), so that a busy-polling worker may try it on every turn
    /// instead of waiting for epoll to report it readable.
    fn busy_pollable(&self) -> bool {
        false
    }

    /// Whether the port takes frames with offload work left ([`crate::PacketMeta::offload`]:
    /// a partial checksum, a TCP super-frame), as a TAP with offloads does, handing the work to
    /// its kernel. For any other port the worker does the work first.
    fn accepts_offloads(&self) -> bool {
        false
    }

    /// Register the port with a mio registry for readable events under `token`.
    fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        match self.raw_fd() {
            Some(fd) => registry.register(
                &mut mio::unix::SourceFd(&fd),
                token,
                mio::Interest::READABLE,
            ),
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "port has no file descriptor",
            )),
        }
    }

    /// Remove the port from a mio registry.
    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        match self.raw_fd() {
            Some(fd) => registry.deregister(&mut mio::unix::SourceFd(&fd)),
            None => Ok(()),
        }
    }

    /// A snapshot of the port's counters.
    fn counters(&self) -> PortCounters;
}

/// Check an interface name: 1..=15 bytes, no NUL, '/' or whitespace.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < 16
        && !name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(PortError::BadName(name.to_owned()))
    }
}

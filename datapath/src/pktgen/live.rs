//! Sending with the kernel's XDP live-frames test run (`BPF_PROG_RUN` with
//! `BPF_F_TEST_XDP_LIVE_FRAMES`, Linux ≥ 5.18).
//!
//! One call runs the [`super::progs::tx`] program `repeat` times, in batches of up to 256
//! frames, on pages of a per-call page pool initialised from the template; `XDP_TX` turns into
//! a redirect out of the interface the run names, so frames leave through the driver's
//! `ndo_xdp_xmit` with no socket, no skb and no copy from user space. The calling thread's CPU
//! does all the work.
//!
//! On a veth the frames reach the peer only if the peer can take XDP frames: it must run an
//! XDP program (the receive mode attaches one) or have GRO on; otherwise the kernel drops
//! them and counts `tx_dropped` on the sending device, which the report shows.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::frame::Template;
use super::{PktgenError, bpf, progs};

/// The kernel-internal "not supported" errno, which `bpf(2)` can return.
const ENOTSUPP: i32 = 524;

/// The kernel's largest batch (`TEST_XDP_MAX_BATCH`).
pub const MAX_BATCH: u32 = 256;

#[derive(Debug)]
pub struct LiveTx {
    prog: OwnedFd,
    /// Keeps the program's sequence map alive (the program holds a reference too).
    _state: Option<OwnedFd>,
    frame: Vec<u8>,
    ifindex: u32,
    batch: u32,
}

impl LiveTx {
    /// Load the program for `t` for interface `ifindex`; the kernel will transmit `batch`
    /// frames at a time (1..=[`MAX_BATCH`]).
    pub fn open(
        t: &Template,
        ifindex: u32,
        stamp: bool,
        batch: u32,
    ) -> Result<LiveTx, PktgenError> {
        let state = if t.flows > 1 {
            let fd =
                bpf::percpu_array("wy_pktgen_seq", progs::TX_STATE_SIZE, 1).map_err(|source| {
                    PktgenError::Bpf {
                        what: "BPF_MAP_CREATE",
                        source,
                    }
                })?;
            Some(fd)
        } else {
            None
        };
        let insns = progs::tx(t, state.as_ref().map(|fd| fd.as_raw_fd()), stamp);
        let prog = bpf::load_xdp("wy_pktgen_tx", &insns).map_err(|(source, log)| {
            PktgenError::Verifier {
                what: "send",
                source,
                log,
            }
        })?;
        Ok(LiveTx {
            prog,
            _state: state,
            frame: t.bytes.clone(),
            ifindex,
            batch: batch.clamp(1, MAX_BATCH),
        })
    }

    /// Send `n` frames (at least 1); returns when the kernel has handed them all to the
    /// driver. Errors that mean "no live-frames mode here" come back as
    /// [`PktgenError::LiveUnsupported`].
    pub fn send(&mut self, n: u32) -> Result<u32, PktgenError> {
        match bpf::run_live(&self.prog, &self.frame, self.ifindex, n, self.batch.min(n)) {
            Ok(()) => Ok(n),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::EOPNOTSUPP | ENOTSUPP | libc::E2BIG)
                ) =>
            {
                Err(PktgenError::LiveUnsupported { source: e })
            }
            Err(source) => Err(PktgenError::Bpf {
                what: "BPF_PROG_TEST_RUN",
                source,
            }),
        }
    }
}

/// Whether `e` says live-frames mode is unavailable (so `auto` should fall back).
pub fn is_unsupported(e: &PktgenError) -> bool {
    match e {
        PktgenError::LiveUnsupported { .. } => true,
        PktgenError::Verifier { source, .. } | PktgenError::Bpf { source, .. } => {
            source.kind() == io::ErrorKind::PermissionDenied
                || matches!(source.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS))
        }
        _ => false,
    }
}

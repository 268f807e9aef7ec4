//! The receive mode: an XDP program that counts and drops, attached through a BPF link.
//!
//! The counters live in a one-entry per-CPU array ([`super::progs::rx_field`]); reading sums
//! the CPUs. The link is a descriptor: dropping the [`Receiver`] closes it and detaches the
//! program, and so does the process's exit for any reason (a signal, a panic, `kill -9`), so
//! an interface is never left with a stale program.

use std::os::fd::{AsRawFd, OwnedFd};

use super::{PktgenError, bpf, progs, sys};
use crate::afxdp::XdpMode;

/// Latency of stamped pktgen frames: receive time minus the sender's stamp, both
/// `CLOCK_MONOTONIC` (so sender and receiver must run on the same host).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Frames measured.
    pub samples: u64,
    pub sum_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
}

impl Latency {
    /// Mean latency in nanoseconds (0 without samples).
    pub fn mean_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.samples).unwrap_or(0)
    }
}

/// What the receive program has counted since it was attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Every frame seen (and dropped).
    pub packets: u64,
    /// Their bytes (without FCS).
    pub bytes: u64,
    /// Frames carrying the pktgen marker.
    pub pktgen_packets: u64,
    /// Latency of the stamped ones.
    pub latency: Latency,
}

/// The receive program attached to one interface.
#[derive(Debug)]
pub struct Receiver {
    iface: String,
    mode: XdpMode,
    // Field order: the link goes first, detaching before the program and map are released.
    _link: OwnedFd,
    _prog: OwnedFd,
    map: OwnedFd,
    ncpus: usize,
    buf: Vec<u8>,
}

impl Receiver {
    /// Attach to `iface` (in the calling thread's namespace) in `mode`; [`XdpMode::Auto`]
    /// tries native (driver) XDP, then generic.
    pub fn attach(iface: &str, mode: XdpMode) -> Result<Receiver, PktgenError> {
        let ifindex = sys::ifindex(iface)?;
        let ncpus = sys::possible_cpus().map_err(|source| PktgenError::Io {
            what: "reading /sys/devices/system/cpu/possible",
            source,
        })?;
        let map = bpf::percpu_array("wy_pktgen_rx", progs::RX_VALUE_SIZE, 1).map_err(|source| {
            PktgenError::Bpf {
                what: "BPF_MAP_CREATE",
                source,
            }
        })?;
        let prog = bpf::load_xdp("wy_pktgen_rx", &progs::rx(map.as_raw_fd())).map_err(
            |(source, log)| PktgenError::Verifier {
                what: "receive",
                source,
                log,
            },
        )?;
        let modes: &[XdpMode] = match mode {
            XdpMode::Auto => &[XdpMode::Native, XdpMode::Generic],
            XdpMode::Native => &[XdpMode::Native],
            XdpMode::Generic => &[XdpMode::Generic],
        };
        let mut errors = Vec::new();
        for &m in modes {
            let flags = match m {
                XdpMode::Native => bpf::XDP_FLAGS_DRV_MODE,
                _ => bpf::XDP_FLAGS_SKB_MODE,
            };
            match bpf::attach_xdp(&prog, ifindex, flags) {
                Ok(link) => {
                    return Ok(Receiver {
                        iface: iface.to_owned(),
                        mode: m,
                        map,
                        _link: link,
                        _prog: prog,
                        ncpus,
                        buf: vec![0; ncpus * progs::RX_VALUE_SIZE as usize],
                    });
                }
                Err(e) => {
                    let why = match e.raw_os_error() {
                        Some(libc::EBUSY | libc::EEXIST) => {
                            format!("{e} (another XDP program is attached)")
                        }
                        _ => e.to_string(),
                    };
                    errors.push(format!("{m:?}: {why}"));
                }
            }
        }
        Err(PktgenError::Attach {
            iface: iface.to_owned(),
            reason: errors.join("; "),
        })
    }

    /// The XDP mode the program was attached in (native or generic).
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The counters, summed over CPUs.
    pub fn stats(&mut self) -> Result<RxStats, PktgenError> {
        bpf::lookup_percpu(&self.map, 0, &mut self.buf).map_err(|source| PktgenError::Bpf {
            what: "BPF_MAP_LOOKUP_ELEM",
            source,
        })?;
        let mut s = RxStats::default();
        let stride = progs::RX_VALUE_SIZE as usize;
        for cpu in 0..self.ncpus {
            let v = &self.buf[cpu * stride..(cpu + 1) * stride];
            let field = |off: i16| {
                let off = off as usize;
                u64::from_ne_bytes(v[off..off + 8].try_into().expect("8 bytes"))
            };
            use progs::rx_field::*;
            s.packets += field(PACKETS);
            s.bytes += field(BYTES);
            s.pktgen_packets += field(PKTGEN);
            s.latency.samples += field(LAT_COUNT);
            s.latency.sum_ns += field(LAT_SUM);
            s.latency.max_ns = s.latency.max_ns.max(field(LAT_MAX));
            let min = field(LAT_MIN);
            if min != 0 && (s.latency.min_ns == 0 || min < s.latency.min_ns) {
                s.latency.min_ns = min;
            }
        }
        Ok(s)
    }
}

//! Per-port counters, with drops counted by named reason.
//!
//! Categories are disjoint: a frame is either received (`rx_packets`), dropped on receive
//! (`rx_dropped`, one reason in [`PortCounters::drops`]) or a receive error (`rx_errors`: the
//! read itself failed); likewise on transmit. A port is owned by one worker, so counters are
//! plain integers; [`crate::Port::counters`] returns a snapshot.

use std::fmt;

/// Why a frame was dropped by a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum DropReason {
    /// Shorter than an Ethernet header (14 bytes).
    Runt = 0,
    /// Longer than the port's MTU allows (MTU + Ethernet header + one VLAN tag).
    Oversize,
    /// Received, but the receive burst or queue had no room.
    RxRingFull,
    /// The transmit ring or device queue had no room (`EAGAIN`, ring full).
    TxRingFull,
    /// No free buffer (UMEM frame, loopback pool) to hold the frame.
    NoBuffer,
    /// The port's link is down.
    LinkDown,
    /// A datagram on the VXLAN port too short for a VXLAN header plus an Ethernet header.
    VxlanTruncated,
    /// A VXLAN header without the I flag (RFC 7348: "MUST be set to 1 for a valid VXLAN
    /// Network ID").
    VxlanBadFlags,
    /// A frame to encapsulate without tunnel metadata (no `tun_dst`).
    NoTunnelDst,
    /// A frame that was split over several buffers (multi-buffer XDP); not supported.
    Fragmented,
    /// The bridge dropped the frame because the port is configured not to take it
    /// (OpenFlow `OFPPC_PORT_DOWN`, `OFPPC_NO_RECV` on receive, `OFPPC_NO_FWD` on transmit).
    AdminDown,
    /// A TAP's virtio-net header asked for an offload the datapath does not do (UDP
    /// segmentation, a super-frame that is not TCP), or a partial checksum could no longer be
    /// found in the frame.
    BadOffload,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 12;

    /// Every reason, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Runt,
        DropReason::Oversize,
        DropReason::RxRingFull,
        DropReason::TxRingFull,
        DropReason::NoBuffer,
        DropReason::LinkDown,
        DropReason::VxlanTruncated,
        DropReason::VxlanBadFlags,
        DropReason::NoTunnelDst,
        DropReason::Fragmented,
        DropReason::AdminDown,
        DropReason::BadOffload,
    ];

    /// Short snake_case name, for statistics output.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Runt => "runt",
            DropReason::Oversize => "oversize",
            DropReason::RxRingFull => "rx_ring_full",
            DropReason::TxRingFull => "tx_ring_full",
            DropReason::NoBuffer => "no_buffer",
            DropReason::LinkDown => "link_down",
            DropReason::VxlanTruncated => "vxlan_truncated",
            DropReason::VxlanBadFlags => "vxlan_bad_flags",
            DropReason::NoTunnelDst => "no_tunnel_dst",
            DropReason::Fragmented => "fragmented",
            DropReason::AdminDown => "admin_down",
            DropReason::BadOffload => "bad_offload",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters of one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received and handed out in a burst.
    pub rx_packets: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames received but dropped (sum of the receive-side reasons).
    pub rx_dropped: u64,
    /// Failed receive calls (errors other than "would block").
    pub rx_errors: u64,
    /// Of `rx_packets`, frames whose TCP or UDP checksum the sender's offload left partial and
    /// the port completed ([`crate::offload`]).
    pub rx_csum_completed: u64,
    /// Frames handed to the device or ring.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames given to send but dropped (sum of the transmit-side reasons).
    pub tx_dropped: u64,
    /// Failed transmit calls (errors other than "would block").
    pub tx_errors: u64,
    /// Of `tx_packets`, frames sent without copying them anywhere in this process: an AF_XDP
    /// port handing the kernel the UMEM frame the frame was received into. The others were
    /// copied on the way (into a UMEM frame, by a `write(2)` or `send(2)`, ...).
    pub tx_zero_copy: u64,
    /// Drops by reason, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl PortCounters {
    /// Drops counted for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Count a received frame of `len` bytes.
    pub fn rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    /// Count a transmitted frame of `len` bytes.
    pub fn tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }

    /// Count a frame dropped on receive.
    pub fn rx_drop(&mut self, reason: DropReason) {
        self.rx_dropped += 1;
        self.drops[reason as usize] += 1;
    }

    /// Count `n` frames dropped on transmit.
    pub fn tx_drop(&mut self, reason: DropReason, n: u64) {
        self.tx_dropped += n;
        self.drops[reason as usize] += n;
    }

    /// The non-zero drop reasons and their counts.
    pub fn drop_reasons(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.dropped(r)))
            .filter(|&(_, n)| n != 0)
    }
}

/// Whether a frame of `len` bytes may cross a port of MTU `mtu`: `Err` with the reason if not.
///
/// The limit is the MTU plus the Ethernet header plus one VLAN tag (the usual allowance of
/// Linux NICs for tagged frames).
pub fn check_frame_len(len: usize, mtu: u32) -> Result<(), DropReason> {
    if len < crate::packet::ETH_HLEN {
        Err(DropReason::Runt)
    } else if len > max_frame_len(mtu) {
        Err(DropReason::Oversize)
    } else {
        Ok(())
    }
}

/// Longest frame a port with MTU `mtu` accepts: MTU + Ethernet header + one VLAN tag.
pub fn max_frame_len(mtu: u32) -> usize {
    mtu as usize + crate::packet::ETH_HLEN + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn frame_len_limits() {
        assert_eq!(check_frame_len(13, 1500), Err(DropReason::Runt));
        assert_eq!(check_frame_len(14, 1500), Ok(()));
        assert_eq!(check_frame_len(1518, 1500), Ok(()));
        assert_eq!(check_frame_len(1519, 1500), Err(DropReason::Oversize));
    }
}

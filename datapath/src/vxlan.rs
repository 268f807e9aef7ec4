//! The flow-based VXLAN tunnel port (RFC 7348) over a UDP socket.
//!
//! One port serves every tunnel: the remote VTEP and VNI of each frame are per-packet metadata
//! ([`TunnelMeta`]), as with OVS's flow-based tunnels (`options:remote_ip=flow, key=flow`).
//!
//! - Receive: each datagram on the local VTEP address (default UDP port 4789) must start with
//!   the 8-byte VXLAN header with the I flag set; the header is stripped in place (the inner
//!   frame's headroom grows) and the frame is returned with `tun_id` = VNI, `tun_src` = the
//!   datagram's source address, `tun_dst` = the local VTEP address.
//! - Send: the header is written into the frame's headroom (no copy) and the datagram sent to
//!   `tun_dst` on the configured destination port; the kernel adds the outer IP/UDP headers,
//!   with a zero UDP checksum (below). Only the low 24 bits of `tun_id` are carried, as in OVS.
//!
//! The wire format is what Linux's `vxlan` devices speak, e.g.
//! `ip link add vx0 type vxlan id 100 remote A local B dstport 4789`.
//!
//! ```text
//! RFC 7348, 5. VXLAN Frame Format
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! "Flags (8 bits): where the I flag MUST be set to 1 for a valid VXLAN Network ID (VNI).
//! The other 7 bits (designated "R") are reserved fields and MUST be set to zero on
//! transmission and ignored on receipt."
//!
//! RFC 7348, 5: "UDP Checksum: It SHOULD be transmitted as zero. When a packet is received
//! with a UDP checksum of zero, it MUST be accepted for decapsulation." Open vSwitch sends
//! zero too (`options:csum` off), and its userspace datapath drops, without a word, datagrams
//! whose checksum a veth left for offload (the field then holds only the pseudo-header sum,
//! and OVS's AF_PACKET receive path does not know it is unfinished): a zero checksum is what
//! lets a wyvern node and an OVS node share a veth underlay, as in a namespace lab.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use crate::counters::{DropReason, PortCounters, check_frame_len, max_frame_len};
use crate::packet::{Burst, PacketBuf, TunnelMeta};
use crate::port::{MacAddr, Port, PortError, Result};
use crate::sys;

/// The IANA-assigned VXLAN UDP port.
pub const VXLAN_PORT: u16 = 4789;

/// Length of the VXLAN header.
pub const VXLAN_HLEN: usize = 8;

/// The I flag: the VNI is valid.
const FLAG_I: u8 = 0x08;

/// The VXLAN header (the 8 bytes after the outer UDP header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanHeader {
    /// Flags byte; must contain the I flag (0x08) on receive.
    pub flags: u8,
    /// 24-bit VXLAN network identifier.
    pub vni: u32,
}

impl VxlanHeader {
    /// Parse the first 8 bytes of `bytes`; `Err` with the drop reason if they are not a
    /// valid VXLAN header.
    pub fn parse(bytes: &[u8]) -> Result<VxlanHeader, DropReason> {
        let h: &[u8; VXLAN_HLEN] = bytes
            .get(..VXLAN_HLEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(DropReason::VxlanTruncated)?;
        if h[0] & FLAG_I == 0 {
            return Err(DropReason::VxlanBadFlags);
        }
        Ok(VxlanHeader {
            flags: h[0],
            vni: u32::from_be_bytes([0, h[4], h[5], h[6]]),
        })
    }

    /// The header for `vni` (low 24 bits) with only the I flag set.
    pub fn emit(vni: u32) -> [u8; VXLAN_HLEN] {
        let v = vni.to_be_bytes();
        [FLAG_I, 0, 0, 0, v[1], v[2], v[3], 0]
    }
}

/// How to open a VXLAN port.
#[derive(Debug, Clone)]
pub struct VxlanConfig {
    /// Port name.
    pub name: String,
    /// Local VTEP address and UDP port to receive on (port 0 picks a free one). Use a
    /// specific address: it is reported as `tun_dst` of received frames.
    pub local: SocketAddrV4,
    /// UDP port of remote VTEPs to send to.
    pub dst_port: u16,
    /// MTU of the inner frames (1450 fits a 1500-byte underlay).
    pub mtu: u32,
}

impl VxlanConfig {
    /// A port named `name` on `local_ip`:4789, sending to port 4789, inner MTU 1450.
    pub fn new(name: &str, local_ip: Ipv4Addr) -> Self {
        Self {
            name: name.to_owned(),
            local: SocketAddrV4::new(local_ip, VXLAN_PORT),
            dst_port: VXLAN_PORT,
            mtu: 1450,
        }
    }
}

/// The flow-based VXLAN port (see the module documentation).
#[derive(Debug)]
pub struct VxlanPort {
    name: String,
    socket: UdpSocket,
    local: SocketAddrV4,
    dst_port: u16,
    mtu: u32,
    mac: MacAddr,
    counters: PortCounters,
}

impl VxlanPort {
    /// Bind the local VTEP socket (non-blocking).
    pub fn open(config: &VxlanConfig) -> Result<VxlanPort> {
        let socket =
            UdpSocket::bind(config.local).map_err(|e| PortError::io("bind VXLAN socket", e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| PortError::io("set VXLAN socket non-blocking", e))?;
        sys::udp_zero_checksum_tx(&socket)?;
        let local = match socket.local_addr() {
            Ok(SocketAddr::V4(a)) => a,
            Ok(other) => return Err(PortError::Config(format!("VXLAN bound to {other}"))),
            Err(e) => return Err(PortError::io("getsockname(VXLAN)", e)),
        };
        Ok(VxlanPort {
            name: config.name.clone(),
            socket,
            local,
            dst_port: config.dst_port,
            mtu: config.mtu,
            mac: MacAddr::local(u32::from(*local.ip()) ^ u32::from(local.port())),
            counters: PortCounters::default(),
        })
    }

    /// The local VTEP address and port the socket is bound to.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local
    }

    /// Check a received datagram now in `slot` and strip its VXLAN header.
    fn decap(&self, slot: &mut PacketBuf, src: SocketAddr) -> Result<(), DropReason> {
        let hdr = VxlanHeader::parse(slot.data())?;
        slot.pull_front(VXLAN_HLEN);
        check_frame_len(slot.len(), self.mtu)?;
        let tun_src = match src {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        slot.meta.tunnel = Some(TunnelMeta {
            tun_id: hdr.vni,
            tun_src,
            tun_dst: *self.local.ip(),
        });
        Ok(())
    }
}

impl Port for VxlanPort {
    fn name(&self) -> &str {
        &self.name
    }

    /// A locally administered address derived from the VTEP address (a tunnel port has no
    /// Ethernet address of its own).
    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    /// Always up: the socket is bound for the port's whole life.
    fn link_up(&self) -> bool {
        true
    }

    fn recv_burst(&mut self, out: &mut Burst) -> Result<usize> {
        let mut n = 0;
        // One byte more than the longest datagram, to tell one that fills the buffer.
        let need = VXLAN_HLEN + max_frame_len(self.mtu) + 1;
        while let Some(slot) = out.next_slot_with_room(need) {
            let room = slot.room();
            match self.socket.recv_from(slot.recv_area()) {
                Ok((len, src)) => {
                    slot.set_len(len);
                    // A datagram that fills the whole buffer may have been truncated.
                    let verdict = if len >= room {
                        Err(DropReason::Oversize)
                    } else {
                        self.decap(slot, src)
                    };
                    match verdict {
                        Ok(()) => {
                            self.counters.rx(slot.len());
                            out.commit();
                            n += 1;
                        }
                        Err(reason) => self.counters.rx_drop(reason),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors for earlier sends surface here (ECONNREFUSED, ...): they
                    // are about a remote VTEP, not this port, so count them and end the burst.
                    self.counters.rx_errors += 1;
                    tracing::debug!(port = %self.name, error = %e, "VXLAN recv error");
                    break;
                }
            }
        }
        Ok(n)
    }

    /// Frames without tunnel metadata are dropped ([`DropReason::NoTunnelDst`]); a send that
    /// fails for one destination (no route, ...) counts a `tx_error` and the burst goes on.
    fn send_burst(&mut self, frames: &mut [PacketBuf]) -> Result<usize> {
        let mut sent = 0;
        for (i, frame) in frames.iter_mut().enumerate() {
            let Some(tun) = frame.meta.tunnel else {
                self.counters.tx_drop(DropReason::NoTunnelDst, 1);
                continue;
            };
            if let Err(reason) = check_frame_len(frame.len(), self.mtu) {
                self.counters.tx_drop(reason, 1);
                continue;
            }
            let inner_len = frame.len();
            let Some(hdr) = frame.push_front(VXLAN_HLEN) else {
                self.counters.tx_drop(DropReason::NoBuffer, 1);
                continue;
            };
            hdr.copy_from_slice(&VxlanHeader::emit(tun.tun_id));
            let dst = SocketAddrV4::new(tun.tun_dst, self.dst_port);
            let result = loop {
                match self.socket.send_to(frame.data(), dst) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            frame.pull_front(VXLAN_HLEN);
            match result {
                Ok(_) => {
                    self.counters.tx(inner_len);
                    sent += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let rest = (frames.len() - i) as u64;
                    self.counters.tx_drop(DropReason::TxRingFull, rest);
                    return Ok(sent);
                }
                Err(e) => {
                    self.counters.tx_errors += 1;
                    tracing::debug!(port = %self.name, %dst, error = %e, "VXLAN send error");
                }
            }
        }
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.socket.as_raw_fd())
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    /// Two ports on 127.0.0.1 and 127.0.0.2 with the same (free) UDP port.
    fn pair() -> (VxlanPort, VxlanPort) {
        let mut cfg = VxlanConfig::new("vx-a", Ipv4Addr::new(127, 0, 0, 1));
        cfg.local.set_port(0);
        let mut a = VxlanPort::open(&cfg).unwrap();
        let port = a.local_addr().port();
        a.dst_port = port;
        let mut cfg = VxlanConfig::new("vx-b", Ipv4Addr::new(127, 0, 0, 2));
        cfg.local.set_port(port);
        cfg.dst_port = port;
        (a, VxlanPort::open(&cfg).unwrap())
    }

    fn recv_some(port: &mut VxlanPort, out: &mut Burst, want: usize) {
        for _ in 0..1000 {
            port.recv_burst(out).unwrap();
            if out.len() >= want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn header_round_trip() {
        for vni in [0, 1, 100, 0xff_ffff] {
            let h = VxlanHeader::emit(vni);
            assert_eq!(VxlanHeader::parse(&h).unwrap().vni, vni);
        }
        assert_eq!(VxlanHeader::emit(100), [0x08, 0, 0, 0, 0, 0, 100, 0]);
        assert_eq!(VxlanHeader::emit(0x1_000_064)[4..7], [0, 0, 100]);
        for len in 0..VXLAN_HLEN {
            assert_eq!(
                VxlanHeader::parse(&[8; VXLAN_HLEN][..len]),
                Err(DropReason::VxlanTruncated)
            );
        }
        assert_eq!(VxlanHeader::parse(&[0; 8]), Err(DropReason::VxlanBadFlags));
        // Reserved bits are ignored on receipt.
        assert_eq!(VxlanHeader::parse(&[0xff; 8]).unwrap().vni, 0xff_ffff);
    }

    #[test]
    fn encap_decap_between_two_ports() {
        let (mut a, mut b) = pair();
        let mut f = PacketBuf::from_slice(&eth(100));
        f.meta.tunnel = Some(TunnelMeta {
            tun_id: 100,
            tun_src: Ipv4Addr::UNSPECIFIED,
            tun_dst: Ipv4Addr::new(127, 0, 0, 2),
        });
        assert_eq!(a.send_burst(std::slice::from_mut(&mut f)).unwrap(), 1);
        // The frame is unchanged after sending.
        assert_eq!(f.data(), &eth(100)[..]);
        let mut rx = Burst::new(4);
        recv_some(&mut b, &mut rx, 1);
        assert_eq!(rx.len(), 1);
        let got = &rx.packets()[0];
        assert_eq!(got.data(), &eth(100)[..]);
        assert_eq!(
            got.meta.tunnel,
            Some(TunnelMeta {
                tun_id: 100,
                tun_src: Ipv4Addr::new(127, 0, 0, 1),
                tun_dst: Ipv4Addr::new(127, 0, 0, 2),
            })
        );
        // Decapsulation only moved the start: the headroom can take the header again.
        assert!(got.headroom() >= crate::HEADROOM + VXLAN_HLEN);
        assert_eq!((a.counters().tx_packets, a.counters().tx_bytes), (1, 100));
        assert_eq!((b.counters().rx_packets, b.counters().rx_bytes), (1, 100));
    }

    #[test]
    fn wire_bytes_are_header_then_frame() {
        let (mut a, _b) = pair();
        let sniffer = UdpSocket::bind("127.0.0.3:0").unwrap();
        a.dst_port = sniffer.local_addr().unwrap().port();
        let mut f = PacketBuf::from_slice(&eth(60));
        f.meta.tunnel = Some(TunnelMeta {
            tun_id: 0x12_3456,
            tun_src: Ipv4Addr::UNSPECIFIED,
            tun_dst: Ipv4Addr::new(127, 0, 0, 3),
        });
        a.send_burst(std::slice::from_mut(&mut f)).unwrap();
        let mut buf = [0u8; 256];
        sniffer
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let (n, _) = sniffer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..8], &[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        assert_eq!(&buf[8..n], &eth(60)[..]);
    }

    #[test]
    fn malformed_datagrams_are_counted_drops() {
        let (_a, mut b) = pair();
        let to = b.local_addr();
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut valid_hdr = VxlanHeader::emit(5).to_vec();
        s.send_to(&[8, 0, 0], to).unwrap(); // truncated header
        s.send_to(&[&[0u8; 8][..], &eth(64)].concat(), to).unwrap(); // no I flag
        s.send_to(&[&valid_hdr[..], &[0; 10]].concat(), to).unwrap(); // runt inner frame
        s.send_to(&[&valid_hdr[..], &eth(1600)].concat(), to)
            .unwrap(); // oversize
        s.send_to(&[&valid_hdr[..], &eth(3000)].concat(), to)
            .unwrap(); // larger than a buffer
        valid_hdr.extend_from_slice(&eth(64));
        s.send_to(&valid_hdr, to).unwrap(); // fine
        let mut rx = Burst::new(8);
        for _ in 0..1000 {
            b.recv_burst(&mut rx).unwrap();
            let c = b.counters();
            if c.rx_packets + c.rx_dropped >= 6 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let c = b.counters();
        assert_eq!(c.dropped(DropReason::VxlanTruncated), 1);
        assert_eq!(c.dropped(DropReason::VxlanBadFlags), 1);
        assert_eq!(c.dropped(DropReason::Runt), 1);
        assert_eq!(c.dropped(DropReason::Oversize), 2);
        assert_eq!((c.rx_dropped, c.rx_packets), (5, 1));
        assert_eq!(rx.packets()[0].meta.tunnel.unwrap().tun_id, 5);
    }

    #[test]
    fn frames_without_tunnel_metadata_are_dropped() {
        let (mut a, _b) = pair();
        let mut f = [PacketBuf::from_slice(&eth(64))];
        assert_eq!(a.send_burst(&mut f).unwrap(), 0);
        assert_eq!(a.counters().dropped(DropReason::NoTunnelDst), 1);
    }
}

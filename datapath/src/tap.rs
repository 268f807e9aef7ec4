//! TAP ports: a Linux TAP device (`IFF_TAP | IFF_NO_PI`) read and written in bursts.
//!
//! [`TapPort::create`] opens `/dev/net/tun` non-blocking, attaches a new TAP device to it and
//! sets the device's MAC address, MTU and (optionally) brings it up. The device lives exactly as
//! long as the port: it is not made persistent, so closing the file descriptor (dropping the
//! port) removes it, in whatever network namespace it has been moved to since
//! (`ip link set NAME netns NS` keeps the descriptor working).
//!
//! Receiving reads one frame per `read(2)` until `EAGAIN` or the burst is full; sending writes
//! one frame per `write(2)`. Runt and oversize frames are counted drops, as is a full device
//! queue (`EAGAIN` on write) and a down device (`EIO` on write).
//!
//! ## Offloads
//! With [`TapConfig::offload`], the device is opened with `IFF_VNET_HDR` and offers checksum
//! and TCP segmentation offload (`TUNSETOFFLOAD`: `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
//! TUN_F_TSO_ECN`) to the stack behind it. That stack then hands over TCP super-frames of up
//! to 64 KiB with partial checksums instead of MTU-sized segments with complete ones, and
//! each frame is read and written behind a virtio-net header saying so
//! ([`crate::offload`]). Between two such TAPs a super-frame goes through the switch in one
//! piece; for any other port the worker segments it and completes checksums. Frames read
//! into buffers made large enough for 64 KiB (buffers grow once, when first needed).
//!
//! This module has no unsafe code: the `ioctl(2)`s live in the crate's `sys` module, the descriptor is a
//! [`File`] from the start and all I/O goes through std.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use crate::counters::{DropReason, PortCounters, check_frame_len, max_frame_len};
use crate::offload::{Offload, VNET_HDR_LEN};
use crate::packet::{Burst, PacketBuf};
use crate::port::{MacAddr, Port, PortError, Result, check_ifname};
use crate::sys::{self, IfCtl};

/// How to create a TAP device.
#[derive(Debug, Clone)]
pub struct TapConfig {
    /// Device name (at most 15 bytes).
    pub name: String,
    /// MAC address to set; `None` keeps the kernel's random one.
    pub mac: Option<MacAddr>,
    /// MTU to set; `None` keeps the kernel's default (1500).
    pub mtu: Option<u32>,
    /// Bring the device administratively up after creating it.
    pub up: bool,
    /// Exchange frames with virtio-net headers and offer checksum and TCP segmentation offload
    /// (see the module documentation).
    pub offload: bool,
}

impl TapConfig {
    /// Whether TAPs offer offloads unless told otherwise.
    pub const OFFLOAD: bool = true;

    /// A config that creates `name` with default MAC and MTU, brought up, with offloads as
    /// [`TapConfig::OFFLOAD`] says.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            mac: None,
            mtu: None,
            up: true,
            offload: Self::OFFLOAD,
        }
    }
}

/// A TAP device owned by this process (see the module documentation).
#[derive(Debug)]
pub struct TapPort {
    name: String,
    mac: MacAddr,
    mtu: u32,
    file: File,
    /// Interface ioctls, in the namespace the port was created in.
    ctl: IfCtl,
    /// Link state as last seen by a write (`EIO` means the device is down).
    last_up: bool,
    /// Whether frames come and go behind virtio-net headers.
    offload: bool,
    counters: PortCounters,
}

impl TapPort {
    /// Create the TAP device described by `config`.
    pub fn create(config: &TapConfig) -> Result<TapPort> {
        check_ifname(&config.name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| PortError::io("open /dev/net/tun", e))?;

        let vnet = if config.offload {
            libc::IFF_VNET_HDR
        } else {
            0
        };
        sys::tun_set_iff(&file, &config.name, libc::IFF_TAP | libc::IFF_NO_PI | vnet)?;
        if config.offload {
            let offloads =
                libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
            sys::tun_set_offloads(&file, VNET_HDR_LEN as libc::c_int, offloads)?;
        }

        let ctl = IfCtl::new()?;
        if let Some(mac) = config.mac {
            ctl.set_hwaddr(&config.name, mac)?;
        }
        if let Some(mtu) = config.mtu {
            ctl.set_mtu(&config.name, mtu)?;
        }
        let mut port = TapPort {
            name: config.name.clone(),
            mac: MacAddr::default(),
            mtu: 1500,
            file,
            ctl,
            last_up: false,
            offload: config.offload,
            counters: PortCounters::default(),
        };
        port.refresh()?;
        if config.up {
            port.set_up(true)?;
        }
        Ok(port)
    }

    /// Re-read the device's MAC address and MTU (only while it is in the namespace the port
    /// was created in).
    pub fn refresh(&mut self) -> Result<()> {
        self.mac = self.ctl.hwaddr(&self.name)?;
        self.mtu = self.ctl.mtu(&self.name)?;
        Ok(())
    }

    /// Set or clear `IFF_UP` (only while the device is in the namespace the port was created
    /// in; after moving it, use `ip link set NAME up` in its namespace).
    pub fn set_up(&mut self, up: bool) -> Result<()> {
        self.ctl.set_up(&self.name, up)?;
        self.last_up = up;
        Ok(())
    }
}

/// Room for the longest frame a TAP with offloads hands over: a 64 KiB super-frame, its
/// Ethernet header and two VLAN tags, plus the byte that tells a truncated read.
const OFFLOAD_FRAME_ROOM: usize = 65536 + 14 + 8 + 1;

impl TapPort {
    /// Check a frame read behind virtio-net header `hdr` and record what its offloads left to
    /// do; a frame that is no super-frame must fit the MTU.
    fn take_offload(
        &self,
        hdr: &[u8; VNET_HDR_LEN],
        slot: &mut PacketBuf,
    ) -> Result<(), DropReason> {
        if slot.len() < crate::packet::ETH_HLEN {
            return Err(DropReason::Runt);
        }
        let offload = Offload::from_vnet_hdr(hdr, slot.data_mut())?;
        if offload.gso.is_none() {
            check_frame_len(slot.len(), self.mtu)?;
        }
        slot.meta.offload = offload;
        Ok(())
    }
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The device's `IFF_UP` flag while it is in the creating namespace; once moved elsewhere,
    /// the state the last write saw (a write to a down TAP fails with `EIO`).
    fn link_up(&self) -> bool {
        match self.ctl.flags(&self.name) {
            Ok(flags) => flags & libc::IFF_UP != 0,
            Err(_) => self.last_up,
        }
    }

    fn recv_burst(&mut self, out: &mut Burst) -> Result<usize> {
        let mut n = 0;
        // One byte more than the longest frame, to tell a frame that fills the buffer.
        let room = if self.offload {
            OFFLOAD_FRAME_ROOM
        } else {
            max_frame_len(self.mtu) + 1
        };
        while let Some(slot) = out.next_slot_with_room(room) {
            let mut hdr = [0u8; VNET_HDR_LEN];
            let read = if self.offload {
                let mut parts = [IoSliceMut::new(&mut hdr), IoSliceMut::new(slot.recv_area())];
                self.file
                    .read_vectored(&mut parts)
                    .map(|n| n.saturating_sub(VNET_HDR_LEN))
            } else {
                self.file.read(slot.recv_area())
            };
            match read {
                Ok(len) => {
                    slot.set_len(len);
                    let verdict = if len >= slot.room() {
                        // It may have been truncated.
                        Err(DropReason::Oversize)
                    } else if self.offload {
                        self.take_offload(&hdr, slot)
                    } else {
                        check_frame_len(len, self.mtu)
                    };
                    match verdict {
                        Ok(()) => {
                            self.counters.rx(len);
                            out.commit();
                            n += 1;
                        }
                        Err(reason) => self.counters.rx_drop(reason),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.counters.rx_errors += 1;
                    return Err(PortError::io("read(tap)", e));
                }
            }
        }
        Ok(n)
    }

    fn send_burst(&mut self, frames: &mut [PacketBuf]) -> Result<usize> {
        let mut sent = 0;
        for (i, frame) in frames.iter_mut().enumerate() {
            let offload = frame.meta.offload;
            // A super-frame is longer than the MTU: the kernel segments it.
            let len_ok = match offload.gso {
                Some(_) if frame.len() >= crate::packet::ETH_HLEN => Ok(()),
                Some(_) => Err(DropReason::Runt),
                None => check_frame_len(frame.len(), self.mtu),
            };
            let hdr = len_ok.and_then(|()| match self.offload {
                true => offload.vnet_hdr(frame.data_mut()),
                false => Ok([0; VNET_HDR_LEN]),
            });
            let hdr = match hdr {
                Ok(hdr) => hdr,
                Err(reason) => {
                    self.counters.tx_drop(reason, 1);
                    continue;
                }
            };
            loop {
                let written = if self.offload {
                    let parts = [IoSlice::new(&hdr), IoSlice::new(frame.data())];
                    self.file.write_vectored(&parts)
                } else {
                    self.file.write(frame.data())
                };
                match written {
                    Ok(_) => {
                        self.last_up = true;
                        self.counters.tx(frame.len());
                        sent += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The device queue is full: the rest of the burst would fail too.
                        let rest = (frames.len() - i) as u64;
                        self.counters.tx_drop(DropReason::TxRingFull, rest);
                        return Ok(sent);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                        self.last_up = false;
                        let rest = (frames.len() - i) as u64;
                        self.counters.tx_drop(DropReason::LinkDown, rest);
                        return Ok(sent);
                    }
                    Err(e) => {
                        self.counters.tx_errors += 1;
                        return Err(PortError::io("write(tap)", e));
                    }
                }
                break;
            }
        }
        Ok(sent)
    }

    /// A TAP with offloads takes frames with offload work left: its kernel does the work.
    fn accepts_offloads(&self) -> bool {
        self.offload
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.file.as_raw_fd())
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

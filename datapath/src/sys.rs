//! The system calls behind the TAP, AF_XDP and VXLAN ports: `socket(2)`, the interface
//! `ioctl(2)`s and a `setsockopt(2)`.
//!
//! This is one of the two modules allowed `unsafe` code (with [`crate::afxdp`]). Each function
//! takes and returns owned or borrowed safe types; raw descriptors become [`OwnedFd`] at once.
//!
//! An [`IfCtl`] is an `AF_INET` datagram socket used only for interface ioctls. A socket belongs
//! to the network namespace it was created in, so an `IfCtl` made by a thread that entered a
//! namespace keeps addressing interfaces of that namespace.

use std::ffi::c_char;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::port::{MacAddr, PortError, Result};

/// An `ifreq` naming `name`, everything else zero. `name` must have passed
/// `check_ifname` (at most 15 bytes), so the terminating NUL stays.
fn ifreq_for(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is a C struct of integers, arrays and a union of plain data; all-zero
    // bytes are a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().take(15).zip(name.bytes()) {
        *dst = src as c_char;
    }
    req
}

/// `ioctl(fd, request, req)`, mapping -1 to the OS error.
fn ioctl_ifreq(
    fd: &impl AsRawFd,
    request: libc::Ioctl,
    req: &mut libc::ifreq,
    what: &'static str,
) -> Result<()> {
    // SAFETY: every request passed here (TUNSETIFF, SIOC[GS]IFFLAGS, SIOC[GS]IFMTU,
    // SIOC[GS]IFHWADDR, and SIOCETHTOOL whose `ifr_data` the caller pointed at a live command
    // struct of the size that command has) reads and/or writes exactly one `struct ifreq`
    // (and, for SIOCETHTOOL, that struct), and `req` is a valid,
    // exclusively borrowed `ifreq` that outlives the call; `fd` is an open descriptor borrowed
    // for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request, req as *mut libc::ifreq) };
    if rc < 0 {
        Err(PortError::io(what, io::Error::last_os_error()))
    } else {
        Ok(())
    }
}

/// Attach the TUN/TAP device `name` to the open `/dev/net/tun` descriptor `tun`, with
/// `flags` (`IFF_TAP | IFF_NO_PI`, ...), creating the device if it does not exist.
pub(crate) fn tun_set_iff(tun: &impl AsRawFd, name: &str, flags: libc::c_int) -> Result<()> {
    let mut req = ifreq_for(name);
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    ioctl_ifreq(tun, libc::TUNSETIFF, &mut req, "ioctl(TUNSETIFF)")
}

/// Make the TUN/TAP descriptor `tun` (opened with `IFF_VNET_HDR`) exchange little-endian
/// virtio-net headers of `hdr_len` bytes, and have its device offer the offloads `flags`
/// (`TUN_F_CSUM`, `TUN_F_TSO4`, ...) to the kernel's stack.
pub(crate) fn tun_set_offloads(
    tun: &impl AsRawFd,
    hdr_len: libc::c_int,
    flags: libc::c_uint,
) -> Result<()> {
    let mut size = hdr_len;
    let mut little_endian: libc::c_int = 1;
    for (request, arg, what) in [
        (
            libc::TUNSETVNETHDRSZ,
            &raw mut size,
            "ioctl(TUNSETVNETHDRSZ)",
        ),
        (
            libc::TUNSETVNETLE,
            &raw mut little_endian,
            "ioctl(TUNSETVNETLE)",
        ),
    ] {
        // SAFETY: both requests read one `int` through the pointer, which points at a live
        // local `c_int`; `tun` is an open descriptor borrowed for the call.
        if unsafe { libc::ioctl(tun.as_raw_fd(), request, arg) } < 0 {
            return Err(PortError::io(what, io::Error::last_os_error()));
        }
    }
    // SAFETY: TUNSETOFFLOAD takes its flags by value and reads no memory; `tun` is open.
    let rc = unsafe {
        libc::ioctl(
            tun.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            libc::c_ulong::from(flags),
        )
    };
    if rc < 0 {
        return Err(PortError::io(
            "ioctl(TUNSETOFFLOAD)",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Send the datagrams of `socket`, an IPv4 UDP socket, with a zero UDP checksum
/// (`SO_NO_CHECK`): the kernel neither computes one nor leaves it to the NIC.
pub(crate) fn udp_zero_checksum_tx(socket: &impl AsRawFd) -> Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `socket` is an open descriptor borrowed for the call; the option value points
    // to a c_int on our stack that outlives the call, and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(PortError::io(
            "setsockopt(SO_NO_CHECK)",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A socket for interface ioctls in the namespace it was created in.
#[derive(Debug)]
pub(crate) struct IfCtl {
    fd: OwnedFd,
}

impl IfCtl {
    /// A new control socket in the calling thread's network namespace.
    pub(crate) fn new() -> Result<IfCtl> {
        // SAFETY: plain socket(2) call with constant arguments; no memory is passed.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(PortError::io(
                "socket(AF_INET) for interface ioctls",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `fd` was just returned by socket(2), is open, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(IfCtl { fd })
    }

    /// How many RX queues the interface has: its RX-only plus combined channels
    /// (`ETHTOOL_GCHANNELS`, what `ethtool -l` shows); `None` if the driver does not say.
    pub(crate) fn rx_queues(&self, name: &str) -> Option<u32> {
        /// `struct ethtool_channels` (linux/ethtool.h).
        #[repr(C)]
        #[derive(Default)]
        struct Channels {
            cmd: u32,
            max_rx: u32,
            max_tx: u32,
            max_other: u32,
            max_combined: u32,
            rx_count: u32,
            tx_count: u32,
            other_count: u32,
            combined_count: u32,
        }
        const ETHTOOL_GCHANNELS: u32 = 0x3c;
        let mut channels = Channels {
            cmd: ETHTOOL_GCHANNELS,
            ..Channels::default()
        };
        let mut req = ifreq_for(name);
        req.ifr_ifru.ifru_data = (&raw mut channels).cast();
        ioctl_ifreq(
            &self.fd,
            libc::SIOCETHTOOL as libc::Ioctl,
            &mut req,
            "ioctl(SIOCETHTOOL, ETHTOOL_GCHANNELS)",
        )
        .ok()?;
        let n = channels.rx_count + channels.combined_count;
        (n > 0).then_some(n)
    }

    /// The interface's MAC address.
    pub(crate) fn hwaddr(&self, name: &str) -> Result<MacAddr> {
        let mut req = ifreq_for(name);
        ioctl_ifreq(
            &self.fd,
            libc::SIOCGIFHWADDR,
            &mut req,
            "ioctl(SIOCGIFHWADDR)",
        )?;
        // SAFETY: SIOCGIFHWADDR succeeded, so the kernel filled the `ifru_hwaddr` member.
        let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
        let mut mac = MacAddr::default();
        for (dst, src) in mac.0.iter_mut().zip(sa.sa_data) {
            *dst = src as u8;
        }
        Ok(mac)
    }

    /// Set the interface's MAC address.
    pub(crate) fn set_hwaddr(&self, name: &str, mac: MacAddr) -> Result<()> {
        let mut sa = libc::sockaddr {
            sa_family: libc::ARPHRD_ETHER,
            sa_data: [0; 14],
        };
        for (dst, src) in sa.sa_data.iter_mut().zip(mac.0) {
            *dst = src as c_char;
        }
        let mut req = ifreq_for(name);
        req.ifr_ifru.ifru_hwaddr = sa;
        ioctl_ifreq(
            &self.fd,
            libc::SIOCSIFHWADDR,
            &mut req,
            "ioctl(SIOCSIFHWADDR)",
        )
    }

    /// The interface's MTU.
    pub(crate) fn mtu(&self, name: &str) -> Result<u32> {
        let mut req = ifreq_for(name);
        ioctl_ifreq(&self.fd, libc::SIOCGIFMTU, &mut req, "ioctl(SIOCGIFMTU)")?;
        // SAFETY: SIOCGIFMTU succeeded, so the kernel filled the `ifru_mtu` member.
        let mtu = unsafe { req.ifr_ifru.ifru_mtu };
        u32::try_from(mtu).map_err(|_| PortError::Config(format!("{name}: MTU {mtu}")))
    }

    /// Set the interface's MTU.
    pub(crate) fn set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        let mut req = ifreq_for(name);
        req.ifr_ifru.ifru_mtu =
            i32::try_from(mtu).map_err(|_| PortError::Config(format!("MTU {mtu} out of range")))?;
        ioctl_ifreq(&self.fd, libc::SIOCSIFMTU, &mut req, "ioctl(SIOCSIFMTU)")
    }

    /// The interface's flags (`IFF_UP`, `IFF_RUNNING`, ...).
    pub(crate) fn flags(&self, name: &str) -> Result<libc::c_int> {
        let mut req = ifreq_for(name);
        ioctl_ifreq(
            &self.fd,
            libc::SIOCGIFFLAGS,
            &mut req,
            "ioctl(SIOCGIFFLAGS)",
        )?;
        // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled the `ifru_flags` member.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        // The C field is a short holding unsigned flag bits.
        Ok(libc::c_int::from(flags as u16))
    }

    /// Set or clear `IFF_UP`.
    pub(crate) fn set_up(&self, name: &str, up: bool) -> Result<()> {
        let flags = self.flags(name)?;
        let flags = if up {
            flags | libc::IFF_UP
        } else {
            flags & !libc::IFF_UP
        };
        let mut req = ifreq_for(name);
        req.ifr_ifru.ifru_flags = flags as u16 as libc::c_short;
        ioctl_ifreq(
            &self.fd,
            libc::SIOCSIFFLAGS,
            &mut req,
            "ioctl(SIOCSIFFLAGS)",
        )
    }
}

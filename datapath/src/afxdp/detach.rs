//! Removing the XDP program libxdp attached for a port, when the port closes.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;

use super::XdpMode;

/// Removes, when dropped, the XDP program libxdp attached to an interface for the port's
/// socket. libxdp removes it itself only when it could load its multi-program dispatcher;
/// when it falls back to attaching its socket program alone, closing the socket leaves the
/// program attached. It is detached only if the interface had no XDP program before the
/// port was opened and still has the one seen after, and in the network namespace the
/// port was opened in (interface indexes are per namespace; the drop may run elsewhere).
#[derive(Debug)]
pub(super) struct XdpDetach {
    netns: File,
    ifindex: libc::c_int,
    flags: u32,
    prog_id: u32,
}

fn ifindex(iface: &str) -> Option<libc::c_int> {
    let name = CString::new(iface).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    libc::c_int::try_from(index).ok().filter(|&i| i > 0)
}

/// The id of the XDP program attached to `ifindex` in `flags`' mode (0: any), if any.
fn query(ifindex: libc::c_int, flags: u32) -> Option<u32> {
    let mut id = 0u32;
    // SAFETY: `id` is a valid, exclusively borrowed u32 for libbpf to write the id into;
    // the call only reads the other (plain) arguments.
    let rc = unsafe { libxdp_sys::bpf_xdp_query_id(ifindex, flags as libc::c_int, &mut id) };
    (rc == 0 && id != 0).then_some(id)
}

/// `XDP_FLAGS_SKB_MODE` and `XDP_FLAGS_DRV_MODE` of `<linux/if_link.h>`.
fn mode_flags(mode: XdpMode) -> u32 {
    match mode {
        XdpMode::Native => 1 << 2,
        XdpMode::Generic | XdpMode::Auto => 1 << 1,
    }
}

impl XdpDetach {
    /// Whether `iface` (in this thread's namespace) has an XDP program attached now.
    pub(super) fn attached(iface: &str) -> bool {
        ifindex(iface).is_some_and(|i| query(i, 0).is_some())
    }

    /// Remember the program now attached to `iface` in `mode`, unless one was attached
    /// before the port was opened (`before`).
    pub(super) fn arm(iface: &str, mode: XdpMode, before: bool) -> Option<XdpDetach> {
        if before {
            return None;
        }
        let ifindex = ifindex(iface)?;
        let flags = mode_flags(mode);
        let prog_id = query(ifindex, flags)?;
        let netns = File::open("/proc/thread-self/ns/net").ok()?;
        Some(XdpDetach {
            netns,
            ifindex,
            flags,
            prog_id,
        })
    }

    fn detach(&self) {
        // SAFETY: `netns` is an open namespace file; setns(2) changes only the calling
        // thread's namespace, and this thread is a short-lived one of our own.
        if unsafe { libc::setns(self.netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return;
        }
        if query(self.ifindex, self.flags) == Some(self.prog_id) {
            // SAFETY: plain arguments; a null `opts` is documented as "no options".
            let rc =
                unsafe { libxdp_sys::bpf_xdp_detach(self.ifindex, self.flags, std::ptr::null()) };
            if rc != 0 {
                tracing::warn!(ifindex = self.ifindex, rc, "detaching XDP program failed");
            }
        }
    }
}

impl Drop for XdpDetach {
    fn drop(&mut self) {
        std::thread::scope(|s| {
            s.spawn(|| self.detach());
        });
    }
}

//! Raw `bpf(2)`: the few commands pktgen needs, with attributes laid out by hand.
//!
//! `union bpf_attr` is built as a zeroed, 8-byte aligned byte array whose fields are written at
//! the offsets of `include/uapi/linux/bpf.h` (quoted above each function). The kernel requires
//! every byte past the fields it knows to be zero, which a zeroed array gives. Every object
//! comes back as an [`OwnedFd`]: maps, programs and links are released when it is closed,
//! which is also what detaches an XDP link when the process exits, however it exits.

use std::ffi::c_long;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::insn::Insn;

// enum bpf_cmd
const BPF_MAP_CREATE: c_long = 0;
const BPF_MAP_LOOKUP_ELEM: c_long = 1;
const BPF_PROG_LOAD: c_long = 5;
const BPF_PROG_TEST_RUN: c_long = 10;
const BPF_LINK_CREATE: c_long = 28;

const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type`: BPF_XDP.
const BPF_XDP: u32 = 37;
/// `BPF_F_TEST_XDP_LIVE_FRAMES` (Linux 5.18).
const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// XDP attach flags (`XDP_FLAGS_*`, `include/uapi/linux/if_link.h`).
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// A zeroed `union bpf_attr` (128 bytes covers every command used here).
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Self {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Self {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn name(&mut self, off: usize, name: &str) -> &mut Self {
        // BPF_OBJ_NAME_LEN is 16 including the NUL; only [A-Za-z0-9_.] is allowed.
        for (d, s) in self.0[off..off + 15].iter_mut().zip(name.bytes()) {
            *d = s;
        }
        self
    }
}

/// `bpf(cmd, attr, sizeof attr)`; the result, or the OS error.
fn sys_bpf(cmd: c_long, attr: &mut Attr) -> io::Result<c_long> {
    // SAFETY: `attr` is a valid, exclusively borrowed 128-byte buffer for the duration of the
    // call, and its size is passed; every pointer stored inside it (instructions, license,
    // log, key, value, data, ctx) is set by the callers below to memory they keep borrowed
    // across this call, with the length the kernel will use.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr,
            std::mem::size_of::<Attr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A descriptor returned by `bpf(2)`.
fn owned(fd: c_long) -> OwnedFd {
    // SAFETY: the commands that create objects return a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// `BPF_MAP_CREATE` of a per-CPU array:
/// `map_type @0, key_size @4, value_size @8, max_entries @12, map_flags @16, …, map_name @28`.
pub fn percpu_array(name: &str, value_size: u32, entries: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, BPF_MAP_TYPE_PERCPU_ARRAY)
        .u32(4, 4)
        .u32(8, value_size)
        .u32(12, entries)
        .name(28, name);
    sys_bpf(BPF_MAP_CREATE, &mut a).map(owned)
}

/// `BPF_MAP_LOOKUP_ELEM` of a per-CPU map: `map_fd @0, key @8, value @16, flags @24`.
/// `out` receives one value (rounded up to 8 bytes) per possible CPU and must hold them all.
pub fn lookup_percpu(map: &OwnedFd, key: u32, out: &mut [u8]) -> io::Result<()> {
    let key = key.to_ne_bytes();
    let mut a = Attr::new();
    a.u32(0, map.as_raw_fd() as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, out.as_mut_ptr() as u64);
    sys_bpf(BPF_MAP_LOOKUP_ELEM, &mut a).map(drop)
}

/// `BPF_PROG_LOAD` of an XDP program: `prog_type @0, insn_cnt @4, insns @8, license @16,
/// log_level @24, log_size @28, log_buf @32, …, prog_name @48`. On failure the error carries
/// the verifier's log.
pub fn load_xdp(name: &str, insns: &[Insn]) -> Result<OwnedFd, (io::Error, String)> {
    const LICENSE: &[u8] = b"GPL\0";
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut a = Attr::new();
        a.u32(0, BPF_PROG_TYPE_XDP)
            .u32(4, insns.len() as u32)
            .u64(8, insns.as_ptr() as u64)
            .u64(16, LICENSE.as_ptr() as u64)
            .name(48, name);
        if let Some(log) = log {
            a.u32(24, 1)
                .u32(28, log.len() as u32)
                .u64(32, log.as_mut_ptr() as u64);
        }
        sys_bpf(BPF_PROG_LOAD, &mut a).map(owned)
    };
    attempt(None).or_else(|e| {
        // Load again with the verifier log on, to say why.
        let mut log = vec![0u8; 1 << 16];
        match attempt(Some(&mut log)) {
            Ok(fd) => Ok(fd),
            Err(_) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]);
                // The last lines say what went wrong.
                let tail: Vec<&str> = text.lines().rev().take(6).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Err((e, tail.join("\n")))
            }
        }
    })
}

/// `BPF_PROG_TEST_RUN` in live-frames mode: `prog_fd @0, retval @4, data_size_in @8,
/// data_size_out @12, data_in @16, data_out @24, repeat @32, duration @36, ctx_size_in @40,
/// ctx_size_out @44, ctx_in @48, ctx_out @56, flags @64, cpu @68, batch_size @72`.
///
/// Runs `prog` on `repeat` frames initialised from `data` as if received on queue 0 of
/// `ifindex` (in the calling thread's namespace); `XDP_TX` sends them out of that interface.
/// The `ctx_in` is a `struct xdp_md { data, data_end, data_meta, ingress_ifindex,
/// rx_queue_index, egress_ifindex }` with `data_end` the frame length.
pub fn run_live(
    prog: &OwnedFd,
    data: &[u8],
    ifindex: u32,
    repeat: u32,
    batch: u32,
) -> io::Result<()> {
    let mut ctx = [0u32; 6];
    ctx[1] = data.len() as u32;
    ctx[3] = ifindex;
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(8, data.len() as u32)
        .u64(16, data.as_ptr() as u64)
        .u32(32, repeat)
        .u32(40, std::mem::size_of_val(&ctx) as u32)
        .u64(48, ctx.as_ptr() as u64)
        .u32(64, BPF_F_TEST_XDP_LIVE_FRAMES)
        .u32(72, batch);
    sys_bpf(BPF_PROG_TEST_RUN, &mut a).map(drop)
}

/// `BPF_LINK_CREATE` attaching an XDP program to an interface:
/// `prog_fd @0, target_ifindex @4, attach_type @8, flags @12`. The program stays attached
/// while the returned link descriptor is open.
pub fn attach_xdp(prog: &OwnedFd, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::new();
    a.u32(0, prog.as_raw_fd() as u32)
        .u32(4, ifindex)
        .u32(8, BPF_XDP)
        .u32(12, flags);
    sys_bpf(BPF_LINK_CREATE, &mut a).map(owned)
}

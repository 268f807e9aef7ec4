//! The process-level system calls of pktgen: entering a network namespace, signal masks and
//! the stop-on-signal flag, the monotonic clock, interface indexes, and interface counters.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use super::PktgenError;

/// Move the calling thread into network namespace `name` (`/run/netns/NAME`, as `ip netns`
/// makes them). Threads it spawns afterwards start in that namespace too.
pub fn enter_netns(name: &str) -> Result<(), PktgenError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(PktgenError::Netns {
            name: name.to_owned(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        });
    }
    let err = |source| PktgenError::Netns {
        name: name.to_owned(),
        source,
    };
    let file = File::open(format!("/run/netns/{name}")).map_err(err)?;
    // SAFETY: `file` is an open namespace file for the duration of the call; setns(2) only
    // changes the calling thread's network namespace and takes no memory from us.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(())
}

/// Block every blockable signal in the calling thread, so that process-directed signals
/// (SIGINT) go to another thread and never interrupt this one's system calls.
pub fn block_signals() {
    // SAFETY: `set` is a local sigset_t initialised by sigfillset before use;
    // pthread_sigmask only reads it and changes the calling thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::Relaxed);
}

/// Install a handler for SIGINT and SIGTERM that sets the returned flag (once set, a second
/// signal still only sets it). Call from the thread that will watch the flag; threads that
/// must not be interrupted call `block_signals` (as the sender thread does).
pub fn stop_on_signals() -> io::Result<&'static AtomicBool> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sa` is zeroed then filled in; the handler only stores to an atomic, which
        // is async-signal-safe; sigaction copies `sa` and we pass no old-action pointer.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(&STOP)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns()`, shared by every
/// namespace of the host.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time the calling thread has used (user + system, `CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec; the clock always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The index of interface `name` in the calling thread's namespace.
pub fn ifindex(name: &str) -> Result<u32, PktgenError> {
    let no = || PktgenError::NoSuchInterface(name.to_owned());
    let c = CString::new(name).map_err(|_| no())?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 { Err(no()) } else { Ok(index) }
}

/// Number of possible CPUs (the per-CPU map stride), from `/sys/devices/system/cpu/possible`
/// (`0-3`, `0,2-5`, ...).
pub fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut max = 0;
    for part in text.trim().split(',') {
        let last = part.rsplit('-').next().unwrap_or(part);
        let n: usize = last
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, text.clone()))?;
        max = max.max(n);
    }
    Ok(max + 1)
}

/// Kernel counters of one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DevStats {
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

/// Counters of `name` from `/proc/thread-self/net/dev`, which shows the calling thread's
/// namespace (unlike `/sys/class/net`, which shows the namespace sysfs was mounted in).
pub fn dev_stats(name: &str) -> io::Result<DevStats> {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev")?;
    for line in text.lines().skip(2) {
        let Some((dev, rest)) = line.split_once(':') else {
            continue;
        };
        if dev.trim() != name {
            continue;
        }
        let v: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        if v.len() < 16 {
            break;
        }
        // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets
        // errs drop ...
        return Ok(DevStats {
            rx_packets: v[1],
            rx_dropped: v[3],
            tx_packets: v[9],
            tx_dropped: v[11],
        });
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{name} not in /proc/thread-self/net/dev"),
    ))
}

//! What the `wyvern` binary's tests share: who runs them, where the Python peers live, and
//! the namespaces they make.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Whether the tests run as root (namespaces, TAP and AF_XDP need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

/// The Python of the venv `scripts/install-deps` creates (os-ken, scapy), or `None` (and
/// why, on stderr) when it is missing.
pub fn venv_python() -> Option<PathBuf> {
    let python = std::env::var("WYVERN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/wyvern/venv")
        })
        .join("bin/python");
    if python.exists() {
        Some(python)
    } else {
        eprintln!(
            "{} missing: skipping (scripts/install-deps creates it)",
            python.display()
        );
        None
    }
}

/// A command's stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Waits until `f` holds, for at most `secs` seconds.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `ip ARGS`; panics with its output when it fails.
pub fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().unwrap();
    assert!(o.status.success(), "ip {}: {}", args.join(" "), text(&o));
}

/// A network namespace a test made, deleted (with the links in it) when dropped.
pub struct Netns(pub String);

impl Netns {
    /// `ip netns add NAME`; give it a name unique to the test (its pid and a tag).
    pub fn add(name: &str) -> Netns {
        ip(&["netns", "add", name]);
        Netns(name.to_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

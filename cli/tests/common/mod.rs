//! What the `wyvern` binary's tests share: who runs them, and where the Python peers live.
#![allow(dead_code)]

use std::path::PathBuf;

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

//! The test helpers' cleanup guard removes what a test made even when the test panics.
//! Needs root; skipped otherwise.

mod common;

use std::process::Command;

use common::{Cleanup, ip, prefix};
use wyvern_datapath::Port;
use wyvern_datapath::tap::{TapConfig, TapPort};

#[test]
fn cleanup_runs_when_a_test_panics() {
    require_root!();
    let name = prefix("g");
    let result = std::panic::catch_unwind(|| {
        let mut cleanup = Cleanup::default();
        cleanup.link(&name);
        cleanup.netns(&name);
        let port = TapPort::create(&TapConfig::new(&name)).unwrap();
        ip(&["link", "set", &name, "netns", &name]);
        assert!(port.raw_fd().is_some());
        panic!("simulated test failure");
    });
    assert!(result.is_err());
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&netns.stdout).contains(&name),
        "namespace {name} survived"
    );
    let link = Command::new("ip")
        .args(["link", "show", &name])
        .output()
        .unwrap();
    assert!(!link.status.success(), "link {name} survived");
}

//! `wyvern run` as a process: an os-ken controller it connects to, `ovs-ofctl` on its
//! listener and its management socket, clean stops on SIGTERM and SIGINT, and configuration
//! errors that name the file and line.
//!
//! Processes started here are stopped by pid. Ports come from the kernel (bind to port 0,
//! read it, close) and socket directories are unique per test.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WYVERN: &str = env!("CARGO_BIN_EXE_wyvern");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bridge name unique to this test process: the switch creates its LOCAL port, a TAP
/// device named after the bridge, in the host's namespace.
fn bridge_name(tag: &str) -> String {
    format!("wy{}{tag}", std::process::id())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

fn run_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wyvern-run-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `wyvern run` child, stopped by pid when dropped.
struct Wyvern {
    child: Child,
}

impl Wyvern {
    fn start(args: &[&str]) -> Wyvern {
        let child = Command::new(WYVERN)
            .arg("run")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Wyvern { child }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits up to 10 s for the process to exit; returns whether it exited with success.
    fn wait(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("wyvern run did not stop");
    }
}

impl Drop for Wyvern {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ofctl(target: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "--timeout=10"])
        .arg(args[0])
        .arg(target)
        .args(&args[1..])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "ovs-ofctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn ovs_ofctl_on_the_listener_and_the_management_socket() {
    if Command::new("ovs-ofctl").arg("--version").output().is_err() {
        eprintln!("ovs-ofctl not installed: skipping");
        return;
    }
    let dir = run_dir("ofctl");
    let port = free_port();
    let listen = format!("ptcp:{port}:127.0.0.1");
    let bridge = bridge_name("of");
    let mut w = Wyvern::start(&[
        "--bridge",
        &bridge,
        "--listen",
        &listen,
        "--dpid",
        "42fbf384884c",
        "--run-dir",
        dir.to_str().unwrap(),
    ]);
    let mgmt = dir.join(format!("{bridge}.mgmt"));
    wait_for(&mgmt);
    let tcp = format!("tcp:127.0.0.1:{port}");
    let unix = format!("unix:{}", mgmt.display());
    ofctl(
        &tcp,
        &["add-flow", "table=0,priority=1000,in_port=6,actions=NORMAL"],
    )
    .unwrap();
    let d = ofctl(&unix, &["dump-flows"]).unwrap();
    assert!(
        d.contains("table=0, n_packets=0, n_bytes=0, priority=1000,in_port=6 actions=NORMAL"),
        "{d}"
    );
    assert!(
        ofctl(&unix, &["show"])
            .unwrap()
            .contains("dpid:000042fbf384884c")
    );

    w.signal("-TERM");
    assert!(w.wait(), "wyvern run exits 0 on SIGTERM");
    assert!(!mgmt.exists(), "the management socket is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn os_ken_controller() {
    let python = std::env::var("WYVERN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/wyvern/venv")
        })
        .join("bin/python");
    if !python.exists() {
        eprintln!(
            "{} missing: skipping (scripts/install-deps creates it)",
            python.display()
        );
        return;
    }
    let port = free_port();
    let peer_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/osken_peer.py");
    let mut peer = Command::new(&python)
        .arg(&peer_script)
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(peer.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");

    let dir = run_dir("osken");
    let controller = format!("tcp:127.0.0.1:{port}");
    let bridge = bridge_name("ok");
    let mut w = Wyvern::start(&[
        "--bridge",
        &bridge,
        "--controller",
        &controller,
        "--dpid",
        "2a",
        "--run-dir",
        dir.to_str().unwrap(),
    ]);
    let mut checks = Vec::new();
    for line in lines {
        let line = line.unwrap();
        if line == "DONE" {
            break;
        }
        checks.push(line);
    }
    let _ = peer.kill();
    let _ = peer.wait();
    let has = |s: &str| checks.iter().any(|c| c.contains(s));
    let all = checks.join("\n");
    assert!(!has("timeout"), "{all}");
    assert!(
        has(r#""check": "features", "dpid": 42, "n_tables": 254"#),
        "{all}"
    );
    // The LOCAL port (a TAP named after the bridge) when running as root; none otherwise.
    let ports = if is_root() { 1 } else { 0 };
    assert!(
        has(&format!(r#""check": "port_desc", "ports": {ports}"#)),
        "{all}"
    );
    assert!(has(r#""check": "barrier""#), "{all}");
    assert!(has(r#""check": "echo", "data": "wyvern""#), "{all}");
    assert!(has(r#""flows": [[0, 0], [0, 100], [52, 10]]"#), "{all}");
    assert!(
        has(r#""check": "role", "role": 2, "generation_id": 1"#),
        "{all}"
    );
    assert!(
        has(
            r#""check": "packet_in", "reason": 1, "table": 52, "in_port": 6, "metadata": 8002, "same": true, "buffer_id": 4294967295"#
        ),
        "{all}"
    );
    assert!(
        has(r#""check": "role", "role": 3, "generation_id": 2"#),
        "{all}"
    );
    assert!(has(r#""check": "error", "type": 1, "code": 10"#), "{all}");

    w.signal("-INT");
    assert!(w.wait(), "wyvern run exits 0 on SIGINT");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_errors_name_file_and_line() {
    let dir = run_dir("config");
    let file = dir.join("wyvern.toml");
    std::fs::write(&file, "bridge = \"br0\"\ncontrollers = [\"ptcp:6653\"]\n").unwrap();
    let out = Command::new(WYVERN)
        .args(["run", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:", file.display())) && err.contains("use tcp: or unix:"),
        "{err}"
    );
    let out = Command::new(WYVERN)
        .args([
            "run",
            "--fail-mode",
            "open",
            "--run-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("secure or standalone"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each bad topology stops `wyvern run` before anything is opened, with an error that names
/// what to fix.
#[test]
fn topology_errors_stop_the_switch_and_say_what_to_fix() {
    let dir = run_dir("topology");
    let blog = include_str!("../../examples/blog-lab.toml");
    let second_net = "segmentation_id = 0x1f43";
    let cases: Vec<(String, &str)> = vec![
        (
            blog.replace("network = \"net2\"\nmac", "network = \"net9\"\nmac"),
            "unknown network \"net9\"",
        ),
        (
            blog.replace("ips = [\"10.2.0.5\"]", "ips = [\"10.7.0.5\"]"),
            "10.7.0.5 is outside every subnet",
        ),
        (
            blog.replace(
                "mac = \"fa:16:3e:cf:4b:ed\"",
                "mac = \"fa:16:3e:00:17:e6\"\nips = [\"10.1.0.9\"]",
            )
            .replace("network = \"net2\"\nmac", "network = \"net1\"\nmac")
            .replace("ips = [\"10.2.0.5\"]\n", ""),
            "MAC fa:16:3e:00:17:e6 is used by both",
        ),
        (
            blog.replace(second_net, "segmentation_id = 0x1f42"),
            "is already used by another network",
        ),
        (
            blog.replace("mac = \"fa:16:3e:c5:02:4d\"", "mac = \"fa:16:3e:c0:8d:8b\""),
            "router interface MAC fa:16:3e:c0:8d:8b is used by both",
        ),
        (
            blog.replace("10.2.0.0/24", "10.1.0.0/16")
                .replace("10.2.0.1", "10.1.9.1")
                .replace("10.2.0.5", "10.1.9.5"),
            "overlap",
        ),
        (
            blog.replace(
                "chassis = \"node1\"\ninterface = \"vm2-br\"",
                "chassis = \"node7\"\ninterface = \"vm2-br\"",
            ),
            "unknown chassis \"node7\"",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = Command::new(WYVERN)
            .args(["run", "--config", file.to_str().unwrap()])
            .args([
                "--bridge",
                &bridge_name("tp"),
                "--run-dir",
                dir.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} started");
        assert!(
            err.contains(&file.display().to_string()) && err.contains(want),
            "case {i}: want {want:?} in {err}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

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

mod common;
use common::{is_root, venv_python};

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
    let Some(python) = venv_python() else {
        return;
    };
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

/// `wyvern add-port` / `del-port` on a running switch: the port opens and closes, every
/// controller hears it as PORT_STATUS (here `wyvern monitor`), and `dump-ports` counts it.
#[test]
fn ports_added_and_deleted_while_running_are_reported() {
    if !is_root() {
        eprintln!("not root: skipping");
        return;
    }
    let dir = run_dir("ports");
    let bridge = bridge_name("pt");
    let mut w = Wyvern::start(&["--bridge", &bridge, "--run-dir", dir.to_str().unwrap()]);
    let mgmt = dir.join(format!("{bridge}.mgmt"));
    wait_for(&mgmt);
    let target = format!("unix:{}", mgmt.display());
    // As ovs-ofctl's, the monitor prints asynchronous messages on stderr.
    let mut monitor = Command::new(WYVERN)
        .args(["monitor", &target])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines read by a thread, so that waiting for them has a deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = monitor.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The TAP device is named after the port, unique to this test process.
    let tap = bridge_name("tp");
    let wy = |args: &[&str]| {
        let o = Command::new(WYVERN).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "wyvern {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Give the monitor a moment to connect, then act.
    std::thread::sleep(Duration::from_millis(300));
    let added = wy(&["add-port", &target, &tap, "type=tap", "ofport=7"]);
    assert!(added.contains("OpenFlow port 7"), "{added}");
    assert!(wy(&["dump-ports-desc", &target]).contains(&format!(" 7({tap}): addr:")));
    assert!(wy(&["dump-ports", &target, "7"]).contains("port  7: rx pkts="));
    // A second port may not take the same number; a bad type is refused with the options.
    let o = Command::new(WYVERN)
        .args(["add-port", &target, "other", "type=tap", "ofport=7"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already in use"));
    wy(&["del-port", &target, &tap]);
    assert!(!wy(&["dump-ports-desc", &target]).contains(&tap));
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let done = line.contains(" DEL:");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = monitor.kill();
    let _ = monitor.wait();
    let all = seen.join("\n");
    assert!(
        all.contains(&format!(
            "OFPT_PORT_STATUS (OF1.3) (xid=0x0): ADD: 7({tap})"
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "OFPT_PORT_STATUS (OF1.3) (xid=0x0): DEL: 7({tap})"
        )),
        "{all}"
    );
    w.signal("-TERM");
    assert!(w.wait());
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGHUP: the configuration file is read again and its ports followed; a broken file
/// changes nothing and the switch runs on.
#[test]
fn sighup_reloads_the_ports_of_the_configuration() {
    if !is_root() {
        eprintln!("not root: skipping");
        return;
    }
    let dir = run_dir("reload");
    let bridge = bridge_name("rl");
    let (tap1, tap2) = (bridge_name("t1"), bridge_name("t2"));
    let file = dir.join("wyvern.toml");
    let port = |name: &str, no: u32| {
        format!("[[port]]\nname = \"{name}\"\ntype = \"tap\"\nofport = {no}\n")
    };
    std::fs::write(&file, format!("bridge = \"{bridge}\"\n{}", port(&tap1, 3))).unwrap();
    let mut w = Wyvern::start(&[
        "--config",
        file.to_str().unwrap(),
        "--run-dir",
        dir.to_str().unwrap(),
    ]);
    let mgmt = dir.join(format!("{bridge}.mgmt"));
    wait_for(&mgmt);
    let target = format!("unix:{}", mgmt.display());
    let desc = || {
        let o = Command::new(WYVERN)
            .args(["dump-ports-desc", &target])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let wait_desc = |want: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let d = desc();
            if want(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "ports never became as expected:\n{d}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_desc(&|d| d.contains(&format!(" 3({tap1})")));

    // tap1 goes, tap2 comes.
    std::fs::write(&file, format!("bridge = \"{bridge}\"\n{}", port(&tap2, 4))).unwrap();
    w.signal("-HUP");
    wait_desc(&|d| d.contains(&format!(" 4({tap2})")) && !d.contains(&tap1));

    // A broken file: nothing changes, the switch keeps serving.
    std::fs::write(&file, "bridge = [\n").unwrap();
    w.signal("-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(desc().contains(&format!(" 4({tap2})")));

    w.signal("-TERM");
    assert!(w.wait());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wyvern trace TARGET PACKET` against the live switch prints what the offline trace of the
/// same flows prints.
#[test]
fn live_trace_matches_the_offline_trace() {
    let dir = run_dir("trace");
    let bridge = bridge_name("tr");
    let mut w = Wyvern::start(&["--bridge", &bridge, "--run-dir", dir.to_str().unwrap()]);
    let mgmt = dir.join(format!("{bridge}.mgmt"));
    wait_for(&mgmt);
    let target = format!("unix:{}", mgmt.display());
    let flows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dragonflow.flows");
    let flows = flows.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(WYVERN).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "wyvern {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&["add-flows", &target, flows]);
    for packet in [
        "in_port=12,ip,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5,nw_proto=1,nw_ttl=64",
        "in_port=11,arp,dl_src=fa:16:3e:00:17:e6,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.1.0.5,arp_tpa=10.1.0.1,arp_sha=fa:16:3e:00:17:e6",
    ] {
        let live = run(&["trace", &target, packet]);
        let offline = run(&["trace", "--flows", flows, packet]);
        assert_eq!(live, offline);
        assert!(live.contains("Verdict:"), "{live}");
    }
    let live = run(&[
        "trace",
        "--table",
        "52",
        &target,
        "in_port=12,ip,metadata=0x1f43,nw_dst=10.1.0.5",
    ]);
    assert!(live.starts_with("Flow:") && live.contains("52. "), "{live}");
    w.signal("-TERM");
    assert!(w.wait());
    let _ = std::fs::remove_dir_all(&dir);
}

//! A private Open vSwitch for tests: the reference switch of differential tests.
//!
//! [`Ovs::start`] creates a database and runs `ovsdb-server` and `ovs-vswitchd` (userspace
//! `netdev` datapath) from a fresh temporary directory; [`Ovs::bridge`] adds an OpenFlow13-only
//! bridge that listens for `ovs-ofctl` on its own `ptcp:PORT:127.0.0.1`, with internal ports
//! numbered 6, 11 and 12. Dropping the [`Ovs`] deletes the bridges, stops both daemons by the
//! pids in their pid files and removes the directory. [`Ovs::start_in_netns`] runs
//! `ovs-vswitchd` inside a network namespace instead (its ports, routes and neighbours are
//! that namespace's), for tests that give Open vSwitch a node of its own.
//!
//! It needs root and the OVS programs; [`Ovs::start`] returns `None` (and says why on stderr)
//! when either is missing, so tests can skip. It depends on nothing but `std`: include it
//! from any test crate with
//! `#[path = "<relative path to>/tests/common/ovs.rs"] mod ovs;`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One ovsdb-server + ovs-vswitchd pair.
#[derive(Debug)]
pub struct Ovs {
    dir: PathBuf,
    /// A short name unique to this instance, the prefix of its bridge and port names.
    tag: String,
    bridges: Vec<String>,
}

/// A bridge of an [`Ovs`].
#[derive(Clone, Debug)]
pub struct Bridge {
    pub name: String,
    /// `tcp:127.0.0.1:PORT`, where the bridge listens for OpenFlow 1.3 clients.
    pub target: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Waits (up to 20 s, then panics) until `who` accepts connections on 127.0.0.1:`port`.
pub fn wait_listening(port: u16, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{who} does not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Ovs {
    /// Why OVS tests cannot run here, if they cannot.
    pub fn unavailable() -> Option<String> {
        if !is_root() {
            return Some("not root".into());
        }
        for p in [
            "ovsdb-tool",
            "ovsdb-server",
            "ovs-vswitchd",
            "ovs-vsctl",
            "ovs-ofctl",
            "ovs-appctl",
        ] {
            if !found(p) {
                return Some(format!("{p} not found"));
            }
        }
        if !Path::new("/usr/share/openvswitch/vswitch.ovsschema").exists() {
            return Some("/usr/share/openvswitch/vswitch.ovsschema not found".into());
        }
        None
    }

    /// Starts a private Open vSwitch, or returns `None` (after saying why) where it cannot run.
    pub fn start() -> Option<Ovs> {
        Ovs::start_in(None)
    }

    /// Like [`Ovs::start`], with `ovs-vswitchd` in network namespace `netns` (`ovsdb-server`
    /// and the clients stay here: they meet on unix sockets in the directory).
    pub fn start_in_netns(netns: &str) -> Option<Ovs> {
        Ovs::start_in(Some(netns))
    }

    fn start_in(netns: Option<&str>) -> Option<Ovs> {
        if let Some(why) = Ovs::unavailable() {
            eprintln!("skipping Open vSwitch test: {why}");
            return None;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("w{}{}", std::process::id() % 100_000, n);
        let dir = std::env::temp_dir().join(format!("wyvern-ovs-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the OVS directory");
        let ovs = Ovs {
            dir,
            tag,
            bridges: Vec::new(),
        };
        let d = ovs.dir.display().to_string();
        ovs.run(
            "ovsdb-tool",
            &[
                "create",
                &format!("{d}/conf.db"),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ],
        );
        ovs.run(
            "ovsdb-server",
            &[
                &format!("--remote=punix:{d}/db.sock"),
                &format!("--pidfile={d}/ovsdb.pid"),
                &format!("--unixctl={d}/ovsdb.ctl"),
                "--detach",
                "--no-chdir",
                &format!("--log-file={d}/ovsdb.log"),
                &format!("{d}/conf.db"),
            ],
        );
        let vswitchd = [
            "ovs-vswitchd",
            &format!("unix:{d}/db.sock"),
            &format!("--pidfile={d}/vswitchd.pid"),
            &format!("--unixctl={d}/vswitchd.ctl"),
            "--detach",
            "--no-chdir",
            &format!("--log-file={d}/vswitchd.log"),
        ];
        match netns {
            None => ovs.run(vswitchd[0], &vswitchd[1..]),
            Some(ns) => ovs.run("ip", &[&["netns", "exec", ns][..], &vswitchd].concat()),
        };
        Some(ovs)
    }

    /// The directory holding the database, sockets, pid files and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("OVS_RUNDIR", &self.dir)
            .env("OVS_DBDIR", &self.dir)
            .env("OVS_LOGDIR", &self.dir)
            .env("OVS_SYSCONFDIR", &self.dir);
        c
    }

    /// Runs an OVS program and panics (with its stderr) if it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `ovs-vsctl --db=unix:DIR/db.sock ARGS`.
    pub fn vsctl(&self, args: &[&str]) -> Output {
        let db = format!("--db=unix:{}/db.sock", self.dir.display());
        let mut all = vec![db.as_str(), "--timeout=20"];
        all.extend_from_slice(args);
        self.run("ovs-vsctl", &all)
    }

    /// `ovs-appctl -t DIR/vswitchd.ctl ARGS` (ovs-vswitchd's commands).
    pub fn appctl(&self, args: &[&str]) -> Output {
        let target = self.dir.join("vswitchd.ctl").display().to_string();
        let mut all = vec!["-t", target.as_str()];
        all.extend_from_slice(args);
        self.run("ovs-appctl", &all)
    }

    /// Adds bridge `<tag><suffix>` (OpenFlow13 only, netdev datapath) listening on a fresh
    /// `ptcp:PORT:127.0.0.1`, with internal ports numbered 6, 11 and 12; waits until it
    /// accepts connections.
    pub fn bridge(&mut self, suffix: &str) -> Bridge {
        let name = format!("{}{suffix}", self.tag);
        assert!(
            name.len() <= 12,
            "bridge name {name} too long for port names"
        );
        let port = free_port();
        let ptcp = format!("ptcp:{port}:127.0.0.1");
        let mut args: Vec<String> = [
            "add-br",
            &name,
            "--",
            "set",
            "bridge",
            &name,
            "datapath_type=netdev",
            "protocols=OpenFlow13",
            "fail_mode=secure",
            "--",
            "set-controller",
            &name,
            &ptcp,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for n in [6, 11, 12] {
            let p = format!("{name}p{n}");
            args.extend([
                "--".to_string(),
                "add-port".into(),
                name.clone(),
                p.clone(),
                "--".into(),
                "set".into(),
                "interface".into(),
                p,
                "type=internal".into(),
                format!("ofport_request={n}"),
            ]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.vsctl(&refs);
        self.bridges.push(name.clone());
        wait_listening(port, &format!("bridge {name}"));
        Bridge {
            name,
            target: format!("tcp:127.0.0.1:{port}"),
        }
    }

    /// `ovs-ofctl -O OpenFlow13 VERB TARGET ARGS...` (options may come first in `verb_and_opts`).
    pub fn ofctl(&self, bridge: &Bridge, verb: &[&str], args: &[&str]) -> Output {
        let mut c = self.command("ovs-ofctl");
        c.arg("-O").arg("OpenFlow13");
        c.arg(format!(
            "--unixctl={}/ofctl-{}.ctl",
            self.dir.display(),
            std::process::id()
        ));
        c.args(verb).arg(&bridge.target).args(args);
        c.output().expect("run ovs-ofctl")
    }

    fn stop(&self, daemon: &str) {
        let pidfile = self.dir.join(format!("{daemon}.pid"));
        let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            return;
        };
        let _ = Command::new("kill").arg(pid.to_string()).output();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
        }
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        let db = format!("--db=unix:{}/db.sock", self.dir.display());
        for b in &self.bridges {
            let _ = self
                .command("ovs-vsctl")
                .args([db.as_str(), "--timeout=5", "--if-exists", "del-br", b])
                .output();
        }
        self.stop("vswitchd");
        self.stop("ovsdb");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

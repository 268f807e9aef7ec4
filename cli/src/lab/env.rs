//! Building and tearing down a lab on this machine: network namespaces, links, addresses and
//! one `wyvern run` per node.
//!
//! Everything a lab creates is named after its prefix (namespaces `PREFIXnode1`, `PREFIXvm1`,
//! ...) and recorded, as it is created, in its state file (`STATE_DIR/state.json`), so that
//! `wyvern lab down` — or the demo's own teardown, which runs even when a step failed — removes
//! exactly that: the switches it started (by pid), then its namespaces (which takes their
//! links with them), then the state directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::LabError;
use super::plan::{Datapath, Plan, Vm, node_side};

/// What a lab created, as recorded in its state file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub prefix: String,
    pub datapath: String,
    pub namespaces: Vec<String>,
    /// (node, pid) of each switch started.
    pub switches: Vec<(String, u32)>,
}

/// A lab on this machine.
#[derive(Debug)]
pub struct Lab {
    pub prefix: String,
    pub dir: PathBuf,
    pub plan: Plan,
    state: State,
    /// The switches this process started, to collect once they stop.
    children: Vec<Child>,
}

/// The underlay namespace's own address: the nodes reach an external controller there.
pub const UNDERLAY_HOST: &str = "192.168.50.254";

/// Where the labs keep their state.
pub const LABS_DIR: &str = "/run/wyvern/labs";

/// The state directory of the lab with `prefix`.
pub fn state_dir(prefix: &str) -> PathBuf {
    Path::new(LABS_DIR).join(prefix.trim_end_matches('-'))
}

/// Runs a command; its failure is an error naming the command and what it printed.
pub fn sh(program: &str, args: &[&str]) -> Result<String, LabError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: format!("{e} (is it installed? scripts/install-deps installs it)"),
        })?;
    if !out.status.success() {
        let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        }
        return Err(LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip` in namespace `ns`.
fn ip(ns: &str, args: &[&str]) -> Result<String, LabError> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    sh("ip", &all)
}

/// Runs `program` inside namespace `ns`.
pub fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    sh("ip", &all)
}

fn alive(pid: u32) -> bool {
    // A pid is ours while it still runs our binary (pids are reused).
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a.ends_with(b"wyvern")))
}

impl Lab {
    /// Starts recording a new lab; fails if one with this prefix is up.
    pub fn create(prefix: &str, plan: Plan) -> Result<Lab, LabError> {
        let dir = state_dir(prefix);
        if dir.join("state.json").exists() {
            return Err(LabError::AlreadyUp(prefix.to_owned()));
        }
        std::fs::create_dir_all(&dir).map_err(|e| LabError::Io(dir.clone(), e))?;
        let lab = Lab {
            prefix: prefix.to_owned(),
            dir,
            state: State {
                prefix: prefix.to_owned(),
                datapath: plan.datapath.name().to_owned(),
                ..State::default()
            },
            plan,
            children: Vec::new(),
        };
        lab.save()?;
        Ok(lab)
    }

    fn save(&self) -> Result<(), LabError> {
        let path = self.dir.join("state.json");
        let text = serde_json::to_string_pretty(&self.state).unwrap_or_default();
        std::fs::write(&path, text).map_err(|e| LabError::Io(path, e))
    }

    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn add_ns(&mut self, name: &str) -> Result<String, LabError> {
        let ns = self.ns(name);
        sh("ip", &["netns", "add", &ns])?;
        self.state.namespaces.push(ns.clone());
        self.save()?;
        ip(&ns, &["link", "set", "lo", "up"])?;
        // The blog's pipeline routes IPv4; IPv6's background chatter (router solicitations,
        // MLD) would only blur the counters people read in the lab.
        in_ns(
            &ns,
            "sysctl",
            &[
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        )?;
        Ok(ns)
    }

    /// The management socket of a node's switch.
    pub fn mgmt(&self, node: &str) -> PathBuf {
        self.dir.join(node).join("br-int.mgmt")
    }

    /// The OpenFlow target of a node's switch.
    pub fn target(&self, node: &str) -> String {
        format!("unix:{}", self.mgmt(node).display())
    }

    /// Builds the namespaces and links, writes the configuration and starts every switch.
    pub fn build(&mut self, wyvern: &Path) -> Result<(), LabError> {
        let plan = self.plan.clone();
        for n in &plan.nodes {
            self.add_ns(&n.name)?;
        }
        for vm in &plan.vms {
            self.add_ns(vm.name)?;
        }
        self.underlay()?;
        if plan.datapath == Datapath::Afxdp {
            for vm in &plan.vms {
                self.veth(vm)?;
            }
        }
        let config = self.dir.join("lab.toml");
        std::fs::write(&config, plan.config()).map_err(|e| LabError::Io(config.clone(), e))?;
        for n in &plan.nodes {
            self.start_switch(wyvern, &n.name, &config)?;
        }
        if plan.datapath == Datapath::Tap {
            for vm in &plan.vms {
                self.adopt_tap(vm)?;
            }
        }
        for vm in &plan.vms {
            self.address(vm)?;
        }
        Ok(())
    }

    /// Joins the nodes' VTEPs: a veth from each node to a Linux bridge in the underlay
    /// namespace, which also holds [`UNDERLAY_HOST`], where an external controller runs
    /// (only with more than one node, or a controller).
    fn underlay(&mut self) -> Result<(), LabError> {
        if self.plan.nodes.len() < 2 && self.plan.settings.controller.is_none() {
            return Ok(());
        }
        let ul = self.add_ns("underlay")?;
        ip(&ul, &["link", "add", "br0", "type", "bridge"])?;
        ip(
            &ul,
            &["addr", "add", &format!("{UNDERLAY_HOST}/24"), "dev", "br0"],
        )?;
        ip(&ul, &["link", "set", "br0", "up"])?;
        for n in self.plan.nodes.clone() {
            let ns = self.ns(&n.name);
            let port = format!("to-{}", n.name);
            ip(
                &ul,
                &[
                    "link", "add", &port, "type", "veth", "peer", "name", "ul0", "netns", &ns,
                ],
            )?;
            ip(&ul, &["link", "set", &port, "master", "br0", "up"])?;
            ip(
                &ns,
                &["addr", "add", &format!("{}/24", n.vtep), "dev", "ul0"],
            )?;
            ip(&ns, &["link", "set", "ul0", "up"])?;
        }
        Ok(())
    }

    /// A veth pair: `eth0` in the VM, `VM-br` in its node (the AF_XDP port's interface).
    fn veth(&self, vm: &Vm) -> Result<(), LabError> {
        let node = self.ns(&self.plan.nodes[vm.node].name);
        let vm_ns = self.ns(vm.name);
        let side = node_side(vm);
        ip(
            &node,
            &[
                "link", "add", &side, "type", "veth", "peer", "name", "eth0", "netns", &vm_ns,
            ],
        )?;
        ip(&node, &["link", "set", &side, "up"])?;
        ip(&vm_ns, &["link", "set", "eth0", "address", vm.mac])?;
        Ok(())
    }

    /// Moves the TAP device the node's switch created into the VM, as its `eth0`.
    fn adopt_tap(&self, vm: &Vm) -> Result<(), LabError> {
        let node = self.ns(&self.plan.nodes[vm.node].name);
        let vm_ns = self.ns(vm.name);
        let side = node_side(vm);
        ip(&node, &["link", "set", &side, "netns", &vm_ns])?;
        ip(&vm_ns, &["link", "set", &side, "name", "eth0"])?;
        Ok(())
    }

    fn address(&self, vm: &Vm) -> Result<(), LabError> {
        let ns = self.ns(vm.name);
        ip(
            &ns,
            &["addr", "add", &format!("{}/24", vm.ip), "dev", "eth0"],
        )?;
        ip(&ns, &["link", "set", "eth0", "up"])?;
        ip(
            &ns,
            &["route", "add", "default", "via", &vm.gateway.to_string()],
        )?;
        Ok(())
    }

    /// Starts `wyvern run` in a node's namespace and waits until it serves its management
    /// socket.
    fn start_switch(&mut self, wyvern: &Path, node: &str, config: &Path) -> Result<(), LabError> {
        let run_dir = self.dir.join(node);
        std::fs::create_dir_all(&run_dir).map_err(|e| LabError::Io(run_dir.clone(), e))?;
        let log_path = run_dir.join("wyvern.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| LabError::Io(log_path.clone(), e))?;
        let err = log
            .try_clone()
            .map_err(|e| LabError::Io(log_path.clone(), e))?;
        let ns = self.ns(node);
        let wy = wyvern.display().to_string();
        let cfg = config.display().to_string();
        let rd = run_dir.display().to_string();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, &wy, "run", "--config", &cfg])
            .args(["--chassis", node, "--run-dir", &rd])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| LabError::Command {
                command: format!("ip netns exec {ns} {wy} run"),
                detail: e.to_string(),
            })?;
        // `ip netns exec` execs the program: the child's pid is the switch's.
        let pid = child.id();
        self.state.switches.push((node.to_owned(), pid));
        self.save()?;
        let mgmt = self.mgmt(node);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !mgmt.exists() {
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                return Err(LabError::Switch {
                    node: node.to_owned(),
                    log: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.children.push(child);
        Ok(())
    }

    /// Removes the lab (see [`teardown`]) and collects the switches this process started.
    pub fn teardown(mut self) -> Result<Vec<String>, LabError> {
        let removed = teardown(&self.prefix);
        for c in &mut self.children {
            let _ = c.wait();
        }
        removed
    }
}

/// Removes what the lab with `prefix` created (see the module documentation); what is
/// already gone is skipped. Returns what was removed.
pub fn teardown(prefix: &str) -> Result<Vec<String>, LabError> {
    let dir = state_dir(prefix);
    let path = dir.join("state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LabError::NotUp(prefix.to_owned()));
        }
        Err(e) => return Err(LabError::Io(path, e)),
    };
    let state: State = serde_json::from_str(&text).map_err(|e| LabError::BadState(path, e))?;
    let mut removed = Vec::new();
    for (node, pid) in &state.switches {
        if alive(*pid) {
            let _ = sh("kill", &["-TERM", &pid.to_string()]);
            // A switch that exited but is not yet collected reads as not alive.
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(*pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if alive(*pid) {
                let _ = sh("kill", &["-KILL", &pid.to_string()]);
            }
            removed.push(format!("switch of {node} (pid {pid})"));
        }
    }
    for ns in state.namespaces.iter().rev() {
        if sh("ip", &["netns", "del", ns]).is_ok() {
            removed.push(format!("namespace {ns}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(removed)
}

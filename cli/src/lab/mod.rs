//! `wyvern lab`: the Dragonflow blog's lab, built on this machine with nothing else set up.
//!
//! - `wyvern lab demo` builds the lab ([`plan`], [`env`]), prints the DVR flows each node
//!   installed, pings vm2 → vm1 across the router (the first RTT, which pays for the gateway
//!   ARP and the controller's flow setup, and the rest), prints the flows the controller
//!   learned, and tears everything down — also when a step fails, and on Ctrl-C. It exits
//!   non-zero if anything failed. With `--nodes 2` the VMs sit on two nodes joined by VXLAN
//!   (and vm3 → vm1 checks L2 across the tunnel); `--datapath tap` plugs the VMs in through
//!   TAP devices instead of veth pairs on AF_XDP ports.
//! - `wyvern lab up` builds the same lab and leaves it running for hands-on use (it prints
//!   the commands to try); `wyvern lab down` removes it.
//!
//! Every namespace is named with `--prefix` (default `wylab-`), so labs with different
//! prefixes coexist and nothing else on the machine is touched.

mod env;
mod plan;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Subcommand};

use env::{Lab, in_ns, sh};
use plan::{Datapath, L3Mode, Plan, Settings};

/// The `lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Builds the blog's lab, shows the flows, pings across the router, shows the learned
    /// flows, and tears it all down.
    Demo(LabArgs),
    /// Builds the lab and leaves it running.
    Up(LabArgs),
    /// Removes a lab built by `wyvern lab up`.
    Down(Prefix),
}

/// The lab's prefix.
#[derive(Debug, Args)]
pub struct Prefix {
    /// Prefix of every namespace the lab creates.
    #[arg(long, default_value = "wylab-")]
    prefix: String,
}

/// How to build the lab.
#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(flatten)]
    prefix: Prefix,
    /// Compute nodes, each a namespace running its own switch (1 to 4).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// How VMs are plugged into their node's switch.
    #[arg(long, value_enum, default_value_t = Datapath::Afxdp)]
    datapath: Datapath,
    /// Pings per check.
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// How routes are set up.
    #[arg(long, value_enum, default_value_t = L3Mode::Reactive)]
    l3_mode: L3Mode,
    /// Idle timeout of the learned flows, in seconds [default: 300].
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u16>,
    /// Send packet-ins to this OpenFlow controller instead of the built-in one. The nodes
    /// reach the lab's underlay namespace (PREFIXunderlay) at 192.168.50.254: run the
    /// controller there, e.g. `ip netns exec wylab-underlay ryu-manager app.py` with
    /// --controller tcp:192.168.50.254:6653.
    #[arg(long, value_name = "tcp:IP:PORT")]
    controller: Option<String>,
}

/// Why the lab failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A command failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    /// A file could not be written or read.
    #[error("{0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    /// A lab with this prefix exists.
    #[error(
        "a lab with prefix \"{0}\" is already up: remove it with `wyvern lab down --prefix {0}` or pick another --prefix"
    )]
    AlreadyUp(String),
    /// No lab with this prefix.
    #[error("no lab with prefix \"{0}\" is up")]
    NotUp(String),
    /// The state file is unreadable.
    #[error("{0}: not a lab state file ({1}); remove the namespaces it names by hand")]
    BadState(PathBuf, #[source] serde_json::Error),
    /// A switch did not start.
    #[error("the switch of {node} did not start; its log ends with:\n{log}")]
    Switch { node: String, log: String },
    /// A check of the demo failed.
    #[error("{0}")]
    Check(String),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Interrupted by a signal.
    #[error("interrupted")]
    Interrupted,
}

pub fn run(cmd: &LabCommand) -> Result<(), LabError> {
    match cmd {
        LabCommand::Demo(a) => demo(a),
        LabCommand::Up(a) => up(a),
        LabCommand::Down(p) => {
            for line in env::teardown(&p.prefix)? {
                println!("removed {line}");
            }
            Ok(())
        }
    }
}

/// Whether this process runs as root (the lab creates namespaces and AF_XDP sockets).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    })
}

fn check_args(a: &LabArgs) -> Result<Plan, LabError> {
    if !is_root() {
        return Err(LabError::Usage(
            "wyvern lab creates network namespaces, veth pairs and AF_XDP sockets: run it as root"
                .into(),
        ));
    }
    if !(1..=4).contains(&a.nodes) {
        return Err(LabError::Usage(format!("--nodes {}: use 1 to 4", a.nodes)));
    }
    let p = &a.prefix.prefix;
    // The longest name is PREFIX + "underlay"; namespace names become file names.
    if p.is_empty()
        || p.len() > 16
        || !p
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(LabError::Usage(format!(
            "--prefix \"{p}\": use 1 to 16 letters, digits, '-' or '_'"
        )));
    }
    if a.count == 0 {
        return Err(LabError::Usage("--count must be at least 1".into()));
    }
    if let Some(c) = &a.controller
        && !c.starts_with("tcp:")
        && !c.starts_with("unix:")
    {
        return Err(LabError::Usage(format!(
            "--controller {c}: use tcp:IP:PORT or unix:PATH"
        )));
    }
    let mut plan = Plan::blog(a.nodes, a.datapath);
    plan.settings = Settings {
        l3_mode: a.l3_mode,
        idle_timeout: a.idle_timeout,
        controller: a.controller.clone(),
    };
    Ok(plan)
}

fn wyvern_binary() -> Result<PathBuf, LabError> {
    std::env::current_exe().map_err(|e| LabError::Io(PathBuf::from("/proc/self/exe"), e))
}

/// Builds the lab; on failure, removes what was built.
fn build(a: &LabArgs) -> Result<Lab, LabError> {
    let plan = check_args(a)?;
    let wyvern = wyvern_binary()?;
    let mut lab = Lab::create(&a.prefix.prefix, plan)?;
    if let Err(e) = lab.build(&wyvern) {
        let _ = lab.teardown();
        return Err(e);
    }
    Ok(lab)
}

fn up(a: &LabArgs) -> Result<(), LabError> {
    let lab = build(a)?;
    println!(
        "lab \"{}\" is up: {} node(s), {} ports",
        lab.prefix,
        lab.plan.nodes.len(),
        lab.plan.datapath.name()
    );
    for vm in &lab.plan.vms {
        println!(
            "  {:<6} namespace {:<14} {} {} on {}",
            vm.name,
            lab.ns(vm.name),
            vm.network,
            vm.ip,
            lab.plan.nodes[vm.node].name
        );
    }
    if let Some(c) = &lab.plan.settings.controller {
        println!(
            "the nodes connect to {c}: run the controller in namespace {} (192.168.50.254)",
            lab.ns("underlay")
        );
    }
    println!("try:");
    println!("  ip netns exec {} ping 10.1.0.5", lab.ns("vm2"));
    for n in &lab.plan.nodes {
        println!("  wyvern dump-flows {}", lab.target(&n.name));
    }
    println!("  wyvern lab down --prefix {}", lab.prefix);
    Ok(())
}

fn demo(a: &LabArgs) -> Result<(), LabError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| LabError::Io(PathBuf::from("signal handler"), e))?;
    }
    println!(
        "== building the lab: {} node(s), {} ports, namespaces {}*",
        a.nodes,
        a.datapath.name(),
        a.prefix.prefix
    );
    let lab = build(a)?;
    let result = demo_steps(&lab, a.count, &stop);
    println!("== tearing down");
    match lab.teardown() {
        Ok(removed) => {
            let switches = removed.iter().filter(|r| r.starts_with("switch")).count();
            println!(
                "removed {switches} switch(es) and {} namespace(s)",
                removed.len() - switches
            );
        }
        Err(e) => eprintln!("teardown: {e}"),
    }
    match &result {
        Ok(()) => println!("== demo passed"),
        Err(e) => println!("== demo FAILED: {e}"),
    }
    result
}

fn demo_steps(lab: &Lab, count: u32, stop: &AtomicBool) -> Result<(), LabError> {
    let wyvern = wyvern_binary()?;
    let wy = wyvern.display().to_string();
    let interrupted = || {
        if stop.load(Ordering::Relaxed) {
            Err(LabError::Interrupted)
        } else {
            Ok(())
        }
    };
    for n in &lab.plan.nodes {
        println!("\n== {}: the DVR pipeline (wyvern dump-flows)", n.name);
        print!("{}", sh(&wy, &["dump-flows", &lab.target(&n.name)])?);
    }
    interrupted()?;
    let vm1 = lab
        .plan
        .vm("vm1")
        .map(|v| v.ip.to_string())
        .unwrap_or_default();
    println!("\n== vm2 pings vm1 ({vm1}) across router r1");
    let first = ping(lab, "vm2", &vm1, count)?;
    interrupted()?;
    let across = if lab.plan.nodes.len() > 1 {
        "across the tunnel"
    } else {
        "switched, not routed"
    };
    println!("\n== vm3 pings vm1 ({vm1}), both in net1: {across}");
    ping(lab, "vm3", &vm1, count)?;
    interrupted()?;
    let what = match lab.plan.settings.l3_mode {
        L3Mode::Reactive => "the flows the controller learned",
        L3Mode::Proactive => "the host routes installed up front",
    };
    println!("\n== {what} (table 52, priority 100)");
    let mut routes = 0;
    for n in &lab.plan.nodes {
        let flows = sh(&wy, &["dump-flows", &lab.target(&n.name), "table=52"])?;
        let lines: Vec<&str> = flows
            .lines()
            .filter(|l| l.contains("priority=100"))
            .collect();
        println!("{}: {} flow(s)", n.name, lines.len());
        for l in &lines {
            println!("{l}");
        }
        routes += lines.len();
    }
    if routes < 2 {
        return Err(LabError::Check(format!(
            "expected at least the two flows of vm2 <-> vm1, found {routes}"
        )));
    }
    let paid = match lab.plan.settings.l3_mode {
        L3Mode::Reactive => "the gateway ARP, the controller's flow setup and the packet",
        L3Mode::Proactive => "the gateway ARP and the packet",
    };
    println!("\nfirst RTT {first:.3} ms ({paid})");
    Ok(())
}

/// Pings `dst` from VM `from` `count` times; every reply must come back. Prints the first RTT
/// and the summary, and returns the first RTT in ms.
fn ping(lab: &Lab, from: &str, dst: &str, count: u32) -> Result<f64, LabError> {
    let out = in_ns(
        &lab.ns(from),
        "ping",
        &["-c", &count.to_string(), "-i", "0.2", "-W", "2", dst],
    )
    .map_err(|e| LabError::Check(format!("{from} -> {dst}: {e}")))?;
    let rtt = |line: &str| -> Option<f64> {
        line.split("time=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let times: Vec<f64> = out.lines().filter_map(rtt).collect();
    let first_line = out
        .lines()
        .find(|l| l.contains("icmp_seq=1 "))
        .unwrap_or("");
    let Some(first) = rtt(first_line) else {
        return Err(LabError::Check(format!(
            "{from} -> {dst}: the first packet got no reply (lost):\n{out}"
        )));
    };
    if times.len() != count as usize {
        return Err(LabError::Check(format!(
            "{from} -> {dst}: {} of {count} replies:\n{out}",
            times.len()
        )));
    }
    let rest = &times[1..];
    println!("first packet: {first:.3} ms");
    if !rest.is_empty() {
        let avg = rest.iter().sum::<f64>() / rest.len() as f64;
        let min = rest.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rest.iter().copied().fold(0.0, f64::max);
        println!(
            "the other {}: min {min:.3} / avg {avg:.3} / max {max:.3} ms",
            rest.len()
        );
    }
    if let Some(summary) = out.lines().find(|l| l.contains("packet loss")) {
        println!("{summary}");
    }
    Ok(first)
}

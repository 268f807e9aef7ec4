//! wyvern's flow-based `vxlan` port against Open vSwitch's VXLAN tunnel, end to end, as root:
//! `wyvern run` on one node and a private Open vSwitch 3.1 (userspace `netdev` datapath, whose
//! native tunnelling is the OVS half) on the other, a host behind each, pinging each other.
//!
//! ```text
//!  HW 10.77.0.1          W: wyvern run                       O: ovs-vswitchd
//!  eth0 ── hw  [afxdp 2]  [vxlan 1] 192.168.77.1 ── ul0 ═══ ul0 ── br-phy 192.168.77.2
//!               flows: in_port=2 → tun_id=100,                 br-int: vxlan0 (ofport 1,
//!               tun_dst=192.168.77.2, output:1;                remote_ip=192.168.77.1, key=100)
//!               in_port=1,tun_id=100,tun_src=192.168.77.2      + ho (ofport 2), NORMAL
//!               → output:2                                      ho ── eth0  HO 10.77.0.2
//! ```
//!
//! OVS's side is the set-up of its "userspace tunneling" how-to: the VTEP address lives on
//! br-phy's internal port, which carries the underlay veth, and OVS learns the route from the
//! namespace and the remote VTEP's MAC by ARP. The test asserts pings both ways, and that the
//! frames crossing the underlay are VXLAN with VNI 100 from the right VTEP on both sides:
//! wyvern's decap flow (`tun_id=100,tun_src=192.168.77.2,tun_dst=192.168.77.1`) and OVS's
//! vxlan0 port (which takes only key 100 from 192.168.77.1) count the traffic, and wyvern's
//! catch-all for other tunnel traffic counts none.
//!
//! The four namespaces are `wy<pid>ox-{w,o,hw,ho}`; links live only inside them. Open vSwitch
//! and `wyvern run` are stopped by pid and the namespaces deleted when the test ends, failed or
//! not. Skipped when not root or when the OVS programs are missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Netns, eventually, ip, text};

#[path = "../../tests/common/ovs.rs"]
mod ovs;
use ovs::Ovs;

const WYVERN: &str = env!("CARGO_BIN_EXE_wyvern");

const WYVERN_VTEP: &str = "192.168.77.1";
const OVS_VTEP: &str = "192.168.77.2";
const HW_IP: &str = "10.77.0.1";
const HO_IP: &str = "10.77.0.2";

/// wyvern's ports (the configuration's ofports).
const W_VXLAN: u32 = 1;
const W_HOST: u32 = 2;

/// `wyvern run` inside a namespace, stopped (SIGTERM, then SIGKILL) by pid when dropped.
struct WyvernRun {
    child: Child,
    dir: PathBuf,
}

impl WyvernRun {
    /// Starts `wyvern run --config CONFIG` in `netns` with its run directory and log in `dir`;
    /// waits until it serves its management socket.
    fn start(netns: &str, dir: &Path, config: &str) -> WyvernRun {
        let cfg = dir.join("wyvern.toml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.join("wyvern.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", netns, WYVERN, "run", "--config"])
            .arg(&cfg)
            .arg("--run-dir")
            .arg(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        // `ip netns exec` execs the program: the child's pid is the switch's.
        let mut w = WyvernRun {
            child,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !w.mgmt().exists() {
            let exited = w.child.try_wait().unwrap().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "wyvern run did not start:\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    fn mgmt(&self) -> PathBuf {
        self.dir.join("br-int.mgmt")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("wyvern.log")).unwrap_or_default()
    }

    /// A client verb against the switch's management socket; it must succeed.
    fn verb(&self, verb: &str, args: &[&str]) -> String {
        let target = format!("unix:{}", self.mgmt().display());
        let o = Command::new(WYVERN)
            .arg(verb)
            .arg(&target)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "wyvern {verb} {args:?}:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The packet count of the flow of `priority` (one flow per priority here).
    fn flow_packets(&self, priority: u32) -> u64 {
        let flows = self.verb("dump-flows", &[]);
        let line = flows
            .lines()
            .find(|l| l.contains(&format!(" priority={priority},")))
            .unwrap_or_else(|| panic!("no flow of priority {priority} in:\n{flows}"));
        packets(line)
    }
}

impl Drop for WyvernRun {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).output();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `pkts=` or `n_packets=` in `line`.
fn packets(line: &str) -> u64 {
    line.split(['=', ','])
        .skip_while(|w| !w.trim().ends_with("pkts") && w.trim() != "n_packets")
        .nth(1)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {line:?}"))
}

/// Pings `dst` `count` times from namespace `ns`; returns the replies and ping's output.
fn ping(ns: &str, dst: &str, count: u32) -> (usize, String) {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", &count.to_string()])
        .args(["-i", "0.2", "-W", "2", dst])
        .output()
        .unwrap();
    let out = text(&o);
    (out.lines().filter(|l| l.contains("time=")).count(), out)
}

/// The four namespaces, deleted when dropped.
struct Nodes {
    w: Netns,
    o: Netns,
    hw: Netns,
    ho: Netns,
}

/// `ip` with the words of `line`.
fn ip_line(line: &str) {
    ip(&line.split_whitespace().collect::<Vec<_>>());
}

impl Nodes {
    /// The namespaces and their links: the underlay veth `ul0` between W and O (W's end
    /// holds wyvern's VTEP address; O's end joins br-phy later), and a veth from each node to
    /// its host (`hw` in W, `ho` in O, `eth0` in the hosts).
    fn new() -> Nodes {
        let p = format!("wy{}ox-", std::process::id());
        let nodes = Nodes {
            w: Netns::add(&format!("{p}w")),
            o: Netns::add(&format!("{p}o")),
            hw: Netns::add(&format!("{p}hw")),
            ho: Netns::add(&format!("{p}ho")),
        };
        let (w, o) = (&nodes.w.0, &nodes.o.0);
        for ns in [w, o, &nodes.hw.0, &nodes.ho.0] {
            ip_line(&format!("-n {ns} link set lo up"));
        }
        ip_line(&format!(
            "-n {w} link add ul0 type veth peer name ul0 netns {o}"
        ));
        ip_line(&format!("-n {w} addr add {WYVERN_VTEP}/24 dev ul0"));
        ip_line(&format!("-n {w} link set ul0 up"));
        ip_line(&format!("-n {o} link set ul0 up"));
        for (node, side, host, addr) in
            [(w, "hw", &nodes.hw.0, HW_IP), (o, "ho", &nodes.ho.0, HO_IP)]
        {
            ip_line(&format!(
                "-n {node} link add {side} type veth peer name eth0 netns {host}"
            ));
            ip_line(&format!("-n {node} link set {side} up"));
            ip_line(&format!("-n {host} addr add {addr}/24 dev eth0"));
            ip_line(&format!("-n {host} link set eth0 up"));
        }
        nodes
    }
}

/// Open vSwitch's node: br-phy (the underlay veth, the VTEP address on its internal port) and
/// br-int (vxlan0 to wyvern's VTEP with key 100, and the host port), both NORMAL.
fn configure_ovs(ovs: &Ovs, o: &str) {
    let script = format!(
        "add-br br-phy -- set bridge br-phy datapath_type=netdev -- add-port br-phy ul0 \
         -- add-br br-int -- set bridge br-int datapath_type=netdev \
         -- add-port br-int vxlan0 -- set interface vxlan0 type=vxlan ofport_request=1 \
            options:remote_ip={WYVERN_VTEP} options:key=100 \
         -- add-port br-int ho -- set interface ho ofport_request=2"
    );
    ovs.vsctl(&script.split_whitespace().collect::<Vec<_>>());
    ip_line(&format!("-n {o} addr add {OVS_VTEP}/24 dev br-phy"));
    ip_line(&format!("-n {o} link set br-phy up"));
    // OVS learns the namespace's routes by netlink: wait until the underlay's is in.
    let route = "192.168.77.0/24 dev br-phy";
    let routed = eventually(10, || {
        text(&ovs.appctl(&["ovs/route/show"])).contains(route)
    });
    assert!(
        routed,
        "OVS has no route {route}:\n{}",
        text(&ovs.appctl(&["ovs/route/show"]))
    );
}

/// wyvern's node: the vxlan port on the VTEP address, the host port, and the flows between
/// them.
fn start_wyvern(w: &str, dir: &Path) -> WyvernRun {
    let config = format!(
        r#"bridge = "br-int"
fail_mode = "secure"
local_port = false
workers = 1

[[port]]
name = "vxlan"
type = "vxlan"
ofport = {W_VXLAN}
options = {{ local_ip = "{WYVERN_VTEP}" }}

[[port]]
name = "hw"
type = "afxdp"
interface = "hw"
ofport = {W_HOST}
"#
    );
    let wyvern = WyvernRun::start(w, dir, &config);
    for flow in [
        format!(
            "priority=200,in_port={W_HOST},actions=set_field:100->tun_id,set_field:{OVS_VTEP}->tun_dst,output:{W_VXLAN}"
        ),
        format!(
            "priority=300,in_port={W_VXLAN},tun_id=100,tun_src={OVS_VTEP},tun_dst={WYVERN_VTEP},actions=output:{W_HOST}"
        ),
        format!("priority=100,in_port={W_VXLAN},actions=drop"),
    ] {
        wyvern.verb("add-flow", &[&flow]);
    }
    wyvern
}

/// What the two switches say about the tunnel, for failure messages.
fn diagnostics(wyvern: &WyvernRun, ovs: &Ovs) -> String {
    let coverage: String = text(&ovs.appctl(&["coverage/show"]))
        .lines()
        .filter(|l| l.contains("drop") || l.contains("tnl"))
        .map(|l| format!("{l}\n"))
        .collect();
    format!(
        "wyvern flows:\n{}\nwyvern ports:\n{}\nOVS datapath flows:\n{}\nOVS drops:\n{coverage}\nOVS neighbours:\n{}",
        wyvern.verb("dump-flows", &[]),
        wyvern.verb("dump-ports", &[]),
        text(&ovs.appctl(&["dpctl/dump-flows"])),
        text(&ovs.appctl(&["tnl/arp/show"])),
    )
}

#[test]
fn hosts_behind_wyvern_and_open_vswitch_ping_over_vxlan() {
    if let Some(why) = Ovs::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    // Dropped in reverse order: wyvern, then Open vSwitch, then the namespaces.
    let nodes = Nodes::new();
    let Some(ovs) = Ovs::start_in_netns(&nodes.o.0) else {
        return;
    };
    configure_ovs(&ovs, &nodes.o.0);
    let dir = ovs.dir().join("wyvern");
    std::fs::create_dir_all(&dir).unwrap();
    let wyvern = start_wyvern(&nodes.w.0, &dir);

    // The first frames wait for ARP on three links (the hosts', and the underlay on both
    // nodes, where OVS drops the frame that made it ask): one answered ping says all is
    // resolved.
    let resolved = (0..10).any(|_| ping(&nodes.hw.0, HO_IP, 1).0 == 1);
    assert!(
        resolved,
        "HW never reached HO:\n{}",
        diagnostics(&wyvern, &ovs)
    );
    for (from, to) in [(&nodes.hw.0, HO_IP), (&nodes.ho.0, HW_IP)] {
        let (got, out) = ping(from, to, 3);
        assert_eq!(
            got,
            3,
            "{from} -> {to}:\n{out}\n{}",
            diagnostics(&wyvern, &ovs)
        );
    }

    // Each side counted the other's VXLAN traffic: VNI 100 from the other's VTEP (at least
    // the 6 echo requests and replies of the two pings crossed each way).
    let counted = eventually(5, || {
        wyvern.flow_packets(300) >= 6 && wyvern.flow_packets(200) >= 6
    });
    assert!(counted, "{}", diagnostics(&wyvern, &ovs));
    assert_eq!(
        wyvern.flow_packets(100),
        0,
        "tunnel traffic with another VNI or VTEP:\n{}",
        diagnostics(&wyvern, &ovs)
    );
    let ports = text(&ovs.run("ovs-ofctl", &["dump-ports", "br-int", "1"]));
    let rx = ports.lines().find(|l| l.contains("rx pkts=")).map(packets);
    let tx = ports.lines().find(|l| l.contains("tx pkts=")).map(packets);
    assert!(
        rx >= Some(6) && tx >= Some(6),
        "OVS's vxlan0 port:\n{ports}\n{}",
        diagnostics(&wyvern, &ovs)
    );
}

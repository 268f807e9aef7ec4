//! The built-in DVR end to end, as root, on labs built by `wyvern lab up`: the blog's story
//! (gateway ARP, first routed ping not lost, the two learned flows and their expiry, traffic
//! within a subnet staying L2, isolation between networks, TTL expiry and router pings, port
//! removal), over AF_XDP and TAP; two nodes over VXLAN; broadcast reaching only the chassis
//! that host its network; proactive mode; and an os-ken app as the external L3 controller.
//!
//! Each test builds its own lab with a prefix unique to the test process and tag
//! (`wy<pid><tag>-`), and removes it with `wyvern lab down` when it ends, failed or not. Tests
//! return early (skip) when not run as root.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::{Netns, eventually, ip, is_root, text, venv_python};

const WYVERN: &str = env!("CARGO_BIN_EXE_wyvern");

fn wyvern(args: &[&str]) -> Output {
    Command::new(WYVERN).args(args).output().unwrap()
}

/// A lab, removed when dropped.
struct Lab {
    prefix: String,
}

impl Lab {
    /// `wyvern lab up --prefix wy<pid><tag>- ARGS`, or `None` (skip) when not root.
    fn up(tag: &str, args: &[&str]) -> Option<Lab> {
        if !is_root() {
            eprintln!("not root: skipping");
            return None;
        }
        let prefix = format!("wy{}{tag}-", std::process::id());
        let lab = Lab { prefix };
        let mut all = vec!["lab", "up", "--prefix", &lab.prefix];
        all.extend_from_slice(args);
        let o = wyvern(&all);
        assert!(o.status.success(), "lab up failed:\n{}", text(&o));
        Some(lab)
    }

    fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn dir(&self) -> PathBuf {
        Path::new("/run/wyvern/labs").join(self.prefix.trim_end_matches('-'))
    }

    fn target(&self, node: &str) -> String {
        format!(
            "unix:{}",
            self.dir().join(node).join("br-int.mgmt").display()
        )
    }

    /// A wyvern client verb against `node`'s switch; it must succeed. (`topology` takes
    /// its subcommand before the target.)
    fn verb(&self, node: &str, verb: &str, args: &[&str]) -> String {
        let target = self.target(node);
        let (sub, args) = match (verb, args) {
            ("topology", [sub, rest @ ..]) => (Some(*sub), rest),
            _ => (None, args),
        };
        let mut all = vec![verb];
        all.extend(sub);
        all.push(&target);
        all.extend_from_slice(args);
        let o = wyvern(&all);
        assert!(
            o.status.success(),
            "wyvern {}:\n{}",
            all.join(" "),
            text(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The flows of `node` matching `filter`, without the reply header.
    fn flows(&self, node: &str, filter: &str) -> Vec<String> {
        self.verb(node, "dump-flows", &[filter])
            .lines()
            .filter(|l| l.starts_with(' '))
            .map(str::to_owned)
            .collect()
    }

    /// The flows table 52 holds at priority 100 (learned or proactive routes).
    fn routes(&self, node: &str) -> Vec<String> {
        self.flows(node, "table=52")
            .into_iter()
            .filter(|l| l.contains("priority=100,"))
            .collect()
    }

    /// Runs a command in one of the lab's namespaces.
    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(ns)])
            .args(args)
            .output()
            .unwrap()
    }

    /// Pings `dst` `count` times from VM `from`; returns the replies and ping's output.
    fn ping(&self, from: &str, dst: &str, count: u32) -> (usize, String) {
        let o = self.exec(
            from,
            &[
                "ping",
                "-c",
                &count.to_string(),
                "-i",
                "0.2",
                "-W",
                "2",
                dst,
            ],
        );
        let out = text(&o);
        (out.lines().filter(|l| l.contains("time=")).count(), out)
    }

    /// Sends one UDP datagram from VM `from` to `dst`, the address of VM `to`; returns whether
    /// `to` received it (its kernel drops a datagram with a bad checksum).
    fn udp_arrives(&self, from: &str, to: &str, dst: &str) -> bool {
        const LISTEN: &str = "import socket\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
s.bind(('0.0.0.0', 5555))\n\
s.settimeout(3)\n\
print('ready', flush=True)\n\
try:\n    print('got', s.recv(100).decode().strip())\n\
except socket.timeout:\n    print('timeout')\n";
        let mut listener = Command::new("ip")
            .args(["netns", "exec", &self.ns(to), "python3", "-c", LISTEN])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(listener.stdout.as_mut().unwrap()),
            &mut ready,
        )
        .unwrap();
        assert_eq!(ready.trim(), "ready");
        let send = format!("echo first > /dev/udp/{dst}/5555");
        assert!(self.exec(from, &["bash", "-c", &send]).status.success());
        let out = listener.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("got first")
    }

    /// Pings that must all be answered, the first one included.
    fn ping_all(&self, from: &str, dst: &str, count: u32) {
        let (got, out) = self.ping(from, dst, count);
        assert_eq!(got, count as usize, "{from} -> {dst}:\n{out}");
        assert!(
            out.contains("icmp_seq=1 "),
            "the first packet is answered:\n{out}"
        );
    }

    /// The rx and tx packet counts of port `port` on `node`.
    fn port_packets(&self, node: &str, port: &str) -> (u64, u64) {
        let out = self.verb(node, "dump-ports", &[port]);
        let count = |what: &str| -> u64 {
            out.lines()
                .find(|l| l.trim_start().starts_with(what) || l.contains(&format!(": {what}")))
                .and_then(|l| l.split("pkts=").nth(1))
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {what} count in:\n{out}"))
        };
        (count("rx"), count("tx"))
    }

    /// The packet counts of `port` once they stop changing (workers publish counters about
    /// every 100 ms).
    fn settled_packets(&self, node: &str, port: &str) -> (u64, u64) {
        let mut last = self.port_packets(node, port);
        loop {
            std::thread::sleep(Duration::from_millis(400));
            let now = self.port_packets(node, port);
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let o = wyvern(&["lab", "down", "--prefix", &self.prefix]);
        if !o.status.success() {
            eprintln!("lab down: {}", text(&o));
        }
    }
}

const VM1: &str = "10.1.0.5";
const VM2: &str = "10.2.0.5";

/// The two flows the controller learns for vm2 <-> vm1 on one node, as `dump-flows` prints
/// them after `idle_timeout=N, `.
const LEARNED_VM2_VM1: &str = "priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11";
const LEARNED_VM1_VM2: &str = "priority=100,ip,metadata=0x1f42,in_port=11,dl_src=fa:16:3e:00:17:e6,dl_dst=fa:16:3e:c0:8d:8b,nw_src=10.1.0.5,nw_dst=10.2.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:cf:4b:ed->eth_dst,output:12";

#[test]
fn the_blog_end_to_end_over_afxdp() {
    let Some(lab) = Lab::up("a", &["--idle-timeout", "2"]) else {
        return;
    };
    // vm1's ARP for its gateway is answered by table 51 with the router's MAC.
    lab.ping_all("vm1", "10.1.0.1", 1);
    let neigh = text(&lab.exec("vm1", &["ip", "neigh", "show", "10.1.0.1"]));
    assert!(neigh.contains("fa:16:3e:c0:8d:8b"), "{neigh}");
    let responder = lab.flows("node1", "table=51,arp,arp_tpa=10.1.0.1");
    assert!(
        responder.iter().any(|f| !f.contains("n_packets=0,")),
        "table 51 answered: {responder:?}"
    );

    // The first routed ping is answered: the controller re-injects it.
    lab.ping_all("vm2", VM1, 3);
    let learned = lab.routes("node1");
    assert_eq!(learned.len(), 2, "{learned:#?}");
    for want in [LEARNED_VM2_VM1, LEARNED_VM1_VM2] {
        assert!(
            learned
                .iter()
                .any(|f| f.contains(&format!("idle_timeout=2, {want}"))),
            "missing {want} in {learned:#?}"
        );
    }

    // Within net1, traffic stays L2: no route is learned, the controller routes nothing more.
    lab.ping_all("vm3", VM1, 2);
    assert_eq!(lab.routes("node1").len(), 2);
    let show = lab.verb("node1", "topology", &["show"]);
    assert!(show.contains("routed 1,"), "{show}");
    // Two packet-ins: the route and the ping to the router (workers credit their counters
    // within 100 ms of going idle).
    assert!(
        eventually(5, || lab
            .verb("node1", "topology", &["show"])
            .contains("packet-ins: queued 2, dropped 0 (queue full)")),
        "{show}"
    );

    // net1 cannot reach net2 except through the router: not by ARP on a direct route, not
    // by a frame sent straight to vm2's MAC.
    lab.exec("vm1", &["ip", "route", "add", "10.2.0.5/32", "dev", "eth0"]);
    assert_eq!(
        lab.ping("vm1", VM2, 2).0,
        0,
        "no ARP answer across networks"
    );
    lab.exec(
        "vm1",
        &[
            "ip",
            "neigh",
            "replace",
            VM2,
            "lladdr",
            "fa:16:3e:cf:4b:ed",
            "dev",
            "eth0",
        ],
    );
    assert_eq!(lab.ping("vm1", VM2, 2).0, 0, "no frame across networks");
    lab.exec("vm1", &["ip", "route", "del", "10.2.0.5/32", "dev", "eth0"]);
    lab.ping_all("vm1", VM2, 1);

    // The router answers pings on both its interfaces, and a TTL that expires on it.
    lab.ping_all("vm1", "10.2.0.1", 1);
    let o = lab.exec("vm1", &["ping", "-c", "1", "-t", "1", "-W", "2", VM2]);
    let ttl = text(&o);
    assert!(
        ttl.contains("From 10.1.0.1") && ttl.contains("Time to live exceeded"),
        "{ttl}"
    );

    // The learned flows expire after their idle timeout.
    assert!(
        eventually(15, || lab.routes("node1").is_empty()),
        "learned flows still there: {:#?}",
        lab.routes("node1")
    );

    // A port removed from the topology takes its flows, learned ones included.
    lab.ping_all("vm2", VM1, 1);
    assert_eq!(lab.routes("node1").len(), 2);
    let config = std::fs::read_to_string(lab.dir().join("lab.toml")).unwrap();
    let start = config.find("[[port]]\nname = \"vm2\"").unwrap();
    let end = config[start + 1..].find("[[port]]").unwrap() + start + 1;
    let without_vm2 = format!("{}{}", &config[..start], &config[end..]);
    let file = lab.dir().join("without-vm2.toml");
    std::fs::write(&file, without_vm2).unwrap();
    let summary = lab.verb("node1", "topology", &["apply", file.to_str().unwrap()]);
    assert!(summary.contains("closed vm2"), "{summary}");
    assert!(lab.routes("node1").is_empty(), "{:#?}", lab.routes("node1"));
    assert!(lab.flows("node1", "in_port=12").is_empty());
    assert!(!lab.verb("node1", "dump-ports-desc", &[]).contains("(vm2)"));
    // The rest keeps working.
    lab.ping_all("vm3", VM1, 1);
}

#[test]
fn the_blog_over_tap_ports() {
    let Some(lab) = Lab::up("t", &["--datapath", "tap"]) else {
        return;
    };
    // The TAP leaves UDP and TCP checksums to the switch (virtio-net offload); the first
    // datagram goes through the controller and is re-injected, and must still arrive whole.
    assert!(
        lab.udp_arrives("vm2", "vm1", VM1),
        "the first datagram of a new host pair was lost"
    );
    lab.verb(
        "node1",
        "del-flows",
        &["table=52,cookie=0xd100000000000000/0xff00000000000000"],
    );
    lab.ping_all("vm2", VM1, 3);
    let learned = lab.routes("node1");
    assert_eq!(learned.len(), 2, "{learned:#?}");
    assert!(learned.iter().any(|f| f.contains(LEARNED_VM2_VM1)));
    lab.ping_all("vm3", VM1, 2);
}

#[test]
fn two_nodes_route_and_switch_across_the_tunnel() {
    let Some(lab) = Lab::up("n", &["--nodes", "2"]) else {
        return;
    };
    lab.ping_all("vm2", VM1, 3);
    // Routed on the source node, delivered through the tunnel to the destination's chassis.
    let node1 = lab.routes("node1");
    assert_eq!(node1.len(), 1, "{node1:#?}");
    assert!(
        node1[0].contains(
            "actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:cf:4b:ed->eth_dst,set_field:0x1f43->tun_id,set_field:192.168.50.2->tun_dst,output:"
        ),
        "{node1:#?}"
    );
    let node2 = lab.routes("node2");
    assert_eq!(node2.len(), 1, "{node2:#?}");
    assert!(
        node2[0].contains("set_field:192.168.50.1->tun_dst"),
        "{node2:#?}"
    );
    // vm3 (node2) and vm1 (node1) share net1: switched across the tunnel.
    lab.ping_all("vm3", VM1, 3);
}

#[test]
fn broadcast_reaches_only_the_chassis_of_its_network() {
    // node1: vm1 (net1); node2: vm2 (net2), vm3 (net1); node3: nothing of net1.
    let Some(lab) = Lab::up("b", &["--nodes", "3"]) else {
        return;
    };
    let tunnel = "dvr-vxlan";
    let tun_no = |node: &str| -> String {
        let desc = lab.verb(node, "dump-ports-desc", &[]);
        desc.lines()
            .find_map(|l| {
                let (no, rest) = l.trim().split_once('(')?;
                rest.starts_with(tunnel).then(|| no.to_owned())
            })
            .unwrap_or_else(|| panic!("no {tunnel} port in:\n{desc}"))
    };
    let (n1, n2, n3) = (tun_no("node1"), tun_no("node2"), tun_no("node3"));
    let before = (
        lab.settled_packets("node1", &n1),
        lab.settled_packets("node2", &n2),
        lab.settled_packets("node3", &n3),
    );
    // Three broadcasts in net1 (nobody answers a broadcast ping by default).
    lab.exec(
        "vm1",
        &[
            "ping",
            "-b",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
            "10.1.0.255",
        ],
    );
    let after = (
        lab.settled_packets("node1", &n1),
        lab.settled_packets("node2", &n2),
        lab.settled_packets("node3", &n3),
    );
    assert_eq!(
        after.0.1 - before.0.1,
        3,
        "node1 sends one copy per broadcast"
    );
    assert_eq!(
        after.1.0 - before.1.0,
        3,
        "node2 (hosts vm3 of net1) gets each once"
    );
    assert_eq!(after.2.0 - before.2.0, 0, "node3 hosts no port of net1");
}

#[test]
fn proactive_mode_routes_without_any_packet_in() {
    let Some(lab) = Lab::up("p", &["--l3-mode", "proactive"]) else {
        return;
    };
    let routes = lab.routes("node1");
    assert!(
        routes.iter().any(|f| f.contains(
            "priority=100,ip,metadata=0x1f43,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11"
        )),
        "{routes:#?}"
    );
    lab.ping_all("vm2", VM1, 3);
    let show = lab.verb("node1", "topology", &["show"]);
    assert!(show.contains("l3: routed 0,"), "{show}");
}

/// The os-ken L3 app (tests/peers/osken_l3.py) with the lab's configuration, run in the lab's
/// underlay namespace.
struct OsKen {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl OsKen {
    fn start(lab: &Lab, port: u16) -> Option<OsKen> {
        let python = venv_python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/osken_l3.py");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("underlay")])
            .arg(&python)
            .arg(&script)
            .args([&port.to_string(), "192.168.50.254", "--config"])
            .arg(lab.dir().join("lab.toml"))
            .args(["--chassis", "node1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Some(OsKen { child, lines })
    }

    /// The next line the app prints (it prints one per event).
    fn next(&mut self) -> String {
        self.lines.next().unwrap().unwrap()
    }
}

impl Drop for OsKen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_os_ken_app_does_the_l3_job_as_external_controller() {
    // The port is in the lab's own underlay namespace: nothing else listens there.
    let port = "6653";
    let controller = format!("tcp:192.168.50.254:{port}");
    let Some(lab) = Lab::up("x", &["--controller", &controller]) else {
        return;
    };
    let Some(mut osken) = OsKen::start(&lab, 6653) else {
        return;
    };
    assert_eq!(osken.next(), "READY");
    // The switch reconnects with backoff (1 s, doubling): wait for it.
    let connected = osken.next();
    assert!(connected.contains("\"connected\""), "{connected}");
    lab.ping_all("vm2", VM1, 3);
    let routed = osken.next();
    assert!(
        routed.contains("\"routed\"") && routed.contains("\"10.2.0.5\""),
        "{routed}"
    );
    let learned = lab.routes("node1");
    assert_eq!(learned.len(), 2, "{learned:#?}");
    assert!(
        learned.iter().all(|f| f.contains("cookie=0xd2")),
        "the app's flows (its cookie tag), not the built-in controller's (0xd1)"
    );
    assert!(
        lab.verb("node1", "topology", &["show"])
            .contains("built-in controller off")
    );
}

/// A process the test started, stopped (by its pid) when dropped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The flows of a node without their counters and ages, sorted.
fn flow_set(lab: &Lab, node: &str) -> Vec<String> {
    let mut v: Vec<String> = lab
        .flows(node, "")
        .into_iter()
        .filter(|f| !f.contains("cookie=0xd1"))
        .map(|f| {
            f.split(", ")
                .filter(|p| {
                    !p.starts_with("duration=")
                        && !p.starts_with("n_packets=")
                        && !p.starts_with("n_bytes=")
                        && !p.starts_with("idle_age=")
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn topology_changes_follow_without_disturbing_traffic() {
    let Some(lab) = Lab::up("c", &[]) else {
        return;
    };
    let original = std::fs::read_to_string(lab.dir().join("lab.toml")).unwrap();
    let initial = flow_set(&lab, "node1");
    let apply = |name: &str, text: &str| {
        let file = lab.dir().join(name);
        std::fs::write(&file, text).unwrap();
        lab.verb("node1", "topology", &["apply", file.to_str().unwrap()])
    };
    // vm3 -> vm1 (net1) runs throughout: no change below may disturb it.
    let steady = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("vm3"),
            "ping",
            "-i",
            "0.05",
            "-c",
            "60",
            VM1,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    lab.ping_all("vm2", VM1, 1);

    // r1 leaves net2: net2 is no longer routed, and nothing of that interface is left.
    let unrouted = original.replace(
        "  { network = \"net2\", ip = \"10.2.0.1\", mac = \"fa:16:3e:c5:02:4d\" },\n",
        "",
    );
    assert_ne!(unrouted, original);
    let summary = apply("unrouted.toml", &unrouted);
    assert!(summary.contains("learned flows forgotten for"), "{summary}");
    let flows = lab.flows("node1", "").join("\n");
    assert!(
        !flows.contains("10.2.0.1") && !flows.contains("fa:16:3e:c5:02:4d"),
        "{flows}"
    );
    assert!(
        lab.routes("node1").is_empty(),
        "learned routes through the interface are gone"
    );
    assert_eq!(lab.ping("vm2", VM1, 2).0, 0);

    // Back: the same flows as at the start, and routing again.
    apply("original.toml", &original);
    assert_eq!(flow_set(&lab, "node1"), initial);
    lab.ping_all("vm2", VM1, 2);

    // A new VM on net2, plugged in by the test: its port opens and it is routed.
    let vm4 = Netns::add(&lab.ns("vm4"));
    let node = lab.ns("node1");
    ip(&[
        "-n", &node, "link", "add", "vm4-br", "type", "veth", "peer", "name", "eth0", "netns",
        &vm4.0,
    ]);
    ip(&["-n", &node, "link", "set", "vm4-br", "up"]);
    ip(&[
        "-n",
        &vm4.0,
        "link",
        "set",
        "eth0",
        "address",
        "fa:16:3e:00:00:04",
    ]);
    ip(&["-n", &vm4.0, "addr", "add", "10.2.0.6/24", "dev", "eth0"]);
    ip(&["-n", &vm4.0, "link", "set", "eth0", "up"]);
    ip(&["-n", &vm4.0, "route", "add", "default", "via", "10.2.0.1"]);
    let with_vm4 = format!(
        "{original}\n[[port]]\nname = \"vm4\"\nnetwork = \"net2\"\nmac = \"fa:16:3e:00:00:04\"\nips = [\"10.2.0.6\"]\nchassis = \"node1\"\ntype = \"afxdp\"\ninterface = \"vm4-br\"\nofport = 14\n"
    );
    let summary = apply("with-vm4.toml", &with_vm4);
    assert!(summary.contains("ports opened vm4"), "{summary}");
    let o = Command::new("ip")
        .args([
            "netns", "exec", &vm4.0, "ping", "-c", "2", "-i", "0.2", "-W", "2", VM1,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "vm4 -> vm1: {}", text(&o));
    assert!(lab.flows("node1", "table=0,in_port=14").len() == 1);

    // A port whose interface does not exist: the apply says so, and the rest applies.
    let with_ghost = format!(
        "{with_vm4}\n[[port]]\nname = \"vm5\"\nnetwork = \"net1\"\nmac = \"fa:16:3e:00:00:05\"\nips = [\"10.1.0.9\"]\nchassis = \"node1\"\ntype = \"afxdp\"\ninterface = \"nosuchdev\"\nofport = 15\n"
    );
    let ghost = lab.dir().join("ghost.toml");
    std::fs::write(&ghost, with_ghost).unwrap();
    let o = wyvern(&[
        "topology",
        "apply",
        &lab.target("node1"),
        ghost.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o);
    assert!(
        err.contains("port \"vm5\"") && err.contains("not opened"),
        "{err}"
    );
    assert!(lab.flows("node1", "table=0,in_port=15").is_empty());
    lab.ping_all("vm3", VM1, 1);

    // A port whose queue another program holds (an AF_XDP generator): the apply tries each
    // XDP mode for a second before it gives up on it, and meanwhile new host pairs are routed.
    ip(&[
        "-n", &node, "link", "add", "busy-br", "type", "veth", "peer", "name", "busy-pe",
    ]);
    ip(&["-n", &node, "link", "set", "busy-br", "up"]);
    ip(&["-n", &node, "link", "set", "busy-pe", "up"]);
    let holder = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_wyvern"))
            .args([
                "pktgen",
                "--netns",
                &node,
                "--dev",
                "busy-br",
                "--mode",
                "afxdp",
                "--rate",
                "1",
                "--duration",
                "60",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let with_busy = format!(
        "{with_vm4}\n[[port]]\nname = \"vm6\"\nnetwork = \"net1\"\nmac = \"fa:16:3e:00:00:06\"\nips = [\"10.1.0.10\"]\nchassis = \"node1\"\ntype = \"afxdp\"\ninterface = \"busy-br\"\nofport = 16\n"
    );
    let busy = lab.dir().join("busy.toml");
    std::fs::write(&busy, with_busy).unwrap();
    lab.verb(
        "node1",
        "del-flows",
        &["table=52,cookie=0xd100000000000000/0xff00000000000000"],
    );
    let target = lab.target("node1");
    std::thread::scope(|s| {
        let applying = s.spawn(|| wyvern(&["topology", "apply", &target, busy.to_str().unwrap()]));
        std::thread::sleep(Duration::from_millis(300));
        let (got, out) = lab.ping("vm2", VM1, 1);
        assert!(
            !applying.is_finished(),
            "the apply was over before the ping: this step tested nothing"
        );
        assert_eq!(
            got, 1,
            "a new host pair was not routed during the apply:\n{out}"
        );
        let o = applying.join().unwrap();
        assert!(!o.status.success());
        let err = text(&o);
        assert!(
            err.contains("port \"vm6\"") && err.contains("another AF_XDP socket holds this queue"),
            "{err}"
        );
    });
    drop(holder);

    let out = steady.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("60 packets transmitted, 60 received"),
        "traffic within net1 was disturbed:\n{out}"
    );
}

//! Shared helpers of the datapath's root-only integration tests: unique names, cleanup guards,
//! running code inside a network namespace, and hand-built ARP/ICMP replies.
//!
//! Every namespace and link a test makes is named `wy<pid><tag>...` and registered with a
//! [`Cleanup`] guard before use, whose `Drop` deletes it even when the test panics.

#![allow(dead_code)]

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wyvern_datapath::{Burst, MacAddr, PacketBuf, Port};

/// True if the tests can create namespaces and devices; root-only tests return early otherwise.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Skip the calling test (return) when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// `wy<pid><tag>`: the per-test prefix of every name (keep `tag` + suffixes short: names are
/// limited to 15 bytes).
pub fn prefix(tag: &str) -> String {
    format!("wy{}{}", std::process::id(), tag)
}

/// Run `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the namespaces and links registered with it when dropped, in reverse order.
#[derive(Debug, Default)]
pub struct Cleanup {
    items: Vec<Vec<String>>,
}

impl Cleanup {
    /// Create namespace `name` and delete it on drop.
    pub fn netns(&mut self, name: &str) {
        self.items
            .push(vec!["netns".into(), "del".into(), name.into()]);
        ip(&["netns", "add", name]);
    }

    /// Delete link `name` (in the root namespace) on drop, if it still exists.
    pub fn link(&mut self, name: &str) {
        self.items
            .push(vec!["link".into(), "del".into(), name.into()]);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for args in self.items.iter().rev() {
            let _ = Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Run `f` on a thread that has entered network namespace `ns`; sockets and devices `f`
/// creates belong to `ns` for good, whichever thread uses them afterwards.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let file = File::open(format!("/run/netns/{ns}")).expect("open netns");
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: `file` is an open namespace file kept alive for the call; setns(2) only
            // changes the calling thread's network namespace, and this thread is ours alone.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread panicked")
    })
}

/// A veth pair `a`/`b`, `a` moved into `ns_a` with `addr` (CIDR) and up, `b` moved into
/// `ns_b` and up. The links die with the namespaces.
pub fn veth(a: &str, ns_a: &str, addr: &str, b: &str, ns_b: &str) {
    veth_with_queues(a, ns_a, addr, b, ns_b, 1);
}

/// Like [`veth`], both ends with `queues` RX and TX queues.
pub fn veth_with_queues(a: &str, ns_a: &str, addr: &str, b: &str, ns_b: &str, queues: u32) {
    let q = queues.to_string();
    let each = ["numrxqueues", &q, "numtxqueues", &q];
    let mut args = vec!["link", "add", a];
    args.extend(each);
    args.extend(["type", "veth", "peer", "name", b]);
    args.extend(each);
    ip(&args);
    ip(&["link", "set", a, "netns", ns_a]);
    ip(&["link", "set", b, "netns", ns_b]);
    ip(&["-n", ns_a, "addr", "add", addr, "dev", a]);
    ip(&["-n", ns_a, "link", "set", a, "up"]);
    ip(&["-n", ns_a, "link", "set", "lo", "up"]);
    ip(&["-n", ns_b, "link", "set", b, "up"]);
    ip(&["-n", ns_b, "link", "set", "lo", "up"]);
}

/// Two namespaces made for a test, `{prefix}h` and `{prefix}p`, joined by a veth pair:
/// `host_if` (with `addr`) in `ns_host`, `port_if` (up, no address) in `ns_port`, each end with
/// `queues` RX and TX queues. All of it is deleted when this is dropped.
#[derive(Debug)]
pub struct VethPair {
    pub ns_host: String,
    pub ns_port: String,
    pub host_if: String,
    pub port_if: String,
    _cleanup: Cleanup,
}

impl VethPair {
    pub fn new(tag: &str, addr: &str, queues: u32) -> VethPair {
        let p = prefix(tag);
        let (ns_host, ns_port) = (format!("{p}h"), format!("{p}p"));
        let (host_if, port_if) = (format!("{p}a"), format!("{p}b"));
        let mut cleanup = Cleanup::default();
        cleanup.link(&host_if);
        cleanup.link(&port_if);
        cleanup.netns(&ns_host);
        cleanup.netns(&ns_port);
        veth_with_queues(&host_if, &ns_host, addr, &port_if, &ns_port, queues);
        VethPair {
            ns_host,
            ns_port,
            host_if,
            port_if,
            _cleanup: cleanup,
        }
    }
}

/// Two host namespaces plugged into a switch namespace by veth pairs: `a0` (10.`net`.0.1/24,
/// in `ns_a`) to `a1` (in `ns_sw`), and `b0` (10.`net`.0.2/24, in `ns_b`) to `b1` (in
/// `ns_sw`). All of it is deleted when this is dropped.
#[derive(Debug)]
pub struct TwoHosts {
    pub ns_a: String,
    pub ns_b: String,
    pub ns_sw: String,
    pub a0: String,
    pub a1: String,
    pub b0: String,
    pub b1: String,
    _cleanup: Cleanup,
}

impl TwoHosts {
    pub fn new(tag: &str, net: u8) -> TwoHosts {
        let p = prefix(tag);
        let name = |suffix: &str| format!("{p}{suffix}");
        let (ns_a, ns_b, ns_sw) = (name("a"), name("b"), name("s"));
        let (a0, a1, b0, b1) = (name("a0"), name("a1"), name("b0"), name("b1"));
        let mut cleanup = Cleanup::default();
        for link in [&a0, &a1, &b0, &b1] {
            cleanup.link(link);
        }
        for ns in [&ns_a, &ns_b, &ns_sw] {
            cleanup.netns(ns);
        }
        veth(&a0, &ns_a, &format!("10.{net}.0.1/24"), &a1, &ns_sw);
        veth(&b0, &ns_b, &format!("10.{net}.0.2/24"), &b1, &ns_sw);
        TwoHosts {
            ns_a,
            ns_b,
            ns_sw,
            a0,
            a1,
            b0,
            b1,
            _cleanup: cleanup,
        }
    }
}

/// Start `ping -c1 -W<secs> DST` in namespace `ns` (with extra args).
pub fn spawn_ping(ns: &str, dst: &str, extra: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c1", "-W3", "-n"])
        .args(extra)
        .arg(dst)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ping")
}

/// Wait up to `limit` for `child`, calling `step` meanwhile; kills it on timeout. Returns
/// whether it exited successfully.
pub fn wait_while(child: &mut Child, limit: Duration, mut step: impl FnMut()) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        step();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Answers, by hand, ARP requests and ICMP echo requests for one IPv4 address.
#[derive(Debug)]
pub struct Responder {
    pub mac: MacAddr,
    pub ip: Ipv4Addr,
    pub arp_replies: usize,
    pub echo_replies: usize,
    pub seen: usize,
}

impl Responder {
    pub fn new(mac: MacAddr, ip: Ipv4Addr) -> Self {
        Self {
            mac,
            ip,
            arp_replies: 0,
            echo_replies: 0,
            seen: 0,
        }
    }

    /// The reply to `frame`, if it is an ARP request or ICMP echo request for our address.
    pub fn reply(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        self.seen += 1;
        if let Some(r) = arp_reply(frame, self.mac, self.ip) {
            self.arp_replies += 1;
            return Some(r);
        }
        if let Some(r) = icmp_echo_reply(frame, self.mac, self.ip) {
            self.echo_replies += 1;
            return Some(r);
        }
        None
    }

    /// Receive a burst from `port`, answer what is ours; returns the bytes sent.
    pub fn serve(&mut self, port: &mut dyn Port, rx: &mut Burst) -> usize {
        rx.clear();
        port.recv_burst(rx).expect("recv_burst");
        let mut bytes = 0;
        for i in 0..rx.len() {
            let tunnel = rx.packets()[i].meta.tunnel;
            if let Some(reply) = self.reply(rx.packets()[i].data()) {
                let mut out = PacketBuf::from_slice(&reply);
                out.meta.tunnel = tunnel.map(|t| wyvern_datapath::TunnelMeta {
                    tun_id: t.tun_id,
                    tun_src: t.tun_dst,
                    tun_dst: t.tun_src,
                });
                assert_eq!(port.send_burst(std::slice::from_mut(&mut out)).unwrap(), 1);
                bytes += reply.len();
            }
        }
        bytes
    }
}

/// Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ARP reply from (`mac`, `ip`) to `req`, if `req` is an ARP request for `ip`.
pub fn arp_reply(req: &[u8], mac: MacAddr, ip: Ipv4Addr) -> Option<Vec<u8>> {
    if req.len() < 42 || req[12..14] != [0x08, 0x06] || req[20..22] != [0, 1] {
        return None;
    }
    if req[38..42] != ip.octets() {
        return None;
    }
    let (sha, spa) = (&req[22..28], &req[28..32]);
    let mut r = Vec::with_capacity(42);
    r.extend_from_slice(sha);
    r.extend_from_slice(&mac.0);
    r.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    r.extend_from_slice(&mac.0);
    r.extend_from_slice(&ip.octets());
    r.extend_from_slice(sha);
    r.extend_from_slice(spa);
    Some(r)
}

/// An ICMP echo reply from (`mac`, `ip`) to `req`, if `req` is an untagged IPv4 ICMP echo
/// request to `ip`.
pub fn icmp_echo_reply(req: &[u8], mac: MacAddr, ip: Ipv4Addr) -> Option<Vec<u8>> {
    if req.len() < 34 || req[12..14] != [0x08, 0x00] {
        return None;
    }
    let ihl = usize::from(req[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([req[16], req[17]]));
    if req[14] >> 4 != 4 || req[23] != 1 || req[30..34] != ip.octets() {
        return None;
    }
    if ihl < 20 || req.len() < 14 + total || total < ihl + 8 || req[14 + ihl] != 8 {
        return None;
    }
    let mut r = req[..14 + total].to_vec();
    r.copy_within(6..12, 0);
    r[6..12].copy_from_slice(&mac.0);
    // Swap the IP addresses.
    let src: [u8; 4] = req[26..30].try_into().ok()?;
    r[26..30].copy_from_slice(&ip.octets());
    r[30..34].copy_from_slice(&src);
    r[22] = 64; // TTL
    r[24..26].copy_from_slice(&[0, 0]);
    let c = checksum(&r[14..14 + ihl]);
    r[24..26].copy_from_slice(&c.to_be_bytes());
    let icmp = 14 + ihl;
    r[icmp] = 0; // echo reply
    r[icmp + 2..icmp + 4].copy_from_slice(&[0, 0]);
    let c = checksum(&r[icmp..]);
    r[icmp + 2..icmp + 4].copy_from_slice(&c.to_be_bytes());
    Some(r)
}

/// Run `ip netns exec NS CMD ARGS...`; returns (success, stdout + stderr).
pub fn netns_exec(ns: &str, cmd: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .output()
        .expect("run ip netns exec");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `ping -c COUNT -i 0.1 -W 2 DST` from namespace `ns`; (success, output).
pub fn ping(ns: &str, dst: &str, count: u32) -> (bool, String) {
    let count = count.to_string();
    netns_exec(
        ns,
        &[
            "ping", "-n", "-q", "-c", &count, "-i", "0.1", "-W", "2", dst,
        ],
    )
}

/// Ping until one reply arrives (the first ones may be lost while ports come up), up to
/// `tries` times; true if one did.
pub fn ping_until(ns: &str, dst: &str, tries: u32) -> bool {
    (0..tries).any(|_| ping(ns, dst, 1).0)
}

/// Send `bytes` bytes over TCP from namespace `client_ns` to `server:port` in namespace
/// `server_ns` (a tiny Rust server and client; the server answers with the count it read).
/// Returns the count the server reports.
pub fn tcp_transfer(
    server_ns: &str,
    server: Ipv4Addr,
    port: u16,
    client_ns: &str,
    bytes: usize,
) -> std::io::Result<u64> {
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    let addr = SocketAddr::from((server, port));
    let listener = in_netns(server_ns, || TcpListener::bind(addr))?;
    listener.set_nonblocking(true)?;
    let server_thread = std::thread::spawn(move || -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(e),
            }
        };
        conn.set_nonblocking(false)?;
        conn.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut total = 0u64;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = conn.read(&mut buf)?;
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        conn.write_all(&total.to_be_bytes())
    });
    let mut client = in_netns(client_ns, || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(10))
    })?;
    client.set_write_timeout(Some(Duration::from_secs(20)))?;
    client.set_read_timeout(Some(Duration::from_secs(20)))?;
    let chunk: Vec<u8> = (0..65536u32).map(|i| i as u8).collect();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        client.write_all(&chunk[..n])?;
        left -= n;
    }
    client.shutdown(Shutdown::Write)?;
    let mut count = [0u8; 8];
    client.read_exact(&mut count)?;
    server_thread
        .join()
        .map_err(|_| std::io::Error::other("server thread panicked"))??;
    Ok(u64::from_be_bytes(count))
}

/// The flows `texts`, added to a new pipeline.
pub fn pipeline_with(texts: &[&str]) -> std::sync::Arc<wyvern_pipeline::Pipeline> {
    use wyvern_pipeline::flow::FlowModCommand;
    let p = wyvern_pipeline::Pipeline::new(wyvern_pipeline::PipelineConfig::default());
    let mods: Vec<_> = texts
        .iter()
        .map(|t| wyvern_pipeline::text::parse_flow(t, FlowModCommand::Add).expect("flow"))
        .collect();
    p.apply(&mods).expect("apply flows");
    p
}

/// Whether link `name` exists in namespace `ns` (`None`: the root namespace); its
/// `ip -d link show` output.
pub fn link_show(ns: Option<&str>, name: &str) -> Option<String> {
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    let out = cmd
        .args(["-d", "link", "show", "dev", name])
        .output()
        .expect("run ip");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

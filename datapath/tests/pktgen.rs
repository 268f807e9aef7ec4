//! `pktgen` on veth pairs between two namespaces made by each test. Needs root; skipped
//! otherwise.
//!
//! - a run of N frames from one namespace is counted exactly N times by the receive program
//!   in the other, in live-frames and in AF_XDP mode;
//! - frames sent by the live-frames program (flows, stamps, both checksums written in BPF)
//!   arrive valid, read back through an AF_XDP port;
//! - `--rate` is roughly honoured;
//! - the receive program detaches when dropped, and a second one is refused clearly;
//! - bad configurations are refused before anything is sent, with clear messages.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Cleanup, in_netns, ip, prefix};
use wyvern_datapath::afxdp::{AfXdpConfig, AfXdpPort, XdpMode};
use wyvern_datapath::pktgen::{self, Receiver, RxStats, TxConfig, TxMode, TxReport, Vary};
use wyvern_datapath::{Burst, Port};
use wyvern_pipeline::wire::checksum::{pseudo_header_v4, verifies};

/// Two namespaces `{p}a`, `{p}b` joined by veth `{p}0` (in a) — `{p}1` (in b), both up.
struct Pair {
    ns_a: String,
    ns_b: String,
    tx_if: String,
    rx_if: String,
    _cleanup: Cleanup,
}

fn pair(tag: &str) -> Pair {
    let p = prefix(tag);
    let (ns_a, ns_b) = (format!("{p}a"), format!("{p}b"));
    let (tx_if, rx_if) = (format!("{p}0"), format!("{p}1"));
    let mut cleanup = Cleanup::default();
    cleanup.link(&tx_if);
    cleanup.link(&rx_if);
    cleanup.netns(&ns_a);
    cleanup.netns(&ns_b);
    ip(&[
        "link", "add", &tx_if, "type", "veth", "peer", "name", &rx_if,
    ]);
    ip(&["link", "set", &tx_if, "netns", &ns_a]);
    ip(&["link", "set", &rx_if, "netns", &ns_b]);
    ip(&["-n", &ns_a, "link", "set", &tx_if, "up"]);
    ip(&["-n", &ns_b, "link", "set", &rx_if, "up"]);
    Pair {
        ns_a,
        ns_b,
        tx_if,
        rx_if,
        _cleanup: cleanup,
    }
}

impl Pair {
    fn receiver(&self) -> Receiver {
        in_netns(&self.ns_b, || Receiver::attach(&self.rx_if, XdpMode::Auto))
            .expect("attach the receive program")
    }

    fn send(&self, config: TxConfig) -> TxReport {
        in_netns(&self.ns_a, || pktgen::send(config)).expect("pktgen send")
    }

    fn config(&self) -> TxConfig {
        TxConfig::new(&self.tx_if)
    }

    /// `ip -n NS_B link show RX_IF`.
    fn rx_link(&self) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.ns_b, "link", "show", &self.rx_if])
            .output()
            .expect("run ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The receiver's counters once `pktgen_packets` reaches `want` or a second passes.
fn settle(rx: &mut Receiver, want: u64) -> RxStats {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let s = rx.stats().expect("read counters");
        if s.pktgen_packets >= want || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn exactly_n(tag: &str, mode: TxMode, n: u64) {
    let pair = pair(tag);
    let mut rx = pair.receiver();
    assert_eq!(rx.mode(), XdpMode::Native, "veth has native XDP");
    assert!(pair.rx_link().contains("xdp"), "{}", pair.rx_link());
    let mut config = pair.config();
    config.mode = mode;
    config.count = Some(n);
    config.frame.flows = 7;
    config.timestamp = true;
    let report = pair.send(config);
    assert_eq!(report.mode, mode);
    assert_eq!((report.packets, report.bytes), (n, n * 60));
    let s = settle(&mut rx, n);
    eprintln!(
        "{mode:?}: {report:?} ({:.3} Mpps)\nrx: {s:?}",
        report.pps() / 1e6
    );
    assert_eq!(
        s.pktgen_packets, n,
        "dropped by the device: {}",
        report.dev_tx_dropped
    );
    assert_eq!(report.dev_tx_dropped, 0);
    assert_eq!(s.latency.samples, n, "every frame was stamped");
    assert!(s.latency.min_ns > 0 && s.latency.min_ns <= s.latency.max_ns);
    assert!(s.latency.mean_ns() < 1_000_000_000, "{:?}", s.latency);
    // Nothing else in the namespaces sends UDP to 198.18.0.2; other frames (IPv6 neighbour
    // discovery) are counted apart.
    assert!(s.packets >= n);
}

#[test]
fn live_frames_run_of_n_is_received_exactly_n_times() {
    require_root!();
    exactly_n("pl", TxMode::Live, 200_000);
}

#[test]
fn afxdp_run_of_n_is_received_exactly_n_times() {
    require_root!();
    exactly_n("px", TxMode::AfXdp, 50_000);
}

/// IPv4 and UDP checksums of `f` verify.
fn checksums_valid(f: &[u8]) -> bool {
    let src: [u8; 4] = f[26..30].try_into().unwrap();
    let dst: [u8; 4] = f[30..34].try_into().unwrap();
    let seg = &f[34..];
    verifies(&f[14..34], 0) && verifies(seg, pseudo_header_v4(src, dst, 17, seg.len() as u16))
}

/// Frames written by the BPF program itself, read back on the peer through AF_XDP.
#[test]
fn live_frames_have_valid_checksums_for_every_flow() {
    require_root!();
    let pair = pair("pc");
    let mut port = in_netns(&pair.ns_b, || {
        let mut cfg = AfXdpConfig::new(&pair.rx_if);
        // Native, so that the veth peer takes XDP frames.
        cfg.mode = XdpMode::Native;
        cfg.ring_size = 512;
        AfXdpPort::open(&cfg)
    })
    .expect("open AF_XDP port");
    let mut burst = Burst::new(Burst::DEFAULT_SIZE);
    for (vary, size, count) in [(Vary::SrcPort, 64, 40), (Vary::SrcIp, 123, 24)] {
        let mut config = pair.config();
        config.mode = TxMode::Live;
        config.count = Some(count);
        config.frame.flows = 8;
        config.frame.vary = vary;
        config.frame.size = size;
        config.timestamp = true;
        let report = pair.send(config);
        assert_eq!(report.packets, count);
        let mut frames = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while (frames.len() as u64) < count && Instant::now() < deadline {
            burst.clear();
            port.recv_burst(&mut burst).unwrap();
            for p in burst.packets() {
                if p.data().len() > 46 && &p.data()[42..46] == b"WYPG" {
                    frames.push(p.data().to_vec());
                }
            }
        }
        assert_eq!(frames.len() as u64, count, "{vary:?}");
        let mut fields = BTreeSet::new();
        for f in &frames {
            assert_eq!(f.len(), size);
            assert!(checksums_valid(f), "{vary:?}: bad checksum in {f:02x?}");
            assert_ne!(f[46..54], [0; 8], "stamped");
            let field = match vary {
                Vary::SrcPort => u16::from_be_bytes([f[34], f[35]]),
                Vary::SrcIp => u16::from_be_bytes([f[28], f[29]]),
            };
            fields.insert(field);
        }
        let expect: BTreeSet<u16> = match vary {
            Vary::SrcPort => (1024..1032).collect(),
            Vary::SrcIp => (1..9).collect(), // 198.18.0.1 + 0..8
        };
        assert_eq!(fields, expect, "{vary:?}: every flow, nothing else");
    }
}

#[test]
fn rate_is_roughly_honoured() {
    require_root!();
    let pair = pair("pr");
    let _rx = pair.receiver();
    for mode in [TxMode::Auto, TxMode::AfXdp] {
        let mut config = pair.config();
        config.mode = mode;
        config.rate = Some(1000);
        config.duration = Some(Duration::from_secs(1));
        let report = pair.send(config);
        eprintln!("{mode:?}: {report:?}");
        assert!(
            (500..=2000).contains(&report.packets),
            "{mode:?}: {} packets in 1 s at 1000 pps",
            report.packets
        );
    }
}

#[test]
fn receive_program_detaches_and_refuses_a_second() {
    require_root!();
    let pair = pair("pd");
    let rx = pair.receiver();
    let shown = pair.rx_link();
    assert!(shown.contains("prog/xdp"), "{shown}");
    let second = in_netns(&pair.ns_b, || Receiver::attach(&pair.rx_if, XdpMode::Auto));
    let e = second.expect_err("a second receive program").to_string();
    assert!(e.contains("another XDP program"), "{e}");
    drop(rx);
    let shown = pair.rx_link();
    assert!(!shown.contains("xdp"), "still attached: {shown}");
    // And it can be attached again.
    let again = in_netns(&pair.ns_b, || {
        Receiver::attach(&pair.rx_if, XdpMode::Generic)
    })
    .expect("attach again");
    assert_eq!(again.mode(), XdpMode::Generic);
    assert!(pair.rx_link().contains("xdpgeneric"), "{}", pair.rx_link());
    drop(again);
    assert!(!pair.rx_link().contains("xdp"));
}

#[test]
fn bad_configurations_are_refused_clearly() {
    require_root!();
    let pair = pair("pb");
    let err = |config: TxConfig| {
        in_netns(&pair.ns_a, || pktgen::Sender::start(config))
            .expect_err("refused")
            .to_string()
    };
    let mut c = pair.config();
    c.iface = "wy-nonexistent".into();
    assert!(err(c).contains("no interface named \"wy-nonexistent\""));
    let mut c = pair.config();
    c.iface = "far/too/long/for/an/ifname".into();
    assert!(err(c).contains("no interface named"));
    let mut c = pair.config();
    c.frame.size = 40;
    assert!(err(c).contains("frame size 40 is out of range"));
    let mut c = pair.config();
    c.count = Some(0);
    assert!(err(c).contains("--count"));
    let mut c = pair.config();
    c.rate = Some(0);
    assert!(err(c).contains("--rate"));
    let mut c = pair.config();
    c.frame.sport = 65535;
    c.frame.flows = 2;
    assert!(err(c).contains("wrap past 65535"));
    ip(&["-n", &pair.ns_a, "link", "set", &pair.tx_if, "mtu", "1000"]);
    let mut c = pair.config();
    c.frame.size = 1100;
    let e = err(c);
    assert!(e.contains("does not fit") && e.contains("MTU 1000"), "{e}");
    // The interface exists only in the other namespace.
    let e = in_netns(&pair.ns_b, || pktgen::Sender::start(pair.config()))
        .expect_err("wrong namespace")
        .to_string();
    assert!(e.contains("no interface named"), "{e}");
    let e = in_netns(&pair.ns_b, || {
        Receiver::attach("wy-nonexistent", XdpMode::Auto)
    })
    .expect_err("no such interface")
    .to_string();
    assert!(e.contains("no interface named"), "{e}");
    let e = in_netns(&pair.ns_b, || pktgen::enter_netns("wy-no-such-namespace"))
        .expect_err("no such namespace")
        .to_string();
    assert!(
        e.contains("cannot enter network namespace \"wy-no-such-namespace\""),
        "{e}"
    );
}

//! `wyvern pktgen`: send UDP/IPv4 frames as fast as one core can, or count them on arrival.
//!
//! Send: `wyvern pktgen --dev IFACE [--netns NS] [--size 64] [--flows N] [--rate PPS|max]
//! [--count N | --duration SECS] [--mode live|afxdp|auto] [--timestamp] [--json]`.
//! Receive: `wyvern pktgen --rx --dev IFACE [--netns NS] [--duration SECS] [--json]`, which
//! attaches a counting, dropping XDP program until the duration ends or SIGINT/SIGTERM.
//!
//! While running, one progress line on stderr is rewritten in place about once a second
//! (with `\r` when stderr is a terminal, one line per second otherwise). At the end a summary
//! goes to stdout: text, or one JSON object with `--json`. See
//! `wyvern_datapath::pktgen` for how frames are sent and counted.

use std::io::{IsTerminal, Write};
use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;
use wyvern_datapath::afxdp::XdpMode;
use wyvern_datapath::pktgen::{
    self, FrameSpec, PktgenError, Receiver, RxStats, Sender, TxConfig, TxMode, TxReport, Vary,
};

#[derive(Debug, Args)]
pub struct PktgenArgs {
    /// Interface to send out of (or, with --rx, to count on).
    #[arg(long)]
    dev: String,
    /// Network namespace (`ip netns` name) to run in.
    #[arg(long)]
    netns: Option<String>,
    /// Receive mode: count and drop frames arriving on --dev with an XDP program.
    #[arg(long)]
    rx: bool,
    /// Frame length in bytes, without FCS (60..=1514).
    #[arg(long, default_value_t = 64, conflicts_with = "rx")]
    size: usize,
    /// Source MAC address [default: the interface's].
    #[arg(long, value_parser = parse_mac, conflicts_with = "rx")]
    src_mac: Option<[u8; 6]>,
    /// Destination MAC address.
    #[arg(long, value_parser = parse_mac, default_value = "02:00:00:00:00:02", conflicts_with = "rx")]
    dst_mac: [u8; 6],
    /// Source IPv4 address.
    #[arg(long, default_value = "198.18.0.1", conflicts_with = "rx")]
    src_ip: Ipv4Addr,
    /// Destination IPv4 address.
    #[arg(long, default_value = "198.18.0.2", conflicts_with = "rx")]
    dst_ip: Ipv4Addr,
    /// UDP source port (of the first flow).
    #[arg(long, default_value_t = 1024, conflicts_with = "rx")]
    sport: u16,
    /// UDP destination port.
    #[arg(long, default_value_t = 9, conflicts_with = "rx")]
    dport: u16,
    /// Number of flows: frames cycle through N values of the --vary field.
    #[arg(long, default_value_t = 1, conflicts_with = "rx")]
    flows: u32,
    /// Which field varies over the flows.
    #[arg(long, value_enum, default_value_t = VaryArg::Sport, conflicts_with = "rx")]
    vary: VaryArg,
    /// Packets per second, or `max`.
    #[arg(long, default_value = "max", conflicts_with = "rx")]
    rate: Rate,
    /// Stop after N packets.
    #[arg(long, conflicts_with_all = ["rx", "duration"])]
    count: Option<u64>,
    /// Stop after SECS seconds (fractions allowed).
    #[arg(long)]
    duration: Option<f64>,
    /// Send back end: XDP live frames, AF_XDP, or live with a fallback to AF_XDP.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto, conflicts_with = "rx")]
    mode: ModeArg,
    /// Receive mode: XDP attach mode.
    #[arg(long, value_enum, default_value_t = XdpModeArg::Auto, requires = "rx")]
    xdp_mode: XdpModeArg,
    /// Write a send timestamp into every frame, for the receiver's latency figures.
    #[arg(long, conflicts_with = "rx")]
    timestamp: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VaryArg {
    /// The UDP source port.
    Sport,
    /// The last two bytes of the source IP.
    SrcIp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Live,
    Afxdp,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum XdpModeArg {
    Native,
    Generic,
    Auto,
}

/// `--rate`: a number of packets per second or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rate(Option<u64>);

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        if s == "max" {
            return Ok(Rate(None));
        }
        match s.parse::<u64>() {
            Ok(0) => Err("must be at least 1 (packets per second) or `max`".into()),
            Ok(n) => Ok(Rate(Some(n))),
            Err(_) => Err(format!(
                "{s:?} is not a rate: give packets per second or `max`"
            )),
        }
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{s:?} is not a MAC address (like 02:00:00:00:00:01)");
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next().ok_or_else(bad)?;
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

fn duration(args: &PktgenArgs) -> Result<Option<Duration>, PktgenError> {
    match args.duration {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PktgenError::BadLimit(format!(
            "--duration must be a positive number of seconds, not {s}"
        ))),
    }
}

pub fn run(args: &PktgenArgs) -> Result<(), PktgenError> {
    let duration = duration(args)?;
    if let Some(ns) = &args.netns {
        // Before any thread is spawned: threads inherit the namespace.
        pktgen::enter_netns(ns)?;
    }
    let stop = pktgen::stop_on_signals().map_err(|source| PktgenError::Io {
        what: "installing the SIGINT handler",
        source,
    })?;
    if args.rx {
        receive(args, duration, stop)
    } else {
        send(args, duration, stop)
    }
}

/// Rewrites one status line on stderr about once a second.
struct ProgressLine {
    tty: bool,
    last: Instant,
    width: usize,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            last: Instant::now(),
            width: 0,
        }
    }

    fn due(&self) -> bool {
        self.last.elapsed() >= Duration::from_secs(1)
    }

    fn show(&mut self, line: String) {
        self.last = Instant::now();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let pad = self.width.saturating_sub(line.len());
            let _ = write!(err, "\r{line}{:pad$}", "");
            self.width = line.len();
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn finish(&mut self) {
        if self.tty && self.width > 0 {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn mpps(n: u64, d: Duration) -> f64 {
    pktgen::per_second(n, d) / 1e6
}

fn send(
    args: &PktgenArgs,
    duration: Option<Duration>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), PktgenError> {
    let config = TxConfig {
        iface: args.dev.clone(),
        frame: FrameSpec {
            src_mac: args.src_mac.unwrap_or([0; 6]),
            dst_mac: args.dst_mac,
            src_ip: args.src_ip,
            dst_ip: args.dst_ip,
            sport: args.sport,
            dport: args.dport,
            size: args.size,
            flows: args.flows,
            vary: match args.vary {
                VaryArg::Sport => Vary::SrcPort,
                VaryArg::SrcIp => Vary::SrcIp,
            },
        },
        src_mac_from_iface: args.src_mac.is_none(),
        rate: args.rate.0,
        count: args.count,
        duration,
        mode: match args.mode {
            ModeArg::Live => TxMode::Live,
            ModeArg::Afxdp => TxMode::AfXdp,
            ModeArg::Auto => TxMode::Auto,
        },
        timestamp: args.timestamp,
    };
    let sender = Sender::start(config)?;
    let mode = sender.mode().name();
    let mut line = ProgressLine::new();
    let mut last = (Instant::now(), sender.packets());
    let drops_at_start = pktgen::dev_stats(&args.dev).unwrap_or_default().tx_dropped;
    while !sender.is_finished() {
        if stop.load(Ordering::Relaxed) {
            sender.stop();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if line.due() {
            let now = (Instant::now(), sender.packets());
            let drops = pktgen::dev_stats(&args.dev)
                .unwrap_or_default()
                .tx_dropped
                .saturating_sub(drops_at_start);
            line.show(format!(
                "tx {mode} {}: {:.3} Mpps, {} packets, {drops} dropped by the device",
                args.dev,
                mpps(now.1 - last.1, now.0 - last.0),
                now.1,
            ));
            last = now;
        }
    }
    let report = sender.join();
    line.finish();
    let report = report?;
    print_tx(args, &report);
    Ok(())
}

fn print_tx(args: &PktgenArgs, r: &TxReport) {
    if args.json {
        let v = json!({
            "direction": "tx",
            "mode": r.mode.name(),
            "dev": args.dev,
            "netns": args.netns,
            "frame_size": args.size,
            "flows": args.flows,
            "rate": args.rate.0,
            "packets": r.packets,
            "bytes": r.bytes,
            "duration_s": r.elapsed.as_secs_f64(),
            "pps": r.pps(),
            "cpu_s": r.cpu_time.as_secs_f64(),
            "pps_per_cpu": r.pps_per_cpu(),
            "bits_per_s": pktgen::per_second(r.bytes * 8, r.elapsed),
            "dev_tx_dropped": r.dev_tx_dropped,
            "timestamp": args.timestamp,
        });
        println!("{v}");
    } else {
        println!(
            "sent {} packets ({} bytes) out of {} in {:.3} s with {}: {:.3} Mpps ({:.3} Mpps per \
             CPU-second of the sender), {:.3} Gbit/s; {} dropped by the device",
            r.packets,
            r.bytes,
            args.dev,
            r.elapsed.as_secs_f64(),
            r.mode.name(),
            r.pps() / 1e6,
            r.pps_per_cpu() / 1e6,
            pktgen::per_second(r.bytes * 8, r.elapsed) / 1e9,
            r.dev_tx_dropped,
        );
    }
}

fn receive(
    args: &PktgenArgs,
    duration: Option<Duration>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), PktgenError> {
    let mode = match args.xdp_mode {
        XdpModeArg::Native => XdpMode::Native,
        XdpModeArg::Generic => XdpMode::Generic,
        XdpModeArg::Auto => XdpMode::Auto,
    };
    let mut rx = Receiver::attach(&args.dev, mode)?;
    let mode = match rx.mode() {
        XdpMode::Native => "native",
        _ => "generic",
    };
    let start = Instant::now();
    let mut line = ProgressLine::new();
    let mut last = (start, RxStats::default());
    let mut peak_pps: f64 = 0.0;
    let mut stats = RxStats::default();
    while !stop.load(Ordering::Relaxed) && duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(50));
        if line.due() {
            stats = rx.stats()?;
            let now = Instant::now();
            let pps = pktgen::per_second(stats.packets - last.1.packets, now - last.0);
            peak_pps = peak_pps.max(pps);
            let lat = &stats.latency;
            let lat = if lat.samples > 0 {
                format!(
                    ", latency mean {:.1} us max {:.1} us",
                    lat.mean_ns() as f64 / 1e3,
                    lat.max_ns as f64 / 1e3
                )
            } else {
                String::new()
            };
            line.show(format!(
                "rx {mode} {}: {:.3} Mpps, {} packets ({} pktgen){lat}",
                args.dev,
                pps / 1e6,
                stats.packets,
                stats.pktgen_packets,
            ));
            last = (now, stats);
        }
    }
    let elapsed = start.elapsed();
    stats = rx.stats().unwrap_or(stats);
    drop(rx); // detaches the program
    line.finish();
    let lat = stats.latency;
    if args.json {
        let latency = (lat.samples > 0).then(|| {
            json!({
                "samples": lat.samples,
                "mean_ns": lat.mean_ns(),
                "min_ns": lat.min_ns,
                "max_ns": lat.max_ns,
            })
        });
        let v = json!({
            "direction": "rx",
            "mode": mode,
            "dev": args.dev,
            "netns": args.netns,
            "packets": stats.packets,
            "bytes": stats.bytes,
            "pktgen_packets": stats.pktgen_packets,
            "duration_s": elapsed.as_secs_f64(),
            "pps": pktgen::per_second(stats.packets, elapsed),
            "peak_pps": peak_pps,
            "latency": latency,
        });
        println!("{v}");
    } else {
        println!(
            "received {} packets ({} bytes, {} from pktgen) on {} in {:.3} s ({mode} XDP): \
             {:.3} Mpps average, {:.3} Mpps peak",
            stats.packets,
            stats.bytes,
            stats.pktgen_packets,
            args.dev,
            elapsed.as_secs_f64(),
            mpps(stats.packets, elapsed),
            peak_pps / 1e6,
        );
        if lat.samples > 0 {
            println!(
                "latency over {} stamped packets: min {:.1} us, mean {:.1} us, max {:.1} us",
                lat.samples,
                lat.min_ns as f64 / 1e3,
                lat.mean_ns() as f64 / 1e3,
                lat.max_ns as f64 / 1e3,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: PktgenArgs,
    }

    fn parse(line: &str) -> Result<PktgenArgs, String> {
        Cli::try_parse_from(std::iter::once("pktgen").chain(line.split_whitespace()))
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let a = parse("--dev eth0").unwrap();
        assert_eq!(
            (a.size, a.flows, a.rate, a.mode, a.rx),
            (64, 1, Rate(None), ModeArg::Auto, false)
        );
        assert_eq!(a.dst_mac, [2, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn send_options() {
        let a = parse(
            "--dev v0 --netns ns1 --size 128 --src-mac 02:aa:bb:cc:dd:ee --dst-ip 10.0.0.9 \
             --flows 16 --vary src-ip --rate 1000 --count 5 --mode afxdp --timestamp --json",
        )
        .unwrap();
        assert_eq!(a.src_mac, Some([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]));
        assert_eq!(a.dst_ip, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(
            (a.flows, a.vary, a.rate),
            (16, VaryArg::SrcIp, Rate(Some(1000)))
        );
        assert_eq!(
            (a.count, a.mode, a.timestamp, a.json),
            (Some(5), ModeArg::Afxdp, true, true)
        );
        let a = parse("--rx --dev v1 --duration 2.5 --xdp-mode generic").unwrap();
        assert!(a.rx);
        assert_eq!((a.duration, a.xdp_mode), (Some(2.5), XdpModeArg::Generic));
    }

    #[test]
    fn bad_arguments_are_clear() {
        let e = parse("--dev v0 --rate 0").unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = parse("--dev v0 --rate fast").unwrap_err();
        assert!(e.contains("not a rate"), "{e}");
        let e = parse("--dev v0 --src-mac 02:00:00:00:00").unwrap_err();
        assert!(e.contains("not a MAC address"), "{e}");
        let e = parse("--dev v0 --dst-mac 02:00:00:00:00:00:01").unwrap_err();
        assert!(e.contains("not a MAC address"), "{e}");
        let e = parse("--dev v0 --src-ip 300.1.1.1").unwrap_err();
        assert!(e.contains("--src-ip"), "{e}");
        let e = parse("--dev v0 --count 5 --duration 1").unwrap_err();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = parse("--rx --dev v0 --rate 100").unwrap_err();
        assert!(e.contains("cannot be used with"), "{e}");
        let e = parse("--dev v0 --xdp-mode native").unwrap_err();
        assert!(e.contains("--rx"), "{e}");
        let e = parse("--dev v0 --mode turbo").unwrap_err();
        assert!(e.contains("live"), "{e}");
        let e = parse("--size 64").unwrap_err();
        assert!(e.contains("--dev"), "{e}");
        let a = parse("--dev v0 --duration 0").unwrap();
        assert!(duration(&a).unwrap_err().to_string().contains("positive"));
    }
}

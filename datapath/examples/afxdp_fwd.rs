//! The bare AF_XDP forwarder the forwarding benchmark (`benches/forward.sh`) compares the switch
//! with: frames from one interface go out of another with their MAC addresses rewritten, and
//! nothing else — no parsing, no flow table. It uses the datapath's own AF_XDP ports (one
//! shared UMEM, frames handed over without a copy) and busy-polls, so the switch's cost over
//! it is the pipeline's and the worker loop's.
//!
//! Usage (root, in the namespace holding both interfaces):
//! `afxdp_fwd IN OUT DST_MAC SRC_MAC SECONDS [native|generic]`.
//! Prints one line of counters when done.

use std::time::{Duration, Instant};

use wyvern_datapath::afxdp::{AfXdpConfig, AfXdpPort, SharedUmem, XdpMode};
use wyvern_datapath::{Burst, Port};

fn mac(text: &str) -> Result<[u8; 6], String> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("MAC address {text:?}: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("MAC address {text:?}: not 6 bytes"))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rx_if, tx_if, dst, src, seconds, rest @ ..] = args.as_slice() else {
        return Err("usage: afxdp_fwd IN OUT DST_MAC SRC_MAC SECONDS [native|generic]".into());
    };
    let (dst, src) = (mac(dst)?, mac(src)?);
    let seconds: f64 = seconds.parse().map_err(|e| format!("SECONDS: {e}"))?;
    let mode = match rest.first().map(String::as_str) {
        Some("generic") => XdpMode::Generic,
        Some("native") | None => XdpMode::Native,
        Some(other) => return Err(format!("XDP mode {other:?}: native or generic")),
    };
    let umem = SharedUmem::new(2048, 2048).map_err(|e| e.to_string())?;
    let open = |iface: &str| {
        let mut cfg = AfXdpConfig::new(iface);
        cfg.mode = mode;
        cfg.umem = Some(umem.clone());
        AfXdpPort::open(&cfg).map_err(|e| e.to_string())
    };
    let (mut rx, mut tx) = (open(rx_if)?, open(tx_if)?);
    let mut burst = Burst::new(64);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut polls = 0u64;
    while !polls.is_multiple_of(1024) || Instant::now() < end {
        polls += 1;
        burst.clear();
        if rx.recv_burst(&mut burst).map_err(|e| e.to_string())? == 0 {
            continue;
        }
        for frame in burst.packets_mut() {
            let eth = frame.data_mut();
            eth[..6].copy_from_slice(&dst);
            eth[6..12].copy_from_slice(&src);
        }
        tx.send_burst(burst.packets_mut())
            .map_err(|e| e.to_string())?;
    }
    let (r, t) = (rx.counters(), tx.counters());
    println!(
        "rx {} frames, tx {} frames ({} without a copy), {} dropped on tx, {polls} polls; \
         kernel: {:?}",
        r.rx_packets,
        t.tx_packets,
        t.tx_zero_copy,
        t.tx_dropped,
        rx.kernel_stats().map_err(|e| e.to_string())?
    );
    Ok(())
}

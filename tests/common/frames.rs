//! Frames for the cross-crate pipeline tests: the blog lab's addresses, builders, and running
//! one frame through a packet worker.

use wyvern_pipeline::key::FlowKey;
use wyvern_pipeline::wire::{self, Frame, build};
use wyvern_pipeline::{EmitData, PacketMeta, RxPacket, Verdicts, Worker};

pub const VM1: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x17, 0xe6];
pub const VM2: [u8; 6] = [0xfa, 0x16, 0x3e, 0xcf, 0x4b, 0xed];
pub const R1_NET1: [u8; 6] = [0xfa, 0x16, 0x3e, 0xc0, 0x8d, 0x8b];
pub const R1_NET2: [u8; 6] = [0xfa, 0x16, 0x3e, 0xc5, 0x02, 0x4d];
pub const VM1_IP: [u8; 4] = [10, 1, 0, 5];
pub const VM2_IP: [u8; 4] = [10, 2, 0, 5];

/// Runs one frame received on `in_port` through `worker`; returns (port, bytes) per output.
pub fn run(worker: &mut Worker, in_port: u32, frame: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut buf = vec![0u8; 64 + frame.len()];
    buf[64..].copy_from_slice(frame);
    let mut out = Verdicts::default();
    let mut batch = [RxPacket {
        frame: Frame::new(&mut buf, 64, frame.len()).expect("buffer fits"),
        in_port,
        meta: PacketMeta::default(),
    }];
    worker.process(&mut batch, &mut out);
    let final_bytes = batch[0].frame.bytes().to_vec();
    out.emits
        .iter()
        .map(|e| {
            let bytes = match e.data {
                EmitData::Frame => final_bytes.clone(),
                d => out.copy_bytes(d).expect("copy in arena").to_vec(),
            };
            (e.port, bytes)
        })
        .collect()
}

/// An ICMP echo request from `src` (MAC, IP) to `dst` with this TTL.
pub fn icmp(src: ([u8; 6], [u8; 4]), dst: ([u8; 6], [u8; 4]), ttl: u8) -> Vec<u8> {
    let mut b = vec![0u8; 98];
    let spec = build::Ipv4Spec {
        src_mac: src.0,
        dst_mac: dst.0,
        src_ip: src.1,
        dst_ip: dst.1,
        ttl,
    };
    let n = build::icmp4_echo(&mut b, &spec, false, 7, 1, 56).expect("buffer fits");
    b.truncate(n);
    b
}

/// The flow key of a frame (in_port 0).
pub fn key_of(frame: &[u8]) -> FlowKey {
    let mut k = FlowKey::default();
    let _ = wire::extract(frame, 0, &mut k);
    k
}

/// A MAC address as a field value.
pub fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

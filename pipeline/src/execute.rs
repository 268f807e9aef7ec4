//! Execution: applies a [`Translation`]'s operations to one frame and records where it goes.
//!
//! Rewrites happen in place (checksums updated incrementally by [`wire`]). An output
//! records the port and the packet's tunnel metadata as an [`Emit`]; when a later operation
//! changes the frame, the bytes of the earlier outputs are first copied into the verdicts'
//! arena, so each port gets the frame as it was at its output. In the common case (rewrites,
//! then one output) nothing is copied: the datapath transmits the buffer it received.

use crossbeam::queue::ArrayQueue;

use crate::field::Field;
use crate::key::FlowKey;
use crate::normal::{MacTable, NormalDecision, flood_ports};
use crate::stats::{DropReason, WorkerCounters};
use crate::tables::PipelinePort;
use crate::translate::{DpOp, FastPath, PacketInReason, Translation};
use crate::wire::{self, Frame, Layout};

/// Fields that travel with a packet outside its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    pub tun_id: u64,
    pub tun_src: u32,
    pub tun_dst: u32,
    pub pkt_mark: u32,
    /// The TCP/UDP checksum is partial, left to the switch by a port with checksum offload:
    /// its field holds the complement of the pseudo-header sum (so incremental updates apply
    /// as to a full checksum), and the port that sends the frame completes it. A copy for the
    /// controller is completed here ([`wire::checksum::complete_partial`]).
    pub l4_checksum_partial: bool,
}

impl PacketMeta {
    /// Copies these fields into a flow key.
    #[inline]
    pub fn write_to(&self, key: &mut FlowKey) {
        key.set(Field::TunId, u128::from(self.tun_id));
        key.set(Field::TunSrc, u128::from(self.tun_src));
        key.set(Field::TunDst, u128::from(self.tun_dst));
        key.set(Field::PktMark, u128::from(self.pkt_mark));
    }

    fn set(&mut self, field: Field, value: u128) {
        match field {
            Field::TunId => self.tun_id = value as u64,
            Field::TunSrc => self.tun_src = value as u32,
            Field::TunDst => self.tun_dst = value as u32,
            Field::PktMark => self.pkt_mark = value as u32,
            _ => {}
        }
    }
}

/// Where an emitted frame's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitData {
    /// The packet's own buffer, as it is after processing.
    Frame,
    /// A copy in [`Verdicts::arena`].
    Copy { offset: u32, len: u32 },
}

/// One frame to transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emit {
    /// Index of the packet in the batch.
    pub packet: u16,
    pub port: u32,
    /// Tunnel fields for a tunnel port.
    pub meta: PacketMeta,
    pub data: EmitData,
}

/// What a batch produced: frames to transmit. Reused from batch to batch.
#[derive(Debug, Default)]
pub struct Verdicts {
    pub emits: Vec<Emit>,
    pub arena: Vec<u8>,
}

impl Verdicts {
    /// Empties the verdicts, keeping their memory.
    pub fn clear(&mut self) {
        self.emits.clear();
        self.arena.clear();
    }

    /// The bytes of an emit whose data is a copy.
    pub fn copy_bytes(&self, data: EmitData) -> Option<&[u8]> {
        match data {
            EmitData::Copy { offset, len } => {
                self.arena.get(offset as usize..(offset + len) as usize)
            }
            EmitData::Frame => None,
        }
    }
}

/// A packet for the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    pub reason: PacketInReason,
    pub table: u8,
    pub cookie: u64,
    /// The key when the packet was sent (in_port, metadata, tunnel fields, registers).
    pub key: FlowKey,
    /// Length of the whole frame.
    pub total_len: usize,
    /// The frame, truncated to the action's `max_len`.
    pub data: Vec<u8>,
}

/// What execution needs besides the packet.
pub(crate) struct ExecEnv<'a> {
    pub macs: &'a MacTable,
    pub ports: &'a [PipelinePort],
    pub packet_ins: &'a ArrayQueue<PacketIn>,
    pub counters: &'a mut WorkerCounters,
    pub now_ms: u64,
}

/// Runs `t` on one frame. The fast shape is inlined into the caller (the worker's loop); the
/// general op loop is a call.
#[inline]
pub(crate) fn execute(
    t: &Translation,
    index: u16,
    frame: &mut Frame<'_>,
    layout: &Layout,
    meta: PacketMeta,
    out: &mut Verdicts,
    env: &mut ExecEnv<'_>,
) {
    match &t.fast {
        Some(f) => execute_fast(f, index, frame, layout, meta, out),
        None => execute_ops(t, index, frame, layout, meta, out, env),
    }
}

/// [`execute`] through `t.ops`, one at a time.
#[inline(never)]
fn execute_ops(
    t: &Translation,
    index: u16,
    frame: &mut Frame<'_>,
    layout: &Layout,
    mut meta: PacketMeta,
    out: &mut Verdicts,
    env: &mut ExecEnv<'_>,
) {
    // VLAN pushes and pops move the headers: this packet's own copy.
    let mut layout = *layout;
    let first_emit = out.emits.len();
    let mut shared_from = first_emit;
    let mut delivered = false;
    for op in &t.ops {
        match op {
            // The MAC rewrites of routing flows, inline: what `wire::set_field` does for
            // these two fields (write 6 bytes at a fixed offset, no checksum), without the
            // call and its dispatch over every field.
            DpOp::SetHeader {
                field: field @ (Field::EthDst | Field::EthSrc),
                value,
            } => {
                preserve(out, &mut shared_from, frame);
                let r = if *field == Field::EthDst {
                    wire::ethernet::field::DST
                } else {
                    wire::ethernet::field::SRC
                };
                if let Some(d) = frame.bytes_mut().get_mut(r) {
                    d.copy_from_slice(&wire::ethernet::mac_bytes(*value));
                }
            }
            DpOp::SetHeader { field, value } => {
                preserve(out, &mut shared_from, frame);
                // A packet without the header (set_field on a non-IP frame) is left unchanged,
                // as Open vSwitch does.
                let _ = wire::set_field(frame.bytes_mut(), &layout, *field, *value);
            }
            DpOp::SetMeta { field, value } => meta.set(*field, *value),
            DpOp::DecTtl => {
                preserve(out, &mut shared_from, frame);
                // Translation saw TTL > 1 in the key, which came from these bytes.
                let _ = wire::dec_ttl(frame.bytes_mut(), &layout);
            }
            DpOp::PushVlan { tpid } => {
                preserve(out, &mut shared_from, frame);
                if let Ok(l) = wire::push_vlan(frame, *tpid, &layout) {
                    layout = l;
                }
            }
            DpOp::PopVlan => {
                preserve(out, &mut shared_from, frame);
                if let Ok(l) = wire::pop_vlan(frame, &layout) {
                    layout = l;
                }
            }
            DpOp::Output { port } => {
                emit(out, index, *port, meta);
                delivered = true;
            }
            DpOp::Normal {
                network,
                vlan,
                in_port,
                src,
                dst,
            } => match env
                .macs
                .decide(*network, *vlan, *src, *dst, *in_port, env.now_ms)
            {
                NormalDecision::Unicast(port) => {
                    emit(out, index, port, meta);
                    delivered = true;
                }
                NormalDecision::Flood => {
                    for port in flood_ports(env.ports, *network, *in_port) {
                        emit(out, index, port, meta);
                        delivered = true;
                    }
                }
                NormalDecision::Hairpin => {}
            },
            DpOp::Controller {
                reason,
                table,
                cookie,
                max_len,
                key,
            } => {
                let bytes = frame.bytes();
                let mut data = bytes[..bytes.len().min(usize::from(*max_len))].to_vec();
                if meta.l4_checksum_partial {
                    // Whatever the controller does with it (parse it, send it back out), the
                    // frame it gets is whole.
                    wire::checksum::complete_partial(bytes, &layout, &mut data);
                }
                let pin = PacketIn {
                    reason: *reason,
                    table: *table,
                    cookie: *cookie,
                    key: **key,
                    total_len: bytes.len(),
                    data,
                };
                if env.packet_ins.push(pin).is_ok() {
                    env.counters.packet_ins += 1;
                } else {
                    env.counters.packet_ins_dropped += 1;
                }
                delivered = true;
            }
        }
    }
    if let Some(reason) = t.drop {
        env.counters.drop(reason);
    } else if !delivered {
        env.counters.drop(DropReason::NormalHairpin);
    }
}

/// [`FastPath`]: the same effect as its ops through the loop of [`execute`] (nothing to
/// preserve before the single output, which delivers, so no drop is counted).
#[inline]
fn execute_fast(
    f: &FastPath,
    index: u16,
    frame: &mut Frame<'_>,
    layout: &Layout,
    meta: PacketMeta,
    out: &mut Verdicts,
) {
    let bytes = frame.bytes_mut();
    if f.dec_ttl {
        // Translation saw TTL > 1 in the key, which came from these bytes.
        let _ = wire::dec_ttl(bytes, layout);
    }
    for (value, r) in [
        (f.eth_src, wire::ethernet::field::SRC),
        (f.eth_dst, wire::ethernet::field::DST),
    ] {
        if let Some(v) = value
            && let Some(d) = bytes.get_mut(r)
        {
            d.copy_from_slice(&wire::ethernet::mac_bytes(v));
        }
    }
    emit(out, index, f.port, meta);
}

#[inline]
fn emit(out: &mut Verdicts, packet: u16, port: u32, meta: PacketMeta) {
    out.emits.push(Emit {
        packet,
        port,
        meta,
        data: EmitData::Frame,
    });
}

/// Before the frame changes, gives every earlier output of it its own copy.
#[inline]
fn preserve(out: &mut Verdicts, shared_from: &mut usize, frame: &Frame<'_>) {
    if *shared_from == out.emits.len() {
        return;
    }
    let bytes = frame.bytes();
    let offset = out.arena.len() as u32;
    out.arena.extend_from_slice(bytes);
    for e in &mut out.emits[*shared_from..] {
        e.data = EmitData::Copy {
            offset,
            len: bytes.len() as u32,
        };
    }
    *shared_from = out.emits.len();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;

    fn run(t: &Translation, frame_bytes: &[u8]) -> (Vec<u8>, Vec<Emit>, WorkerCounters) {
        let mut buf = vec![0u8; 64 + frame_bytes.len()];
        buf[64..].copy_from_slice(frame_bytes);
        let mut frame = Frame::new(&mut buf, 64, frame_bytes.len()).unwrap();
        let mut key = FlowKey::default();
        let layout = wire::extract(frame.bytes(), 12, &mut key).unwrap();
        let macs = MacTable::new(std::time::Duration::from_secs(300));
        let queue = ArrayQueue::new(4);
        let mut counters = WorkerCounters::default();
        let mut out = Verdicts::default();
        let mut env = ExecEnv {
            macs: &macs,
            ports: &[],
            packet_ins: &queue,
            counters: &mut counters,
            now_ms: 0,
        };
        execute(
            t,
            3,
            &mut frame,
            &layout,
            PacketMeta::default(),
            &mut out,
            &mut env,
        );
        (frame.bytes().to_vec(), out.emits, counters)
    }

    /// The fast path writes the same bytes, emits and counters as the op loop.
    #[test]
    fn fast_path_matches_the_op_loop() {
        let mut b = vec![0u8; 64];
        let spec = build::Ipv4Spec {
            src_mac: [0xfa, 0x16, 0x3e, 0xcf, 0x4b, 0xed],
            dst_mac: [0xfa, 0x16, 0x3e, 0xc5, 0x02, 0x4d],
            src_ip: [10, 2, 0, 5],
            dst_ip: [10, 1, 0, 5],
            ttl: 64,
        };
        let n = build::udp4(&mut b, &spec, 1000, 5001, 22).unwrap();
        let shapes: [&[DpOp]; 4] = [
            &[
                DpOp::DecTtl,
                DpOp::SetHeader {
                    field: Field::EthSrc,
                    value: 0xfa16_3ec5_024d,
                },
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value: 0xfa16_3e00_17e6,
                },
                DpOp::Output { port: 11 },
            ],
            &[DpOp::Output { port: 7 }],
            &[
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value: 1,
                },
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value: 2,
                },
                DpOp::Output { port: 7 },
            ],
            &[DpOp::DecTtl, DpOp::Output { port: 7 }],
        ];
        for ops in shapes {
            let fast = FastPath::of(ops);
            assert!(fast.is_some(), "{ops:?} has the fast shape");
            let mut t = Translation {
                ops: ops.to_vec(),
                fast,
                ..Translation::default()
            };
            let with_fast = run(&t, &b[..n]);
            t.fast = None;
            let without = run(&t, &b[..n]);
            assert_eq!(with_fast, without, "{ops:?}");
        }
        // Not the fast shape: a second output, a rewrite after the output, an IP rewrite,
        // dec_ttl after a rewrite, nothing at all.
        let not: [&[DpOp]; 5] = [
            &[DpOp::Output { port: 1 }, DpOp::Output { port: 2 }],
            &[
                DpOp::Output { port: 1 },
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value: 1,
                },
            ],
            &[
                DpOp::SetHeader {
                    field: Field::Ipv4Dst,
                    value: 1,
                },
                DpOp::Output { port: 1 },
            ],
            &[
                DpOp::SetHeader {
                    field: Field::EthDst,
                    value: 1,
                },
                DpOp::DecTtl,
                DpOp::Output { port: 1 },
            ],
            &[],
        ];
        for ops in not {
            assert_eq!(FastPath::of(ops), None, "{ops:?}");
        }
    }
}

//! # wyvern-datapath: packet I/O for the wyvern switch
//!
//! Ports (AF_XDP sockets on existing interfaces, TAP devices, the flow-based VXLAN tunnel port
//! and an in-memory loopback pair) behind one small trait, [`Port`], and the reusable packet
//! buffers they fill ([`PacketBuf`], [`Burst`]).
//!
//! ## Shape
//! - [`packet`]: a [`PacketBuf`] is one fixed-size buffer with headroom (≥ [`HEADROOM`] bytes in
//!   front of the frame, so a VLAN tag can be pushed or VXLAN/UDP/IP/Ethernet headers prepended
//!   in place) and per-packet metadata ([`PacketMeta`]: tunnel fields); its bytes are on the
//!   heap or in an AF_XDP UMEM frame it owns. A [`Burst`] is a preallocated vector of them that
//!   a worker reuses forever: receiving or sending never allocates per packet.
//! - [`port`]: the [`Port`] trait every port implements.
//! - [`counters`]: per-port counters, drops by named reason ([`DropReason`]).
//! - [`loopback`]: an in-memory port pair; needs no root, for pipeline tests and benches.
//! - [`tap`]: a TAP device (`IFF_TAP | IFF_NO_PI`), removed when the port is dropped; by
//!   default with virtio-net headers and checksum/TCP segmentation offload to its stack.
//! - [`afxdp`]: an AF_XDP socket bound to one queue of an existing interface (xsk-rs/libxdp);
//!   the ports of one worker share a UMEM and hand frames to each other without copying.
//! - [`vxlan`]: the flow-based VXLAN tunnel port over a UDP socket.
//! - [`offload`]: what senders' checksum and segmentation offloads leave to the device:
//!   partial checksums from a veth (AF_XDP), the virtio-net header of a TAP with offloads, and
//!   software segmentation of TCP super-frames for ports that take none.
//! - [`bridge`]: [`Bridge`], the ports and packet workers of one switch: OpenFlow port
//!   numbers, port configuration, [`PortEvent`]s, the LOCAL port, shutdown.
//! - [`workers`]: the packet worker loop (epoll or busy poll, bursts of 64 through the
//!   pipeline, lock-free hand-off between workers, injected frames).
//! - [`pktgen`]: the packet generator (XDP live frames or AF_XDP) and its counting receiver.
//!
//! ## Unsafe code
//! The crate denies `unsafe_code`; only `sys` (`socket(2)`, the interface `ioctl(2)`s the TAP
//! and AF_XDP ports need, the VXLAN socket's `setsockopt(2)`), [`afxdp`] (xsk-rs's UMEM and ring API, the UMEM frames packet buffers
//! own) and three submodules of
//! [`pktgen`] (`bpf(2)`, its own AF_XDP socket, setns and signals) opt back in, and every
//! block there says why it is sound (`// SAFETY:`).
//!
//! ## Tests
//! Unit tests (packet buffers, counters, loopback pair, VXLAN over 127.0.0.x) need no root.
//! `datapath/tests/` exercises the real thing and needs root (each test returns early
//! otherwise): TAP in a namespace answering a ping by hand, AF_XDP on veth pairs (one port
//! answering a ping; two ports sharing a UMEM plus a forwarder joining two namespaces without
//! copying), and the VXLAN port against a Linux `vxlan` device (and the zero UDP checksum it sends); and the bridge
//! (`bridge_*.rs`): NORMAL switching with ping and TCP over AF_XDP ports (on one worker: every
//! frame handed over, none copied; on two: copied) and TAP ports, VXLAN against a kernel
//! `vxlan` device with tunnel fields
//! in flows, port counters and malformed frames, ports hot-plugged under traffic, shutdown;
//! and pktgen on veth pairs (exact counts in both send modes, checksums written by the BPF
//! program, rate, receive-program detach, bad configurations).
//! Every namespace and link is named `wy<pid><tag>...` and
//! deleted by a guard, even when a test fails:
//! `CARGO_TARGET_DIR=/work/target-datapath cargo test -p wyvern-datapath`.

#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod afxdp;
pub mod bridge;
pub mod counters;
pub mod loopback;
pub mod offload;
pub mod packet;
pub mod pktgen;
pub mod port;
#[allow(unsafe_code)]
mod sys;
pub mod tap;
pub mod vxlan;
pub mod workers;

pub use bridge::{
    Bridge, BridgeConfig, BridgeError, InjectKick, OFPP_LOCAL, PortConfig, PortEvent, PortInfo,
    PortKind, PortReason, PortSpec, PortType,
};
pub use counters::{DropReason, PortCounters};
pub use packet::{Burst, HEADROOM, MAX_FRAME_LEN, PacketBuf, PacketMeta, TunnelMeta};
pub use port::{MacAddr, Port, PortError, Result};
pub use workers::WorkerStats;

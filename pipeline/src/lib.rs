//! # wyvern-pipeline: the OpenFlow 1.3 match-action engine
//!
//! This crate turns packets into verdicts. It does no I/O: the datapath hands it batches of
//! frames and gets back, per frame, the ports to send it to (or a counted drop); the OpenFlow
//! endpoint and the built-in controller change its tables through a narrow control API.
//!
//! How a packet travels:
//! 1. [`wire`] parses the frame once into a [`key::FlowKey`] (every field, fixed-width words).
//! 2. The per-worker flow cache maps a key to the actions the tables chose for it last time.
//! 3. On a miss, the tables are walked from table 0 (`goto_table`, `resubmit`, the action set),
//!    producing a flat list of datapath operations that is executed and cached.
//! 4. Executing rewrites the frame in place (checksums updated incrementally) and records
//!    outputs; `CONTROLLER` pushes a packet-in onto a bounded queue.
//!
//! The vocabulary shared with the OpenFlow codec and the flow-text syntax lives in [`field`],
//! [`key`], [`flow_match`], [`action`] and [`flow`].
#![forbid(unsafe_code)]

pub mod action;
pub mod cache;
pub mod classifier;
pub mod dvr;
pub mod execute;
pub mod field;
pub mod flow;
pub mod flow_match;
pub mod flowmod;
pub mod key;
pub mod normal;
pub mod pipeline;
pub mod rule;
pub mod stats;
pub mod tables;
pub mod text;
pub mod trace;
pub mod translate;
pub mod wire;
pub mod worker;

pub use execute::{Emit, EmitData, PacketIn, PacketMeta, Verdicts};
pub use flowmod::{
    BatchError, FlowFilter, FlowModError, FlowRemoved, PendingBatch, RemovedReason,
    SourcedBatchError,
};
pub use pipeline::{Injected, Pipeline, PipelineConfig};
pub use tables::PipelinePort;
pub use worker::{RxPacket, Worker};

//! Consecutive FLOW_MODs of one connection, applied to the pipeline as one batch.
//!
//! `ovs-ofctl add-flows`, `wyvern add-flows` and controllers that program many flows send
//! FLOW_MODs back to back. Applying each on its own publishes the tables once per message;
//! [`FlowModBatch`] instead collects the FLOW_MODs that arrive together (one read of the
//! socket, up to [`MAX_BATCH`]) and applies them with one [`Pipeline::apply`] call.
//!
//! What a controller sees does not change, because each FLOW_MOD is still its own
//! transaction:
//! - the handler flushes the batch before it handles any other message, so a BARRIER_REPLY,
//!   a statistics reply or a packet-out still comes after every earlier flow mod took effect;
//! - a batch is all or nothing, so when one mod fails, the mods before it are applied again
//!   without it, its error is sent, and the batch goes on after it: every mod that would
//!   have succeeded alone succeeds, in order, and every error carries its own request;
//! - errors are sent in the order of the requests.
//!
//! [`Pipeline::apply`]: wyvern_pipeline::Pipeline::apply

use wyvern_pipeline::flow::FlowMod;

use crate::endpoint::Switch;
use crate::error::{BadRequestCode, OfError};
use crate::msg::flow::NO_BUFFER;

/// The most flow mods applied in one batch.
pub(crate) const MAX_BATCH: usize = 1024;

/// How many bytes of a request an error echoes (OpenFlow 1.3.5 §7.4.4: "at least 64 bytes").
const ECHO_LEN: usize = 64;

/// What an error about a queued flow mod needs: its xid, buffer id and first bytes.
#[derive(Debug)]
struct Request {
    xid: u32,
    buffer_id: u32,
    head: [u8; ECHO_LEN],
    head_len: u8,
}

impl Request {
    fn head(&self) -> &[u8] {
        &self.head[..usize::from(self.head_len)]
    }
}

/// FLOW_MODs read but not applied yet, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct FlowModBatch {
    mods: Vec<FlowMod>,
    requests: Vec<Request>,
}

impl FlowModBatch {
    /// True when nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.mods.is_empty()
    }

    /// True when the batch should be applied before another mod is added.
    pub(crate) fn is_full(&self) -> bool {
        self.mods.len() >= MAX_BATCH
    }

    /// Queues one decoded FLOW_MOD (already translated for the pipeline) and the request
    /// bytes its error would echo.
    pub(crate) fn push(&mut self, flow_mod: FlowMod, xid: u32, buffer_id: u32, frame: &[u8]) {
        let n = frame.len().min(ECHO_LEN);
        let mut head = [0u8; ECHO_LEN];
        head[..n].copy_from_slice(&frame[..n]);
        self.mods.push(flow_mod);
        self.requests.push(Request {
            xid,
            buffer_id,
            head,
            head_len: n as u8,
        });
    }

    /// Applies everything queued, and calls `error` for each mod that failed (and each one
    /// applied with a buffer id, which wyvern never has), in request order.
    pub(crate) fn flush(&mut self, switch: &Switch, mut error: impl FnMut(u32, OfError, &[u8])) {
        let (mods, requests) = (&self.mods, &self.requests);
        let mut start = 0;
        while start < mods.len() {
            // Shrink the batch to the part before its first failing mod until it applies.
            let mut end = mods.len();
            let mut failed = None;
            while end > start {
                match switch.apply(&mods[start..end]) {
                    Ok(()) => break,
                    Err((i, e)) => {
                        failed = Some((start + i, e));
                        end = start + i;
                    }
                }
            }
            // OpenFlow 1.3.5 §7.3.4.2: a buffer_id other than OFP_NO_BUFFER names a packet to
            // run through the new flow; wyvern buffers none, so the flow stays and that part
            // fails.
            for r in requests[start..end]
                .iter()
                .filter(|r| r.buffer_id != NO_BUFFER)
            {
                error(
                    r.xid,
                    OfError::BadRequest(BadRequestCode::BufferUnknown),
                    r.head(),
                );
            }
            start = match failed {
                Some((k, e)) => {
                    error(requests[k].xid, e, requests[k].head());
                    k + 1
                }
                None => end,
            };
        }
        self.mods.clear();
        self.requests.clear();
    }
}

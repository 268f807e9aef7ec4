//! # wyvern-ofproto: the OpenFlow 1.3 endpoint
//!
//! Decodes OpenFlow 1.3 messages (plus the Nicira and ONF extensions real tools send) into
//! version-free structs, serves connections from controllers and `ovs-ofctl`, and applies what
//! they ask to the pipeline through its control API.
#![forbid(unsafe_code)]

//! # wyvern-datapath: packet I/O for the wyvern switch
//!
//! Ports (AF_XDP sockets on existing interfaces, TAP devices, the flow-based VXLAN tunnel port
//! and the bridge's LOCAL port) and the packet workers that poll them: receive a burst, run it
//! through the pipeline as one batch, transmit the verdicts in bursts.

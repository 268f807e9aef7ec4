//! The ports the endpoint reports and changes, behind one small trait.
//!
//! The OpenFlow endpoint does not own ports: the datapath bridge does. [`PortProvider`] is all
//! the endpoint needs from it — descriptions (PORT_DESC, FEATURES), counters (PORT_STATS),
//! PORT_MOD, and a stream of PORT_STATUS events it forwards to controllers. [`NoPorts`] is the
//! empty provider `wyvern run` uses until the datapath is wired in.

use crossbeam::channel::{Receiver, Sender, unbounded};

use crate::error::{OfError, PortModFailedCode};
use crate::msg::multipart::PortStats;
use crate::msg::{PortDesc, PortMod, PortStatus};

/// What the endpoint needs from whoever owns the switch's ports.
pub trait PortProvider: Send + Sync {
    /// Every port, for PORT_DESC (sorted or not: `ovs-ofctl` sorts).
    fn descs(&self) -> Vec<PortDesc>;
    /// Counters of one port (`Some(no)`) or of every port (`None`, OFPP_ANY).
    fn stats(&self, port: Option<u32>) -> Vec<PortStats>;
    /// Applies OFPT_PORT_MOD; the error is sent back to the controller as is.
    fn port_mod(&self, m: &PortMod) -> Result<(), OfError>;
    /// Port additions, deletions and changes, as they happen. Called once, by the endpoint's
    /// control thread.
    fn events(&self) -> Receiver<PortStatus>;
}

/// A switch without ports: empty descriptions and statistics, PORT_MOD refused with
/// OFPPMFC_BAD_PORT, and no events.
#[derive(Debug)]
pub struct NoPorts {
    // Kept so that the receiver never reports a disconnected channel.
    _tx: Sender<PortStatus>,
    rx: Receiver<PortStatus>,
}

impl NoPorts {
    pub fn new() -> Self {
        let (tx, rx) = unbounded();
        NoPorts { _tx: tx, rx }
    }
}

impl Default for NoPorts {
    fn default() -> Self {
        Self::new()
    }
}

impl PortProvider for NoPorts {
    fn descs(&self) -> Vec<PortDesc> {
        Vec::new()
    }

    fn stats(&self, _port: Option<u32>) -> Vec<PortStats> {
        Vec::new()
    }

    fn port_mod(&self, _m: &PortMod) -> Result<(), OfError> {
        Err(OfError::PortModFailed(PortModFailedCode::BadPort))
    }

    fn events(&self) -> Receiver<PortStatus> {
        self.rx.clone()
    }
}

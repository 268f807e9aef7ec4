//! What the process that embeds the endpoint plugs into it.
//!
//! The endpoint speaks OpenFlow and owns connections; everything else comes from outside,
//! through [`Services`]:
//! - the [`PortProvider`]: who owns the switch's ports (the datapath bridge in `wyvern run`);
//! - an [`AdminHandler`]: the commands `ovs-appctl` and `ovs-vsctl` run against Open vSwitch
//!   (`trace`, `add-port`, `del-port`, `topology apply`), carried as wyvern admin experimenter
//!   messages ([`crate::msg::experimenter::WYVERN_EXPERIMENTER`]) on any OpenFlow connection;
//! - a [`PacketInHook`]: an in-process controller (the built-in DVR controller) that sees every
//!   packet-in first and keeps the ones it handles from the OpenFlow controllers.

use std::sync::Arc;

use wyvern_pipeline::PacketIn;

use crate::ports::{NoPorts, PortProvider};

/// Who asks for an admin command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminCaller {
    /// The connection is a slave controller: it may read, not change anything.
    pub read_only: bool,
}

/// Runs admin commands. Called on the requesting connection's thread: a slow command delays
/// that connection only.
pub trait AdminHandler: Send + Sync {
    /// Runs `words` (`["trace", "in_port=1,arp"]`, say); the text is the command's output, or
    /// on failure what was wrong and what to do.
    fn run(&self, caller: AdminCaller, words: &[String]) -> Result<String, String>;
}

/// An in-process controller that sees packet-ins before the OpenFlow connections do.
pub trait PacketInHook: Send {
    /// Handles one packet-in; true when it was handled and must not go to controllers.
    fn packet_in(&mut self, p: &PacketIn) -> bool;
}

/// The endpoint's collaborators (see the module documentation).
pub struct Services {
    pub ports: Arc<dyn PortProvider>,
    pub admin: Option<Arc<dyn AdminHandler>>,
    pub packet_in_hook: Option<Box<dyn PacketInHook>>,
}

impl Services {
    /// Services with these ports, no admin commands and no in-process controller.
    pub fn with_ports(ports: Arc<dyn PortProvider>) -> Self {
        Services {
            ports,
            admin: None,
            packet_in_hook: None,
        }
    }
}

impl Default for Services {
    /// No ports, no admin commands, no in-process controller.
    fn default() -> Self {
        Services::with_ports(Arc::new(NoPorts::new()))
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("admin", &self.admin.is_some())
            .field("packet_in_hook", &self.packet_in_hook.is_some())
            .finish_non_exhaustive()
    }
}

//! The built-in distributed virtual router: the Dragonflow pipeline, built from a topology.
//!
//! [`topology`] holds the model (chassis, networks, routers, ports) and its validation.
//! [`Stage`] declares every table of the pipeline once, with its number and purpose; nothing
//! else in wyvern writes a DVR table number.

pub mod compile;
pub mod controller;
mod routes;
pub mod topology;

/// One table of the DVR pipeline (the numbers Dragonflow's blog-era `br-int` used).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Port classification: a packet from a local VM port gets its network's segmentation id
    /// in `metadata` and goes to [`Stage::Classifier`]; from the tunnel port, `tun_id` selects
    /// the network the same way.
    PortClassification,
    /// The canary: a priority-0 drop. Controllers check it is present to detect a switch
    /// that restarted and lost its flows.
    Canary,
    /// Broadcast and multicast to L2, ARP to [`Stage::ArpResponder`], the rest to
    /// [`Stage::EastWest`].
    Classifier,
    /// Answers ARP requests for router interface addresses in place, out the in-port.
    ArpResponder,
    /// Routing between subnets: same subnet stays L2; a new host pair goes to the controller,
    /// which installs one flow per direction here at priority 100.
    EastWest,
    /// North-south traffic (to external networks).
    NorthSouth,
    /// Towards other nodes over the tunnel.
    Tunnel,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::PortClassification,
        Stage::Canary,
        Stage::Classifier,
        Stage::ArpResponder,
        Stage::EastWest,
        Stage::NorthSouth,
        Stage::Tunnel,
    ];

    /// The OpenFlow table number.
    pub const fn table(self) -> crate::action::TableId {
        match self {
            Stage::PortClassification => 0,
            Stage::Canary => 23,
            Stage::Classifier => 40,
            Stage::ArpResponder => 51,
            Stage::EastWest => 52,
            Stage::NorthSouth => 53,
            Stage::Tunnel => 60,
        }
    }

    /// A short name for logs and table features.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::PortClassification => "port_classification",
            Stage::Canary => "canary",
            Stage::Classifier => "classifier",
            Stage::ArpResponder => "arp_responder",
            Stage::EastWest => "l3_east_west",
            Stage::NorthSouth => "l3_north_south",
            Stage::Tunnel => "tunnel",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_in_table_order_and_distinct() {
        let tables: Vec<u8> = Stage::ALL.iter().map(|s| s.table()).collect();
        let mut sorted = tables.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(tables, sorted);
    }
}

//! NORMAL: a learning switch scoped to the packet's network.
//!
//! The MAC table is keyed by (network, VLAN, MAC), where the network is the packet's
//! `metadata` when NORMAL runs (what table 0 wrote for its in-port; 0 when nothing classified
//! it). A frame is flooded only to ports of the same network (see
//! [`PipelinePort::network`](crate::tables::PipelinePort)) and never back out of its in-port;
//! two networks that contain the same MAC never see each other's frames. Entries age out after
//! [`DEFAULT_MAC_AGING`] unless refreshed.
//!
//! The table is shared by all workers: it is split into shards behind short `RwLock`s that
//! only packet workers (and the ager, briefly) take. A known source on the same port is not
//! rewritten more than once a second, so steady traffic only takes read locks.

use std::sync::RwLock;
use std::time::Duration;

use hashbrown::HashMap;

use crate::tables::PipelinePort;

/// How long a learned MAC stays without traffic (the 802.1D and OVS default).
pub const DEFAULT_MAC_AGING: Duration = Duration::from_secs(300);

const SHARDS: usize = 16;
const REFRESH_MS: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MacKey {
    network: u64,
    vlan: u16,
    mac: u64,
}

#[derive(Clone, Copy, Debug)]
struct MacEntry {
    port: u32,
    seen_ms: u64,
}

/// Where NORMAL sends a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormalDecision {
    /// The destination is known behind this port.
    Unicast(u32),
    /// The destination is behind the in-port: nothing to send.
    Hairpin,
    /// Unknown, broadcast or multicast destination: flood within the network.
    Flood,
}

/// The learned MAC addresses of every network.
#[derive(Debug)]
pub struct MacTable {
    shards: Box<[RwLock<HashMap<MacKey, MacEntry>>]>,
    aging_ms: u64,
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable::new(DEFAULT_MAC_AGING)
    }
}

fn is_multicast(mac: u64) -> bool {
    mac & 0x0100_0000_0000 != 0
}

impl MacTable {
    /// An empty table whose entries age out after `aging`.
    pub fn new(aging: Duration) -> Self {
        MacTable {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            aging_ms: aging.as_millis() as u64,
        }
    }

    fn shard(&self, key: &MacKey) -> &RwLock<HashMap<MacKey, MacEntry>> {
        let h = (key.mac ^ key.network.rotate_left(17) ^ u64::from(key.vlan))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(h >> 60) as usize % SHARDS]
    }

    /// Learns `src` behind `in_port` and decides where a frame to `dst` goes.
    pub fn decide(
        &self,
        network: u64,
        vlan: u16,
        src: u64,
        dst: u64,
        in_port: u32,
        now_ms: u64,
    ) -> NormalDecision {
        self.learn(network, vlan, src, in_port, now_ms);
        if is_multicast(dst) {
            return NormalDecision::Flood;
        }
        match self.lookup(network, vlan, dst, now_ms) {
            Some(p) if p == in_port => NormalDecision::Hairpin,
            Some(p) => NormalDecision::Unicast(p),
            None => NormalDecision::Flood,
        }
    }

    fn learn(&self, network: u64, vlan: u16, mac: u64, port: u32, now_ms: u64) {
        if is_multicast(mac) {
            return;
        }
        let key = MacKey { network, vlan, mac };
        let shard = self.shard(&key);
        let fresh = shard
            .read()
            .ok()
            .and_then(|m| m.get(&key).copied())
            .is_some_and(|e| e.port == port && now_ms.saturating_sub(e.seen_ms) < REFRESH_MS);
        if !fresh && let Ok(mut m) = shard.write() {
            m.insert(
                key,
                MacEntry {
                    port,
                    seen_ms: now_ms,
                },
            );
        }
    }

    /// The port `mac` was last seen on in this network, if still fresh.
    pub fn lookup(&self, network: u64, vlan: u16, mac: u64, now_ms: u64) -> Option<u32> {
        let key = MacKey { network, vlan, mac };
        let e = self.shard(&key).read().ok()?.get(&key).copied()?;
        (now_ms.saturating_sub(e.seen_ms) < self.aging_ms).then_some(e.port)
    }

    /// Drops entries older than the aging time. Returns how many were removed.
    pub fn age(&self, now_ms: u64) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            if let Ok(mut m) = shard.write() {
                let before = m.len();
                m.retain(|_, e| now_ms.saturating_sub(e.seen_ms) < self.aging_ms);
                removed += before - m.len();
            }
        }
        removed
    }

    /// Forgets every address learned on `port` (the port went away).
    pub fn flush_port(&self, port: u32) {
        for shard in self.shards.iter() {
            if let Ok(mut m) = shard.write() {
                m.retain(|_, e| e.port != port);
            }
        }
    }

    /// Number of learned addresses.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map_or(0, |m| m.len()))
            .sum()
    }

    /// True when nothing is learned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The ports a flood in `network` from `in_port` reaches.
pub fn flood_ports(
    ports: &[PipelinePort],
    network: u64,
    in_port: u32,
) -> impl Iterator<Item = u32> + '_ {
    ports
        .iter()
        .filter(move |p| p.network == network && p.no != in_port && !p.no_flood && !p.down)
        .map(|p| p.no)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u64 = 0xfa16_3e00_0001;
    const B: u64 = 0xfa16_3e00_0002;
    const BCAST: u64 = 0xffff_ffff_ffff;

    #[test]
    fn learns_and_forwards_within_a_network() {
        let t = MacTable::default();
        assert_eq!(t.decide(7, 0, A, B, 1, 0), NormalDecision::Flood);
        assert_eq!(t.decide(7, 0, B, A, 2, 10), NormalDecision::Unicast(1));
        assert_eq!(t.decide(7, 0, A, B, 1, 20), NormalDecision::Unicast(2));
        assert_eq!(t.decide(7, 0, A, BCAST, 1, 30), NormalDecision::Flood);
        assert_eq!(
            t.decide(7, 0, B, A, 1, 40),
            NormalDecision::Hairpin,
            "A is behind port 1"
        );
    }

    #[test]
    fn networks_do_not_share_macs() {
        let t = MacTable::default();
        t.decide(7, 0, A, BCAST, 1, 0);
        // The same MAC in network 8 is unknown there.
        assert_eq!(t.decide(8, 0, B, A, 5, 0), NormalDecision::Flood);
        assert_eq!(t.lookup(8, 0, A, 0), None);
        assert_eq!(t.lookup(7, 0, A, 0), Some(1));
    }

    #[test]
    fn entries_age_and_ports_flush() {
        let t = MacTable::new(Duration::from_secs(300));
        t.decide(7, 0, A, BCAST, 1, 0);
        assert_eq!(t.lookup(7, 0, A, 299_999), Some(1));
        assert_eq!(t.lookup(7, 0, A, 300_000), None);
        assert_eq!(t.age(300_000), 1);
        t.decide(7, 0, B, BCAST, 2, 0);
        t.flush_port(2);
        assert!(t.is_empty());
    }

    #[test]
    fn flood_stays_in_network_and_skips_in_port() {
        let p = |no, network| PipelinePort {
            no,
            network,
            no_flood: false,
            down: false,
        };
        let ports = [p(1, 7), p(2, 7), p(3, 8), p(4, 7)];
        assert_eq!(flood_ports(&ports, 7, 1).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(flood_ports(&ports, 8, 1).collect::<Vec<_>>(), vec![3]);
    }
}

//! The generated frame: a UDP/IPv4 template built by [`wyvern_pipeline::wire::build::udp4`],
//! the pktgen payload marker, and the per-packet rewrite (flow field, timestamp, checksums).
//!
//! ## Layout
//! ```text
//!  0..14  Ethernet (dst, src, 0x0800)
//! 14..34  IPv4, no options (src IP bytes 26..30, checksum 24..26)
//! 34..42  UDP (source port 34..36, checksum 40..42)
//! 42..46  marker b"WYPG": the receive program counts frames carrying it apart
//! 46..54  send timestamp: CLOCK_MONOTONIC nanoseconds in host byte order, 0 if not stamped
//! 54..    udp4's payload pattern
//! ```
//!
//! ## The per-packet rewrite
//! A flow is one value of a 16-bit *flow field*: the UDP source port, or the last two bytes of
//! the source IP. Frame `i` of a run carries `base + i % flows` there. The checksums are then
//! `!fold(partial + field + stamp)`, where `partial` is the ones' complement sum of everything
//! else the checksum covers (computed once here, with the flow field, the stamp and the
//! checksum zeroed) and `stamp` the sum of the timestamp's four 16-bit words. Sums are taken
//! over 16-bit words loaded in *host* order, which RFC 1071 §2(B) allows (the sum is
//! byte-order independent): the BPF program can then add registers exactly as it stores them,
//! and [`Template::write`] (the AF_XDP path and the tests) does the same arithmetic.

use std::net::Ipv4Addr;

use wyvern_pipeline::wire::build::{Ipv4Spec, udp4};

use super::PktgenError;

/// Bytes 42..46 of every generated frame.
pub const MARKER: [u8; 4] = *b"WYPG";
/// Offset of [`MARKER`].
pub const MARKER_OFF: usize = 42;
/// Offset of the 8-byte timestamp.
pub const STAMP_OFF: usize = 46;
/// Offset of the IPv4 header checksum.
pub const IP_CSUM_OFF: usize = 24;
/// Offset of the UDP checksum.
pub const UDP_CSUM_OFF: usize = 40;
/// Offset of the UDP source port.
pub const SPORT_OFF: usize = 34;
/// Offset of the last two bytes of the source IP.
pub const SRC_IP_LO_OFF: usize = 28;
/// The smallest frame: the Ethernet minimum without FCS (60) holds the marker and stamp.
pub const MIN_SIZE: usize = 60;
/// The largest frame: a 1500-byte MTU plus the Ethernet header.
pub const MAX_SIZE: usize = 1514;
/// The bytes the BPF program rewrites from the template on every packet (a multiple of 8).
pub const RESTORE_LEN: usize = 56;

const ETH_IP_LEN: usize = 34;

/// Which field carries the flow number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vary {
    /// The UDP source port.
    SrcPort,
    /// The last two bytes of the source IPv4 address.
    SrcIp,
}

/// What to send: addresses, ports, size and flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    /// Frame length without FCS, [`MIN_SIZE`]..=[`MAX_SIZE`].
    pub size: usize,
    /// Number of flows (distinct values of the flow field), at least 1.
    pub flows: u32,
    /// Which field varies over the flows.
    pub vary: Vary,
}

impl Default for FrameSpec {
    /// 60 bytes, one flow, 198.18.0.1:1024 → 198.18.0.2:9 (RFC 2544 benchmarking addresses,
    /// the discard port), 02:00:00:00:00:01 → 02:00:00:00:00:02.
    fn default() -> Self {
        FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: Ipv4Addr::new(198, 18, 0, 1),
            dst_ip: Ipv4Addr::new(198, 18, 0, 2),
            sport: 1024,
            dport: 9,
            size: MIN_SIZE,
            flows: 1,
            vary: Vary::SrcPort,
        }
    }
}

/// A built frame and what it takes to rewrite it for any flow and stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The frame of flow 0, unstamped, checksums right.
    pub bytes: Vec<u8>,
    /// Offset of the flow field.
    pub field_off: usize,
    /// Value of the flow field for flow 0.
    pub base: u16,
    pub flows: u32,
    /// Whether the flow field is in the IPv4 header (so its checksum changes too).
    pub field_in_ip: bool,
    /// Folded host-order sum of the IPv4 header without checksum and flow field.
    pub ip_partial: u16,
    /// Folded host-order sum of pseudo-header and UDP segment without checksum, flow field
    /// and stamp.
    pub udp_partial: u16,
}

/// Host-order ones' complement sum of `data` (odd tail padded with a zero byte), unfolded.
fn sum_ne(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_ne_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The host-order word a big-endian 16-bit field value is stored as.
pub fn field_word(value: u16) -> u16 {
    u16::from_ne_bytes(value.to_be_bytes())
}

/// Sum of the four host-order 16-bit words of a stamp stored in host byte order.
pub fn stamp_sum(stamp: u64) -> u64 {
    sum_ne(&stamp.to_ne_bytes(), 0)
}

impl Template {
    /// Build the frame of `spec`, checking sizes and that every flow fits the 16-bit field.
    pub fn new(spec: &FrameSpec) -> Result<Template, PktgenError> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&spec.size) {
            return Err(PktgenError::BadSize(spec.size));
        }
        if spec.flows == 0 || spec.flows > 65536 {
            return Err(PktgenError::BadFlows(format!(
                "--flows must be 1..=65536, not {}",
                spec.flows
            )));
        }
        let src = spec.src_ip.octets();
        let (field_off, base) = match spec.vary {
            Vary::SrcPort => (SPORT_OFF, spec.sport),
            Vary::SrcIp => (SRC_IP_LO_OFF, u16::from_be_bytes([src[2], src[3]])),
        };
        if u32::from(base) + (spec.flows - 1) > 0xffff {
            let what = match spec.vary {
                Vary::SrcPort => format!("source port {base}"),
                Vary::SrcIp => format!("source IP {} (last two bytes: {base})", spec.src_ip),
            };
            return Err(PktgenError::BadFlows(format!(
                "{} flows from {what} would wrap past 65535",
                spec.flows
            )));
        }
        let mut bytes = vec![0; spec.size];
        let ip = Ipv4Spec {
            src_mac: spec.src_mac,
            dst_mac: spec.dst_mac,
            src_ip: src,
            dst_ip: spec.dst_ip.octets(),
            ttl: 64,
        };
        let len = udp4(
            &mut bytes,
            &ip,
            spec.sport,
            spec.dport,
            spec.size - MARKER_OFF,
        )
        .ok_or(PktgenError::BadSize(spec.size))?;
        debug_assert_eq!(len, spec.size);
        bytes[MARKER_OFF..STAMP_OFF].copy_from_slice(&MARKER);
        bytes[STAMP_OFF..STAMP_OFF + 8].fill(0);

        // Partial sums with the checksums, the flow field and the stamp zeroed.
        let mut z = bytes.clone();
        z[IP_CSUM_OFF..IP_CSUM_OFF + 2].fill(0);
        z[UDP_CSUM_OFF..UDP_CSUM_OFF + 2].fill(0);
        z[field_off..field_off + 2].fill(0);
        let ip_partial = fold(sum_ne(&z[14..ETH_IP_LEN], 0));
        let udp_len = (spec.size - ETH_IP_LEN) as u16;
        let pseudo = sum_ne(&z[26..34], 0)
            + u64::from(u16::from_ne_bytes([0, 17]))
            + u64::from(field_word(udp_len));
        let udp_partial = fold(sum_ne(&z[ETH_IP_LEN..], pseudo));

        let mut t = Template {
            bytes,
            field_off,
            base,
            flows: spec.flows,
            field_in_ip: spec.vary == Vary::SrcIp,
            ip_partial,
            udp_partial,
        };
        let mut frame = t.bytes.clone();
        t.write(&mut frame, 0, 0);
        t.bytes = frame;
        Ok(t)
    }

    /// Frame length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a template is at least [`MIN_SIZE`] bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Rewrite `frame` (a copy of [`Template::bytes`]) for packet number `seq` and `stamp`:
    /// flow field, timestamp and checksums. Exactly what the live-frames BPF program does.
    pub fn write(&self, frame: &mut [u8], seq: u64, stamp: u64) {
        let value = self.base + (seq % u64::from(self.flows)) as u16;
        let word = u64::from(field_word(value));
        frame[self.field_off..self.field_off + 2].copy_from_slice(&value.to_be_bytes());
        frame[STAMP_OFF..STAMP_OFF + 8].copy_from_slice(&stamp.to_ne_bytes());
        if self.field_in_ip {
            let c = !fold(u64::from(self.ip_partial) + word);
            frame[IP_CSUM_OFF..IP_CSUM_OFF + 2].copy_from_slice(&c.to_ne_bytes());
        }
        let c = match !fold(u64::from(self.udp_partial) + word + stamp_sum(stamp)) {
            0 => 0xffff,
            c => c,
        };
        frame[UDP_CSUM_OFF..UDP_CSUM_OFF + 2].copy_from_slice(&c.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wyvern_pipeline::wire::checksum::{pseudo_header_v4, verifies};

    /// Both checksums verify, independently of the host-order arithmetic above.
    fn assert_valid(f: &[u8]) {
        assert!(verifies(&f[14..34], 0), "IPv4 checksum");
        let src: [u8; 4] = f[26..30].try_into().unwrap();
        let dst: [u8; 4] = f[30..34].try_into().unwrap();
        let seg = &f[34..];
        let ph = pseudo_header_v4(src, dst, 17, seg.len() as u16);
        assert!(verifies(seg, ph), "UDP checksum");
    }

    #[test]
    fn template_matches_udp4_apart_from_the_marker() {
        let spec = FrameSpec::default();
        let t = Template::new(&spec).unwrap();
        assert_eq!(t.len(), 60);
        assert_valid(&t.bytes);
        assert_eq!(&t.bytes[42..46], b"WYPG");
        assert_eq!(&t.bytes[46..54], &[0; 8]);
        // Headers are udp4's but for the UDP checksum.
        let mut reference = vec![0; 60];
        let ip = Ipv4Spec {
            src_mac: spec.src_mac,
            dst_mac: spec.dst_mac,
            src_ip: spec.src_ip.octets(),
            dst_ip: spec.dst_ip.octets(),
            ttl: 64,
        };
        udp4(&mut reference, &ip, 1024, 9, 18).unwrap();
        assert_eq!(t.bytes[..40], reference[..40]);
        assert_eq!(t.bytes[54..], reference[54..]);
    }

    #[test]
    fn every_flow_and_stamp_gives_valid_checksums() {
        for vary in [Vary::SrcPort, Vary::SrcIp] {
            for size in [60, 61, 64, 1514] {
                let spec = FrameSpec {
                    size,
                    flows: 300,
                    vary,
                    src_ip: Ipv4Addr::new(10, 1, 0xfe, 0x00),
                    sport: 65000 - 300,
                    ..FrameSpec::default()
                };
                let t = Template::new(&spec).unwrap();
                let mut seen = std::collections::HashSet::new();
                for seq in [0u64, 1, 2, 255, 299, 300, 301, 1 << 40] {
                    for stamp in [0u64, 1, 0xffff_ffff_ffff_ffff, 0x0123_4567_89ab_cdef] {
                        let mut f = t.bytes.clone();
                        t.write(&mut f, seq, stamp);
                        assert_valid(&f);
                        assert_eq!(f[46..54], stamp.to_ne_bytes());
                        let field = u16::from_be_bytes([f[t.field_off], f[t.field_off + 1]]);
                        assert_eq!(u64::from(field - t.base), seq % 300);
                        seen.insert(field);
                    }
                }
                assert_eq!(seen.len(), 6);
            }
        }
    }

    #[test]
    fn rejects_bad_sizes_and_flows() {
        let bad = |spec: FrameSpec| Template::new(&spec).unwrap_err().to_string();
        assert!(
            bad(FrameSpec {
                size: 59,
                ..FrameSpec::default()
            })
            .contains("59")
        );
        assert!(
            bad(FrameSpec {
                size: 1515,
                ..FrameSpec::default()
            })
            .contains("1515")
        );
        assert!(
            bad(FrameSpec {
                flows: 0,
                ..FrameSpec::default()
            })
            .contains("--flows")
        );
        let e = bad(FrameSpec {
            sport: 65000,
            flows: 537,
            ..FrameSpec::default()
        });
        assert!(e.contains("wrap"), "{e}");
        let e = bad(FrameSpec {
            src_ip: Ipv4Addr::new(10, 0, 255, 255),
            flows: 2,
            vary: Vary::SrcIp,
            ..FrameSpec::default()
        });
        assert!(e.contains("10.0.255.255"), "{e}");
        // Exactly up to 65535 is fine.
        Template::new(&FrameSpec {
            sport: 65000,
            flows: 536,
            ..FrameSpec::default()
        })
        .unwrap();
    }
}

//! A flow's match: fields with values and masks, checked against OpenFlow 1.3's rules.
//!
//! A [`Match`] keeps its fields in the order they were given, so that whoever installed a flow
//! gets the same match back (OpenFlow flow stats, `dump-flows`). [`Match::to_masked_key`] turns
//! it into the value/mask pair of flow keys that the classifier works with. Building a match
//! never panics: a value wider than its field, bits set outside the mask, a mask on a field
//! that cannot be masked, a field given twice, or a missing prerequisite are [`MatchError`]s.

use thiserror::Error;

use crate::field::{Field, Prerequisite, VLAN_PRESENT};
use crate::key::FlowKey;

/// One matched field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldMatch {
    pub field: Field,
    pub value: u128,
    /// All ones over the field's width for an exact match.
    pub mask: u128,
}

impl FieldMatch {
    /// True when every bit of the field is matched.
    pub fn is_exact(&self) -> bool {
        self.mask == self.field.full_mask()
    }
}

/// Why a match is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MatchError {
    /// The value is wider than the field.
    #[error("value {value:#x} does not fit the {bits}-bit field {}", field.info().match_name)]
    ValueTooWide {
        field: Field,
        value: u128,
        bits: u16,
    },
    /// The value has bits set that the mask does not cover.
    #[error("{}: value {value:#x} sets bits outside mask {mask:#x}", field.info().match_name)]
    ValueOutsideMask {
        field: Field,
        value: u128,
        mask: u128,
    },
    /// OpenFlow 1.3 does not allow a mask on this field.
    #[error("{} cannot be masked", field.info().match_name)]
    NotMaskable { field: Field },
    /// The field appears twice.
    #[error("{} is matched twice", field.info().match_name)]
    Duplicate { field: Field },
    /// The field needs another field matched first (OpenFlow 1.3.5 table 12).
    #[error("{} requires {needs}", field.info().match_name)]
    Prerequisite { field: Field, needs: &'static str },
}

/// The fields a flow matches, in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Match {
    fields: Vec<FieldMatch>,
}

impl Match {
    /// The empty match (matches every packet).
    pub fn new() -> Self {
        Match::default()
    }

    /// The empty match, with room for `fields` fields.
    pub fn with_capacity(fields: usize) -> Self {
        Match {
            fields: Vec::with_capacity(fields),
        }
    }

    /// Adds an exact match on `field`.
    pub fn exact(mut self, field: Field, value: u128) -> Result<Self, MatchError> {
        self.push(field, value, field.full_mask())?;
        Ok(self)
    }

    /// Adds a masked match on `field`.
    pub fn masked(mut self, field: Field, value: u128, mask: u128) -> Result<Self, MatchError> {
        self.push(field, value, mask)?;
        Ok(self)
    }

    /// Appends one field; the match as a whole is checked by [`Match::validate`].
    pub fn push(&mut self, field: Field, value: u128, mask: u128) -> Result<(), MatchError> {
        let full = field.full_mask();
        let bits = field.bits();
        if value & !full != 0 {
            return Err(MatchError::ValueTooWide { field, value, bits });
        }
        if mask & !full != 0 {
            return Err(MatchError::ValueTooWide {
                field,
                value: mask,
                bits,
            });
        }
        if value & !mask != 0 {
            return Err(MatchError::ValueOutsideMask { field, value, mask });
        }
        if mask != full && !field.info().maskable {
            return Err(MatchError::NotMaskable { field });
        }
        if self.get(field).is_some() {
            return Err(MatchError::Duplicate { field });
        }
        if mask != 0 {
            self.fields.push(FieldMatch { field, value, mask });
        }
        Ok(())
    }

    /// Checks every prerequisite.
    pub fn validate(&self) -> Result<(), MatchError> {
        for fm in &self.fields {
            self.check_prerequisite(fm.field)?;
        }
        Ok(())
    }

    fn check_prerequisite(&self, field: Field) -> Result<(), MatchError> {
        let exact = |f: Field| self.get(f).filter(|m| m.is_exact()).map(|m| m.value);
        let eth_in = |types: &[u16]| {
            exact(Field::EthType).is_some_and(|t| types.iter().any(|&x| u128::from(x) == t))
        };
        match field.info().prerequisite {
            Prerequisite::None => Ok(()),
            Prerequisite::EthType(types) if eth_in(types) => Ok(()),
            Prerequisite::EthType(types) => Err(MatchError::Prerequisite {
                field,
                needs: eth_needs(types),
            }),
            Prerequisite::IpProto(types, proto) => {
                if eth_in(types) && exact(Field::IpProto) == Some(u128::from(proto)) {
                    Ok(())
                } else {
                    Err(MatchError::Prerequisite {
                        field,
                        needs: proto_needs(proto),
                    })
                }
            }
            Prerequisite::VlanPresent => {
                let present = self
                    .get(Field::VlanVid)
                    .is_some_and(|m| m.mask & VLAN_PRESENT != 0 && m.value & VLAN_PRESENT != 0);
                if present {
                    Ok(())
                } else {
                    Err(MatchError::Prerequisite {
                        field,
                        needs: "a VLAN tag (vlan_vid with the present bit)",
                    })
                }
            }
        }
    }

    /// The match on `field`, if any.
    pub fn get(&self, field: Field) -> Option<&FieldMatch> {
        self.fields.iter().find(|m| m.field == field)
    }

    /// The matched fields in the order given.
    pub fn fields(&self) -> &[FieldMatch] {
        &self.fields
    }

    /// True when nothing is matched.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value and mask keys the classifier uses.
    pub fn to_masked_key(&self) -> MaskedKey {
        let mut value = FlowKey::default();
        let mut mask = FlowKey::default();
        for m in &self.fields {
            value.set_masked(m.field, m.value, m.mask);
            mask.set_masked(m.field, m.mask, m.mask);
        }
        MaskedKey { value, mask }
    }

    /// True when `key` satisfies every field.
    pub fn matches(&self, key: &FlowKey) -> bool {
        self.fields
            .iter()
            .all(|m| key.get(m.field) & m.mask == m.value)
    }

    /// True when the two matches contain the same fields, values and masks in any order
    /// (OpenFlow's "strict" equality).
    pub fn same_as(&self, other: &Match) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().all(|m| other.get(m.field) == Some(m))
    }

    /// True when every packet `self` matches is also matched by `other`'s fields, i.e. `other` is
    /// at least as general as `self` (OpenFlow's non-strict modify/delete selection).
    pub fn is_covered_by(&self, other: &Match) -> bool {
        other.fields.iter().all(|o| {
            self.get(o.field)
                .is_some_and(|s| s.mask & o.mask == o.mask && s.value & o.mask == o.value)
        })
    }
}

fn eth_needs(types: &[u16]) -> &'static str {
    match types.first() {
        Some(0x0800) if types.len() > 1 => "ip or ipv6 (dl_type=0x0800 or 0x86dd)",
        Some(0x0800) => "ip (dl_type=0x0800)",
        Some(0x86dd) => "ipv6 (dl_type=0x86dd)",
        Some(0x0806) => "arp (dl_type=0x0806)",
        _ => "a matching dl_type",
    }
}

fn proto_needs(proto: u8) -> &'static str {
    match proto {
        1 => "icmp (dl_type=0x0800,nw_proto=1)",
        6 => "tcp (nw_proto=6 with ip or ipv6)",
        17 => "udp (nw_proto=17 with ip or ipv6)",
        58 => "icmp6 (dl_type=0x86dd,nw_proto=58)",
        132 => "sctp (nw_proto=132 with ip or ipv6)",
        _ => "a matching nw_proto",
    }
}

/// A match as two flow keys: `key & mask == value` for a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MaskedKey {
    pub value: FlowKey,
    pub mask: FlowKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisites_are_enforced() {
        let m = Match::new().exact(Field::ArpTpa, 0x0a01_0001).unwrap();
        assert!(matches!(
            m.validate(),
            Err(MatchError::Prerequisite {
                field: Field::ArpTpa,
                ..
            })
        ));
        let m = Match::new()
            .exact(Field::EthType, 0x0806)
            .and_then(|m| m.exact(Field::ArpTpa, 0x0a01_0001))
            .unwrap();
        assert_eq!(m.validate(), Ok(()));
        let m = Match::new()
            .exact(Field::EthType, 0x0800)
            .and_then(|m| m.exact(Field::UdpDst, 53))
            .unwrap();
        assert!(m.validate().is_err(), "udp port without nw_proto=17");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(matches!(
            Match::new().masked(Field::Metadata, 0x1f, 0x0f),
            Err(MatchError::ValueOutsideMask { .. })
        ));
        assert!(matches!(
            Match::new().exact(Field::InPort, 1 << 40),
            Err(MatchError::ValueTooWide { .. })
        ));
        assert!(matches!(
            Match::new().masked(Field::EthType, 0x0800, 0xff00),
            Err(MatchError::NotMaskable { .. })
        ));
        assert!(matches!(
            Match::new()
                .exact(Field::InPort, 1)
                .and_then(|m| m.exact(Field::InPort, 2)),
            Err(MatchError::Duplicate { .. })
        ));
    }

    #[test]
    fn masked_key_matches_like_fields() {
        let m = Match::new()
            .masked(Field::EthDst, 0x0100_0000_0000, 0x0100_0000_0000)
            .unwrap();
        let mk = m.to_masked_key();
        let mut k = FlowKey::default();
        k.set(Field::EthDst, 0xffff_ffff_ffff);
        assert!(m.matches(&k));
        assert_eq!(k.masked(&mk.mask), mk.value);
        k.set(Field::EthDst, 0xfa16_3e00_0000);
        assert!(!m.matches(&k));
        assert_ne!(k.masked(&mk.mask), mk.value);
    }

    #[test]
    fn cover_and_strict_equality() {
        let narrow = Match::new()
            .exact(Field::Metadata, 0x1f42)
            .and_then(|m| m.exact(Field::InPort, 3))
            .unwrap();
        let wide = Match::new().exact(Field::Metadata, 0x1f42).unwrap();
        assert!(narrow.is_covered_by(&wide));
        assert!(!wide.is_covered_by(&narrow));
        let reordered = Match::new()
            .exact(Field::InPort, 3)
            .and_then(|m| m.exact(Field::Metadata, 0x1f42))
            .unwrap();
        assert!(narrow.same_as(&reordered));
    }
}

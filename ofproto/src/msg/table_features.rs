//! `ofp_table_features` and its properties (the body of OFPMP_TABLE_FEATURES).
//!
//! OpenFlow 1.3.5 §7.3.5.5.1: `struct ofp_table_features { uint16_t length; uint8_t table_id;
//! uint8_t pad[5]; char name[OFP_MAX_TABLE_NAME_LEN]; uint64_t metadata_match; uint64_t
//! metadata_write; uint32_t config; uint32_t max_entries; struct ofp_table_feature_prop_header
//! properties[0]; }` — "OFP_ASSERT(sizeof(struct ofp_table_features) == 64)".
//!
//! §7.3.5.5.2: every property is `type(2) length(2)` and its body; "The length field … does not
//! include padding … every property must be padded to a multiple of 8 bytes". `ovs-ofctl`
//! requires the 8 non-miss properties (types 0, 2, 4, 6, 8, 10, 12, 14) in every entry.

use wyvern_pipeline::field::Field;

use crate::error::{DecodeError, Layer};
use crate::msg::buf::{Put, Reader, len16};
use crate::oxm::{self, CLASS_EXPERIMENTER, OxmHeader};
use crate::wire_action as wa;

pub const OFPTFPT_INSTRUCTIONS: u16 = 0;
pub const OFPTFPT_NEXT_TABLES: u16 = 2;
pub const OFPTFPT_WRITE_ACTIONS: u16 = 4;
pub const OFPTFPT_APPLY_ACTIONS: u16 = 6;
pub const OFPTFPT_MATCH: u16 = 8;
pub const OFPTFPT_WILDCARDS: u16 = 10;
pub const OFPTFPT_WRITE_SETFIELD: u16 = 12;
pub const OFPTFPT_APPLY_SETFIELD: u16 = 14;
pub const OFPTFPT_EXPERIMENTER: u16 = 0xfffe;
pub const OFPTFPT_EXPERIMENTER_MISS: u16 = 0xffff;

/// An instruction or action id in a property: `type(2) len(2)` and, for experimenter ids, the
/// rest (experimenter id, subtype); `body` is what follows the 4-byte header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlvId {
    pub id_type: u16,
    pub body: Vec<u8>,
}

impl TlvId {
    /// A standard id (4 bytes).
    pub fn standard(id_type: u16) -> Self {
        TlvId {
            id_type,
            body: Vec::new(),
        }
    }
}

/// An OXM id in a property: the header and, for the experimenter class, the experimenter id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OxmId {
    pub header: OxmHeader,
    pub experimenter: Option<u32>,
}

/// One table feature property. `miss` selects the `_MISS` variant (type + 1), which describes
/// the table-miss flow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TableFeatureProp {
    Instructions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    NextTables {
        miss: bool,
        tables: Vec<u8>,
    },
    WriteActions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    ApplyActions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    Match(Vec<OxmId>),
    Wildcards(Vec<OxmId>),
    WriteSetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    ApplySetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    Experimenter {
        miss: bool,
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    /// A property type this implementation does not know, kept raw.
    Unknown {
        prop_type: u16,
        data: Vec<u8>,
    },
}

/// One `ofp_table_features` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: String,
    pub metadata_match: u64,
    pub metadata_write: u64,
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

fn read_tlv_ids(data: &[u8]) -> Result<Vec<TlvId>, DecodeError> {
    let mut r = Reader::new(data, Layer::TableFeatures);
    let mut ids = Vec::new();
    while !r.is_empty() {
        let mut h = r.clone();
        let id_type = h.u16()?;
        let len = usize::from(h.u16()?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                layer: Layer::TableFeatures,
                what: "instruction or action id",
                len,
            });
        }
        let b = r.bytes(len)?;
        ids.push(TlvId {
            id_type,
            body: b[4..].to_vec(),
        });
    }
    Ok(ids)
}

fn read_oxm_ids(data: &[u8]) -> Result<Vec<OxmId>, DecodeError> {
    let mut r = Reader::new(data, Layer::TableFeatures);
    let mut ids = Vec::new();
    while !r.is_empty() {
        let header = OxmHeader(r.u32()?);
        let experimenter = if header.class() == CLASS_EXPERIMENTER {
            Some(r.u32()?)
        } else {
            None
        };
        ids.push(OxmId {
            header,
            experimenter,
        });
    }
    Ok(ids)
}

fn write_tlv_ids(ids: &[TlvId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u16(id.id_type);
        out.put_u16(len16(4 + id.body.len()));
        out.extend_from_slice(&id.body);
    }
}

fn write_oxm_ids(ids: &[OxmId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u32(id.header.0);
        if let Some(e) = id.experimenter {
            out.put_u32(e);
        }
    }
}

impl TableFeatureProp {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut h = r.clone();
        let prop_type = h.u16()?;
        let len = usize::from(h.u16()?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                layer: Layer::TableFeatures,
                what: "table feature property",
                len,
            });
        }
        let data = &r.bytes(len)?[4..];
        r.skip(len.next_multiple_of(8) - len)?;
        let miss = prop_type & 1 == 1;
        use TableFeatureProp as P;
        Ok(match prop_type {
            0 | 1 => P::Instructions {
                miss,
                ids: read_tlv_ids(data)?,
            },
            2 | 3 => P::NextTables {
                miss,
                tables: data.to_vec(),
            },
            4 | 5 => P::WriteActions {
                miss,
                ids: read_tlv_ids(data)?,
            },
            6 | 7 => P::ApplyActions {
                miss,
                ids: read_tlv_ids(data)?,
            },
            8 => P::Match(read_oxm_ids(data)?),
            10 => P::Wildcards(read_oxm_ids(data)?),
            12 | 13 => P::WriteSetfield {
                miss,
                ids: read_oxm_ids(data)?,
            },
            14 | 15 => P::ApplySetfield {
                miss,
                ids: read_oxm_ids(data)?,
            },
            OFPTFPT_EXPERIMENTER | OFPTFPT_EXPERIMENTER_MISS => {
                let mut d = Reader::new(data, Layer::TableFeatures);
                P::Experimenter {
                    miss,
                    experimenter: d.u32()?,
                    exp_type: d.u32()?,
                    data: d.rest().to_vec(),
                }
            }
            _ => P::Unknown {
                prop_type,
                data: data.to_vec(),
            },
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        use TableFeatureProp as P;
        let start = out.len();
        let m = |miss: bool, t: u16| t + u16::from(miss);
        let prop_type = match self {
            P::Instructions { miss, .. } => m(*miss, OFPTFPT_INSTRUCTIONS),
            P::NextTables { miss, .. } => m(*miss, OFPTFPT_NEXT_TABLES),
            P::WriteActions { miss, .. } => m(*miss, OFPTFPT_WRITE_ACTIONS),
            P::ApplyActions { miss, .. } => m(*miss, OFPTFPT_APPLY_ACTIONS),
            P::Match(_) => OFPTFPT_MATCH,
            P::Wildcards(_) => OFPTFPT_WILDCARDS,
            P::WriteSetfield { miss, .. } => m(*miss, OFPTFPT_WRITE_SETFIELD),
            P::ApplySetfield { miss, .. } => m(*miss, OFPTFPT_APPLY_SETFIELD),
            P::Experimenter { miss, .. } => m(*miss, OFPTFPT_EXPERIMENTER),
            P::Unknown { prop_type, .. } => *prop_type,
        };
        out.put_u16(prop_type);
        out.put_u16(0);
        match self {
            P::Instructions { ids, .. }
            | P::WriteActions { ids, .. }
            | P::ApplyActions { ids, .. } => write_tlv_ids(ids, out),
            P::NextTables { tables, .. } => out.extend_from_slice(tables),
            P::Match(ids)
            | P::Wildcards(ids)
            | P::WriteSetfield { ids, .. }
            | P::ApplySetfield { ids, .. } => write_oxm_ids(ids, out),
            P::Experimenter {
                experimenter,
                exp_type,
                data,
                ..
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
            P::Unknown { data, .. } => out.extend_from_slice(data),
        }
        let len = len16(out.len() - start);
        out.set_u16(start + 2, len);
        out.pad_to_8(start);
    }
}

/// Size of the fixed part of `ofp_table_features`.
pub const TABLE_FEATURES_LEN: usize = 64;

impl TableFeatures {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.clone().u16().map_err(to_tf)?);
        if len < TABLE_FEATURES_LEN || !len.is_multiple_of(8) {
            return Err(DecodeError::BadLength {
                layer: Layer::TableFeatures,
                what: "ofp_table_features",
                len,
            });
        }
        let mut e = Reader::new(r.bytes(len).map_err(to_tf)?, Layer::TableFeatures);
        e.skip(2)?;
        let table_id = e.u8()?;
        e.skip(5)?;
        let name = e.string(32)?;
        let metadata_match = e.u64()?;
        let metadata_write = e.u64()?;
        let config = e.u32()?;
        let max_entries = e.u32()?;
        let mut properties = Vec::new();
        while !e.is_empty() {
            properties.push(TableFeatureProp::read(&mut e)?);
        }
        Ok(TableFeatures {
            table_id,
            name,
            metadata_match,
            metadata_write,
            config,
            max_entries,
            properties,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(5);
        out.put_string(&self.name, 32);
        out.put_u64(self.metadata_match);
        out.put_u64(self.metadata_write);
        out.put_u32(self.config);
        out.put_u32(self.max_entries);
        for p in &self.properties {
            p.write(out);
        }
        let len = len16(out.len() - start);
        out.set_u16(start, len);
    }

    /// The smallest entry `ovs-ofctl` accepts: the 8 required properties, all empty.
    pub fn minimal(table_id: u8, name: &str, max_entries: u32) -> Self {
        use TableFeatureProp as P;
        TableFeatures {
            table_id,
            name: name.to_owned(),
            metadata_match: 0,
            metadata_write: 0,
            config: 0,
            max_entries,
            properties: vec![
                P::Instructions {
                    miss: false,
                    ids: vec![],
                },
                P::NextTables {
                    miss: false,
                    tables: vec![],
                },
                P::WriteActions {
                    miss: false,
                    ids: vec![],
                },
                P::ApplyActions {
                    miss: false,
                    ids: vec![],
                },
                P::Match(vec![]),
                P::Wildcards(vec![]),
                P::WriteSetfield {
                    miss: false,
                    ids: vec![],
                },
                P::ApplySetfield {
                    miss: false,
                    ids: vec![],
                },
            ],
        }
    }
}

fn to_tf(e: DecodeError) -> DecodeError {
    match e {
        DecodeError::Truncated {
            needed, available, ..
        } => DecodeError::Truncated {
            layer: Layer::TableFeatures,
            needed,
            available,
        },
        other => other,
    }
}

/// The action ids wyvern supports: OUTPUT, PUSH_VLAN, POP_VLAN, DEC_NW_TTL, SET_FIELD.
pub fn supported_action_ids() -> Vec<TlvId> {
    [
        wa::OFPAT_OUTPUT,
        wa::OFPAT_PUSH_VLAN,
        wa::OFPAT_POP_VLAN,
        wa::OFPAT_DEC_NW_TTL,
        wa::OFPAT_SET_FIELD,
    ]
    .into_iter()
    .map(TlvId::standard)
    .collect()
}

/// The instruction ids wyvern supports: GOTO_TABLE, WRITE_METADATA, WRITE/APPLY/CLEAR_ACTIONS.
pub fn supported_instruction_ids() -> Vec<TlvId> {
    [
        wa::OFPIT_GOTO_TABLE,
        wa::OFPIT_WRITE_METADATA,
        wa::OFPIT_WRITE_ACTIONS,
        wa::OFPIT_APPLY_ACTIONS,
        wa::OFPIT_CLEAR_ACTIONS,
    ]
    .into_iter()
    .map(TlvId::standard)
    .collect()
}

fn oxm_ids(fields: impl Iterator<Item = Field>, with_mask: bool) -> Vec<OxmId> {
    fields
        .map(|f| {
            let h = oxm::oxm_header(f);
            OxmId {
                header: if with_mask && f.info().maskable {
                    h.masked()
                } else {
                    h
                },
                experimenter: None,
            }
        })
        .collect()
}

/// A TABLE_FEATURES reply body describing tables `0..n_tables` with the 8 required properties
/// and real lists: the supported instructions and actions, `next_tables` (every later table),
/// every pipeline field as match field (masked where maskable) and wildcard, and every writable
/// field for set_field. Table names are `table<N>`.
pub fn table_features_reply(n_tables: u8, max_entries: u32) -> Vec<TableFeatures> {
    use TableFeatureProp as P;
    let all = || Field::ALL.into_iter();
    let writable = || Field::ALL.into_iter().filter(|f| f.info().writable);
    (0..n_tables)
        .map(|t| TableFeatures {
            table_id: t,
            name: format!("table{t}"),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries,
            properties: vec![
                P::Instructions {
                    miss: false,
                    ids: supported_instruction_ids(),
                },
                P::NextTables {
                    miss: false,
                    tables: (t.saturating_add(1)..n_tables).collect(),
                },
                P::WriteActions {
                    miss: false,
                    ids: supported_action_ids(),
                },
                P::ApplyActions {
                    miss: false,
                    ids: supported_action_ids(),
                },
                P::Match(oxm_ids(all(), true)),
                P::Wildcards(oxm_ids(all(), false)),
                P::WriteSetfield {
                    miss: false,
                    ids: oxm_ids(writable(), false),
                },
                P::ApplySetfield {
                    miss: false,
                    ids: oxm_ids(writable(), false),
                },
            ],
        })
        .collect()
}

//! MULTIPART_REQUEST and MULTIPART_REPLY.
//!
//! OpenFlow 1.3.5 §7.3.5: `struct ofp_multipart_request { header; uint16_t type; uint16_t flags;
//! uint8_t pad[4]; uint8_t body[0]; }` (and the same for the reply) — "OFPMPF_REPLY_MORE = 1 <<
//! 0, /* More replies to follow. */". A multipart type this implementation does not decode is
//! kept raw ([`MpRequest::Unknown`]); the endpoint answers it with OFPBRC_BAD_MULTIPART.

use wyvern_pipeline::action::PortNo;
use wyvern_pipeline::flow::FlowStats;
use wyvern_pipeline::flow_match::Match;

use crate::error::{DecodeError, Layer};
use crate::msg::buf::{Put, Reader};
use crate::msg::flow::{decode_flow_stats, encode_flow_stats};
use crate::msg::port::PortDesc;
use crate::msg::switch::exact_end;
use crate::msg::table_features::TableFeatures;
use crate::oxm::{decode_match, encode_match};

pub const OFPMP_DESC: u16 = 0;
pub const OFPMP_FLOW: u16 = 1;
pub const OFPMP_AGGREGATE: u16 = 2;
pub const OFPMP_TABLE: u16 = 3;
pub const OFPMP_PORT_STATS: u16 = 4;
pub const OFPMP_GROUP_FEATURES: u16 = 8;
pub const OFPMP_METER_FEATURES: u16 = 11;
pub const OFPMP_TABLE_FEATURES: u16 = 12;
pub const OFPMP_PORT_DESC: u16 = 13;
pub const OFPMP_EXPERIMENTER: u16 = 0xffff;

/// OFPMPF_REPLY_MORE / OFPMPF_REQ_MORE.
pub const MPF_MORE: u16 = 1;

/// Body of an OFPMP_FLOW or OFPMP_AGGREGATE request.
///
/// OpenFlow 1.3.5 §7.3.5.2: `struct ofp_flow_stats_request { uint8_t table_id; uint8_t pad[3];
/// uint32_t out_port; uint32_t out_group; uint8_t pad2[4]; uint64_t cookie; uint64_t
/// cookie_mask; struct ofp_match match; }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStatsRequest {
    pub table_id: u8,
    pub out_port: PortNo,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub matching: Match,
}

impl FlowStatsRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table_id = r.u8()?;
        r.skip(3)?;
        let out_port = PortNo(r.u32()?);
        let out_group = r.u32()?;
        r.skip(4)?;
        let f = FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64()?,
            cookie_mask: r.u64()?,
            matching: decode_match(r)?,
        };
        f.matching.validate()?;
        exact_end(r)?;
        Ok(f)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.out_port.0);
        out.put_u32(self.out_group);
        out.put_zeros(4);
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        encode_match(&self.matching, out);
    }
}

/// OFPMP_DESC reply body.
///
/// OpenFlow 1.3.5 §7.3.5.1: `struct ofp_desc { char mfr_desc[DESC_STR_LEN]; char
/// hw_desc[DESC_STR_LEN]; char sw_desc[DESC_STR_LEN]; char serial_num[SERIAL_NUM_LEN]; char
/// dp_desc[DESC_STR_LEN]; }` — "OFP_ASSERT(sizeof(struct ofp_desc) == 1056)" (256 and 32 bytes,
/// NUL-terminated).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

impl Desc {
    /// wyvern's own description.
    pub fn wyvern(dp_desc: &str) -> Self {
        Desc {
            mfr_desc: "wyvern project".into(),
            hw_desc: "wyvern userspace switch".into(),
            sw_desc: env!("CARGO_PKG_VERSION").into(),
            serial_num: "None".into(),
            dp_desc: dp_desc.into(),
        }
    }
}

/// One OFPMP_TABLE reply entry: `table_id(1) pad(3) active_count(4) lookup_count(8)
/// matched_count(8)` (OpenFlow 1.3.5 §7.3.5.4, 24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// One OFPMP_PORT_STATS reply entry (OpenFlow 1.3.5 §7.3.5.6, `struct ofp_port_stats`, 112
/// bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// OFPMP_GROUP_FEATURES reply body (OpenFlow 1.3.5 §7.3.5.11: `types(4) capabilities(4)
/// max_groups[4] actions[4]`, 40 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

/// OFPMP_METER_FEATURES reply body (OpenFlow 1.3.5 §7.3.5.14: `max_meter(4) band_types(4)
/// capabilities(4) max_bands(1) max_color(1) pad(2)`, 16 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeterFeatures {
    pub max_meter: u32,
    pub band_types: u32,
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

/// The body of a multipart request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpRequest {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    /// `port_no(4) pad(4)`; OFPP_ANY for every port.
    PortStats {
        port_no: u32,
    },
    PortDesc,
    /// Empty to ask for the features; non-empty to set them.
    TableFeatures(Vec<TableFeatures>),
    GroupFeatures,
    MeterFeatures,
    /// `experimenter(4) exp_type(4)` and the rest.
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    /// A multipart type not decoded here, kept raw.
    Unknown {
        mp_type: u16,
        body: Vec<u8>,
    },
}

/// The body of a multipart reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpReply {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    /// `packet_count(8) byte_count(8) flow_count(4) pad(4)`.
    Aggregate {
        packet_count: u64,
        byte_count: u64,
        flow_count: u32,
    },
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    PortDesc(Vec<PortDesc>),
    TableFeatures(Vec<TableFeatures>),
    GroupFeatures(GroupFeatures),
    MeterFeatures(MeterFeatures),
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    Unknown {
        mp_type: u16,
        body: Vec<u8>,
    },
}

/// OFPT_MULTIPART_REQUEST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartRequest {
    pub flags: u16,
    pub body: MpRequest,
}

/// OFPT_MULTIPART_REPLY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartReply {
    /// [`MPF_MORE`] when more replies follow.
    pub flags: u16,
    pub body: MpReply,
}

fn read_table_features(r: &mut Reader<'_>) -> Result<Vec<TableFeatures>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(TableFeatures::read(r)?);
    }
    Ok(v)
}

fn read_experimenter(r: &mut Reader<'_>) -> Result<(u32, u32, Vec<u8>), DecodeError> {
    Ok((r.u32()?, r.u32()?, r.rest().to_vec()))
}

impl MultipartRequest {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let mp_type = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let empty = |r: &Reader<'_>| exact_end(r);
        let body = match mp_type {
            OFPMP_DESC => empty(&r).map(|_| MpRequest::Desc)?,
            OFPMP_FLOW => MpRequest::Flow(FlowStatsRequest::read(&mut r)?),
            OFPMP_AGGREGATE => MpRequest::Aggregate(FlowStatsRequest::read(&mut r)?),
            OFPMP_TABLE => empty(&r).map(|_| MpRequest::Table)?,
            OFPMP_PORT_STATS => {
                let port_no = r.u32()?;
                r.skip(4)?;
                empty(&r)?;
                MpRequest::PortStats { port_no }
            }
            OFPMP_PORT_DESC => empty(&r).map(|_| MpRequest::PortDesc)?,
            OFPMP_TABLE_FEATURES => MpRequest::TableFeatures(read_table_features(&mut r)?),
            OFPMP_GROUP_FEATURES => empty(&r).map(|_| MpRequest::GroupFeatures)?,
            OFPMP_METER_FEATURES => empty(&r).map(|_| MpRequest::MeterFeatures)?,
            OFPMP_EXPERIMENTER => {
                let (experimenter, exp_type, data) = read_experimenter(&mut r)?;
                MpRequest::Experimenter {
                    experimenter,
                    exp_type,
                    data,
                }
            }
            _ => MpRequest::Unknown {
                mp_type,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartRequest { flags, body })
    }

    /// The multipart type on the wire.
    pub fn mp_type(&self) -> u16 {
        match &self.body {
            MpRequest::Desc => OFPMP_DESC,
            MpRequest::Flow(_) => OFPMP_FLOW,
            MpRequest::Aggregate(_) => OFPMP_AGGREGATE,
            MpRequest::Table => OFPMP_TABLE,
            MpRequest::PortStats { .. } => OFPMP_PORT_STATS,
            MpRequest::PortDesc => OFPMP_PORT_DESC,
            MpRequest::TableFeatures(_) => OFPMP_TABLE_FEATURES,
            MpRequest::GroupFeatures => OFPMP_GROUP_FEATURES,
            MpRequest::MeterFeatures => OFPMP_METER_FEATURES,
            MpRequest::Experimenter { .. } => OFPMP_EXPERIMENTER,
            MpRequest::Unknown { mp_type, .. } => *mp_type,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.mp_type());
        out.put_u16(self.flags);
        out.put_zeros(4);
        match &self.body {
            MpRequest::Desc
            | MpRequest::Table
            | MpRequest::PortDesc
            | MpRequest::GroupFeatures
            | MpRequest::MeterFeatures => {}
            MpRequest::Flow(f) | MpRequest::Aggregate(f) => f.write(out),
            MpRequest::PortStats { port_no } => {
                out.put_u32(*port_no);
                out.put_zeros(4);
            }
            MpRequest::TableFeatures(t) => t.iter().for_each(|t| t.write(out)),
            MpRequest::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
            MpRequest::Unknown { body, .. } => out.extend_from_slice(body),
        }
    }
}

impl MultipartReply {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let mp_type = r.u16()?;
        let flags = r.u16()?;
        r.skip(4)?;
        let body = match mp_type {
            OFPMP_DESC => {
                let d = Desc {
                    mfr_desc: r.string(256)?,
                    hw_desc: r.string(256)?,
                    sw_desc: r.string(256)?,
                    serial_num: r.string(32)?,
                    dp_desc: r.string(256)?,
                };
                exact_end(&r)?;
                MpReply::Desc(d)
            }
            OFPMP_FLOW => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(decode_flow_stats(&mut r)?);
                }
                MpReply::Flow(v)
            }
            OFPMP_AGGREGATE => {
                let packet_count = r.u64()?;
                let byte_count = r.u64()?;
                let flow_count = r.u32()?;
                r.skip(4)?;
                exact_end(&r)?;
                MpReply::Aggregate {
                    packet_count,
                    byte_count,
                    flow_count,
                }
            }
            OFPMP_TABLE => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let table_id = r.u8()?;
                    r.skip(3)?;
                    v.push(TableStats {
                        table_id,
                        active_count: r.u32()?,
                        lookup_count: r.u64()?,
                        matched_count: r.u64()?,
                    });
                }
                MpReply::Table(v)
            }
            OFPMP_PORT_STATS => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let port_no = r.u32()?;
                    r.skip(4)?;
                    v.push(PortStats {
                        port_no,
                        rx_packets: r.u64()?,
                        tx_packets: r.u64()?,
                        rx_bytes: r.u64()?,
                        tx_bytes: r.u64()?,
                        rx_dropped: r.u64()?,
                        tx_dropped: r.u64()?,
                        rx_errors: r.u64()?,
                        tx_errors: r.u64()?,
                        rx_frame_err: r.u64()?,
                        rx_over_err: r.u64()?,
                        rx_crc_err: r.u64()?,
                        collisions: r.u64()?,
                        duration_sec: r.u32()?,
                        duration_nsec: r.u32()?,
                    });
                }
                MpReply::PortStats(v)
            }
            OFPMP_PORT_DESC => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(PortDesc::read(&mut r)?);
                }
                MpReply::PortDesc(v)
            }
            OFPMP_TABLE_FEATURES => MpReply::TableFeatures(read_table_features(&mut r)?),
            OFPMP_GROUP_FEATURES => {
                let g = GroupFeatures {
                    types: r.u32()?,
                    capabilities: r.u32()?,
                    max_groups: [r.u32()?, r.u32()?, r.u32()?, r.u32()?],
                    actions: [r.u32()?, r.u32()?, r.u32()?, r.u32()?],
                };
                exact_end(&r)?;
                MpReply::GroupFeatures(g)
            }
            OFPMP_METER_FEATURES => {
                let m = MeterFeatures {
                    max_meter: r.u32()?,
                    band_types: r.u32()?,
                    capabilities: r.u32()?,
                    max_bands: r.u8()?,
                    max_color: r.u8()?,
                };
                r.skip(2)?;
                exact_end(&r)?;
                MpReply::MeterFeatures(m)
            }
            OFPMP_EXPERIMENTER => {
                let (experimenter, exp_type, data) = read_experimenter(&mut r)?;
                MpReply::Experimenter {
                    experimenter,
                    exp_type,
                    data,
                }
            }
            _ => MpReply::Unknown {
                mp_type,
                body: r.rest().to_vec(),
            },
        };
        Ok(MultipartReply { flags, body })
    }

    /// The multipart type on the wire.
    pub fn mp_type(&self) -> u16 {
        match &self.body {
            MpReply::Desc(_) => OFPMP_DESC,
            MpReply::Flow(_) => OFPMP_FLOW,
            MpReply::Aggregate { .. } => OFPMP_AGGREGATE,
            MpReply::Table(_) => OFPMP_TABLE,
            MpReply::PortStats(_) => OFPMP_PORT_STATS,
            MpReply::PortDesc(_) => OFPMP_PORT_DESC,
            MpReply::TableFeatures(_) => OFPMP_TABLE_FEATURES,
            MpReply::GroupFeatures(_) => OFPMP_GROUP_FEATURES,
            MpReply::MeterFeatures(_) => OFPMP_METER_FEATURES,
            MpReply::Experimenter { .. } => OFPMP_EXPERIMENTER,
            MpReply::Unknown { mp_type, .. } => *mp_type,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.mp_type());
        out.put_u16(self.flags);
        out.put_zeros(4);
        match &self.body {
            MpReply::Desc(d) => {
                out.put_string(&d.mfr_desc, 256);
                out.put_string(&d.hw_desc, 256);
                out.put_string(&d.sw_desc, 256);
                out.put_string(&d.serial_num, 32);
                out.put_string(&d.dp_desc, 256);
            }
            MpReply::Flow(v) => v.iter().for_each(|f| encode_flow_stats(f, out)),
            MpReply::Aggregate {
                packet_count,
                byte_count,
                flow_count,
            } => {
                out.put_u64(*packet_count);
                out.put_u64(*byte_count);
                out.put_u32(*flow_count);
                out.put_zeros(4);
            }
            MpReply::Table(v) => {
                for t in v {
                    out.put_u8(t.table_id);
                    out.put_zeros(3);
                    out.put_u32(t.active_count);
                    out.put_u64(t.lookup_count);
                    out.put_u64(t.matched_count);
                }
            }
            MpReply::PortStats(v) => {
                for p in v {
                    out.put_u32(p.port_no);
                    out.put_zeros(4);
                    for c in [
                        p.rx_packets,
                        p.tx_packets,
                        p.rx_bytes,
                        p.tx_bytes,
                        p.rx_dropped,
                        p.tx_dropped,
                        p.rx_errors,
                        p.tx_errors,
                        p.rx_frame_err,
                        p.rx_over_err,
                        p.rx_crc_err,
                        p.collisions,
                    ] {
                        out.put_u64(c);
                    }
                    out.put_u32(p.duration_sec);
                    out.put_u32(p.duration_nsec);
                }
            }
            MpReply::PortDesc(v) => v.iter().for_each(|p| p.write(out)),
            MpReply::TableFeatures(v) => v.iter().for_each(|t| t.write(out)),
            MpReply::GroupFeatures(g) => {
                out.put_u32(g.types);
                out.put_u32(g.capabilities);
                g.max_groups.iter().for_each(|w| out.put_u32(*w));
                g.actions.iter().for_each(|w| out.put_u32(*w));
            }
            MpReply::MeterFeatures(m) => {
                out.put_u32(m.max_meter);
                out.put_u32(m.band_types);
                out.put_u32(m.capabilities);
                out.put_u8(m.max_bands);
                out.put_u8(m.max_color);
                out.put_zeros(2);
            }
            MpReply::Experimenter {
                experimenter,
                exp_type,
                data,
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.extend_from_slice(data);
            }
            MpReply::Unknown { body, .. } => out.extend_from_slice(body),
        }
    }
}

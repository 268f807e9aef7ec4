//! Switch-wide messages: FEATURES, GET/SET_CONFIG, TABLE_MOD, ROLE, GET/SET_ASYNC.

use crate::error::{DecodeError, Layer};
use crate::msg::buf::{Put, Reader};

/// OFPT_FEATURES_REPLY.
///
/// OpenFlow 1.3.5 §7.3.1: `struct ofp_switch_features { header; uint64_t datapath_id; uint32_t
/// n_buffers; uint8_t n_tables; uint8_t auxiliary_id; uint8_t pad[2]; uint32_t capabilities;
/// uint32_t reserved; }` — "OFP_ASSERT(sizeof(struct ofp_switch_features) == 32)".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeaturesReply {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub auxiliary_id: u8,
    /// `ofp_capabilities` bits (FLOW_STATS 1, TABLE_STATS 2, PORT_STATS 4, GROUP_STATS 8,
    /// IP_REASM 0x20, QUEUE_STATS 0x40, PORT_BLOCKED 0x100).
    pub capabilities: u32,
    pub reserved: u32,
}

impl FeaturesReply {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let f = FeaturesReply {
            datapath_id: r.u64()?,
            n_buffers: r.u32()?,
            n_tables: r.u8()?,
            auxiliary_id: r.u8()?,
            capabilities: {
                r.skip(2)?;
                r.u32()?
            },
            reserved: r.u32()?,
        };
        exact_end(&r)?;
        Ok(f)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.datapath_id);
        out.put_u32(self.n_buffers);
        out.put_u8(self.n_tables);
        out.put_u8(self.auxiliary_id);
        out.put_zeros(2);
        out.put_u32(self.capabilities);
        out.put_u32(self.reserved);
    }
}

/// A body that must be consumed exactly.
pub(crate) fn exact_end(r: &Reader<'_>) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::BadLength {
            layer: Layer::Message,
            what: "message with trailing bytes",
            len: r.remaining(),
        })
    }
}

/// GET_CONFIG_REPLY and SET_CONFIG.
///
/// OpenFlow 1.3.5 §7.3.2: `struct ofp_switch_config { header; uint16_t flags; uint16_t
/// miss_send_len; }` — "OFP_ASSERT(sizeof(struct ofp_switch_config) == 12)".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SwitchConfig {
    /// `ofp_config_flags`: FRAG_NORMAL 0, FRAG_DROP 1, FRAG_REASM 2.
    pub flags: u16,
    pub miss_send_len: u16,
}

impl SwitchConfig {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let c = SwitchConfig {
            flags: r.u16()?,
            miss_send_len: r.u16()?,
        };
        exact_end(&r)?;
        Ok(c)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.flags);
        out.put_u16(self.miss_send_len);
    }
}

/// OFPT_TABLE_MOD.
///
/// OpenFlow 1.3.5 §7.3.3: `struct ofp_table_mod { header; uint8_t table_id; uint8_t pad[3];
/// uint32_t config; }` — "OFP_ASSERT(sizeof(struct ofp_table_mod) == 16)".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TableMod {
    pub table_id: u8,
    pub config: u32,
}

impl TableMod {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let table_id = r.u8()?;
        r.skip(3)?;
        let t = TableMod {
            table_id,
            config: r.u32()?,
        };
        exact_end(&r)?;
        Ok(t)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.table_id);
        out.put_zeros(3);
        out.put_u32(self.config);
    }
}

wire_enum! {
    /// `ofp_controller_role`.
    pub enum ControllerRole: u32 { NoChange = 0, Equal = 1, Master = 2, Slave = 3 }
}

/// ROLE_REQUEST and ROLE_REPLY.
///
/// OpenFlow 1.3.5 §7.3.9: `struct ofp_role_request { header; uint32_t role; uint8_t pad[4];
/// uint64_t generation_id; }` — "OFP_ASSERT(sizeof(struct ofp_role_request) == 24)".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Role {
    pub role: ControllerRole,
    pub generation_id: u64,
}

impl Role {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let role = ControllerRole::from_raw(r.u32()?);
        r.skip(4)?;
        let x = Role {
            role,
            generation_id: r.u64()?,
        };
        exact_end(&r)?;
        Ok(x)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.role.raw());
        out.put_zeros(4);
        out.put_u64(self.generation_id);
    }
}

/// GET_ASYNC_REPLY and SET_ASYNC.
///
/// OpenFlow 1.3.5 §7.3.10: `struct ofp_async_config { header; uint32_t packet_in_mask[2];
/// uint32_t port_status_mask[2]; uint32_t flow_removed_mask[2]; }` — "element 0, when the
/// controller has a OFPCR_ROLE_EQUAL or OFPCR_ROLE_MASTER role. element 1, when the controller has
/// a OFPCR_ROLE_SLAVE role".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

impl AsyncConfig {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let a = AsyncConfig {
            packet_in_mask: [r.u32()?, r.u32()?],
            port_status_mask: [r.u32()?, r.u32()?],
            flow_removed_mask: [r.u32()?, r.u32()?],
        };
        exact_end(&r)?;
        Ok(a)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for w in self
            .packet_in_mask
            .iter()
            .chain(&self.port_status_mask)
            .chain(&self.flow_removed_mask)
        {
            out.put_u32(*w);
        }
    }
}

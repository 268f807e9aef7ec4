//! `ofp_port`, PORT_STATUS and PORT_MOD.

use wyvern_pipeline::action::PortNo;

use crate::error::{DecodeError, Layer};
use crate::msg::buf::{Put, Reader};
use crate::msg::switch::exact_end;

/// OFPPC_PORT_DOWN.
pub const OFPPC_PORT_DOWN: u32 = 1 << 0;
/// OFPPS_LINK_DOWN.
pub const OFPPS_LINK_DOWN: u32 = 1 << 0;
/// OFPPS_LIVE.
pub const OFPPS_LIVE: u32 = 1 << 2;
/// OFPPF_10GB_FD.
pub const OFPPF_10GB_FD: u32 = 1 << 6;
/// OFPPF_COPPER.
pub const OFPPF_COPPER: u32 = 1 << 11;

/// One port's description.
///
/// OpenFlow 1.3.5 §7.2.1: `struct ofp_port { uint32_t port_no; uint8_t pad[4]; uint8_t
/// hw_addr[OFP_ETH_ALEN]; uint8_t pad2[2]; char name[OFP_MAX_PORT_NAME_LEN]; uint32_t config;
/// uint32_t state; uint32_t curr; uint32_t advertised; uint32_t supported; uint32_t peer;
/// uint32_t curr_speed; uint32_t max_speed; }` — "OFP_ASSERT(sizeof(struct ofp_port) == 64)".
/// The name is NUL-terminated within its 16 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortDesc {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub name: String,
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// kbps.
    pub curr_speed: u32,
    /// kbps.
    pub max_speed: u32,
}

/// Size of `ofp_port`.
pub const PORT_DESC_LEN: usize = 64;

impl PortDesc {
    /// A port description: `speed_kbps` is reported as the current speed, and `curr` gets the
    /// matching `ofp_port_features` bit (10 Mb .. 1 Tb full duplex, or OTHER) plus COPPER.
    pub fn new(
        port_no: PortNo,
        name: &str,
        hw_addr: [u8; 6],
        config: u32,
        state: u32,
        speed_kbps: u32,
    ) -> Self {
        let rate = match speed_kbps {
            0 => 0,
            10_000 => 1 << 1,
            100_000 => 1 << 3,
            1_000_000 => 1 << 5,
            10_000_000 => 1 << 6,
            40_000_000 => 1 << 7,
            100_000_000 => 1 << 8,
            1_000_000_000 => 1 << 9,
            _ => 1 << 10,
        };
        PortDesc {
            port_no: port_no.0,
            hw_addr,
            name: name.to_owned(),
            config,
            state,
            curr: if rate == 0 { 0 } else { rate | OFPPF_COPPER },
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: speed_kbps,
            max_speed: 0,
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port_no = r.u32()?;
        r.skip(4)?;
        let hw_addr = r.mac()?;
        r.skip(2)?;
        Ok(PortDesc {
            port_no,
            hw_addr,
            name: r.string(16)?,
            config: r.u32()?,
            state: r.u32()?,
            curr: r.u32()?,
            advertised: r.u32()?,
            supported: r.u32()?,
            peer: r.u32()?,
            curr_speed: r.u32()?,
            max_speed: r.u32()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        out.put_string(&self.name, 16);
        for w in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.put_u32(w);
        }
    }
}

wire_enum! {
    /// `ofp_port_reason`.
    pub enum PortReason: u8 { Add = 0, Delete = 1, Modify = 2 }
}

/// OFPT_PORT_STATUS.
///
/// OpenFlow 1.3.5 §7.4.3: `struct ofp_port_status { header; uint8_t reason; uint8_t pad[7];
/// struct ofp_port desc; }` — "OFP_ASSERT(sizeof(struct ofp_port_status) == 80)".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortStatus {
    pub reason: PortReason,
    pub desc: PortDesc,
}

impl PortStatus {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let reason = PortReason::from_raw(r.u8()?);
        r.skip(7)?;
        let desc = PortDesc::read(&mut r)?;
        exact_end(&r)?;
        Ok(PortStatus { reason, desc })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.reason.raw());
        out.put_zeros(7);
        self.desc.write(out);
    }
}

/// OFPT_PORT_MOD.
///
/// OpenFlow 1.3.5 §7.3.4.3: `struct ofp_port_mod { header; uint32_t port_no; uint8_t pad[4];
/// uint8_t hw_addr[OFP_ETH_ALEN]; uint8_t pad2[2]; uint32_t config; uint32_t mask; uint32_t
/// advertise; uint8_t pad3[4]; }` — "OFP_ASSERT(sizeof(struct ofp_port_mod) == 40)".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

impl PortMod {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let port_no = r.u32()?;
        r.skip(4)?;
        let hw_addr = r.mac()?;
        r.skip(2)?;
        let p = PortMod {
            port_no,
            hw_addr,
            config: r.u32()?,
            mask: r.u32()?,
            advertise: r.u32()?,
        };
        r.skip(4)?;
        exact_end(&r)?;
        Ok(p)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.port_no);
        out.put_zeros(4);
        out.extend_from_slice(&self.hw_addr);
        out.put_zeros(2);
        out.put_u32(self.config);
        out.put_u32(self.mask);
        out.put_u32(self.advertise);
        out.put_zeros(4);
    }
}

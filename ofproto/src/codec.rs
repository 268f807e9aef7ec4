//! Framing: the OpenFlow header, whole-message decode and encode, and a splitter that cuts a TCP
//! byte stream into messages.
//!
//! OpenFlow 1.3.5 §7.1: `struct ofp_header { uint8_t version; uint8_t type; uint16_t length;
//! uint32_t xid; }` — "The length field indicates the total length of the message, so no
//! additional framing is used to distinguish one frame from the next."
//!
//! Only version 0x04 is accepted, except for HELLO (version negotiation: any version, with or
//! without a bitmap), and ERROR and ECHO, which a peer may send before or regardless of
//! negotiation. [`encode`] always writes version 0x04.
//!
//! ## Round trips
//!
//! `decode(encode(m)) == m` for every message, and `encode(decode(b)) == b` for every `b` in
//! canonical form: everything `ovs-ofctl` 3.1 and os-ken send, and everything [`encode`] writes.
//! Decoding is lenient where OpenFlow lets senders vary, and those inputs re-encode canonically:
//! non-zero padding bytes become zeros; an OXM with `hasmask` and an all-ones mask becomes an
//! exact match, and one with an all-zero mask disappears; a field sent in its other class (NXM
//! for one that has an OpenFlow basic header in a match, or the reverse in move/load) comes back
//! in the preferred class ([`crate::oxm`]); NXAST_RESUBMIT_TABLE with table 255 becomes
//! NXAST_RESUBMIT; a flow-stats `duration_nsec` of a second or more is carried into seconds.

use crate::error::DecodeError;
use crate::msg::Message;
use crate::msg::buf::{Put, len16};
use crate::msg::msg_type;

/// OpenFlow 1.3.
pub const OFP_VERSION: u8 = 0x04;
/// Size of `ofp_header`.
pub const HEADER_LEN: usize = 8;

/// `ofp_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    pub version: u8,
    pub msg_type: u8,
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Parses the first 8 bytes; checks nothing but their presence and `length >= 8`.
    pub fn parse(bytes: &[u8]) -> Result<Header, DecodeError> {
        let h = bytes
            .get(..HEADER_LEN)
            .ok_or(DecodeError::ShortHeader(bytes.len()))?;
        let length = u16::from_be_bytes([h[2], h[3]]);
        if usize::from(length) < HEADER_LEN {
            return Err(DecodeError::LengthTooShort(length));
        }
        Ok(Header {
            version: h[0],
            msg_type: h[1],
            length,
            xid: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        })
    }
}

/// Decodes the message at the front of `bytes` (bytes past the header's length are ignored).
pub fn decode(bytes: &[u8]) -> Result<(Header, Message), DecodeError> {
    let h = Header::parse(bytes)?;
    let len = usize::from(h.length);
    if len > bytes.len() {
        return Err(DecodeError::LengthPastEnd {
            declared: len,
            available: bytes.len(),
        });
    }
    let any_version = matches!(
        h.msg_type,
        msg_type::HELLO | msg_type::ERROR | msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY
    );
    if h.version != OFP_VERSION && !any_version {
        return Err(DecodeError::BadVersion(h.version));
    }
    let msg = Message::decode_body(h.msg_type, &bytes[HEADER_LEN..len])?;
    Ok((h, msg))
}

/// Encodes `msg` as an OpenFlow 1.3 message with transaction id `xid`.
pub fn encode(msg: &Message, xid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(msg, xid, &mut out);
    out
}

/// Appends `msg`, encoded as [`encode`] does, to `out` (to send many messages in one write).
pub fn encode_into(msg: &Message, xid: u32, out: &mut Vec<u8>) {
    let start = out.len();
    out.put_u8(OFP_VERSION);
    out.put_u8(msg.msg_type());
    out.put_u16(0);
    out.put_u32(xid);
    msg.encode_body(out);
    let len = len16(out.len() - start);
    out.set_u16(start + 2, len);
}

/// Why a byte stream cannot be split into messages any more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A header announced a length below 8 bytes: the stream has lost its framing and the
    /// connection must be closed (after an OFPBRC_BAD_LEN error).
    #[error("header length {0} is below the 8-byte header; the stream cannot be resynchronised")]
    LengthTooShort(u16),
}

/// Cuts a TCP byte stream into whole OpenFlow messages.
///
/// Feed it with [`FrameSplitter::push`] and take messages with [`FrameSplitter::next_frame`]
/// until it returns `None`. It never panics; once it reports a [`FramingError`] it keeps
/// reporting it.
#[derive(Debug, Default, Clone)]
pub struct FrameSplitter {
    buf: Vec<u8>,
    start: usize,
    failed: Option<FramingError>,
}

impl FrameSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message (header included), `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FramingError>> {
        if let Some(e) = self.failed {
            return Some(Err(e));
        }
        let pending = &self.buf[self.start..];
        if pending.len() < HEADER_LEN {
            return None;
        }
        let len = u16::from_be_bytes([pending[2], pending[3]]);
        if usize::from(len) < HEADER_LEN {
            self.failed = Some(FramingError::LengthTooShort(len));
            return Some(Err(FramingError::LengthTooShort(len)));
        }
        let len = usize::from(len);
        if pending.len() < len {
            return None;
        }
        let frame = pending[..len].to_vec();
        self.start += len;
        Some(Ok(frame))
    }
}

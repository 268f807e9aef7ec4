//! HELLO, ERROR and ECHO: the messages every version shares.

use crate::error::{DecodeError, Layer, OfError};
use crate::msg::buf::{Put, Reader, len16};

/// OFPHET_VERSIONBITMAP.
pub const OFPHET_VERSIONBITMAP: u16 = 1;

/// One HELLO element.
///
/// OpenFlow 1.3.5 §7.5.1: "The version field part of the header field (see 7.1) must be set to
/// the highest OpenFlow switch protocol version supported by the sender … The elements field is a
/// set of hello elements, containing optional data to inform the initial handshake of the
/// connection." Each element is `type(2) length(2)` and its body, "padded to a multiple of 8".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HelloElement {
    /// `ofp_hello_elem_versionbitmap`: bit N of the bitmaps means version N is supported.
    VersionBitmap(Vec<u32>),
    /// An element type this implementation does not know, kept raw.
    Unknown { elem_type: u16, data: Vec<u8> },
}

/// OFPT_HELLO.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
}

impl Hello {
    /// A HELLO advertising exactly the versions in `versions` (e.g. `[4]` gives bitmap 0x10).
    pub fn with_versions(versions: &[u8]) -> Self {
        let mut words = vec![0u32; 1];
        for &v in versions {
            let w = usize::from(v / 32);
            if words.len() <= w {
                words.resize(w + 1, 0);
            }
            words[w] |= 1 << (v % 32);
        }
        Hello {
            elements: vec![HelloElement::VersionBitmap(words)],
        }
    }

    /// The advertised versions, if a version bitmap is present.
    pub fn versions(&self) -> Option<Vec<u8>> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(words) => Some(
                (0..words.len() * 32)
                    .filter(|&i| words[i / 32] & (1 << (i % 32)) != 0)
                    .filter_map(|i| u8::try_from(i).ok())
                    .collect(),
            ),
            HelloElement::Unknown { .. } => None,
        })
    }

    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let mut elements = Vec::new();
        while r.remaining() >= 4 {
            let mut hr = r.clone();
            let elem_type = hr.u16()?;
            let len = usize::from(hr.u16()?);
            if len < 4 {
                return Err(DecodeError::BadLength {
                    layer: Layer::Message,
                    what: "hello element",
                    len,
                });
            }
            let mut e = Reader::new(r.bytes(len)?, Layer::Message);
            r.skip((len.next_multiple_of(8) - len).min(r.remaining()))?;
            e.skip(4)?;
            let data = e.rest();
            elements.push(match elem_type {
                OFPHET_VERSIONBITMAP if data.len().is_multiple_of(4) => {
                    HelloElement::VersionBitmap(
                        data.chunks_exact(4)
                            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                            .collect(),
                    )
                }
                _ => HelloElement::Unknown {
                    elem_type,
                    data: data.to_vec(),
                },
            });
        }
        if !r.is_empty() {
            return Err(DecodeError::BadLength {
                layer: Layer::Message,
                what: "hello trailing bytes",
                len: r.remaining(),
            });
        }
        Ok(Hello { elements })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for e in &self.elements {
            let start = out.len();
            match e {
                HelloElement::VersionBitmap(words) => {
                    out.put_u16(OFPHET_VERSIONBITMAP);
                    out.put_u16(len16(4 + 4 * words.len()));
                    words.iter().for_each(|w| out.put_u32(*w));
                }
                HelloElement::Unknown { elem_type, data } => {
                    out.put_u16(*elem_type);
                    out.put_u16(len16(4 + data.len()));
                    out.extend_from_slice(data);
                }
            }
            out.pad_to_8(start);
        }
    }
}

/// OFPT_ERROR.
///
/// OpenFlow 1.3.5 §7.4.4: `struct ofp_error_msg { header; uint16_t type; uint16_t code; uint8_t
/// data[0]; }`; for OFPET_EXPERIMENTER, `struct ofp_error_experimenter_msg { header; uint16_t
/// type; uint16_t exp_type; uint32_t experimenter; uint8_t data[0]; }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorMsg {
    pub error: OfError,
    /// The offending request (at least its first 64 bytes) or, for HELLO_FAILED, ASCII text.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    pub(crate) fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body, Layer::Message);
        let err_type = r.u16()?;
        let code = r.u16()?;
        let error = if err_type == 0xffff {
            OfError::Experimenter {
                exp_type: code,
                experimenter: r.u32()?,
            }
        } else {
            OfError::from_type_code(err_type, code)
        };
        Ok(ErrorMsg {
            error,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let (t, c) = self.error.type_code();
        out.put_u16(t);
        out.put_u16(c);
        if let OfError::Experimenter { experimenter, .. } = self.error {
            out.put_u32(experimenter);
        }
        out.extend_from_slice(&self.data);
    }
}

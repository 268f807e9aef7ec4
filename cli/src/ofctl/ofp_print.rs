//! `ofp-print INPUT`: decodes OpenFlow messages offline and prints them as `ovs-ofctl
//! ofp-print` does. INPUT is hex (spaces, colons and newlines between digits are ignored) or a
//! file holding either hex text or raw bytes; it may hold several messages back to back.

use std::path::Path;

use clap::Args;

use super::print::format_bytes;
use super::{OfctlError, out, parse_hex};

#[derive(Debug, Args)]
pub struct OfpPrintArgs {
    /// Hex digits, or a file of hex or of binary messages.
    pub input: String,
    /// Accepted for `ovs-ofctl` compatibility (packets are always printed).
    pub verbosity: Option<u8>,
}

/// The messages of `bytes` as text, one after the other.
pub fn print_all(bytes: &[u8]) -> String {
    let mut text = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = match rest.get(2..4) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])).max(8),
            None => rest.len(),
        };
        let (one, tail) = rest.split_at(len.min(rest.len()));
        text.push_str(&format_bytes(one));
        rest = tail;
    }
    text
}

pub fn run(a: &OfpPrintArgs) -> Result<(), OfctlError> {
    let path = Path::new(&a.input);
    let bytes = if path.is_file() {
        let raw = std::fs::read(path).map_err(|source| OfctlError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let is_hex = !raw.is_empty()
            && raw
                .iter()
                .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace() || *b == b':');
        if is_hex {
            parse_hex(&String::from_utf8_lossy(&raw))?
        } else {
            raw
        }
    } else {
        parse_hex(&a.input)?
    };
    out(&print_all(&bytes));
    Ok(())
}

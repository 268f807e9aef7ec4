//! One field value in flow text, parsed and printed per [`ValueFormat`].
//!
//! Parsers return the phrase describing what was expected (`"an IPv4 address"`) so that the
//! caller can build a [`TextError::BadValue`](super::TextError::BadValue) naming the token.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::action::PortNo;
use crate::field::{Field, ValueFormat, mask_of_width};

/// What a value of this format looks like, for error messages.
pub(super) fn expected(format: ValueFormat) -> &'static str {
    match format {
        ValueFormat::Decimal | ValueFormat::Hex | ValueFormat::EtherType => {
            "a number (decimal or 0x hex)"
        }
        ValueFormat::Mac => "a MAC address (xx:xx:xx:xx:xx:xx)",
        ValueFormat::Ipv4 => "an IPv4 address",
        ValueFormat::Ipv6 => "an IPv6 address",
        ValueFormat::Port => "a port number or a reserved port name (LOCAL, CONTROLLER, ...)",
        ValueFormat::Frag => "one of no, yes, first, later, not_later",
    }
}

/// An unsigned number, decimal or `0x` hex, that fits `u128`.
pub(super) fn parse_uint(s: &str) -> Option<u128> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    if digits.is_empty() {
        return None;
    }
    // By hand, one pass: `from_str_radix` into u128 costs several times more, and flow text
    // is mostly numbers.
    digits.bytes().try_fold(0u128, |v, b| {
        let d = char::from(b).to_digit(radix)?;
        v.checked_mul(u128::from(radix))?.checked_add(u128::from(d))
    })
}

/// A number no larger than `max`.
pub(super) fn parse_bounded(s: &str, max: u128) -> Option<u128> {
    parse_uint(s).filter(|&v| v <= max)
}

fn parse_mac(s: &str) -> Option<u128> {
    // Six groups of one or two hex digits separated by ':', in one pass over the bytes.
    let (mut v, mut group, mut digits, mut groups) = (0u128, 0u8, 0, 0);
    for c in s.bytes() {
        if c == b':' {
            if digits == 0 {
                return None;
            }
            v = (v << 8) | u128::from(group);
            (group, digits, groups) = (0, 0, groups + 1);
            continue;
        }
        digits += 1;
        if digits > 2 {
            return None;
        }
        group = group << 4 | char::from(c).to_digit(16)? as u8;
    }
    (digits > 0 && groups == 5).then(|| (v << 8) | u128::from(group))
}

/// A port number or a reserved port name.
pub(super) fn parse_port(s: &str) -> Option<PortNo> {
    if let Some(p) = PortNo::from_reserved_name(s) {
        return Some(p);
    }
    parse_bounded(s, u128::from(u32::MAX)).map(|v| PortNo(v as u32))
}

/// An exact value of `field`, without a mask.
pub(super) fn parse_exact(field: Field, s: &str) -> Result<u128, &'static str> {
    let format = field.info().format;
    let v = match format {
        ValueFormat::Decimal | ValueFormat::Hex | ValueFormat::EtherType => parse_uint(s),
        ValueFormat::Mac => parse_mac(s),
        ValueFormat::Ipv4 => s.parse::<Ipv4Addr>().ok().map(|a| u128::from(u32::from(a))),
        ValueFormat::Ipv6 => s.parse::<Ipv6Addr>().ok().map(u128::from),
        ValueFormat::Port => parse_port(s).map(|p| u128::from(p.0)),
        ValueFormat::Frag => parse_frag(s).filter(|&(_, m)| m == 3).map(|(v, _)| v),
    };
    v.ok_or(expected(format))
}

/// `nw_frag` words as OVS reads them, or a number `V[/M]`; returns (value, mask).
fn parse_frag(s: &str) -> Option<(u128, u128)> {
    Some(match s {
        "no" => (0, 1),
        "yes" => (1, 1),
        "first" => (1, 3),
        "later" => (3, 3),
        "not_later" => (0, 2),
        _ => {
            let (v, m) = match s.split_once('/') {
                Some((v, m)) => (parse_bounded(v, 3)?, parse_bounded(m, 3)?),
                None => (parse_bounded(s, 3)?, 3),
            };
            (v, m)
        }
    })
}

/// A value with an optional mask: `V/M`, an IPv4 or IPv6 `/prefix`, a MAC mask. Returns
/// (value, mask); the value is not yet masked.
pub(super) fn parse_masked(field: Field, s: &str) -> Result<(u128, u128), &'static str> {
    let info = field.info();
    let width = info.bits;
    if info.format == ValueFormat::Frag {
        return parse_frag(s).ok_or(expected(ValueFormat::Frag));
    }
    let Some((v, m)) = s.split_once('/') else {
        return Ok((parse_exact(field, s)?, field.full_mask()));
    };
    let value = parse_exact(field, v)?;
    let prefix = |max: u16| {
        (!m.is_empty() && m.len() <= 3 && m.chars().all(|c| c.is_ascii_digit()))
            .then(|| m.parse::<u16>().ok())
            .flatten()
            .filter(|&p| p <= max)
            .map(|p| prefix_mask(width, p))
    };
    let mask = match info.format {
        ValueFormat::Ipv4 => prefix(32).or_else(|| parse_exact(field, m).ok()),
        ValueFormat::Ipv6 => prefix(128).or_else(|| parse_exact(field, m).ok()),
        ValueFormat::Mac => parse_mac(m),
        _ => parse_uint(m),
    };
    mask.map(|mask| (value, mask))
        .ok_or("a mask (a prefix length, an address or a number)")
}

/// The mask of the top `prefix` bits of a `width`-bit field.
fn prefix_mask(width: u16, prefix: u16) -> u128 {
    let full = mask_of_width(width);
    if prefix == 0 {
        0
    } else {
        full & !mask_of_width(width - prefix.min(width))
    }
}

/// The prefix length if `mask` is a prefix mask of a `width`-bit field.
fn prefix_len(width: u16, mask: u128) -> Option<u16> {
    let ones = mask.count_ones() as u16;
    (prefix_mask(width, ones) == mask).then_some(ones)
}

/// `%#x` as C prints it: `0` for zero, `0x1f42` otherwise.
pub(super) fn hex(v: u128) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

pub(super) fn mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn ipv4(v: u128) -> String {
    Ipv4Addr::from(v as u32).to_string()
}

fn ipv6(v: u128) -> String {
    Ipv6Addr::from(v).to_string()
}

/// `nw_frag` as OVS prints it where that reads back exactly; a number otherwise.
pub(super) fn frag(v: u128, m: u128) -> String {
    match (v, m) {
        (0, 1) => "no".into(),
        (1, 1) => "yes".into(),
        (1, 3) => "first".into(),
        (3, 3) => "later".into(),
        (0, 2) => "not_later".into(),
        (v, 3) => format!("{v:#x}"),
        (v, m) => format!("{v:#x}/{m:#x}"),
    }
}

/// An exact value as `set_field` and a packet print it.
pub(super) fn format_exact(field: Field, v: u128) -> String {
    match field.info().format {
        ValueFormat::Decimal => v.to_string(),
        ValueFormat::Hex => hex(v),
        ValueFormat::EtherType => format!("0x{v:04x}"),
        ValueFormat::Mac => mac(v),
        ValueFormat::Ipv4 => ipv4(v),
        ValueFormat::Ipv6 => ipv6(v),
        ValueFormat::Port => PortNo(v as u32).to_string(),
        ValueFormat::Frag => frag(v, 3),
    }
}

/// A value with its mask as a match prints it (the mask only when not exact).
pub(super) fn format_masked(field: Field, v: u128, m: u128) -> String {
    let info = field.info();
    if m == field.full_mask() {
        return format_exact(field, v);
    }
    match info.format {
        // format_be16_masked(): decimal when exact, hex pair otherwise.
        ValueFormat::Decimal | ValueFormat::EtherType | ValueFormat::Port => {
            format!("0x{v:x}/0x{m:x}")
        }
        // format_uint32_masked() / format_be64_masked(): "%#x/%#x".
        ValueFormat::Hex => format!("{}/{}", hex(v), hex(m)),
        ValueFormat::Mac => format!("{}/{}", mac(v), mac(m)),
        ValueFormat::Ipv4 => match prefix_len(32, m) {
            Some(p) => format!("{}/{p}", ipv4(v)),
            None => format!("{}/{}", ipv4(v), ipv4(m)),
        },
        ValueFormat::Ipv6 => match prefix_len(128, m) {
            Some(p) => format!("{}/{p}", ipv6(v)),
            None => format!("{}/{}", ipv6(v), ipv6(m)),
        },
        ValueFormat::Frag => frag(v, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses() {
        assert_eq!(parse_uint("0x1f42"), Some(0x1f42));
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(
            parse_uint("99999999999999999999999999999999999999999"),
            None
        );
        assert_eq!(
            parse_masked(Field::Ipv4Dst, "10.1.0.0/24"),
            Ok((0x0a01_0000, 0xffff_ff00))
        );
        assert_eq!(
            parse_masked(Field::Ipv4Dst, "10.1.0.0/255.255.0.255"),
            Ok((0x0a01_0000, 0xffff_00ff))
        );
        assert_eq!(
            parse_masked(Field::EthDst, "01:00:00:00:00:00/01:00:00:00:00:00"),
            Ok((0x0100_0000_0000, 0x0100_0000_0000))
        );
        assert!(parse_masked(Field::Ipv4Dst, "10.1.0.300").is_err());
        assert!(parse_masked(Field::Ipv4Dst, "10.1.0.0/33").is_err());
    }

    #[test]
    fn macs_are_six_groups_of_one_or_two_hex_digits() {
        assert_eq!(parse_mac("fa:16:3e:c5:02:4d"), Some(0xfa16_3ec5_024d));
        assert_eq!(parse_mac("FA:1:3e:0:2:D"), Some(0xfa01_3e00_020d));
        for bad in [
            "",
            "fa:16:3e:c5:02",
            "fa:16:3e:c5:02:4d:00",
            "fa:16:3e:c5:02:",
            ":16:3e:c5:02:4d",
            "fa::3e:c5:02:4d",
            "fa:160:3e:c5:02:4d",
            "fa:16:3e:c5:02:4g",
            "fa-16-3e-c5-02-4d",
            "fa:16:3e:c5:02:4\u{e9}",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn masks_print_like_ovs() {
        assert_eq!(
            format_masked(Field::Ipv4Dst, 0x0a01_0000, 0xffff_ff00),
            "10.1.0.0/24"
        );
        assert_eq!(
            format_masked(Field::Ipv4Dst, 0x0a01_0000, 0xffff_00ff),
            "10.1.0.0/255.255.0.255"
        );
        assert_eq!(
            format_masked(Field::Metadata, 0x1f42, 0xffff),
            "0x1f42/0xffff"
        );
        assert_eq!(format_masked(Field::Metadata, 0, u128::from(u64::MAX)), "0");
        assert_eq!(format_masked(Field::TcpDst, 0x50, 0xfff0), "0x50/0xfff0");
        assert_eq!(
            format_masked(Field::Ipv6Src, 0xfe80 << 112, u128::MAX << 64),
            "fe80::/64"
        );
    }
}

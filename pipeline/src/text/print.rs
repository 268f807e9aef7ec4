//! Flows, matches, instructions and packets → OVS flow text.
//!
//! The rules are those of OVS 3.1 `ofputil_flow_stats_format()` and `match_format()`; see
//! `notes/ofctl-wire.md` §6.

use std::fmt::Write as _;

use super::FlowStyle;
use super::parse::{ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST, SHORTHANDS};
use super::value::{format_exact, format_masked, frag, hex};
use crate::action::{Action, Instruction, PortNo};
use crate::field::{ETH_TYPE_IPV4, ETH_TYPE_IPV6, Field, FieldRange, Prerequisite, VLAN_PRESENT};
use crate::flow::{DEFAULT_PRIORITY, FlowSpec, FlowStats};
use crate::flow_match::{FieldMatch, Match};
use crate::key::FlowKey;

/// The shorthand for `dl_type` (and `nw_proto` when given), and whether it implies `nw_proto`.
fn shorthand(eth: u16, proto: Option<u8>) -> Option<(&'static str, bool)> {
    if eth == ETH_TYPE_IPV4 || eth == ETH_TYPE_IPV6 {
        if let Some(p) = proto
            && let Some(s) = SHORTHANDS.iter().find(|s| s.1 == eth && s.2 == Some(p))
        {
            return Some((s.0, true));
        }
        let word = if eth == ETH_TYPE_IPV4 { "ip" } else { "ipv6" };
        return Some((word, false));
    }
    if eth == ETH_TYPE_MPLS || eth == ETH_TYPE_MPLS_MCAST || SHORTHANDS.iter().any(|s| s.1 == eth) {
        return SHORTHANDS
            .iter()
            .find(|s| s.1 == eth && s.2.is_none())
            .map(|s| (s.0, false));
    }
    None
}

/// The name a match prints a field under (OVS prints ICMPv6 type/code as `icmp_type`/`icmp_code`).
fn print_name(field: Field) -> &'static str {
    match field {
        Field::Icmpv6Type => "icmp_type",
        Field::Icmpv6Code => "icmp_code",
        f => f.info().match_name,
    }
}

/// One matched field as `name=value[/mask]`.
fn field_text(fm: &FieldMatch) -> String {
    match fm.field {
        Field::IpDscp => format!("nw_tos={}", fm.value << 2),
        Field::EthType => format!("dl_type=0x{:04x}", fm.value),
        Field::IpFrag => format!("nw_frag={}", frag(fm.value, fm.mask)),
        f => format!("{}={}", print_name(f), format_masked(f, fm.value, fm.mask)),
    }
}

/// The VLAN words for an OpenFlow VLAN_VID / VLAN_PCP pair, as OVS prints its `vlan_tci`.
fn vlan_text(vid: Option<&FieldMatch>, pcp: Option<&FieldMatch>) -> String {
    let (mut v, mut m) = (0u16, 0u16);
    if let Some(x) = vid {
        v |= (x.value & 0x1fff) as u16;
        m |= (x.mask & 0x1fff) as u16;
    }
    if let Some(x) = pcp {
        v |= ((x.value & 7) as u16) << 13;
        m |= ((x.mask & 7) as u16) << 13;
    }
    let vid_mask = m & 0x0fff;
    let pcp_mask = m & 0xe000;
    if m & 0x1000 != 0
        && v & 0x1000 != 0
        && (vid_mask == 0 || vid_mask == 0x0fff)
        && (pcp_mask == 0 || pcp_mask == 0xe000)
        && (vid_mask | pcp_mask) != 0
    {
        let mut parts = Vec::new();
        if vid_mask != 0 {
            parts.push(format!("dl_vlan={}", v & 0x0fff));
        }
        if pcp_mask != 0 {
            parts.push(format!("dl_vlan_pcp={}", v >> 13));
        }
        parts.join(",")
    } else if m == 0xffff {
        format!("vlan_tci=0x{v:04x}")
    } else {
        format!("vlan_tci=0x{v:04x}/0x{m:04x}")
    }
}

/// A match as OVS prints it: `priority=N,` (unless 32768), the protocol shorthand, then the
/// fields in OVS's order, without a trailing comma. An empty match with the default priority
/// is the empty string.
pub fn format_match(m: &Match, priority: u16) -> String {
    let mut parts = Vec::new();
    if priority != DEFAULT_PRIORITY {
        parts.push(format!("priority={priority}"));
    }
    let eth = m.get(Field::EthType).map(|f| f.value as u16);
    let proto = m.get(Field::IpProto).map(|f| f.value as u8);
    let short = eth.and_then(|e| shorthand(e, proto));
    for f in Field::ALL {
        if f == Field::Reg0
            && let Some((word, _)) = short
        {
            parts.push(word.to_string());
        }
        match f {
            Field::EthType if short.is_some() => continue,
            Field::IpProto if short.is_some_and(|s| s.1) => continue,
            Field::VlanVid => {
                let (vid, pcp) = (m.get(Field::VlanVid), m.get(Field::VlanPcp));
                if vid.is_some() || pcp.is_some() {
                    parts.push(vlan_text(vid, pcp));
                }
                continue;
            }
            Field::VlanPcp => continue,
            _ => {}
        }
        if let Some(fm) = m.get(f) {
            parts.push(field_text(fm));
        }
    }
    parts.join(",")
}

fn subfield(r: &FieldRange) -> String {
    let name = r.field.info().nxm_name;
    if r.is_whole() {
        format!("{name}[]")
    } else if r.bits == 1 {
        format!("{name}[{}]", r.offset)
    } else {
        format!("{name}[{}..{}]", r.offset, r.offset + r.bits - 1)
    }
}

fn action_text(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } => match port.reserved_name() {
            _ if *port == PortNo::CONTROLLER => format!("CONTROLLER:{max_len}"),
            Some(name) => name.to_string(),
            None => format!("output:{}", port.0),
        },
        Action::SetField { field, value } => format!(
            "set_field:{}->{}",
            format_exact(*field, *value),
            field.info().set_name
        ),
        Action::Load { dst, value } => format!("load:{}->{}", hex(*value), subfield(dst)),
        Action::Move { src, dst } => format!("move:{}->{}", subfield(src), subfield(dst)),
        Action::DecTtl => "dec_ttl".into(),
        Action::PushVlan { ethertype } => format!("push_vlan:{}", hex(u128::from(*ethertype))),
        Action::PopVlan => "pop_vlan".into(),
        Action::Resubmit { in_port, table } => {
            let in_port = in_port.filter(|p| *p != PortNo::IN_PORT);
            match (in_port, table) {
                (Some(p), None) => format!("resubmit:{p}"),
                (p, t) => format!(
                    "resubmit({},{})",
                    p.map(|p| p.to_string()).unwrap_or_default(),
                    t.map(|t| t.to_string()).unwrap_or_default()
                ),
            }
        }
    }
}

fn actions_text(actions: &[Action]) -> String {
    actions
        .iter()
        .map(action_text)
        .collect::<Vec<_>>()
        .join(",")
}

/// The body of `actions=`: apply-actions first, then `clear_actions`, `write_actions(…)`,
/// `write_metadata:V[/M]`, `goto_table:N` (OpenFlow's order, which is how OVS prints them);
/// `drop` when there is nothing.
pub fn format_instructions(insts: &[Instruction]) -> String {
    let mut sorted: Vec<&Instruction> = insts.iter().collect();
    sorted.sort_by_key(|i| i.rank());
    let parts: Vec<String> = sorted
        .into_iter()
        .filter_map(|i| match i {
            Instruction::ApplyActions(a) if a.is_empty() => None,
            Instruction::ApplyActions(a) => Some(actions_text(a)),
            Instruction::ClearActions => Some("clear_actions".into()),
            Instruction::WriteActions(a) => Some(format!("write_actions({})", actions_text(a))),
            Instruction::WriteMetadata { value, mask } => Some(if *mask == u64::MAX {
                format!("write_metadata:{}", hex(u128::from(*value)))
            } else {
                format!(
                    "write_metadata:{}/{}",
                    hex(u128::from(*value)),
                    hex(u128::from(*mask))
                )
            }),
            Instruction::GotoTable(t) => Some(format!("goto_table:{t}")),
        })
        .collect();
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

/// `duration=` as `ofp_print_duration()`: no decimals for whole seconds, 3 for whole
/// milliseconds, otherwise as many as needed.
fn duration_text(d: std::time::Duration) -> String {
    let (sec, nsec) = (d.as_secs(), d.subsec_nanos());
    if nsec == 0 {
        format!("{sec}s")
    } else if nsec % 1_000_000 == 0 {
        format!("{sec}.{:03}s", nsec / 1_000_000)
    } else {
        let frac = format!("{nsec:09}");
        format!("{sec}.{}s", frac.trim_end_matches('0'))
    }
}

fn counter(n: u64) -> String {
    if n == u64::MAX {
        "?".into()
    } else {
        n.to_string()
    }
}

/// Timeouts, flag words and the match, then ` actions=…`, appended to `out`.
fn flow_tail(out: &mut String, spec: &FlowSpec) {
    if spec.idle_timeout != 0 {
        let _ = write!(out, "idle_timeout={}, ", spec.idle_timeout);
    }
    if spec.hard_timeout != 0 {
        let _ = write!(out, "hard_timeout={}, ", spec.hard_timeout);
    }
    for (bit, name) in crate::flow::FlowFlags::NAMES {
        if spec.flags.has(bit) {
            out.push_str(name);
            out.push(' ');
        }
    }
    out.push_str(&format_match(&spec.matching, spec.priority));
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
    out.push_str("actions=");
    out.push_str(&format_instructions(&spec.instructions));
}

/// One line of `ovs-ofctl -O OpenFlow13 dump-flows` output, exactly as OVS 3.1 prints it
/// (with its leading space, without a newline).
pub fn format_flow(stats: &FlowStats, style: FlowStyle) -> String {
    let spec = &stats.spec;
    let with_stats = style == FlowStyle::Stats;
    let mut out = String::from(" ");
    if with_stats || spec.cookie != 0 {
        let _ = write!(out, "cookie={:#x}, ", spec.cookie);
    }
    if with_stats {
        let _ = write!(out, "duration={}, ", duration_text(stats.duration));
    }
    if with_stats || spec.table != 0 {
        let _ = write!(out, "table={}, ", spec.table);
    }
    if with_stats {
        let _ = write!(
            out,
            "n_packets={}, n_bytes={}, ",
            counter(stats.packets),
            counter(stats.bytes)
        );
    }
    flow_tail(&mut out, spec);
    out
}

/// A flow without statistics, in a form [`parse_flow`](super::parse_flow) reads back:
/// `[cookie=0x…, ]table=N, [idle_timeout=N, ][hard_timeout=N, ][flags ]<match> actions=…`.
pub fn format_spec(spec: &FlowSpec) -> String {
    let mut out = String::new();
    if spec.cookie != 0 {
        let _ = write!(out, "cookie={:#x}, ", spec.cookie);
    }
    let _ = write!(out, "table={}, ", spec.table);
    flow_tail(&mut out, spec);
    out
}

/// True when the key's protocol makes `field` meaningful.
fn meaningful(k: &FlowKey, field: Field) -> bool {
    let eth = k.get(Field::EthType) as u16;
    match field.info().prerequisite {
        Prerequisite::None => true,
        Prerequisite::EthType(types) => types.contains(&eth),
        Prerequisite::IpProto(types, p) => {
            types.contains(&eth) && k.get(Field::IpProto) == u128::from(p)
        }
        Prerequisite::VlanPresent => k.get(Field::VlanVid) & VLAN_PRESENT != 0,
    }
}

/// A packet in the syntax [`parse_packet`](super::parse_packet) reads: the protocol
/// shorthand, then the non-zero fields meaningful for the protocol in OVS's order (`nw_ttl`
/// always for IP, since it defaults to 64 when absent).
pub fn format_key(k: &FlowKey) -> String {
    let eth = k.get(Field::EthType) as u16;
    let is_ip = eth == ETH_TYPE_IPV4 || eth == ETH_TYPE_IPV6;
    let proto = is_ip.then(|| k.get(Field::IpProto) as u8);
    let short = shorthand(eth, proto);
    let mut parts = Vec::new();
    for f in Field::ALL {
        if f == Field::Reg0
            && let Some((word, _)) = short
        {
            parts.push(word.to_string());
        }
        let v = k.get(f);
        match f {
            Field::EthType if short.is_some() || v == 0 => continue,
            Field::IpProto if short.is_some_and(|s| s.1) => continue,
            Field::IpTtl if is_ip => {}
            _ if v == 0 || !meaningful(k, f) => continue,
            Field::VlanVid if v & VLAN_PRESENT != 0 => {
                parts.push(format!("dl_vlan={}", v & 0xfff));
                continue;
            }
            Field::VlanPcp => {
                parts.push(format!("dl_vlan_pcp={v}"));
                continue;
            }
            _ => {}
        }
        parts.push(field_text(&FieldMatch {
            field: f,
            value: v,
            mask: f.full_mask(),
        }));
    }
    parts.join(",")
}

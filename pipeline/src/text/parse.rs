//! Flow text → [`FlowMod`], action text → [`Instruction`]s, packet text → [`FlowKey`].

use super::TextError;
use super::lexer::{Lexer, Token};
use super::value::{parse_bounded, parse_exact, parse_masked, parse_port, parse_uint};
use crate::action::{
    ALL_TABLES, Action, CONTROLLER_MAX_LEN_NO_BUFFER, Instruction, MAX_TABLE, PortNo,
    validate_instructions,
};
use crate::field::{
    ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_RARP, Field, FieldRange, IP_PROTO_ICMP,
    IP_PROTO_ICMPV6, IP_PROTO_SCTP, IP_PROTO_TCP, IP_PROTO_UDP,
};
use crate::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec};
use crate::flow_match::{Match, MatchError};
use crate::key::FlowKey;

/// EtherTypes OVS has a shorthand for beyond the field constants.
pub(super) const ETH_TYPE_MPLS: u16 = 0x8847;
pub(super) const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
pub(super) const IP_PROTO_IGMP: u8 = 2;

/// The protocol shorthands: word, EtherType, IP protocol.
pub(super) const SHORTHANDS: [(&str, u16, Option<u8>); 15] = [
    ("ip", ETH_TYPE_IPV4, None),
    ("icmp", ETH_TYPE_IPV4, Some(IP_PROTO_ICMP)),
    ("igmp", ETH_TYPE_IPV4, Some(IP_PROTO_IGMP)),
    ("tcp", ETH_TYPE_IPV4, Some(IP_PROTO_TCP)),
    ("udp", ETH_TYPE_IPV4, Some(IP_PROTO_UDP)),
    ("sctp", ETH_TYPE_IPV4, Some(IP_PROTO_SCTP)),
    ("ipv6", ETH_TYPE_IPV6, None),
    ("icmp6", ETH_TYPE_IPV6, Some(IP_PROTO_ICMPV6)),
    ("tcp6", ETH_TYPE_IPV6, Some(IP_PROTO_TCP)),
    ("udp6", ETH_TYPE_IPV6, Some(IP_PROTO_UDP)),
    ("sctp6", ETH_TYPE_IPV6, Some(IP_PROTO_SCTP)),
    ("arp", ETH_TYPE_ARP, None),
    ("rarp", ETH_TYPE_RARP, None),
    ("mpls", ETH_TYPE_MPLS, None),
    ("mplsm", ETH_TYPE_MPLS_MCAST, None),
];

/// Names several fields share; the protocol of the match picks the field.
fn by_protocol(name: &str) -> bool {
    matches!(name, "tp_src" | "tp_dst" | "icmp_type" | "icmp_code")
}

fn need_value<'a>(tok: &Token<'a>, example: &'static str) -> Result<&'a str, TextError> {
    tok.value.ok_or_else(|| TextError::MissingValue {
        key: tok.key.to_string(),
        example,
    })
}

fn no_value(tok: &Token<'_>) -> Result<(), TextError> {
    match tok.value {
        // `dec_ttl()` and the like: empty parentheses are no value.
        Some("") if tok.sep == Some(b'(') => Ok(()),
        Some(_) => Err(TextError::UnexpectedValue {
            key: tok.key.to_string(),
            token: tok.text(),
        }),
        None => Ok(()),
    }
}

fn bad(value: &str, expected: &'static str, tok: &Token<'_>) -> TextError {
    TextError::BadValue {
        value: value.to_string(),
        expected,
        token: tok.text(),
    }
}

fn number(tok: &Token<'_>, max: u128, expected: &'static str) -> Result<u128, TextError> {
    let v = need_value(tok, "N")?;
    parse_bounded(v, max).ok_or_else(|| bad(v, expected, tok))
}

/// Parses one flow as `ovs-ofctl -O OpenFlow13 add-flow` (`command` = `Add`), `mod-flows`
/// (`Modify`, `ModifyStrict`) or `del-flows` (`Delete`, `DeleteStrict`) reads it.
///
/// Defaults: priority 32768; table 0, except for deletes, where it is all tables (255).
/// `cookie=V` sets the cookie (add and modify); `cookie=V/M` selects flows by cookie (modify
/// and delete; `/-1` is all ones). `actions=` is required for add and modify and refused for
/// delete.
pub fn parse_flow(s: &str, command: FlowModCommand) -> Result<FlowMod, TextError> {
    use FlowModCommand as C;
    let is_delete = matches!(command, C::Delete | C::DeleteStrict);
    let name = match command {
        C::Add => "add-flow",
        C::Modify | C::ModifyStrict => "mod-flows",
        C::Delete | C::DeleteStrict => "del-flows",
    };
    let mut spec = FlowSpec::default();
    let mut table = None;
    let mut cookie_mask = 0;
    let mut out_port = PortNo::ANY;
    let mut builder = MatchBuilder::default();
    let mut actions = None;
    for tok in Lexer::flow(s) {
        let tok = tok?;
        match tok.key {
            "actions" if tok.sep == Some(b'=') => actions = tok.value,
            "table" => {
                let t = number(&tok, 255, "a table number (0..=254, 255 = all)")? as u8;
                if t > MAX_TABLE && !is_delete {
                    return Err(TextError::NotAllowed {
                        token: tok.text(),
                        why: "only del-flows can name all tables (255); tables are 0..=254",
                    });
                }
                table = Some(t);
            }
            "priority" => spec.priority = number(&tok, 0xffff, "a priority (0..=65535)")? as u16,
            "idle_timeout" => {
                spec.idle_timeout = number(&tok, 0xffff, "a timeout in seconds (0..=65535)")? as u16
            }
            "hard_timeout" => {
                spec.hard_timeout = number(&tok, 0xffff, "a timeout in seconds (0..=65535)")? as u16
            }
            "cookie" => {
                let v = need_value(&tok, "0x1f42")?;
                let u64_of = |s: &str| {
                    parse_bounded(s, u128::from(u64::MAX))
                        .map(|v| v as u64)
                        .ok_or_else(|| bad(s, "a 64-bit number (decimal or 0x hex)", &tok))
                };
                match v.split_once('/') {
                    Some(_) if command == C::Add => {
                        return Err(TextError::NotAllowed {
                            token: tok.text(),
                            why: "flow additions cannot use a cookie mask",
                        });
                    }
                    Some((c, m)) => {
                        spec.cookie = u64_of(c)?;
                        cookie_mask = if m == "-1" { u64::MAX } else { u64_of(m)? };
                    }
                    None if is_delete => {
                        return Err(TextError::NotAllowed {
                            token: tok.text(),
                            why: "del-flows selects by cookie=VALUE/MASK and cannot set a cookie",
                        });
                    }
                    None => spec.cookie = u64_of(v)?,
                }
            }
            "out_port" => {
                if !is_delete {
                    return Err(TextError::NotAllowed {
                        token: tok.text(),
                        why: "out_port only selects flows in del-flows",
                    });
                }
                let v = need_value(&tok, "3")?;
                out_port = parse_port(v).ok_or_else(|| bad(v, "a port", &tok))?;
            }
            key => match FlowFlags::NAMES.iter().find(|(_, n)| *n == key) {
                Some((bit, _)) => {
                    no_value(&tok)?;
                    spec.flags.0 |= bit;
                }
                None => builder.item(&tok)?,
            },
        }
    }
    spec.table = table.unwrap_or(if is_delete { ALL_TABLES } else { 0 });
    let ip_proto = builder.ip_proto();
    spec.matching = builder.finish()?;
    match (actions, is_delete) {
        (Some(_), true) => return Err(TextError::UnexpectedActions { command: name }),
        (None, false) => return Err(TextError::MissingActions { command: name }),
        (None, true) => {}
        (Some(text), false) => {
            spec.instructions = parse_instructions(text, ip_proto)?;
            validate_instructions(spec.table, &spec.instructions)?;
        }
    }
    Ok(FlowMod {
        command,
        spec,
        cookie_mask,
        out_port,
    })
}

/// Parses a packet (a microflow) as `ofproto/trace` takes it: `in_port=12,ip,nw_src=…`.
///
/// Only exact values; shorthands set `dl_type` and `nw_proto`; fields not given are 0, except
/// `nw_ttl`, which is 64 for IPv4 and IPv6.
pub fn parse_packet(s: &str) -> Result<FlowKey, TextError> {
    let mut builder = MatchBuilder {
        exact_only: true,
        ..MatchBuilder::default()
    };
    for tok in Lexer::actions(s) {
        builder.item(&tok?)?;
    }
    let m = builder.finish()?;
    let mut key = FlowKey::default();
    for fm in m.fields() {
        key.set_masked(fm.field, fm.value, fm.mask);
    }
    let eth = key.get(Field::EthType);
    if m.get(Field::IpTtl).is_none()
        && (eth == u128::from(ETH_TYPE_IPV4) || eth == u128::from(ETH_TYPE_IPV6))
    {
        key.set(Field::IpTtl, 64);
    }
    Ok(key)
}

/// A field as given, before the protocol is known.
#[derive(Debug)]
struct Item<'a> {
    field: Field,
    value: u128,
    mask: u128,
    /// The name was `tp_src`/`tp_dst`/`icmp_type`/`icmp_code`: refine by the protocol.
    refine: bool,
    /// The token as written, for errors.
    token: &'a str,
}

#[derive(Debug)]
enum Pending<'a> {
    Field(Item<'a>),
    /// Where the merged VLAN words go.
    Vlan,
}

/// The VLAN words (`dl_vlan`, `dl_vlan_pcp`, `vlan_tci`, `vlan_vid`) merged into one TCI
/// value and mask (bits 0..12 = OpenFlow VLAN_VID with the 0x1000 present bit, 13..15 = PCP).
#[derive(Debug, Default)]
struct Vlan<'a> {
    value: u16,
    mask: u16,
    vid: bool,
    pcp: bool,
    token: &'a str,
}

#[derive(Debug, Default)]
struct MatchBuilder<'a> {
    items: Vec<Pending<'a>>,
    vlan: Option<Vlan<'a>>,
    exact_only: bool,
}

impl<'a> MatchBuilder<'a> {
    fn push(&mut self, field: Field, value: u128, mask: u128, refine: bool, tok: &Token<'a>) {
        self.items.push(Pending::Field(Item {
            field,
            value,
            mask,
            refine,
            token: tok.text,
        }));
    }

    /// One match item: a shorthand word or `field=value`.
    fn item(&mut self, tok: &Token<'a>) -> Result<(), TextError> {
        let Some(v) = tok.value else {
            if let Some(&(_, eth, proto)) = SHORTHANDS.iter().find(|s| s.0 == tok.key) {
                self.push(Field::EthType, u128::from(eth), 0xffff, false, tok);
                if let Some(p) = proto {
                    self.push(Field::IpProto, u128::from(p), 0xff, false, tok);
                }
                return Ok(());
            }
            let known = Field::from_text_name(tok.key).is_some()
                || matches!(tok.key, "nw_tos" | "dl_vlan" | "vlan_tci");
            return Err(if known {
                TextError::MissingValue {
                    key: tok.key.to_string(),
                    example: "VALUE",
                }
            } else {
                TextError::UnknownField {
                    name: tok.key.to_string(),
                    token: tok.text(),
                }
            });
        };
        if self.exact_only && v.contains('/') {
            return Err(TextError::NotAllowed {
                token: tok.text(),
                why: "a packet has exact values only (no masks)",
            });
        }
        match tok.key {
            "nw_tos" => {
                let tos = parse_bounded(v, 0xff)
                    .filter(|t| t & 3 == 0)
                    .ok_or_else(|| {
                        bad(
                            v,
                            "a TOS byte with the ECN bits clear (0..=252, a multiple of 4)",
                            tok,
                        )
                    })?;
                self.push(Field::IpDscp, tos >> 2, 0x3f, false, tok);
            }
            "dl_vlan" | "dl_vlan_pcp" | "vlan_pcp" | "vlan_tci" | "vlan_vid" => {
                self.vlan(tok, v)?
            }
            key => {
                let field = Field::from_text_name(key).ok_or_else(|| TextError::UnknownField {
                    name: key.to_string(),
                    token: tok.text(),
                })?;
                let (value, mask) = parse_masked(field, v).map_err(|e| bad(v, e, tok))?;
                // OVS masks the value; bits beyond the field stay so the match reports them.
                let value = value & (mask | !field.full_mask());
                self.push(field, value, mask, by_protocol(key), tok);
            }
        }
        Ok(())
    }

    fn vlan(&mut self, tok: &Token<'a>, v: &str) -> Result<(), TextError> {
        let masked = |max: u128| -> Result<(u16, u16), TextError> {
            let (value, mask) = match v.split_once('/') {
                Some((a, b)) => (parse_bounded(a, max), parse_bounded(b, max)),
                None => (parse_bounded(v, max), Some(max)),
            };
            match (value, mask) {
                (Some(value), Some(mask)) => Ok(((value & mask) as u16, mask as u16)),
                _ => Err(bad(
                    v,
                    "a number (decimal or 0x hex) in range, with an optional /mask",
                    tok,
                )),
            }
        };
        let (value, mask, vid, pcp) = match tok.key {
            "dl_vlan" => match parse_uint(v) {
                Some(0xffff) => (0, 0x1fff, true, false),
                Some(n) if n <= 0xfff => (0x1000 | n as u16, 0x1fff, true, false),
                _ => return Err(bad(v, "a VLAN id (0..=4095, or 0xffff for no VLAN)", tok)),
            },
            "dl_vlan_pcp" | "vlan_pcp" => match parse_bounded(v, 7) {
                Some(p) => (((p as u16) << 13) | 0x1000, 0xf000, false, true),
                None => return Err(bad(v, "a VLAN priority (0..=7)", tok)),
            },
            "vlan_vid" => {
                let (value, mask) = masked(0x1fff)?;
                (value, mask, true, false)
            }
            _ => {
                let (value, mask) = masked(0xffff)?;
                (value, mask, true, true)
            }
        };
        if self.vlan.is_none() {
            self.items.push(Pending::Vlan);
        }
        let acc = self.vlan.get_or_insert_with(|| Vlan {
            token: tok.text,
            ..Vlan::default()
        });
        let twice = (vid && acc.vid) || (pcp && acc.pcp);
        if twice || acc.mask & mask & (acc.value ^ value) != 0 {
            return Err(TextError::Field {
                error: MatchError::Duplicate {
                    field: if pcp { Field::VlanPcp } else { Field::VlanVid },
                },
                token: tok.text(),
            });
        }
        acc.value |= value;
        acc.mask |= mask;
        acc.vid |= vid;
        acc.pcp |= pcp;
        Ok(())
    }

    /// The IP protocol the match names, if any.
    fn ip_proto(&self) -> u8 {
        self.items
            .iter()
            .find_map(|p| match p {
                Pending::Field(i) if i.field == Field::IpProto => Some(i.value as u8),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The match, with shared names resolved, VLAN words merged and prerequisites checked.
    fn finish(self) -> Result<Match, TextError> {
        let proto = self.ip_proto();
        let mut m = Match::with_capacity(self.items.len());
        let add = |m: &mut Match, field: Field, value, mask, token: &str| {
            let same = m
                .get(field)
                .is_some_and(|f| f.value == value && f.mask == mask);
            if same {
                return Ok(());
            }
            m.push(field, value, mask)
                .map_err(|error| TextError::Field {
                    error,
                    token: token.to_string(),
                })
        };
        for p in self.items {
            match p {
                Pending::Field(i) => {
                    let field = if i.refine {
                        i.field.for_protocol(proto)
                    } else {
                        i.field
                    };
                    add(&mut m, field, i.value, i.mask, i.token)?;
                }
                Pending::Vlan => {
                    let Some(vlan) = &self.vlan else { continue };
                    let (vid, pcp) = vlan_fields(vlan)?;
                    if let Some((v, mask)) = vid {
                        add(&mut m, Field::VlanVid, v, mask, vlan.token)?;
                    }
                    if let Some(p) = pcp {
                        add(&mut m, Field::VlanPcp, p, 7, vlan.token)?;
                    }
                }
            }
        }
        m.validate()?;
        Ok(m)
    }
}

/// Splits a TCI value/mask into the OpenFlow VLAN_VID (value, mask) and VLAN_PCP.
#[allow(clippy::type_complexity)]
fn vlan_fields(vlan: &Vlan) -> Result<(Option<(u128, u128)>, Option<u128>), TextError> {
    let (mut v, mut m) = (vlan.value, vlan.mask);
    let pcp_mask = m & 0xe000;
    let not_allowed = |why| TextError::NotAllowed {
        token: vlan.token.to_string(),
        why,
    };
    if pcp_mask != 0 && pcp_mask != 0xe000 {
        return Err(TextError::Field {
            error: MatchError::NotMaskable {
                field: Field::VlanPcp,
            },
            token: vlan.token.to_string(),
        });
    }
    if pcp_mask != 0 {
        if m & 0x1000 == 0 {
            if v & 0xe000 == 0 {
                return Err(not_allowed(
                    "a VLAN priority of 0 without the tag-present bit (0x1000) cannot be \
                     expressed in OpenFlow 1.3",
                ));
            }
            // A non-zero PCP only occurs in a tagged frame.
            v |= 0x1000;
            m |= 0x1000;
        } else if v & 0x1000 == 0 {
            if v & 0xe000 != 0 {
                return Err(not_allowed(
                    "a VLAN priority on an untagged frame never matches",
                ));
            }
            m &= 0x1fff;
        }
    }
    let vid = (m & 0x1fff != 0).then_some((u128::from(v & 0x1fff), u128::from(m & 0x1fff)));
    let pcp = (m & 0xe000 != 0).then_some(u128::from(v >> 13));
    Ok((vid, pcp))
}

/// Builds the instruction list in OpenFlow's order.
#[derive(Debug, Default)]
struct Instructions {
    apply: Vec<Action>,
    rest: Vec<Instruction>,
    drop: bool,
}

fn instruction_name(i: &Instruction) -> &'static str {
    match i {
        Instruction::ApplyActions(_) => "actions",
        Instruction::ClearActions => "clear_actions",
        Instruction::WriteActions(_) => "write_actions",
        Instruction::WriteMetadata { .. } => "write_metadata",
        Instruction::GotoTable(_) => "goto_table",
    }
}

impl Instructions {
    fn action(&mut self, a: Action, tok: &Token<'_>) -> Result<(), TextError> {
        if let Some(last) = self.rest.last() {
            return Err(TextError::Order {
                this: tok.text(),
                after: instruction_name(last),
            });
        }
        self.apply.push(a);
        Ok(())
    }

    fn instruction(&mut self, i: Instruction, tok: &Token<'_>) -> Result<(), TextError> {
        if let Some(last) = self.rest.last()
            && i.rank() <= last.rank()
        {
            return Err(TextError::Order {
                this: tok.text(),
                after: instruction_name(last),
            });
        }
        self.rest.push(i);
        Ok(())
    }
}

/// The text after `actions=`: actions (one apply-actions instruction) then instructions.
fn parse_instructions(text: &str, ip_proto: u8) -> Result<Vec<Instruction>, TextError> {
    let mut b = Instructions::default();
    for tok in Lexer::actions(text) {
        let tok = tok?;
        match tok.key {
            "drop" => {
                no_value(&tok)?;
                b.drop = true;
            }
            "clear_actions" => {
                no_value(&tok)?;
                b.instruction(Instruction::ClearActions, &tok)?;
            }
            "write_actions" | "apply_actions" => {
                if tok.sep != Some(b'(') {
                    return Err(TextError::Syntax {
                        token: tok.text(),
                        expected: "write_actions(ACTION,...)",
                    });
                }
                let actions = parse_action_list(tok.value.unwrap_or(""), ip_proto)?;
                if tok.key == "apply_actions" {
                    for a in actions {
                        b.action(a, &tok)?;
                    }
                } else {
                    b.instruction(Instruction::WriteActions(actions), &tok)?;
                }
            }
            "write_metadata" => {
                let v = need_value(&tok, "0x1f42/0xffff")?;
                let word = |s: &str| {
                    parse_bounded(s, u128::from(u64::MAX))
                        .map(|v| v as u64)
                        .ok_or_else(|| bad(s, "a 64-bit number (decimal or 0x hex)", &tok))
                };
                let (value, mask) = match v.split_once('/') {
                    Some((a, m)) => (word(a)?, word(m)?),
                    None => (word(v)?, u64::MAX),
                };
                b.instruction(Instruction::WriteMetadata { value, mask }, &tok)?;
            }
            "goto_table" => {
                let t = number(&tok, u128::from(MAX_TABLE), "a table number (0..=254)")?;
                b.instruction(Instruction::GotoTable(t as u8), &tok)?;
            }
            _ => {
                let a = parse_action(&tok, ip_proto)?;
                b.action(a, &tok)?;
            }
        }
    }
    if b.drop && !(b.apply.is_empty() && b.rest.is_empty()) {
        return Err(TextError::DropNotAlone);
    }
    let mut out = Vec::with_capacity(b.rest.len() + 1);
    if !b.apply.is_empty() {
        out.push(Instruction::ApplyActions(b.apply));
    }
    out.extend(b.rest);
    Ok(out)
}

fn parse_action_list(text: &str, ip_proto: u8) -> Result<Vec<Action>, TextError> {
    Lexer::actions(text)
        .map(|tok| parse_action(&tok?, ip_proto))
        .collect()
}

/// `NAME[]`, `NAME[n]` or `NAME[a..b]`; NAME is an NXM/OXM name or a field name.
fn parse_subfield(s: &str, tok: &Token<'_>) -> Result<FieldRange, TextError> {
    let (name, range) = match s.split_once('[') {
        Some((n, r)) => (
            n,
            Some(r.strip_suffix(']').ok_or_else(|| TextError::Syntax {
                token: tok.text(),
                expected: "a field as NAME[], NAME[n] or NAME[a..b]",
            })?),
        ),
        None => (s, None),
    };
    let field = Field::from_nxm_name(name)
        .or_else(|| Field::from_text_name(name))
        .ok_or_else(|| TextError::UnknownField {
            name: name.to_string(),
            token: tok.text(),
        })?;
    let bounds = |r: &str| -> Option<(u16, u16)> {
        match r.split_once("..") {
            _ if r.is_empty() => Some((0, field.bits())),
            Some((a, b)) => {
                let (a, b) = (
                    parse_bounded(a, 1023)? as u16,
                    parse_bounded(b, 1023)? as u16,
                );
                (b >= a).then(|| (a, b - a + 1))
            }
            None => Some((parse_bounded(r, 1023)? as u16, 1)),
        }
    };
    let r = range.unwrap_or("");
    bounds(r)
        .and_then(|(offset, bits)| FieldRange::new(field, offset, bits))
        .ok_or_else(|| bad(r, "a bit range inside the field ([], [n] or [a..b])", tok))
}

fn split_arrow<'a>(v: &'a str, tok: &Token<'_>) -> Result<(&'a str, &'a str), TextError> {
    v.split_once("->").ok_or_else(|| TextError::Syntax {
        token: tok.text(),
        expected: "SOURCE->DESTINATION",
    })
}

/// A field value for the `mod_*` actions.
fn set(field: Field, tok: &Token<'_>) -> Result<Action, TextError> {
    let v = need_value(tok, "VALUE")?;
    let value = parse_exact(field, v).map_err(|e| bad(v, e, tok))?;
    Ok(Action::SetField { field, value })
}

fn parse_action(tok: &Token<'_>, ip_proto: u8) -> Result<Action, TextError> {
    let output = |port: PortNo| Action::Output {
        port,
        max_len: if port == PortNo::CONTROLLER {
            CONTROLLER_MAX_LEN_NO_BUFFER
        } else {
            0
        },
    };
    Ok(match tok.key {
        "output" => {
            let v = need_value(tok, "3")?;
            output(parse_port(v).ok_or_else(|| bad(v, "a port number or name", tok))?)
        }
        k if k.eq_ignore_ascii_case("controller") => {
            let max_len = match (tok.sep, tok.value) {
                (None, _) | (Some(b'('), Some("")) => CONTROLLER_MAX_LEN_NO_BUFFER,
                (Some(b'('), Some(v)) => {
                    let n = v
                        .strip_prefix("max_len=")
                        .ok_or_else(|| TextError::Syntax {
                            token: tok.text(),
                            expected: "controller(max_len=N)",
                        })?;
                    parse_bounded(n, 0xffff).ok_or_else(|| bad(n, "a length (0..=65535)", tok))?
                        as u16
                }
                (_, v) => {
                    let v = v.unwrap_or("");
                    parse_bounded(v, 0xffff).ok_or_else(|| bad(v, "a length (0..=65535)", tok))?
                        as u16
                }
            };
            Action::Output {
                port: PortNo::CONTROLLER,
                max_len,
            }
        }
        "set_field" => {
            let (v, name) = split_arrow(need_value(tok, "VALUE->FIELD")?, tok)?;
            let field = Field::from_text_name(name)
                .map(|f| {
                    // `icmp_type` in set_field is ICMPv4's own name; only tp_* are shared.
                    if matches!(name, "tp_src" | "tp_dst") {
                        f.for_protocol(ip_proto)
                    } else {
                        f
                    }
                })
                .ok_or_else(|| TextError::UnknownField {
                    name: name.to_string(),
                    token: tok.text(),
                })?;
            if v.contains('/') {
                return Err(TextError::NotAllowed {
                    token: tok.text(),
                    why: "set_field with a mask is not supported; use load:V->FIELD[a..b]",
                });
            }
            let value = parse_exact(field, v).map_err(|e| bad(v, e, tok))?;
            Action::SetField { field, value }
        }
        "load" => {
            let (v, dst) = split_arrow(need_value(tok, "0x1->NXM_NX_REG0[]")?, tok)?;
            let value = parse_uint(v).ok_or_else(|| bad(v, "a number (decimal or 0x hex)", tok))?;
            Action::Load {
                dst: parse_subfield(dst, tok)?,
                value,
            }
        }
        "move" => {
            let (src, dst) = split_arrow(need_value(tok, "NXM_A[]->NXM_B[]")?, tok)?;
            Action::Move {
                src: parse_subfield(src, tok)?,
                dst: parse_subfield(dst, tok)?,
            }
        }
        "dec_ttl" => {
            no_value(tok)?;
            Action::DecTtl
        }
        "strip_vlan" | "pop_vlan" => {
            no_value(tok)?;
            Action::PopVlan
        }
        "push_vlan" => {
            let v = need_value(tok, "0x8100")?;
            let ethertype =
                parse_bounded(v, 0xffff).ok_or_else(|| bad(v, "an EtherType (0x8100)", tok))?;
            Action::PushVlan {
                ethertype: ethertype as u16,
            }
        }
        "resubmit" => {
            let v = need_value(tok, "(,TABLE)")?;
            let port = |p: &str| -> Result<Option<PortNo>, TextError> {
                match p {
                    "" => Ok(None),
                    p => match parse_port(p) {
                        Some(PortNo::IN_PORT) => Ok(None),
                        Some(p) => Ok(Some(p)),
                        None => Err(bad(p, "a port number or name", tok)),
                    },
                }
            };
            let (in_port, table) = match (tok.sep, v.split_once(',')) {
                (Some(b'('), Some((p, t))) => {
                    let table = match t {
                        "" => None,
                        t => match parse_bounded(t, 255) {
                            Some(255) => None,
                            Some(t) => Some(t as u8),
                            None => return Err(bad(t, "a table number (0..=254)", tok)),
                        },
                    };
                    (port(p)?, table)
                }
                _ => (port(v)?, None),
            };
            Action::Resubmit { in_port, table }
        }
        "set_tunnel" | "set_tunnel64" => set(Field::TunId, tok)?,
        "mod_dl_src" => set(Field::EthSrc, tok)?,
        "mod_dl_dst" => set(Field::EthDst, tok)?,
        "mod_nw_src" => set(Field::Ipv4Src, tok)?,
        "mod_nw_dst" => set(Field::Ipv4Dst, tok)?,
        "mod_tp_src" => set(Field::TcpSrc.for_protocol(ip_proto), tok)?,
        "mod_tp_dst" => set(Field::TcpDst.for_protocol(ip_proto), tok)?,
        "mod_nw_ecn" => set(Field::IpEcn, tok)?,
        "mod_nw_ttl" => set(Field::IpTtl, tok)?,
        "mod_vlan_pcp" => set(Field::VlanPcp, tok)?,
        "mod_vlan_vid" => {
            let v = need_value(tok, "10")?;
            let vid = parse_bounded(v, 0xfff).ok_or_else(|| bad(v, "a VLAN id (0..=4095)", tok))?;
            Action::SetField {
                field: Field::VlanVid,
                value: 0x1000 | vid,
            }
        }
        "mod_nw_tos" => {
            let v = need_value(tok, "0")?;
            let tos = parse_bounded(v, 0xff)
                .filter(|t| t & 3 == 0)
                .ok_or_else(|| {
                    bad(
                        v,
                        "a TOS byte with the ECN bits clear (a multiple of 4)",
                        tok,
                    )
                })?;
            Action::SetField {
                field: Field::IpDscp,
                value: tos >> 2,
            }
        }
        key if tok.sep.is_none() => match parse_port(key) {
            Some(p) => output(p),
            None => {
                return Err(TextError::UnknownAction {
                    name: key.to_string(),
                    token: tok.text(),
                });
            }
        },
        key => {
            return Err(TextError::UnknownAction {
                name: key.to_string(),
                token: tok.text(),
            });
        }
    })
}

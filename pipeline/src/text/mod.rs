//! OVS flow syntax: the text `ovs-ofctl -O OpenFlow13` reads and prints, parsed into and printed
//! from the pipeline's own vocabulary ([`FlowMod`](crate::flow::FlowMod),
//! [`FlowSpec`](crate::flow::FlowSpec), [`Match`](crate::flow_match::Match),
//! [`Instruction`](crate::action::Instruction), [`FlowKey`](crate::key::FlowKey)).
//!
//! # What
//! * [`parse_flow`] reads what `add-flow`, `mod-flows` and `del-flows` accept: comma or space
//!   separated `key=value` items (`table=`, `priority=`, `cookie=V[/M]`, timeouts, `out_port=`,
//!   flag words, protocol shorthands such as `arp` or `tcp6`, and every field of
//!   [`crate::field`] under any of its names), then `actions=` up to the end of the string.
//!   Both the `add-flow` form (`table=0,priority=1,actions=…`) and the `dump-flows` form
//!   (`table=0, send_flow_rem priority=1 actions=…`) are accepted.
//! * [`format_flow`] prints one `dump-flows` line exactly as OVS 3.1 does
//!   (`lib/ofp-flow.c: ofputil_flow_stats_format`, `lib/match.c: match_format`), with or
//!   without statistics ([`FlowStyle`]).
//! * [`format_spec`] prints a flow without statistics in a form [`parse_flow`] reads back:
//!   `[cookie=0x…, ]table=N, [idle_timeout=N, ][hard_timeout=N, ][flag words ]<match> actions=…`
//!   (the `--no-stats` line, except that `table=` is always present and there is no leading
//!   space). `parse_flow(&format_spec(s), FlowModCommand::Add)` gives `s` back, the match
//!   compared with [`Match::same_as`](crate::flow_match::Match::same_as) (the parser stores fields in text order, the printer
//!   prints them in OVS's canonical order).
//! * [`parse_packet`] / [`format_key`] do the same for one packet (a microflow, as
//!   `ofproto/trace` takes it): exact values only, unset fields are 0 except `nw_ttl`, which
//!   defaults to 64 for IP.
//!
//! # Design
//! `lexer` splits text into `key[=|:|(]value` tokens the way OVS's
//! `ofputil_parse_key_value` does (separators `,`, space, tab, newline; parentheses nest).
//! `value` parses and prints one field value per [`ValueFormat`](crate::field::ValueFormat).
//! `parse` turns tokens into a match (collected first, so that `tp_dst=80,tcp` resolves
//! `tp_dst` by the protocol given later, and the VLAN words `dl_vlan`, `dl_vlan_pcp`,
//! `vlan_tci` merge into the two OpenFlow fields) and an instruction list. `print` walks
//! [`Field::ALL`](crate::field::Field::ALL), which is OVS's print order.
//!
//! # Where we differ from OVS on purpose
//! * `nw_frag` values OVS prints ambiguously (`0/3` as `no`, `2/2` as `later`, `2/3` as
//!   `<error>`) are printed as `0x0`, `0x2/0x2`, `0x2`, which the parser reads back exactly.
//! * Instructions must come in OpenFlow's order (actions, `clear_actions`, `write_actions`,
//!   `write_metadata`, `goto_table`), as `ovs-ofctl` requires; they are printed in that order.
//! * A field given twice with the same value is accepted once (OVS overwrites); with
//!   different values it is an error.
//! * `resubmit` with `in_port=IN_PORT` is stored as "no in_port" (the same meaning).
//!
//! Parsing never panics, whatever the input: every failure is a [`TextError`] that names the
//! offending token and says what was expected.

mod lexer;
mod parse;
mod print;
mod value;

#[cfg(test)]
mod tests;

use thiserror::Error;

use crate::action::InstructionError;
use crate::flow_match::MatchError;

pub use parse::{parse_flow, parse_packet};
pub use print::{format_flow, format_instructions, format_key, format_match, format_spec};

/// How [`format_flow`] prints a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowStyle {
    /// `dump-flows`: cookie, duration, table, counters, then the flow.
    #[default]
    Stats,
    /// `dump-flows --no-stats`: no duration or counters; `cookie=` only when non-zero and
    /// `table=` only when not 0.
    NoStats,
}

/// Why a piece of flow text was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TextError {
    /// `unknown field "NAME" in "TOKEN"`.
    #[error("unknown field \"{name}\" in \"{token}\"")]
    UnknownField { name: String, token: String },
    /// `"VALUE" is not EXPECTED (in TOKEN)`.
    #[error("\"{value}\" is not {expected} (in {token})")]
    BadValue {
        value: String,
        expected: &'static str,
        token: String,
    },
    /// `"KEY" needs a value, as in KEY=EXAMPLE`.
    #[error("\"{key}\" needs a value, as in {key}={example}")]
    MissingValue { key: String, example: &'static str },
    /// `"KEY" takes no value (in TOKEN)`.
    #[error("\"{key}\" takes no value (in {token})")]
    UnexpectedValue { key: String, token: String },
    /// A field the match rejects (too wide, masked when it cannot be, given twice, ...).
    #[error("{error} (in {token})")]
    Field { error: MatchError, token: String },
    /// The match as a whole breaks OpenFlow's rules (a missing prerequisite).
    #[error("{0}")]
    Match(#[from] MatchError),
    /// `unknown action "NAME" in "TOKEN"`.
    #[error("unknown action \"{name}\" in \"{token}\"")]
    UnknownAction { name: String, token: String },
    /// A token whose shape is wrong.
    #[error("cannot parse \"{token}\": expected {expected}")]
    Syntax {
        token: String,
        expected: &'static str,
    },
    /// The instructions break OpenFlow's rules.
    #[error("{0}")]
    Instruction(#[from] InstructionError),
    /// An action or instruction out of OpenFlow's instruction order.
    #[error(
        "\"{this}\" may not follow {after} (the order is: actions, clear_actions, \
         write_actions, write_metadata, goto_table)"
    )]
    Order { this: String, after: &'static str },
    /// `"drop" must not be accompanied by any other action or instruction`.
    #[error("\"drop\" must not be accompanied by any other action or instruction")]
    DropNotAlone,
    /// `COMMAND needs "actions=..." (use actions=drop for none)`.
    #[error("{command} needs \"actions=...\" (use actions=drop for none)")]
    MissingActions { command: &'static str },
    /// `COMMAND takes no actions`.
    #[error("{command} takes no actions")]
    UnexpectedActions { command: &'static str },
    /// `"TOKEN" is not allowed here: WHY`.
    #[error("\"{token}\" is not allowed here: {why}")]
    NotAllowed { token: String, why: &'static str },
    /// `unbalanced parentheses in "TEXT"`.
    #[error("unbalanced parentheses in \"{0}\"")]
    Unbalanced(String),
}

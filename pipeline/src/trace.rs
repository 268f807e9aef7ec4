//! Human-readable traces: which flow each table matched, what it did, and the verdict.
//!
//! `wyvern trace` (offline, against a flows file) and the live switch's trace print the same
//! text, rendered here from [`translate`](crate::translate)'s events:
//!
//! ```text
//! Flow: in_port=12,ip,dl_src=fa:16:3e:cf:4b:ed,...
//!
//!  0. priority=1000,in_port=12
//!     write_metadata:0x1f43/0xffff,goto_table:40
//! 40. priority=1
//!     goto_table:52
//! 52. priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24
//!     CONTROLLER:65535
//!
//! Final flow: in_port=12,ip,metadata=0x1f43,...
//! Verdict: controller (reason action, table 52, cookie 0x0)
//! ```

use std::fmt::Write;

use crate::key::FlowKey;
use crate::text::{format_instructions, format_key, format_match};
use crate::translate::{DpOp, PacketInReason, TraceEvent, Translation};

/// The verdict of a translation in one line.
pub fn verdict(t: &Translation) -> String {
    let mut parts = Vec::new();
    for op in &t.ops {
        match op {
            DpOp::Output { port } => parts.push(format!("output {}", crate::action::PortNo(*port))),
            DpOp::Normal { network, .. } => parts.push(format!("NORMAL in network {network:#x}")),
            DpOp::Controller {
                reason,
                table,
                cookie,
                ..
            } => parts.push(format!(
                "controller (reason {}, table {table}, cookie {cookie:#x})",
                reason_name(*reason)
            )),
            _ => {}
        }
    }
    if let Some(reason) = t.drop {
        parts.push(format!("drop ({})", reason.name()));
    }
    parts.join("; ")
}

/// The OVS name of a packet-in reason.
pub fn reason_name(r: PacketInReason) -> &'static str {
    match r {
        PacketInReason::NoMatch => "no_match",
        PacketInReason::Action => "action",
        PacketInReason::InvalidTtl => "invalid_ttl",
    }
}

/// The whole trace as text.
pub fn render(input: &FlowKey, t: &Translation, events: &[TraceEvent]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Flow: {}\n", format_key(input));
    for e in events {
        match e {
            TraceEvent::Lookup {
                table, depth, rule, ..
            } => {
                let indent = "    ".repeat(usize::from(*depth));
                match rule {
                    Some(r) => {
                        let mut head = format_match(&r.matching(), r.priority);
                        if r.cookie != 0 {
                            let _ = write!(head, ", cookie {:#x}", r.cookie);
                        }
                        let _ = writeln!(s, "{indent}{table:>2}. {head}");
                        let _ =
                            writeln!(s, "{indent}    {}", format_instructions(r.instructions()));
                    }
                    None => {
                        let _ = writeln!(s, "{indent}{table:>2}. No match: table miss");
                    }
                }
            }
            TraceEvent::ActionSet(actions) => {
                let insts = [crate::action::Instruction::ApplyActions(actions.clone())];
                let _ = writeln!(s, "    action set: {}", format_instructions(&insts));
            }
            TraceEvent::Note(n) => {
                let _ = writeln!(s, "    >> {n}");
            }
        }
    }
    let _ = writeln!(s, "\nFinal flow: {}", format_key(&t.final_key));
    let _ = writeln!(s, "Verdict: {}", verdict(t));
    s
}

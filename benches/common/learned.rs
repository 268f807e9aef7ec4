//! Dragonflow-style learned routing flows, as the reactive L3 controller installs them: one
//! per (source VM, destination VM) pair, in table 52 at priority 100, matching
//! `ip,metadata,in_port,dl_src,dl_dst,nw_src,nw_dst` and doing `dec_ttl`, two MAC rewrites and
//! an output. 1,000 VMs in 16 networks; flow `i` goes from VM `i / 1000` to VM `i % 1000`, so
//! every destination's 1,000 flows share one action list (as they do in Dragonflow).

use wyvern_pipeline::action::{Action, Instruction, PortNo};
use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::{FlowMod, FlowModCommand, FlowSpec};
use wyvern_pipeline::flow_match::Match;

/// VMs; `VMS * VMS` flows are distinct.
pub const VMS: u32 = 1000;

fn net(vm: u32) -> u32 {
    vm % 16
}

fn metadata(vm: u32) -> u128 {
    0x1000 + u128::from(net(vm))
}

fn port(vm: u32) -> u32 {
    1000 + vm
}

fn mac(vm: u32) -> u128 {
    0xfa16_3e00_0000 + u128::from(vm)
}

fn router_mac(net: u32) -> u128 {
    0xfa16_3eff_0000 + u128::from(net)
}

fn ip(vm: u32) -> u128 {
    u128::from(0x0a00_0000 | (net(vm) << 16) | vm)
}

/// The match of flow `i` (`i < VMS * VMS`).
pub fn learned_match(i: u32) -> Match {
    let (s, d) = (i / VMS, i % VMS);
    Match::new()
        .exact(Field::EthType, 0x0800)
        .and_then(|m| m.exact(Field::Metadata, metadata(s)))
        .and_then(|m| m.exact(Field::InPort, u128::from(port(s))))
        .and_then(|m| m.exact(Field::EthSrc, mac(s)))
        .and_then(|m| m.exact(Field::EthDst, router_mac(net(s))))
        .and_then(|m| m.exact(Field::Ipv4Src, ip(s)))
        .and_then(|m| m.exact(Field::Ipv4Dst, ip(d)))
        .expect("valid match")
}

/// The instructions of every flow towards VM `d`.
pub fn learned_instructions(d: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![
        Action::DecTtl,
        Action::SetField {
            field: Field::EthSrc,
            value: router_mac(net(d)),
        },
        Action::SetField {
            field: Field::EthDst,
            value: mac(d),
        },
        Action::Output {
            port: PortNo(port(d)),
            max_len: 0,
        },
    ])]
}

/// The spec of flow `i`.
pub fn learned_spec(i: u32) -> FlowSpec {
    FlowSpec {
        table: 52,
        priority: 100,
        cookie: 0x1008_0000_0000_0000 | u64::from(i),
        idle_timeout: 300,
        matching: learned_match(i),
        instructions: learned_instructions(i % VMS),
        ..FlowSpec::default()
    }
}

/// `add` flow mods for flows `range`.
pub fn learned_adds(range: std::ops::Range<u32>) -> Vec<FlowMod> {
    range.map(|i| FlowMod::add(learned_spec(i))).collect()
}

/// `delete_strict` flow mods for flows `range`.
#[allow(dead_code)]
pub fn learned_deletes(range: std::ops::Range<u32>) -> Vec<FlowMod> {
    range
        .map(|i| FlowMod {
            command: FlowModCommand::DeleteStrict,
            ..FlowMod::add(learned_spec(i))
        })
        .collect()
}

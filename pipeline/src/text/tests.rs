//! Golden lines from OVS 3.1 (`notes/ofctl-wire.md` §6), error messages, and round-trip
//! properties.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::action::{Action, Instruction, PortNo};
use crate::field::{self, Field, FieldRange, Prerequisite};
use crate::flow::{FlowFlags, FlowModCommand, FlowSpec, FlowStats};
use crate::flow_match::Match;
use crate::key::FlowKey;

fn add(s: &str) -> FlowSpec {
    match parse_flow(s, FlowModCommand::Add) {
        Ok(fm) => fm.spec,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn line(spec: FlowSpec, duration: Duration) -> String {
    format_flow(
        &FlowStats {
            spec,
            duration,
            packets: 0,
            bytes: 0,
        },
        FlowStyle::Stats,
    )
}

/// The Dragonflow flows (add-flow input, dump-style) and the dump line OVS 3.1 prints for
/// each with zero statistics, written out by hand from §6's rules.
const DRAGONFLOW: &[(&str, &str)] = &[
    (
        "table=0, priority=1 actions=goto_table:40",
        " cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, priority=1 actions=goto_table:40",
    ),
    (
        "table=0, priority=0 actions=NORMAL",
        " cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL",
    ),
    (
        "table=0, priority=1000,in_port=6 actions=NORMAL",
        " cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, priority=1000,in_port=6 actions=NORMAL",
    ),
    (
        "table=23, priority=0 actions=drop",
        " cookie=0x0, duration=0s, table=23, n_packets=0, n_bytes=0, priority=0 actions=drop",
    ),
    (
        "table=40, priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL",
        " cookie=0x0, duration=0s, table=40, n_packets=0, n_bytes=0, priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL",
    ),
    (
        "table=40, priority=1 actions=goto_table:52",
        " cookie=0x0, duration=0s, table=40, n_packets=0, n_bytes=0, priority=1 actions=goto_table:52",
    ),
    (
        "table=40, priority=100,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL",
        " cookie=0x0, duration=0s, table=40, n_packets=0, n_bytes=0, priority=100,dl_dst=ff:ff:ff:ff:ff:ff actions=NORMAL",
    ),
    (
        "table=40, priority=1000,arp actions=goto_table:51",
        " cookie=0x0, duration=0s, table=40, n_packets=0, n_bytes=0, priority=1000,arp actions=goto_table:51",
    ),
    (
        "table=51, priority=1 actions=NORMAL",
        " cookie=0x0, duration=0s, table=51, n_packets=0, n_bytes=0, priority=1 actions=NORMAL",
    ),
    (
        "table=52, priority=1 actions=goto_table:53",
        " cookie=0x0, duration=0s, table=52, n_packets=0, n_bytes=0, priority=1 actions=goto_table:53",
    ),
    (
        "table=60, priority=1 actions=move:NXM_NX_TUN_ID[0..31]->NXM_NX_PKT_MARK[],output:6",
        " cookie=0x0, duration=0s, table=60, n_packets=0, n_bytes=0, priority=1 actions=move:NXM_NX_TUN_ID[0..31]->NXM_NX_PKT_MARK[],output:6",
    ),
    (
        "table=51, send_flow_rem priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT",
        " cookie=0x0, duration=0s, table=51, n_packets=0, n_bytes=0, send_flow_rem priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT",
    ),
    (
        "table=52, priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24 actions=CONTROLLER:65535",
        " cookie=0x0, duration=0s, table=52, n_packets=0, n_bytes=0, priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24 actions=CONTROLLER:65535",
    ),
    (
        "table=52, priority=30,ip,metadata=0x1f42,nw_dst=10.1.0.0/24 actions=NORMAL",
        " cookie=0x0, duration=0s, table=52, n_packets=0, n_bytes=0, priority=30,ip,metadata=0x1f42,nw_dst=10.1.0.0/24 actions=NORMAL",
    ),
    (
        "table=0, priority=1000,in_port=11 actions=write_metadata:0x1f42/0xffff,goto_table:40",
        " cookie=0x0, duration=0s, table=0, n_packets=0, n_bytes=0, priority=1000,in_port=11 actions=write_metadata:0x1f42/0xffff,goto_table:40",
    ),
    (
        "cookie=0x1008000000019, table=52, idle_timeout=300, priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11",
        " cookie=0x1008000000019, duration=0s, table=52, n_packets=0, n_bytes=0, idle_timeout=300, priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11",
    ),
    (
        "table=60, priority=10,metadata=0x1f42 actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:3",
        " cookie=0x0, duration=0s, table=60, n_packets=0, n_bytes=0, priority=10,metadata=0x1f42 actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:3",
    ),
];

#[test]
fn dragonflow_flows_print_as_ovs() {
    for (input, expected) in DRAGONFLOW {
        assert_eq!(&line(add(input), Duration::ZERO), expected, "{input}");
    }
}

#[test]
fn dragonflow_flows_in_add_flow_form() {
    // The same flows as `add-flow` takes them (§4): commas only, fields in any order.
    let f10 = add(
        "table=52,priority=100,idle_timeout=300,cookie=0x1008000000019,ip,metadata=0x1f43,\
         in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,\
         nw_dst=10.1.0.5,actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,\
         set_field:fa:16:3e:00:17:e6->eth_dst,output:11",
    );
    assert_eq!(line(f10, Duration::ZERO), DRAGONFLOW[15].1);
    // OVS 2.3's order, flag word before priority, with commas.
    let f08 = add(
        "table=51,send_flow_rem,priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1,\
         actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],\
         move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,\
         set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT",
    );
    assert_eq!(line(f08, Duration::ZERO), DRAGONFLOW[11].1);
}

/// Lines printed by OVS 3.1 (§6), verbatim.
const OVS_LINES: &[&str] = &[
    " cookie=0x0, duration=63.014s, table=0, n_packets=0, n_bytes=0, priority=1000,in_port=6 actions=NORMAL",
    " cookie=0x0, duration=50.282s, table=0, n_packets=0, n_bytes=0, priority=1000,in_port=11 actions=write_metadata:0x1f42/0xffff,goto_table:40",
    " cookie=0x0, duration=66.434s, table=0, n_packets=0, n_bytes=0, priority=1 actions=goto_table:40",
    " cookie=0x0, duration=64.914s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL",
    " cookie=0x0, duration=61.631s, table=23, n_packets=0, n_bytes=0, priority=0 actions=drop",
    " cookie=0x0, duration=58.825s, table=40, n_packets=0, n_bytes=0, priority=1000,arp actions=goto_table:51",
    " cookie=0x0, duration=60.224s, table=40, n_packets=0, n_bytes=0, priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=NORMAL",
    " cookie=0x0, duration=57.345s, table=51, n_packets=0, n_bytes=0, priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT",
    " cookie=0x1008000000019, duration=53.083s, table=52, n_packets=0, n_bytes=0, idle_timeout=300, priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11",
    " cookie=0x0, duration=54.473s, table=52, n_packets=0, n_bytes=0, priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24 actions=CONTROLLER:65535",
    " cookie=0x0, duration=48.887s, table=60, n_packets=0, n_bytes=0, priority=10,metadata=0x1f42 actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:3",
    " cookie=0x0, duration=51.679s, table=60, n_packets=0, n_bytes=0, priority=1 actions=move:NXM_NX_TUN_ID[0..31]->NXM_NX_PKT_MARK[],output:6",
    " cookie=0x5, duration=0.021s, table=1, n_packets=0, n_bytes=0, idle_timeout=30, hard_timeout=60, send_flow_rem check_overlap reset_counts priority=7,tcp,tp_dst=80 actions=clear_actions,write_actions(output:3)",
    " cookie=0x0, duration=0.014s, table=1, n_packets=0, n_bytes=0, priority=8,arp actions=load:0x2->NXM_OF_ARP_OP[],set_field:fa:16:3e:00:00:01->eth_src,IN_PORT",
    " cookie=0x0, duration=0.029s, table=1, n_packets=0, n_bytes=0, priority=6,pkt_mark=0x5,reg6=0x1f42 actions=set_field:0x1f43->reg7,load:0x1->NXM_NX_REG0[0..3],move:NXM_NX_REG6[]->NXM_NX_TUN_ID[0..31],output:6",
    " cookie=0x0, duration=0.008s, table=0, n_packets=0, n_bytes=0, udp actions=CONTROLLER:128,LOCAL,FLOOD,ALL,output:6",
];

/// Splits an OVS line into (the flow text parse_flow takes, the duration).
fn strip_stats(line: &str) -> (String, Duration) {
    let start = line.find("duration=").unwrap() + "duration=".len();
    let end = start + line[start..].find("s, ").unwrap();
    let secs: f64 = line[start..end].parse().unwrap();
    let without = format!("{}{}", &line[..start - "duration=".len()], &line[end + 3..]);
    (
        without.replace("n_packets=0, n_bytes=0, ", ""),
        Duration::from_millis((secs * 1000.0).round() as u64),
    )
}

#[test]
fn ovs_dump_lines_parse_and_print_back_identically() {
    for l in OVS_LINES {
        let (text, d) = strip_stats(l);
        assert_eq!(&line(add(&text), d), l);
    }
}

#[test]
fn more_flags_are_parsed() {
    let (text, _) = strip_stats(OVS_LINES[12]);
    let s = add(&text);
    assert_eq!(s.cookie, 5);
    assert_eq!(s.idle_timeout, 30);
    assert_eq!(s.hard_timeout, 60);
    assert_eq!(
        s.flags.0,
        FlowFlags::SEND_FLOW_REM | FlowFlags::CHECK_OVERLAP | FlowFlags::RESET_COUNTS
    );
    assert!(s.matching.get(Field::TcpDst).is_some());
    assert_eq!(
        s.instructions,
        vec![
            Instruction::ClearActions,
            Instruction::WriteActions(vec![Action::output(3)])
        ]
    );
    let (text, _) = strip_stats(OVS_LINES[15]);
    let s = add(&text);
    assert_eq!(
        s.instructions,
        vec![Instruction::ApplyActions(vec![
            Action::Output {
                port: PortNo::CONTROLLER,
                max_len: 128
            },
            Action::Output {
                port: PortNo::LOCAL,
                max_len: 0
            },
            Action::Output {
                port: PortNo::FLOOD,
                max_len: 0
            },
            Action::Output {
                port: PortNo::ALL,
                max_len: 0
            },
            Action::output(6),
        ])]
    );
}

#[test]
fn durations_and_counters() {
    let spec = add("priority=5,actions=drop");
    let l = |d| line(spec.clone(), d);
    assert!(l(Duration::new(63, 14_000_000)).contains("duration=63.014s,"));
    assert!(l(Duration::new(1, 500)).contains("duration=1.0000005s,"));
    assert!(l(Duration::new(7, 0)).contains("duration=7s,"));
    let unknown = format_flow(
        &FlowStats {
            spec,
            duration: Duration::ZERO,
            packets: u64::MAX,
            bytes: 3,
        },
        FlowStyle::Stats,
    );
    assert!(unknown.contains("n_packets=?, n_bytes=3,"), "{unknown}");
}

#[test]
fn no_stats_style() {
    let s = |t: &str| {
        format_flow(
            &FlowStats {
                spec: add(t),
                duration: Duration::from_secs(3),
                packets: 9,
                bytes: 9,
            },
            FlowStyle::NoStats,
        )
    };
    assert_eq!(
        s("table=51,priority=100,arp,arp_op=1,actions=IN_PORT"),
        " table=51, priority=100,arp,arp_op=1 actions=IN_PORT"
    );
    assert_eq!(s("actions=drop"), " actions=drop");
    assert_eq!(
        s("cookie=0x5,priority=7,actions=NORMAL"),
        " cookie=0x5, priority=7 actions=NORMAL"
    );
}

#[test]
fn match_printing_rules() {
    let m = |t: &str| format_match(&add(&format!("{t},actions=drop")).matching, 32768);
    assert_eq!(m("tcp6,tp_src=22"), "tcp6,tp_src=22");
    assert_eq!(m("icmp6,icmpv6_type=135"), "icmp6,icmp_type=135");
    assert_eq!(m("ip,nw_proto=47"), "ip,nw_proto=47");
    assert_eq!(m("dl_type=0x88cc"), "dl_type=0x88cc");
    assert_eq!(m("ip,nw_tos=184"), "ip,nw_tos=184");
    assert_eq!(m("ip,ip_dscp=46"), "ip,nw_tos=184");
    assert_eq!(m("dl_vlan=10"), "dl_vlan=10");
    assert_eq!(m("dl_vlan=10,dl_vlan_pcp=3"), "dl_vlan=10,dl_vlan_pcp=3");
    assert_eq!(m("dl_vlan_pcp=3"), "dl_vlan_pcp=3");
    assert_eq!(m("vlan_tci=0x1000/0x1000"), "vlan_tci=0x1000/0x1000");
    assert_eq!(m("vlan_tci=0x0000/0x1fff"), "vlan_tci=0x0000/0x1fff");
    assert_eq!(m("ip,nw_frag=first"), "ip,nw_frag=first");
    assert_eq!(m("ip,nw_frag=not_later"), "ip,nw_frag=not_later");
    assert_eq!(m("reg0=0,metadata=0"), "reg0=0,metadata=0");
    assert_eq!(m("tp_dst=80,tcp"), "tcp,tp_dst=80");
    assert_eq!(m("udp,tp_dst=0x50/0xfff0"), "udp,tp_dst=0x50/0xfff0");
    assert_eq!(m("ipv6,ipv6_src=fe80::1:2/64"), "ipv6,ipv6_src=fe80::/64");
    assert_eq!(m("in_port=LOCAL"), "in_port=LOCAL");
    assert_eq!(
        m("ip,ip,nw_src=10.0.0.1/255.0.255.0"),
        "ip,nw_src=10.0.0.0/255.0.255.0"
    );
    assert_eq!(
        m("pkt_mark=5,tun_id=0x1f42,reg3=0x7/0xf"),
        "pkt_mark=0x5,reg3=0x7/0xf,tun_id=0x1f42"
    );
}

#[test]
fn actions_in_every_form() {
    let acts =
        |t: &str| format_instructions(&add(&format!("table=1,tcp,actions={t}")).instructions);
    assert_eq!(acts("3"), "output:3");
    assert_eq!(acts("in_port,controller"), "IN_PORT,CONTROLLER:65535");
    assert_eq!(acts("controller(max_len=64)"), "CONTROLLER:64");
    assert_eq!(acts("output:CONTROLLER"), "CONTROLLER:65535");
    assert_eq!(
        acts("mod_dl_src:fa:16:3e:00:00:01"),
        "set_field:fa:16:3e:00:00:01->eth_src"
    );
    assert_eq!(acts("mod_nw_dst:10.0.0.1"), "set_field:10.0.0.1->ip_dst");
    assert_eq!(acts("mod_tp_dst:8080"), "set_field:8080->tcp_dst");
    assert_eq!(acts("mod_vlan_vid:5"), "set_field:4101->vlan_vid");
    assert_eq!(
        acts("strip_vlan,push_vlan:0x8100"),
        "pop_vlan,push_vlan:0x8100"
    );
    assert_eq!(acts("resubmit(,40)"), "resubmit(,40)");
    assert_eq!(acts("resubmit(3,40)"), "resubmit(3,40)");
    assert_eq!(acts("resubmit:3"), "resubmit:3");
    assert_eq!(
        acts("set_tunnel:0x1f42,set_tunnel64:7"),
        "set_field:0x1f42->tun_id,set_field:0x7->tun_id"
    );
    assert_eq!(acts("load:1->NXM_NX_REG0[3]"), "load:0x1->NXM_NX_REG0[3]");
    assert_eq!(acts("load:0->reg1[0..7]"), "load:0->NXM_NX_REG1[0..7]");
    assert_eq!(acts("write_metadata:0x5"), "write_metadata:0x5");
    assert_eq!(acts("dec_ttl,goto_table:2"), "dec_ttl,goto_table:2");
    assert_eq!(acts(""), "drop");
    assert_eq!(acts("drop"), "drop");
    // set_field:…->icmp_type names ICMPv4's field even in an icmp6 flow (proptest regression).
    let icmp6 = add("table=1,icmp6,actions=set_field:143->icmp_type");
    assert_eq!(
        icmp6.instructions,
        vec![Instruction::ApplyActions(vec![Action::SetField {
            field: Field::Icmpv4Type,
            value: 143
        }])]
    );
}

#[test]
fn mod_and_del_commands() {
    let d = parse_flow("table=52,cookie=0x1008000000019/-1", FlowModCommand::Delete).unwrap();
    assert_eq!(d.spec.table, 52);
    assert_eq!(d.spec.cookie, 0x1008000000019);
    assert_eq!(d.cookie_mask, u64::MAX);
    let all = parse_flow("", FlowModCommand::Delete).unwrap();
    assert_eq!(all.spec.table, crate::action::ALL_TABLES);
    assert!(all.spec.matching.is_empty());
    let o = parse_flow("out_port=6", FlowModCommand::DeleteStrict).unwrap();
    assert_eq!(o.out_port, PortNo(6));
    let m = parse_flow(
        "table=60,metadata=0x1f42,actions=output:6",
        FlowModCommand::Modify,
    )
    .unwrap();
    assert_eq!(m.spec.priority, 0x8000);
    assert_eq!(
        m.spec.instructions,
        vec![Instruction::ApplyActions(vec![Action::output(6)])]
    );
}

fn err(s: &str, command: FlowModCommand) -> String {
    match parse_flow(s, command) {
        Ok(f) => panic!("{s} parsed as {f:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_token() {
    let a = |s: &str| err(s, FlowModCommand::Add);
    assert_eq!(
        a("dl_srcc=fa:16:3e:00:00:01,actions=drop"),
        "unknown field \"dl_srcc\" in \"dl_srcc=fa:16:3e:00:00:01\""
    );
    assert_eq!(
        a("ip,nw_dst=10.1.0.300,actions=drop"),
        "\"10.1.0.300\" is not an IPv4 address (in nw_dst=10.1.0.300)"
    );
    assert_eq!(
        a("nw_dst=10.1.0.1,actions=drop"),
        "nw_dst requires ip (dl_type=0x0800)"
    );
    assert_eq!(
        a("udp,tcp_dst=80,actions=drop"),
        "tp_dst requires tcp (nw_proto=6 with ip or ipv6)"
    );
    assert!(a("dl_src=fa:16:3e:00:00,actions=drop").contains("is not a MAC address"));
    assert!(a("priority=70000,actions=drop").contains("\"70000\" is not a priority"));
    assert!(a("tcp,tp_dst=70000,actions=drop").contains("(in tp_dst=70000)"));
    assert!(a("in_port=6/0xff,actions=drop").contains("in_port cannot be masked"));
    assert!(a("in_port=6,in_port=7,actions=drop").contains("matched twice"));
    assert!(a("priority=1").contains("add-flow needs \"actions=...\""));
    assert_eq!(
        a("actions=frobnicate:3"),
        "unknown action \"frobnicate\" in \"frobnicate:3\""
    );
    assert!(a("actions=output:foo").contains("\"foo\" is not a port number or name"));
    assert!(a("actions=set_field:1->nosuch").contains("unknown field \"nosuch\""));
    assert!(a("actions=set_field:1/1->reg0").contains("mask is not supported"));
    assert!(
        a("actions=move:NXM_NX_REG0[]->NXM_NX_REG1[0..3]").contains("move copies 32 bits into 4")
    );
    assert!(a("actions=load:1->NXM_NX_REG0[30..40]").contains("bit range"));
    assert!(a("actions=goto_table:3,output:1").contains("\"output:1\" may not follow goto_table"));
    assert!(a("actions=drop,output:1").contains("\"drop\" must not"));
    assert!(a("table=5,actions=goto_table:3").contains("goto_table may only go to a later table"));
    assert!(a("actions=write_actions(output:3").contains("unbalanced"));
    assert!(a("cookie=1/1,actions=drop").contains("cannot use a cookie mask"));
    assert!(a("send_flow_rem=1,actions=drop").contains("takes no value"));
    assert!(a("ip,nw_tos=3,actions=drop").contains("ECN bits clear"));
    assert!(err("actions=drop", FlowModCommand::Delete).contains("del-flows takes no actions"));
    assert!(err("cookie=5", FlowModCommand::Delete).contains("cannot set a cookie"));
    assert!(
        parse_packet("ip,nw_dst=10.0.0.0/8")
            .unwrap_err()
            .to_string()
            .contains("exact values only")
    );
    assert!(
        parse_packet("bogus")
            .unwrap_err()
            .to_string()
            .contains("unknown field \"bogus\"")
    );
}

#[test]
fn packets() {
    let k = parse_packet(
        "in_port=12,ip,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,\
         nw_dst=10.1.0.5,nw_ttl=64",
    )
    .unwrap();
    assert_eq!(k.get(Field::InPort), 12);
    assert_eq!(k.get(Field::EthType), 0x0800);
    assert_eq!(k.get(Field::Ipv4Dst), 0x0a01_0005);
    assert_eq!(
        format_key(&k),
        "ip,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,\
         nw_dst=10.1.0.5,nw_ttl=64"
    );
    let arp = parse_packet("arp,arp_op=1,arp_tpa=10.1.0.1,in_port=6").unwrap();
    assert_eq!(arp.get(Field::ArpOp), 1);
    assert_eq!(arp.get(Field::IpTtl), 0);
    assert_eq!(format_key(&arp), "arp,in_port=6,arp_tpa=10.1.0.1,arp_op=1");
    let tcp = parse_packet("tcp,tp_dst=80").unwrap();
    assert_eq!(tcp.get(Field::IpTtl), 64);
    assert_eq!(tcp.get(Field::TcpDst), 80);
}

// ---------------------------------------------------------------------------------------
// Properties.

/// A protocol profile: EtherType and IP protocol (`None` = not matched).
fn profiles() -> impl Strategy<Value = (Option<u16>, Option<u8>)> {
    prop_oneof![
        Just((None, None)),
        Just((Some(0x0800), None)),
        Just((Some(0x86dd), None)),
        Just((Some(0x0806), None)),
        Just((Some(0x8035), None)),
        Just((Some(0x0800), Some(6))),
        Just((Some(0x0800), Some(17))),
        Just((Some(0x0800), Some(132))),
        Just((Some(0x0800), Some(1))),
        Just((Some(0x86dd), Some(58))),
        Just((Some(0x86dd), Some(6))),
        Just((Some(0x86dd), Some(17))),
        any::<u8>().prop_map(|p| (Some(0x0800), Some(p))),
        any::<u16>().prop_map(|t| (Some(t), None)),
    ]
}

fn satisfied(f: Field, eth: Option<u16>, proto: Option<u8>) -> bool {
    match f.info().prerequisite {
        Prerequisite::None => true,
        Prerequisite::EthType(t) => eth.is_some_and(|e| t.contains(&e)),
        Prerequisite::IpProto(t, p) => eth.is_some_and(|e| t.contains(&e)) && proto == Some(p),
        Prerequisite::VlanPresent => false,
    }
}

fn value_of(f: Field, raw: u128) -> u128 {
    raw & f.full_mask()
}

prop_compose! {
    fn arb_match()(
        (eth, proto) in profiles(),
        picks in proptest::collection::vec((any::<bool>(), any::<u128>(), any::<u128>(), any::<bool>()), field::Field::ALL.len()),
        vlan in proptest::option::of((any::<u16>(), any::<u16>(), proptest::option::of(0u8..8))),
    ) -> Match {
        let mut m = Match::new();
        if let Some(e) = eth { m.push(Field::EthType, u128::from(e), 0xffff).unwrap(); }
        if let Some(p) = proto { m.push(Field::IpProto, u128::from(p), 0xff).unwrap(); }
        for (f, (take, v, mask, exact)) in Field::ALL.iter().zip(picks) {
            let f = *f;
            if !take || matches!(f, Field::EthType | Field::IpProto | Field::VlanVid | Field::VlanPcp)
                || !satisfied(f, eth, proto) {
                continue;
            }
            let mut mask = if exact || !f.info().maskable { f.full_mask() } else { mask & f.full_mask() };
            if f == Field::IpFrag && mask == 0 { mask = 3; }
            if mask == 0 { continue; }
            m.push(f, value_of(f, v) & mask, mask).unwrap();
        }
        if let Some((v, mask, pcp)) = vlan {
            let (mut v, mut mask) = (u128::from(v) & 0x1fff, u128::from(mask) & 0x1fff);
            if pcp.is_some() { v |= 0x1000; mask |= 0x1000; }
            if mask != 0 { m.push(Field::VlanVid, v & mask, mask).unwrap(); }
            if let Some(p) = pcp { m.push(Field::VlanPcp, u128::from(p), 7).unwrap(); }
        }
        m
    }
}

fn arb_port() -> impl Strategy<Value = PortNo> {
    prop_oneof![
        (1u32..=0xffff_ff00).prop_map(PortNo),
        Just(PortNo::IN_PORT),
        Just(PortNo::TABLE),
        Just(PortNo::NORMAL),
        Just(PortNo::FLOOD),
        Just(PortNo::ALL),
        Just(PortNo::LOCAL),
        Just(PortNo::CONTROLLER),
    ]
}

fn arb_range(writable: bool) -> impl Strategy<Value = FieldRange> {
    let fields: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| !writable || f.info().writable)
        .collect();
    (proptest::sample::select(fields), any::<u16>(), any::<u16>()).prop_map(|(f, a, b)| {
        let bits = f.bits();
        let offset = a % bits;
        let n = 1 + b % (bits - offset);
        FieldRange::new(f, offset, n).unwrap()
    })
}

fn arb_action() -> impl Strategy<Value = Action> {
    let writable: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| f.info().writable)
        .collect();
    prop_oneof![
        (arb_port(), any::<u16>()).prop_map(|(port, len)| Action::Output {
            port,
            max_len: if port == PortNo::CONTROLLER { len } else { 0 }
        }),
        (proptest::sample::select(writable), any::<u128>()).prop_map(|(field, v)| {
            Action::SetField {
                field,
                value: v & field.full_mask(),
            }
        }),
        (arb_range(true), any::<u128>()).prop_map(|(dst, v)| Action::Load {
            dst,
            value: v & field::mask_of_width(dst.bits)
        }),
        (arb_range(false), arb_range(true)).prop_map(|(src, dst)| {
            let bits = src.bits.min(dst.bits);
            Action::Move {
                src: FieldRange::new(src.field, src.offset, bits).unwrap(),
                dst: FieldRange::new(dst.field, dst.offset, bits).unwrap(),
            }
        }),
        Just(Action::DecTtl),
        Just(Action::PopVlan),
        prop_oneof![Just(0x8100u16), Just(0x88a8)]
            .prop_map(|ethertype| Action::PushVlan { ethertype }),
        (
            proptest::option::of(
                arb_port().prop_filter("IN_PORT is None", |p| *p != PortNo::IN_PORT)
            ),
            proptest::option::of(0u8..=254)
        )
            .prop_map(|(in_port, table)| Action::Resubmit { in_port, table }),
    ]
}

prop_compose! {
    fn arb_spec()(
        table in 0u8..254,
        priority in any::<u16>(),
        cookie in any::<u64>(),
        idle in any::<u16>(),
        hard in any::<u16>(),
        flags in 0u16..32,
        matching in arb_match(),
        apply in proptest::collection::vec(arb_action(), 0..5),
        clear in any::<bool>(),
        write in proptest::option::of(proptest::collection::vec(arb_action(), 0..3)),
        metadata in proptest::option::of((any::<u64>(), any::<u64>())),
        goto in any::<u8>(),
        with_goto in any::<bool>(),
    ) -> FlowSpec {
        let mut instructions = Vec::new();
        if !apply.is_empty() { instructions.push(Instruction::ApplyActions(apply)); }
        if clear { instructions.push(Instruction::ClearActions); }
        if let Some(w) = write { instructions.push(Instruction::WriteActions(w)); }
        if let Some((v, m)) = metadata { instructions.push(Instruction::WriteMetadata { value: v & m, mask: m }); }
        if with_goto { instructions.push(Instruction::GotoTable(table + 1 + goto % (254 - table))); }
        FlowSpec {
            table, priority, cookie, idle_timeout: idle, hard_timeout: hard,
            flags: FlowFlags(flags), matching, instructions,
        }
    }
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    (
        profiles(),
        proptest::collection::vec(any::<u128>(), Field::ALL.len()),
        any::<bool>(),
        any::<u16>(),
    )
        .prop_map(|((eth, proto), values, tagged, vid)| {
            let mut k = FlowKey::default();
            let eth = eth.unwrap_or(0);
            k.set(Field::EthType, u128::from(eth));
            let is_ip = eth == 0x0800 || eth == 0x86dd;
            let proto = if is_ip { proto.unwrap_or(0) } else { 0 };
            k.set(Field::IpProto, u128::from(proto));
            for (f, v) in Field::ALL.into_iter().zip(values) {
                if matches!(
                    f,
                    Field::EthType | Field::IpProto | Field::VlanVid | Field::VlanPcp
                ) || !satisfied(f, Some(eth), Some(proto))
                {
                    continue;
                }
                k.set(f, v);
            }
            if tagged {
                k.set(Field::VlanVid, 0x1000 | u128::from(vid & 0xfff));
                k.set(Field::VlanPcp, u128::from(vid >> 13));
            }
            k
        })
}

fn same_spec(a: &FlowSpec, b: &FlowSpec) -> bool {
    a.matching.same_as(&b.matching)
        && FlowSpec {
            matching: Match::new(),
            ..a.clone()
        } == FlowSpec {
            matching: Match::new(),
            ..b.clone()
        }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,80}") {
        for c in [FlowModCommand::Add, FlowModCommand::Modify, FlowModCommand::Delete] {
            let _ = parse_flow(&s, c);
        }
        let _ = parse_packet(&s);
    }

    #[test]
    fn flow_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                "[a-z_]{1,12}", "[a-z_]{1,10}=[0-9a-fx:./-]{0,20}",
                "[a-z_]{1,10}:[0-9a-zA-Z:./>\\[\\]-]{0,24}", "[a-z_]{1,10}\\([0-9,a-z:]{0,10}\\)",
                Just("actions=".to_string()), Just("tcp".to_string()), Just("dl_vlan_pcp=3".to_string()),
            ],
            0..8,
        ),
        seps in proptest::collection::vec(prop_oneof![Just(","), Just(" "), Just(", ")], 8),
    ) {
        let mut s = String::new();
        for (p, sep) in parts.iter().zip(seps) { s.push_str(p); s.push_str(sep); }
        for c in [FlowModCommand::Add, FlowModCommand::Delete] {
            let _ = parse_flow(&s, c);
        }
        let _ = parse_packet(&s);
    }

    #[test]
    fn spec_text_round_trips(spec in arb_spec()) {
        let text = format_spec(&spec);
        let back = parse_flow(&text, FlowModCommand::Add)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert!(same_spec(&spec, &back.spec), "{}\n{:?}\n{:?}", text, spec, back.spec);
        // text -> flow -> text is stable too.
        prop_assert_eq!(format_spec(&back.spec), text);
    }

    #[test]
    fn key_text_round_trips(k in arb_key()) {
        let text = format_key(&k);
        let back = parse_packet(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back, k, "{}", text);
    }
}

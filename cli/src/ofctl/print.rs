//! OpenFlow messages as text, the way `ovs-ofctl` 3.1 prints them (`lib/ofp-print.c` and the
//! `*_format` functions of `lib/ofp-port.c`, `ofp-flow.c`, `ofp-table.c`, `ofp-packet.c`).
//!
//! [`format_message`] is the one entry point: every verb prints what it receives through it,
//! and `wyvern ofp-print` prints whatever it decodes. Each message starts with the header line
//! `NAME (OF1.3) (xid=0x…):`, the body follows on the same line or the lines below, and the
//! text always ends with one newline.
//!
//! What differs from OVS: a packet's contents (PACKET_IN, PACKET_OUT) are printed with
//! wyvern's microflow syntax (`wyvern_pipeline::text::format_key`), not OVS's `flow_format`;
//! and only the message types wyvern decodes are printed in full (others print their header
//! line).

use std::fmt::Write as _;

use wyvern_ofproto::client::error_name;
use wyvern_ofproto::codec::{self, Header};
use wyvern_ofproto::error::OfError;
use wyvern_ofproto::msg::multipart::{Desc, FlowStatsRequest, MPF_MORE, PortStats, TableStats};
use wyvern_ofproto::msg::{
    BundleCtrlType, ErrorMsg, Experimenter, FlowModMsg, FlowRemoved, FlowRemovedReason, Hello,
    Message, MpReply, MpRequest, PacketIn, PacketInReason, PacketOut, PortDesc, PortReason,
    SwitchConfig, msg_type,
};
use wyvern_pipeline::action::{Instruction, PortNo};
use wyvern_pipeline::flow::{FlowFlags, FlowModCommand, FlowStats};
use wyvern_pipeline::key::FlowKey;
use wyvern_pipeline::text::{FlowStyle, format_flow, format_instructions, format_match};

/// OFP_DEFAULT_PRIORITY.
const DEFAULT_PRIORITY: u16 = 0x8000;

/// The `NAME (OF1.3) (xid=0x…):` line without a newline.
pub fn header_line(name: &str, xid: u32) -> String {
    format!("{name} (OF1.3) (xid={xid:#x}):")
}

/// The name `ovs-ofctl` gives a message.
pub fn message_name(m: &Message) -> String {
    use Message::*;
    match m {
        Hello(_) => "OFPT_HELLO".into(),
        Error(_) => "OFPT_ERROR".into(),
        EchoRequest(_) => "OFPT_ECHO_REQUEST".into(),
        EchoReply(_) => "OFPT_ECHO_REPLY".into(),
        Experimenter(e) => match e {
            self::Experimenter::SetPacketInFormat(_) => "NXT_SET_PACKET_IN_FORMAT".into(),
            self::Experimenter::BundleControl(_) => "ONFT_BUNDLE_CONTROL".into(),
            self::Experimenter::BundleAdd(_) => "ONFT_BUNDLE_ADD_MESSAGE".into(),
            self::Experimenter::AdminRequest(_) => "WYVT_ADMIN_REQUEST".into(),
            self::Experimenter::AdminReply { .. } => "WYVT_ADMIN_REPLY".into(),
            self::Experimenter::Other { .. } => "OFPT_EXPERIMENTER".into(),
        },
        FeaturesRequest => "OFPT_FEATURES_REQUEST".into(),
        FeaturesReply(_) => "OFPT_FEATURES_REPLY".into(),
        GetConfigRequest => "OFPT_GET_CONFIG_REQUEST".into(),
        GetConfigReply(_) => "OFPT_GET_CONFIG_REPLY".into(),
        SetConfig(_) => "OFPT_SET_CONFIG".into(),
        PacketIn(_) => "OFPT_PACKET_IN".into(),
        FlowRemoved(_) => "OFPT_FLOW_REMOVED".into(),
        PortStatus(_) => "OFPT_PORT_STATUS".into(),
        PacketOut(_) => "OFPT_PACKET_OUT".into(),
        FlowMod(_) => "OFPT_FLOW_MOD".into(),
        PortMod(_) => "OFPT_PORT_MOD".into(),
        TableMod(_) => "OFPT_TABLE_MOD".into(),
        MultipartRequest(r) => format!("{} request", mp_name(r.mp_type())),
        MultipartReply(r) => format!("{} reply", mp_name(r.mp_type())),
        BarrierRequest => "OFPT_BARRIER_REQUEST".into(),
        BarrierReply => "OFPT_BARRIER_REPLY".into(),
        RoleRequest(_) => "OFPT_ROLE_REQUEST".into(),
        RoleReply(_) => "OFPT_ROLE_REPLY".into(),
        GetAsyncRequest => "OFPT_GET_ASYNC_REQUEST".into(),
        GetAsyncReply(_) => "OFPT_GET_ASYNC_REPLY".into(),
        SetAsync(_) => "OFPT_SET_ASYNC".into(),
    }
}

fn mp_name(t: u16) -> String {
    match t {
        0 => "OFPST_DESC".into(),
        1 => "OFPST_FLOW".into(),
        2 => "OFPST_AGGREGATE".into(),
        3 => "OFPST_TABLE".into(),
        4 => "OFPST_PORT".into(),
        5 => "OFPST_QUEUE".into(),
        6 => "OFPST_GROUP".into(),
        7 => "OFPST_GROUP_DESC".into(),
        8 => "OFPST_GROUP_FEATURES".into(),
        9 => "OFPST_METER".into(),
        10 => "OFPST_METER_CONFIG".into(),
        11 => "OFPST_METER_FEATURES".into(),
        12 => "OFPST_TABLE_FEATURES".into(),
        13 => "OFPST_PORT_DESC".into(),
        0xffff => "OFPST_EXPERIMENTER".into(),
        t => format!("OFPST_{t}"),
    }
}

/// A port as `ofputil_format_port` prints it: a reserved name or the number.
pub fn port_text(p: u32) -> String {
    match PortNo(p).reserved_name() {
        Some(n) => n.to_string(),
        None => p.to_string(),
    }
}

/// `ofp_print_duration`: no decimals for whole seconds, 3 for whole milliseconds, otherwise
/// as many as needed.
fn duration_text(sec: u32, nsec: u32) -> String {
    if nsec == 0 {
        format!("{sec}s")
    } else if nsec.is_multiple_of(1_000_000) {
        format!("{sec}.{:03}s", nsec / 1_000_000)
    } else {
        format!("{sec}.{}s", format!("{nsec:09}").trim_end_matches('0'))
    }
}

/// `ds_put_hex_dump` with offsets and ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", i * 16);
        for (j, b) in line.iter().enumerate() {
            let _ = write!(out, "{b:02x}{}", if j == 7 { '-' } else { ' ' });
        }
        out.push_str(&"   ".repeat(16 - line.len()));
        out.push('|');
        for &b in line {
            out.push(if (32..127).contains(&b) {
                b as char
            } else {
                '.'
            });
        }
        out.push_str(&" ".repeat(16 - line.len()));
        out.push_str("|\n");
    }
    out
}

/// Prints the message at the front of `bytes` (`ofp_to_string`): decoded when possible,
/// otherwise what is wrong with it and a hex dump.
pub fn format_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    if bytes.len() < codec::HEADER_LEN {
        let _ = writeln!(
            out,
            "OpenFlow packet too short (only {} bytes):",
            bytes.len()
        );
    } else {
        let declared = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let xid = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if declared > bytes.len() {
            if let Some(name) = type_name(bytes[1]) {
                let _ = writeln!(out, "{}", header_line(name, xid));
            }
            let _ = writeln!(
                out,
                "(***truncated to {} bytes from {declared}***)",
                bytes.len()
            );
        } else if declared < bytes.len() {
            let _ = writeln!(
                out,
                "(***only uses {declared} bytes out of {}***)",
                bytes.len()
            );
        } else {
            match codec::decode(bytes) {
                Ok((h, m)) => return format_message(&h, &m),
                Err(e) => {
                    let _ = writeln!(out, "***decode error: {e}***");
                }
            }
        }
    }
    out.push_str(&hex_dump(bytes));
    out
}

/// The name of a message type, for headers of messages that did not decode.
fn type_name(t: u8) -> Option<&'static str> {
    use msg_type as t;
    Some(match t {
        t::HELLO => "OFPT_HELLO",
        t::ERROR => "OFPT_ERROR",
        t::FEATURES_REPLY => "OFPT_FEATURES_REPLY",
        t::PACKET_IN => "OFPT_PACKET_IN",
        t::FLOW_REMOVED => "OFPT_FLOW_REMOVED",
        t::PORT_STATUS => "OFPT_PORT_STATUS",
        t::PACKET_OUT => "OFPT_PACKET_OUT",
        t::FLOW_MOD => "OFPT_FLOW_MOD",
        t::MULTIPART_REQUEST => "OFPT_MULTIPART_REQUEST",
        t::MULTIPART_REPLY => "OFPT_MULTIPART_REPLY",
        _ => return None,
    })
}

/// One decoded message as `ovs-ofctl` prints it, ending with a newline.
pub fn format_message(h: &Header, m: &Message) -> String {
    let mut out = header_line(&message_name(m), h.xid);
    if let Message::MultipartRequest(r) = m {
        mp_flags(&mut out, r.flags);
    }
    if let Message::MultipartReply(r) = m {
        mp_flags(&mut out, r.flags);
    }
    match m {
        Message::Hello(hello) => hello_text(&mut out, h, hello),
        Message::Error(e) => error_text(&mut out, e),
        Message::EchoRequest(d) | Message::EchoReply(d) => {
            let _ = writeln!(out, " {} bytes of payload", d.len());
            out.push_str(&hex_dump(d));
        }
        Message::FeaturesReply(f) => {
            let _ = write!(
                out,
                " dpid:{:016x}\nn_tables:{}, n_buffers:{}\ncapabilities:",
                f.datapath_id, f.n_tables, f.n_buffers
            );
            let names = [
                (1, "FLOW_STATS"),
                (2, "TABLE_STATS"),
                (4, "PORT_STATS"),
                (8, "GROUP_STATS"),
                (0x20, "IP_REASM"),
                (0x40, "QUEUE_STATS"),
                (0x100, "PORT_BLOCKED"),
            ];
            for (bit, name) in names {
                if f.capabilities & bit != 0 {
                    let _ = write!(out, " {name}");
                }
            }
        }
        Message::GetConfigReply(c) | Message::SetConfig(c) => config_text(&mut out, c),
        Message::PacketIn(p) => packet_in_text(&mut out, p),
        Message::FlowRemoved(f) => flow_removed_text(&mut out, f),
        Message::PortStatus(p) => {
            out.push_str(match p.reason {
                PortReason::Add => " ADD:",
                PortReason::Delete => " DEL:",
                PortReason::Modify => " MOD:",
                PortReason::Unknown(_) => " reason=?:",
            });
            port_desc_text(&mut out, &p.desc);
        }
        Message::PacketOut(p) => packet_out_text(&mut out, p),
        Message::FlowMod(f) => flow_mod_text(&mut out, f),
        Message::MultipartRequest(r) => match &r.body {
            MpRequest::Flow(f) | MpRequest::Aggregate(f) => flow_request_text(&mut out, f),
            MpRequest::PortStats { port_no } => {
                let _ = write!(out, " port_no={}", port_text(*port_no));
            }
            _ => {}
        },
        Message::MultipartReply(r) => reply_text(&mut out, &r.body),
        Message::Experimenter(Experimenter::BundleControl(b)) => {
            let t = match b.ctrl_type {
                BundleCtrlType::OpenRequest => "OPEN_REQUEST",
                BundleCtrlType::OpenReply => "OPEN_REPLY",
                BundleCtrlType::CloseRequest => "CLOSE_REQUEST",
                BundleCtrlType::CloseReply => "CLOSE_REPLY",
                BundleCtrlType::CommitRequest => "COMMIT_REQUEST",
                BundleCtrlType::CommitReply => "COMMIT_REPLY",
                BundleCtrlType::DiscardRequest => "DISCARD_REQUEST",
                BundleCtrlType::DiscardReply => "DISCARD_REPLY",
                BundleCtrlType::Unknown(_) => "UNKNOWN",
            };
            let _ = write!(
                out,
                "\n bundle_id={:#x} type={t} flags={}",
                b.bundle_id,
                bundle_flags(b.flags)
            );
        }
        Message::Experimenter(Experimenter::BundleAdd(b)) => {
            let _ = write!(
                out,
                "\n bundle_id={:#x} flags={}\n",
                b.bundle_id,
                bundle_flags(b.flags)
            );
            let inner = Header {
                version: 4,
                msg_type: b.message.msg_type(),
                length: 0,
                xid: b.xid,
            };
            out.push_str(&format_message(&inner, &b.message));
        }
        Message::Experimenter(Experimenter::AdminRequest(words)) => {
            let _ = write!(out, " {}", words.join(" "));
        }
        Message::Experimenter(Experimenter::AdminReply { ok, text }) => {
            let _ = write!(out, " {}\n{text}", if *ok { "ok" } else { "failed" });
        }
        Message::Experimenter(Experimenter::SetPacketInFormat(f)) => {
            let name = match f {
                0 => "standard",
                1 => "nxt_packet_in",
                2 => "nxt_packet_in2",
                _ => "unknown",
            };
            let _ = write!(out, " format={name}");
        }
        _ => {}
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn bundle_flags(f: u16) -> String {
    let mut v = Vec::new();
    if f & 1 != 0 {
        v.push("atomic");
    }
    if f & 2 != 0 {
        v.push("ordered");
    }
    if v.is_empty() {
        "0".into()
    } else {
        v.join(" ")
    }
}

pub fn mp_flags(out: &mut String, flags: u16) {
    if flags != 0 {
        out.push_str(" flags=");
        if flags & MPF_MORE != 0 {
            out.push_str("[more]");
        }
        if flags & !MPF_MORE != 0 {
            let _ = write!(out, "[***unknown flags {:#06x}***]", flags & !MPF_MORE);
        }
    }
}

fn hello_text(out: &mut String, h: &Header, hello: &Hello) {
    let versions = hello
        .versions()
        .unwrap_or_else(|| (1..=h.version).collect());
    let list: Vec<String> = versions.iter().map(|v| format!("{v:#04x}")).collect();
    let _ = write!(out, "\n version bitmap: {}", list.join(", "));
}

fn error_text(out: &mut String, e: &ErrorMsg) {
    let _ = writeln!(out, " {}", error_name(e.error));
    match e.error {
        OfError::HelloFailed(_) => out.push_str(&String::from_utf8_lossy(&e.data)),
        _ if e.data.is_empty() => {}
        _ => out.push_str(&format_bytes(&e.data)),
    }
}

fn config_text(out: &mut String, c: &SwitchConfig) {
    let frags = match c.flags & 3 {
        0 => "normal",
        1 => "drop",
        2 => "reassemble",
        _ => "nx-match",
    };
    let _ = write!(out, " frags={frags}");
    if c.flags & 4 != 0 {
        out.push_str(" invalid_ttl_to_controller");
    }
    let _ = write!(out, " miss_send_len={}", c.miss_send_len);
}

/// A frame as a microflow (without `in_port`, as OVS prints packets), on its own line.
fn packet_text(data: &[u8]) -> String {
    let mut key = FlowKey::default();
    let _ = wyvern_pipeline::wire::extract(data, 0, &mut key);
    wyvern_pipeline::text::format_key(&key)
}

fn packet_in_text(out: &mut String, p: &PacketIn) {
    if p.table_id != 0 {
        let _ = write!(out, " table_id={}", p.table_id);
    }
    if p.cookie != u64::MAX {
        let _ = write!(out, " cookie={:#x}", p.cookie);
    }
    let _ = write!(
        out,
        " total_len={} {}",
        p.total_len,
        format_match(&p.matching, DEFAULT_PRIORITY)
    );
    let reason = match p.reason {
        PacketInReason::NoMatch => "no_match".to_string(),
        PacketInReason::Action => "action".to_string(),
        PacketInReason::InvalidTtl => "invalid_ttl".to_string(),
        PacketInReason::Unknown(r) => r.to_string(),
    };
    let _ = write!(out, " (via {reason}) data_len={}", p.data.len());
    if p.buffer_id == u32::MAX {
        out.push_str(" (unbuffered)");
    } else {
        let _ = write!(out, " buffer={:#010x}", p.buffer_id);
    }
    out.push('\n');
    if !p.data.is_empty() {
        out.push_str(&packet_text(&p.data));
    }
}

fn flow_removed_text(out: &mut String, f: &FlowRemoved) {
    let _ = write!(out, " {}", format_match(&f.matching, f.priority));
    let reason = match f.reason {
        FlowRemovedReason::IdleTimeout => "idle".to_string(),
        FlowRemovedReason::HardTimeout => "hard".to_string(),
        FlowRemovedReason::Delete => "delete".to_string(),
        FlowRemovedReason::GroupDelete => "group_delete".to_string(),
        FlowRemovedReason::Unknown(r) => r.to_string(),
    };
    let _ = write!(out, " reason={reason}");
    if f.table_id != 255 {
        let _ = write!(out, " table_id={}", f.table_id);
    }
    if f.cookie != 0 {
        let _ = write!(out, " cookie:{:#x}", f.cookie);
    }
    let _ = write!(
        out,
        " duration{} idle{}",
        duration_text(f.duration_sec, f.duration_nsec),
        f.idle_timeout
    );
    if f.hard_timeout != 0 {
        let _ = write!(out, " hard{}", f.hard_timeout);
    }
    let _ = write!(out, " pkts{} bytes{}", f.packet_count, f.byte_count);
}

fn packet_out_text(out: &mut String, p: &PacketOut) {
    let actions = format_instructions(&[Instruction::ApplyActions(p.actions.clone())]);
    let _ = write!(out, " in_port={} actions={actions}", port_text(p.in_port.0));
    if p.buffer_id == u32::MAX {
        let _ = write!(out, " data_len={}", p.data.len());
        if !p.data.is_empty() {
            out.push('\n');
            out.push_str(&packet_text(&p.data));
        }
    } else {
        let _ = write!(out, " buffer={:#010x}", p.buffer_id);
    }
}

/// `ofputil_flow_mod_format`.
fn flow_mod_text(out: &mut String, f: &FlowModMsg) {
    let fm = &f.flow_mod;
    let s = &fm.spec;
    out.push_str(match fm.command {
        FlowModCommand::Add => " ADD",
        FlowModCommand::Modify => " MOD",
        FlowModCommand::ModifyStrict => " MOD_STRICT",
        FlowModCommand::Delete => " DEL",
        FlowModCommand::DeleteStrict => " DEL_STRICT",
    });
    if s.table != 0 {
        let _ = write!(out, " table:{}", s.table);
    }
    out.push(' ');
    let start = out.len();
    out.push_str(&format_match(&s.matching, s.priority));
    if !out.ends_with(' ') {
        out.push(' ');
    }
    let (cookie, cookie_mask, new_cookie) = if fm.command == FlowModCommand::Add {
        (0, 0, s.cookie)
    } else {
        (s.cookie, fm.cookie_mask, u64::MAX)
    };
    if new_cookie != 0 && new_cookie != u64::MAX {
        let _ = write!(out, "cookie:{new_cookie:#x} ");
    }
    if cookie_mask != 0 {
        let _ = write!(out, "cookie:{cookie:#x}/{cookie_mask:#x} ");
    }
    if s.idle_timeout != 0 {
        let _ = write!(out, "idle:{} ", s.idle_timeout);
    }
    if s.hard_timeout != 0 {
        let _ = write!(out, "hard:{} ", s.hard_timeout);
    }
    if s.priority != DEFAULT_PRIORITY && !out[start..].contains("priority") {
        let _ = write!(out, "pri:{} ", s.priority);
    }
    if f.buffer_id != u32::MAX {
        let _ = write!(out, "buf:{:#x} ", f.buffer_id);
    }
    if fm.out_port != PortNo::ANY {
        let _ = write!(out, "out_port:{} ", port_text(fm.out_port.0));
    }
    for (bit, name) in FlowFlags::NAMES {
        if s.flags.has(bit) {
            let _ = write!(out, "{name} ");
        }
    }
    let unknown = s.flags.0 & !0x1f;
    if unknown != 0 {
        let _ = write!(out, "flags:{unknown:#x} ");
    }
    let _ = write!(out, "actions={}", format_instructions(&s.instructions));
}

fn flow_request_text(out: &mut String, f: &FlowStatsRequest) {
    if f.table_id != 0xff {
        let _ = write!(out, " table={}", f.table_id);
    }
    if f.out_port != PortNo::ANY {
        let _ = write!(out, " out_port={}", port_text(f.out_port.0));
    }
    let _ = write!(out, " {}", format_match(&f.matching, DEFAULT_PRIORITY));
}

fn reply_text(out: &mut String, body: &MpReply) {
    match body {
        MpReply::Desc(d) => desc_text(out, d),
        MpReply::Flow(flows) => flows_text(out, flows, FlowStyle::Stats),
        MpReply::Aggregate {
            packet_count,
            byte_count,
            flow_count,
        } => {
            let _ = write!(
                out,
                " packet_count={packet_count} byte_count={byte_count} flow_count={flow_count}"
            );
        }
        MpReply::Table(t) => table_stats_text(out, t),
        MpReply::PortStats(p) => port_stats_text(out, p),
        MpReply::PortDesc(ports) => {
            out.push('\n');
            ports_text(out, ports);
        }
        _ => {}
    }
}

/// The flow lines of a flow-stats reply, each on its own line.
pub fn flows_text(out: &mut String, flows: &[FlowStats], style: FlowStyle) {
    for f in flows {
        out.push('\n');
        out.push_str(&format_flow(f, style));
    }
}

fn desc_text(out: &mut String, d: &Desc) {
    let _ = write!(
        out,
        "\nManufacturer: {}\nHardware: {}\nSoftware: {}\nSerial Num: {}\nDP Description: {}",
        d.mfr_desc, d.hw_desc, d.sw_desc, d.serial_num, d.dp_desc
    );
}

/// `ofp_print_table_stats_reply`: equal consecutive entries collapse into `ditto` lines.
fn table_stats_text(out: &mut String, tables: &[TableStats]) {
    let same = |a: &TableStats, b: &TableStats| {
        (a.active_count, a.lookup_count, a.matched_count)
            == (b.active_count, b.lookup_count, b.matched_count)
    };
    let mut ditto: Option<(u8, u8)> = None;
    let finish = |out: &mut String, ditto: &mut Option<(u8, u8)>| {
        if let Some((first, last)) = ditto.take() {
            out.push('\n');
            if first == last {
                let _ = writeln!(out, "  table {first}: ditto");
            } else {
                let _ = writeln!(out, "  tables {first}...{last}: ditto");
            }
        }
    };
    for (i, t) in tables.iter().enumerate() {
        if i > 0 && same(t, &tables[i - 1]) {
            ditto = Some((ditto.map_or(t.table_id, |d| d.0), t.table_id));
            continue;
        }
        finish(out, &mut ditto);
        let _ = writeln!(
            out,
            "\n  table {}:\n    active={}, lookup={}, matched={}",
            t.table_id, t.active_count, t.lookup_count, t.matched_count
        );
    }
    finish(out, &mut ditto);
}

fn counter(n: u64) -> String {
    if n == u64::MAX {
        "?".into()
    } else {
        n.to_string()
    }
}

/// `ofp_print_ofpst_port_reply`: ports in wire order, the number padded to 2 columns.
fn port_stats_text(out: &mut String, ports: &[PortStats]) {
    let _ = write!(out, " {} ports", ports.len());
    for p in ports {
        let pad = if p.port_no < 10 { " " } else { "" };
        let _ = write!(
            out,
            "\n  port {pad}{}: rx pkts={}, bytes={}, drop={}, errs={}, frame={}, over={}, crc={}",
            port_text(p.port_no),
            counter(p.rx_packets),
            counter(p.rx_bytes),
            counter(p.rx_dropped),
            counter(p.rx_errors),
            counter(p.rx_frame_err),
            counter(p.rx_over_err),
            counter(p.rx_crc_err)
        );
        let _ = write!(
            out,
            "\n           tx pkts={}, bytes={}, drop={}, errs={}, coll={}",
            counter(p.tx_packets),
            counter(p.tx_bytes),
            counter(p.tx_dropped),
            counter(p.tx_errors),
            counter(p.collisions)
        );
        if p.duration_sec != u32::MAX {
            let _ = write!(
                out,
                "\n           duration={}",
                duration_text(p.duration_sec, p.duration_nsec)
            );
        }
    }
}

/// Every port, sorted by number (LOCAL last), as `show` and `dump-ports-desc` print them.
pub fn ports_text(out: &mut String, ports: &[PortDesc]) {
    let mut sorted: Vec<&PortDesc> = ports.iter().collect();
    sorted.sort_by_key(|p| p.port_no);
    for p in sorted {
        port_desc_text(out, p);
    }
}

fn bit_names(v: u32, names: &[(u32, &str)]) -> String {
    let words: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| v & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    let unknown = v & !names.iter().fold(0, |a, (b, _)| a | b);
    let mut s = words.join(" ");
    if unknown != 0 {
        if !s.is_empty() {
            s.push(' ');
        }
        let _ = write!(s, "{unknown:#x}");
    }
    if s.is_empty() { "0".into() } else { s }
}

const FEATURE_NAMES: [(u32, &str); 16] = [
    (1 << 0, "10MB-HD"),
    (1 << 1, "10MB-FD"),
    (1 << 2, "100MB-HD"),
    (1 << 3, "100MB-FD"),
    (1 << 4, "1GB-HD"),
    (1 << 5, "1GB-FD"),
    (1 << 6, "10GB-FD"),
    (1 << 7, "40GB-FD"),
    (1 << 8, "100GB-FD"),
    (1 << 9, "1TB-FD"),
    (1 << 10, "OTHER"),
    (1 << 11, "COPPER"),
    (1 << 12, "FIBER"),
    (1 << 13, "AUTO_NEG"),
    (1 << 14, "AUTO_PAUSE"),
    (1 << 15, "AUTO_PAUSE_ASYM"),
];

/// `ofputil_phy_port_format`: ` N(name): addr:…` and the indented lines below it, each
/// ending with a newline.
fn port_desc_text(out: &mut String, p: &PortDesc) {
    let a = p.hw_addr;
    let name: String = p.name.chars().take_while(|c| !c.is_control()).collect();
    let _ = writeln!(
        out,
        " {}({name}): addr:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        port_text(p.port_no),
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        a[5]
    );
    let config = bit_names(
        p.config,
        &[
            (1, "PORT_DOWN"),
            (4, "NO_RECV"),
            (32, "NO_FWD"),
            (64, "NO_PACKET_IN"),
        ],
    );
    let _ = writeln!(out, "     config:     {config}");
    let state = bit_names(p.state, &[(1, "LINK_DOWN"), (2, "BLOCKED"), (4, "LIVE")]);
    let _ = writeln!(out, "     state:      {state}");
    for (v, label) in [
        (p.curr, "current:    "),
        (p.advertised, "advertised: "),
        (p.supported, "supported:  "),
        (p.peer, "peer:       "),
    ] {
        if v != 0 {
            let _ = writeln!(out, "     {label}{}", bit_names(v, &FEATURE_NAMES));
        }
    }
    let _ = writeln!(
        out,
        "     speed: {} Mbps now, {} Mbps max",
        p.curr_speed / 1000,
        p.max_speed / 1000
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print_hex(hex: &str) -> String {
        let bytes = super::super::parse_hex(hex).unwrap();
        format_bytes(&bytes)
    }

    #[test]
    fn flow_mods_print_as_ovs_ofctl_ofp_print() {
        // Outputs of `ovs-ofctl ofp-print` (OVS 3.1) for FLOW_MODs captured from ovs-ofctl.
        let cases = [
            (
                "040e00b800000006 0001008000000019 0000000000000000 3400012c00000064 ffffffffffffffff ffffffff00000000 0001004280000004 0000000c80000806 fa163ecf4bed8000 0606fa163ec5024d 80000a0208008000 16040a0200058000 18040a0100058000 0408000000000000 1f43000000000000 0004004000000000 0018000800000000 0019001080000806 fa163ec5024d0000 0019001080000606 fa163e0017e60000 000000100000000b 0000000000000000",
                "OFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD table:52 priority=100,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5 cookie:0x1008000000019 idle:300 actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11\n",
            ),
            (
                "040e003800000006 0000000000000000 0000000000000000 ff03000000008000 ffffffffffffffff ffffffff00000000 0001000400000000",
                "OFPT_FLOW_MOD (OF1.3) (xid=0x6): DEL table:255 actions=drop\n",
            ),
            (
                "040e0038000000060000000000000005ffffffffffffffff3403000000008000ffffffffffffffffffffffff000000000001000400000000",
                "OFPT_FLOW_MOD (OF1.3) (xid=0x6): DEL table:52 cookie:0x5/0xffffffffffffffff actions=drop\n",
            ),
            (
                "040e004000000006 0000000000000000 0000000000000000 0000000000000001 ffffffffffffffff ffffffff00010000 0001000400000000 0001000828000000",
                "OFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD priority=1 send_flow_rem actions=goto_table:40\n",
            ),
            (
                "0400001000000001 0001000800000010",
                "OFPT_HELLO (OF1.3) (xid=0x1):\n version bitmap: 0x04\n",
            ),
            (
                "0414000800000007",
                "OFPT_BARRIER_REQUEST (OF1.3) (xid=0x7):\n",
            ),
        ];
        for (hex, want) in cases {
            assert_eq!(print_hex(hex), want);
        }
    }

    #[test]
    fn an_error_prints_its_name_and_the_offending_request() {
        let fm = "040e003800000006 0000000000000000 0000000000000000 fe00000000008000 ffffffffffffffff ffffffff00000000 0001000400000000";
        let inner = super::super::parse_hex(fm).unwrap();
        let mut e = vec![4, 1, 0, 0, 0, 0, 0, 6, 0, 1, 0, 5];
        e.extend_from_slice(&inner);
        let len = e.len() as u16;
        e[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            format_bytes(&e),
            "OFPT_ERROR (OF1.3) (xid=0x6): OFPBRC_EPERM\n\
             OFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD table:254 actions=drop\n"
        );
        // Truncated to 16 bytes: the header line, the truncation and a hex dump.
        let mut t = vec![4, 1, 0, 28, 0, 0, 0, 6, 0, 2, 0, 3];
        t.extend_from_slice(&inner[..16]);
        assert_eq!(
            format_bytes(&t),
            "OFPT_ERROR (OF1.3) (xid=0x6): OFPBAC_BAD_VENDOR_TYPE\n\
             OFPT_FLOW_MOD (OF1.3) (xid=0x6):\n\
             (***truncated to 16 bytes from 56***)\n\
             00000000  04 0e 00 38 00 00 00 06-00 00 00 00 00 00 00 00 |...8............|\n"
        );
    }

    #[test]
    fn table_stats_collapse_into_ditto_runs() {
        let t = |id, active| TableStats {
            table_id: id,
            active_count: active,
            ..TableStats::default()
        };
        let mut out = String::new();
        table_stats_text(
            &mut out,
            &[
                t(0, 2),
                t(1, 0),
                t(2, 0),
                t(3, 1),
                t(4, 0),
                t(5, 0),
                t(6, 0),
            ],
        );
        assert_eq!(
            out,
            "\n  table 0:\n    active=2, lookup=0, matched=0\n\
             \n  table 1:\n    active=0, lookup=0, matched=0\n\
             \n  table 2: ditto\n\
             \n  table 3:\n    active=1, lookup=0, matched=0\n\
             \n  table 4:\n    active=0, lookup=0, matched=0\n\
             \n  tables 5...6: ditto\n"
        );
    }
}

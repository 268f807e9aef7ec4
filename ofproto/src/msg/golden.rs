//! Golden vectors: exact bytes captured from `ovs-ofctl` 3.1 (see
//! `/work/shared/notes/ofctl-wire.md`), shared by the tests (and, later, the benches).
#![allow(dead_code)]

/// `table=0,priority=1,actions=goto_table:40`
pub const F01: &str = "040e004000000006000000000000000000000000000000000000000000000001ffffffffffffffffffffffff0000000000010004000000000001000828000000";
/// `table=0,priority=0,actions=NORMAL`
pub const F02: &str = "040e005000000006000000000000000000000000000000000000000000000000ffffffffffffffffffffffff000000000001000400000000000400180000000000000010fffffffa0000000000000000";
/// `table=0,priority=1000,in_port=6,actions=NORMAL`
pub const F03: &str = "040e0058000000060000000000000000000000000000000000000000000003e8ffffffffffffffffffffffff000000000001000c800000040000000600000000000400180000000000000010fffffffa0000000000000000";
/// `table=23,priority=0,actions=drop`
pub const F04: &str = "040e003800000006000000000000000000000000000000001700000000000000ffffffffffffffffffffffff000000000001000400000000";
/// `table=40,priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=NORMAL`
pub const F05: &str = "040e00600000000600000000000000000000000000000000280000000000000affffffffffffffffffffffff00000000000100148000070c01000000000001000000000000000000000400180000000000000010fffffffa0000000000000000";
/// `table=40,priority=1000,arp,actions=goto_table:51`
pub const F06: &str = "040e0048000000060000000000000000000000000000000028000000000003e8ffffffffffffffffffffffff000000000001000a80000a0208060000000000000001000833000000";
/// `table=51,priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1,actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT`
pub const F07: &str = "040e00e000000006000000000000000000000000000000003300000000000064ffffffffffffffffffffffff000000000001002480000a02080680002a02000180002e040a010001800004080000000000001f420000000000040088000000000019001080002a020002000000000000ffff00180000232000060030000000000001220600012406ffff001800002320000600200000000000002004000022040019001080000806fa163ec08d8b00000019001080003006fa163ec08d8b00000019001080002c040a0100010000000000000010fffffff80000000000000000";
/// `table=52,priority=20,ip,metadata=0x1f43,nw_dst=10.1.0.0/24,actions=CONTROLLER:65535`
pub const F09: &str = "040e007000000006000000000000000000000000000000003400000000000014ffffffffffffffffffffffff000000000001002280000a020800800019080a010000ffffff00800004080000000000001f43000000000000000400180000000000000010fffffffdffff000000000000";
/// `table=52,priority=100,idle_timeout=300,cookie=0x1008000000019,ip,metadata=0x1f43,in_port=12,dl_src=fa:16:3e:cf:4b:ed,dl_dst=fa:16:3e:c5:02:4d,nw_src=10.2.0.5,nw_dst=10.1.0.5,actions=dec_ttl,set_field:fa:16:3e:c5:02:4d->eth_src,set_field:fa:16:3e:00:17:e6->eth_dst,output:11`
pub const F10: &str = "040e00b800000006000100800000001900000000000000003400012c00000064ffffffffffffffffffffffff0000000000010042800000040000000c80000806fa163ecf4bed80000606fa163ec5024d80000a020800800016040a020005800018040a010005800004080000000000001f43000000000000000400400000000000180008000000000019001080000806fa163ec5024d00000019001080000606fa163e0017e60000000000100000000b0000000000000000";
/// `table=60,priority=1,actions=move:NXM_NX_TUN_ID[0..31]->NXM_NX_PKT_MARK[],output:6`
pub const F11: &str = "040e006800000006000000000000000000000000000000003c00000000000001ffffffffffffffffffffffff0000000000010004000000000004003000000000ffff0018000023200006002000000000000120080001420400000010000000060000000000000000";
/// `table=0,priority=1000,in_port=11,actions=write_metadata:0x1f42/0xffff,goto_table:40`
pub const F12: &str = "040e0060000000060000000000000000000000000000000000000000000003e8ffffffffffffffffffffffff000000000001000c800000040000000b0000000000020018000000000000000000001f42000000000000ffff0001000828000000";
/// `table=60,priority=10,metadata=0x1f42,actions=set_field:0x1f42->tun_id,set_field:192.168.0.2->tun_dst,output:3`
pub const F13: &str = "040e007800000006000000000000000000000000000000003c0000000000000affffffffffffffffffffffff0000000000010010800004080000000000001f4200040038000000000019001080004c080000000000001f420019001000014004c0a800020000000000000010000000030000000000000000";

/// 03_f08: f07 with `priority=101` and `send_flow_rem` (notes §4).
pub fn f08() -> String {
    F07.replacen("3300000000000064", "3300000000000065", 1)
        .replacen("ffffffff00000000", "ffffffff00010000", 1)
}

/// Every FLOW_MOD of §4, with its name.
pub fn flow_mods() -> Vec<(&'static str, String)> {
    vec![
        ("f01", F01.into()),
        ("f02", F02.into()),
        ("f03", F03.into()),
        ("f04", F04.into()),
        ("f05", F05.into()),
        ("f06", F06.into()),
        ("f07", F07.into()),
        ("f08", f08()),
        ("f09", F09.into()),
        ("f10", F10.into()),
        ("f11", F11.into()),
        ("f12", F12.into()),
        ("f13", F13.into()),
    ]
}

/// `ovs-ofctl -O OpenFlow13` HELLO (§2.1).
pub const HELLO: &str = "0400001000000001 0001000800000010";
/// os-ken's HELLO with version 6 and no bitmap (§7).
pub const HELLO_V6_PLAIN: &str = "0600000800000001";
/// FEATURES_REPLY from OVS (§2.4).
pub const FEATURES_REPLY: &str =
    "0406002000000002 000042fbf384884c 00000000 fe 00 0000 0000004f 00000000";
/// GET_CONFIG_REPLY (§2.4).
pub const GET_CONFIG_REPLY: &str = "0408000c00000005 00000000";
/// SET_CONFIG from `monitor … 65535` (§2.4).
pub const SET_CONFIG: &str = "0409000c00000003 0000ffff";
/// The smallest TABLE_FEATURES reply ovs-ofctl accepts (§2.3).
pub const TABLE_FEATURES_MIN: &str = "0413009000000002 000c000000000000 0080 00 0000000000 \
    0000000000000000000000000000000000000000000000000000000000000000 0000000000000000 \
    0000000000000000 00000000 000003e8 0000000400000000 0002000400000000 0004000400000000 \
    0006000400000000 0008000400000000 000a000400000000 000c000400000000 000e000400000000";
/// A PORT_DESC reply with the p11 entry from OVS (§2.4).
pub const PORT_DESC_P11: &str = "0413005000000003 000d000000000000 0000000b00000000 620414e78995 0000 \
    7031310000000000 0000000000000000 00000001 00000001 00000840 00000000 00000000 00000000 \
    00989680 00000000";
/// PACKET_OUT (§3) with a 42-byte ARP request as its data.
pub const PACKET_OUT: &str = "040d005200000007 ffffffff fffffffd 0010 000000000000 \
    0000 0010 00000006 0000 000000000000 \
    ffffffffffff fa163ec08d8b 0806 0001 0800 06 04 0001 fa163ec08d8b 0a010005 000000000000 0a010001";
/// FLOW stats request of `dump-flows` (§3).
pub const FLOW_STATS_REQUEST: &str = "0412003800000002 0001 0000 00000000 ff000000 ffffffff ffffffff 00000000 \
    0000000000000000 0000000000000000 0001000400000000";
/// FLOW stats reply with the captured first entry (§3; REPLY_MORE clear).
pub const FLOW_STATS_REPLY: &str = "0413006800000002 0001 0000 00000000 \
    0058 00 00 0000003f 00d59f80 03e8 0000 0000 0000 00000000 0000000000000000 \
    0000000000000000 0000000000000000 0001000c80000004 0000000600000000 \
    0004001800000000 00000010fffffffa 0000000000000000";
/// `del-flows` with no match (§3).
pub const DEL_FLOWS_ALL: &str = "040e003800000006 0000000000000000 0000000000000000 ff 03 0000 0000 8000 \
    ffffffff ffffffff ffffffff 0000 0000 0001000400000000";
/// ONF BUNDLE_CONTROL OPEN_REQUEST, atomic|ordered (§5.2).
pub const BUNDLE_OPEN: &str = "040400180000000a 4f4e4600 000008fc 00000001 0000 0003";
/// ONF BUNDLE_ADD_MESSAGE wrapping f01, inner xid = outer xid (§5.2).
pub const BUNDLE_ADD_F01: &str = "040400580000000b 4f4e4600 000008fd 00000001 0000 0003 \
    040e00400000000b 0000000000000000 0000000000000000 0000000000000001 \
    ffffffffffffffff ffffffff00000000 0001000400000000 0001000828000000";
/// ONF BUNDLE_CONTROL COMMIT_REQUEST (§5.2).
pub const BUNDLE_COMMIT: &str = "040400180000000c 4f4e4600 000008fc 00000001 0004 0003";
/// NXT_SET_PACKET_IN_FORMAT(nxt_packet_in2) from `monitor` (§5.2).
pub const SET_PACKET_IN_FORMAT: &str = "0404001400000002 00002320 00000010 00000002";
/// A FLOW_MOD with `load:0x1f42->NXM_NX_REG6[]`, `load:1->NXM_NX_REG0[0..3]`,
/// `set_field:0x1f43->reg7` and `resubmit(,40)` (§5.2), matching `reg6=0x1f42,pkt_mark=5`.
pub const NX_EXTRAS: &str = "040e00b000000006 0000000000000000 0000000000000000 0100000000000006 \
    ffffffffffffffff ffffffff00000000 0001001400010c04 00001f4200014204 0000000500000000 \
    0004006800000000 ffff001800002320 0007001f00010c04 0000000000001f42 \
    ffff001800002320 0007000300010004 0000000000000001 \
    0019001000010e04 00001f4300000000 ffff001000002320 000efff828000000 \
    0000001000000006 0000000000000000";

/// Parses hex with spaces, newlines and backslashes between the digits.
pub fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("00"), 16).unwrap_or(0))
        .collect()
}

/// Every golden message.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = flow_mods()
        .into_iter()
        .map(|(n, h)| (n, bytes(&h)))
        .collect();
    for (n, h) in [
        ("hello", HELLO),
        ("hello_v6", HELLO_V6_PLAIN),
        ("features_reply", FEATURES_REPLY),
        ("get_config_reply", GET_CONFIG_REPLY),
        ("set_config", SET_CONFIG),
        ("table_features_min", TABLE_FEATURES_MIN),
        ("port_desc_p11", PORT_DESC_P11),
        ("packet_out", PACKET_OUT),
        ("flow_stats_request", FLOW_STATS_REQUEST),
        ("flow_stats_reply", FLOW_STATS_REPLY),
        ("del_flows_all", DEL_FLOWS_ALL),
        ("bundle_open", BUNDLE_OPEN),
        ("bundle_add_f01", BUNDLE_ADD_F01),
        ("bundle_commit", BUNDLE_COMMIT),
        ("set_packet_in_format", SET_PACKET_IN_FORMAT),
        ("nx_extras", NX_EXTRAS),
    ] {
        v.push((n, bytes(h)));
    }
    v
}

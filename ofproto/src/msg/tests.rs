//! Codec tests: golden vectors from `ovs-ofctl`, round-trip properties over generated values,
//! truncation and garbage robustness, and the error mapping.

use proptest::prelude::*;
use proptest::sample::Index;
use wyvern_pipeline::action::{Action, Instruction, PortNo, validate_instructions};
use wyvern_pipeline::field::{Field, FieldRange, VLAN_PRESENT};
use wyvern_pipeline::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec, FlowStats};
use wyvern_pipeline::flow_match::{Match, MatchError};

use super::golden::{self, bytes};
use super::*;
use crate::codec::{FrameSplitter, decode, encode};
use crate::error::OfError;
use crate::msg::multipart::*;
use crate::msg::table_features::*;
use crate::oxm::{CLASS_EXPERIMENTER, OxmHeader};

fn flow_mod_of(b: &[u8]) -> FlowModMsg {
    match decode(b) {
        Ok((_, Message::FlowMod(f))) => f,
        other => panic!("not a flow mod: {other:?}"),
    }
}

fn apply(spec: &FlowSpec) -> &[Action] {
    match spec.instructions.first() {
        Some(Instruction::ApplyActions(a)) => a,
        other => panic!("no apply_actions first: {other:?}"),
    }
}

// ---------------------------------------------------------------- golden vectors

#[test]
fn every_golden_message_round_trips_byte_for_byte() {
    for (name, b) in golden::all() {
        let (h, msg) = decode(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(usize::from(h.length), b.len(), "{name}");
        let again = if h.version == 4 {
            encode(&msg, h.xid)
        } else {
            // Only HELLO is accepted in another version; re-encoding writes 1.3.
            let mut e = encode(&msg, h.xid);
            e[0] = h.version;
            e
        };
        assert_eq!(hex(&again), hex(&b), "{name}");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn golden_flow_mods_decode_to_the_flows_ovs_ofctl_meant() {
    let fm = |n: &str| {
        let h = golden::flow_mods()
            .into_iter()
            .find(|(x, _)| *x == n)
            .map(|(_, h)| h)
            .unwrap_or_default();
        flow_mod_of(&bytes(&h))
    };
    let f01 = fm("f01");
    assert_eq!(f01.flow_mod.command, FlowModCommand::Add);
    assert_eq!(f01.flow_mod.spec.priority, 1);
    assert_eq!(f01.flow_mod.spec.instructions, [Instruction::GotoTable(40)]);
    assert_eq!(f01.buffer_id, flow::NO_BUFFER);
    assert_eq!(f01.out_group, flow::GROUP_ANY);
    assert_eq!(f01.flow_mod.out_port, PortNo::ANY);

    let f02 = fm("f02");
    assert_eq!(
        apply(&f02.flow_mod.spec),
        [Action::output(PortNo::NORMAL.0)]
    );

    let f03 = fm("f03");
    assert_eq!(
        f03.flow_mod
            .spec
            .matching
            .get(Field::InPort)
            .map(|m| m.value),
        Some(6)
    );

    let f04 = fm("f04");
    assert_eq!(f04.flow_mod.spec.table, 23);
    assert!(f04.flow_mod.spec.instructions.is_empty());

    let f05 = fm("f05");
    let dst = f05.flow_mod.spec.matching.get(Field::EthDst).copied();
    assert_eq!(dst.map(|m| (m.value, m.mask)), Some((1 << 40, 1 << 40)));

    let f06 = fm("f06");
    assert_eq!(
        f06.flow_mod
            .spec
            .matching
            .get(Field::EthType)
            .map(|m| m.value),
        Some(0x0806)
    );

    let f07 = fm("f07");
    let order: Vec<Field> = f07
        .flow_mod
        .spec
        .matching
        .fields()
        .iter()
        .map(|m| m.field)
        .collect();
    assert_eq!(
        order,
        [Field::EthType, Field::ArpOp, Field::ArpTpa, Field::Metadata]
    );
    let acts = apply(&f07.flow_mod.spec);
    assert_eq!(
        acts[0],
        Action::SetField {
            field: Field::ArpOp,
            value: 2
        }
    );
    assert_eq!(
        acts[1],
        Action::Move {
            src: FieldRange::whole(Field::ArpSha),
            dst: FieldRange::whole(Field::ArpTha)
        }
    );
    assert_eq!(
        acts[2],
        Action::Move {
            src: FieldRange::whole(Field::ArpSpa),
            dst: FieldRange::whole(Field::ArpTpa)
        }
    );
    assert_eq!(acts[6], Action::output(PortNo::IN_PORT.0));

    let f08 = fm("f08");
    assert_eq!(f08.flow_mod.spec.priority, 101);
    assert_eq!(f08.flow_mod.spec.flags, FlowFlags(FlowFlags::SEND_FLOW_REM));

    let f09 = fm("f09");
    let nw = f09.flow_mod.spec.matching.get(Field::Ipv4Dst).copied();
    assert_eq!(
        nw.map(|m| (m.value, m.mask)),
        Some((0x0a01_0000, 0xffff_ff00))
    );
    assert_eq!(
        apply(&f09.flow_mod.spec),
        [Action::Output {
            port: PortNo::CONTROLLER,
            max_len: 0xffff
        }]
    );

    let f10 = fm("f10");
    assert_eq!(f10.flow_mod.spec.cookie, 0x1_0080_0000_0019);
    assert_eq!(f10.flow_mod.spec.idle_timeout, 300);
    assert_eq!(f10.flow_mod.spec.matching.fields().len(), 7);
    assert_eq!(apply(&f10.flow_mod.spec)[0], Action::DecTtl);
    assert_eq!(apply(&f10.flow_mod.spec)[3], Action::output(11));

    let f11 = fm("f11");
    assert_eq!(
        apply(&f11.flow_mod.spec)[0],
        Action::Move {
            src: FieldRange::new(Field::TunId, 0, 32).unwrap_or(FieldRange::whole(Field::TunId)),
            dst: FieldRange::whole(Field::PktMark)
        }
    );

    let f12 = fm("f12");
    assert_eq!(
        f12.flow_mod.spec.instructions,
        [
            Instruction::WriteMetadata {
                value: 0x1f42,
                mask: 0xffff
            },
            Instruction::GotoTable(40)
        ]
    );

    let f13 = fm("f13");
    assert_eq!(
        apply(&f13.flow_mod.spec)[..2],
        [
            Action::SetField {
                field: Field::TunId,
                value: 0x1f42
            },
            Action::SetField {
                field: Field::TunDst,
                value: 0xc0a8_0002
            }
        ]
    );
}

#[test]
fn golden_other_messages_decode_as_expected() {
    let (_, m) = decode(&bytes(golden::HELLO)).unwrap();
    let Message::Hello(h) = m else { panic!() };
    assert_eq!(h.versions(), Some(vec![4]));
    assert_eq!(h, Hello::with_versions(&[4]));

    let (h6, m) = decode(&bytes(golden::HELLO_V6_PLAIN)).unwrap();
    assert_eq!((h6.version, m), (6, Message::Hello(Hello::default())));

    let (_, m) = decode(&bytes(golden::FEATURES_REPLY)).unwrap();
    assert_eq!(
        m,
        Message::FeaturesReply(FeaturesReply {
            datapath_id: 0x0000_42fb_f384_884c,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0x4f,
            reserved: 0
        })
    );

    let (_, m) = decode(&bytes(golden::SET_CONFIG)).unwrap();
    assert_eq!(
        m,
        Message::SetConfig(SwitchConfig {
            flags: 0,
            miss_send_len: 0xffff
        })
    );

    let (_, m) = decode(&bytes(golden::TABLE_FEATURES_MIN)).unwrap();
    let expect = MultipartReply {
        flags: 0,
        body: MpReply::TableFeatures(vec![TableFeatures::minimal(0, "", 1000)]),
    };
    assert_eq!(m, Message::MultipartReply(expect.clone()));
    assert_eq!(
        encode(&Message::MultipartReply(expect), 2),
        bytes(golden::TABLE_FEATURES_MIN)
    );

    let p11 = PortDesc {
        advertised: 0,
        ..PortDesc::new(
            PortNo(11),
            "p11",
            [0x62, 0x04, 0x14, 0xe7, 0x89, 0x95],
            port::OFPPC_PORT_DOWN,
            port::OFPPS_LINK_DOWN,
            10_000_000,
        )
    };
    let (_, m) = decode(&bytes(golden::PORT_DESC_P11)).unwrap();
    assert_eq!(
        m,
        Message::MultipartReply(MultipartReply {
            flags: 0,
            body: MpReply::PortDesc(vec![p11])
        })
    );

    let (_, m) = decode(&bytes(golden::PACKET_OUT)).unwrap();
    let Message::PacketOut(po) = m else { panic!() };
    assert_eq!(
        (po.buffer_id, po.in_port, po.actions, po.data.len()),
        (0xffff_ffff, PortNo::CONTROLLER, vec![Action::output(6)], 42)
    );

    let (_, m) = decode(&bytes(golden::FLOW_STATS_REQUEST)).unwrap();
    assert_eq!(
        m,
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Flow(FlowStatsRequest {
                table_id: 0xff,
                out_port: PortNo::ANY,
                out_group: 0xffff_ffff,
                cookie: 0,
                cookie_mask: 0,
                matching: Match::new()
            })
        })
    );

    let (_, m) = decode(&bytes(golden::FLOW_STATS_REPLY)).unwrap();
    let Message::MultipartReply(MultipartReply {
        body: MpReply::Flow(flows),
        ..
    }) = m
    else {
        panic!()
    };
    assert_eq!(flows[0].duration.as_millis(), 63_014);
    assert_eq!(flows[0].spec.priority, 1000);

    let del = flow_mod_of(&bytes(golden::DEL_FLOWS_ALL));
    assert_eq!(del.flow_mod.command, FlowModCommand::Delete);
    assert_eq!(del.flow_mod.spec.table, 0xff);

    let (_, m) = decode(&bytes(golden::BUNDLE_ADD_F01)).unwrap();
    let Message::Experimenter(Experimenter::BundleAdd(b)) = m else {
        panic!()
    };
    assert_eq!((b.bundle_id, b.flags, b.xid), (1, 3, 0xb));
    assert!(matches!(*b.message, Message::FlowMod(_)));

    let (_, m) = decode(&bytes(golden::BUNDLE_COMMIT)).unwrap();
    assert!(matches!(
        m,
        Message::Experimenter(Experimenter::BundleControl(BundleControl {
            ctrl_type: BundleCtrlType::CommitRequest,
            ..
        }))
    ));

    let (_, m) = decode(&bytes(golden::SET_PACKET_IN_FORMAT)).unwrap();
    assert_eq!(m, Message::Experimenter(Experimenter::SetPacketInFormat(2)));

    // wyvern's admin request: experimenter "WYV", type 1, NUL-terminated words.
    let req = Message::Experimenter(Experimenter::AdminRequest(vec![
        "del-port".into(),
        "p1".into(),
    ]));
    let wire = crate::codec::encode(&req, 7);
    assert_eq!(
        wire,
        bytes(
            "04 04 00 1c 00 00 00 07 00 57 59 56 00 00 00 01 64 65 6c 2d 70 6f 72 74 00 70 31 00"
        )
    );
    assert_eq!(decode(&wire).unwrap().1, req);
    let mut unterminated = wire.clone();
    unterminated.pop();
    unterminated[3] -= 1;
    assert!(decode(&unterminated).is_err());

    let nx = flow_mod_of(&bytes(golden::NX_EXTRAS));
    let acts = apply(&nx.flow_mod.spec);
    assert_eq!(
        acts[0],
        Action::Load {
            dst: FieldRange::whole(Field::Reg6),
            value: 0x1f42
        }
    );
    assert_eq!(
        acts[1],
        Action::Load {
            dst: FieldRange::new(Field::Reg0, 0, 4).unwrap_or(FieldRange::whole(Field::Reg0)),
            value: 1
        }
    );
    assert_eq!(
        acts[3],
        Action::Resubmit {
            in_port: None,
            table: Some(40)
        }
    );
}

#[test]
fn builders_produce_what_ovs_ofctl_needs() {
    let tf = table_features_reply(3, 1000);
    assert_eq!(tf.len(), 3);
    for t in &tf {
        let types: Vec<u16> = {
            let m = Message::MultipartReply(MultipartReply {
                flags: 0,
                body: MpReply::TableFeatures(vec![t.clone()]),
            });
            let b = encode(&m, 1);
            assert_eq!(decode(&b).map(|x| x.1), Ok(m));
            let mut v = Vec::new();
            let mut at = 16 + 64;
            while at + 4 <= b.len() {
                v.push(u16::from_be_bytes([b[at], b[at + 1]]));
                let len = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
                at += len.next_multiple_of(8);
            }
            v
        };
        assert_eq!(types, [0, 2, 4, 6, 8, 10, 12, 14]);
    }
    assert!(
        matches!(&tf[0].properties[1], TableFeatureProp::NextTables { tables, .. } if tables == &[1, 2])
    );

    let d = MultipartReply {
        flags: 0,
        body: MpReply::Desc(MpDescExt::desc()),
    };
    let b = encode(&Message::MultipartReply(d.clone()), 9);
    assert_eq!(b.len(), 16 + 1056);
    assert_eq!(decode(&b).map(|x| x.1), Ok(Message::MultipartReply(d)));
}

struct MpDescExt;
impl MpDescExt {
    fn desc() -> Desc {
        Desc::wyvern("br0")
    }
}

// ---------------------------------------------------------------- robustness

#[test]
fn every_truncation_of_every_golden_message_is_an_error() {
    for (name, b) in golden::all() {
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "{name} cut to {n}");
            // Same cut, with the header's length fixed up: must not panic (it may decode, e.g.
            // a flow mod cut after a whole instruction).
            let mut c = b[..n].to_vec();
            if n >= 4 {
                c[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            }
            let _ = decode(&c);
        }
    }
}

#[test]
fn splitter_reassembles_a_stream_cut_anywhere() {
    let msgs: Vec<Vec<u8>> = golden::all().into_iter().map(|(_, b)| b).collect();
    let stream: Vec<u8> = msgs.concat();
    for chunk in [1, 3, 7, 8, 13, 64, 1000] {
        let mut s = FrameSplitter::new();
        let mut got = Vec::new();
        for c in stream.chunks(chunk) {
            s.push(c);
            while let Some(f) = s.next_frame() {
                got.push(f.unwrap_or_default());
            }
        }
        assert_eq!(got, msgs, "chunk {chunk}");
        assert_eq!(s.buffered(), 0);
    }
    let mut s = FrameSplitter::new();
    s.push(&[4, 0, 0, 4, 0, 0, 0, 1]);
    assert!(matches!(s.next_frame(), Some(Err(_))));
    assert!(matches!(s.next_frame(), Some(Err(_))));
}

// ---------------------------------------------------------------- error mapping

#[test]
fn bad_messages_map_to_the_right_error() {
    let f01 = bytes(golden::F01);
    let code = |b: &[u8]| decode(b).map(|_| ()).unwrap_err().type_code();

    let mut v1 = f01.clone();
    v1[0] = 1;
    assert_eq!(code(&v1), (1, 0), "bad version");
    assert_eq!(code(&f01[..5]), (1, 6), "short header");
    let mut past = f01.clone();
    past[3] = 0x48;
    assert_eq!(code(&past), (1, 6), "length past end");
    let mut low = f01.clone();
    low[2..4].copy_from_slice(&[0, 4]);
    assert_eq!(code(&low), (1, 6), "length below header");
    let mut group_mod = f01.clone();
    group_mod[1] = 15;
    assert_eq!(code(&group_mod), (1, 1), "unknown type");
    let mut t200 = f01.clone();
    t200[1] = 200;
    assert_eq!(code(&t200), (1, 1), "unknown type");

    // f03 with in_port's header turned into field 0x7e: bad field.
    let mut f03 = bytes(golden::F03);
    f03[54] = 0x7e << 1;
    assert_eq!(code(&f03), (4, 6), "bad oxm field");
    // f07 (ARP fields) with eth_type changed to IPv4.
    let mut f07 = bytes(golden::F07);
    f07[57] = 0x00;
    assert_eq!(code(&f07), (4, 9), "bad prerequisite");
    // f05 with value bit outside the mask.
    let mut f05 = bytes(golden::F05);
    f05[56] = 0x03;
    assert_eq!(code(&f05), (4, 5), "value outside mask");
    // f02 with OUTPUT turned into GROUP (22): unknown action.
    let mut f02 = bytes(golden::F02);
    f02[65] = 22;
    assert_eq!(code(&f02), (2, 0), "bad action type");
    // f11 with the Nicira experimenter id changed.
    let mut f11 = bytes(golden::F11);
    f11[71] = 0x21;
    assert_eq!(code(&f11), (2, 2), "bad action experimenter");
    let mut f11 = bytes(golden::F11);
    f11[73] = 99;
    assert_eq!(code(&f11), (2, 3), "bad Nicira subtype");
    // f01 with goto_table:0 from table 0: backwards.
    let mut f01b = f01.clone();
    f01b[60] = 0;
    assert_eq!(code(&f01b), (3, 2), "goto backwards");
    // Unknown instruction type.
    let mut f01c = f01.clone();
    f01c[57] = 9;
    assert_eq!(code(&f01c), (3, 0), "unknown instruction");
    // Bad command.
    let mut f01d = f01.clone();
    f01d[25] = 9;
    assert_eq!(code(&f01d), (5, 6), "bad command");

    // The reply echoes the first 64 bytes.
    let f07 = bytes(golden::F07);
    let mut bad = f07.clone();
    bad[57] = 0;
    let err = decode(&bad).unwrap_err();
    let reply = err.reply(&bad);
    assert_eq!(reply.data, bad[..64]);
    assert_eq!(
        reply.error,
        OfError::BadMatch(crate::error::BadMatchCode::BadPrereq)
    );
    let wire = encode(&Message::Error(reply.clone()), 6);
    assert_eq!(decode(&wire).map(|x| x.1), Ok(Message::Error(reply)));
}

// ---------------------------------------------------------------- generators

fn arb_field_value(f: Field) -> impl Strategy<Value = u128> {
    any::<u128>().prop_map(move |v| v & f.full_mask())
}

fn arb_field() -> impl Strategy<Value = Field> {
    any::<Index>().prop_map(|i| Field::ALL[i.index(Field::ALL.len())])
}

fn arb_writable() -> impl Strategy<Value = Field> {
    arb_field().prop_filter("writable", |f| f.info().writable)
}

pub(crate) fn arb_match() -> impl Strategy<Value = Match> {
    let protos: [&[(Field, u128)]; 8] = [
        &[],
        &[(Field::EthType, 0x0800)],
        &[(Field::EthType, 0x0806)],
        &[(Field::EthType, 0x86dd)],
        &[(Field::EthType, 0x0800), (Field::IpProto, 6)],
        &[(Field::EthType, 0x86dd), (Field::IpProto, 17)],
        &[(Field::EthType, 0x0800), (Field::IpProto, 1)],
        &[(Field::VlanVid, 0x1005)],
    ];
    (
        0..protos.len(),
        proptest::collection::vec(
            (arb_field(), any::<u128>(), any::<u128>(), any::<bool>()),
            0..8,
        ),
        any::<Index>(),
    )
        .prop_map(move |(p, cands, at)| {
            let mut fields: Vec<(Field, u128, u128)> = protos[p]
                .iter()
                .map(|(f, v)| (*f, *v, f.full_mask()))
                .collect();
            for (f, v, mask, masked) in cands {
                let full = f.full_mask();
                let mut mask = if masked && f.info().maskable {
                    mask & full
                } else {
                    full
                };
                if f == Field::VlanVid {
                    mask |= VLAN_PRESENT;
                }
                let mut v = v & mask;
                if f == Field::VlanVid {
                    v |= VLAN_PRESENT;
                }
                fields.push((f, v, mask));
            }
            // Start the prerequisites anywhere: order is free, only presence counts.
            let n = fields.len();
            if n > 0 {
                fields.rotate_left(at.index(n));
            }
            let mut m = Match::new();
            for (f, v, mask) in fields {
                let mut t = m.clone();
                if t.push(f, v, mask).is_ok() {
                    m = t;
                }
            }
            // Drop fields whose prerequisite is missing until the match is valid.
            while let Err(MatchError::Prerequisite { field, .. }) = m.validate() {
                let mut next = Match::new();
                for o in m.fields().iter().filter(|o| o.field != field) {
                    let _ = next.push(o.field, o.value, o.mask);
                }
                m = next;
            }
            m
        })
}

fn arb_port() -> impl Strategy<Value = PortNo> {
    prop_oneof![
        (1u32..=PortNo::MAX.0).prop_map(PortNo),
        prop::sample::select(vec![
            PortNo::IN_PORT,
            PortNo::TABLE,
            PortNo::NORMAL,
            PortNo::FLOOD,
            PortNo::ALL,
            PortNo::CONTROLLER,
            PortNo::LOCAL
        ]),
    ]
}

fn arb_range(f: Field) -> impl Strategy<Value = FieldRange> {
    (any::<u16>(), any::<u16>()).prop_map(move |(a, b)| {
        let bits = f.bits();
        let ofs = a % bits;
        let n = 1 + b % (bits - ofs);
        FieldRange::new(f, ofs, n).unwrap_or(FieldRange::whole(f))
    })
}

pub(crate) fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (arb_port(), any::<u16>()).prop_map(|(port, max_len)| Action::Output { port, max_len }),
        arb_writable().prop_flat_map(
            |f| arb_field_value(f).prop_map(move |value| Action::SetField { field: f, value })
        ),
        arb_writable().prop_flat_map(|f| (arb_range(f), any::<u128>()).prop_map(|(dst, v)| {
            Action::Load {
                dst,
                value: v & wyvern_pipeline::field::mask_of_width(dst.bits),
            }
        })),
        (
            arb_field(),
            arb_writable(),
            any::<u16>(),
            any::<u16>(),
            any::<u16>()
        )
            .prop_map(|(s, d, n, a, b)| {
                let n = 1 + n % s.bits().min(d.bits());
                let so = a % (s.bits() - n + 1);
                let dof = b % (d.bits() - n + 1);
                Action::Move {
                    src: FieldRange::new(s, so, n).unwrap_or(FieldRange::whole(s)),
                    dst: FieldRange::new(d, dof, n).unwrap_or(FieldRange::whole(d)),
                }
            }),
        Just(Action::DecTtl),
        Just(Action::PopVlan),
        prop::sample::select(vec![0x8100u16, 0x88a8])
            .prop_map(|ethertype| Action::PushVlan { ethertype }),
        (
            prop::option::of(
                arb_port()
                    .prop_filter("16-bit", |p| p.0 < 0xff00 || p.0 >= 0xffff_ff00)
                    .prop_filter("not IN_PORT", |p| *p != PortNo::IN_PORT)
            ),
            prop::option::of(0u8..=254)
        )
            .prop_map(|(in_port, table)| Action::Resubmit { in_port, table }),
    ]
}

fn arb_actions() -> impl Strategy<Value = Vec<Action>> {
    proptest::collection::vec(arb_action(), 0..5)
}

/// Valid instructions for `table`, in any order.
fn arb_instructions(table: u8) -> impl Strategy<Value = Vec<Instruction>> {
    (
        prop::option::of(arb_actions()),
        any::<bool>(),
        prop::option::of(arb_actions()),
        prop::option::of((any::<u64>(), any::<u64>())),
        prop::option::of(any::<u8>()),
    )
        .prop_flat_map(move |(apply, clear, write, md, goto)| {
            let mut v = Vec::new();
            v.extend(apply.map(Instruction::ApplyActions));
            if clear {
                v.push(Instruction::ClearActions);
            }
            v.extend(write.map(Instruction::WriteActions));
            v.extend(md.map(|(value, mask)| Instruction::WriteMetadata {
                value: value & mask,
                mask,
            }));
            if table < 254 {
                v.extend(goto.map(|g| Instruction::GotoTable(table + 1 + g % (254 - table))));
            }
            Just(v).prop_shuffle()
        })
}

fn arb_flow_mod() -> impl Strategy<Value = FlowModMsg> {
    (
        0u8..5,
        prop_oneof![0u8..=254, Just(0xffu8)],
        any::<(u64, u64, u16, u16, u16, u32, u32, u32)>(),
        0u16..0x20,
        arb_match(),
    )
        .prop_flat_map(
            |(
                cmd,
                table,
                (cookie, cookie_mask, idle, hard, prio, buf, outp, outg),
                flags,
                matching,
            )| {
                let command = [
                    FlowModCommand::Add,
                    FlowModCommand::Modify,
                    FlowModCommand::ModifyStrict,
                    FlowModCommand::Delete,
                    FlowModCommand::DeleteStrict,
                ][usize::from(cmd)];
                let table = if cmd < 3 { table.min(254) } else { table };
                arb_instructions(table.min(253)).prop_map(move |instructions| FlowModMsg {
                    flow_mod: FlowMod {
                        command,
                        spec: FlowSpec {
                            table,
                            priority: prio,
                            cookie,
                            idle_timeout: idle,
                            hard_timeout: hard,
                            flags: FlowFlags(flags),
                            matching: matching.clone(),
                            instructions,
                        },
                        cookie_mask,
                        out_port: PortNo(outp),
                    },
                    buffer_id: buf,
                    out_group: outg,
                })
            },
        )
        .prop_filter("valid", |f| {
            f.flow_mod.spec.table > 254
                || validate_instructions(f.flow_mod.spec.table, &f.flow_mod.spec.instructions)
                    .is_ok()
        })
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn arb_name(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9_.-]{{0,{max}}}")).unwrap()
}

fn arb_of_error() -> impl Strategy<Value = OfError> {
    prop_oneof![
        (0u16..0xffff, any::<u16>()).prop_map(|(t, c)| OfError::from_type_code(t, c)),
        (any::<u16>(), any::<u32>()).prop_map(|(exp_type, experimenter)| {
            OfError::Experimenter {
                exp_type,
                experimenter,
            }
        }),
    ]
}

fn arb_hello() -> impl Strategy<Value = Hello> {
    proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u32>(), 0..3).prop_map(HelloElement::VersionBitmap),
            (2u16.., arb_bytes(12))
                .prop_map(|(elem_type, data)| HelloElement::Unknown { elem_type, data }),
        ],
        0..3,
    )
    .prop_map(|elements| Hello { elements })
}

fn arb_port_desc() -> impl Strategy<Value = PortDesc> {
    (
        any::<u32>(),
        any::<[u8; 6]>(),
        arb_name(15),
        any::<[u32; 8]>(),
    )
        .prop_map(|(port_no, hw_addr, name, w)| PortDesc {
            port_no,
            hw_addr,
            name,
            config: w[0],
            state: w[1],
            curr: w[2],
            advertised: w[3],
            supported: w[4],
            peer: w[5],
            curr_speed: w[6],
            max_speed: w[7],
        })
}

fn arb_tlv_ids() -> impl Strategy<Value = Vec<TlvId>> {
    proptest::collection::vec(
        (any::<u16>(), arb_bytes(8)).prop_map(|(id_type, body)| TlvId { id_type, body }),
        0..4,
    )
}

fn arb_oxm_ids() -> impl Strategy<Value = Vec<OxmId>> {
    proptest::collection::vec(
        (any::<u32>(), any::<u32>(), any::<bool>()).prop_map(|(h, e, exp)| {
            let header = if exp {
                OxmHeader(u32::from(CLASS_EXPERIMENTER) << 16 | (h & 0xffff))
            } else {
                OxmHeader(h)
            };
            OxmId {
                header,
                experimenter: (header.class() == CLASS_EXPERIMENTER).then_some(e),
            }
        }),
        0..4,
    )
}

fn arb_prop() -> impl Strategy<Value = TableFeatureProp> {
    use TableFeatureProp as P;
    prop_oneof![
        (any::<bool>(), arb_tlv_ids()).prop_map(|(miss, ids)| P::Instructions { miss, ids }),
        (any::<bool>(), arb_bytes(6)).prop_map(|(miss, tables)| P::NextTables { miss, tables }),
        (any::<bool>(), arb_tlv_ids()).prop_map(|(miss, ids)| P::WriteActions { miss, ids }),
        (any::<bool>(), arb_tlv_ids()).prop_map(|(miss, ids)| P::ApplyActions { miss, ids }),
        arb_oxm_ids().prop_map(P::Match),
        arb_oxm_ids().prop_map(P::Wildcards),
        (any::<bool>(), arb_oxm_ids()).prop_map(|(miss, ids)| P::WriteSetfield { miss, ids }),
        (any::<bool>(), arb_oxm_ids()).prop_map(|(miss, ids)| P::ApplySetfield { miss, ids }),
        (any::<bool>(), any::<u32>(), any::<u32>(), arb_bytes(9)).prop_map(
            |(miss, experimenter, exp_type, data)| P::Experimenter {
                miss,
                experimenter,
                exp_type,
                data
            }
        ),
        (
            prop_oneof![Just(9u16), Just(11u16), 16u16..0xfffe],
            arb_bytes(9)
        )
            .prop_map(|(prop_type, data)| P::Unknown { prop_type, data }),
    ]
}

fn arb_table_features() -> impl Strategy<Value = TableFeatures> {
    (
        any::<u8>(),
        arb_name(31),
        any::<(u64, u64, u32, u32)>(),
        proptest::collection::vec(arb_prop(), 0..5),
    )
        .prop_map(
            |(table_id, name, (mm, mw, config, max_entries), properties)| TableFeatures {
                table_id,
                name,
                metadata_match: mm,
                metadata_write: mw,
                config,
                max_entries,
                properties,
            },
        )
}

fn arb_flow_stats_request() -> impl Strategy<Value = FlowStatsRequest> {
    (any::<(u8, u32, u32, u64, u64)>(), arb_match()).prop_map(
        |((table_id, p, out_group, cookie, cookie_mask), matching)| FlowStatsRequest {
            table_id,
            out_port: PortNo(p),
            out_group,
            cookie,
            cookie_mask,
            matching,
        },
    )
}

fn arb_flow_stats() -> impl Strategy<Value = FlowStats> {
    (
        arb_flow_mod(),
        any::<(u32, u64, u64)>(),
        0u32..1_000_000_000,
    )
        .prop_map(|(fm, (sec, packets, bytes), nsec)| FlowStats {
            spec: fm.flow_mod.spec,
            duration: std::time::Duration::new(u64::from(sec), nsec),
            packets,
            bytes,
        })
}

fn unknown_mp_type() -> impl Strategy<Value = u16> {
    prop_oneof![prop::sample::select(vec![5u16, 6, 7, 9, 10]), 14u16..0xffff]
}

fn arb_mp_request() -> impl Strategy<Value = MultipartRequest> {
    let body = prop_oneof![
        Just(MpRequest::Desc),
        arb_flow_stats_request().prop_map(MpRequest::Flow),
        arb_flow_stats_request().prop_map(MpRequest::Aggregate),
        Just(MpRequest::Table),
        any::<u32>().prop_map(|port_no| MpRequest::PortStats { port_no }),
        Just(MpRequest::PortDesc),
        proptest::collection::vec(arb_table_features(), 0..3).prop_map(MpRequest::TableFeatures),
        Just(MpRequest::GroupFeatures),
        Just(MpRequest::MeterFeatures),
        (any::<u32>(), any::<u32>(), arb_bytes(16)).prop_map(|(experimenter, exp_type, data)| {
            MpRequest::Experimenter {
                experimenter,
                exp_type,
                data,
            }
        }),
        (unknown_mp_type(), arb_bytes(16))
            .prop_map(|(mp_type, body)| MpRequest::Unknown { mp_type, body }),
    ];
    (any::<u16>(), body).prop_map(|(flags, body)| MultipartRequest { flags, body })
}

fn arb_mp_reply() -> impl Strategy<Value = MultipartReply> {
    let body = prop_oneof![
        (
            arb_name(60),
            arb_name(60),
            arb_name(60),
            arb_name(31),
            arb_name(60)
        )
            .prop_map(|(a, b, c, d, e)| MpReply::Desc(Desc {
                mfr_desc: a,
                hw_desc: b,
                sw_desc: c,
                serial_num: d,
                dp_desc: e
            })),
        proptest::collection::vec(arb_flow_stats(), 0..3).prop_map(MpReply::Flow),
        any::<(u64, u64, u32)>().prop_map(|(packet_count, byte_count, flow_count)| {
            MpReply::Aggregate {
                packet_count,
                byte_count,
                flow_count,
            }
        }),
        proptest::collection::vec(any::<(u8, u32, u64, u64)>(), 0..4).prop_map(|v| {
            MpReply::Table(
                v.into_iter()
                    .map(
                        |(table_id, active_count, lookup_count, matched_count)| TableStats {
                            table_id,
                            active_count,
                            lookup_count,
                            matched_count,
                        },
                    )
                    .collect(),
            )
        }),
        proptest::collection::vec(
            (any::<u32>(), any::<[u64; 12]>(), any::<(u32, u32)>()),
            0..3
        )
        .prop_map(|v| MpReply::PortStats(
            v.into_iter()
                .map(|(port_no, c, (duration_sec, duration_nsec))| PortStats {
                    port_no,
                    rx_packets: c[0],
                    tx_packets: c[1],
                    rx_bytes: c[2],
                    tx_bytes: c[3],
                    rx_dropped: c[4],
                    tx_dropped: c[5],
                    rx_errors: c[6],
                    tx_errors: c[7],
                    rx_frame_err: c[8],
                    rx_over_err: c[9],
                    rx_crc_err: c[10],
                    collisions: c[11],
                    duration_sec,
                    duration_nsec,
                })
                .collect()
        )),
        proptest::collection::vec(arb_port_desc(), 0..4).prop_map(MpReply::PortDesc),
        proptest::collection::vec(arb_table_features(), 0..3).prop_map(MpReply::TableFeatures),
        any::<(u32, u32, [u32; 4], [u32; 4])>().prop_map(
            |(types, capabilities, max_groups, actions)| {
                MpReply::GroupFeatures(GroupFeatures {
                    types,
                    capabilities,
                    max_groups,
                    actions,
                })
            }
        ),
        any::<(u32, u32, u32, u8, u8)>().prop_map(|(a, b, c, d, e)| MpReply::MeterFeatures(
            MeterFeatures {
                max_meter: a,
                band_types: b,
                capabilities: c,
                max_bands: d,
                max_color: e
            }
        )),
        (any::<u32>(), any::<u32>(), arb_bytes(16)).prop_map(|(experimenter, exp_type, data)| {
            MpReply::Experimenter {
                experimenter,
                exp_type,
                data,
            }
        }),
        (unknown_mp_type(), arb_bytes(16))
            .prop_map(|(mp_type, body)| MpReply::Unknown { mp_type, body }),
    ];
    (any::<u16>(), body).prop_map(|(flags, body)| MultipartReply { flags, body })
}

fn arb_experimenter() -> impl Strategy<Value = Experimenter> {
    use experimenter::*;
    let inner = prop_oneof![
        arb_flow_mod().prop_map(Message::FlowMod),
        Just(Message::BarrierRequest),
        arb_bytes(16).prop_map(Message::EchoRequest),
    ];
    prop_oneof![
        any::<u32>().prop_map(Experimenter::SetPacketInFormat),
        proptest::collection::vec("[^\\x00]{0,12}", 0..5).prop_map(Experimenter::AdminRequest),
        (any::<bool>(), ".{0,40}").prop_map(|(ok, text)| Experimenter::AdminReply { ok, text }),
        (any::<u32>(), any::<u16>(), any::<u16>(), arb_bytes(16)).prop_map(
            |(bundle_id, t, flags, properties)| Experimenter::BundleControl(BundleControl {
                bundle_id,
                ctrl_type: BundleCtrlType::from_raw(t),
                flags,
                properties
            })
        ),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            inner,
            arb_bytes(16)
        )
            .prop_map(
                |(bundle_id, flags, xid, message, trailer)| Experimenter::BundleAdd(BundleAdd {
                    bundle_id,
                    flags,
                    xid,
                    message: Box::new(message),
                    trailer
                })
            ),
        (any::<u32>(), any::<u32>(), arb_bytes(16))
            .prop_filter("not a known experimenter message", |(e, t, _)| !matches!(
                (*e, *t),
                (NX_EXPERIMENTER, NXT_SET_PACKET_IN_FORMAT)
                    | (ONF_EXPERIMENTER, ONF_ET_BUNDLE_CONTROL)
                    | (ONF_EXPERIMENTER, ONF_ET_BUNDLE_ADD_MESSAGE)
                    | (WYVERN_EXPERIMENTER, WYV_ADMIN_REQUEST)
                    | (WYVERN_EXPERIMENTER, WYV_ADMIN_REPLY)
            ))
            .prop_map(|(experimenter, exp_type, data)| Experimenter::Other {
                experimenter,
                exp_type,
                data
            }),
    ]
}

fn arb_message() -> impl Strategy<Value = Message> {
    let switch = prop_oneof![
        Just(Message::FeaturesRequest),
        any::<(u64, u32, u8, u8, u32, u32)>().prop_map(|(d, b, t, a, c, r)| {
            Message::FeaturesReply(FeaturesReply {
                datapath_id: d,
                n_buffers: b,
                n_tables: t,
                auxiliary_id: a,
                capabilities: c,
                reserved: r,
            })
        }),
        Just(Message::GetConfigRequest),
        any::<(u16, u16)>().prop_map(|(flags, miss_send_len)| Message::GetConfigReply(
            SwitchConfig {
                flags,
                miss_send_len
            }
        )),
        any::<(u16, u16)>().prop_map(|(flags, miss_send_len)| Message::SetConfig(SwitchConfig {
            flags,
            miss_send_len
        })),
        any::<(u8, u32)>()
            .prop_map(|(table_id, config)| Message::TableMod(TableMod { table_id, config })),
        Just(Message::BarrierRequest),
        Just(Message::BarrierReply),
        any::<(u32, u64, bool)>().prop_map(|(r, generation_id, req)| {
            let role = Role {
                role: ControllerRole::from_raw(r),
                generation_id,
            };
            if req {
                Message::RoleRequest(role)
            } else {
                Message::RoleReply(role)
            }
        }),
        Just(Message::GetAsyncRequest),
        any::<([u32; 2], [u32; 2], [u32; 2], bool)>().prop_map(|(a, b, c, set)| {
            let cfg = AsyncConfig {
                packet_in_mask: a,
                port_status_mask: b,
                flow_removed_mask: c,
            };
            if set {
                Message::SetAsync(cfg)
            } else {
                Message::GetAsyncReply(cfg)
            }
        }),
    ];
    let flows = prop_oneof![
        arb_flow_mod().prop_map(Message::FlowMod),
        (
            any::<(u64, u16, u8, u8, u32, u32, u16, u16, u64, u64)>(),
            arb_match()
        )
            .prop_map(
                |((cookie, priority, reason, table_id, s, ns, idle, hard, pc, bc), matching)| {
                    Message::FlowRemoved(FlowRemoved {
                        cookie,
                        priority,
                        reason: FlowRemovedReason::from_raw(reason),
                        table_id,
                        duration_sec: s,
                        duration_nsec: ns,
                        idle_timeout: idle,
                        hard_timeout: hard,
                        packet_count: pc,
                        byte_count: bc,
                        matching,
                    })
                }
            ),
        (any::<(u32, u16, u8, u8, u64)>(), arb_match(), arb_bytes(64)).prop_map(
            |((buffer_id, total_len, reason, table_id, cookie), matching, data)| {
                Message::PacketIn(PacketIn {
                    buffer_id,
                    total_len,
                    reason: PacketInReason::from_raw(reason),
                    table_id,
                    cookie,
                    matching,
                    data,
                })
            }
        ),
        (any::<(u32, u32)>(), arb_actions(), arb_bytes(64)).prop_map(
            |((buffer_id, in_port), actions, data)| Message::PacketOut(PacketOut {
                buffer_id,
                in_port: PortNo(in_port),
                actions,
                data
            })
        ),
    ];
    let ports = prop_oneof![
        (any::<u8>(), arb_port_desc()).prop_map(|(r, desc)| Message::PortStatus(PortStatus {
            reason: PortReason::from_raw(r),
            desc
        })),
        any::<(u32, [u8; 6], u32, u32, u32)>().prop_map(
            |(port_no, hw_addr, config, mask, advertise)| Message::PortMod(PortMod {
                port_no,
                hw_addr,
                config,
                mask,
                advertise
            })
        ),
    ];
    prop_oneof![
        arb_hello().prop_map(Message::Hello),
        (arb_of_error(), arb_bytes(64))
            .prop_map(|(error, data)| Message::Error(ErrorMsg { error, data })),
        arb_bytes(32).prop_map(Message::EchoRequest),
        arb_bytes(32).prop_map(Message::EchoReply),
        arb_experimenter().prop_map(Message::Experimenter),
        switch,
        flows,
        ports,
        arb_mp_request().prop_map(Message::MultipartRequest),
        arb_mp_reply().prop_map(Message::MultipartReply),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(msg in arb_message(), xid in any::<u32>()) {
        let wire = encode(&msg, xid);
        let (h, back) = decode(&wire).map_err(|e| TestCaseError::fail(format!("{e}: {msg:?}")))?;
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(usize::from(h.length), wire.len());
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(encode(&back, xid), wire);
    }

    #[test]
    fn every_action_round_trips(actions in arb_actions()) {
        let mut wire = Vec::new();
        crate::wire_action::encode_actions(&actions, &mut wire);
        prop_assert_eq!(wire.len() % 8, 0);
        let back = crate::wire_action::decode_actions(&wire);
        prop_assert_eq!(back, Ok(actions));
    }

    #[test]
    fn every_match_round_trips(m in arb_match()) {
        let mut wire = Vec::new();
        crate::oxm::encode_match(&m, &mut wire);
        prop_assert_eq!(wire.len() % 8, 0);
        let back = crate::oxm::decode_match_bytes(&wire);
        prop_assert_eq!(back, Ok(m));
    }

    #[test]
    fn garbage_never_panics(b in arb_bytes(300)) {
        let _ = decode(&b);
        let mut s = FrameSplitter::new();
        s.push(&b);
        while let Some(Ok(_)) = s.next_frame() {}
    }

    /// Golden messages with bytes overwritten: decoding never panics, and whatever decodes is
    /// a fixed point of encode-then-decode.
    #[test]
    fn mutated_golden_messages_never_panic(
        which in any::<Index>(),
        edits in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..4),
        typed in any::<bool>(),
    ) {
        let all = golden::all();
        let mut b = all[which.index(all.len())].1.clone();
        for (at, v) in edits {
            let i = at.index(b.len());
            // Keep the header intact half of the time so the body decoders get exercised.
            if typed && i < 8 { continue; }
            b[i] = v;
        }
        if let Ok((h, msg)) = decode(&b) {
            let wire = encode(&msg, h.xid);
            let again = decode(&wire).map(|x| x.1);
            prop_assert_eq!(again, Ok(msg));
        }
    }

    #[test]
    fn bytes_that_decode_re_encode_identically(msg in arb_message()) {
        // encode(decode(b)) == b for every b the encoder can produce.
        let b = encode(&msg, 7);
        let (_, m) = decode(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(encode(&m, 7), b);
    }
}

/// The match generator is not degenerate: it yields masked fields, fields with prerequisites and
/// NXM-only fields.
#[test]
fn match_generator_covers_interesting_matches() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut masked, mut prereq, mut nxm, mut total) = (0, 0, 0, 0);
    for _ in 0..500 {
        let m = arb_match().new_tree(&mut runner).unwrap().current();
        total += m.fields().len();
        masked += m.fields().iter().filter(|f| !f.is_exact()).count();
        prereq += m
            .fields()
            .iter()
            .filter(|f| f.field.info().prerequisite != wyvern_pipeline::field::Prerequisite::None)
            .count();
        nxm += m
            .fields()
            .iter()
            .filter(|f| crate::oxm::oxm_header(f.field).class() != 0x8000)
            .count();
    }
    assert!(
        total > 1000 && masked > 100 && prereq > 100 && nxm > 50,
        "{total} {masked} {prereq} {nxm}"
    );
}

#[test]
fn hello_of_any_version_decodes_other_messages_need_1_3() {
    // ovs-ofctl without -O: OF1.0 HELLO, no elements.
    let (h, m) = decode(&bytes("0100000800000001")).unwrap();
    assert_eq!((h.version, m), (1, Message::Hello(Hello::default())));
    // A bitmap offering 1.0 and 1.3 (OVS's own HELLO).
    let (_, m) = decode(&bytes("0400001000000009 0001000800000012")).unwrap();
    let Message::Hello(hello) = m else { panic!() };
    assert_eq!(hello.versions(), Some(vec![1, 4]));
    // ECHO in another version is tolerated; BARRIER is not.
    assert!(decode(&bytes("0102000800000001")).is_ok());
    assert_eq!(
        decode(&bytes("0114000800000001"))
            .map(|_| ())
            .unwrap_err()
            .type_code(),
        (1, 0)
    );
}

//! The endpoint over real TCP connections, with a raw client built on the crate's codec:
//! handshake, every request kind, roles, bundles, packet-out → packet-in, asynchronous
//! configuration, limits, keepalive, and malformed input answered with the right error while
//! other connections go on being served.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Client, Switch};
use wyvern_ofproto::codec;
use wyvern_ofproto::endpoint::FALLBACK_COOKIE;
use wyvern_ofproto::msg::experimenter::{BundleControl, BundleCtrlType, Experimenter};
use wyvern_ofproto::msg::multipart::{FlowStatsRequest, MpReply, MpRequest};
use wyvern_ofproto::msg::{
    AsyncConfig, BundleAdd, ControllerRole, FlowModMsg, Hello, Message, MultipartRequest,
    PacketInReason, PacketOut, Role, SwitchConfig, TableMod,
};
use wyvern_ofproto::services::{AdminCaller, AdminHandler, PacketInHook, Services};
use wyvern_pipeline::FlowFilter;
use wyvern_pipeline::action::{Action, N_TABLES, PortNo};
use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::FlowModCommand;
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::text::parse_flow;

fn flow_mod(text: &str) -> Message {
    Message::FlowMod(FlowModMsg::new(
        parse_flow(text, FlowModCommand::Add).unwrap(),
    ))
}

fn error_of(msgs: &[Message]) -> Option<(u16, u16)> {
    msgs.iter().find_map(|m| match m {
        Message::Error(e) => Some(e.error.type_code()),
        _ => None,
    })
}

fn mp(body: MpRequest) -> Message {
    Message::MultipartRequest(MultipartRequest { flags: 0, body })
}

fn all_flows() -> FlowStatsRequest {
    FlowStatsRequest {
        table_id: 0xff,
        out_port: PortNo::ANY,
        out_group: 0xffff_ffff,
        cookie: 0,
        cookie_mask: 0,
        matching: Match::new(),
    }
}

/// An ARP request from 10.1.0.5 (fa:16:3e:00:17:e6) for 10.1.0.1.
fn arp_frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[0xfa, 0x16, 0x3e, 0x00, 0x17, 0xe6]);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[0xfa, 0x16, 0x3e, 0x00, 0x17, 0xe6, 10, 1, 0, 5]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 1, 0, 1]);
    f
}

#[test]
fn hello_negotiation() {
    let sw = Switch::start();
    // Bitmap with 1.3: accepted, and the switch's HELLO carries bitmap 0x10.
    let mut c = Client::connect(sw.addr);
    c.send(&Message::Hello(Hello::with_versions(&[1, 4])));
    let (_, m) = c.recv().unwrap();
    assert_eq!(m, Message::Hello(Hello::with_versions(&[4])));
    assert!(matches!(
        c.request(&Message::FeaturesRequest)[0],
        Message::FeaturesReply(_)
    ));

    // os-ken's HELLO: version 6, no bitmap, settles on 1.3.
    let mut c = Client::connect(sw.addr);
    c.send_raw(&[6, 0, 0, 8, 0, 0, 0, 1]);
    assert!(matches!(c.recv().unwrap().1, Message::Hello(_)));
    let r = c.request(&Message::FeaturesRequest);
    let Message::FeaturesReply(f) = &r[0] else {
        panic!("{r:?}")
    };
    assert_eq!(f.datapath_id, 0x42fb_f384_884c);
    assert_eq!(f.n_tables, 254);
    assert_eq!(f.n_buffers, 0);

    // OpenFlow 1.0 only (ovs-ofctl without -O): HELLO_FAILED/INCOMPATIBLE, then closed.
    let mut c = Client::connect(sw.addr);
    c.send_raw(&[1, 0, 0, 8, 0, 0, 0, 1]);
    assert!(matches!(c.recv().unwrap().1, Message::Hello(_)));
    let (_, m) = c.recv().unwrap();
    let Message::Error(e) = m else {
        panic!("{m:?}")
    };
    assert_eq!(e.error.type_code(), (0, 0));
    assert!(c.closed_within(Duration::from_secs(2)));

    // A bitmap without 1.3.
    let mut c = Client::connect(sw.addr);
    c.send(&Message::Hello(Hello::with_versions(&[5, 6])));
    assert!(matches!(c.recv().unwrap().1, Message::Hello(_)));
    assert!(matches!(c.recv().unwrap().1, Message::Error(_)));
    assert!(c.closed_within(Duration::from_secs(2)));
}

#[test]
fn basic_requests() {
    let sw = Switch::start();
    let mut c = sw.client();
    let xid = c.send(&Message::EchoRequest(b"ping".to_vec()));
    assert_eq!(c.replies(xid), vec![Message::EchoReply(b"ping".to_vec())]);

    let r = c.request(&Message::GetConfigRequest);
    assert_eq!(
        r,
        vec![Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 0
        })]
    );
    c.request(&Message::SetConfig(SwitchConfig {
        flags: 0,
        miss_send_len: 65535,
    }));
    let r = c.request(&Message::GetConfigRequest);
    assert_eq!(
        r,
        vec![Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 65535
        })]
    );

    let xid = c.send(&mp(MpRequest::Desc));
    let r = c.replies(xid);
    let Message::MultipartReply(d) = &r[0] else {
        panic!()
    };
    let MpReply::Desc(d) = &d.body else { panic!() };
    assert_eq!(d.dp_desc, "br-test");

    let xid = c.send(&mp(MpRequest::Table));
    let r = c.replies(xid);
    let Message::MultipartReply(t) = &r[0] else {
        panic!()
    };
    let MpReply::Table(t) = &t.body else { panic!() };
    assert_eq!(t.len(), 254);

    for body in [
        MpRequest::PortDesc,
        MpRequest::PortStats {
            port_no: 0xffff_ffff,
        },
        MpRequest::GroupFeatures,
        MpRequest::MeterFeatures,
    ] {
        let xid = c.send(&mp(body));
        let r = c.replies(xid);
        assert!(matches!(r[0], Message::MultipartReply(_)), "{r:?}");
    }

    // TABLE_FEATURES: 254 tables with the 8 required properties, over several messages.
    let xid = c.send(&mp(MpRequest::TableFeatures(vec![])));
    let r = c.replies(xid);
    assert!(r.len() > 1, "one message cannot hold 254 tables");
    let mut tables = Vec::new();
    for m in &r {
        let Message::MultipartReply(m) = m else {
            panic!()
        };
        let MpReply::TableFeatures(t) = &m.body else {
            panic!()
        };
        tables.extend(t.iter().map(|t| (t.table_id, t.properties.len())));
    }
    assert_eq!(tables.len(), 254);
    assert!(
        tables
            .iter()
            .enumerate()
            .all(|(i, t)| t.0 as usize == i && t.1 >= 8)
    );
    for f in &r {
        let bytes = codec::encode(f, xid);
        assert!(bytes.len() <= 65535);
    }
}

/// FEATURES, TABLE and TABLE_FEATURES report the tables flows can go into, no more, no
/// fewer: the last one takes a flow, the next one is refused (as a flow's table, a goto
/// target and a TABLE_MOD target).
#[test]
fn reported_tables_are_the_tables_that_take_flows() {
    let sw = Switch::start();
    let mut c = sw.client();
    let Message::FeaturesReply(f) = &c.request(&Message::FeaturesRequest)[0] else {
        panic!()
    };
    let n = f.n_tables;
    assert_eq!(n, N_TABLES);
    let xid = c.send(&mp(MpRequest::Table));
    let Message::MultipartReply(t) = &c.replies(xid)[0] else {
        panic!()
    };
    let MpReply::Table(t) = &t.body else { panic!() };
    assert_eq!(t.last().map(|t| t.table_id), Some(n - 1));
    assert_eq!(t.len(), usize::from(n));
    let xid = c.send(&mp(MpRequest::TableFeatures(vec![])));
    let mut last = None;
    for m in c.replies(xid) {
        let Message::MultipartReply(m) = m else {
            panic!()
        };
        let MpReply::TableFeatures(t) = &m.body else {
            panic!()
        };
        last = t.last().map(|t| t.table_id).or(last);
    }
    assert_eq!(last, Some(n - 1));

    let last = n - 1;
    assert_eq!(
        c.request(&flow_mod(&format!("table={last},actions=drop"))),
        vec![]
    );
    // FLOW_MOD_FAILED/BAD_TABLE_ID; BAD_INSTRUCTION/BAD_TABLE_ID; TABLE_MOD_FAILED/BAD_TABLE.
    let r = c.request(&flow_mod(&format!("table={n},actions=drop")));
    assert_eq!(error_of(&r), Some((5, 2)));
    let r = c.request(&flow_mod(&format!(
        "table={},actions=goto_table:{n}",
        last - 1
    )));
    assert_eq!(error_of(&r), Some((3, 2)));
    let r = c.request(&Message::TableMod(TableMod {
        table_id: n,
        config: 0,
    }));
    assert_eq!(error_of(&r), Some((8, 0)));
    assert!(
        c.request(&Message::TableMod(TableMod {
            table_id: last,
            config: 0
        }))
        .is_empty()
    );
    let in_pipeline = sw.pipeline.table_stats();
    assert_eq!(in_pipeline.len(), usize::from(n));
    assert_eq!(in_pipeline[usize::from(last)].active, 1);
}

#[test]
fn flow_mods_stats_and_errors() {
    let sw = Switch::start();
    let mut c = sw.client();
    assert_eq!(
        c.request(&flow_mod("table=0,priority=1,actions=goto_table:40")),
        vec![]
    );
    assert_eq!(
        c.request(&flow_mod(
            "table=51,priority=101,send_flow_rem,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1,actions=IN_PORT"
        )),
        vec![]
    );
    let xid = c.send(&mp(MpRequest::Flow(all_flows())));
    let r = c.replies(xid);
    let Message::MultipartReply(m) = &r[0] else {
        panic!()
    };
    let MpReply::Flow(f) = &m.body else { panic!() };
    assert_eq!(f.len(), 2);
    let xid = c.send(&mp(MpRequest::Aggregate(all_flows())));
    let r = c.replies(xid);
    assert!(matches!(
        &r[0],
        Message::MultipartReply(m) if matches!(m.body, MpReply::Aggregate { flow_count: 2, .. })
    ));

    // check_overlap → FLOW_MOD_FAILED/OVERLAP.
    c.request(&flow_mod("table=3,priority=5,in_port=1,actions=drop"));
    let r = c.request(&flow_mod("table=3,priority=5,check_overlap,actions=drop"));
    assert_eq!(error_of(&r), Some((5, 3)));

    // A delete of a send_flow_rem flow is reported as FLOW_REMOVED (reason DELETE).
    let del = parse_flow("table=51", FlowModCommand::Delete).unwrap();
    c.send(&Message::FlowMod(FlowModMsg::new(del)));
    let removed = loop {
        let (_, m) = c.recv().unwrap();
        if let Message::FlowRemoved(r) = m {
            break r;
        }
    };
    assert_eq!(removed.priority, 101);
    assert_eq!(removed.reason.raw(), 2);

    // A flow mod with a buffer id: applied, then BUFFER_UNKNOWN.
    let mut fm = FlowModMsg::new(parse_flow("table=4,actions=drop", FlowModCommand::Add).unwrap());
    fm.buffer_id = 7;
    assert_eq!(error_of(&c.request(&Message::FlowMod(fm))), Some((1, 8)));
}

/// FLOW_MODs sent back to back (applied in batches by the endpoint) behave as one
/// transaction each: a failing one in the middle fails alone, with its own error, and the
/// others take effect; errors come in request order, before the barrier reply.
#[test]
fn flow_mods_sent_together_succeed_or_fail_one_by_one() {
    let sw = Switch::start();
    let mut c = sw.client();
    let mut bytes = Vec::new();
    let mut xids = Vec::new();
    for i in 0..600u32 {
        let mut text = match i {
            // Made undecodable below (goto backwards): refused while decoding.
            50 => "table=1,priority=5,in_port=50,actions=goto_table:2".to_string(),
            // The pipeline has no table 254.
            100 => "table=254,priority=5,in_port=100,actions=drop".to_string(),
            // Overlaps the flows before it at the same priority.
            200 => "table=1,priority=5,check_overlap,ip,actions=drop".to_string(),
            // Deletes flow 10 (added earlier in the same write).
            300 => "table=1,priority=5,in_port=10,actions=drop".to_string(),
            _ => format!("table=1,priority=5,in_port={i},actions=output:2"),
        };
        let command = if i == 300 {
            FlowModCommand::DeleteStrict
        } else {
            FlowModCommand::Add
        };
        if i == 300 {
            text = text.replace(",actions=drop", "");
        }
        let mut fm = FlowModMsg::new(parse_flow(&text, command).unwrap());
        if i == 250 {
            fm.buffer_id = 7;
        }
        let xid = c.next_xid();
        let mut m = codec::encode(&Message::FlowMod(fm), xid);
        if i == 50 {
            // goto_table:0 from table 1: the last instruction's table byte.
            let at = m.len() - 4;
            assert_eq!(m[at], 2);
            m[at] = 0;
        }
        bytes.extend_from_slice(&m);
        xids.push(xid);
    }
    c.send_raw(&bytes);
    let barrier = c.send(&Message::BarrierRequest);
    let mut errors = Vec::new();
    loop {
        let (h, m) = c.recv().expect("replies");
        match m {
            Message::Error(e) => errors.push((h.xid, e.error.type_code())),
            Message::BarrierReply if h.xid == barrier => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        errors,
        vec![
            (xids[50], (3, 2)),
            (xids[100], (5, 2)),
            (xids[200], (5, 3)),
            (xids[250], (1, 8)),
        ]
    );
    let flows = sw.pipeline.dump_flows(&FlowFilter {
        table: 1,
        ..FlowFilter::default()
    });
    // 599 adds (300 is the delete), less 50, 100 and 200 (refused) and 10 (deleted); 250 is
    // in despite its error.
    assert_eq!(flows.len(), 595);
    let ports: Vec<u128> = flows
        .iter()
        .filter_map(|f| f.spec.matching.get(Field::InPort).map(|m| m.value))
        .collect();
    for gone in [10, 50, 100, 200] {
        assert!(!ports.contains(&gone), "in_port={gone}");
    }
    assert!(ports.contains(&250) && ports.contains(&599));
}

#[test]
fn malformed_input_gets_errors_and_others_are_served() {
    let sw = Switch::start_with(|c| c.limits.max_message_len = 4096);
    let mut c = sw.client();
    let mut other = sw.client();
    let tc = |x: (u16, u16, Vec<u8>)| (x.0, x.1);
    let check_other = |other: &mut Client| {
        let xid = other.send(&Message::EchoRequest(vec![1, 2, 3]));
        assert_eq!(other.replies(xid), vec![Message::EchoReply(vec![1, 2, 3])]);
    };

    let bad = |c: &mut Client, bytes: Vec<u8>| -> (u16, u16, Vec<u8>) {
        let xid = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        c.send_raw(&bytes);
        let r = c.until_barrier(xid);
        let Some(Message::Error(e)) = r.first() else {
            panic!("no error for {bytes:02x?}: {r:?}")
        };
        let (t, code) = e.error.type_code();
        (t, code, e.data.clone())
    };

    // Wrong version on a FEATURES_REQUEST: BAD_REQUEST/BAD_VERSION, data echoed.
    let msg = vec![1, 5, 0, 8, 0, 0, 0, 9];
    assert_eq!(bad(&mut c, msg.clone()), (1, 0, msg));
    check_other(&mut other);

    // Unknown message type.
    assert_eq!(tc(bad(&mut c, vec![4, 99, 0, 8, 0, 0, 0, 10])), (1, 1));

    // A length inside the message running past its end: PACKET_OUT actions_len 200.
    let mut po = codec::encode(
        &Message::PacketOut(PacketOut {
            buffer_id: 0xffff_ffff,
            in_port: PortNo::CONTROLLER,
            actions: vec![],
            data: vec![],
        }),
        11,
    );
    po[16..18].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(tc(bad(&mut c, po)), (1, 6));

    // Goto backwards: table 50 going to 40.
    let mut fm = codec::encode(&flow_mod("table=0,priority=1,actions=goto_table:40"), 12);
    fm[24] = 50;
    assert_eq!(bad(&mut c, fm).0, 3);

    // Bad OXM: an OpenFlow-basic field number nobody defines (100).
    let mut fm = codec::encode(&flow_mod("table=0,priority=1,in_port=6,actions=drop"), 13);
    // The first OXM header follows the 48-byte fixed part and the match's type and length.
    let oxm = 48 + 4;
    assert_eq!(&fm[oxm..oxm + 2], &[0x80, 0x00]);
    fm[oxm + 2] = 100 << 1;
    assert_eq!(bad(&mut c, fm).0, 4);

    // Bad action: type 0x00ee.
    let mut fm = codec::encode(&flow_mod("table=0,priority=1,actions=output:6"), 14);
    let n = fm.len();
    fm[n - 16..n - 14].copy_from_slice(&0x00eeu16.to_be_bytes());
    assert_eq!(bad(&mut c, fm).0, 2);

    // Larger than the configured limit: BAD_REQUEST/BAD_LEN, the connection stays.
    let mut big = codec::encode(&Message::EchoRequest(vec![0; 5000]), 15);
    big[4..8].copy_from_slice(&15u32.to_be_bytes());
    let (t, code, data) = bad(&mut c, big);
    assert_eq!((t, code, data.len()), (1, 6, 64));

    // Unknown multipart, experimenter multipart, NXT_SET_PACKET_IN_FORMAT.
    let unknown = codec::encode(
        &Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::Unknown {
                mp_type: 77,
                body: vec![],
            },
        }),
        16,
    );
    assert_eq!(tc(bad(&mut c, unknown)), (1, 2));
    let pif = codec::encode(
        &Message::Experimenter(Experimenter::SetPacketInFormat(2)),
        17,
    );
    assert_eq!(tc(bad(&mut c, pif)), (1, 3));

    check_other(&mut other);
    // The connection is still up after all of that.
    check_other(&mut c);

    // A header length below 8 loses the framing: BAD_LEN, then only that connection closes.
    c.send_raw(&[4, 2, 0, 4, 0, 0, 0, 18]);
    let (_, m) = c.recv().unwrap();
    assert!(matches!(m, Message::Error(e) if e.error.type_code() == (1, 6)));
    assert!(c.closed_within(Duration::from_secs(2)));
    check_other(&mut other);
}

#[test]
fn echo_flood_does_not_starve_others() {
    let sw = Switch::start();
    let mut flood = sw.client();
    let mut other = sw.client();
    let one = codec::encode(&Message::EchoRequest(vec![0; 8]), 5);
    let burst: Vec<u8> = one.iter().copied().cycle().take(one.len() * 5000).collect();
    let started = Instant::now();
    for _ in 0..4 {
        flood.send_raw(&burst);
        let xid = other.send(&Message::EchoRequest(vec![]));
        assert_eq!(other.replies(xid), vec![Message::EchoReply(vec![])]);
    }
    // Every request of the flood is answered.
    let mut n = 0;
    while n < 20_000 {
        let (_, m) = flood.recv().expect("echo reply");
        assert!(matches!(m, Message::EchoReply(_)));
        n += 1;
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_peer_that_does_not_read_is_disconnected() {
    // The probe is slow, so that only the outbox limit can close the connection (and the
    // other, idle client is not probed away meanwhile).
    let sw = Switch::start_with(|c| {
        c.limits.max_pending_output = 256 << 10;
        c.limits.probe_interval = Duration::from_secs(600);
    });
    let mut slow = sw.client();
    let mut other = sw.client();
    let req = codec::encode(&mp(MpRequest::TableFeatures(vec![])), 3);
    // Ask until the switch gives up on the peer: however much the kernel's socket buffers
    // absorb, the replies it does not read end up over the limit. (Watched from the switch's
    // side: reading here would drain them.)
    slow.stream
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        for _ in 0..50 {
            if std::io::Write::write_all(&mut slow.stream, &req).is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        closed = sw.endpoint().established() < 2;
    }
    assert!(closed, "the peer that does not read was never disconnected");
    let xid = other.send(&Message::EchoRequest(vec![]));
    assert_eq!(other.replies(xid), vec![Message::EchoReply(vec![])]);
}

#[test]
fn a_dump_larger_than_the_outbox_reaches_a_peer_that_reads() {
    // 20,000 flows are ~2.6 MB of flow stats: forty times the outbox.
    let sw = Switch::start_with(|c| c.limits.max_pending_output = 64 << 10);
    let mods: Vec<_> = (0..20_000u32)
        .map(|i| {
            let text = format!(
                "table=52,priority=100,ip,metadata=0x1f43,nw_src=10.3.{}.{},nw_dst=10.1.0.5 actions=dec_ttl,output:11",
                i / 256,
                i % 256
            );
            parse_flow(&text, FlowModCommand::Add).unwrap()
        })
        .collect();
    sw.pipeline.apply(&mods).unwrap();
    let mut c = sw.client();
    let xid = c.send(&mp(MpRequest::Flow(all_flows())));
    let flows: usize = c
        .replies(xid)
        .iter()
        .map(|m| match m {
            Message::MultipartReply(r) => match &r.body {
                MpReply::Flow(f) => f.len(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(flows, 20_000);
    let xid = c.send(&Message::EchoRequest(vec![]));
    assert_eq!(c.replies(xid), vec![Message::EchoReply(vec![])]);
}

#[test]
fn a_controller_that_falls_behind_loses_packet_ins_not_its_connection() {
    let sw = Switch::start_with(|c| {
        c.limits.max_pending_packet_ins = 32 << 10;
        c.limits.probe_interval = Duration::from_secs(600);
    });
    let mut slow = sw.client();
    let mut source = sw.client();
    // The source of the packet-outs takes no packet-ins itself.
    let none = AsyncConfig {
        packet_in_mask: [0, 0],
        port_status_mask: [0, 0],
        flow_removed_mask: [0, 0],
    };
    source.request(&Message::SetAsync(none));
    assert_eq!(
        source.request(&flow_mod("table=0,priority=10,actions=CONTROLLER:65535")),
        vec![]
    );
    // 20,000 packet-ins of 1,000-byte frames (20 MB): more than the socket buffers and the
    // budget hold while `slow` reads nothing.
    let mut frame = arp_frame();
    frame.resize(1000, 0);
    let po = codec::encode(
        &Message::PacketOut(PacketOut {
            buffer_id: 0xffff_ffff,
            in_port: PortNo(6),
            actions: vec![Action::Output {
                port: PortNo::TABLE,
                max_len: 0,
            }],
            data: frame,
        }),
        7,
    );
    const SENT: u64 = 20_000;
    for _ in 0..SENT / 1000 {
        source.send_raw(&po.repeat(1000));
    }
    let xid = source.send(&Message::BarrierRequest);
    assert_eq!(source.replies(xid), vec![Message::BarrierReply]);
    let counters = sw.endpoint().counters();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (queued, dropped) = loop {
        let queued = counters.packet_ins_sent.load(Ordering::Relaxed);
        let dropped = counters.packet_ins_dropped.load(Ordering::Relaxed);
        if queued + dropped == SENT || Instant::now() > deadline {
            break (queued, dropped);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(queued + dropped, SENT, "every packet-in queued or dropped");
    assert!(dropped > 0, "nothing dropped: the test measured nothing");
    assert_eq!(
        sw.endpoint().established(),
        2,
        "the slow controller kept its connection"
    );
    // It reads what was queued for it, and is served as before.
    let mut got = 0;
    while let Some((_, m)) = slow.recv_within(Duration::from_millis(500)) {
        assert!(matches!(m, Message::PacketIn(_)), "{m:?}");
        got += 1;
    }
    assert_eq!(got, queued);
    let xid = slow.send(&Message::EchoRequest(vec![]));
    assert_eq!(slow.replies(xid), vec![Message::EchoReply(vec![])]);
}

#[test]
fn inactivity_probe_disconnects_a_silent_peer() {
    let sw = Switch::start_with(|c| c.limits.probe_interval = Duration::from_millis(300));
    let mut c = sw.client();
    let (_, m) = c.recv_within(Duration::from_secs(2)).unwrap();
    assert!(matches!(m, Message::EchoRequest(_)), "{m:?}");
    assert!(c.closed_within(Duration::from_secs(2)));

    // A peer that answers stays.
    let mut c = sw.client();
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        if let Some((h, Message::EchoRequest(d))) = c.recv_within(Duration::from_millis(100)) {
            let b = codec::encode(&Message::EchoReply(d), h.xid);
            c.send_raw(&b);
        }
    }
    let xid = c.send(&Message::EchoRequest(vec![]));
    assert_eq!(c.replies(xid), vec![Message::EchoReply(vec![])]);
}

#[test]
fn roles() {
    let sw = Switch::start();
    let mut a = sw.client();
    let mut b = sw.client();
    let role = |c: &mut Client, role, generation_id| {
        c.request(&Message::RoleRequest(Role {
            role,
            generation_id,
        }))
    };
    assert_eq!(
        role(&mut a, ControllerRole::Master, 1),
        vec![Message::RoleReply(Role {
            role: ControllerRole::Master,
            generation_id: 1
        })]
    );
    // b becomes master with a newer generation: a is demoted and may not write.
    role(&mut b, ControllerRole::Master, 2);
    assert_eq!(
        role(&mut a, ControllerRole::NoChange, 0),
        vec![Message::RoleReply(Role {
            role: ControllerRole::Slave,
            generation_id: 2
        })]
    );
    let r = a.request(&flow_mod("table=0,actions=drop"));
    assert_eq!(error_of(&r), Some((1, 10)));
    assert_eq!(b.request(&flow_mod("table=0,actions=drop")), vec![]);
    // Stale generation.
    assert_eq!(
        error_of(&role(&mut a, ControllerRole::Master, 1)),
        Some((11, 0))
    );
    // Unknown role.
    assert_eq!(
        error_of(&role(&mut a, ControllerRole::Unknown(9), 3)),
        Some((11, 2))
    );
    // Back to equal: writes allowed again.
    role(&mut a, ControllerRole::Equal, 0);
    assert_eq!(a.request(&flow_mod("table=1,actions=drop")), vec![]);
}

#[test]
fn packet_out_through_the_tables_comes_back_as_packet_in() {
    let sw = Switch::start();
    let mut c = sw.client();
    assert_eq!(
        c.request(&flow_mod(
            "table=0,priority=10,arp,actions=write_metadata:0x1f42/0xffff,goto_table:5"
        )),
        vec![]
    );
    assert_eq!(
        c.request(&flow_mod("table=5,priority=10,actions=CONTROLLER:65535")),
        vec![]
    );
    let po = Message::PacketOut(PacketOut {
        buffer_id: 0xffff_ffff,
        in_port: PortNo(6),
        actions: vec![Action::Output {
            port: PortNo::TABLE,
            max_len: 0,
        }],
        data: arp_frame(),
    });
    assert_eq!(c.request(&po), vec![]);
    let pin = loop {
        let (h, m) = c.recv().expect("packet-in");
        if let Message::PacketIn(p) = m {
            assert_eq!(h.xid, 0);
            break p;
        }
    };
    assert_eq!(pin.reason, PacketInReason::Action);
    assert_eq!(pin.table_id, 5);
    assert_eq!(pin.buffer_id, 0xffff_ffff);
    assert_eq!(pin.data, arp_frame());
    assert_eq!(pin.total_len as usize, arp_frame().len());
    assert_eq!(pin.matching.get(Field::InPort).unwrap().value, 6);
    assert_eq!(pin.matching.get(Field::Metadata).unwrap().value, 0x1f42);

    // A buffered packet-out is refused.
    let Message::PacketOut(mut buffered) = po.clone() else {
        unreachable!()
    };
    buffered.buffer_id = 3;
    assert_eq!(
        error_of(&c.request(&Message::PacketOut(buffered))),
        Some((1, 8))
    );

    // SET_ASYNC without ACTION packet-ins: nothing comes; GET_ASYNC returns what was set.
    let quiet = AsyncConfig {
        packet_in_mask: [1, 0],
        port_status_mask: [7, 7],
        flow_removed_mask: [15, 0],
    };
    c.request(&Message::SetAsync(quiet));
    assert_eq!(
        c.request(&Message::GetAsyncRequest),
        vec![Message::GetAsyncReply(quiet)]
    );
    assert_eq!(c.request(&po), vec![]);
    let got = c.recv_within(Duration::from_millis(500));
    assert!(got.is_none(), "{got:?}");
}

/// Echoes its words back, refuses `fail`, and records who asked.
struct EchoAdmin;

impl AdminHandler for EchoAdmin {
    fn run(&self, caller: AdminCaller, words: &[String]) -> Result<String, String> {
        match words.first().map(String::as_str) {
            Some("fail") => Err("asked to fail".into()),
            _ => Ok(format!(
                "read_only={} {}",
                caller.read_only,
                words.join("|")
            )),
        }
    }
}

/// Takes every packet-in from table 5, counting them; leaves the others to controllers.
struct Table5Hook(Arc<AtomicUsize>);

impl PacketInHook for Table5Hook {
    fn packet_ins(&mut self, batch: &mut Vec<wyvern_pipeline::PacketIn>) {
        let before = batch.len();
        batch.retain(|p| p.table != 5);
        self.0.fetch_add(before - batch.len(), Ordering::Relaxed);
    }
}

fn admin(c: &mut Client, words: &[&str]) -> Vec<Message> {
    c.request(&Message::Experimenter(Experimenter::AdminRequest(
        words.iter().map(|w| w.to_string()).collect(),
    )))
}

#[test]
fn admin_commands_reach_the_handler_and_slaves_are_read_only() {
    let services = Services {
        admin: Some(Arc::new(EchoAdmin)),
        ..Services::default()
    };
    let sw = Switch::start_services(|_| {}, services);
    let mut c = sw.client();
    assert_eq!(
        admin(&mut c, &["trace", "in_port=1,arp"]),
        vec![Message::Experimenter(Experimenter::AdminReply {
            ok: true,
            text: "read_only=false trace|in_port=1,arp".into()
        })]
    );
    assert_eq!(
        admin(&mut c, &["fail"]),
        vec![Message::Experimenter(Experimenter::AdminReply {
            ok: false,
            text: "asked to fail".into()
        })]
    );
    c.request(&Message::RoleRequest(Role {
        role: ControllerRole::Slave,
        generation_id: 1,
    }));
    assert_eq!(
        admin(&mut c, &["x"]),
        vec![Message::Experimenter(Experimenter::AdminReply {
            ok: true,
            text: "read_only=true x".into()
        })]
    );
    // A reply sent to the switch is refused with OFPBRC_BAD_EXP_TYPE.
    assert_eq!(
        error_of(&c.request(&Message::Experimenter(Experimenter::AdminReply {
            ok: true,
            text: String::new()
        }))),
        Some((1, 4))
    );

    // Without a handler, the command fails and says so.
    let bare = Switch::start();
    let mut c = bare.client();
    let Message::Experimenter(Experimenter::AdminReply { ok, text }) =
        admin(&mut c, &["trace"]).remove(0)
    else {
        panic!("no admin reply");
    };
    assert!(!ok);
    assert!(text.contains("no admin commands"), "{text}");
}

#[test]
fn the_packet_in_hook_takes_its_packets_and_leaves_the_rest() {
    let taken = Arc::new(AtomicUsize::new(0));
    let services = Services {
        packet_in_hook: Some(Box::new(Table5Hook(taken.clone()))),
        ..Services::default()
    };
    let sw = Switch::start_services(|_| {}, services);
    let mut c = sw.client();
    for f in [
        "table=0,priority=10,arp,actions=goto_table:5",
        "table=0,priority=10,ip,actions=goto_table:6",
        "table=5,priority=10,actions=CONTROLLER:65535",
        "table=6,priority=10,actions=CONTROLLER:65535",
    ] {
        assert_eq!(c.request(&flow_mod(f)), vec![]);
    }
    let out = |data: Vec<u8>| {
        Message::PacketOut(PacketOut {
            buffer_id: 0xffff_ffff,
            in_port: PortNo(6),
            actions: vec![Action::Output {
                port: PortNo::TABLE,
                max_len: 0,
            }],
            data,
        })
    };
    // The ARP frame ends in table 5: the hook takes it, the controller sees nothing.
    assert_eq!(c.request(&out(arp_frame())), vec![]);
    let got = c.recv_within(Duration::from_millis(500));
    assert!(got.is_none(), "{got:?}");
    assert_eq!(taken.load(Ordering::Relaxed), 1);
    assert_eq!(
        sw.endpoint()
            .counters()
            .packet_ins_handled_locally
            .load(Ordering::Relaxed),
        1
    );
    // An IP frame ends in table 6: it reaches the controller.
    let mut ip = arp_frame()[..12].to_vec();
    ip.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 0xfd, 0, 0]);
    ip.extend_from_slice(&[10, 1, 0, 5, 10, 2, 0, 5]);
    assert_eq!(c.request(&out(ip)), vec![]);
    let pin = loop {
        if let (_, Message::PacketIn(p)) = c.recv().expect("packet-in") {
            break p;
        }
    };
    assert_eq!(pin.table_id, 6);
    assert_eq!(taken.load(Ordering::Relaxed), 1);
}

fn bundle_ctrl(c: &mut Client, id: u32, t: BundleCtrlType) -> Vec<Message> {
    c.request(&Message::Experimenter(Experimenter::BundleControl(
        BundleControl {
            bundle_id: id,
            ctrl_type: t,
            flags: 3,
            properties: vec![],
        },
    )))
}

fn bundle_add(c: &mut Client, id: u32, text: &str) {
    let xid = c.next_xid();
    let m = Message::Experimenter(Experimenter::BundleAdd(BundleAdd {
        bundle_id: id,
        flags: 3,
        xid,
        message: Box::new(flow_mod(text)),
        trailer: vec![],
    }));
    c.send_raw(&codec::encode(&m, xid));
}

#[test]
fn bundles_commit_atomically() {
    let sw = Switch::start();
    let mut c = sw.client();
    let r = bundle_ctrl(&mut c, 1, BundleCtrlType::OpenRequest);
    assert!(
        matches!(&r[..], [Message::Experimenter(Experimenter::BundleControl(b))] if b.ctrl_type == BundleCtrlType::OpenReply)
    );
    for n in 0..3000 {
        bundle_add(
            &mut c,
            1,
            &format!("table=7,priority=9,tcp,tp_dst={n},actions=drop"),
        );
    }
    assert_eq!(sw.pipeline.dump_flows(&FlowFilter::default()).len(), 0);
    let r = bundle_ctrl(&mut c, 1, BundleCtrlType::CommitRequest);
    assert!(
        matches!(&r[..], [Message::Experimenter(Experimenter::BundleControl(b))] if b.ctrl_type == BundleCtrlType::CommitReply),
        "{r:?}"
    );
    assert_eq!(sw.pipeline.dump_flows(&FlowFilter::default()).len(), 3000);

    // 3000 flows do not fit one reply: REPLY_MORE on all but the last.
    let xid = c.send(&mp(MpRequest::Flow(all_flows())));
    let r = c.replies(xid);
    assert!(r.len() > 1);
    let total: usize = r
        .iter()
        .map(|m| match m {
            Message::MultipartReply(m) => match &m.body {
                MpReply::Flow(f) => f.len(),
                _ => panic!(),
            },
            _ => panic!(),
        })
        .sum();
    assert_eq!(total, 3000);

    // A bundle whose second mod fails applies nothing: error for the mod, then MSG_FAILED.
    bundle_ctrl(&mut c, 2, BundleCtrlType::OpenRequest);
    bundle_add(&mut c, 2, "table=8,priority=5,in_port=1,actions=drop");
    bundle_add(&mut c, 2, "table=7,priority=9,check_overlap,actions=drop");
    let xid = c.send(&Message::Experimenter(Experimenter::BundleControl(
        BundleControl {
            bundle_id: 2,
            ctrl_type: BundleCtrlType::CommitRequest,
            flags: 3,
            properties: vec![],
        },
    )));
    let mut errors = Vec::new();
    while errors.len() < 2 {
        let (_, m) = c.recv().unwrap();
        if let Message::Error(e) = m {
            errors.push(e.error.type_code());
        }
    }
    assert_eq!(errors, vec![(5, 3), (0xffff, 2313)]);
    let _ = xid;
    assert_eq!(sw.pipeline.dump_flows(&FlowFilter::default()).len(), 3000);

    // Discard, and commit of an unknown bundle.
    bundle_ctrl(&mut c, 3, BundleCtrlType::OpenRequest);
    bundle_add(&mut c, 3, "table=9,actions=drop");
    let r = bundle_ctrl(&mut c, 3, BundleCtrlType::DiscardRequest);
    assert!(
        matches!(&r[..], [Message::Experimenter(Experimenter::BundleControl(b))] if b.ctrl_type == BundleCtrlType::DiscardReply)
    );
    assert_eq!(
        error_of(&bundle_ctrl(&mut c, 3, BundleCtrlType::CommitRequest)),
        Some((0xffff, 2302))
    );
    assert_eq!(sw.pipeline.dump_flows(&FlowFilter::default()).len(), 3000);
}

#[test]
fn standalone_fallback_follows_the_controller() {
    let controller = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp:{}", controller.local_addr().unwrap());
    let sw = Switch::start_with(|c| {
        c.fail_mode = wyvern_ofproto::endpoint::FailMode::Standalone;
        c.controllers = vec![target.parse().unwrap()];
    });
    let fallback = |sw: &Switch| {
        sw.pipeline
            .dump_flows(&FlowFilter::default())
            .iter()
            .any(|f| f.spec.cookie == FALLBACK_COOKIE)
    };
    assert!(fallback(&sw));
    let (stream, _) = controller.accept().unwrap();
    let mut c = Client::from_stream(stream);
    c.hello();
    let until = Instant::now() + Duration::from_secs(3);
    while fallback(&sw) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!fallback(&sw));
    // Controller connections default to miss_send_len 128.
    assert_eq!(
        c.request(&Message::GetConfigRequest),
        vec![Message::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 128
        })]
    );
    drop(c);
    let until = Instant::now() + Duration::from_secs(3);
    while !fallback(&sw) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(fallback(&sw));
}

//! The client against an in-process fake switch: a thread on the other end of a socket pair
//! that follows a script.

use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use wyvern_pipeline::flow::{FlowMod, FlowSpec, FlowStats};
use wyvern_pipeline::flow_match::Match;

use super::*;
use crate::error::{BadRequestCode, FlowModFailedCode};
use crate::msg::experimenter::{BUNDLE_ATOMIC, BUNDLE_ORDERED};
use crate::msg::{FlowModMsg, PacketIn, PacketInReason};

/// The switch side of a socket pair.
struct Peer {
    stream: UnixStream,
    splitter: FrameSplitter,
}

impl Peer {
    fn recv(&mut self) -> (Header, Message) {
        loop {
            if let Some(f) = self.splitter.next_frame() {
                return codec::decode(&f.unwrap()).unwrap();
            }
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "client closed");
            self.splitter.push(&buf[..n]);
        }
    }

    fn send(&mut self, m: &Message, xid: u32) {
        self.stream.write_all(&codec::encode(m, xid)).unwrap();
    }

    /// Reads the client's HELLO and answers with `hello` bytes.
    fn hello(&mut self, hello: &[u8]) {
        let (h, m) = self.recv();
        assert_eq!((h.version, h.xid), (4, 1));
        assert_eq!(m, Message::Hello(Hello::with_versions(&[4])));
        self.stream.write_all(hello).unwrap();
    }
}

/// A plain 8-byte version-4 HELLO, as os-ken sends it.
const PLAIN_HELLO: &[u8] = &[4, 0, 0, 8, 0, 0, 0, 9];

fn fake(script: impl FnOnce(&mut Peer) + Send + 'static) -> (UnixStream, JoinHandle<()>) {
    let (a, b) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut p = Peer {
            stream: b,
            splitter: FrameSplitter::new(),
        };
        script(&mut p);
    });
    (a, t)
}

fn connect(script: impl FnOnce(&mut Peer) + Send + 'static) -> (Client, JoinHandle<()>) {
    let (a, t) = fake(move |p| {
        p.hello(PLAIN_HELLO);
        script(p);
    });
    let c = Client::from_unix(a, Some(Duration::from_secs(5))).unwrap();
    (c, t)
}

fn flow(priority: u16) -> FlowStats {
    FlowStats {
        spec: FlowSpec {
            priority,
            ..FlowSpec::default()
        },
        duration: Duration::from_millis(1500),
        packets: 1,
        bytes: 60,
    }
}

fn flow_reply(flags: u16, flows: Vec<FlowStats>) -> Message {
    Message::MultipartReply(MultipartReply {
        flags,
        body: MpReply::Flow(flows),
    })
}

fn packet_in() -> Message {
    Message::PacketIn(PacketIn {
        buffer_id: u32::MAX,
        total_len: 4,
        reason: PacketInReason::Action,
        table_id: 0,
        cookie: 0,
        matching: Match::default(),
        data: vec![1, 2, 3, 4],
    })
}

fn error(e: OfError, data: &[u8]) -> Message {
    Message::Error(ErrorMsg {
        error: e,
        data: data.to_vec(),
    })
}

#[test]
fn targets_parse_and_print() {
    let t: Target = "tcp:127.0.0.1:6653".parse().unwrap();
    assert_eq!(t, Target::Tcp("127.0.0.1:6653".into()));
    assert_eq!(t.to_string(), "tcp:127.0.0.1:6653");
    let u: Target = "unix:/run/wyvern/br-int.mgmt".parse().unwrap();
    assert_eq!(u, Target::Unix("/run/wyvern/br-int.mgmt".into()));
    assert_eq!(u.to_string(), "unix:/run/wyvern/br-int.mgmt");
    for bad in [
        "br-int",
        "tcp:1.2.3.4",
        "tcp::1",
        "tcp:h:99999",
        "unix:",
        "ssl:1.2.3.4:6653",
    ] {
        assert!(
            matches!(bad.parse::<Target>(), Err(ClientError::BadTarget(_))),
            "{bad}"
        );
    }
}

#[test]
fn hello_with_bitmap_is_accepted() {
    let (a, t) = fake(|p| {
        // OVS's HELLO: bitmap 0x12 (1.0 and 1.3).
        p.hello(&[4, 0, 0, 16, 0, 0, 0, 77, 0, 1, 0, 8, 0, 0, 0, 0x12]);
    });
    let c = Client::from_unix(a, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(c.peer_hello().versions(), Some(vec![1, 4]));
    assert_eq!(
        c.peek_xid(),
        2,
        "the first request uses xid 2, as ovs-ofctl's"
    );
    t.join().unwrap();
}

#[test]
fn hello_without_common_version_fails() {
    for (hello, peer) in [
        (vec![1u8, 0, 0, 8, 0, 0, 0, 1], 1u8),
        (vec![6, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x40], 6),
    ] {
        let (a, t) = fake(move |p| p.hello(&hello));
        let e = Client::from_unix(a, Some(Duration::from_secs(5))).unwrap_err();
        assert!(
            matches!(e, ClientError::VersionNegotiation { peer: p } if p == peer),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "version negotiation failed (we support version 0x04, peer supports version {peer:#04x})"
            )
        );
        t.join().unwrap();
    }
    // A higher version without a bitmap negotiates down to 1.3.
    let (a, t) = fake(|p| p.hello(&[6, 0, 0, 8, 0, 0, 0, 1]));
    Client::from_unix(a, Some(Duration::from_secs(5))).unwrap();
    t.join().unwrap();
}

#[test]
fn multipart_replies_are_reassembled_around_async_messages_and_echoes() {
    let (mut c, t) = connect(|p| {
        let (h, m) = p.recv();
        assert!(matches!(
            m,
            Message::MultipartRequest(MultipartRequest {
                body: MpRequest::Flow(_),
                ..
            })
        ));
        p.send(&flow_reply(MPF_MORE, vec![flow(1), flow(2)]), h.xid);
        p.send(&packet_in(), 0);
        p.send(&Message::EchoRequest(b"ping".to_vec()), 4242);
        // A late reply to something else, then the rest.
        p.send(&Message::BarrierReply, h.xid + 100);
        p.send(&flow_reply(MPF_MORE, vec![flow(3)]), h.xid);
        let (eh, em) = p.recv();
        assert_eq!((eh.xid, em), (4242, Message::EchoReply(b"ping".to_vec())));
        p.send(&flow_reply(0, vec![]), h.xid);
    });
    let req = crate::msg::multipart::FlowStatsRequest {
        table_id: 0xff,
        out_port: wyvern_pipeline::action::PortNo::ANY,
        out_group: crate::msg::flow::GROUP_ANY,
        cookie: 0,
        cookie_mask: 0,
        matching: Match::default(),
    };
    let parts = c.multipart(MpRequest::Flow(req)).unwrap();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|(h, _)| h.xid == 2));
    let flows: Vec<u16> = parts
        .iter()
        .flat_map(|(_, m)| match &m.body {
            MpReply::Flow(v) => v.iter().map(|f| f.spec.priority).collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(flows, [1, 2, 3]);
    // The unsolicited messages were kept, in order.
    let r = c.recv().unwrap();
    assert_eq!((r.header.xid, r.message.unwrap()), (0, packet_in()));
    let r = c.recv().unwrap();
    assert_eq!(r.message.unwrap(), Message::BarrierReply);
    t.join().unwrap();
}

#[test]
fn a_reply_of_another_multipart_type_is_refused() {
    let (mut c, t) = connect(|p| {
        let (h, _) = p.recv();
        p.send(&flow_reply(0, vec![]), h.xid);
    });
    let e = c.multipart(MpRequest::Desc).unwrap_err();
    assert!(matches!(e, ClientError::Unexpected { got: 19, .. }), "{e}");
    t.join().unwrap();
}

#[test]
fn an_error_reply_is_reported_with_its_name_and_data() {
    let (mut c, t) = connect(|p| {
        let (h, _) = p.recv();
        let bytes = codec::encode(&Message::FeaturesRequest, h.xid);
        p.send(
            &error(OfError::BadRequest(BadRequestCode::BadType), &bytes),
            h.xid,
        );
    });
    let e = c.request(&Message::FeaturesRequest).unwrap_err();
    match &e {
        ClientError::Peer { xid, error } => {
            assert_eq!(*xid, 2);
            assert_eq!(error.data, codec::encode(&Message::FeaturesRequest, 2));
        }
        other => panic!("{other}"),
    }
    assert_eq!(e.to_string(), "received OFPBRC_BAD_TYPE");
    t.join().unwrap();
}

#[test]
fn transact_pipelines_and_returns_the_first_error() {
    const N: u32 = 300;
    let (mut c, t) = connect(|p| {
        // Read every flow mod before answering: the client must not wait between them.
        let mut xids = Vec::new();
        loop {
            let (h, m) = p.recv();
            match m {
                Message::FlowMod(_) => xids.push(h.xid),
                Message::BarrierRequest => {
                    assert_eq!(xids.len(), N as usize);
                    p.send(
                        &error(OfError::FlowModFailed(FlowModFailedCode::Overlap), &[]),
                        xids[7],
                    );
                    p.send(
                        &error(OfError::FlowModFailed(FlowModFailedCode::TableFull), &[]),
                        xids[9],
                    );
                    p.send(&Message::BarrierReply, h.xid);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
    });
    let msgs: Vec<Message> = (0..N)
        .map(|i| {
            let spec = FlowSpec {
                priority: i as u16,
                ..FlowSpec::default()
            };
            Message::FlowMod(FlowModMsg::new(FlowMod::add(spec)))
        })
        .collect();
    let e = c.transact(msgs).unwrap_err();
    match e {
        ClientError::Peer { xid, error } => {
            assert_eq!(xid, 2 + 7);
            assert_eq!(error_name(error.error), "OFPFMFC_OVERLAP");
        }
        other => panic!("{other}"),
    }
    t.join().unwrap();
}

#[test]
fn bundle_opens_adds_and_commits() {
    let (mut c, t) = connect(|p| {
        let mut adds = 0;
        loop {
            let (h, m) = p.recv();
            match m {
                Message::Experimenter(Experimenter::BundleControl(b)) => {
                    assert_eq!(b.flags, BUNDLE_ATOMIC | BUNDLE_ORDERED);
                    let reply = match b.ctrl_type {
                        BundleCtrlType::OpenRequest => BundleCtrlType::OpenReply,
                        BundleCtrlType::CommitRequest => BundleCtrlType::CommitReply,
                        other => panic!("{other:?}"),
                    };
                    p.send(
                        &Message::Experimenter(Experimenter::BundleControl(BundleControl {
                            ctrl_type: reply,
                            ..b
                        })),
                        h.xid,
                    );
                    if reply == BundleCtrlType::CommitReply {
                        assert_eq!(adds, 2);
                        return;
                    }
                }
                Message::Experimenter(Experimenter::BundleAdd(a)) => {
                    assert_eq!(a.xid, h.xid);
                    assert!(matches!(*a.message, Message::FlowMod(_)));
                    adds += 1;
                }
                Message::BarrierRequest => p.send(&Message::BarrierReply, h.xid),
                other => panic!("{other:?}"),
            }
        }
    });
    let fm = Message::FlowMod(FlowModMsg::new(FlowMod::add(FlowSpec::default())));
    c.bundle(0, vec![fm.clone(), fm]).unwrap();
    t.join().unwrap();
}

#[test]
fn silence_times_out_and_a_close_is_reported() {
    let (mut c, t) = connect(|p| {
        let _ = p.recv();
        let _ = p.recv();
    });
    c.set_timeout(Some(Duration::from_millis(200)));
    let e = c.barrier().unwrap_err();
    assert!(matches!(e, ClientError::Timeout(_, "a reply")), "{e}");
    c.send(&Message::BarrierRequest).unwrap();
    t.join().unwrap();
    let e = c.recv().unwrap_err();
    assert!(matches!(e, ClientError::Closed), "{e}");
}

#[test]
fn error_names_follow_ovs() {
    assert_eq!(
        error_name(OfError::BadRequest(BadRequestCode::Eperm)),
        "OFPBRC_EPERM"
    );
    assert_eq!(
        error_name(OfError::from_type_code(2, 3)),
        "OFPBAC_BAD_VENDOR_TYPE"
    );
    assert_eq!(
        error_name(OfError::from_type_code(4, 9)),
        "OFPBMC_BAD_PREREQ"
    );
    assert_eq!(
        error_name(OfError::Experimenter {
            exp_type: 2302,
            experimenter: crate::msg::experimenter::ONF_EXPERIMENTER
        }),
        "OFPBFC_BAD_ID"
    );
}

#[test]
fn sent_xids_give_each_message_its_position_across_parts_and_wraps() {
    let mut sent = super::SentXids::default();
    let xids = (10..20).chain(25..30).chain([u32::MAX - 1, u32::MAX, 1, 2]);
    for x in xids.clone() {
        sent.push(x);
    }
    for (i, x) in xids.enumerate() {
        assert_eq!(sent.index_of(x), Some(i), "xid {x}");
    }
    for x in [9, 20, 24, 30, 3, u32::MAX - 2] {
        assert_eq!(sent.index_of(x), None, "xid {x}");
    }
}

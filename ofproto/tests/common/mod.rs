//! Shared helpers of the endpoint tests: an in-process endpoint on an ephemeral TCP port, and
//! a raw OpenFlow client that speaks through the crate's own codec.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wyvern_ofproto::codec::{self, FrameSplitter, Header};
use wyvern_ofproto::endpoint::{ConnTarget, Endpoint, EndpointConfig, ListenAddr};
use wyvern_ofproto::msg::{Hello, Message};
use wyvern_ofproto::services::Services;
use wyvern_pipeline::{Pipeline, PipelineConfig};

/// An endpoint listening on `ptcp:0:127.0.0.1`, with its pipeline.
pub struct Switch {
    pub endpoint: Option<Endpoint>,
    pub pipeline: Arc<Pipeline>,
    pub addr: SocketAddr,
}

impl Switch {
    pub fn start() -> Switch {
        Switch::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut EndpointConfig)) -> Switch {
        Switch::start_services(tweak, Services::default())
    }

    pub fn start_services(tweak: impl FnOnce(&mut EndpointConfig), services: Services) -> Switch {
        let pipeline = Pipeline::new(PipelineConfig::default());
        let mut config = EndpointConfig::new("br-test", 0x00_00_42_fb_f3_84_88_4c);
        config.listen = vec!["ptcp:0:127.0.0.1".parse::<ConnTarget>().unwrap()];
        tweak(&mut config);
        let endpoint = Endpoint::start(config, pipeline.clone(), services).unwrap();
        let addr = match endpoint.listen_addrs().first() {
            Some(ListenAddr::Tcp(a)) => *a,
            other => panic!("first listener is not TCP: {other:?}"),
        };
        Switch {
            endpoint: Some(endpoint),
            pipeline,
            addr,
        }
    }

    /// A client that completed HELLO.
    pub fn client(&self) -> Client {
        let mut c = Client::connect(self.addr);
        c.hello();
        c
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.endpoint.as_ref().unwrap()
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if let Some(e) = self.endpoint.take() {
            e.shutdown();
        }
    }
}

/// A raw OpenFlow 1.3 client.
pub struct Client {
    pub stream: TcpStream,
    splitter: FrameSplitter,
    xid: u32,
    /// Messages skipped while waiting for a reply, returned first by `recv`.
    backlog: std::collections::VecDeque<(Header, Message)>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).unwrap())
    }

    /// A client on a connection made otherwise (e.g. accepted from the switch).
    pub fn from_stream(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Client {
            stream,
            splitter: FrameSplitter::new(),
            xid: 100,
            backlog: Default::default(),
        }
    }

    /// Sends HELLO (bitmap 0x10) and reads the switch's.
    pub fn hello(&mut self) {
        self.send(&Message::Hello(Hello::with_versions(&[4])));
        let (h, m) = self.recv().expect("switch HELLO");
        assert_eq!(h.version, 4);
        assert!(matches!(m, Message::Hello(_)), "{m:?}");
    }

    pub fn next_xid(&mut self) -> u32 {
        self.xid += 1;
        self.xid
    }

    /// Sends a message; returns its xid.
    pub fn send(&mut self, m: &Message) -> u32 {
        let xid = self.next_xid();
        self.send_raw(&codec::encode(m, xid));
        xid
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next whole frame, or None after 5 s or when the switch closed the connection.
    pub fn recv_frame_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65536];
        loop {
            if let Some(f) = self.splitter.next_frame() {
                return Some(f.unwrap());
            }
            if Instant::now() > deadline {
                return None;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.splitter.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
    }

    pub fn recv_within(&mut self, wait: Duration) -> Option<(Header, Message)> {
        if let Some(m) = self.backlog.pop_front() {
            return Some(m);
        }
        let f = self.recv_frame_within(wait)?;
        Some(codec::decode(&f).unwrap())
    }

    pub fn recv(&mut self) -> Option<(Header, Message)> {
        self.recv_within(Duration::from_secs(5))
    }

    /// Like `recv`, but never from the backlog.
    fn recv_new(&mut self) -> Option<(Header, Message)> {
        let f = self.recv_frame_within(Duration::from_secs(5))?;
        Some(codec::decode(&f).unwrap())
    }

    /// Messages until the one with `xid` that is not a multipart reply with REPLY_MORE;
    /// returns every message with that xid, skipping others (asynchronous ones).
    pub fn replies(&mut self, xid: u32) -> Vec<Message> {
        let mut out = Vec::new();
        loop {
            let (h, m) = self.recv_new().expect("reply");
            if h.xid != xid {
                self.backlog.push_back((h, m));
                continue;
            }
            let more = matches!(&m, Message::MultipartReply(r) if r.flags & 1 != 0);
            out.push(m);
            if !more {
                return out;
            }
        }
    }

    /// Sends `m` then a barrier; returns what came back with `m`'s xid before the barrier
    /// reply (errors, replies).
    pub fn request(&mut self, m: &Message) -> Vec<Message> {
        let xid = self.send(m);
        self.until_barrier(xid)
    }

    pub fn until_barrier(&mut self, xid: u32) -> Vec<Message> {
        let bxid = self.send(&Message::BarrierRequest);
        let mut out = Vec::new();
        loop {
            let (h, m) = self.recv_new().expect("barrier reply");
            if h.xid == bxid {
                assert_eq!(m, Message::BarrierReply);
                return out;
            }
            if h.xid == xid {
                out.push(m);
            } else {
                self.backlog.push_back((h, m));
            }
        }
    }

    /// True when the switch closed the connection within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = [0u8; 65536];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

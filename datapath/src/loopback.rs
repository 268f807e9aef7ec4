//! An in-memory port pair: what one end sends, the other receives.
//!
//! Needs no root and no kernel, so the pipeline's tests and benches can drive real [`Port`]s.
//! Each direction is a bounded queue with a pool of preallocated buffers: sending copies the
//! frame into a pooled buffer, receiving swaps that buffer with a slot of the caller's
//! [`Burst`] (no copy, no allocation). Like a wire, sending does not judge frames; the
//! receiving end drops runts and oversize frames and counts them.

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::counters::{DropReason, PortCounters, check_frame_len};
use crate::packet::{Burst, PacketBuf};
use crate::port::{MacAddr, Port, Result};

/// Frames one direction of a pair can hold by default.
pub const DEFAULT_DEPTH: usize = 256;

#[derive(Debug)]
struct Channel {
    queue: VecDeque<PacketBuf>,
    free: Vec<PacketBuf>,
    /// Write end of the receiving port's notification pipe (while it is registered).
    notify: Option<mio::unix::pipe::Sender>,
    /// Whether the receiving end is up.
    up: bool,
}

impl Channel {
    fn new(depth: usize) -> Self {
        Self {
            queue: VecDeque::with_capacity(depth),
            free: (0..depth).map(|_| PacketBuf::new()).collect(),
            notify: None,
            up: true,
        }
    }
}

fn lock(ch: &Mutex<Channel>) -> MutexGuard<'_, Channel> {
    // A panic while holding the lock leaves the queues consistent (no invariant spans an
    // unwind point), so a poisoned lock is still usable.
    ch.lock().unwrap_or_else(|e| e.into_inner())
}

/// One end of an in-memory port pair (see [`LoopbackPort::pair`]).
#[derive(Debug)]
pub struct LoopbackPort {
    name: String,
    mac: MacAddr,
    mtu: u32,
    /// Frames arriving at this end.
    inbound: Arc<Mutex<Channel>>,
    /// Frames this end sends.
    outbound: Arc<Mutex<Channel>>,
    counters: PortCounters,
    /// Read end of the notification pipe, registered with a mio registry.
    notified: Option<mio::unix::pipe::Receiver>,
}

impl LoopbackPort {
    /// Two connected ports `a` and `b`, MTU 1500, [`DEFAULT_DEPTH`] frames per direction.
    pub fn pair(a: &str, b: &str) -> (LoopbackPort, LoopbackPort) {
        Self::pair_with(a, b, 1500, DEFAULT_DEPTH)
    }

    /// Two connected ports with the given MTU and queue depth per direction.
    pub fn pair_with(a: &str, b: &str, mtu: u32, depth: usize) -> (LoopbackPort, LoopbackPort) {
        let a_to_b = Arc::new(Mutex::new(Channel::new(depth)));
        let b_to_a = Arc::new(Mutex::new(Channel::new(depth)));
        let mk = |name: &str, seed: u32, inbound: &Arc<_>, outbound: &Arc<_>| LoopbackPort {
            name: name.to_owned(),
            mac: MacAddr::local(seed),
            mtu,
            inbound: Arc::clone(inbound),
            outbound: Arc::clone(outbound),
            counters: PortCounters::default(),
            notified: None,
        };
        (mk(a, 1, &b_to_a, &a_to_b), mk(b, 2, &a_to_b, &b_to_a))
    }

    /// Bring this end's link up or down; while down it receives nothing and its peer's frames
    /// are dropped (counted by the peer as [`DropReason::LinkDown`]).
    pub fn set_link_up(&mut self, up: bool) {
        lock(&self.inbound).up = up;
    }

    /// Frames waiting to be received at this end.
    pub fn pending(&self) -> usize {
        lock(&self.inbound).queue.len()
    }
}

impl Port for LoopbackPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    fn link_up(&self) -> bool {
        lock(&self.inbound).up
    }

    fn recv_burst(&mut self, out: &mut Burst) -> Result<usize> {
        if let Some(pipe) = &mut self.notified {
            // Drain the notifications (edge-triggered: the next send must make a new edge).
            let mut sink = [0u8; 64];
            while matches!(io::Read::read(pipe, &mut sink), Ok(n) if n > 0) {}
        }
        let mut ch = lock(&self.inbound);
        let mut n = 0;
        while !out.is_full() {
            let Some(mut buf) = ch.queue.pop_front() else {
                break;
            };
            match check_frame_len(buf.len(), self.mtu) {
                Ok(()) => {
                    self.counters.rx(buf.len());
                    out.swap_slot(&mut buf);
                    n += 1;
                }
                Err(reason) => self.counters.rx_drop(reason),
            }
            // `buf` is now the burst's old buffer (or the dropped one): back to the pool,
            // without a UMEM frame (that stays with the worker owning its UMEM).
            buf.release_umem();
            buf.reset();
            ch.free.push(buf);
        }
        Ok(n)
    }

    fn send_burst(&mut self, frames: &mut [PacketBuf]) -> Result<usize> {
        let mut ch = lock(&self.outbound);
        if !ch.up {
            self.counters
                .tx_drop(DropReason::LinkDown, frames.len() as u64);
            return Ok(0);
        }
        let mut sent = 0;
        for frame in frames.iter() {
            let Some(mut buf) = ch.free.pop() else {
                self.counters.tx_drop(DropReason::TxRingFull, 1);
                continue;
            };
            buf.reset();
            if !buf.set_frame(frame.data()) {
                self.counters.tx_drop(DropReason::Oversize, 1);
                ch.free.push(buf);
                continue;
            }
            buf.meta = frame.meta;
            self.counters.tx(frame.len());
            ch.queue.push_back(buf);
            sent += 1;
        }
        if let (true, Some(w)) = (sent > 0, &mut ch.notify) {
            // A full pipe already holds a pending notification; another error only delays
            // the peer until its next poll timeout.
            let _ = io::Write::write(w, &[1]);
        }
        Ok(sent)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// Registers the read end of a notification pipe the peer writes a byte to after each
    /// burst (a pipe rather than a [`mio::Waker`]: a `Poll` may have only one waker).
    fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
        let (mut tx, mut rx) = mio::unix::pipe::new()?;
        registry.register(&mut rx, token, mio::Interest::READABLE)?;
        let mut ch = lock(&self.inbound);
        if !ch.queue.is_empty() {
            io::Write::write(&mut tx, &[1])?;
        }
        ch.notify = Some(tx);
        self.notified = Some(rx);
        Ok(())
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        lock(&self.inbound).notify = None;
        match self.notified.take() {
            Some(mut rx) => registry.deregister(&mut rx),
            None => Ok(()),
        }
    }

    fn counters(&self) -> PortCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(len: usize, tag: u8) -> Vec<u8> {
        let mut f = vec![tag; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f
    }

    #[test]
    fn frames_cross_in_order_with_counters() {
        let (mut a, mut b) = LoopbackPort::pair("a", "b");
        let mut tx = Burst::new(4);
        for i in 0..3u8 {
            assert!(tx.push_copy(&eth(60 + i as usize, i)));
        }
        assert_eq!(a.send_burst(tx.packets_mut()).unwrap(), 3);
        assert_eq!(b.pending(), 3);
        let mut rx = Burst::new(2);
        assert_eq!(b.recv_burst(&mut rx).unwrap(), 2);
        assert_eq!(rx.packets()[0].data(), &eth(60, 0)[..]);
        assert_eq!(rx.packets()[1].data(), &eth(61, 1)[..]);
        assert_eq!(b.recv_burst(&mut rx).unwrap(), 0, "burst is full");
        rx.clear();
        assert_eq!(b.recv_burst(&mut rx).unwrap(), 1);
        assert_eq!(rx.packets()[0].data(), &eth(62, 2)[..]);
        let (ca, cb) = (a.counters(), b.counters());
        assert_eq!((ca.tx_packets, ca.tx_bytes), (3, 183));
        assert_eq!((cb.rx_packets, cb.rx_bytes), (3, 183));
        // Nothing flows back.
        rx.clear();
        assert_eq!(a.recv_burst(&mut rx).unwrap(), 0);
    }

    #[test]
    fn runt_and_oversize_are_counted_drops() {
        let (mut a, mut b) = LoopbackPort::pair("a", "b");
        let mut frames = [
            PacketBuf::from_slice(&[0; 5]),
            PacketBuf::from_slice(&eth(1519, 1)),
            PacketBuf::from_slice(&eth(1518, 2)),
            PacketBuf::from_slice(&[0; 3000]),
        ];
        // The 3000-byte frame does not fit a pool buffer: dropped by the sender.
        assert_eq!(a.send_burst(&mut frames).unwrap(), 3);
        assert_eq!(a.counters().dropped(DropReason::Oversize), 1);
        let mut rx = Burst::new(8);
        assert_eq!(b.recv_burst(&mut rx).unwrap(), 1);
        assert_eq!(rx.packets()[0].len(), 1518);
        let c = b.counters();
        assert_eq!(c.dropped(DropReason::Runt), 1);
        assert_eq!(c.dropped(DropReason::Oversize), 1);
        assert_eq!((c.rx_dropped, c.rx_packets), (2, 1));
    }

    #[test]
    fn full_queue_and_link_down_drop() {
        let (mut a, mut b) = LoopbackPort::pair_with("a", "b", 1500, 2);
        let mut frames: Vec<PacketBuf> =
            (0..3).map(|_| PacketBuf::from_slice(&eth(64, 0))).collect();
        assert_eq!(a.send_burst(&mut frames).unwrap(), 2);
        assert_eq!(a.counters().dropped(DropReason::TxRingFull), 1);
        let mut rx = Burst::new(8);
        assert_eq!(b.recv_burst(&mut rx).unwrap(), 2);
        // The pool is refilled by receiving: the pair keeps working.
        assert_eq!(a.send_burst(&mut frames[..2]).unwrap(), 2);
        b.set_link_up(false);
        assert!(!b.link_up());
        assert_eq!(a.send_burst(&mut frames[..1]).unwrap(), 0);
        assert_eq!(a.counters().dropped(DropReason::LinkDown), 1);
    }

    #[test]
    fn tunnel_metadata_crosses() {
        let (mut a, mut b) = LoopbackPort::pair("a", "b");
        let mut f = PacketBuf::from_slice(&eth(64, 0));
        f.meta.tunnel = Some(crate::TunnelMeta {
            tun_id: 7,
            tun_src: [1, 1, 1, 1].into(),
            tun_dst: [2, 2, 2, 2].into(),
        });
        a.send_burst(std::slice::from_mut(&mut f)).unwrap();
        let mut rx = Burst::new(1);
        b.recv_burst(&mut rx).unwrap();
        assert_eq!(rx.packets()[0].meta, f.meta);
    }

    #[test]
    fn mio_wakes_receiver() {
        let (mut a, mut b) = LoopbackPort::pair("a", "b");
        let mut poll = mio::Poll::new().unwrap();
        b.register(poll.registry(), mio::Token(7)).unwrap();
        let mut events = mio::Events::with_capacity(4);
        a.send_burst(&mut [PacketBuf::from_slice(&eth(64, 0))])
            .unwrap();
        poll.poll(&mut events, Some(std::time::Duration::from_secs(2)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == mio::Token(7)));
    }
}

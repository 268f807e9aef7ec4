//! Messages of one transaction encoded ahead of time, numbered only as they are sent.
//!
//! `wyvern add-flows` parses and encodes a whole file before it connects, as `ovs-ofctl`
//! does (a bad line sends nothing), and may do so on several threads. An [`Encoded`] holds
//! such messages back to back with xid 0; [`Client::send_encoded`](super::Client::send_encoded)
//! gives each the next xid of the connection as it writes it (in a BUNDLE_ADD, the inner
//! message gets the same xid, as `ovs-ofctl` sends it).

use crate::codec::{self, HEADER_LEN};
use crate::msg::experimenter::{
    BUNDLE_ATOMIC, BUNDLE_ORDERED, ONF_ET_BUNDLE_ADD_MESSAGE, ONF_EXPERIMENTER,
};
use crate::msg::{BundleAdd, Experimenter, Message, msg_type};

/// The flags of wyvern's bundles: atomic and ordered, as `ovs-ofctl --bundle`.
pub(super) const BUNDLE_FLAGS: u16 = BUNDLE_ATOMIC | BUNDLE_ORDERED;

/// Where a BUNDLE_ADD's inner message starts: after the 16-byte experimenter header and the
/// bundle id, pad and flags.
const INNER_AT: usize = 24;

/// How the messages of a transaction reach the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transaction {
    /// As they are, back to back, then a barrier.
    Pipelined,
    /// One BUNDLE_ADD each inside this ONF bundle: open, adds, barrier, commit.
    Bundle(u32),
}

/// Messages encoded back to back, without xids yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    bytes: Vec<u8>,
    count: usize,
}

impl Encoded {
    /// Nothing yet.
    pub fn new() -> Self {
        Encoded::default()
    }

    /// Nothing yet, with room for `bytes` bytes of messages.
    pub fn with_capacity(bytes: usize) -> Self {
        Encoded {
            bytes: Vec::with_capacity(bytes),
            count: 0,
        }
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when it holds no message.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends `msg` as `transaction` sends it.
    pub fn push(&mut self, transaction: Transaction, msg: Message) {
        let msg = match transaction {
            Transaction::Pipelined => msg,
            Transaction::Bundle(bundle_id) => {
                Message::Experimenter(Experimenter::BundleAdd(BundleAdd {
                    bundle_id,
                    flags: BUNDLE_FLAGS,
                    xid: 0,
                    message: Box::new(msg),
                    trailer: Vec::new(),
                }))
            }
        };
        codec::encode_into(&msg, 0, &mut self.bytes);
        self.count += 1;
    }

    /// Gives each message the xid `next_xid()` returns, in order (telling `sent`), and calls
    /// `write` with runs of whole messages of at least `chunk` bytes (the last one shorter).
    pub(super) fn number_and_write<E>(
        mut self,
        chunk: usize,
        mut next_xid: impl FnMut() -> u32,
        mut sent: impl FnMut(u32),
        mut write: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let b = &mut self.bytes;
        let (mut start, mut at) = (0, 0);
        while let Some(len) = message_len(&b[at..]) {
            let xid = next_xid().to_be_bytes();
            b[at + 4..at + 8].copy_from_slice(&xid);
            if is_bundle_add(&b[at..at + len]) {
                let inner = at + INNER_AT;
                b[inner + 4..inner + 8].copy_from_slice(&xid);
            }
            sent(u32::from_be_bytes(xid));
            at += len;
            if at - start >= chunk {
                write(&b[start..at])?;
                start = at;
            }
        }
        if at > start {
            write(&b[start..at])?;
        }
        Ok(())
    }
}

/// The length of the whole message at the front of `b`, if one is there.
fn message_len(b: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
    (len >= HEADER_LEN && len <= b.len()).then_some(len)
}

/// True for a BUNDLE_ADD with a whole inner header.
fn is_bundle_add(m: &[u8]) -> bool {
    let word = |at: usize| m.get(at..at + 4).map(|w| [w[0], w[1], w[2], w[3]]);
    m.get(1) == Some(&msg_type::EXPERIMENTER)
        && word(8) == Some(ONF_EXPERIMENTER.to_be_bytes())
        && word(12) == Some(ONF_ET_BUNDLE_ADD_MESSAGE.to_be_bytes())
        && m.len() >= INNER_AT + HEADER_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use wyvern_pipeline::flow::{FlowMod, FlowSpec};

    use crate::msg::FlowModMsg;

    fn flow_mod(priority: u16) -> Message {
        Message::FlowMod(FlowModMsg::new(FlowMod::add(FlowSpec {
            priority,
            ..FlowSpec::default()
        })))
    }

    /// Numbered and cut into runs, the bytes are what encoding each message with its xid
    /// gives, and every run holds whole messages.
    #[test]
    fn numbered_messages_equal_directly_encoded_ones() {
        for transaction in [Transaction::Pipelined, Transaction::Bundle(9)] {
            let mut e = Encoded::new();
            let mut want = Vec::new();
            for n in 0..50u16 {
                e.push(transaction, flow_mod(n));
                let xid = 1000 + u32::from(n);
                let m = match transaction {
                    Transaction::Pipelined => flow_mod(n),
                    Transaction::Bundle(id) => {
                        Message::Experimenter(Experimenter::BundleAdd(BundleAdd {
                            bundle_id: id,
                            flags: BUNDLE_FLAGS,
                            xid,
                            message: Box::new(flow_mod(n)),
                            trailer: Vec::new(),
                        }))
                    }
                };
                codec::encode_into(&m, xid, &mut want);
            }
            assert_eq!(e.len(), 50);
            let mut xid = 999;
            let mut sent = Vec::new();
            let mut runs: Vec<Vec<u8>> = Vec::new();
            e.number_and_write(
                300,
                || {
                    xid += 1;
                    xid
                },
                |xid| sent.push(xid),
                |run| {
                    runs.push(run.to_vec());
                    Ok::<_, ()>(())
                },
            )
            .unwrap();
            assert_eq!(sent, (1000..1050).collect::<Vec<_>>());
            assert!(runs.len() > 1);
            for run in &runs {
                let mut at = 0;
                while let Some(len) = message_len(&run[at..]) {
                    at += len;
                }
                assert_eq!(at, run.len(), "a run of whole messages");
            }
            assert_eq!(runs.concat(), want);
        }
    }
}

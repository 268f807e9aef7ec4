//! [`Frame`]: a packet as a window into a caller-owned buffer with headroom.

/// A packet occupying `buf[start..start + len]` of a larger caller-owned buffer.
///
/// The bytes before `start` are headroom: [`Frame::push_front`] grows the packet into them
/// without copying the payload or allocating (the datapath reserves headroom in each AF_XDP
/// frame; `push_vlan` needs 4 bytes of it). The invariant `start + len <= buf.len()` is checked by
/// [`Frame::new`] and kept by every method, so no accessor panics.
#[derive(Debug)]
pub struct Frame<'a> {
    buf: &'a mut [u8],
    start: usize,
    len: usize,
}

impl<'a> Frame<'a> {
    /// The packet `buf[start..start + len]`; `None` if that range is not inside `buf`.
    pub fn new(buf: &'a mut [u8], start: usize, len: usize) -> Option<Frame<'a>> {
        let end = start.checked_add(len)?;
        (end <= buf.len()).then_some(Frame { buf, start, len })
    }

    /// The packet's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The packet's bytes, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// The packet's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty packet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes free in front of the packet.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the packet.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.start - self.len
    }

    /// Grows the packet by `n` bytes at the front, taken from the headroom (their content is
    /// whatever the buffer held). False, and nothing changes, if the headroom is too small.
    #[inline]
    pub fn push_front(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        self.len += n;
        true
    }

    /// Removes `n` bytes from the front, giving them back to the headroom. False, and
    /// nothing changes, if the packet is shorter than `n`.
    #[inline]
    pub fn pull_front(&mut self, n: usize) -> bool {
        if n > self.len {
            return false;
        }
        self.start += n;
        self.len -= n;
        true
    }

    /// Shortens the packet to `len` bytes (no effect if it is already shorter).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The buffer, the packet's start and its length.
    pub fn into_parts(self) -> (&'a mut [u8], usize, usize) {
        (self.buf, self.start, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_is_checked() {
        let mut b = [0u8; 10];
        assert!(Frame::new(&mut b, 4, 6).is_some());
        assert!(Frame::new(&mut b, 4, 7).is_none());
        assert!(Frame::new(&mut b, usize::MAX, 2).is_none());
        assert!(Frame::new(&mut b, 11, 0).is_none());
    }

    #[test]
    fn push_and_pull_move_the_start() {
        let mut b = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let mut f = Frame::new(&mut b, 4, 3).unwrap();
        assert_eq!(f.bytes(), &[4, 5, 6]);
        assert_eq!((f.headroom(), f.tailroom()), (4, 1));
        assert!(!f.push_front(5));
        assert!(f.push_front(4));
        assert_eq!(f.bytes(), &[0, 1, 2, 3, 4, 5, 6]);
        assert!(!f.pull_front(8));
        assert!(f.pull_front(6));
        assert_eq!(f.bytes(), &[6]);
        f.bytes_mut()[0] = 9;
        f.truncate(0);
        assert!(f.is_empty());
        let (buf, start, len) = f.into_parts();
        assert_eq!((buf[6], start, len), (9, 6, 0));
    }
}

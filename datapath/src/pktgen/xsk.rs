//! Sending with a transmit-only AF_XDP socket, where live frames are not available.
//!
//! Unlike [`crate::afxdp::AfXdpPort`] this socket attaches no XDP program (libxdp's program
//! load is inhibited: nothing is received, the interface's inbound traffic is untouched),
//! writes the template into every UMEM frame once, and then rewrites only the flow field,
//! stamp and checksums of each frame it sends. On a veth (copy mode) each `sendto` wakeup
//! makes the kernel send up to 32 frames as skbs, which is what bounds this mode.
//!
//! ## Frame ownership
//! Every UMEM frame is a TX frame. A descriptor is in `free` exactly while its frame is in no
//! ring: it leaves `free` when produced to the TX ring and comes back when the completion ring
//! returns it. Only frames in `free` are read or written, which is the rule xsk-rs leaves to
//! its callers; all unsafe code of this file relies on it and nothing outside this file can
//! reach the descriptors.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, TxQueue, Umem};

use super::PktgenError;
use super::frame::Template;
use super::sys::monotonic_ns;

/// Ring sizes and frame count.
const RING: u32 = 2048;

#[derive(Debug)]
pub struct XskTx {
    tx: TxQueue,
    comp: CompQueue,
    // Kept so the socket and its rings stay alive; never used.
    _rx: RxQueue,
    _fill: FillQueue,
    umem: Umem,
    /// Descriptors of frames in no ring.
    free: Vec<FrameDesc>,
    /// Reused descriptor array for ring calls.
    scratch: Vec<FrameDesc>,
    template: Template,
    stamp: bool,
    zero_copy: bool,
}

impl XskTx {
    /// A socket on queue 0 of `iface` (in the calling thread's namespace), zero-copy if the
    /// driver can, else copy mode.
    pub fn open(iface: &str, template: &Template, stamp: bool) -> Result<XskTx, PktgenError> {
        let mut errors = Vec::new();
        for zero_copy in [true, false] {
            match Self::open_mode(iface, template, stamp, zero_copy) {
                Ok(x) => return Ok(x),
                Err(e) => errors.push(format!(
                    "{}: {e}",
                    if zero_copy { "zero-copy" } else { "copy" }
                )),
            }
        }
        Err(PktgenError::Xsk {
            iface: iface.to_owned(),
            reason: errors.join("; "),
        })
    }

    fn open_mode(
        iface: &str,
        template: &Template,
        stamp: bool,
        zero_copy: bool,
    ) -> Result<XskTx, String> {
        let q = |n| QueueSize::new(n).map_err(|e| e.to_string());
        let umem_config = UmemConfig::builder()
            .frame_size(FrameSize::new(2048).map_err(|e| e.to_string())?)
            .fill_queue_size(q(RING)?)
            .comp_queue_size(q(RING)?)
            .frame_headroom(0)
            .build()
            .map_err(|e| e.to_string())?;
        let count = NonZeroU32::new(RING).ok_or("zero frames")?;
        let (umem, descs) = Umem::new(umem_config, count, false).map_err(|e| e.to_string())?;
        let copy = if zero_copy {
            BindFlags::XDP_ZEROCOPY
        } else {
            BindFlags::XDP_COPY
        };
        let config = SocketConfig::builder()
            .rx_queue_size(q(RING)?)
            .tx_queue_size(q(RING)?)
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .xdp_flags(XdpFlags::empty())
            .bind_flags(copy | BindFlags::XDP_USE_NEED_WAKEUP)
            .build();
        let name: Interface = iface.parse().map_err(|_| "bad interface name")?;
        // SAFETY: xsk-rs requires XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD when the UMEM is shared
        // and the pair already bound; it is set (we load no program at all), and this UMEM
        // was created just above for this one socket.
        let (tx, rx, rings) =
            unsafe { xsk_rs::Socket::new(config, &umem, &name, 0) }.map_err(|e| e.to_string())?;
        let (fill, comp) = rings.ok_or("no fill/completion ring for a new UMEM")?;
        let mut x = XskTx {
            tx,
            comp,
            _rx: rx,
            _fill: fill,
            umem,
            free: descs,
            scratch: Vec::with_capacity(RING as usize),
            template: template.clone(),
            stamp,
            zero_copy,
        };
        for i in 0..x.free.len() {
            let mut desc = x.free[i];
            // SAFETY: every descriptor in `free` names a frame of this UMEM in no ring (see
            // the module documentation), and `desc` is the only handle used on it here.
            let mut data = unsafe { x.umem.data_mut(&mut desc) };
            let mut cursor = data.cursor();
            cursor.set_pos(0);
            std::io::Write::write_all(&mut cursor, &x.template.bytes).map_err(|e| e.to_string())?;
            x.free[i] = desc;
        }
        Ok(x)
    }

    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Frames on the TX ring or in the kernel, not yet completed.
    pub fn in_flight(&self) -> usize {
        RING as usize - self.free.len()
    }

    fn complete(&mut self) {
        self.scratch.clear();
        self.scratch.resize(RING as usize, FrameDesc::default());
        // SAFETY: the completion ring only returns frames this socket put on its TX ring, all
        // of this UMEM; once returned they are in no ring, so they go back to `free`.
        let n = unsafe { self.comp.consume(&mut self.scratch) };
        self.free.extend_from_slice(&self.scratch[..n]);
    }

    fn kick(&mut self) -> Result<(), PktgenError> {
        if self.tx.needs_wakeup() {
            self.tx.wakeup().map_err(|source| PktgenError::Io {
                what: "sendto(AF_XDP) wakeup",
                source,
            })?;
        }
        Ok(())
    }

    /// Put up to `n` frames, numbered from `seq`, on the TX ring and wake the kernel;
    /// returns how many (0 when the ring or the free frames are exhausted).
    pub fn send(&mut self, n: u32, seq: u64) -> Result<u32, PktgenError> {
        self.complete();
        let n = (n as usize)
            .min(self.free.len())
            .min(self.tx.nb_free(n) as usize);
        if n == 0 {
            self.kick()?;
            return Ok(0);
        }
        let from = self.free.len() - n;
        let stamp = if self.stamp { monotonic_ns() } else { 0 };
        for (i, desc) in self.free[from..].iter_mut().enumerate() {
            // SAFETY: `desc` is in `free`, so its frame is in no ring; the exclusive borrow of
            // the descriptor is the only access to the frame meanwhile.
            let mut data = unsafe { self.umem.data_mut(desc) };
            // The completion ring hands descriptors back with length 0; the bytes past the
            // rewritten fields are still the template's.
            data.cursor().set_pos(self.template.len());
            self.template
                .write(data.contents_mut(), seq + i as u64, stamp);
        }
        // SAFETY: the descriptors produced are frames in no ring (taken from `free`), and
        // they leave `free` right below, so they are not touched until completed.
        let done = unsafe { self.tx.produce(&self.free[from..]) };
        // Unsent ones (none: the ring had room for n) would stay free.
        self.free.drain(from..from + done);
        self.kick()?;
        Ok(done as u32)
    }

    /// Wake the kernel until every frame sent is completed, or `limit` passes.
    pub fn drain(&mut self, limit: Duration) -> Result<(), PktgenError> {
        let deadline = Instant::now() + limit;
        while self.in_flight() > 0 && Instant::now() < deadline {
            self.kick()?;
            self.complete();
            if self.in_flight() > 0 {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        Ok(())
    }
}

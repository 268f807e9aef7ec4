//! UMEMs: the frame memory AF_XDP sockets receive into and send from, and who owns each frame.
//!
//! ## Sharing
//! A [`SharedUmem`] is one UMEM several AF_XDP sockets bind to with `XDP_SHARED_UMEM` (Linux
//! 5.10+ allows it across interfaces and queues; each `(interface, queue)` gets its own fill and
//! completion ring, which libxdp sets up). A frame one socket received can then be put on
//! another socket's TX ring as it is: that is how the bridge forwards between AF_XDP ports of
//! one worker without copying.
//!
//! libxdp makes the first socket created from a UMEM the UMEM's own descriptor and never
//! closes it while the UMEM lives, so that socket would stay bound to its interface queue
//! after its port is removed (re-adding the port would fail with `EBUSY`). A shared UMEM
//! therefore starts with an *anchor*: a socket bound, in copy mode and with no XDP program, to
//! the loopback device of a private network namespace made for it, which nothing else can
//! see. Every port socket joins afterwards and is closed for good when its port goes. The
//! anchor's bind fixes the mode of the sockets that join: copy mode, with `need_wakeup`
//! (Linux gives shared sockets the first socket's mode). A port that wants zero-copy uses a
//! UMEM of its own (`Umem::private`), whose first socket is the port's.
//!
//! ## Who owns a frame
//! Every frame of a UMEM is, at any time, in exactly one place:
//! - the *stock* (free, under the UMEM's mutex);
//! - a ring of one port's socket (fill, RX, TX or completion), recorded in the frame's owner
//!   tag so that the frames are taken back when the port is closed;
//! - held by this process: a [`UmemFrame`] (a [`crate::PacketBuf`]'s storage) or a port
//!   between two ring operations.
//!
//! A [`UmemFrame`] is a non-`Clone` handle that owns its frame; the frame's bytes are
//! reachable only through it (or, between ring operations, through the port that took the
//! frame off a ring). It keeps the UMEM mapped and puts the frame back in the stock when
//! dropped. The mutex is taken once per burst, never per frame, on the fast path; only the
//! owner of the frames of one UMEM ever takes it (one worker, plus the control thread while a
//! port opens or closes).

use std::num::NonZeroU32;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue};

use crate::port::{PortError, Result};

/// Where the kernel puts a received frame's first byte, from the start of its UMEM frame (the
/// XDP headroom; this crate reserves no user headroom before it). Also where a frame to send
/// starts: an xsk-rs TX descriptor can only point where its RX descriptor did.
pub(crate) const DATA_OFFSET: usize = libxdp_sys::XDP_PACKET_HEADROOM as usize;

/// Most ports one shared UMEM serves; a worker with more AF_XDP ports gets another UMEM.
pub const PORTS_PER_UMEM: usize = 4;

/// Owner tag of a frame in the stock.
const FREE: u8 = 0;
/// Owner tag of a frame held by this process (a [`UmemFrame`], or a port between rings).
const HELD: u8 = 1;
/// Owner tags from here up are port slots: frames in a ring of that port's socket.
const FIRST_PORT: u8 = 2;

fn qsize(n: u32) -> Result<QueueSize> {
    QueueSize::new(n).map_err(|e| PortError::Config(format!("ring size {n}: {e}")))
}

/// The bookkeeping of a UMEM's frames (behind its mutex).
#[derive(Debug)]
pub(super) struct Frames {
    /// Free frames, used last-in first-out so that recently touched frames are reused.
    stock: Vec<u32>,
    /// Owner tag of every frame.
    owner: Box<[u8]>,
    /// Which port slots are taken, and the `(netns inode, interface, queue)` each serves.
    members: Vec<Option<(u64, String, u32)>>,
}

impl Frames {
    fn new(count: u32, slots: usize) -> Frames {
        Frames {
            // Reversed so that frame 0 is handed out first.
            stock: (0..count).rev().collect(),
            owner: vec![FREE; count as usize].into_boxed_slice(),
            members: vec![None; slots],
        }
    }

    /// Take a free frame, marking it held by this process.
    pub(super) fn take(&mut self) -> Option<u32> {
        let index = self.stock.pop()?;
        self.owner[index as usize] = HELD;
        Some(index)
    }

    /// Put a held frame back in the stock.
    pub(super) fn give(&mut self, index: u32) {
        debug_assert_eq!(
            self.owner[index as usize], HELD,
            "frame {index} given twice"
        );
        self.owner[index as usize] = FREE;
        self.stock.push(index);
    }

    /// Record that a held frame is now in a ring of port `slot`.
    pub(super) fn put_on_ring(&mut self, index: u32, slot: PortSlot) {
        debug_assert_eq!(self.owner[index as usize], HELD);
        self.owner[index as usize] = slot.0;
    }

    /// Record that a frame came off a ring of port `slot` and is held by this process.
    pub(super) fn took_off_ring(&mut self, index: u32, slot: PortSlot) {
        debug_assert_eq!(self.owner[index as usize], slot.0);
        self.owner[index as usize] = HELD;
    }

    /// Number of free frames.
    pub(super) fn free(&self) -> usize {
        self.stock.len()
    }

    /// Put every frame of port `slot`'s rings back in the stock (its socket is closed).
    fn reclaim(&mut self, slot: PortSlot) -> usize {
        let mut n = 0;
        for (index, owner) in self.owner.iter_mut().enumerate() {
            if *owner == slot.0 {
                *owner = FREE;
                self.stock.push(index as u32);
                n += 1;
            }
        }
        n
    }
}

/// A port's slot in a UMEM: the owner tag of the frames in its socket's rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PortSlot(u8);

/// The socket that owns a shared UMEM's descriptor (see the module documentation). Its rings
/// are kept only so that it stays bound; it never receives or sends.
#[derive(Debug)]
struct Anchor {
    _rx: RxQueue,
    _tx: TxQueue,
    _fill: FillQueue,
    _comp: CompQueue,
}

/// One UMEM: xsk-rs's region and its frames' bookkeeping.
#[derive(Debug)]
pub struct Umem {
    /// Keeps the region mapped and registered (xsk-rs counts the handles).
    inner: xsk_rs::Umem,
    /// First byte of the region: `count` frames of `frame_size` bytes, contiguous.
    base: NonNull<u8>,
    frame_size: usize,
    count: u32,
    /// The descriptor xsk-rs made for each frame, pointing at `DATA_OFFSET` in it.
    descs: Box<[FrameDesc]>,
    frames: Mutex<Frames>,
    /// Size of the fill and completion rings of every socket of this UMEM.
    ring_size: u32,
    anchor: Option<Anchor>,
}

// SAFETY: `base` points into the memory region `inner` keeps mapped for as long as this value
// lives; it is only dereferenced through `frame_bytes`/`frame_bytes_mut`, whose callers own the
// frame they name (the ownership rules above), so sending or sharing the `Umem` between
// threads cannot make two threads access one frame. Everything else is `Send + Sync` or
// behind the mutex.
unsafe impl Send for Umem {}
// SAFETY: see `Send`: shared access goes through the mutex or through owned frames.
unsafe impl Sync for Umem {}

impl Umem {
    /// A UMEM of `count` frames of `frame_size` bytes, with fill and completion rings of
    /// `ring_size` entries for each socket, and room for `slots` ports.
    fn create(frame_size: u32, ring_size: u32, count: u32, slots: usize) -> Result<Umem> {
        let size = FrameSize::new(frame_size)
            .map_err(|e| PortError::Config(format!("frame size {frame_size}: {e}")))?;
        let config = UmemConfig::builder()
            .frame_size(size)
            .fill_queue_size(qsize(ring_size)?)
            .comp_queue_size(qsize(ring_size)?)
            .frame_headroom(0)
            .build()
            .map_err(|e| PortError::Config(format!("UMEM: {e}")))?;
        let count_nz = NonZeroU32::new(count)
            .ok_or_else(|| PortError::Config("a UMEM of no frames".into()))?;
        let (inner, descs) = xsk_rs::Umem::new(config, count_nz, false)
            .map_err(|e| PortError::Config(format!("UMEM of {count} frames: {e}")))?;
        let mut first = descs[0];
        // SAFETY: `first` is the descriptor of frame 0 of this new UMEM, which nothing else
        // uses yet; the headroom slice is only used for its address, below.
        let (mut headroom, _) = unsafe { inner.frame_mut(&mut first) };
        // The headroom segment starts at the frame's first byte, and frame 0 at the region's.
        let base = NonNull::new(headroom.contents_mut().as_mut_ptr())
            .ok_or_else(|| PortError::Config("UMEM region at a null address".into()))?;
        let frame_size = frame_size as usize;
        let umem = Umem {
            inner,
            base,
            frame_size,
            count,
            descs: descs.into_boxed_slice(),
            frames: Mutex::new(Frames::new(count, slots)),
            ring_size,
            anchor: None,
        };
        umem.check_layout()?;
        Ok(umem)
    }

    /// Check that xsk-rs laid the frames out as this module assumes: frame `i` at
    /// `base + i * frame_size`, its descriptor at `DATA_OFFSET` in it.
    fn check_layout(&self) -> Result<()> {
        for (i, desc) in self.descs.iter().enumerate() {
            if desc.addr() != i * self.frame_size + DATA_OFFSET {
                return Err(PortError::Config(format!(
                    "xsk-rs put UMEM frame {i} at {:#x}, not {:#x}",
                    desc.addr(),
                    i * self.frame_size + DATA_OFFSET
                )));
            }
        }
        if let Some(mut last) = self.descs.last().copied() {
            // SAFETY: the UMEM is new and not yet bound to any socket; nothing uses its
            // frames, and the slice is only used for its address.
            let data = unsafe { self.inner.data_mut(&mut last) }
                .contents_mut()
                .as_mut_ptr();
            if data as usize != self.base.as_ptr() as usize + last.addr() {
                return Err(PortError::Config(
                    "xsk-rs's UMEM region is not contiguous".into(),
                ));
            }
        }
        Ok(())
    }

    /// A UMEM for one port alone: its socket will be the UMEM's first, so it may bind in
    /// zero-copy mode. `2 * ring_size` frames.
    pub(super) fn private(frame_size: u32, ring_size: u32) -> Result<Arc<Umem>> {
        let count = ring_size
            .checked_mul(2)
            .ok_or_else(|| PortError::Config(format!("ring size {ring_size}")))?;
        Ok(Arc::new(Umem::create(frame_size, ring_size, count, 1)?))
    }

    /// The xsk-rs UMEM, to create sockets from.
    pub(super) fn xsk(&self) -> &xsk_rs::Umem {
        &self.inner
    }

    /// Whether this UMEM has an anchor, i.e. port sockets join it with `XDP_SHARED_UMEM`.
    pub(super) fn is_shared(&self) -> bool {
        self.anchor.is_some()
    }

    /// Size of each socket's fill and completion rings.
    pub(super) fn ring_size(&self) -> u32 {
        self.ring_size
    }

    /// Bytes per frame.
    pub(super) fn frame_size(&self) -> usize {
        self.frame_size
    }

    /// Lock the frame bookkeeping.
    pub(super) fn lock(&self) -> MutexGuard<'_, Frames> {
        // No invariant of `Frames` spans a panic point, so a poisoned lock is still usable.
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frame a descriptor the kernel returned points into, and the offset of the
    /// descriptor's first byte in it; `None` if the address is outside the UMEM.
    pub(super) fn locate(&self, desc: &FrameDesc) -> Option<(u32, usize)> {
        let index = desc.addr() / self.frame_size;
        let index = u32::try_from(index).ok().filter(|&i| i < self.count)?;
        Some((index, desc.addr() % self.frame_size))
    }

    /// The descriptor of frame `index` at `DATA_OFFSET`, with data length `len`.
    ///
    /// # Safety
    /// The caller owns frame `index` (took it from the stock or off a ring, and has not given
    /// it away), and `index` is a frame of this UMEM.
    pub(super) unsafe fn desc(&self, index: u32, len: usize) -> FrameDesc {
        let mut desc = self.descs[index as usize];
        // SAFETY: the caller owns the frame, so no one else accesses its bytes; the slice made
        // here is only used to set the descriptor's length.
        unsafe { self.inner.data_mut(&mut desc) }
            .cursor()
            .set_pos(len);
        desc
    }

    /// The descriptor of frame `index` for the fill ring (its length is not read).
    pub(super) fn fill_desc(&self, index: u32) -> FrameDesc {
        self.descs[index as usize]
    }

    /// All `frame_size` bytes of frame `index`.
    ///
    /// # Safety
    /// The caller owns frame `index` and holds no mutable reference to its bytes.
    pub(super) unsafe fn frame_bytes(&self, index: u32) -> &[u8] {
        debug_assert!(index < self.count);
        // SAFETY: frame `index` < `count` lies inside the mapped region (`count * frame_size`
        // bytes from `base`, checked contiguous at creation) which `self.inner` keeps mapped;
        // the caller owns the frame, so neither the kernel nor another handle writes it.
        unsafe {
            std::slice::from_raw_parts(
                self.base.as_ptr().add(index as usize * self.frame_size),
                self.frame_size,
            )
        }
    }

    /// All `frame_size` bytes of frame `index`, writable.
    ///
    /// # Safety
    /// The caller owns frame `index` and holds no other reference to its bytes.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn frame_bytes_mut(&self, index: u32) -> &mut [u8] {
        debug_assert!(index < self.count);
        // SAFETY: as in `frame_bytes`; the caller's ownership makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.as_ptr().add(index as usize * self.frame_size),
                self.frame_size,
            )
        }
    }

    /// Take a port slot for a socket on `(iface, queue)` in the calling thread's network
    /// namespace; `None` if every slot is taken or that queue already has a socket here.
    pub(super) fn join(self: &Arc<Self>, iface: &str, queue: u32) -> Option<Member> {
        let netns = std::fs::metadata("/proc/thread-self/ns/net").ok()?.ino();
        let mut frames = self.lock();
        let key = (netns, iface.to_owned(), queue);
        if frames.members.iter().flatten().any(|m| *m == key) {
            return None;
        }
        let i = frames.members.iter().position(Option::is_none)?;
        frames.members[i] = Some(key);
        let slot = PortSlot(FIRST_PORT + u8::try_from(i).ok()?);
        Some(Member {
            umem: Arc::clone(self),
            slot,
        })
    }
}

/// A port's membership of a UMEM. Dropping it (after the port's socket is closed) puts the
/// frames left in that socket's rings back in the stock and frees the slot.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) umem: Arc<Umem>,
    pub(super) slot: PortSlot,
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut frames = self.umem.lock();
        let n = frames.reclaim(self.slot);
        frames.members[usize::from(self.slot.0 - FIRST_PORT)] = None;
        tracing::debug!(frames = n, "UMEM frames of a closed socket taken back");
    }
}

/// A UMEM the AF_XDP ports of one worker share (see the module documentation). Cheap to
/// clone; the memory goes when the last port, frame and clone using it do.
#[derive(Debug, Clone)]
pub struct SharedUmem(pub(super) Arc<Umem>);

impl SharedUmem {
    /// A UMEM for up to [`PORTS_PER_UMEM`] ports with rings of `ring_size` entries and frames
    /// of `frame_size` bytes (`PORTS_PER_UMEM * 2 * ring_size` frames), anchored in a private
    /// network namespace. Needs `CAP_SYS_ADMIN` (to make the namespace) and `CAP_NET_RAW`.
    pub fn new(ring_size: u32, frame_size: u32) -> Result<SharedUmem> {
        let count = ring_size
            .checked_mul(2 * PORTS_PER_UMEM as u32)
            .ok_or_else(|| PortError::Config(format!("ring size {ring_size}")))?;
        let umem = std::thread::scope(|s| {
            s.spawn(|| -> Result<Umem> {
                // SAFETY: unshare(2) with CLONE_NEWNET only moves the calling thread, a
                // short-lived one of our own, into a new network namespace.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                    return Err(PortError::io(
                        "unshare(CLONE_NEWNET) for a shared UMEM's anchor",
                        std::io::Error::last_os_error(),
                    ));
                }
                // Made here so that the UMEM's own socket belongs to the new namespace.
                let mut umem = Umem::create(frame_size, ring_size, count, PORTS_PER_UMEM)?;
                umem.anchor = Some(anchor(&umem)?);
                Ok(umem)
            })
            .join()
            .unwrap_or_else(|_| Err(PortError::Config("anchor thread panicked".into())))
        })?;
        Ok(SharedUmem(Arc::new(umem)))
    }

    /// Whether another port can join (a free slot).
    pub fn has_room(&self) -> bool {
        self.0.lock().members.iter().any(Option::is_none)
    }

    /// Frames in the stock (not in any ring, not held by a packet buffer).
    pub fn free_frames(&self) -> usize {
        self.0.lock().free()
    }

    /// Frames in the UMEM.
    pub fn frame_count(&self) -> usize {
        self.0.count as usize
    }

    /// A handle that does not keep the UMEM alive.
    pub fn downgrade(&self) -> WeakUmem {
        WeakUmem(Arc::downgrade(&self.0))
    }
}

/// A [`SharedUmem`] that may be gone.
#[derive(Debug, Clone)]
pub struct WeakUmem(std::sync::Weak<Umem>);

impl WeakUmem {
    /// The UMEM, if something still uses it.
    pub fn upgrade(&self) -> Option<SharedUmem> {
        self.0.upgrade().map(SharedUmem)
    }
}

/// Bind the anchor socket to `lo`, queue 0, of the calling thread's namespace: copy mode with
/// `need_wakeup`, no XDP program.
fn anchor(umem: &Umem) -> Result<Anchor> {
    let err = |reason: String| PortError::Xdp {
        iface: "lo (UMEM anchor)".into(),
        queue: 0,
        reason,
    };
    let config = SocketConfig::builder()
        .rx_queue_size(qsize(64)?)
        .tx_queue_size(qsize(64)?)
        .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
        .xdp_flags(XdpFlags::XDP_FLAGS_SKB_MODE)
        .bind_flags(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP)
        .build();
    let lo: Interface = "lo".parse().map_err(|_| err("interface name".into()))?;
    // SAFETY: this is the UMEM's first socket, so the UMEM is not yet shared; the program
    // load is inhibited anyway.
    let (tx, rx, rings) = unsafe { Socket::new(config, umem.xsk(), &lo, 0) }
        .map_err(|e| err(format!("socket: {e}: {:?}", std::error::Error::source(&e))))?;
    let (fill, comp) = rings.ok_or_else(|| err("no fill/completion ring".into()))?;
    Ok(Anchor {
        _rx: rx,
        _tx: tx,
        _fill: fill,
        _comp: comp,
    })
}

/// One UMEM frame owned by this process: the storage of a [`crate::PacketBuf`] that received
/// from, or will be sent by, an AF_XDP port. Not `Clone`; the frame goes back to the UMEM's
/// stock when this is dropped.
#[derive(Debug)]
pub struct UmemFrame {
    umem: Arc<Umem>,
    index: u32,
}

/// `index` of a [`UmemFrame`] whose frame was handed on (to a ring) rather than freed.
const GONE: u32 = u32::MAX;

impl UmemFrame {
    /// Wrap frame `index`, which the caller owns and hands over to the new handle.
    pub(super) fn new(umem: Arc<Umem>, index: u32) -> UmemFrame {
        UmemFrame { umem, index }
    }

    /// The frame's bytes (all of the UMEM frame; the packet is a window in it).
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: this handle owns frame `index` of `umem` (see `UmemFrame::new`), and the
        // shared borrow of the handle excludes a mutable one.
        unsafe { self.umem.frame_bytes(self.index) }
    }

    /// The frame's bytes, writable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: this handle owns frame `index`, and the exclusive borrow of the handle
        // excludes any other access through it.
        unsafe { self.umem.frame_bytes_mut(self.index) }
    }

    /// Whether the frame belongs to `umem`.
    pub(super) fn is_of(&self, umem: &Arc<Umem>) -> bool {
        Arc::ptr_eq(&self.umem, umem)
    }

    /// Swap the owned frame for `index` (which the caller owns and hands over); returns the
    /// previous one, now the caller's. Both are frames of this handle's UMEM.
    pub(super) fn exchange(&mut self, index: u32) -> u32 {
        std::mem::replace(&mut self.index, index)
    }

    /// Give up the handle without freeing its frame: the frame is the caller's now.
    pub(super) fn into_index(mut self) -> u32 {
        std::mem::replace(&mut self.index, GONE)
    }
}

impl Drop for UmemFrame {
    fn drop(&mut self) {
        if self.index != GONE {
            self.umem.lock().give(self.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_hands_out_and_takes_back() {
        let mut f = Frames::new(4, 2);
        let a = f.take().unwrap();
        let b = f.take().unwrap();
        assert_eq!((a, b), (0, 1));
        let port = PortSlot(FIRST_PORT);
        f.put_on_ring(a, port);
        f.put_on_ring(b, port);
        assert_eq!(f.free(), 2);
        f.took_off_ring(b, port);
        f.give(b);
        // Closing the port takes back what is still in its rings.
        assert_eq!(f.reclaim(port), 1);
        assert_eq!(f.free(), 4);
        assert_eq!(f.reclaim(port), 0);
        for _ in 0..4 {
            assert!(f.take().is_some());
        }
        assert!(f.take().is_none());
    }
}

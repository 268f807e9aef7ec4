//! The two XDP programs, assembled by hand (no clang at build time).
//!
//! - [`tx`]: run by `BPF_PROG_RUN` in live-frames mode on every generated frame; rewrites the
//!   frame from the template and returns `XDP_TX`, which the kernel turns into a transmit out
//!   of the interface the run names.
//! - [`rx`]: attached by the receive mode; counts every frame and the pktgen ones apart,
//!   measures latency from the sender's stamp, and drops (`XDP_DROP`).
//!
//! Both keep their state in a one-entry per-CPU array, so no atomic operations are needed.

use super::frame::{
    IP_CSUM_OFF, MARKER, MARKER_OFF, RESTORE_LEN, STAMP_OFF, Template, UDP_CSUM_OFF,
};
use super::insn::{Alu, Asm, Cond, Insn, R0, R1, R2, R3, R4, R6, R7, R8, R10, Reg, Size, helper};

const XDP_ABORTED: i32 = 0;
const XDP_DROP: i32 = 1;
const XDP_TX: i32 = 3;

/// Value of the sender's state map: the packet sequence number (u64) of this CPU.
pub const TX_STATE_SIZE: u32 = 8;

/// Field offsets of the receive map's value, all u64.
pub mod rx_field {
    /// Every frame seen.
    pub const PACKETS: i16 = 0;
    /// Their bytes.
    pub const BYTES: i16 = 8;
    /// Frames with the pktgen marker.
    pub const PKTGEN: i16 = 16;
    /// Frames with a usable timestamp.
    pub const LAT_COUNT: i16 = 24;
    /// Sum of their latencies, ns.
    pub const LAT_SUM: i16 = 32;
    /// Largest latency, ns.
    pub const LAT_MAX: i16 = 40;
    /// Smallest latency, ns (0: none yet).
    pub const LAT_MIN: i16 = 48;
}
/// Size of the receive map's value.
pub const RX_VALUE_SIZE: u32 = 56;

/// `*(u32 *)(fp - 4) = 0; r2 = fp - 4; r1 = map; call lookup` → R0 = value or NULL.
fn lookup_key0(a: &mut Asm, map_fd: i32) {
    a.store_imm(Size::W, R10, -4, 0);
    a.mov(R2, R10);
    a.alu_imm(Alu::Add, R2, -4);
    a.ld_map_fd(R1, map_fd);
    a.call(helper::MAP_LOOKUP_ELEM);
}

/// `reg = fold16(fold16(reg))`, using R2 as scratch: enough for a sum of up to 65537
/// 16-bit words.
fn fold(a: &mut Asm, reg: Reg) {
    for _ in 0..2 {
        a.mov(R2, reg);
        a.alu_imm(Alu::Rsh, R2, 16);
        a.alu_imm(Alu::And, reg, 0xffff);
        a.alu_reg(Alu::Add, reg, R2);
    }
}

/// The live-frames program for `t`. `state_fd` is the per-CPU sequence map (needed only
/// with more than one flow); `stamp` makes it write `bpf_ktime_get_ns()` into every frame.
///
/// It rewrites the first [`RESTORE_LEN`] bytes from the template every time rather than
/// trusting the page: live-frames pages are recycled without being re-initialised, and a
/// receiver may have rewritten them in place.
pub fn tx(t: &Template, state_fd: Option<i32>, stamp: bool) -> Vec<Insn> {
    let mut a = Asm::new();
    let abort = a.label();
    // R6 = data, bounds-checked for RESTORE_LEN bytes.
    a.load(Size::W, R2, R1, 0);
    a.load(Size::W, R3, R1, 4);
    a.mov(R4, R2);
    a.alu_imm(Alu::Add, R4, RESTORE_LEN as i32);
    a.jmp_reg(Cond::Gt, R4, R3, abort);
    a.mov(R6, R2);
    for (i, chunk) in t.bytes[..RESTORE_LEN].chunks_exact(8).enumerate() {
        a.ld_imm64(R0, u64::from_ne_bytes(chunk.try_into().expect("8 bytes")));
        a.store(Size::DW, R6, (i * 8) as i16, R0);
    }
    // R7 = flow field value = base + seq % flows.
    match state_fd {
        Some(fd) if t.flows > 1 => {
            lookup_key0(&mut a, fd);
            a.jmp_imm(Cond::Eq, R0, 0, abort);
            a.load(Size::DW, R7, R0, 0);
            a.mov(R1, R7);
            a.alu_imm(Alu::Add, R1, 1);
            a.store(Size::DW, R0, 0, R1);
            a.alu_imm(Alu::Mod, R7, t.flows as i32);
            a.alu_imm(Alu::Add, R7, i32::from(t.base));
        }
        _ => a.mov_imm(R7, i32::from(t.base)),
    }
    a.htobe16(R7);
    a.store(Size::H, R6, t.field_off as i16, R7);
    // R8 = sum of the stamp's 16-bit words.
    a.mov_imm(R8, 0);
    if stamp {
        a.call(helper::KTIME_GET_NS);
        a.store(Size::DW, R6, STAMP_OFF as i16, R0);
        for shift in [0, 16, 32, 48] {
            a.mov(R1, R0);
            a.alu_imm(Alu::Rsh, R1, shift);
            a.alu_imm(Alu::And, R1, 0xffff);
            a.alu_reg(Alu::Add, R8, R1);
        }
    }
    if t.field_in_ip {
        a.mov_imm(R1, i32::from(t.ip_partial));
        a.alu_reg(Alu::Add, R1, R7);
        fold(&mut a, R1);
        a.alu_imm(Alu::Xor, R1, 0xffff);
        a.store(Size::H, R6, IP_CSUM_OFF as i16, R1);
    }
    let store = a.label();
    a.mov_imm(R1, i32::from(t.udp_partial));
    a.alu_reg(Alu::Add, R1, R7);
    a.alu_reg(Alu::Add, R1, R8);
    fold(&mut a, R1);
    a.alu_imm(Alu::Xor, R1, 0xffff);
    a.jmp_imm(Cond::Ne, R1, 0, store);
    a.mov_imm(R1, 0xffff); // RFC 768: a computed zero is sent as all ones
    a.bind(store);
    a.store(Size::H, R6, UDP_CSUM_OFF as i16, R1);
    a.mov_imm(R0, XDP_TX);
    a.exit();
    a.bind(abort);
    a.mov_imm(R0, XDP_ABORTED);
    a.exit();
    a.finish()
}

/// `*(u64 *)(R7 + field) += src`.
fn add_field(a: &mut Asm, field: i16, src: Option<Reg>) {
    a.load(Size::DW, R1, R7, field);
    match src {
        Some(r) => a.alu_reg(Alu::Add, R1, r),
        None => a.alu_imm(Alu::Add, R1, 1),
    }
    a.store(Size::DW, R7, field, R1);
}

/// The receive program: counters in `stats_fd` (see [`rx_field`]), then `XDP_DROP`.
pub fn rx(stats_fd: i32) -> Vec<Insn> {
    use rx_field::*;
    let mut a = Asm::new();
    let drop = a.label();
    a.mov(R6, R1);
    lookup_key0(&mut a, stats_fd);
    a.jmp_imm(Cond::Eq, R0, 0, drop);
    a.mov(R7, R0);
    a.load(Size::W, R2, R6, 0);
    a.load(Size::W, R3, R6, 4);
    a.mov(R4, R3);
    a.alu_reg(Alu::Sub, R4, R2); // frame length (pointer difference, needs CAP_PERFMON)
    add_field(&mut a, PACKETS, None);
    add_field(&mut a, BYTES, Some(R4));
    // Marker and stamp in bounds?
    a.mov(R4, R2);
    a.alu_imm(Alu::Add, R4, (STAMP_OFF + 8) as i32);
    a.jmp_reg(Cond::Gt, R4, R3, drop);
    a.load(Size::W, R1, R2, MARKER_OFF as i16);
    a.jmp32_imm(Cond::Ne, R1, u32::from_ne_bytes(MARKER), drop);
    add_field(&mut a, PKTGEN, None);
    a.load(Size::DW, R8, R2, STAMP_OFF as i16);
    a.jmp_imm(Cond::Eq, R8, 0, drop);
    a.call(helper::KTIME_GET_NS);
    a.alu_reg(Alu::Sub, R0, R8);
    a.jmp_imm(Cond::Slt, R0, 0, drop); // a stamp from the future: not our clock
    add_field(&mut a, LAT_COUNT, None);
    add_field(&mut a, LAT_SUM, Some(R0));
    let min = a.label();
    a.load(Size::DW, R1, R7, LAT_MAX);
    a.jmp_reg(Cond::Ge, R1, R0, min);
    a.store(Size::DW, R7, LAT_MAX, R0);
    a.bind(min);
    let set_min = a.label();
    a.load(Size::DW, R1, R7, LAT_MIN);
    a.jmp_imm(Cond::Eq, R1, 0, set_min);
    a.jmp_reg(Cond::Le, R1, R0, drop);
    a.bind(set_min);
    a.store(Size::DW, R7, LAT_MIN, R0);
    a.bind(drop);
    a.mov_imm(R0, XDP_DROP);
    a.exit();
    a.finish()
}

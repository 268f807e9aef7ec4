//! A tiny eBPF assembler: instruction encoding and forward labels, enough for the two
//! hand-written XDP programs of [`super::progs`].
//!
//! The encoding is the kernel's (`include/uapi/linux/bpf.h`, `Documentation/bpf/standardization/
//! instruction-set.rst`): one 8-byte instruction is `opcode:8 dst:4 src:4 off:16 imm:32`, and
//! `lddw` (64-bit immediate load) takes two slots. Registers: `R0` return value and helper
//! result, `R1..R5` helper arguments (clobbered by calls), `R6..R9` callee-saved, `R10` the
//! read-only frame pointer.

/// One encoded eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// `dst` in the low nibble, `src` in the high one (little-endian bitfield layout).
    regs: u8,
    off: i16,
    imm: i32,
}

/// An eBPF register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reg(u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
/// The frame pointer (read-only; the stack grows down from it, 512 bytes).
pub const R10: Reg = Reg(10);

// Instruction classes.
const LD: u8 = 0x00;
const LDX: u8 = 0x01;
const ST: u8 = 0x02;
const STX: u8 = 0x03;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const JMP32: u8 = 0x06;
const ALU64: u8 = 0x07;
// Sizes and modes of loads and stores.
const MEM: u8 = 0x60;
const IMM: u8 = 0x00;
// Source operand of ALU and jump instructions.
const K: u8 = 0x00;
const X: u8 = 0x08;

/// Access width of a load or store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// 4 bytes.
    W = 0x00,
    /// 2 bytes.
    H = 0x08,
    /// 8 bytes.
    DW = 0x18,
}

/// ALU operations (64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alu {
    Add = 0x00,
    Sub = 0x10,
    And = 0x50,
    Rsh = 0x70,
    Mod = 0x90,
    Xor = 0xa0,
    Mov = 0xb0,
}

/// Conditional jump operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// `==`
    Eq = 0x10,
    /// unsigned `>`
    Gt = 0x20,
    /// unsigned `>=`
    Ge = 0x30,
    /// `!=`
    Ne = 0x50,
    /// unsigned `<=`
    Le = 0xb0,
    /// signed `<`
    Slt = 0xc0,
}

/// Helper function ids (`enum bpf_func_id`).
pub mod helper {
    /// `void *bpf_map_lookup_elem(map, key)`
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    /// `u64 bpf_ktime_get_ns(void)`: CLOCK_MONOTONIC in nanoseconds.
    pub const KTIME_GET_NS: i32 = 5;
}

/// `src` of an `lddw` whose immediate is a map file descriptor (`BPF_PSEUDO_MAP_FD`).
const PSEUDO_MAP_FD: u8 = 1;

/// A jump target, bound once with [`Asm::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// An instruction sequence under construction.
#[derive(Debug, Default)]
pub struct Asm {
    insns: Vec<Insn>,
    /// Where each label is bound (instruction index), once bound.
    labels: Vec<Option<usize>>,
    /// Jumps to patch: (instruction index, label).
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }

    fn push(&mut self, code: u8, dst: Reg, src: Reg, off: i16, imm: i32) {
        self.insns.push(Insn {
            code,
            regs: (src.0 << 4) | dst.0,
            off,
            imm,
        });
    }

    /// A new, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Bind `label` to the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    /// `dst op= imm` (64-bit).
    pub fn alu_imm(&mut self, op: Alu, dst: Reg, imm: i32) {
        self.push(ALU64 | op as u8 | K, dst, R0, 0, imm);
    }

    /// `dst op= src` (64-bit).
    pub fn alu_reg(&mut self, op: Alu, dst: Reg, src: Reg) {
        self.push(ALU64 | op as u8 | X, dst, src, 0, 0);
    }

    /// `dst = imm` (sign-extended to 64 bits).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.alu_imm(Alu::Mov, dst, imm);
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.alu_reg(Alu::Mov, dst, src);
    }

    /// `dst = htobe16(dst)` (upper bits cleared).
    pub fn htobe16(&mut self, dst: Reg) {
        // BPF_ALU | BPF_END | BPF_TO_BE
        self.push(ALU | 0xd0 | 0x08, dst, R0, 0, 16);
    }

    /// `dst = imm` for a full 64-bit immediate (two slots).
    pub fn ld_imm64(&mut self, dst: Reg, imm: u64) {
        self.push(LD | Size::DW as u8 | IMM, dst, R0, 0, imm as u32 as i32);
        self.push(0, R0, R0, 0, (imm >> 32) as u32 as i32);
    }

    /// `dst = the map whose descriptor is fd` (two slots; the verifier turns the descriptor
    /// into the map's address).
    pub fn ld_map_fd(&mut self, dst: Reg, fd: i32) {
        self.push(LD | Size::DW as u8 | IMM, dst, Reg(PSEUDO_MAP_FD), 0, fd);
        self.push(0, R0, R0, 0, 0);
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.push(LDX | size as u8 | MEM, dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) {
        self.push(STX | size as u8 | MEM, dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) {
        self.push(ST | size as u8 | MEM, dst, R0, off, imm);
    }

    /// `if dst cond src goto label` (64-bit compare).
    pub fn jmp_reg(&mut self, cond: Cond, dst: Reg, src: Reg, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP | cond as u8 | X, dst, src, 0, 0);
    }

    /// `if dst cond imm goto label` (64-bit compare, `imm` sign-extended).
    pub fn jmp_imm(&mut self, cond: Cond, dst: Reg, imm: i32, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP | cond as u8 | K, dst, R0, 0, imm);
    }

    /// `if (u32)dst cond (u32)imm goto label`.
    pub fn jmp32_imm(&mut self, cond: Cond, dst: Reg, imm: u32, label: Label) {
        self.fixups.push((self.insns.len(), label));
        self.push(JMP32 | cond as u8 | K, dst, R0, 0, imm as i32);
    }

    /// Call helper `id` (arguments in R1..R5, result in R0, R1..R5 clobbered).
    pub fn call(&mut self, id: i32) {
        self.push(JMP | 0x80, R0, R0, 0, id);
    }

    /// Return R0.
    pub fn exit(&mut self) {
        self.push(JMP | 0x90, R0, R0, 0, 0);
    }

    /// The finished program. Panics if a jump targets an unbound label or is out of range,
    /// which is a bug in the program generator, not an input error.
    pub fn finish(mut self) -> Vec<Insn> {
        for &(at, label) in &self.fixups {
            let target = self.labels[label.0].expect("jump to an unbound label");
            let off = target as isize - at as isize - 1;
            self.insns[at].off = i16::try_from(off).expect("jump out of range");
        }
        self.insns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kernel_headers() {
        let mut a = Asm::new();
        let out = a.label();
        a.load(Size::W, R2, R1, 4); // r2 = *(u32 *)(r1 + 4)
        a.jmp_imm(Cond::Eq, R2, 0, out);
        a.ld_imm64(R3, 0x1122_3344_5566_7788);
        a.bind(out);
        a.mov_imm(R0, 3);
        a.exit();
        let p = a.finish();
        assert_eq!(p.len(), 6);
        assert_eq!(
            p[0],
            Insn {
                code: 0x61,
                regs: 0x12,
                off: 4,
                imm: 0
            }
        );
        // Jump over the two lddw slots.
        assert_eq!(
            p[1],
            Insn {
                code: 0x15,
                regs: 0x02,
                off: 2,
                imm: 0
            }
        );
        assert_eq!(
            p[2],
            Insn {
                code: 0x18,
                regs: 0x03,
                off: 0,
                imm: 0x5566_7788
            }
        );
        assert_eq!(
            p[3],
            Insn {
                code: 0x00,
                regs: 0x00,
                off: 0,
                imm: 0x1122_3344
            }
        );
        assert_eq!(
            p[4],
            Insn {
                code: 0xb7,
                regs: 0x00,
                off: 0,
                imm: 3
            }
        );
        assert_eq!(
            p[5],
            Insn {
                code: 0x95,
                regs: 0x00,
                off: 0,
                imm: 0
            }
        );
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}

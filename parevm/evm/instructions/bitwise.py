"""Comparisons, bitwise logic, shifts (EIP-145) and CLZ (EIP-7939)."""
from __future__ import annotations

from parevm.evm.instructions import instruction
from parevm.evm.instructions.arithmetic import M, SIGN, signed


@instruction(0x10, "LT")
def lt(f, s, pc):
    a = s.pop()
    s[-1] = 1 if a < s[-1] else 0
    return pc + 1


@instruction(0x11, "GT")
def gt(f, s, pc):
    a = s.pop()
    s[-1] = 1 if a > s[-1] else 0
    return pc + 1


@instruction(0x12, "SLT")
def slt(f, s, pc):
    a = signed(s.pop())
    s[-1] = 1 if a < signed(s[-1]) else 0
    return pc + 1


@instruction(0x13, "SGT")
def sgt(f, s, pc):
    a = signed(s.pop())
    s[-1] = 1 if a > signed(s[-1]) else 0
    return pc + 1


@instruction(0x14, "EQ")
def eq(f, s, pc):
    a = s.pop()
    s[-1] = 1 if a == s[-1] else 0
    return pc + 1


@instruction(0x15, "ISZERO")
def iszero(f, s, pc):
    s[-1] = 0 if s[-1] else 1
    return pc + 1


@instruction(0x16, "AND")
def and_(f, s, pc):
    a = s.pop()
    s[-1] &= a
    return pc + 1


@instruction(0x17, "OR")
def or_(f, s, pc):
    a = s.pop()
    s[-1] |= a
    return pc + 1


@instruction(0x18, "XOR")
def xor(f, s, pc):
    a = s.pop()
    s[-1] ^= a
    return pc + 1


@instruction(0x19, "NOT")
def not_(f, s, pc):
    s[-1] ^= M
    return pc + 1


@instruction(0x1A, "BYTE")
def byte(f, s, pc):
    i = s.pop()
    s[-1] = (s[-1] >> (248 - (i << 3))) & 0xFF if i < 32 else 0
    return pc + 1


@instruction(0x1B, "SHL")
def shl(f, s, pc):
    shift = s.pop()
    s[-1] = (s[-1] << shift) & M if shift < 256 else 0
    return pc + 1


@instruction(0x1C, "SHR")
def shr(f, s, pc):
    shift = s.pop()
    s[-1] = s[-1] >> shift if shift < 256 else 0
    return pc + 1


@instruction(0x1D, "SAR")
def sar(f, s, pc):
    shift = s.pop()
    value = s[-1]
    if value & SIGN:
        s[-1] = ((value - (1 << 256)) >> shift) & M if shift < 256 else M
    else:
        s[-1] = value >> shift if shift < 256 else 0
    return pc + 1


@instruction(0x1E, "CLZ")
def clz(f, s, pc):
    s[-1] = 256 - s[-1].bit_length()
    return pc + 1

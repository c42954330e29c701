"""ADD ... SIGNEXTEND, EXP: 256-bit arithmetic on Python ints, masked only where results can overflow."""
from __future__ import annotations

from parevm.evm.gas import charge
from parevm.evm.instructions import instruction

M = (1 << 256) - 1
SIGN = 1 << 255
TWO256 = 1 << 256


def signed(x: int) -> int:
    return x - TWO256 if x & SIGN else x


@instruction(0x01, "ADD")
def add(f, s, pc):
    a = s.pop()
    s[-1] = (a + s[-1]) & M
    return pc + 1


@instruction(0x02, "MUL")
def mul(f, s, pc):
    a = s.pop()
    s[-1] = (a * s[-1]) & M
    return pc + 1


@instruction(0x03, "SUB")
def sub(f, s, pc):
    a = s.pop()
    s[-1] = (a - s[-1]) & M
    return pc + 1


@instruction(0x04, "DIV")
def div(f, s, pc):
    a = s.pop()
    b = s[-1]
    s[-1] = a // b if b else 0
    return pc + 1


@instruction(0x05, "SDIV")
def sdiv(f, s, pc):
    a = signed(s.pop())
    b = signed(s[-1])
    if b == 0:
        s[-1] = 0
    else:
        q = abs(a) // abs(b)
        s[-1] = (-q if (a < 0) != (b < 0) else q) & M
    return pc + 1


@instruction(0x06, "MOD")
def mod(f, s, pc):
    a = s.pop()
    b = s[-1]
    s[-1] = a % b if b else 0
    return pc + 1


@instruction(0x07, "SMOD")
def smod(f, s, pc):
    a = signed(s.pop())
    b = signed(s[-1])
    if b == 0:
        s[-1] = 0
    else:
        r = abs(a) % abs(b)
        s[-1] = (-r if a < 0 else r) & M
    return pc + 1


@instruction(0x08, "ADDMOD")
def addmod(f, s, pc):
    a = s.pop()
    b = s.pop()
    n = s[-1]
    s[-1] = (a + b) % n if n else 0
    return pc + 1


@instruction(0x09, "MULMOD")
def mulmod(f, s, pc):
    a = s.pop()
    b = s.pop()
    n = s[-1]
    s[-1] = (a * b) % n if n else 0
    return pc + 1


@instruction(0x0A, "EXP")
def exp(f, s, pc):
    base = s.pop()
    exponent = s[-1]
    if exponent:
        # 10 gas per exponent byte before Spurious Dragon (EIP-160 made it 50)
        charge(f, (50 if f.ctx.fork.eip158 else 10) * ((exponent.bit_length() + 7) >> 3))
        s[-1] = pow(base, exponent, TWO256)
    else:
        s[-1] = 1
    return pc + 1


@instruction(0x0B, "SIGNEXTEND")
def signextend(f, s, pc):
    b = s.pop()
    x = s[-1]
    if b < 31:
        bit = (b << 3) + 7
        low = x & ((1 << bit) - 1)
        s[-1] = (low | (M ^ ((1 << bit) - 1))) if (x >> bit) & 1 else low
    return pc + 1

"""POP, PUSH0, DUP1-16, SWAP1-16. PUSH1-32 are specialised per code site by the analysis."""
from __future__ import annotations

from parevm.evm.instructions import instruction


@instruction(0x50, "POP")
def pop(f, s, pc):
    s.pop()
    return pc + 1


@instruction(0x5F, "PUSH0")
def push0(f, s, pc):
    s.append(0)
    return pc + 1


def _make_dup(n: int):
    def dup(f, s, pc):
        s.append(s[-n])
        return pc + 1
    dup.__name__ = f"dup{n}"
    return dup


def _make_swap(n: int):
    index = -n - 1

    def swap(f, s, pc):
        s[-1], s[index] = s[index], s[-1]
        return pc + 1
    swap.__name__ = f"swap{n}"
    return swap


for _n in range(1, 17):
    instruction(0x7F + _n, f"DUP{_n}")(_make_dup(_n))
    instruction(0x8F + _n, f"SWAP{_n}")(_make_swap(_n))


def make_push(value: int, next_pc: int):
    """PUSHn at one code site: its immediate decoded once, at analysis time."""
    def push(f, s, pc):
        s.append(value)
        return next_pc
    return push


def _make_generic_push(size: int):
    """PUSHn decoding its immediate at run time; the table entry the analysis specialises per site."""
    def push(f, s, pc):
        immediate = f.code.bytes[pc + 1:pc + 1 + size]
        s.append(int.from_bytes(immediate, "big") << (8 * (size - len(immediate))))
        return pc + 1 + size
    return push


for _n in range(1, 33):
    instruction(0x5F + _n, f"PUSH{_n}")(_make_generic_push(_n))

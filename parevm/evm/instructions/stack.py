"""POP, PUSH0, PUSH1-32, DUP1-16, SWAP1-16."""
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


def _make_push(size: int):
    """PUSHn: the analysis decodes the immediate into `args` when it decodes the block."""
    def push(f, s, pc):
        s.append(f.args[pc])
        return pc + 1 + size
    push.__name__ = f"push{size}"
    return push


for _n in range(1, 33):
    instruction(0x5F + _n, f"PUSH{_n}")(_make_push(_n))

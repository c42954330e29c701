"""LOG0-LOG4."""
from __future__ import annotations

from parevm.evm.frame import StaticViolation
from parevm.evm.gas import LOG_DATA_BYTE, charge, expand_memory
from parevm.evm.instructions import instruction
from parevm.primitives import Log


def _make_log(n: int):
    def log(f, s, pc):
        offset = s.pop()
        size = s.pop()
        topics = tuple([s.pop().to_bytes(32, "big") for _ in range(n)])  # (a list first: no generator)
        charge(f, LOG_DATA_BYTE * size)
        expand_memory(f, offset, size)
        if f.is_static:
            raise StaticViolation("LOG in static context")
        f.ctx.logs.append(Log(f.address, topics, bytes(f.memory[offset:offset + size])))
        return pc + 1
    log.__name__ = f"log{n}"
    return log


for _n in range(5):
    instruction(0xA0 + _n, f"LOG{_n}")(_make_log(_n))

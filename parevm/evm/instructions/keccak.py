"""KECCAK256."""
from __future__ import annotations

from parevm.crypto import keccak256
from parevm.evm.gas import KECCAK_WORD, charge, expand_memory
from parevm.evm.instructions import instruction


@instruction(0x20, "KECCAK256")
def keccak(f, s, pc):
    offset = s.pop()
    size = s[-1]
    charge(f, KECCAK_WORD * ((size + 31) >> 5))
    expand_memory(f, offset, size)
    s[-1] = int.from_bytes(keccak256(f.memory[offset:offset + size]), "big")
    return pc + 1

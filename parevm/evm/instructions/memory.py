"""MLOAD, MSTORE, MSTORE8, MSIZE, MCOPY (EIP-5656)."""
from __future__ import annotations

from parevm.evm.gas import COPY_WORD, charge, expand_memory
from parevm.evm.instructions import instruction


@instruction(0x51, "MLOAD")
def mload(f, s, pc):
    offset = s[-1]
    memory = f.memory
    if offset + 32 > len(memory):
        expand_memory(f, offset, 32)
    s[-1] = int.from_bytes(memory[offset:offset + 32], "big")
    return pc + 1


@instruction(0x52, "MSTORE")
def mstore(f, s, pc):
    offset = s.pop()
    value = s.pop()
    memory = f.memory
    if offset + 32 > len(memory):
        expand_memory(f, offset, 32)
    memory[offset:offset + 32] = value.to_bytes(32, "big")
    return pc + 1


@instruction(0x53, "MSTORE8")
def mstore8(f, s, pc):
    offset = s.pop()
    value = s.pop()
    memory = f.memory
    if offset >= len(memory):
        expand_memory(f, offset, 1)
    memory[offset] = value & 0xFF
    return pc + 1


@instruction(0x59, "MSIZE")
def msize(f, s, pc):
    s.append(len(f.memory))
    return pc + 1


@instruction(0x5E, "MCOPY")
def mcopy(f, s, pc):
    dest = s.pop()
    src = s.pop()
    size = s.pop()
    if size:
        charge(f, COPY_WORD * ((size + 31) >> 5))
        expand_memory(f, max(dest, src), size)
        memory = f.memory
        memory[dest:dest + size] = memory[src:src + size]
    return pc + 1

"""Control flow: STOP, JUMP, JUMPI, PC, GAS, JUMPDEST, RETURN, REVERT, INVALID.

The analysis installs its own JUMPDEST and JUMPI handlers (`parevm.evm.analysis`): entering a
basic block charges that block's static gas and checks the stack has room for its growth.
"""
from __future__ import annotations

from parevm.evm.frame import REVERT, STOP, InvalidJump, InvalidOpcode, StackOverflow
from parevm.evm.gas import expand_memory
from parevm.evm.instructions import instruction

_STACK_OVERFLOW = StackOverflow()
_INVALID_JUMP = InvalidJump()


@instruction(0x00, "STOP")
def stop(f, s, pc):
    raise STOP


@instruction(0x56, "JUMP")
def jump(f, s, pc):
    dest = s.pop()
    if dest not in f.jumpdests:
        raise _INVALID_JUMP
    return dest


@instruction(0x58, "PC")
def pc_(f, s, pc):
    s.append(pc)
    return pc + 1


@instruction(0x5A, "GAS")
def gas(f, s, pc):
    # the rest of this block's static gas was charged in advance; it is still "left" here
    s.append(f.gas + f.args[pc])
    return pc + 1


def _set_output(f, s) -> None:
    """RETURN and REVERT: the memory range on the stack becomes the frame's output."""
    offset = s.pop()
    size = s.pop()
    expand_memory(f, offset, size)
    f.output = bytes(f.memory[offset:offset + size])


@instruction(0xF3, "RETURN")
def return_(f, s, pc):
    _set_output(f, s)
    raise STOP


@instruction(0xFD, "REVERT")
def revert(f, s, pc):
    _set_output(f, s)
    raise REVERT


@instruction(0xFE, "INVALID")
def invalid(f, s, pc):
    raise InvalidOpcode(f.code.bytes[pc] if pc < len(f.code.bytes) else 0)


@instruction(0x5B, "JUMPDEST")
def jumpdest(f, s, pc):
    """Table entry only: the analysis installs a block entry (gas, stack room) at every JUMPDEST."""
    return pc + 1


@instruction(0x57, "JUMPI")
def jumpi(f, s, pc):
    """Table entry only: the analysis installs a JUMPI that charges the block it falls into."""
    raise AssertionError("JUMPI runs through the analysis' handler")

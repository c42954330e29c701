"""Control flow: STOP, JUMP, JUMPI, PC, GAS, JUMPDEST, RETURN, REVERT, INVALID.

JUMPDEST and JUMPI are specialised per code site (`parevm.evm.analysis`, `make_jumpi`): entering a
basic block charges that block's static gas and checks the stack has room for its growth.
"""
from __future__ import annotations

from parevm.evm.frame import OUT_OF_GAS, REVERT, STOP, InvalidJump, InvalidOpcode, StackOverflow
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


def make_jumpi(fallthrough_cost: int, fallthrough_limit: int):
    """JUMPI at one site; falling through enters the next block, whose cost is charged here."""
    def jumpi(f, s, pc):
        dest = s.pop()
        if s.pop():
            if dest not in f.jumpdests:
                raise _INVALID_JUMP
            return dest
        if fallthrough_cost:
            gas = f.gas - fallthrough_cost
            if gas < 0:
                raise OUT_OF_GAS
            f.gas = gas
        if len(s) > fallthrough_limit:
            raise _STACK_OVERFLOW
        return pc + 1
    return jumpi


@instruction(0x58, "PC")
def pc_(f, s, pc):
    s.append(pc)
    return pc + 1


@instruction(0x5A, "GAS")
def gas(f, s, pc):
    # the rest of this block's static gas was charged in advance; it is still "left" here
    s.append(f.gas + f.after[pc])
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


# Table entry; the analysis installs a per-site JUMPI that knows the block it falls into.
instruction(0x57, "JUMPI")(make_jumpi(0, 1024))

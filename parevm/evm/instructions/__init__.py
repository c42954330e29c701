"""EVM instructions, grouped by kind as in the execution specs.

Every handler has the signature ``handler(frame, stack, pc) -> next_pc``. Static gas is not
charged by handlers: the analysis charges a whole basic block's static gas when the block is
entered (see `parevm.evm.analysis`). Handlers charge only dynamic gas (memory, copies, cold
accesses, ...). A pop from an empty stack raises IndexError, which the interpreter treats as
the exceptional halt "stack underflow".
"""
from __future__ import annotations

from typing import Callable

Handler = Callable[..., int]

# mnemonic -> (opcode, handler)
INSTRUCTIONS: dict[str, tuple[int, Handler]] = {}


def instruction(opcode: int, name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        INSTRUCTIONS[name] = (opcode, handler)
        return handler
    return register


def _load_all() -> None:
    from parevm.evm.instructions import (  # noqa: F401  (modules register on import)
        arithmetic, bitwise, block, control, environment, keccak, log, memory, stack, storage, system)


_load_all()

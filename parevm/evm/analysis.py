"""Code analysis, done once per (code, fork), lazily, and cached on the `Code` object.

The result is the code *decoded* into a list of handlers indexed by pc, so the dispatch loop is
just ``pc = ops[pc](frame, stack, pc)``:

* PUSH immediates are decoded into per-site closures;
* code is split into basic blocks (entered at pc 0, at each JUMPDEST and after each JUMPI); the
  block's total static gas is charged and its stack room checked once, on entry. Charging a
  block in advance changes nothing observable: any failure inside a block is an exceptional
  halt, which consumes all gas and reverts the frame wherever it happens. The few instructions
  that observe remaining gas (GAS, CALL*, CREATE*, SSTORE's sentry) add back `after[pc]`, the
  static gas of the block's instructions after them.
"""
from __future__ import annotations

import re

from parevm.evm.forks import Fork
from parevm.evm.frame import STACK_LIMIT
from parevm.evm.instructions import INSTRUCTIONS
from parevm.evm.compiler import compile_block
from parevm.evm.frame import OUT_OF_GAS
from parevm.evm.instructions.control import _STACK_OVERFLOW, invalid, make_jumpi
from parevm.evm.instructions.stack import make_push
from parevm.state.code import Code

JUMPDEST, JUMPI, JUMP = 0x5B, 0x57, 0x56
HOT_BLOCK_ENTRIES = 16  # a JUMPDEST block entered this often is compiled (see parevm.evm.compiler)
_BLOCK_ENDERS = {0x00, 0x56, 0x57, 0xF3, 0xFD, 0xFE, 0xFF}  # STOP JUMP JUMPI RETURN REVERT INVALID SELFDESTRUCT

# (inputs, outputs) of each mnemonic that is not PUSH/DUP/SWAP
_STACK = {
    "STOP": (0, 0), "ADD": (2, 1), "MUL": (2, 1), "SUB": (2, 1), "DIV": (2, 1), "SDIV": (2, 1), "MOD": (2, 1),
    "SMOD": (2, 1), "ADDMOD": (3, 1), "MULMOD": (3, 1), "EXP": (2, 1), "SIGNEXTEND": (2, 1),
    "LT": (2, 1), "GT": (2, 1), "SLT": (2, 1), "SGT": (2, 1), "EQ": (2, 1), "ISZERO": (1, 1), "AND": (2, 1),
    "OR": (2, 1), "XOR": (2, 1), "NOT": (1, 1), "BYTE": (2, 1), "SHL": (2, 1), "SHR": (2, 1), "SAR": (2, 1),
    "CLZ": (1, 1), "KECCAK256": (2, 1),
    "ADDRESS": (0, 1), "BALANCE": (1, 1), "ORIGIN": (0, 1), "CALLER": (0, 1), "CALLVALUE": (0, 1),
    "CALLDATALOAD": (1, 1), "CALLDATASIZE": (0, 1), "CALLDATACOPY": (3, 0), "CODESIZE": (0, 1),
    "CODECOPY": (3, 0), "GASPRICE": (0, 1), "EXTCODESIZE": (1, 1), "EXTCODECOPY": (4, 0),
    "RETURNDATASIZE": (0, 1), "RETURNDATACOPY": (3, 0), "EXTCODEHASH": (1, 1),
    "BLOCKHASH": (1, 1), "COINBASE": (0, 1), "TIMESTAMP": (0, 1), "NUMBER": (0, 1), "DIFFICULTY": (0, 1),
    "PREVRANDAO": (0, 1), "GASLIMIT": (0, 1), "CHAINID": (0, 1), "SELFBALANCE": (0, 1), "BASEFEE": (0, 1),
    "BLOBHASH": (1, 1), "BLOBBASEFEE": (0, 1),
    "POP": (1, 0), "MLOAD": (1, 1), "MSTORE": (2, 0), "MSTORE8": (2, 0), "SLOAD": (1, 1), "SSTORE": (2, 0),
    "JUMP": (1, 0), "JUMPI": (2, 0), "PC": (0, 1), "MSIZE": (0, 1), "GAS": (0, 1), "JUMPDEST": (0, 0),
    "TLOAD": (1, 1), "TSTORE": (2, 0), "MCOPY": (3, 0), "PUSH0": (0, 1),
    "LOG0": (2, 0), "LOG1": (3, 0), "LOG2": (4, 0), "LOG3": (5, 0), "LOG4": (6, 0),
    "CREATE": (3, 1), "CALL": (7, 1), "CALLCODE": (7, 1), "RETURN": (2, 0), "DELEGATECALL": (6, 1),
    "CREATE2": (4, 1), "STATICCALL": (6, 1), "REVERT": (2, 0), "INVALID": (0, 0), "SELFDESTRUCT": (1, 0),
}
for _n in range(1, 33):
    _STACK[f"PUSH{_n}"] = (0, 1)
for _n in range(1, 17):
    _STACK[f"DUP{_n}"] = (_n, _n + 1)
    _STACK[f"SWAP{_n}"] = (_n + 1, _n + 1)


class ForkTable:
    """A fork's 256-entry opcode table: handler, static gas and net stack growth per opcode."""

    __slots__ = ("handlers", "gas", "growth", "names")

    def __init__(self, fork: Fork) -> None:
        self.handlers = [invalid] * 256
        self.gas = [0] * 256
        self.growth = [0] * 256
        self.names: list[str | None] = [None] * 256
        for name, static_gas in fork.opcode_gas.items():
            opcode, handler = INSTRUCTIONS[name]
            self.handlers[opcode] = handler
            self.gas[opcode] = static_gas
            inputs, outputs = _STACK[name]
            self.growth[opcode] = outputs - inputs
            self.names[opcode] = name


_TABLES: dict[str, ForkTable] = {}


def fork_table(fork: Fork) -> ForkTable:
    table = _TABLES.get(fork.name)
    if table is None:
        table = _TABLES[fork.name] = ForkTable(fork)
    return table


class Analysis:
    """The decoded form of one code under one fork, filled in lazily one basic block at a time.

    Only the jump destinations are found up front (one pass over the code, at C speed). Every
    other entry of `ops` starts as `_decode`, which decodes the basic block beginning there on
    first entry, so a 24 KB contract of which a call runs a few hundred instructions costs a few
    hundred decodes."""

    __slots__ = ("code", "table", "ops", "jumpdests", "after", "entry_cost", "entry_limit", "_blocks")

    def __init__(self, code: bytes, table: ForkTable) -> None:
        n = len(code)
        self.code = code
        self.table = table
        self.jumpdests = _jump_destinations(code)
        self.after = [0] * (n + 33)
        # running off the end is STOP; a PUSH truncated by the end of code jumps up to 32 bytes past it
        self.ops: list = [self._decode] * n + [INSTRUCTIONS["STOP"][1]] * 33
        self._blocks: dict[int, tuple[int, int, list[int]]] = {}
        if n and code[0] != JUMPDEST:
            self.entry_cost, self.entry_limit, _ = self._block(0)
        else:
            self.entry_cost, self.entry_limit = 0, STACK_LIMIT

    def _block(self, start: int) -> tuple[int, int, list[int]]:
        """(static gas, stack limit at entry, instruction offsets) of the basic block at `start`."""
        block = self._blocks.get(start)
        if block is not None:
            return block
        code = self.code
        n = len(code)
        static_gas, growth, handlers = self.table.gas, self.table.growth, self.table.handlers
        pcs = []
        cost = height = max_height = 0
        pc = start
        while pc < n:
            op = code[pc]
            if pcs and op == JUMPDEST:
                break
            pcs.append(pc)
            cost += static_gas[op]
            height += growth[op]
            if height > max_height:
                max_height = height
            if op in _BLOCK_ENDERS or handlers[op] is invalid:
                break
            pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
        block = self._blocks[start] = (cost, STACK_LIMIT - max_height, pcs)
        return block

    def _decode(self, f, s, pc: int) -> int:
        """First entry into the block at `pc`: decode it, then run its first instruction."""
        self._fill(pc)
        return self.ops[pc](f, s, pc)

    def _fill(self, start: int) -> None:
        """Put the per-instruction handlers of the block at `start` into `ops`."""
        code = self.code
        n = len(code)
        ops, after, handlers, static_gas = self.ops, self.after, self.table.handlers, self.table.gas
        cost, limit, pcs = self._block(start)
        remaining = cost
        for at in pcs:
            op = code[at]
            remaining -= static_gas[op]
            after[at] = remaining
            if 0x60 <= op <= 0x7F:
                size = op - 0x5F
                immediate = code[at + 1:at + 1 + size]
                ops[at] = make_push(int.from_bytes(immediate, "big") << (8 * (size - len(immediate))),
                                    at + 1 + size)
            elif op == JUMPDEST:
                ops[at] = self._block_entry(at, cost, limit)
            elif op == JUMPI:
                ops[at] = make_jumpi(*self._fallthrough(at))
            else:
                ops[at] = handlers[op]

    def _fallthrough(self, jumpi_pc: int) -> tuple[int, int]:
        """(gas, stack limit) a JUMPI charges when it falls through into the next block."""
        nxt = jumpi_pc + 1
        if nxt < len(self.code) and self.code[nxt] != JUMPDEST:
            cost, limit, _ = self._block(nxt)
            return cost, limit
        return 0, STACK_LIMIT

    def _block_entry(self, start: int, cost: int, limit: int):
        """JUMPDEST at `start`: charge the block, and compile it once it is hot."""
        countdown = [HOT_BLOCK_ENTRIES]

        def jumpdest(f, s, pc):
            gas = f.gas - cost
            if gas < 0:
                raise OUT_OF_GAS
            f.gas = gas
            if len(s) > limit:
                raise _STACK_OVERFLOW
            countdown[0] -= 1
            if not countdown[0]:
                self._compile(start)
            return pc + 1
        return jumpdest

    def _compile(self, start: int) -> None:
        """Replace the hot block at `start` (and the block its JUMPI falls into) by compiled code."""
        code = self.code
        names = self.table.names
        cost, limit, pcs = self._block(start)
        last = pcs[-1]
        fallthrough = self._fallthrough(last) if code[last] == JUMPI else None
        self.ops[start] = compile_block(code, pcs, names, self.ops, (cost, limit), fallthrough, self.jumpdests)
        nxt = last + 1
        if fallthrough is not None and nxt < len(code) and code[nxt] != JUMPDEST:
            self._fill(nxt)
            _, _, next_pcs = self._block(nxt)
            next_last = next_pcs[-1]
            next_fallthrough = self._fallthrough(next_last) if code[next_last] == JUMPI else None
            self.ops[nxt] = compile_block(code, next_pcs, names, self.ops, None, next_fallthrough,
                                          self.jumpdests)


# One match per JUMPDEST instruction: the possessive loop steps over whole instructions (a run of
# one-byte ones, or a PUSH with its immediate) and cannot restart inside an immediate, so a 0x5B in
# PUSH data is never matched. Twice as fast as stepping through the code in Python.
_UP_TO_JUMPDEST = re.compile(
    rb"(?:[^\x5b\x60-\x7f]++|"
    + b"|".join(b"\\x%02x[\\s\\S]{%d}" % (0x5F + size, size) for size in range(1, 33))
    + rb")*+\x5b")
# Zero bytes cover a PUSH truncated by the end of code; the final JUMPDEST gives the last search a
# place to end (it is past the code, so not a destination).
_SENTINEL = bytes(32) + b"\x5b"


def _jump_destinations(code: bytes) -> frozenset[int]:
    """Offsets of JUMPDEST bytes that are instructions, not PUSH data."""
    if b"\x5b" not in code:
        return frozenset()
    ends = [match.end() for match in _UP_TO_JUMPDEST.finditer(code + _SENTINEL)]
    ends.pop()  # the sentinel
    return frozenset([end - 1 for end in ends])


def analyze(code: Code, fork: Fork) -> Analysis:
    """The decoded form of `code` under `fork` (cached on the code object)."""
    analysis = code.analyses.get(fork.name)
    if analysis is None:
        analysis = code.analyses[fork.name] = Analysis(code.bytes, fork_table(fork))
    return analysis

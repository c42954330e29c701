"""Code analysis, done once per (code, fork), lazily, and cached on the `Code` object.

The result is the code *decoded* into a list of handlers indexed by pc, so the dispatch loop is
just ``pc = ops[pc](frame, stack, pc)``; what a handler needs from its code site is in
``args[pc]`` (a PUSH's value, for instance).

Code is split into basic blocks (entered at pc 0, at each JUMPDEST and after each JUMPI). The
block's total static gas is charged and its stack room checked once, on entry. Charging a block
in advance changes nothing observable: any failure inside a block is an exceptional halt, which
consumes all gas and reverts the frame wherever it happens. The few instructions that observe
remaining gas (GAS, CALL*, CREATE*, SSTORE's sentry) add back ``args[pc]``, the static gas of the
block's instructions after them.

Most code of a mainnet block runs once or a few times, so a block is decoded on its first entry,
in one pass driven by per-fork tables (`ForkTable`), creating no object per instruction: handlers
are the tables' shared functions, which find their operands in ``args``. (Per-site closures cost
four tracked objects per PUSH, and the collections they set off cost more than the decoding.)
JUMPDEST and JUMPI handlers are bound methods of the analysis, which can decode and compile. A
block entered often (a loop body, the block at pc 0) is compiled to one Python function (see
parevm.evm.compiler), together with the blocks it has fallen through into.
"""
from __future__ import annotations

import re

from parevm.evm.compiler import compile_block
from parevm.evm.forks import Fork
from parevm.evm.frame import OUT_OF_GAS, STACK_LIMIT
from parevm.evm.instructions import INSTRUCTIONS
from parevm.evm.instructions.control import _INVALID_JUMP, _STACK_OVERFLOW, invalid
from parevm.state.code import Code

JUMPDEST, JUMPI = 0x5B, 0x57
# A JUMPDEST block, or the block at pc 0, entered this often is compiled (~100 us each, which a
# block repays over a hundred entries or so). Whole `parevm run --workers 1` processes, summed
# over the 43 mainnet fixture blocks: the same at 128, 256, 1,024 and never, +5% at 64, +15% at
# 16 (most of their code runs a few times: 60% of JUMPDEST blocks once); over 200-2,000-transaction
# dApp blocks (AMM, NFT, game, lending, ERC-20): the same at 16, 64 and 128, +2% at 256, +11% at
# 1,024.
HOT_BLOCK_ENTRIES = 128
# A PUSH truncated by the end of code reads zeros, and running off the end is STOP (0x00).
_PADDING = bytes(33)
_FALLS_INTO_JUMPDEST = (0, STACK_LIMIT)  # what a JUMPI charges for a JUMPDEST block: the JUMPDEST does

# How the decoder treats each opcode (ForkTable.kinds).
_PLAIN = 0  # one byte, does not end the block
_PUSH = 1  # PUSH1-32: the immediate goes to args
_OBSERVES_GAS = 2  # its args entry is the static gas of the rest of its block
_ENDS_BLOCK = 3  # no next instruction in the block (STOP, JUMP, RETURN, ..., undefined opcodes)
_JUMPI = 4  # ends the block; falling through enters the next one
_JUMPDEST = 5  # starts a block
_KIND = {"JUMPI": _JUMPI, "JUMPDEST": _JUMPDEST,
         **dict.fromkeys(("STOP", "JUMP", "RETURN", "REVERT", "INVALID", "SELFDESTRUCT"), _ENDS_BLOCK),
         **dict.fromkeys(("GAS", "CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2",
                          "SSTORE"), _OBSERVES_GAS),
         **{f"PUSH{n}": _PUSH for n in range(1, 33)}}

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
    """A fork's 256-entry opcode tables: handler, static gas, net stack growth and decoder kind."""

    __slots__ = ("handlers", "gas", "growth", "kinds", "names")

    def __init__(self, fork: Fork) -> None:
        self.handlers = [invalid] * 256
        self.gas = [0] * 256
        self.growth = [0] * 256
        self.kinds = [_ENDS_BLOCK] * 256  # undefined opcodes end the block (they halt)
        self.names: list[str | None] = [None] * 256
        for name, static_gas in fork.opcode_gas.items():
            opcode, handler = INSTRUCTIONS[name]
            self.handlers[opcode] = handler
            self.gas[opcode] = static_gas
            inputs, outputs = _STACK[name]
            self.growth[opcode] = outputs - inputs
            self.kinds[opcode] = _KIND.get(name, _PLAIN)
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
    JUMPDEST's entry of `ops` starts as `_first_entry`, which decodes the block there; a JUMPI
    decodes the block it falls into the first time it falls through. So a 24 KB contract of which
    a call runs a few hundred instructions costs a few hundred decodes.

    ``args[pc]`` by instruction: PUSHn its value; GAS, CALL*, CREATE*, SSTORE the static gas of the
    rest of the block; a JUMPDEST starting a decoded block ``[gas, stack limit, entries left before
    compiling]``; a JUMPI ``(gas, stack limit)`` of the block it falls into, once it has fallen through."""

    __slots__ = ("code", "table", "ops", "args", "jumpdests", "_entry_cost", "_entry_limit", "_starts_left",
                 "_first_entry_handler", "_enter_handler", "_jumpi_handler")

    def __init__(self, code: bytes, table: ForkTable, jumpdests: frozenset[int] | None = None) -> None:
        """`jumpdests`: `jump_destinations(code)` if known, or a placeholder while another process
        finds them (set the attribute before the code runs)."""
        n = len(code)
        self.code = code + _PADDING
        self.table = table
        self.jumpdests = jump_destinations(code) if jumpdests is None else jumpdests
        # the bound methods, made once: `ops` holds these very objects
        self._first_entry_handler = self._first_entry
        self._enter_handler = self._enter
        self._jumpi_handler = self._jumpi
        # running off the end is STOP; a PUSH truncated by the end of code jumps up to 32 bytes past it
        self.ops: list = [self._first_entry_handler] * n + [INSTRUCTIONS["STOP"][1]] * len(_PADDING)
        self.args: list = [None] * (n + len(_PADDING))
        if n and code[0] != JUMPDEST:
            self._entry_cost, self._entry_limit = self._decode(0)
            self._starts_left = HOT_BLOCK_ENTRIES
        else:  # the JUMPDEST at 0 charges (and counts) its block
            self._entry_cost, self._entry_limit = 0, STACK_LIMIT
            self._starts_left = -1  # counts down from -1: never reaches 0

    def start(self, f) -> bool:
        """A frame starts running the code: charge the block at pc 0; False if gas or stack room lacks."""
        f.gas -= self._entry_cost
        self._starts_left -= 1
        if not self._starts_left:
            self._compile(0, None)
        return f.gas >= 0 and self._entry_limit >= 0

    def _decode(self, start: int) -> tuple[int, int]:
        """Decode the basic block at `start` into `ops` and `args`; its (static gas, stack limit at entry).

        One pass, up to the instruction that ends the block or the next JUMPDEST."""
        code, ops, args, table = self.code, self.ops, self.args, self.table
        handlers, static_gas, growth, kinds = table.handlers, table.gas, table.growth, table.kinds
        cost = height = top = 0
        observers = []  # (pc, static gas up to and including it) of the instructions observing gas
        pc = start
        if code[pc] == JUMPDEST:
            ops[pc] = self._enter_handler
            cost = static_gas[JUMPDEST]
            pc += 1
        while True:
            op = code[pc]
            kind = kinds[op]
            if kind == _JUMPDEST:
                break
            ops[pc] = handlers[op]
            cost += static_gas[op]
            height += growth[op]
            if height > top:
                top = height
            if kind == _PLAIN:
                pc += 1
            elif kind == _PUSH:
                end = pc + op - 0x5E
                args[pc] = int.from_bytes(code[pc + 1:end], "big")
                pc = end
            elif kind == _OBSERVES_GAS:
                observers.append((pc, cost))
                pc += 1
            else:
                if kind == _JUMPI:
                    ops[pc] = self._jumpi_handler
                break
        for at, spent in observers:
            args[at] = cost - spent
        limit = STACK_LIMIT - top
        if code[start] == JUMPDEST:
            args[start] = [cost, limit, HOT_BLOCK_ENTRIES]
        return cost, limit

    def _first_entry(self, f, s, pc: int) -> int:
        """A JUMPDEST entered for the first time: decode its block, then enter it."""
        self._decode(pc)
        return self._enter(f, s, pc)

    def _enter(self, f, s, pc: int) -> int:
        """A JUMPDEST: charge its block, and compile the block once it is hot."""
        block = self.args[pc]
        gas = f.gas - block[0]
        if gas < 0:
            raise OUT_OF_GAS
        f.gas = gas
        if len(s) > block[1]:
            raise _STACK_OVERFLOW
        block[2] -= 1
        if not block[2]:
            self._compile(pc, (block[0], block[1]))
        return pc + 1

    def _jumpi(self, f, s, pc: int) -> int:
        """JUMPI: falling through enters the next block, whose cost is charged here."""
        dest = s.pop()
        if s.pop():
            if dest not in self.jumpdests:
                raise _INVALID_JUMP
            return dest
        fallthrough = self.args[pc]
        if fallthrough is None:
            fallthrough = self._fallthrough(pc)
        cost, limit = fallthrough
        if cost:
            gas = f.gas - cost
            if gas < 0:
                raise OUT_OF_GAS
            f.gas = gas
        if len(s) > limit:
            raise _STACK_OVERFLOW
        return pc + 1

    def _fallthrough(self, jumpi_pc: int) -> tuple[int, int]:
        """(gas, stack limit) a JUMPI charges when it falls through; decodes the next block (once)."""
        nxt = jumpi_pc + 1
        entry = self.args[jumpi_pc]
        if entry is None:
            entry = _FALLS_INTO_JUMPDEST if self.code[nxt] == JUMPDEST else self._decode(nxt)
            self.args[jumpi_pc] = entry
        return entry

    def _pcs(self, start: int) -> list[int]:
        """The offsets of the instructions of the (decoded) block at `start`."""
        code, kinds = self.code, self.table.kinds
        pcs = [start]
        pc = start
        while True:
            op = code[pc]
            kind = kinds[op]
            if kind == _ENDS_BLOCK or kind == _JUMPI:
                return pcs
            pc += op - 0x5E if kind == _PUSH else 1
            if code[pc] == JUMPDEST:
                return pcs
            pcs.append(pc)

    def _compile(self, start: int, entry: tuple[int, int] | None) -> None:
        """Replace the hot block at `start` by compiled code, and with it the blocks its JUMPIs have
        fallen into so far (a function dispatcher's chain of selector tests, a loop body), which only
        it enters. `entry` is the (gas, stack limit) the block charges on entry, if it charges."""
        code, args, ops = self.code, self.args, self.ops
        while True:
            pcs = self._pcs(start)
            last = pcs[-1]
            fell_through = code[last] == JUMPI and args[last] is not None
            fallthrough = self._fallthrough(last) if code[last] == JUMPI else None
            ops[start] = compile_block(code, pcs, self.table.names, ops, args, entry, fallthrough,
                                       self.jumpdests)
            start = last + 1
            if not fell_through or code[start] == JUMPDEST:
                return
            entry = None  # the compiled JUMPI charges the block it falls into


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


def jump_destinations(code: bytes) -> frozenset[int]:
    """Offsets of JUMPDEST bytes that are instructions, not PUSH data."""
    if b"\x5b" not in code:
        return frozenset()
    ends = [match.end() for match in _UP_TO_JUMPDEST.finditer(code + _SENTINEL)]
    ends.pop()  # the sentinel
    return frozenset([end - 1 for end in ends])


def analyze(code: Code, fork: Fork, jumpdests: frozenset[int] | None = None) -> Analysis:
    """The decoded form of `code` under `fork` (cached on the code object); `jumpdests` as for
    `Analysis`."""
    analysis = code.analyses.get(fork.name)
    if analysis is None:
        analysis = code.analyses[fork.name] = Analysis(code.bytes, fork_table(fork), jumpdests)
    return analysis

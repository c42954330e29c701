"""Code analysis, done once per (code, fork) and cached on the `Code` object.

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

from parevm.evm.forks import Fork
from parevm.evm.frame import STACK_LIMIT
from parevm.evm.instructions import INSTRUCTIONS
from parevm.evm.instructions.control import invalid, make_block_entry, make_jumpi
from parevm.evm.instructions.stack import make_push
from parevm.state.code import Code

JUMPDEST, JUMPI, JUMP = 0x5B, 0x57, 0x56
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
    __slots__ = ("ops", "jumpdests", "after", "entry_cost", "entry_limit")

    def __init__(self, ops, jumpdests, after, entry_cost, entry_limit) -> None:
        self.ops = ops
        self.jumpdests = jumpdests
        self.after = after
        self.entry_cost = entry_cost
        self.entry_limit = entry_limit


def analyze(code: Code, fork: Fork) -> Analysis:
    """The decoded form of `code` under `fork` (cached on the code object)."""
    analysis = code.analyses.get(fork.name)
    if analysis is None:
        analysis = code.analyses[fork.name] = _analyze(code.bytes, fork_table(fork))
    return analysis


def _analyze(code: bytes, table: ForkTable) -> Analysis:
    n = len(code)
    handlers, static_gas, growth = table.handlers, table.gas, table.growth
    push1 = 0x60
    # 1. instruction starts, jump destinations and block boundaries
    starts: list[int] = []
    jumpdests: set[int] = set()
    pc = 0
    while pc < n:
        op = code[pc]
        starts.append(pc)
        if op == JUMPDEST:
            jumpdests.add(pc)
        if push1 <= op <= 0x7F:
            pc += op - push1 + 2
        else:
            pc += 1
    # running off the end is STOP; a PUSH truncated by the end of code jumps up to 32 bytes past it
    ops: list = [None] * n + [INSTRUCTIONS["STOP"][1]] * 33
    after = [0] * (n + 1)

    # 2. per block: static gas, stack room, and the per-site handlers
    block_cost: dict[int, tuple[int, int]] = {}  # block start pc -> (cost, stack limit)
    i = 0
    count = len(starts)
    while i < count:
        block_start = starts[i]
        j = i
        cost = 0
        height = max_height = 0
        while True:
            pc = starts[j]
            op = code[pc]
            if j > i and op == JUMPDEST:
                break
            cost += static_gas[op]
            height += growth[op]
            if height > max_height:
                max_height = height
            j += 1
            if op in _BLOCK_ENDERS or handlers[op] is invalid or j == count:
                break
        block_cost[block_start] = (cost, STACK_LIMIT - max_height)
        # `after` for each instruction of the block: static gas of those following it
        remaining = cost
        for k in range(i, j):
            pc = starts[k]
            remaining -= static_gas[code[pc]]
            after[pc] = remaining
        i = j

    for idx, pc in enumerate(starts):
        op = code[pc]
        if push1 <= op <= 0x7F and handlers[op] is not invalid:
            size = op - push1 + 1
            immediate = code[pc + 1:pc + 1 + size]
            value = int.from_bytes(immediate, "big") << (8 * (size - len(immediate)))
            ops[pc] = make_push(value, pc + 1 + size)
        elif op == JUMPDEST:
            cost, limit = block_cost[pc]
            ops[pc] = make_block_entry(cost, limit)
        elif op == JUMPI and handlers[op] is not invalid:
            nxt = starts[idx + 1] if idx + 1 < count else n
            cost, limit = block_cost.get(nxt, (0, STACK_LIMIT)) if nxt < n and code[nxt] != JUMPDEST \
                else (0, STACK_LIMIT)
            ops[pc] = make_jumpi(cost, limit)
        else:
            ops[pc] = handlers[op]
    if n and code[0] != JUMPDEST:
        entry_cost, entry_limit = block_cost[0]
    else:
        entry_cost, entry_limit = 0, STACK_LIMIT
    return Analysis(ops, frozenset(jumpdests), after, entry_cost, entry_limit)

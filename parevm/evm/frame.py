"""Call frames, the transaction context they share, and the signals that end a frame."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from parevm.evm.forks import Fork
from parevm.state.code import Code
from parevm.state.tx_state import TxState

STACK_LIMIT = 1024
CALL_DEPTH_LIMIT = 1024


class ExceptionalHalt(Exception):
    """Ends a frame: all its gas is consumed and its changes are reverted."""


class OutOfGas(ExceptionalHalt):
    pass


class InvalidOpcode(ExceptionalHalt):
    pass


class InvalidJump(ExceptionalHalt):
    pass


class StackOverflow(ExceptionalHalt):
    pass


class StaticViolation(ExceptionalHalt):
    pass


class ReturnDataOutOfBounds(ExceptionalHalt):
    pass


class Stop(Exception):
    """STOP/RETURN/SELFDESTRUCT: the frame ends successfully with `frame.output`."""


class Revert(Exception):
    """REVERT: changes undone, remaining gas returned, `frame.output` handed back."""


class Suspend(Exception):
    """CALL*/CREATE*: the frame waits while `frame.child` runs (no Python recursion)."""


# Pre-built instances: raising an existing exception object is cheaper than building one.
STOP = Stop()
REVERT = Revert()
SUSPEND = Suspend()
OUT_OF_GAS = OutOfGas()


@dataclass(slots=True)
class BlockEnv:
    """What the EVM sees of the block (header fields plus chain rules)."""

    fork: Fork
    chain_id: int
    coinbase: bytes
    number: int
    timestamp: int
    gas_limit: int
    difficulty: int = 0
    prev_randao: bytes = b"\x00" * 32
    base_fee: int = 0
    excess_blob_gas: int = 0
    blob_base_fee: int = 1
    block_hash: Callable[[int], bytes | None] = lambda number: None  # hash of an earlier block, if known


class TxContext:
    """Per-transaction EVM state shared by all its frames: logs, refund counter, origin."""

    __slots__ = ("block", "fork", "state", "origin", "gas_price", "blob_hashes", "logs", "refund",
                 "precompiles", "analyses_key")

    def __init__(self, block: BlockEnv, state: TxState, origin: bytes, gas_price: int,
                 blob_hashes: tuple[bytes, ...] = ()) -> None:
        self.block = block
        self.fork = block.fork
        self.state = state
        self.origin = origin
        self.gas_price = gas_price
        self.blob_hashes = blob_hashes
        self.logs: list = []
        self.refund = 0
        self.precompiles = block.fork.precompiles


class Frame:
    """One executing message: code, stack, memory, gas and where its results go."""

    __slots__ = ("ctx", "state", "code", "ops", "jumpdests", "args", "pc", "gas", "stack", "memory",
                 "caller", "address", "code_address", "value", "data", "is_static", "depth", "return_data",
                 "output", "snapshot", "logs_mark", "refund_mark", "is_create", "ret_offset", "ret_size",
                 "child", "parent", "precompile", "status")

    def __init__(self, ctx: TxContext, code: Code, gas: int, caller: bytes, address: bytes, code_address: bytes,
                 value: int, data: bytes, is_static: bool, depth: int, is_create: bool = False) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.code = code
        self.pc = 0
        self.gas = gas
        self.stack: list[int] = []
        self.memory = bytearray()
        self.caller = caller
        self.address = address
        self.code_address = code_address
        self.value = value
        self.data = data
        self.is_static = is_static
        self.depth = depth
        self.return_data = b""
        self.output = b""
        self.is_create = is_create
        self.ret_offset = 0
        self.ret_size = 0
        self.child: Frame | None = None
        self.parent: Frame | None = None
        self.precompile = None
        self.status = 0

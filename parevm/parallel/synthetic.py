"""Synthetic blocks that stress the parallel engine: hand-assembled contracts, a pre-state, and
transactions with their senders given (no signatures: `execute_transaction` takes the sender).

`conflict_block` turns a list of `Action`s (drawn by the property tests) into a block full of the
cases Block-STM must get exactly right: nonce chains, one hot slot, reads of the coinbase balance
while every transaction pays it fees, value sent to an account that is then read, contracts created
and called in the same block, self-destruct and re-creation at the same address, reverts, out-of-gas,
transient storage, invalid transactions, a block gas limit that runs out. `hot_slot_block` is the
cheapest fully dependent block (the benchmark's worst case); `SyntheticBlock.from_workload` takes the
benchmark workloads of `parevm.workloads.blocks` (ERC-20 and value transfers, AMM swaps, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

from parevm.crypto import keccak256
from parevm.evm.forks import Fork, fork_by_name
from parevm.evm.frame import BlockEnv
from parevm.evm.instructions import INSTRUCTIONS
from parevm.state.block_state import BlockState
from parevm.tx import Transaction

if TYPE_CHECKING:
    from parevm.workloads.blocks import Workload

ETHER = 10**18


def assemble(*program: str | int | bytes) -> bytes:
    """EVM code from mnemonics; an int is pushed with the smallest PUSH, bytes are copied as they
    are, ":name" marks a position and "@name" pushes it (PUSH2)."""
    labels: dict[str, int] = {}
    for resolve in (False, True):
        code = bytearray()
        for item in program:
            if isinstance(item, bytes):
                code += item
            elif isinstance(item, int):
                data = item.to_bytes(max(1, (item.bit_length() + 7) // 8), "big")
                code += bytes((0x5F + len(data),)) + data
            elif item.startswith(":"):
                labels[item[1:]] = len(code)
            elif item.startswith("@"):
                code += b"\x61" + (labels[item[1:]] if resolve else 0).to_bytes(2, "big")
            else:
                code.append(INSTRUCTIONS[item][0])
    return bytes(code)


def _log_top() -> tuple:
    """Log the word on top of the stack (LOG0 of 32 bytes), consuming it."""
    return (0, "MSTORE", 32, 0, "LOG0")


# The child contract the probe deploys: its constructor sets slot 1 to 7; a call with first byte
# 0xff self-destructs to the caller, any other call increments slot 0 and logs slot0 + slot1.
CHILD_RUNTIME = assemble(
    0, "CALLDATALOAD", 0, "BYTE", 0xFF, "EQ", "@die", "JUMPI",
    0, "SLOAD", 1, "ADD", "DUP1", 0, "SSTORE", 1, "SLOAD", "ADD", *_log_top(), "STOP",
    ":die", "JUMPDEST", "CALLER", "SELFDESTRUCT")
CHILD_INIT = assemble(
    7, 1, "SSTORE", len(CHILD_RUNTIME), "DUP1", "@runtime", 0, "CODECOPY", 0, "RETURN",
    ":runtime", CHILD_RUNTIME)

# Probe operations: the first calldata byte; the 32-byte word after it is the argument.
INC, READ_COINBASE, READ_BALANCE, REVERT, OUT_OF_GAS, TRANSIENT, CREATE2, CREATE, CALL_LAST, COPY_SLOT = \
    range(1, 11)
_PROBE_OPS = ("inc", "coinbase", "balance", "revert", "oog", "transient", "create2", "create", "call_last",
              "copy_slot")

PROBE_CODE = assemble(
    0, "CALLDATALOAD", 0, "BYTE",
    *(item for op, name in enumerate(_PROBE_OPS, 1) for item in ("DUP1", op, "EQ", "@" + name, "JUMPI")),
    "STOP",
    ":inc", "JUMPDEST", 0, "SLOAD", 1, "ADD", 0, "SSTORE", "STOP",
    ":coinbase", "JUMPDEST", "COINBASE", "BALANCE", "DUP1", 1, "SSTORE", *_log_top(), "STOP",
    ":balance", "JUMPDEST", 1, "CALLDATALOAD", "BALANCE", "DUP1", 2, "SSTORE", *_log_top(), "STOP",
    ":revert", "JUMPDEST", 0, "SLOAD", 1, "ADD", 0, "SSTORE", 0, 0, "REVERT",
    ":oog", "JUMPDEST", 1, 3, "SSTORE", ":spin", "JUMPDEST", "@spin", "JUMP",
    ":transient", "JUMPDEST", 0, "TLOAD", "CALLVALUE", "ADD", 1, "ADD", "DUP1", 0, "TSTORE", 4, "SSTORE", "STOP",
    ":create2", "JUMPDEST", len(CHILD_INIT), "@child", 0, "CODECOPY",
    1, "CALLDATALOAD", len(CHILD_INIT), 0, 0, "CREATE2", "DUP1", 5, "SSTORE", *_log_top(), "STOP",
    ":create", "JUMPDEST", len(CHILD_INIT), "@child", 0, "CODECOPY",
    len(CHILD_INIT), 0, 0, "CREATE", "DUP1", 5, "SSTORE",
    0, 0, 0, 0, 0, "DUP6", "GAS", "CALL", "POP", "POP", "STOP",
    ":call_last", "JUMPDEST", 0, 0, 0, 0, 0, 5, "SLOAD", "GAS", "CALL", "POP", "STOP",
    ":copy_slot", "JUMPDEST", 33, "CALLDATALOAD", "SLOAD", 1, "ADD", 1, "CALLDATALOAD", "SSTORE", "STOP",
    ":child", CHILD_INIT)

PROBE = bytes.fromhex("5050505050505050505050505050505050505050")
COINBASE = bytes.fromhex("c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0")
HOT_EOA = bytes.fromhex("ee00000000000000000000000000000000000000")
SENDERS = tuple(bytes.fromhex(f"a{i}" * 20) for i in range(1, 5))


def child_address(salt: int) -> bytes:
    """Where the probe's CREATE2 with `salt` deploys the child."""
    return keccak256(b"\xff" + PROBE + salt.to_bytes(32, "big") + keccak256(CHILD_INIT))[12:]


@dataclass(slots=True)
class SyntheticBlock:
    env: BlockEnv
    txs: list[Transaction]
    senders: list[bytes]
    accounts: list[tuple[bytes, int, int, bytes, dict[int, int]]]  # BlockState.from_accounts entries
    name: str = "synthetic"

    def state(self) -> BlockState:
        return BlockState.from_accounts(self.accounts)

    def after(self, prefix: SyntheticBlock) -> SyntheticBlock:
        """This block's transactions after `prefix`'s (accounts of both; this block's environment)."""
        return SyntheticBlock(self.env, prefix.txs + self.txs, prefix.senders + self.senders,
                              prefix.accounts + self.accounts, f"{prefix.name}+{self.name}")

    @classmethod
    def from_workload(cls, workload: Workload) -> SyntheticBlock:
        """A block of `parevm.workloads.blocks` in this shape."""
        accounts = [(address, a.nonce, a.balance, a.code, a.storage) for address, a in workload.accounts.items()]
        return cls(workload.block_env, workload.txs, workload.senders, accounts,
                   f"{workload.name.replace('_', '-')}-{len(workload.txs)}")


def block_env(fork: Fork, gas_limit: int = 30_000_000, coinbase: bytes = COINBASE) -> BlockEnv:
    return BlockEnv(fork=fork, chain_id=1, coinbase=coinbase, number=20_000_000, timestamp=1_800_000_000,
                    gas_limit=gas_limit, difficulty=0 if fork.proof_of_stake else 1 << 40,
                    prev_randao=b"\x01" * 32, base_fee=7 if fork.eip1559 else 0)


def _call(nonce: int, to: bytes, data: bytes = b"", value: int = 0, gas: int = 150_000) -> Transaction:
    return Transaction(nonce=nonce, gas_price=10, gas_limit=gas, to=to, value=value, data=data)


def _probe_call(op: int, argument: int = 0, extra: int | None = None) -> bytes:
    data = bytes((op,)) + argument.to_bytes(32, "big")
    return data if extra is None else data + extra.to_bytes(32, "big")


class Action(NamedTuple):
    """One transaction of a `conflict_block`: `kind` (see `conflict_block`), the sender (an index
    into SENDERS, or len(SENDERS) for the coinbase) and a small argument."""

    kind: str
    sender: int
    argument: int


ACTION_KINDS = ("transfer", "inc", "coinbase", "balance", "revert", "oog", "transient", "create2", "create",
                "call_last", "child", "destroy", "copy_slot", "bad_nonce")


def conflict_block(actions: Sequence[Action], fork_name: str = "Cancun",
                   gas_limit: int = 30_000_000) -> SyntheticBlock:
    """A block with one transaction per action. Kinds:

    transfer: send wei to one of (a fresh account, a hot EOA, the coinbase, the probe, child 0);
    inc: increment the probe's hot slot; coinbase / balance: read (and store and log) the balance
    of the coinbase / of the target of `transfer`; revert / oog: write the hot slot, then revert /
    run out of gas; transient: TSTORE/TLOAD; create2: deploy the child at salt argument % 2;
    create: CREATE a child and call it; call_last: call the last CREATEd child; child: call the
    CREATE2 child; destroy: make it self-destruct; copy_slot: slot[a] = slot[b] + 1 over a few
    slots; bad_nonce: a transaction with a wrong nonce (the block is invalid)."""
    fork = fork_by_name(fork_name)
    everyone = (*SENDERS, COINBASE)
    nonces = {address: 0 for address in everyone}
    targets = (None, HOT_EOA, COINBASE, PROBE, child_address(0))
    txs, senders = [], []
    for position, (kind, who, argument) in enumerate(actions):
        sender = everyone[who % len(everyone)]
        nonce = nonces[sender]
        if kind == "transfer":
            to = targets[argument % len(targets)] or (0xF00000 + position).to_bytes(20, "big")
            tx = _call(nonce, to, value=1000 + argument, gas=60_000)
        elif kind == "balance":
            to = targets[argument % len(targets)] or HOT_EOA
            tx = _call(nonce, PROBE, _probe_call(READ_BALANCE, int.from_bytes(to, "big")))
        elif kind == "child":
            tx = _call(nonce, child_address(argument % 2), value=argument % 3)
        elif kind == "destroy":
            tx = _call(nonce, child_address(argument % 2), b"\xff")
        elif kind == "bad_nonce":
            tx = _call(nonce + 1 + argument % 2, PROBE, _probe_call(INC))
        else:
            op = _PROBE_OPS.index(kind) + 1
            extra = argument // 4 % 4 if op == COPY_SLOT else None
            tx = _call(nonce, PROBE, _probe_call(op, argument % (2 if op == CREATE2 else 4), extra),
                       value=argument % 2 if op == TRANSIENT else 0)
        if kind != "bad_nonce":
            nonces[sender] = nonce + 1
        txs.append(tx)
        senders.append(sender)
    accounts = [(address, 0, 10 * ETHER, b"", {}) for address in everyone]
    accounts.append((PROBE, 1, 0, PROBE_CODE, {0: 1, 2: 5}))
    return SyntheticBlock(block_env(fork, gas_limit), txs, senders, accounts, f"conflicts/{fork_name}")


def hot_slot_block(count: int, fork_name: str = "Cancun") -> SyntheticBlock:
    """Fully dependent: every transaction (each from its own sender) increments one slot."""
    senders = [(0x10_0000 + i).to_bytes(20, "big") for i in range(count)]
    txs = [_call(0, PROBE, _probe_call(INC), gas=60_000) for _ in range(count)]
    accounts = [(address, 0, ETHER, b"", {}) for address in senders]
    accounts.append((PROBE, 1, 0, PROBE_CODE, {}))
    return SyntheticBlock(block_env(fork_by_name(fork_name), gas_limit=10**12), txs, senders, accounts,
                          f"hot-slot-{count}")


def value_transfers(count: int) -> SyntheticBlock:
    """Independent: `parevm.workloads.blocks.value_transfers` (each sender pays a fresh recipient)."""
    from parevm.workloads.blocks import value_transfers as workload
    return SyntheticBlock.from_workload(workload(count))

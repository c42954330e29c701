"""A worker's side of the engine, whatever carries its messages: a replica of the multi-version
memory, the chunks it was asked to run, and their execution.

A chunk's transactions run in order, each on its own `TxState`, over a `ChunkReader`: the writes
of the chunk's earlier transactions (composed into one `TxWrites`, the chunk's write set), then the
replica as seen by the chunk. Each location the chunk reads from the replica is read once and
recorded (the chunk's read set), so what validation checks is exactly what the chunk saw.

Operations a worker receives, in order, as lists (`accept`):
  (WRITES, chunk, incarnation, wire)   another worker's chunk writes: record them in the replica
  (ESTIMATE, chunk, incarnation)       the chunk was aborted: its writes become ESTIMATEs
  (EXECUTE, chunk, incarnation, first, last)   run transactions first..last-1 as that chunk
  (DROP, first, end)                   forget the queued chunks first..end-1 (only the range
                                       split's worker, `parevm.parallel.split_worker`, gets these)
  (STOP,)
and what it answers per EXECUTE (`run_next`):
  (DONE, chunk, incarnation, read_set, wire, results, tx_seconds, access, cpu)
     (tx_seconds: each transaction's CPU time, so that a machine shared with other work does not
     make transactions look slower than they are; cpu: the worker's CPU time so far)
  (BLOCKED, chunk, incarnation, blocking_chunk, seconds, cpu)   it read an ESTIMATE
`wire` is the `ChunkWrites.to_wire` tuple; a worker process sends it pickled, and the coordinator
forwards those bytes unchanged to the other workers (its own chunks' tuples go as they are).
`results` are `TxResult`s (or `TxFailed`); a worker sends them as `result_to_wire` tuples.
"""
from __future__ import annotations

import pickle
from heapq import heappop, heappush
from operator import sub
from time import perf_counter, thread_time
from typing import TYPE_CHECKING, NamedTuple, Sequence

from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import TxResult, execute_transaction
from parevm.parallel.mv_memory import ChunkWrites, MVMemory, ReadEstimate
from parevm.state.block_state import BlockState
from parevm.state.code import EMPTY_CODE, Code
from parevm.state.tx_state import TxState, TxWrites
from parevm.tx import Transaction

if TYPE_CHECKING:
    from parevm.parallel.split_worker import FirstReads

WRITES, ESTIMATE, EXECUTE, DROP, STOP = range(5)
DONE, BLOCKED = range(2)

_MISSING = object()


class TxFailed(NamedTuple):
    """A transaction that raised instead of producing a result (possibly because of a stale read)."""

    error: str  # exception class name
    message: str


def compose(chunk: TxWrites, tx: TxWrites) -> None:
    """Fold a transaction's writes into its chunk's, so that applying the chunk's writes with
    `BlockState.apply` equals applying each transaction's in turn (same order of effects: wipes,
    accounts (a deletion also drops code and storage), deltas, code, slots)."""
    accounts, deltas, storage = chunk.accounts, chunk.balance_deltas, chunk.storage
    if tx.cleared_storage:
        for address in tx.cleared_storage:
            chunk.cleared_storage.add(address)
            storage.pop(address, None)
    for address, account in tx.accounts.items():
        accounts[address] = account
        if deltas:
            deltas.pop(address, None)
        if account is None:
            chunk.codes[address] = EMPTY_CODE
            chunk.cleared_storage.add(address)
            storage.pop(address, None)
    for address, delta in tx.balance_deltas.items():
        account = accounts.get(address, _MISSING)
        if account is _MISSING:
            deltas[address] = deltas.get(address, 0) + delta
        else:
            accounts[address] = (0, delta) if account is None else (account[0], account[1] + delta)
    if tx.codes:
        chunk.codes.update(tx.codes)
    for address, slots in tx.storage.items():
        current = storage.get(address)
        if current is None:
            storage[address] = slots
        else:
            current.update(slots)


def result_to_wire(result: TxResult | TxFailed) -> tuple:
    """A transaction's result as a plain tuple, which pickles several times faster than the class."""
    if type(result) is TxFailed:
        return result
    return (result.success, result.gas_used, result.logs, result.output, result.blob_gas_used,
            result.fee_to_coinbase, result.created_address)


def result_from_wire(result: tuple) -> TxResult | TxFailed:
    return result if type(result) is TxFailed else TxResult(*result)


class ChunkReader:
    """The `StateBacking` of one chunk's transactions: the chunk's own writes so far, then the
    replica as of this chunk, each replica location read once and recorded. (Every container it
    consults is held in a slot of its own: these reads are the interpreter's hot path.)"""

    __slots__ = ("chunk", "mv", "base_accounts", "base_codes", "base_storage", "writes", "own_accounts",
                 "own_deltas", "own_codes", "own_storage", "own_cleared", "touched_addresses", "touched_slots",
                 "wiped", "accounts", "codes", "slots", "storage_keys")

    def __init__(self, mv: MVMemory, chunk: int) -> None:
        self.chunk = chunk
        self.mv = mv
        base = mv.base
        self.base_accounts = base.accounts
        self.base_codes = base.codes
        self.base_storage = base.storage
        writes = self.writes = TxWrites()  # the chunk's transactions so far, composed
        self.own_accounts = writes.accounts
        self.own_deltas = writes.balance_deltas
        self.own_codes = writes.codes
        self.own_storage = writes.storage
        self.own_cleared = writes.cleared_storage
        self.touched_addresses = mv.touched_addresses
        self.touched_slots = mv.touched_slots
        self.wiped = mv.wiped
        # replica reads, location -> value seen (the chunk's read set)
        self.accounts: dict[bytes, tuple[int, int] | None] = {}
        self.codes: dict[bytes, Code] = {}
        self.slots: dict[tuple[bytes, int], int] = {}
        self.storage_keys: dict[bytes, frozenset[int]] = {}

    def apply(self, writes: TxWrites) -> None:
        """A transaction's writes, composed into the chunk's (which later reads see first)."""
        compose(self.writes, writes)

    def read_account(self, address: bytes) -> tuple[int, int] | None:
        account = self.own_accounts.get(address, _MISSING)
        if account is not _MISSING:
            return account
        account = self.accounts.get(address, _MISSING)
        if account is _MISSING:
            account = self.accounts[address] = (
                self.mv.read_account(address, self.chunk) if address in self.touched_addresses
                else self.base_accounts.get(address))
        delta = self.own_deltas.get(address)
        if delta is not None:
            account = (0, delta) if account is None else (account[0], account[1] + delta)
        return account

    def read_code(self, address: bytes) -> Code:
        code = self.own_codes.get(address)
        if code is None:
            code = self.codes.get(address)
            if code is None:
                code = self.codes[address] = (
                    self.mv.read_code(address, self.chunk) if address in self.touched_addresses
                    else self.base_codes.get(address, EMPTY_CODE))
        return code

    def read_storage(self, address: bytes, slot: int) -> int:
        slots = self.own_storage.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                return value
        if address in self.own_cleared:
            return 0
        location = (address, slot)
        value = self.slots.get(location)
        if value is None:
            if location in self.touched_slots or address in self.wiped:
                value = self.mv.read_slot(address, slot, self.chunk)
            else:
                slots = self.base_storage.get(address)
                value = slots.get(slot, 0) if slots else 0
            self.slots[location] = value
        return value

    def has_storage(self, address: bytes) -> bool:
        slots = self.own_storage.get(address, {})
        if any(slots.values()):
            return True
        if address in self.own_cleared:
            return False
        keys = self.storage_keys.get(address)
        if keys is None:
            if address in self.mv.storage_addresses:
                keys = self.mv.read_storage_keys(address, self.chunk)
            else:
                keys = frozenset(self.base_storage.get(address, ()))
            self.storage_keys[address] = keys
        return not keys <= slots.keys()  # a non-zero slot the chunk has not zeroed

    def read_set(self) -> tuple:
        """What `MVMemory.validate` checks, per kind: locations whose value was the pre-state's
        (a set) and the others with the value seen (code by hash)."""
        base_accounts, base_codes, base_storage = self.base_accounts, self.base_codes, self.base_storage
        account_seen = {a: v for a, v in self.accounts.items() if v != base_accounts.get(a)}
        code_seen = {a: c.hash for a, c in self.codes.items() if c is not base_codes.get(a, EMPTY_CODE)}
        slot_seen = {}
        for location, value in self.slots.items():
            slots = base_storage.get(location[0])
            if value != (slots.get(location[1], 0) if slots else 0):
                slot_seen[location] = value
        keys_seen = {a: k for a, k in self.storage_keys.items() if k != frozenset(base_storage.get(a, ()))}
        return (self.accounts.keys() - account_seen.keys(), account_seen,
                self.codes.keys() - code_seen.keys(), code_seen,
                self.slots.keys() - slot_seen.keys(), slot_seen,
                self.storage_keys.keys() - keys_seen.keys(), keys_seen)


class RecordsTxReads:
    """Mixin for a state backing: also lists the locations each transaction reads in `tx_reads`
    (for the statistics' dependency graph), including those its chunk's earlier transactions
    wrote: ("account", a), ("code", a), ("slot", a, s), ("storage", a)."""

    __slots__ = ()
    tx_reads: set[tuple]

    def read_account(self, address: bytes) -> tuple[int, int] | None:
        self.tx_reads.add(("account", address))
        return super().read_account(address)  # type: ignore[misc]

    def read_code(self, address: bytes) -> Code:
        self.tx_reads.add(("code", address))
        return super().read_code(address)  # type: ignore[misc]

    def read_storage(self, address: bytes, slot: int) -> int:
        self.tx_reads.add(("slot", address, slot))
        return super().read_storage(address, slot)  # type: ignore[misc]

    def has_storage(self, address: bytes) -> bool:
        self.tx_reads.add(("storage", address))
        return super().has_storage(address)  # type: ignore[misc]


class RecordingChunkReader(RecordsTxReads, ChunkReader):
    __slots__ = ("tx_reads",)

    def __init__(self, mv: MVMemory, chunk: int) -> None:
        super().__init__(mv, chunk)
        self.tx_reads = set()


class RecordingState:
    """A `BlockState` as one transaction's backing, listing the locations it reads (for the
    statistics of transactions run sequentially), named like `RecordingChunkReader`'s."""

    __slots__ = ("state", "reads")

    def __init__(self, state: BlockState) -> None:
        self.state = state
        self.reads: set[tuple] = set()

    def read_account(self, address: bytes) -> tuple[int, int] | None:
        self.reads.add(("account", address))
        return self.state.read_account(address)

    def read_code(self, address: bytes) -> Code:
        self.reads.add(("code", address))
        return self.state.read_code(address)

    def read_storage(self, address: bytes, slot: int) -> int:
        self.reads.add(("slot", address, slot))
        return self.state.read_storage(address, slot)

    def has_storage(self, address: bytes) -> bool:
        self.reads.add(("storage", address))
        return self.state.has_storage(address)


def write_locations(writes: TxWrites) -> tuple:
    """A transaction's written locations, named like `RecordingChunkReader`'s reads ("delta": a
    balance increment that did not read the balance; "storage": a wipe)."""
    return (*(("account", a) for a in writes.accounts), *(("delta", a) for a in writes.balance_deltas),
            *(("code", a) for a in writes.codes),
            *(("slot", a, s) for a, slots in writes.storage.items() for s in slots),
            *(("storage", a) for a in writes.cleared_storage))


class Cancelled(Exception):
    """The worker was told to stop in the middle of a chunk (its epoch is over)."""


class ChunkQueue:
    """What every worker core has: its block, the chunks it was asked to run (lowest first), and
    the flag that stops it mid-chunk; `accept` takes EXECUTE and STOP, `take` the other kinds."""

    __slots__ = ("env", "txs", "senders", "record_access", "tasks", "cancelled")

    def __init__(self, env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes],
                 record_access: bool) -> None:
        self.env = env
        self.txs = txs
        self.senders = senders
        self.record_access = record_access
        self.tasks: list[tuple[int, int, int, int]] = []  # heap: lowest chunk first
        self.cancelled = False  # set from another thread: stop at the next transaction

    def accept(self, ops: list) -> bool:
        """Take a batch of operations; False once told to stop."""
        for op in ops:
            kind = op[0]
            if kind == EXECUTE:
                heappush(self.tasks, op[1:])
            elif kind == STOP:
                return False
            else:
                self.take(op)
        return True

    def take(self, op: tuple) -> None:
        raise ValueError(f"operation {op[0]} is not for this worker")

    def has_work(self) -> bool:
        return bool(self.tasks)

    def run_next(self) -> tuple:
        """Run the lowest queued chunk; its outcome."""
        raise NotImplementedError


class WorkerCore(ChunkQueue):
    """Block-STM's worker: a replica of the multi-version memory, and chunk execution over it."""

    __slots__ = ("mv", "recorded")

    def __init__(self, env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes], mv: MVMemory,
                 record_access: bool) -> None:
        super().__init__(env, txs, senders, record_access)
        self.mv = mv
        # chunk -> incarnation whose writes the replica holds: an older one (an execution the
        # coordinator took over, finishing after the newer one's writes arrived) never replaces it
        self.recorded: dict[int, int] = {}

    def take(self, op: tuple) -> None:
        """WRITES and ESTIMATE: the replica follows the coordinator's memory."""
        if op[0] == WRITES:
            _, chunk, incarnation, wire = op
            if incarnation >= self.recorded.get(chunk, -1):
                self.recorded[chunk] = incarnation
                self.mv.record(chunk, ChunkWrites(pickle.loads(wire) if type(wire) is bytes else wire))
        elif op[0] == ESTIMATE:
            if op[2] >= self.recorded.get(op[1], -1):
                self.mv.mark_estimate(op[1])
        else:
            super().take(op)

    def run_next(self) -> tuple:
        """Execute the lowest queued chunk and record its writes in the replica; its outcome, with
        the writes pickled (forwarded to other workers as they are)."""
        outcome = self.execute(*heappop(self.tasks))
        if outcome[0] == DONE:
            _, chunk, incarnation, _, wire = outcome[:5]
            if incarnation >= self.recorded.get(chunk, -1):
                self.recorded[chunk] = incarnation
                self.mv.record(chunk, ChunkWrites(wire))
            outcome = (*outcome[:4], pickle.dumps(wire, protocol=pickle.HIGHEST_PROTOCOL),
                       [result_to_wire(result) for result in outcome[5]], *outcome[6:])
        return outcome

    def execute(self, chunk: int, incarnation: int, first: int, last: int) -> tuple:
        """Execute a chunk against the replica as it is; its outcome, writes as the wire tuple
        (recording them is the caller's business: the coordinator's own core runs on the
        authoritative memory, which records them once, with their consequences)."""
        started = perf_counter()
        reader = (RecordingChunkReader if self.record_access else ChunkReader)(self.mv, chunk)
        try:
            results, seconds, access, cpu = execute_chunk(self, reader, first, last)
        except ReadEstimate as estimate:
            return BLOCKED, chunk, incarnation, estimate.writer, perf_counter() - started, thread_time()
        return (DONE, chunk, incarnation, reader.read_set(), ChunkWrites.to_wire(reader.writes), results, seconds,
                access, cpu)


def execute_chunk(core: ChunkQueue, reader: ChunkReader | FirstReads, first: int,
                  last: int) -> tuple[list, list[float], list | None, float]:
    """Transactions first..last-1 of `core`'s block, each on its own `TxState` over `reader`, which
    takes in each one's writes (`reader.apply`): (results, tx_seconds, access, cpu). A transaction
    that raises is a `TxFailed` result (a stale read can make anything happen), except a
    `ReadEstimate`, which stops the chunk."""
    cpu_started = thread_time()
    env, txs, senders = core.env, core.txs, core.senders
    results = []
    clock = [perf_counter()]  # when each transaction ended (the first entry: when the first began)
    access = [] if core.record_access else None
    for index in range(first, last):
        if core.cancelled:
            raise Cancelled
        tx_state = TxState(reader)
        try:
            result = execute_transaction(txs[index], senders[index], tx_state, env)
        except ReadEstimate:
            raise
        except Exception as exc:  # InvalidTransaction, or anything a stale read can provoke
            results.append(TxFailed(type(exc).__name__, str(exc)))
            writes = TxWrites()
        else:
            writes = tx_state.writes()
            reader.apply(writes)
            results.append(result)
        clock.append(perf_counter())
        if access is not None:
            access.append((tuple(reader.tx_reads), write_locations(writes)))
            reader.tx_reads.clear()
    seconds, cpu = cpu_seconds(clock, cpu_started)
    return results, seconds, access, cpu


def cpu_seconds(clock: list[float], cpu_started: float) -> tuple[list[float], float]:
    """Each transaction's seconds from `clock` (when the first began, then when each ended), scaled
    by this thread's share of the CPU meanwhile (a machine shared with other work must not make
    transactions look slower than they are); and the thread's CPU time now."""
    cpu = thread_time()
    seconds = list(map(sub, clock[1:], clock))
    wall = clock[-1] - clock[0]
    share = (cpu - cpu_started) / wall if wall > 0 else 1.0
    if share < 1.0:  # descheduled part of the time: count CPU time only
        seconds = [spent * share for spent in seconds]
    return seconds, cpu

"""The range split's worker (see `parevm.parallel.split`): its chunks run in order on its own copy
of the state, exactly as sequential execution runs them, and each reports what it read.

A Block-STM worker reads through the multi-version memory and composes each chunk's writes; this
one has no other chunk to look through: the state it owns already holds everything before the
chunk (the fork's state plus its own earlier chunks). So each transaction runs on the state and
is applied to it at once (the sequential loop), over `FirstReads`, which records the value of each
location at its first read in the chunk. The coordinator commits the chunk if every recorded value
is its own state's before the chunk (`FirstReads.hold`): then each transaction read what it reads
in sequential execution.

A balance credited without being read (a fee to the coinbase, value sent to an account: a delta)
and read later in the chunk records the account as it was before the chunk's first credit. Any
other location first written without being read (none that `TxState` produces) and read later
would record the chunk's own value, which the check compares with the state before the chunk: at
worst a needless re-execution, never a wrong commit. The chunk's writes go back as the final
values of the locations it wrote (deltas summed, for addresses it never wrote in full), which
`BlockState.apply` applies as it would the transactions one by one.
"""
from __future__ import annotations

from heapq import heapify, heappop
from itertools import repeat
from typing import Sequence

from parevm.evm.frame import BlockEnv
from parevm.parallel.executor import DONE, DROP, ChunkQueue, RecordsTxReads, execute_chunk, result_to_wire
from parevm.parallel.mv_memory import ChunkWrites
from parevm.state.block_state import BlockState
from parevm.state.code import EMPTY_CODE, Code
from parevm.state.tx_state import TxWrites
from parevm.tx import Transaction


class FirstReads:
    """A `BlockState` as the backing of one chunk's transactions: each location's value at its first
    read in the chunk (the chunk's reads), and the locations its transactions wrote (`apply`)."""

    __slots__ = ("state", "state_accounts", "state_codes", "state_storage", "accounts", "codes", "slots",
                 "storage_flags", "credited", "written_accounts", "deltas", "written_codes", "written_slots",
                 "cleared")

    def __init__(self, state: BlockState) -> None:
        self.state = state
        self.state_accounts = state.accounts
        self.state_codes = state.codes
        self.state_storage = state.storage
        self.accounts: dict[bytes, tuple[int, int] | None] = {}
        self.codes: dict[bytes, Code] = {}
        self.slots: dict[bytes, dict[int, int]] = {}
        self.storage_flags: dict[bytes, bool] = {}  # has_storage answers
        self.credited: dict[bytes, tuple[int, int] | None] = {}  # unread accounts as before their first delta
        self.written_accounts: set[bytes] = set()
        self.deltas: dict[bytes, int] = {}
        self.written_codes: set[bytes] = set()
        self.written_slots: dict[bytes, set[int]] = {}
        self.cleared: set[bytes] = set()

    def read_account(self, address: bytes) -> tuple[int, int] | None:
        value = self.state_accounts.get(address)
        if address not in self.accounts:
            self.accounts[address] = self.credited.get(address, value)
        return value

    def read_code(self, address: bytes) -> Code:
        code = self.state_codes.get(address, EMPTY_CODE)
        self.codes.setdefault(address, code)
        return code

    def read_storage(self, address: bytes, slot: int) -> int:
        slots = self.state_storage.get(address)
        value = slots.get(slot, 0) if slots else 0
        seen = self.slots.get(address)
        if seen is None:
            self.slots[address] = {slot: value}
        else:
            seen.setdefault(slot, value)
        return value

    def has_storage(self, address: bytes) -> bool:
        value = bool(self.state_storage.get(address))
        self.storage_flags.setdefault(address, value)
        return value

    def apply(self, writes: TxWrites) -> None:
        """A transaction's writes: applied to the state, their locations noted."""
        self.written_accounts.update(writes.accounts)
        if None in writes.accounts.values():  # a deletion also wipes the code and the storage
            deleted = [address for address, account in writes.accounts.items() if account is None]
            self.written_codes.update(deleted)
            self.cleared.update(deleted)
        deltas, credited, seen = self.deltas, self.credited, self.accounts
        for address, delta in writes.balance_deltas.items():
            if address not in seen and address not in credited:
                credited[address] = self.state_accounts.get(address)
            deltas[address] = deltas.get(address, 0) + delta
        if writes.codes:
            self.written_codes.update(writes.codes)
        if writes.cleared_storage:
            self.cleared.update(writes.cleared_storage)
        written = self.written_slots
        for address, slots in writes.storage.items():
            known = written.get(address)
            if known is None:
                written[address] = set(slots)
            else:
                known.update(slots)
        self.state.apply(writes)

    def reads(self) -> tuple:
        """What the chunk read: accounts, code hashes, slots by address, has_storage answers."""
        return (self.accounts, {address: code.hash for address, code in self.codes.items()}, self.slots,
                self.storage_flags)

    def writes(self) -> TxWrites:
        """The chunk's writes as final values (a deleted account's code and storage wiped first;
        deltas only for addresses without a full write, which includes them)."""
        accounts, codes, storage = self.state_accounts, self.state_codes, self.state_storage
        empty: dict[int, int] = {}
        final_slots = {}
        for address, slots in self.written_slots.items():
            current = storage.get(address, empty)
            final_slots[address] = {slot: current.get(slot, 0) for slot in slots}
        written = self.written_accounts
        return TxWrites({address: accounts.get(address) for address in written},
                        {address: delta for address, delta in self.deltas.items() if address not in written},
                        {address: codes.get(address, EMPTY_CODE) for address in self.written_codes},
                        final_slots, self.cleared)

    @staticmethod
    def hold(state: BlockState, reads: tuple) -> bool:
        """Whether every value in `reads` (as `reads()` made them) is `state`'s now."""
        accounts, code_hashes, slots, storage_flags = reads
        if list(map(state.accounts.get, accounts)) != list(accounts.values()):
            return False
        codes = state.codes
        if [code.hash for code in map(codes.get, code_hashes, repeat(EMPTY_CODE))] != list(code_hashes.values()):
            return False
        storage, empty = state.storage, {}
        for address, seen in slots.items():
            if list(map(storage.get(address, empty).get, seen, repeat(0))) != list(seen.values()):
                return False
        return all(bool(storage.get(address)) == flag for address, flag in storage_flags.items())


class RecordingFirstReads(RecordsTxReads, FirstReads):
    __slots__ = ("tx_reads",)

    def __init__(self, state: BlockState) -> None:
        super().__init__(state)
        self.tx_reads = set()


class SplitWorkerCore(ChunkQueue):
    """The range split's worker: its chunks run in order on its own copy of the state."""

    __slots__ = ("state",)

    def __init__(self, env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes], state: BlockState,
                 record_access: bool) -> None:
        super().__init__(env, txs, senders, record_access)
        self.state = state  # this worker's own copy, updated chunk by chunk

    def take(self, op: tuple) -> None:
        """DROP: forget the queued chunks in a range (the coordinator runs them)."""
        if op[0] == DROP:
            self.tasks = [task for task in self.tasks if not op[1] <= task[0] < op[2]]
            heapify(self.tasks)
        else:
            super().take(op)

    def run_next(self) -> tuple:
        """Execute the lowest queued chunk on the state; its outcome, as Block-STM's worker reports
        one: (DONE, chunk, incarnation, reads, writes as the wire tuple, results as wire tuples,
        tx_seconds, access, cpu)."""
        chunk, incarnation, first, last = heappop(self.tasks)
        reader = (RecordingFirstReads if self.record_access else FirstReads)(self.state)
        results, seconds, access, cpu = execute_chunk(self, reader, first, last)
        return (DONE, chunk, incarnation, reader.reads(), ChunkWrites.to_wire(reader.writes()),
                [result_to_wire(result) for result in results], seconds, access, cpu)

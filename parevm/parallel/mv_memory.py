"""Block-STM's multi-version memory: for each location, the value each chunk of transactions wrote.

The engine schedules *chunks* (runs of consecutive transactions, see `parevm.parallel.engine`), so
versions are keyed by chunk index: a chunk reading a location sees the write of the highest chunk
below it, or the block's pre-state. A chunk whose incarnation was aborted has its writes marked
ESTIMATE (`estimates`): a reader that resolves to one raises `ReadEstimate` and waits for that chunk
instead of executing on a value that is about to change.

Locations come in six kinds, each with its own `WriterIndex` (who wrote it):

* `accounts`: address -> (nonce, balance), or None for a deleted account (a full write);
* `deltas`: address -> balance increment, from transactions that never read that balance (fees to
  the coinbase, value sent to an unread account). Deltas commute: an account read is the latest
  full write below the reader plus every delta between it and the reader, so a transaction that
  really reads the coinbase balance depends on every fee payer before it, and fee payers do not
  depend on each other;
* `codes`: address -> `Code` (a deleted account writes the empty code);
* `slots`: (address, slot) -> value;
* `clears`: address, for a chunk that wiped the account's storage (self-destruct, deletion,
  re-creation); slots the chunk wrote after the wipe are in its `slots`. A slot read takes the
  later of the slot's and the wipe's writers: a wipe means 0;
* `storage_writers`: address, for a chunk that wrote any of its slots; with `clears` it answers
  `has_storage` (the set of non-zero slots) exactly.

Values stay in each chunk's `ChunkWrites`; the indexes only say whose to read. Most locations are
written by a single chunk, so an index keeps those in a plain dict filled with `dict.update` and
probed with set operations, and moves a location to a sorted list only when a second chunk writes
it. The coordinator owns the authoritative instance; each worker holds a replica fed with the same
`record`/`mark_estimate` calls (see `parevm.parallel.executor`).
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import Iterable

from parevm.state.block_state import BlockState
from parevm.state.code import EMPTY_CODE, Code, code_of
from parevm.state.tx_state import TxWrites

NONE = -1  # "no writer below the reader": the value comes from the pre-state


class ReadEstimate(BaseException):
    """A read resolved to an ESTIMATE of chunk `writer`: the reader must wait for it.

    A BaseException so that no `except Exception` on the way up through the interpreter swallows it."""

    def __init__(self, writer: int) -> None:
        super().__init__(writer)
        self.writer = writer


class WriterIndex:
    """Which chunks wrote each location of one kind."""

    __slots__ = ("single", "multi")

    def __init__(self) -> None:
        self.single: dict = {}  # location -> its only writer
        self.multi: dict = {}  # location -> sorted writers (two or more)

    def add(self, locations, writer: int) -> None:
        """Add `writer` to `locations` (a set or keys view; `writer` is not yet among their writers)."""
        single, multi = self.single, self.multi
        if multi:
            shared = multi.keys() & locations
            if shared:
                for location in shared:
                    insort(multi[location], writer)
                locations = locations - shared
        if single:
            clash = single.keys() & locations
            if clash:
                for location in clash:
                    other = single.pop(location)
                    multi[location] = [other, writer] if other < writer else [writer, other]
                locations = locations - clash
        single.update(dict.fromkeys(locations, writer))

    def remove(self, locations: Iterable, writer: int) -> None:
        single, multi = self.single, self.multi
        for location in locations:
            if single.get(location) == writer:
                del single[location]
            else:
                writers = multi[location]
                writers.remove(writer)
                if len(writers) == 1:
                    single[location] = writers[0]
                    del multi[location]

    def latest_below(self, location, reader: int) -> int:
        """The highest writer below `reader`, or NONE."""
        writer = self.single.get(location)
        if writer is not None:
            return writer if writer < reader else NONE
        writers = self.multi.get(location)
        if writers is None:
            return NONE
        i = bisect_left(writers, reader)
        return writers[i - 1] if i else NONE

    def between(self, location, low: int, high: int) -> list[int]:
        """The writers strictly between `low` and `high`, ascending."""
        writer = self.single.get(location)
        if writer is not None:
            return [writer] if low < writer < high else []
        writers = self.multi.get(location)
        if writers is None:
            return []
        return writers[bisect_left(writers, low + 1):bisect_left(writers, high)]

    def written_by_others(self, locations: set, own) -> set:
        """The subset of `locations` that some chunk other than the owner of `own` (its written
        locations) writes: the only reads that a validation has to look at."""
        found = (locations - own) & self.single.keys() if self.single else set()
        if self.multi:
            found |= locations & self.multi.keys()
        return found


class ChunkWrites:
    """One chunk incarnation's writes, in the shape the multi-version memory reads them.

    Built from the wire tuple a worker sends (`to_wire`): accounts, deltas, code bytes, storage
    (address -> slot -> value, written after the last wipe) and wiped addresses."""

    __slots__ = ("accounts", "deltas", "codes", "storage", "slots", "clears")

    def __init__(self, wire: tuple) -> None:
        accounts, deltas, codes, storage, cleared = wire
        self.accounts: dict[bytes, tuple[int, int] | None] = accounts
        self.deltas: dict[bytes, int] = deltas
        self.codes: dict[bytes, Code] = {address: code_of(data) for address, data in codes.items()}
        self.storage: dict[bytes, dict[int, int]] = storage
        self.slots: dict[tuple[bytes, int], int] = {
            (address, slot): value for address, slots in storage.items() for slot, value in slots.items()}
        self.clears: dict[bytes, None] = dict.fromkeys(cleared)

    @staticmethod
    def to_wire(writes: TxWrites) -> tuple:
        """A chunk's composed `TxWrites` as plain picklable containers (code as bytes, not `Code`)."""
        return (writes.accounts, writes.balance_deltas, {a: code.bytes for a, code in writes.codes.items()},
                writes.storage, writes.cleared_storage)

    @staticmethod
    def wire_tx_writes(wire: tuple) -> TxWrites:
        """The `TxWrites` of a `to_wire` tuple (code bytes back to `Code`)."""
        accounts, deltas, codes, storage, cleared = wire
        return TxWrites(accounts, deltas, {address: code_of(data) for address, data in codes.items()}, storage,
                        set(cleared))

    def tx_writes(self) -> TxWrites:
        """As a `TxWrites`, which `BlockState.apply` applies exactly as it would the chunk's
        transactions one by one (see `parevm.parallel.executor.compose`)."""
        return TxWrites(self.accounts, self.deltas, self.codes, self.storage, set(self.clears))

    def locations(self) -> tuple[dict, ...]:
        """The written locations of each kind, in `MVMemory.indexes` order."""
        return self.accounts, self.deltas, self.codes, self.slots, self.clears, self.storage


_NO_WRITES = ChunkWrites(({}, {}, {}, {}, ()))


class MVMemory:
    """Multi-version memory over a pre-state `base` (never modified here)."""

    __slots__ = ("base", "entries", "estimates", "accounts", "deltas", "codes", "slots", "clears",
                 "storage_writers", "indexes", "touched_addresses", "touched_slots", "wiped", "storage_addresses")

    def __init__(self, base: BlockState) -> None:
        self.base = base
        self.entries: dict[int, ChunkWrites] = {}  # chunk -> writes of its latest recorded incarnation
        self.estimates: set[int] = set()  # chunks whose writes are ESTIMATEs
        self.accounts = WriterIndex()
        self.deltas = WriterIndex()
        self.codes = WriterIndex()
        self.slots = WriterIndex()
        self.clears = WriterIndex()
        self.storage_writers = WriterIndex()
        self.indexes = (self.accounts, self.deltas, self.codes, self.slots, self.clears, self.storage_writers)
        # Everything ever written (never shrinks): a read outside these is a pre-state read.
        self.touched_addresses: set[bytes] = set()  # account, delta or code writes
        self.touched_slots: set[tuple[bytes, int]] = set()
        self.wiped: set[bytes] = set()  # storage wipes
        self.storage_addresses: set[bytes] = set()  # any slot write or wipe

    def clone(self) -> MVMemory:
        """An independent copy (for a worker started in-process after the block began)."""
        copy = MVMemory(self.base)
        copy.entries = dict(self.entries)
        copy.estimates = set(self.estimates)
        for mine, theirs in zip(copy.indexes, self.indexes):
            mine.single = dict(theirs.single)
            mine.multi = {location: list(writers) for location, writers in theirs.multi.items()}
        copy.touched_addresses = set(self.touched_addresses)
        copy.touched_slots = set(self.touched_slots)
        copy.wiped = set(self.wiped)
        copy.storage_addresses = set(self.storage_addresses)
        return copy

    # ------------------------------------------------------------------ writing
    def record(self, chunk: int, writes: ChunkWrites) -> bool:
        """Install a chunk incarnation's writes (replacing the previous incarnation's, which stop
        being ESTIMATEs). Returns whether it wrote a location the previous one did not."""
        previous = self.entries.get(chunk, _NO_WRITES)
        wrote_new = False
        for index, now, before in zip(self.indexes, writes.locations(), previous.locations()):
            if before:
                gone = before.keys() - now.keys()
                if gone:
                    index.remove(gone, chunk)
                added = now.keys() - before.keys()
            else:
                added = now.keys()
            if added:
                index.add(added, chunk)
                wrote_new = True
        self.entries[chunk] = writes
        self.estimates.discard(chunk)
        self.touched_addresses.update(writes.accounts, writes.deltas, writes.codes)
        self.touched_slots.update(writes.slots)
        self.wiped.update(writes.clears)
        self.storage_addresses.update(writes.storage, writes.clears)
        return wrote_new

    def mark_estimate(self, chunk: int) -> None:
        """The chunk's incarnation was aborted: its writes become ESTIMATEs until it records again."""
        self.estimates.add(chunk)

    # ------------------------------------------------------------------ reading (as chunk `reader`)
    def _entry(self, writer: int) -> ChunkWrites:
        if writer in self.estimates:
            raise ReadEstimate(writer)
        return self.entries[writer]

    def read_account(self, address: bytes, reader: int) -> tuple[int, int] | None:
        writer = self.accounts.latest_below(address, reader)
        value = self.base.accounts.get(address) if writer == NONE else self._entry(writer).accounts[address]
        for writer in self.deltas.between(address, writer, reader):
            delta = self._entry(writer).deltas[address]
            value = (0, delta) if value is None else (value[0], value[1] + delta)
        return value

    def read_code(self, address: bytes, reader: int) -> Code:
        writer = self.codes.latest_below(address, reader)
        if writer == NONE:
            return self.base.codes.get(address, EMPTY_CODE)
        return self._entry(writer).codes[address]

    def read_slot(self, address: bytes, slot: int, reader: int) -> int:
        location = (address, slot)
        writer = self.slots.latest_below(location, reader)
        wiper = self.clears.latest_below(address, reader) if address in self.wiped else NONE
        if writer == NONE and wiper == NONE:
            slots = self.base.storage.get(address)
            return slots.get(slot, 0) if slots else 0
        if writer >= wiper:
            return self._entry(writer).slots[location]
        self._entry(wiper)
        return 0

    def read_storage_keys(self, address: bytes, reader: int) -> frozenset[int]:
        """The account's non-zero slots (what `has_storage` needs, exactly)."""
        writers = sorted({*self.storage_writers.between(address, NONE, reader),
                          *self.clears.between(address, NONE, reader)})
        keys = set(self.base.storage.get(address, ()))
        for writer in writers:
            entry = self._entry(writer)
            if address in entry.clears:
                keys.clear()
            for slot, value in entry.storage.get(address, {}).items():
                if value:
                    keys.add(slot)
                else:
                    keys.discard(slot)
        return frozenset(keys)

    # ------------------------------------------------------------------ validation
    def validate(self, chunk: int, reads: tuple) -> bool:
        """Whether every read of the chunk's latest incarnation still sees what it saw.

        `reads` (see `ChunkReader.read_set`): per kind, the locations whose value equalled the
        pre-state's (checked only where another chunk writes them) and the values that differed
        from it (all compared)."""
        (account_base, account_seen, code_base, code_seen, slot_base, slot_seen, keys_base, keys_seen) = reads
        own = self.entries[chunk]
        base = self.base
        try:
            for address in (self.accounts.written_by_others(account_base, own.accounts.keys())
                            | self.deltas.written_by_others(account_base, own.deltas.keys())):
                if self.read_account(address, chunk) != base.accounts.get(address):
                    return False
            for address, value in account_seen.items():
                if self.read_account(address, chunk) != value:
                    return False
            for address in self.codes.written_by_others(code_base, own.codes.keys()):
                if self.read_code(address, chunk) != base.codes.get(address, EMPTY_CODE):
                    return False
            for address, code_hash in code_seen.items():
                if self.read_code(address, chunk).hash != code_hash:
                    return False
            suspects = self.slots.written_by_others(slot_base, own.slots.keys())
            if self.wiped:
                suspects.update(location for location in slot_base if location[0] in self.wiped)
            for address, slot in suspects:
                if self.read_slot(address, slot, chunk) != base.read_storage(address, slot):
                    return False
            for (address, slot), value in slot_seen.items():
                if self.read_slot(address, slot, chunk) != value:
                    return False
            for address in keys_base:
                if address in self.storage_addresses and \
                        self.read_storage_keys(address, chunk) != frozenset(base.storage.get(address, ())):
                    return False
            for address, keys in keys_seen.items():
                if self.read_storage_keys(address, chunk) != keys:
                    return False
        except ReadEstimate:
            return False
        return True

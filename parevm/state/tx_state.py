"""The state one transaction sees: reads through a backing, writes buffered, every change journaled.

This is the single interface between the interpreter and state. The interpreter never touches a
backing directly: it reads and writes through `TxState`, which

* loads each location (account nonce/balance, code, storage slot) from the backing at most once,
  so a backing that records reads (the Block-STM one) sees exactly the transaction's read set;
* keeps balance increments on accounts whose balance it never read as *deltas* (value transfers
  into an account and fees to the beneficiary then commute between transactions);
* journals every change so a call frame can be reverted to a snapshot;
* hands back the transaction's write set (`TxWrites`) at the end.

Locations are three kinds, read separately so that reading one never implies a dependency on
another: an account's (nonce, balance), its code, and each storage slot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from parevm.state.code import EMPTY_CODE, Code


class StateBacking(Protocol):
    """What a transaction reads from: the block state before it (sequential) or the multi-version memory."""

    def read_account(self, address: bytes) -> tuple[int, int] | None:
        """(nonce, balance), or None if the account does not exist."""

    def read_code(self, address: bytes) -> Code: ...

    def read_storage(self, address: bytes, slot: int) -> int: ...

    def has_storage(self, address: bytes) -> bool:
        """Whether any slot of the account is non-zero (EIP-7610 creation collisions)."""


@dataclass(slots=True)
class TxWrites:
    """Everything a transaction changed, in the form a backing applies."""

    accounts: dict[bytes, tuple[int, int] | None] = field(default_factory=dict)  # None: deleted
    balance_deltas: dict[bytes, int] = field(default_factory=dict)  # balance never read: add, create if absent
    codes: dict[bytes, Code] = field(default_factory=dict)
    storage: dict[bytes, dict[int, int]] = field(default_factory=dict)
    cleared_storage: set[bytes] = field(default_factory=set)  # wiped before `storage` applies


# journal entry kinds
_ACCOUNT, _DELTA, _FOLD, _CODE, _STORAGE, _TRANSIENT, _WARM_ADDRESS, _WARM_SLOT, _TOUCH, _CREATED, \
    _DESTRUCT, _CLEAR = range(12)

_ABSENT = object()


class TxState:
    __slots__ = ("backing", "accounts", "deltas", "codes", "storage", "original", "cleared", "transient",
                 "warm_addresses", "warm_slots", "touched", "created", "destructed", "journal",
                 "_read_accounts", "_read_codes")

    def __init__(self, backing: StateBacking) -> None:
        self.backing = backing
        self.accounts: dict[bytes, tuple[int, int] | None] = {}
        self._read_accounts: dict[bytes, tuple[int, int] | None] = {}  # as first read, to skip no-op writes
        self.deltas: dict[bytes, int] = {}
        self.codes: dict[bytes, Code] = {}
        self._read_codes: dict[bytes, Code] = {}
        self.storage: dict[bytes, dict[int, int]] = {}
        self.original: dict[bytes, dict[int, int]] = {}
        self.cleared: set[bytes] = set()
        self.transient: dict[tuple[bytes, int], int] = {}
        self.warm_addresses: set[bytes] = set()
        self.warm_slots: set[tuple[bytes, int]] = set()
        self.touched: set[bytes] = set()
        self.created: set[bytes] = set()
        self.destructed: set[bytes] = set()
        self.journal: list[tuple] = []

    # ------------------------------------------------------------------ accounts
    def _account(self, address: bytes) -> tuple[int, int] | None:
        try:
            return self.accounts[address]
        except KeyError:
            pass
        acct = self._read_accounts[address] = self.backing.read_account(address)
        delta = self.deltas.pop(address, None)
        if delta is not None:  # fold pending increments into the now-known balance (undone by revert)
            self.journal.append((_FOLD, address, delta))
            acct = (acct[0], acct[1] + delta) if acct is not None else (0, delta)
        self.accounts[address] = acct
        return acct

    def _set_account(self, address: bytes, value: tuple[int, int] | None) -> None:
        self.journal.append((_ACCOUNT, address, self._account(address)))
        self.accounts[address] = value

    def exists(self, address: bytes) -> bool:
        return self._account(address) is not None

    def get_balance(self, address: bytes) -> int:
        acct = self._account(address)
        return 0 if acct is None else acct[1]

    def get_nonce(self, address: bytes) -> int:
        acct = self._account(address)
        return 0 if acct is None else acct[0]

    def is_empty(self, address: bytes) -> bool:
        """EIP-161 empty: no nonce, no balance, no code (a non-existent account is empty too)."""
        acct = self._account(address)
        return acct is None or (acct[0] == 0 and acct[1] == 0 and not self.get_code(address))

    def is_alive(self, address: bytes) -> bool:
        """Exists and is not empty (EIP-161's 'dead' is the opposite)."""
        return not self.is_empty(address)

    def has_code_or_nonce(self, address: bytes) -> bool:
        acct = self._account(address)
        return acct is not None and (acct[0] != 0 or bool(self.get_code(address)))

    def set_nonce(self, address: bytes, nonce: int) -> None:
        acct = self._account(address)
        self._set_account(address, (nonce, 0 if acct is None else acct[1]))

    def increment_nonce(self, address: bytes) -> None:
        acct = self._account(address)
        self._set_account(address, (1, 0) if acct is None else (acct[0] + 1, acct[1]))

    def set_balance(self, address: bytes, balance: int) -> None:
        acct = self._account(address)
        self._set_account(address, (0 if acct is None else acct[0], balance))

    def add_balance(self, address: bytes, amount: int) -> None:
        """Credit `amount`; creates the account if absent. Does not read the balance if not yet read."""
        accounts = self.accounts
        if address in accounts:
            acct = accounts[address]
            self.journal.append((_ACCOUNT, address, acct))
            accounts[address] = (acct[0], acct[1] + amount) if acct is not None else (0, amount)
        else:
            deltas = self.deltas
            pending = deltas.get(address)
            self.journal.append((_DELTA, address, pending))
            deltas[address] = amount if pending is None else pending + amount

    def sub_balance(self, address: bytes, amount: int) -> None:
        """Debit `amount` (the caller has checked the balance suffices)."""
        acct = self._account(address)
        self._set_account(address, (acct[0], acct[1] - amount))

    def create_account(self, address: bytes, nonce: int) -> None:
        """Start a new contract at `address`: its storage is wiped, its balance kept (EELS create semantics)."""
        acct = self._account(address)
        self._set_account(address, (nonce, 0 if acct is None else acct[1]))
        self._clear_storage(address)
        self.journal.append((_CREATED, address))
        self.created.add(address)

    def destroy_account(self, address: bytes) -> None:
        """Delete the account with its code and storage."""
        self._account(address)
        self._set_account(address, None)
        self.set_code(address, EMPTY_CODE)
        self._clear_storage(address)

    def touch(self, address: bytes) -> None:
        """Record a touch (EIP-161: a touched account that ends the transaction empty is deleted)."""
        if address not in self.touched:
            self.touched.add(address)
            self.journal.append((_TOUCH, address))

    def create_if_absent(self, address: bytes) -> None:
        """Pre-EIP-161 touch semantics: a message to a non-existent account creates it."""
        if address in self.deltas:
            return  # a pending delta creates it when applied
        if self._account(address) is None:
            self._set_account(address, (0, 0))

    # ------------------------------------------------------------------ code
    def get_code(self, address: bytes) -> Code:
        try:
            return self.codes[address]
        except KeyError:
            code = self.codes[address] = self._read_codes[address] = self.backing.read_code(address)
            return code

    def set_code(self, address: bytes, code: Code) -> None:
        self.journal.append((_CODE, address, self.get_code(address)))
        self.codes[address] = code

    # ------------------------------------------------------------------ storage
    def get_storage(self, address: bytes, slot: int) -> int:
        slots = self.storage.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                return value
        return self._load_slot(address, slot)[0]

    def _load_slot(self, address: bytes, slot: int) -> tuple[int, int]:
        """(current, original) of a slot not yet in the overlay."""
        if address in self.cleared:  # created in this transaction: pre-existing storage is ignored
            value = original = 0
        else:
            value = original = self.backing.read_storage(address, slot)
            self.original.setdefault(address, {})[slot] = original
        self.storage.setdefault(address, {})[slot] = value
        return value, original

    def get_original_storage(self, address: bytes, slot: int) -> int:
        """The slot's value when the transaction began (EIP-1283/2200 gas); 0 for contracts it created."""
        if address in self.created:
            return 0
        orig = self.original.get(address)
        if orig is not None and slot in orig:
            return orig[slot]
        return self._load_slot(address, slot)[1]

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        slots = self.storage.get(address)
        if slots is None:
            slots = self.storage[address] = {}
        old = slots.get(slot, _ABSENT)
        if old is _ABSENT:
            old = self._load_slot(address, slot)[0]
        self.journal.append((_STORAGE, address, slot, old))
        slots[slot] = value

    def has_storage(self, address: bytes) -> bool:
        slots = self.storage.get(address)
        if slots and any(slots.values()):
            return True
        if address in self.cleared:
            return False
        return self.backing.has_storage(address)

    def _clear_storage(self, address: bytes) -> None:
        self.journal.append((_CLEAR, address, address in self.cleared, self.storage.pop(address, None)))
        self.cleared.add(address)

    # ------------------------------------------------------------------ transient storage (EIP-1153)
    def get_transient(self, address: bytes, slot: int) -> int:
        return self.transient.get((address, slot), 0)

    def set_transient(self, address: bytes, slot: int, value: int) -> None:
        key = (address, slot)
        self.journal.append((_TRANSIENT, key, self.transient.get(key, 0)))
        self.transient[key] = value

    # ------------------------------------------------------------------ access lists (EIP-2929)
    def warm_from_start(self, precompiles: Iterable[bytes], access_list: Iterable[tuple[bytes, Iterable[int]]],
                        *addresses: bytes) -> None:
        """Warm what a transaction starts with (precompiles, its access list, sender, coinbase), in
        bulk and unjournaled: no revert goes back before the transaction began."""
        warm = self.warm_addresses
        warm.update(precompiles)
        warm.update(addresses)
        for address, slots in access_list:
            warm.add(address)
            self.warm_slots.update([(address, slot) for slot in slots])

    def warm_address(self, address: bytes) -> bool:
        """Mark warm; True if it was cold."""
        if address in self.warm_addresses:
            return False
        self.warm_addresses.add(address)
        self.journal.append((_WARM_ADDRESS, address))
        return True

    def warm_slot(self, address: bytes, slot: int) -> bool:
        key = (address, slot)
        if key in self.warm_slots:
            return False
        self.warm_slots.add(key)
        self.journal.append((_WARM_SLOT, key))
        return True

    # ------------------------------------------------------------------ self-destruct bookkeeping
    def mark_destructed(self, address: bytes) -> None:
        if address not in self.destructed:
            self.destructed.add(address)
            self.journal.append((_DESTRUCT, address))

    # ------------------------------------------------------------------ journal
    def snapshot(self) -> int:
        return len(self.journal)

    def revert(self, snapshot: int) -> None:
        journal = self.journal
        while len(journal) > snapshot:
            entry = journal.pop()
            kind = entry[0]
            if kind == _STORAGE:
                self.storage[entry[1]][entry[2]] = entry[3]
            elif kind == _ACCOUNT:
                self.accounts[entry[1]] = entry[2]
            elif kind == _DELTA:
                if entry[2] is None:
                    del self.deltas[entry[1]]
                else:
                    self.deltas[entry[1]] = entry[2]
            elif kind == _FOLD:  # unload the account; the pending delta is pending again
                del self.accounts[entry[1]]
                self.deltas[entry[1]] = entry[2]
            elif kind == _TRANSIENT:
                self.transient[entry[1]] = entry[2]
            elif kind == _WARM_SLOT:
                self.warm_slots.discard(entry[1])
            elif kind == _WARM_ADDRESS:
                self.warm_addresses.discard(entry[1])
            elif kind == _CODE:
                self.codes[entry[1]] = entry[2]
            elif kind == _TOUCH:
                self.touched.discard(entry[1])
            elif kind == _CREATED:
                self.created.discard(entry[1])
            elif kind == _DESTRUCT:
                self.destructed.discard(entry[1])
            elif kind == _CLEAR:
                address, was_cleared, slots = entry[1], entry[2], entry[3]
                if not was_cleared:
                    self.cleared.discard(address)
                if slots is None:
                    self.storage.pop(address, None)
                else:
                    self.storage[address] = slots

    # ------------------------------------------------------------------ end of transaction
    def writes(self) -> TxWrites:
        """The transaction's write set (call after the last change; the journal is no longer needed)."""
        out = TxWrites()
        read = self._read_accounts
        for address, acct in self.accounts.items():
            if address not in read or read[address] != acct:
                out.accounts[address] = acct
        out.balance_deltas = {a: d for a, d in self.deltas.items()}
        for address, code in self.codes.items():
            if code is not self._read_codes.get(address):
                out.codes[address] = code
        for address in self.cleared:
            out.cleared_storage.add(address)
        for address, slots in self.storage.items():
            orig = self.original.get(address, {})
            cleared = address in self.cleared
            changed = {s: v for s, v in slots.items() if cleared or orig.get(s) != v}
            if changed:
                out.storage[address] = changed
        return out


"""The sequential backing: the block's state as plain dicts, updated after each transaction."""
from __future__ import annotations

from typing import Iterable

from parevm.state.code import EMPTY_CODE, Code, code_of
from parevm.state.trie import state_root as trie_state_root
from parevm.state.tx_state import TxWrites


class BlockState:
    """Accounts (nonce, balance), code and storage, read by `TxState` and updated with `apply`."""

    __slots__ = ("accounts", "codes", "storage")

    def __init__(self) -> None:
        self.accounts: dict[bytes, tuple[int, int]] = {}
        self.codes: dict[bytes, Code] = {}
        self.storage: dict[bytes, dict[int, int]] = {}

    def copy(self) -> "BlockState":
        """An independent copy (code objects are shared: they never change)."""
        state = BlockState()
        state.accounts = dict(self.accounts)
        state.codes = dict(self.codes)
        state.storage = {address: dict(slots) for address, slots in self.storage.items()}
        return state

    @classmethod
    def from_accounts(cls, accounts: Iterable[tuple[bytes, int, int, bytes, dict[int, int]]]) -> "BlockState":
        """From (address, nonce, balance, code bytes, storage) entries."""
        state = cls()
        for address, nonce, balance, code, storage in accounts:
            state.accounts[address] = (nonce, balance)
            if code:
                state.codes[address] = code_of(code)
            slots = {slot: value for slot, value in storage.items() if value}
            if slots:
                state.storage[address] = slots
        return state

    # -- StateBacking
    def read_account(self, address: bytes) -> tuple[int, int] | None:
        return self.accounts.get(address)

    def read_code(self, address: bytes) -> Code:
        return self.codes.get(address, EMPTY_CODE)

    def read_storage(self, address: bytes, slot: int) -> int:
        slots = self.storage.get(address)
        return slots.get(slot, 0) if slots else 0

    def has_storage(self, address: bytes) -> bool:
        return bool(self.storage.get(address))

    # -- updates
    def apply(self, writes: TxWrites) -> None:
        accounts = self.accounts
        for address in writes.cleared_storage:
            self.storage.pop(address, None)
        for address, acct in writes.accounts.items():
            if acct is None:
                accounts.pop(address, None)
                self.codes.pop(address, None)
                self.storage.pop(address, None)
            else:
                accounts[address] = acct
        for address, delta in writes.balance_deltas.items():
            acct = accounts.get(address)
            accounts[address] = (0, delta) if acct is None else (acct[0], acct[1] + delta)
        for address, code in writes.codes.items():
            if code.bytes:
                self.codes[address] = code
            else:
                self.codes.pop(address, None)
        for address, slots in writes.storage.items():
            current = self.storage.get(address)
            if current is None:
                current = self.storage[address] = {}
            for slot, value in slots.items():
                if value:
                    current[slot] = value
                else:
                    current.pop(slot, None)
            if not current:
                del self.storage[address]

    def state_root(self) -> bytes:
        codes = self.codes
        storage = self.storage
        return trie_state_root(
            (address, nonce, balance, storage.get(address, {}), codes.get(address, EMPTY_CODE).hash)
            for address, (nonce, balance) in self.accounts.items())

"""The state interface (TxState over a backing) and interpreter properties the state tests cover thinly."""
from __future__ import annotations

import sys

from parevm.evm.analysis import HOT_BLOCK_ENTRIES
from parevm.evm.forks import CANCUN, FRONTIER
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import execute_transaction
from parevm.state.block_state import BlockState
from parevm.state.code import code_of
from parevm.state.tx_state import TxState
from parevm.tx import Transaction

A = bytes.fromhex("aa" * 20)
B = bytes.fromhex("bb" * 20)
C = bytes.fromhex("cc" * 20)


class RecordingBacking(BlockState):
    """A BlockState that records every read, like the parallel engine's backing does."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple] = []

    def read_account(self, address):
        self.reads.append(("account", address))
        return super().read_account(address)

    def read_code(self, address):
        self.reads.append(("code", address))
        return super().read_code(address)

    def read_storage(self, address, slot):
        self.reads.append(("slot", address, slot))
        return super().read_storage(address, slot)


def _backing() -> RecordingBacking:
    backing = RecordingBacking()
    backing.accounts = {A: (1, 100), B: (0, 50)}
    backing.storage = {A: {1: 11, 2: 22}}
    return backing


def test_each_location_is_read_from_the_backing_once():
    backing = _backing()
    state = TxState(backing)
    for _ in range(3):
        assert state.get_balance(A) == 100
        assert state.get_storage(A, 1) == 11
        assert not state.get_code(A)
    assert sorted(backing.reads) == sorted([("account", A), ("slot", A, 1), ("code", A)])


def test_credit_to_an_unread_account_is_a_delta_and_reads_nothing():
    backing = _backing()
    state = TxState(backing)
    state.add_balance(B, 7)
    state.add_balance(B, 3)
    assert backing.reads == []
    writes = state.writes()
    assert writes.balance_deltas == {B: 10}
    assert writes.accounts == {}


def test_reading_after_a_delta_folds_it_and_a_revert_unfolds_it():
    state = TxState(_backing())
    snapshot = state.snapshot()
    state.add_balance(B, 5)
    assert state.get_balance(B) == 55  # folded into the loaded balance
    state.revert(snapshot)
    assert state.get_balance(B) == 50
    assert state.writes().balance_deltas == {} and state.writes().accounts == {}


def test_reverted_credit_to_a_missing_account_does_not_create_it():
    state = TxState(_backing())
    snapshot = state.snapshot()
    state.add_balance(C, 0)
    state.revert(snapshot)
    assert C not in state.writes().balance_deltas


def test_journal_restores_storage_code_nonce_and_warmth():
    state = TxState(_backing())
    snapshot = state.snapshot()
    state.set_storage(A, 1, 99)
    state.set_code(A, code_of(b"\x00"))
    state.increment_nonce(A)
    state.warm_address(C)
    state.warm_slot(A, 5)
    state.set_transient(A, 1, 3)
    state.revert(snapshot)
    assert state.get_storage(A, 1) == 11
    assert not state.get_code(A)
    assert state.get_nonce(A) == 1
    assert state.warm_address(C) is True  # cold again
    assert state.warm_slot(A, 5) is True
    assert state.get_transient(A, 1) == 0


def test_original_storage_is_the_value_at_transaction_start():
    state = TxState(_backing())
    state.set_storage(A, 2, 0)
    state.set_storage(A, 2, 5)
    assert state.get_original_storage(A, 2) == 22
    assert state.writes().storage == {A: {2: 5}}


def test_created_account_ignores_pre_existing_storage():
    state = TxState(_backing())
    state.create_account(A, 1)
    assert state.get_storage(A, 1) == 0
    assert state.get_original_storage(A, 1) == 0
    writes = state.writes()
    assert A in writes.cleared_storage


def test_writes_skip_values_written_back_unchanged():
    state = TxState(_backing())
    state.set_storage(A, 1, 12)
    state.set_storage(A, 1, 11)
    state.set_balance(A, 100)
    writes = state.writes()
    assert writes.storage == {} and writes.accounts == {}


def test_destroyed_account_is_deleted_with_code_and_storage():
    backing = _backing()
    state = TxState(backing)
    state.destroy_account(A)
    backing.apply(state.writes())
    assert A not in backing.accounts and A not in backing.storage


def _run_code(code: bytes, fork=CANCUN, gas: int = 10_000_000):
    sender = bytes.fromhex("11" * 20)
    backing = BlockState()
    backing.accounts = {sender: (0, 10**18), C: (0, 0)}
    backing.codes = {C: code_of(code)}
    block = BlockEnv(fork=fork, chain_id=1, coinbase=B, number=1, timestamp=1, gas_limit=30_000_000)
    tx = Transaction(type=0, gas_price=1, gas_limit=gas, to=C, nonce=0, chain_id=1)
    state = TxState(backing)
    result = execute_transaction(tx, sender, state, block)
    backing.apply(state.writes())
    return result, backing


def test_call_depth_1024_does_not_use_python_recursion():
    # ADDRESS-recursive contract: CALL(gas, ADDRESS, 0, 0, 0, 0, 0) then store depth counter
    # PUSH0 SLOAD PUSH1 1 ADD PUSH0 SSTORE  (count entries), then call self with all gas.
    code = bytes.fromhex("5f546001015f55" "5f5f5f5f5f305af1" "00")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below 1024: recursion would fail loudly
    try:
        result, backing = _run_code(code, gas=29_000_000)
    finally:
        sys.setrecursionlimit(limit)
    assert result.success
    depth_reached = backing.storage[C][0]
    assert depth_reached > 300  # bounded by the 63/64 rule, not by Python


def test_hot_loop_compiled_and_interpreted_agree():
    # a countdown loop: PUSH2 n; JUMPDEST; PUSH1 1; SWAP1; SUB; DUP1; PUSH1 3; JUMPI; PUSH0; SSTORE
    def loop(n: int) -> bytes:
        return bytes.fromhex("61" + n.to_bytes(2, "big").hex() + "5b" + "600190" + "03" + "80" + "600357" + "5f55" + "00")
    few, _ = _run_code(loop(HOT_BLOCK_ENTRIES - 2))
    many, _ = _run_code(loop(HOT_BLOCK_ENTRIES * 4))
    # gas per iteration must be identical whether the block ran interpreted or compiled
    per_iteration = (many.gas_used - few.gas_used) / (HOT_BLOCK_ENTRIES * 4 - (HOT_BLOCK_ENTRIES - 2))
    assert per_iteration == 1 + 3 + 3 + 3 + 3 + 3 + 10  # JUMPDEST PUSH1 SWAP1 SUB DUP1 PUSH1 JUMPI


def test_frontier_code_deposit_out_of_gas_leaves_empty_contract():
    sender = bytes.fromhex("11" * 20)
    backing = BlockState()
    backing.accounts = {sender: (0, 10**18)}
    block = BlockEnv(fork=FRONTIER, chain_id=1, coinbase=B, number=1, timestamp=1, gas_limit=30_000_000)
    # initcode returns 100 bytes of code: deposit costs 20,000 gas, which this gas limit lacks
    initcode = bytes.fromhex("60646000f3")
    tx = Transaction(type=0, gas_price=1, gas_limit=21_000 + 5 * 68 + 100, to=None, data=initcode, nonce=0)
    state = TxState(backing)
    result = execute_transaction(tx, sender, state, block)
    backing.apply(state.writes())
    assert result.success and result.created_address in backing.accounts
    assert result.created_address not in backing.codes

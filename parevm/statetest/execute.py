"""Runs one state-test vector on parevm's EVM: pre-state, one transaction, post-state root and logs hash."""
from __future__ import annotations

from dataclasses import dataclass

from parevm.block.receipts import logs_hash
from parevm.crypto import keccak256
from parevm.evm.forks import BlobSchedule, fork_by_name
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import InvalidTransaction, blob_base_fee, execute_transaction
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState
from parevm.statetest.loader import PostEntry, StateTest
from parevm.tx import Authorization, Transaction, TransactionError, private_key_address

UINT256_LIMIT = 1 << 256


@dataclass(slots=True)
class VectorOutcome:
    state_root: bytes
    logs_hash: bytes
    rejected: str | None
    post_state: dict[bytes, tuple[int, int, bytes, dict[int, int]]]


def _test_block_hash(number: int) -> bytes:
    """State tests have no chain: BLOCKHASH(n) is keccak of n's decimal string (as in geth and EELS)."""
    return keccak256(str(number).encode())


def build_transaction(test: StateTest, entry: PostEntry) -> Transaction:
    t = test.tx
    value = t.values[entry.value_index]
    gas_limit = t.gas_limits[entry.gas_index]
    if value >= UINT256_LIMIT or gas_limit >= UINT256_LIMIT:
        raise InvalidTransaction("RLP_INVALID_VALUE", "a field does not fit in 256 bits")
    if t.authorization_list and any(a.nonce >= 1 << 64 or a.y_parity >= 1 << 8 for a in t.authorization_list):
        # EIP-7702 bounds the tuple's fields: such a transaction cannot even be encoded
        raise InvalidTransaction("TYPE_4_INVALID_AUTHORIZATION_FORMAT", "an authorization field is out of bounds")
    access_list = t.access_lists[entry.data_index] if t.access_lists else None
    fields = dict(nonce=t.nonce, gas_limit=gas_limit, to=t.to, value=value, data=t.data[entry.data_index],
                  chain_id=test.config.chain_id)
    if t.authorization_list is not None:
        tx_type = 4
    elif t.blob_versioned_hashes is not None:
        tx_type = 3
    elif t.max_fee_per_gas is not None:
        tx_type = 2
    elif access_list is not None:
        tx_type = 1
    else:
        tx_type = 0
    if tx_type >= 2:
        fields.update(max_fee_per_gas=t.max_fee_per_gas, max_priority_fee_per_gas=t.max_priority_fee_per_gas)
    else:
        fields.update(gas_price=t.gas_price)
    if tx_type >= 1:
        fields["access_list"] = tuple((address, tuple(slots)) for address, slots in (access_list or ()))
    if tx_type == 3:
        fields.update(blob_versioned_hashes=tuple(t.blob_versioned_hashes),
                      max_fee_per_blob_gas=t.max_fee_per_blob_gas)
    if tx_type == 4:
        fields["authorization_list"] = tuple(
            Authorization(a.chain_id, a.address, a.nonce, a.y_parity, a.r, a.s) for a in t.authorization_list)
    try:
        return Transaction(type=tx_type, **fields)
    except TransactionError as exc:
        kind = f"TYPE_{tx_type}_TX_CONTRACT_CREATION" if t.to is None and tx_type >= 3 else "INVALID_TRANSACTION"
        raise InvalidTransaction(kind, str(exc)) from None


def execute_vector(test: StateTest, entry: PostEntry) -> VectorOutcome:
    fork = fork_by_name(entry.fork)
    if test.config.blob_schedule and entry.fork in test.config.blob_schedule:
        schedule = test.config.blob_schedule[entry.fork]
        fork = fork.derive(fork.name, blob_schedule=BlobSchedule(schedule.target, schedule.max,
                                                                  schedule.base_fee_update_fraction))
    env = test.env
    excess = env.excess_blob_gas or 0
    block = BlockEnv(fork=fork, chain_id=test.config.chain_id, coinbase=env.coinbase, number=env.number,
                     timestamp=env.timestamp, gas_limit=env.gas_limit, difficulty=env.difficulty,
                     prev_randao=env.prev_randao or bytes(32), base_fee=(env.base_fee or 0) if fork.eip1559 else 0,
                     excess_blob_gas=excess, blob_base_fee=blob_base_fee(fork, excess),
                     block_hash=_test_block_hash)
    backing = BlockState.from_accounts(
        (address, a.nonce, a.balance, a.code, a.storage) for address, a in test.pre.items())
    rejected = None
    logs = []
    try:
        tx = build_transaction(test, entry)
        sender = private_key_address(test.tx.secret_key)
        state = TxState(backing)
        result = execute_transaction(tx, sender, state, block)
    except InvalidTransaction as exc:
        rejected = exc.kind
    else:
        backing.apply(state.writes())
        logs = result.logs
    if not fork.eip158 and env.coinbase not in backing.accounts:
        # the tests' block pays the miner a reward of 0, which before EIP-161 still creates its account
        backing.accounts[env.coinbase] = (0, 0)
    post = {address: (nonce, balance, backing.read_code(address).bytes, dict(backing.storage.get(address, {})))
            for address, (nonce, balance) in backing.accounts.items()}
    return VectorOutcome(backing.state_root(), logs_hash(logs), rejected, post)

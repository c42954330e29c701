"""A transaction's life: validate, buy gas, apply authorizations, run the message, refund, pay fees.

`execute_transaction` works on a `TxState`, so the same code serves sequential execution, the
Block-STM engine and the state-test runner; what differs is only the backing the state reads from.
"""
from __future__ import annotations

from dataclasses import dataclass

from parevm.evm.forks import Fork
from parevm.evm.frame import BlockEnv, TxContext
from parevm.evm.gas import INITCODE_WORD, MAX_INITCODE_SIZE
from parevm.evm.instructions.system import create_address
from parevm.evm.interpreter import SUCCESS, new_frame, run
from parevm.primitives import Log
from parevm.state.code import DELEGATION_PREFIX, EMPTY_CODE, code_of
from parevm.state.tx_state import TxState
from parevm.tx import Transaction, recover_authority

TX_BASE = 21000
TX_CREATE = 32000
TX_DATA_ZERO = 4
ACCESS_LIST_ADDRESS = 2400
ACCESS_LIST_SLOT = 1900
PER_EMPTY_ACCOUNT = 25000
PER_AUTH_BASE = 12500
FLOOR_PER_TOKEN = 10
GAS_PER_BLOB = 1 << 17
MAX_NONCE = 2**64 - 1
VERSIONED_HASH_VERSION_KZG = 1
NULL_ADDRESS = bytes(20)


class InvalidTransaction(Exception):
    """The transaction cannot be included; `kind` is the EEST TransactionException name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(slots=True)
class TxResult:
    success: bool
    gas_used: int            # after refunds (and the EIP-7623 floor): what the receipt counts
    logs: list[Log]
    output: bytes
    blob_gas_used: int
    fee_to_coinbase: int     # already credited; reported for the parallel engine's bookkeeping
    created_address: bytes | None


def intrinsic_gas(tx: Transaction, fork: Fork) -> tuple[int, int]:
    """(intrinsic gas, EIP-7623 calldata floor) of a transaction under `fork`."""
    data = tx.data
    zeros = data.count(0)
    nonzero = len(data) - zeros
    gas = TX_BASE + zeros * TX_DATA_ZERO + nonzero * fork.calldata_nonzero_gas
    if tx.to is None:
        if fork.homestead:
            gas += TX_CREATE
        if fork.eip3860:
            gas += INITCODE_WORD * ((len(data) + 31) >> 5)
    for _, slots in tx.access_list:
        gas += ACCESS_LIST_ADDRESS + ACCESS_LIST_SLOT * len(slots)
    gas += PER_EMPTY_ACCOUNT * len(tx.authorization_list)
    floor = TX_BASE + FLOOR_PER_TOKEN * (zeros + 4 * nonzero) if fork.eip7623 else 0
    return gas, floor


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's integer approximation of factor * e ** (numerator / denominator)."""
    i = 1
    output = 0
    accumulator = factor * denominator
    while accumulator > 0:
        output += accumulator
        accumulator = (accumulator * numerator) // (denominator * i)
        i += 1
    return output // denominator


def blob_base_fee(fork: Fork, excess_blob_gas: int) -> int:
    if fork.blob_schedule is None:
        return 0
    return fake_exponential(1, excess_blob_gas, fork.blob_schedule.base_fee_update_fraction)


_TYPE_FLAG = {1: "eip2930", 2: "eip1559", 3: "eip4844", 4: "eip7702"}


def validate_transaction(tx: Transaction, sender: bytes, state: TxState, block: BlockEnv,
                         block_gas_used: int, block_blob_gas_used: int) -> tuple[int, int, int, int]:
    """Check everything that makes a transaction invalid; raise InvalidTransaction.

    Returns (intrinsic gas, calldata floor, effective gas price, blob gas)."""
    fork = block.fork
    if tx.type and not getattr(fork, _TYPE_FLAG[tx.type]):
        raise InvalidTransaction("TYPE_NOT_SUPPORTED", f"type {tx.type} transactions are not valid in {fork.name}")
    intrinsic, floor = intrinsic_gas(tx, fork)
    if max(intrinsic, floor) > tx.gas_limit:
        raise InvalidTransaction("INTRINSIC_GAS_TOO_LOW", f"gas limit {tx.gas_limit} < intrinsic gas "
                                                          f"{max(intrinsic, floor)}")
    if tx.nonce >= MAX_NONCE:
        raise InvalidTransaction("NONCE_IS_MAX", "nonce is 2**64-1")
    if fork.eip3860 and tx.to is None and len(tx.data) > MAX_INITCODE_SIZE:
        raise InvalidTransaction("INITCODE_SIZE_EXCEEDED", f"initcode of {len(tx.data)} bytes")
    if fork.eip7825_tx_gas_cap is not None and tx.gas_limit > fork.eip7825_tx_gas_cap:
        raise InvalidTransaction("GAS_LIMIT_EXCEEDS_MAXIMUM", f"gas limit {tx.gas_limit} above the cap")
    if tx.gas_limit > block.gas_limit - block_gas_used:
        raise InvalidTransaction("GAS_ALLOWANCE_EXCEEDED", f"gas limit {tx.gas_limit} exceeds the block's "
                                                           f"remaining {block.gas_limit - block_gas_used}")
    blob_gas = GAS_PER_BLOB * len(tx.blob_versioned_hashes)
    if tx.type == 3:
        max_blob_gas = fork.blob_schedule.max * GAS_PER_BLOB
        if blob_gas > max_blob_gas - block_blob_gas_used:
            raise InvalidTransaction("TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED", "too much blob gas in block")
    if tx.type >= 2:
        if tx.max_fee_per_gas < tx.max_priority_fee_per_gas:
            raise InvalidTransaction("PRIORITY_GREATER_THAN_MAX_FEE_PER_GAS", "priority fee above max fee")
        if tx.max_fee_per_gas < block.base_fee:
            raise InvalidTransaction("INSUFFICIENT_MAX_FEE_PER_GAS", "max fee per gas below the base fee")
        price = min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - block.base_fee) + block.base_fee
        max_fee = tx.gas_limit * tx.max_fee_per_gas
    else:
        if tx.gas_price < block.base_fee:
            raise InvalidTransaction("INSUFFICIENT_MAX_FEE_PER_GAS", "gas price below the base fee")
        price = tx.gas_price
        max_fee = tx.gas_limit * price
    if tx.type == 3:
        count = len(tx.blob_versioned_hashes)
        if count == 0:
            raise InvalidTransaction("TYPE_3_TX_ZERO_BLOBS", "blob transaction without blobs")
        if fork.eip7594_max_blobs_per_tx is not None and count > fork.eip7594_max_blobs_per_tx:
            raise InvalidTransaction("TYPE_3_TX_BLOB_COUNT_EXCEEDED", f"{count} blobs in one transaction")
        if any(h[0] != VERSIONED_HASH_VERSION_KZG for h in tx.blob_versioned_hashes):
            raise InvalidTransaction("TYPE_3_TX_INVALID_BLOB_VERSIONED_HASH", "blob hash version is not 1")
        if tx.max_fee_per_blob_gas < block.blob_base_fee:
            raise InvalidTransaction("INSUFFICIENT_MAX_FEE_PER_BLOB_GAS", "max fee per blob gas too low")
        max_fee += blob_gas * tx.max_fee_per_blob_gas
    if tx.type >= 3 and tx.to is None:
        raise InvalidTransaction(f"TYPE_{tx.type}_TX_CONTRACT_CREATION", "cannot create a contract")
    if tx.type == 4 and not tx.authorization_list:
        raise InvalidTransaction("TYPE_4_EMPTY_AUTHORIZATION_LIST", "empty authorization list")
    nonce = state.get_nonce(sender)
    if nonce > tx.nonce:
        raise InvalidTransaction("NONCE_MISMATCH_TOO_LOW", f"nonce {tx.nonce}, account nonce {nonce}")
    if nonce < tx.nonce:
        raise InvalidTransaction("NONCE_MISMATCH_TOO_HIGH", f"nonce {tx.nonce}, account nonce {nonce}")
    if state.get_balance(sender) < max_fee + tx.value:
        raise InvalidTransaction("INSUFFICIENT_ACCOUNT_FUNDS", "balance below gas * price + value")
    code = state.get_code(sender)
    if code.bytes and not (fork.eip7702 and code.delegate is not None):
        raise InvalidTransaction("SENDER_NOT_EOA", "sender has code (EIP-3607)")
    return intrinsic, floor, price, blob_gas


def _apply_authorizations(tx: Transaction, state: TxState, block: BlockEnv) -> int:
    """EIP-7702: install each valid authorization's delegation; returns the refund earned."""
    refund = 0
    for auth in tx.authorization_list:
        if auth.chain_id not in (block.chain_id, 0) or auth.nonce >= MAX_NONCE:
            continue
        authority = recover_authority(auth)
        if authority is None:
            continue
        state.warm_address(authority)
        code = state.get_code(authority)
        if code.bytes and code.delegate is None:
            continue
        if state.get_nonce(authority) != auth.nonce:
            continue
        if state.exists(authority):
            refund += PER_EMPTY_ACCOUNT - PER_AUTH_BASE
        state.set_code(authority, EMPTY_CODE if auth.address == NULL_ADDRESS
                       else code_of(DELEGATION_PREFIX + auth.address))
        state.increment_nonce(authority)
    return refund


def execute_transaction(tx: Transaction, sender: bytes, state: TxState, block: BlockEnv,
                        block_gas_used: int = 0, block_blob_gas_used: int = 0) -> TxResult:
    """Validate and execute `tx` against `state`; raises InvalidTransaction (state untouched)."""
    fork = block.fork
    intrinsic, floor, price, blob_gas = validate_transaction(tx, sender, state, block, block_gas_used,
                                                             block_blob_gas_used)
    # buy gas
    state.increment_nonce(sender)
    state.sub_balance(sender, tx.gas_limit * price + blob_gas * block.blob_base_fee)

    ctx = TxContext(block, state, sender, price, tx.blob_versioned_hashes)
    if fork.eip3651:
        state.warm_from_start(fork.precompiles, tx.access_list, sender, block.coinbase)
    elif fork.eip2929:
        state.warm_from_start(fork.precompiles, tx.access_list, sender)

    gas = tx.gas_limit - intrinsic
    created = None
    if tx.to is None:
        target = created = create_address(sender, state.get_nonce(sender) - 1)
        if fork.eip2929:
            state.warm_address(target)
        if state.has_code_or_nonce(target) or (fork.eip7610 and state.has_storage(target)):
            frame = None  # address collision: all gas is consumed
        else:
            frame = new_frame(ctx, caller=sender, address=target, code_address=target, code=code_of(tx.data),
                              gas=gas, value=tx.value, data=b"", is_static=False, depth=0, transfers_value=True,
                              is_create=True)
    else:
        target = tx.to
        if fork.eip2929:
            state.warm_address(target)
        if tx.authorization_list:
            ctx.refund += _apply_authorizations(tx, state, block)
        code = state.get_code(target)
        code_address = target
        delegated = fork.eip7702 and code.delegate is not None
        if delegated:
            code_address = code.delegate
            state.warm_address(code_address)
            code = state.get_code(code_address)
        frame = new_frame(ctx, caller=sender, address=target, code_address=code_address, code=code, gas=gas,
                          value=tx.value, data=tx.data, is_static=False, depth=0, transfers_value=True)
        if not delegated:
            frame.precompile = ctx.precompiles.get(target)

    if frame is None:
        success, gas_left, output = False, 0, b""
    else:
        run(frame)
        success, gas_left, output = frame.status == SUCCESS, frame.gas, frame.output
        if not success:
            state.touched.clear()  # a failed top-level call keeps no touches (not even 0x03's)

    # refund and fees
    used = tx.gas_limit - gas_left
    used -= min(used // fork.max_refund_quotient, ctx.refund)
    if used < floor:
        used = floor
    state.add_balance(sender, (tx.gas_limit - used) * price)
    fee = used * (price - block.base_fee)
    coinbase = block.coinbase
    if fee or not fork.eip158:
        state.add_balance(coinbase, fee)
    elif state.exists(coinbase) and state.is_empty(coinbase):
        state.destroy_account(coinbase)

    for address in state.destructed:
        state.destroy_account(address)
    if fork.touch_cleanup:
        for address in state.touched:
            if state.exists(address) and state.is_empty(address):
                state.destroy_account(address)
    return TxResult(success, used, ctx.logs if success else [], output, blob_gas, fee,
                    created if success else None)

"""Sequential execution of a block's transactions: the reference every other engine must equal."""
from __future__ import annotations

from typing import Sequence

from parevm.block.collector import block_collection
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import InvalidTransaction, TxResult, execute_transaction
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState
from parevm.tx import Transaction


class InvalidBlock(Exception):
    """A block that cannot be executed as given (an invalid transaction, gas over the limit, ...)."""


def execute_transactions(block: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes],
                         state: BlockState) -> list[TxResult]:
    """Execute `txs` in order on `state` (updated in place); one result per transaction."""
    gas_used = blob_gas_used = 0
    results = []
    with block_collection():
        for index, (tx, sender) in enumerate(zip(txs, senders)):
            tx_state = TxState(state)
            try:
                result = execute_transaction(tx, sender, tx_state, block, gas_used, blob_gas_used)
            except InvalidTransaction as exc:
                raise InvalidBlock(f"transaction {index}: {exc}") from None
            state.apply(tx_state.writes())
            gas_used += result.gas_used
            blob_gas_used += result.blob_gas_used
            results.append(result)
    return results

"""Transaction receipts: their consensus encoding, the receipts trie root, the block bloom, logs hash."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from parevm.block.bloom import combine_blooms, logs_bloom
from parevm.crypto import keccak256
from parevm.primitives import Log
from parevm.rlp import encode
from parevm.state.trie import ordered_trie_root


@dataclass(slots=True, frozen=True)
class Receipt:
    """One transaction's receipt.

    `status_or_state_root` is the status code (1 success, 0 failure) from Byzantium on, and the
    32-byte state root after the transaction before it (EIP-658)."""

    tx_type: int
    status_or_state_root: int | bytes
    cumulative_gas_used: int
    logs: tuple[Log, ...]
    bloom: bytes

    @classmethod
    def build(cls, tx_type: int, status_or_state_root: int | bytes, cumulative_gas_used: int,
              logs: Iterable[Log]) -> Receipt:
        """A receipt with its bloom computed from `logs`."""
        logs = tuple(logs)
        return cls(tx_type, status_or_state_root, cumulative_gas_used, logs, logs_bloom(logs))


def encode_receipt(receipt: Receipt) -> bytes:
    """Consensus encoding: rlp([outcome, cumulative gas, bloom, logs]), prefixed by the type byte if typed (EIP-2718)."""
    payload = encode([
        receipt.status_or_state_root,
        receipt.cumulative_gas_used,
        receipt.bloom,
        receipt.logs,  # Log is a NamedTuple (address, topics, data): RLP encodes it as that list
    ])
    return payload if receipt.tx_type == 0 else bytes((receipt.tx_type,)) + payload


def receipts_root(receipts: Sequence[Receipt]) -> bytes:
    """The header's receiptsRoot: the trie of encoded receipts keyed by rlp(index)."""
    return ordered_trie_root([encode_receipt(receipt) for receipt in receipts])


def block_bloom(receipts: Iterable[Receipt]) -> bytes:
    """The header's logsBloom: the OR of every receipt's bloom."""
    return combine_blooms(receipt.bloom for receipt in receipts)


def logs_hash(logs: Sequence[Log]) -> bytes:
    """keccak(rlp(logs)), the `logs` field of a state test's post-state."""
    return keccak256(encode(tuple(logs)))

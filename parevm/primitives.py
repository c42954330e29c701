"""Value types shared by every layer (EVM, state, blocks).

Addresses are 20-byte `bytes`, hashes 32-byte `bytes`; storage keys, storage values and wei
amounts are plain `int` (the interpreter's stack holds ints, so no conversion on the hot path).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

Address = bytes
Hash32 = bytes

UINT256_MASK = (1 << 256) - 1


class Log(NamedTuple):
    """One LOG0..LOG4 record; topics are 32-byte big-endian words."""

    address: Address
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(slots=True)
class PreAccount:
    """An account as block and state-test files give it (a pre-state, or an EEST expected
    post-state); slots absent from `storage` are zero."""

    balance: int
    nonce: int
    code: bytes
    storage: dict[int, int]


def to_address(value: int) -> Address:
    """The low 160 bits of a stack word as an address."""
    return (value & 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF).to_bytes(20, "big")

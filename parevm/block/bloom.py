"""Logs bloom (Yellow Paper, section 4.3.1): a 2048-bit filter with three bits per log address and topic.

Blooms are accumulated as Python ints (bit i of the int is bit i of the 2048-bit big-endian
filter, so `to_bytes(256, "big")` gives the wire form) because OR on ints is one C call.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from parevm.crypto import keccak256
from parevm.primitives import Log

BLOOM_BYTES = 256
EMPTY_BLOOM = bytes(BLOOM_BYTES)


@lru_cache(maxsize=4096)
def bloom_bits(item: bytes) -> int:
    """The three bits M3:2048(item): the low 11 bits of each of the first three byte pairs of keccak(item).

    Cached: a block's logs repeat the same few contracts and event signatures, and a cache hit
    costs ~20x less than the hash. Bounded, since each entry holds a 2048-bit int."""
    h = keccak256(item)
    return (
        (1 << (((h[0] << 8) | h[1]) & 2047))
        | (1 << (((h[2] << 8) | h[3]) & 2047))
        | (1 << (((h[4] << 8) | h[5]) & 2047))
    )


def logs_bloom_int(logs: Iterable[Log]) -> int:
    bloom = 0
    for address, topics, _data in logs:
        bloom |= bloom_bits(address)
        for topic in topics:
            bloom |= bloom_bits(topic)
    return bloom


def logs_bloom(logs: Iterable[Log]) -> bytes:
    """The 256-byte bloom of a transaction's logs."""
    return logs_bloom_int(logs).to_bytes(BLOOM_BYTES, "big")


def combine_blooms(blooms: Iterable[bytes]) -> bytes:
    """Bitwise OR of 256-byte blooms (a block's bloom from its receipts')."""
    combined = 0
    for bloom in blooms:
        combined |= int.from_bytes(bloom, "big")
    return combined.to_bytes(BLOOM_BYTES, "big")

"""The precompile record and the helpers every precompile module shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class PrecompileError(Exception):
    """Input rejected: the call fails and consumes all gas given to it."""


@dataclass(frozen=True, slots=True)
class Precompile:
    """One precompile under one pricing rule.

    The caller charges `gas(data)` first (a cost above the gas available fails the call
    with all gas consumed), then calls `run(data)`, which returns the output or raises
    PrecompileError (again all gas consumed). `gas` never raises."""

    name: str
    gas: Callable[[bytes], int]
    run: Callable[[bytes], bytes]


def word_count(size: int) -> int:
    """Number of 32-byte words needed to hold `size` bytes."""
    return (size + 31) >> 5


def right_pad(data: bytes, size: int) -> bytes:
    """`data` cut or zero-extended to exactly `size` bytes, as the EVM reads call data."""
    return data[:size].ljust(size, b"\0")


def fixed_gas(cost: int) -> Callable[[bytes], int]:
    """Gas function of a precompile whose price does not depend on its input."""
    return lambda data: cost


def per_word_gas(base: int, per_word: int) -> Callable[[bytes], int]:
    """Gas function `base + per_word * words(input)` (the hashes and identity)."""
    return lambda data: base + per_word * word_count(len(data))

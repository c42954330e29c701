"""The precompile record and the helpers every precompile module shares."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import wraps
from typing import Callable, TypeVar

T = TypeVar("T")


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


def load_once(load: Callable[[], T]) -> Callable[[], T]:
    """Decorator: `load()` runs on the first call only, later calls return its result.

    Precompiles reach their native libraries through such loaders, called when the precompile
    runs: importing them all costs every process ~0.15 s, and most blocks call none of them.
    A lock keeps two threads from running `load` twice (mcl's curve set-up must run once)."""
    lock = threading.Lock()
    loaded: list[T] = []

    @wraps(load)
    def get() -> T:
        if not loaded:
            with lock:
                if not loaded:
                    loaded.append(load())
        return loaded[0]

    return get

"""BLAKE2F (0x09, EIP-152): the BLAKE2b compression function F, one gas per round.

The rounds run in Rust (blake2b-py); a pure-Python round would be ~1000x too slow for a
price of 1 gas.
"""
from __future__ import annotations

from .base import Precompile, PrecompileError, load_once


@load_once  # on first use, not at import, like every precompile's native library
def _blake2b():
    import blake2b

    return blake2b


def _blake2f_gas(data: bytes) -> int:
    # The round count is the first 4 bytes; a malformed input is rejected by `run`.
    return int.from_bytes(data[:4], "big")


def _blake2f(data: bytes) -> bytes:
    try:
        return _blake2b().decode_and_compress(data)  # checks the 213-byte length and the 0/1 final flag
    except ValueError as error:
        raise PrecompileError(str(error)) from None


BLAKE2F = Precompile("blake2f", _blake2f_gas, _blake2f)

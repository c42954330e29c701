"""MODEXP (0x05): arbitrary-precision modular exponentiation, with GMP (gmpy2) doing the work.

Three pricing rules: EIP-198 (Byzantium), EIP-2565 (Berlin) and EIP-7883 (Osaka, which also
bounds every length to 1024 bytes per EIP-7823). Lengths in the header are 256-bit and may
be absurd; gas functions stay cheap on them (Python ints, clamped slicing), and `run` only
reads operands whose size the caller has already paid for.
"""
from __future__ import annotations

from typing import Callable

from .base import Precompile, PrecompileError, load_once, right_pad

_HEADER_SIZE = 96
_OSAKA_MAX_LENGTH = 1024


@load_once  # on first use, not at import: gmpy2 takes ~15 ms to import
def _gmpy2():
    import gmpy2

    return gmpy2


def _header(data: bytes) -> tuple[int, int, int]:
    """(base length, exponent length, modulus length) from the first three words."""
    header = right_pad(data, _HEADER_SIZE)
    return (
        int.from_bytes(header[0:32], "big"),
        int.from_bytes(header[32:64], "big"),
        int.from_bytes(header[64:96], "big"),
    )


def _read_int(data: bytes, start: int, length: int) -> int:
    """Integer in `length` bytes at `start`, reading zeros past the end of `data`."""
    chunk = data[start : start + length]
    return int.from_bytes(chunk, "big") << (8 * (length - len(chunk)))


def _exponent_bits(data: bytes, base_len: int, exp_len: int, bits_per_extra_byte: int) -> int:
    """The spec's "adjusted exponent length" (at least 1): the top bit index of the first
    32 exponent bytes plus a fixed charge for every exponent byte after them."""
    head_len = min(exp_len, 32)
    head = _read_int(data, _HEADER_SIZE + base_len, head_len)
    count = max(head.bit_length() - 1, 0)
    if exp_len > 32:
        count += bits_per_extra_byte * (exp_len - 32)
    return max(count, 1)


def _byzantium_complexity(size: int) -> int:
    if size <= 64:
        return size * size
    if size <= 1024:
        return size * size // 4 + 96 * size - 3072
    return size * size // 16 + 480 * size - 199680


def _gas_byzantium(data: bytes) -> int:
    base_len, exp_len, mod_len = _header(data)
    iterations = _exponent_bits(data, base_len, exp_len, 8)
    return _byzantium_complexity(max(base_len, mod_len)) * iterations // 20


def _gas_berlin(data: bytes) -> int:
    base_len, exp_len, mod_len = _header(data)
    words = (max(base_len, mod_len) + 7) // 8
    iterations = _exponent_bits(data, base_len, exp_len, 8)
    return max(200, words * words * iterations // 3)


def _gas_osaka(data: bytes) -> int:
    base_len, exp_len, mod_len = _header(data)
    size = max(base_len, mod_len)
    words = (size + 7) // 8
    complexity = 16 if size <= 32 else 2 * words * words
    iterations = _exponent_bits(data, base_len, exp_len, 16)
    return max(500, complexity * iterations)


def _modexp(data: bytes, max_length: int | None) -> bytes:
    base_len, exp_len, mod_len = _header(data)
    if max_length is not None and max(base_len, exp_len, mod_len) > max_length:
        raise PrecompileError("modexp operand longer than 1024 bytes (EIP-7823)")
    if mod_len == 0:
        # Checked before reading anything: with an empty modulus the older rules charge
        # nothing for base and exponent, whatever lengths they claim.
        return b""
    modulus = _read_int(data, _HEADER_SIZE + base_len + exp_len, mod_len)
    if modulus == 0:
        return bytes(mod_len)
    base = _read_int(data, _HEADER_SIZE, base_len)
    exponent = _read_int(data, _HEADER_SIZE + base_len, exp_len)
    return int(_gmpy2().powmod(base, exponent, modulus)).to_bytes(mod_len, "big")


def _runner(max_length: int | None) -> Callable[[bytes], bytes]:
    return lambda data: _modexp(data, max_length)


MODEXP_BYZANTIUM = Precompile("modexp", _gas_byzantium, _runner(None))
MODEXP_BERLIN = Precompile("modexp", _gas_berlin, _runner(None))
MODEXP_OSAKA = Precompile("modexp", _gas_osaka, _runner(_OSAKA_MAX_LENGTH))

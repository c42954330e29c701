"""ECRECOVER (0x01): the address that signed a hash, via libsecp256k1 (coincurve)."""
from __future__ import annotations

from parevm.crypto import recover_address

from .base import Precompile, fixed_gas, right_pad

_ADDRESS_PADDING = bytes(12)


def _ecrecover(data: bytes) -> bytes:
    # An unrecoverable signature is not an error: the call succeeds with empty output.
    data = right_pad(data, 128)
    v = int.from_bytes(data[32:64], "big")
    if v != 27 and v != 28:
        return b""
    address = recover_address(
        data[:32], v - 27, int.from_bytes(data[64:96], "big"), int.from_bytes(data[96:128], "big")
    )
    return b"" if address is None else _ADDRESS_PADDING + address


ECRECOVER = Precompile("ecrecover", fixed_gas(3000), _ecrecover)

"""P256VERIFY (EIP-7951).

P256VERIFY's official vectors (Wycheproof and more) run in test_precompiles_fixtures.py.
"""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from parevm.evm import precompiles as pc
from parevm.evm.precompiles.p256 import SECP256R1_N, SECP256R1_P

TRUE = (1).to_bytes(32, "big")


def signed(message: bytes, key=None) -> bytes:
    key = key or ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
    digest = hashlib.sha256(message).digest()
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(SHA256()))))
    numbers = key.public_key().public_numbers()
    return digest + b"".join(v.to_bytes(32, "big") for v in (r, s, numbers.x, numbers.y))


def replace_word(data: bytes, index: int, value: int) -> bytes:
    return data[: 32 * index] + value.to_bytes(32, "big") + data[32 * (index + 1) :]


def test_p256_valid_signature():
    data = signed(b"parevm")
    assert pc.P256VERIFY.gas(data) == 6900
    assert pc.P256VERIFY.run(data) == TRUE


def test_p256_high_s_is_valid():
    # EIP-7951 has no low-s rule: (r, n - s) verifies as well.
    data = signed(b"parevm")
    s = int.from_bytes(data[64:96], "big")
    assert pc.P256VERIFY.run(replace_word(data, 2, SECP256R1_N - s)) == TRUE


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:-1],
        lambda d: d + b"\x00",
        lambda d: b"",
        lambda d: bytes([d[0] ^ 1]) + d[1:],  # other message hash
        lambda d: replace_word(d, 1, 0),  # r = 0
        lambda d: replace_word(d, 1, SECP256R1_N),  # r = n
        lambda d: replace_word(d, 2, 0),  # s = 0
        lambda d: replace_word(d, 2, 2**256 - 1),  # s > n
        lambda d: replace_word(replace_word(d, 3, 0), 4, 0),  # (0, 0): infinity
        lambda d: replace_word(d, 4, (int.from_bytes(d[128:160], "big") + 1) % SECP256R1_P),  # off the curve
        lambda d: replace_word(d, 3, SECP256R1_P),  # x = p
        lambda d: replace_word(d, 4, SECP256R1_P + int.from_bytes(d[128:160], "big") % 2**30),  # y >= p
    ],
)
def test_p256_invalid_input_returns_empty_output(mutate):
    assert pc.P256VERIFY.run(mutate(signed(b"parevm"))) == b""

"""P256VERIFY (0x100, EIP-7951, Osaka): ECDSA verification on secp256r1 through OpenSSL
(the `cryptography` package).

Any invalid input, including a wrong length, is not an error: the call succeeds, costs its
6900 gas and returns empty output. A valid signature returns the 32-byte word 1.
"""
from __future__ import annotations

from typing import Callable

from .base import Precompile, fixed_gas, load_once

SECP256R1_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
SECP256R1_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_TRUE_WORD = (1).to_bytes(32, "big")


@load_once  # on first use, not at import: `cryptography` takes ~20 ms to import
def _openssl_verify() -> Callable[[bytes, int, int, bytes], bool]:
    """verify(digest, r, s, point): whether (r, s) signs the 32-byte digest for the public key
    `point` (SEC 1 uncompressed encoding), as OpenSSL checks it."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, SECP256R1, EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
    from cryptography.hazmat.primitives.hashes import SHA256

    curve = SECP256R1()
    prehashed_ecdsa = ECDSA(Prehashed(SHA256()))  # the input already is the 32-byte digest

    def verify(digest: bytes, r: int, s: int, point: bytes) -> bool:
        try:
            key = EllipticCurvePublicKey.from_encoded_point(curve, point)
            key.verify(encode_dss_signature(r, s), digest, prehashed_ecdsa)
        except (ValueError, InvalidSignature):
            return False
        return True

    return verify


def _p256verify(data: bytes) -> bytes:
    if len(data) != 160:
        return b""
    r = int.from_bytes(data[32:64], "big")
    s = int.from_bytes(data[64:96], "big")
    qx = int.from_bytes(data[96:128], "big")
    qy = int.from_bytes(data[128:160], "big")
    # Explicit range checks, as the EIP states them; OpenSSL then checks the curve equation
    # (which also rejects (0, 0), the infinity encoding) and R' != infinity, R'.x = r mod n.
    if not (0 < r < SECP256R1_N and 0 < s < SECP256R1_N and qx < SECP256R1_P and qy < SECP256R1_P):
        return b""
    if not _openssl_verify()(data[:32], r, s, b"\x04" + data[96:160]):
        return b""
    return _TRUE_WORD


P256VERIFY = Precompile("p256verify", fixed_gas(6900), _p256verify)

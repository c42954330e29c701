"""Hashing and signature primitives, all from native libraries.

keccak256 comes from safe-pysha3 (a C extension, ~0.7 us per call); secp256k1 public-key
recovery from coincurve (libsecp256k1). Nothing here is hand-rolled.
"""
from __future__ import annotations

from coincurve import PublicKey
from sha3 import keccak_256 as _keccak_256

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2

EMPTY_KECCAK = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def keccak256(data: bytes) -> bytes:
    return _keccak_256(data).digest()


def recover_address(msg_hash: bytes, v: int, r: int, s: int) -> bytes | None:
    """Address that signed `msg_hash` with recovery id `v` (0 or 1), or None if invalid.

    Range checks on r and s are the caller's (they differ between transactions,
    EIP-2 low-s, and the ecrecover precompile)."""
    if v not in (0, 1) or not (0 < r < SECP256K1_N) or not (0 < s < SECP256K1_N):
        return None
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))
    try:
        pub = PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    except Exception:  # libsecp256k1 rejects: no point for this r, or recovery failed
        return None
    return keccak256(pub.format(compressed=False)[1:])[12:]

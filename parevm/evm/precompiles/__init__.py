"""Precompiled contracts: one `Precompile` per (precompile, pricing variant).

The fork table maps addresses to these constants; the interpreter charges `gas(data)` and
then calls `run(data)` (see `Precompile`). Every heavy computation runs in a native library:
libsecp256k1 (coincurve), hashlib, pycryptodome, GMP (gmpy2), mcl (mclbn256), blake2b-py,
arkworks (BLS12-381 and KZG) (py-arkworks-bls12381) and OpenSSL (cryptography). All but the first
two load when their precompile first runs (`base.load_once`), not at import: together they cost
~0.15 s, and most blocks call none of them.
"""
from .base import Precompile, PrecompileError
from .blake2f import BLAKE2F
from .bls12_381 import (
    BLS12_G1ADD,
    BLS12_G1MSM,
    BLS12_G2ADD,
    BLS12_G2MSM,
    BLS12_MAP_FP2_TO_G2,
    BLS12_MAP_FP_TO_G1,
    BLS12_PAIRING_CHECK,
)
from .bn254 import (
    BN254_ADD_BYZANTIUM,
    BN254_ADD_ISTANBUL,
    BN254_MUL_BYZANTIUM,
    BN254_MUL_ISTANBUL,
    BN254_PAIRING_BYZANTIUM,
    BN254_PAIRING_ISTANBUL,
)
from .ecrecover import ECRECOVER
from .hashes import IDENTITY, RIPEMD160, SHA256
from .kzg import POINT_EVALUATION
from .modexp import MODEXP_BERLIN, MODEXP_BYZANTIUM, MODEXP_OSAKA
from .p256 import P256VERIFY

__all__ = [
    "Precompile",
    "PrecompileError",
    "ECRECOVER",
    "SHA256",
    "RIPEMD160",
    "IDENTITY",
    "MODEXP_BYZANTIUM",
    "MODEXP_BERLIN",
    "MODEXP_OSAKA",
    "BN254_ADD_BYZANTIUM",
    "BN254_ADD_ISTANBUL",
    "BN254_MUL_BYZANTIUM",
    "BN254_MUL_ISTANBUL",
    "BN254_PAIRING_BYZANTIUM",
    "BN254_PAIRING_ISTANBUL",
    "BLAKE2F",
    "POINT_EVALUATION",
    "BLS12_G1ADD",
    "BLS12_G1MSM",
    "BLS12_G2ADD",
    "BLS12_G2MSM",
    "BLS12_PAIRING_CHECK",
    "BLS12_MAP_FP_TO_G1",
    "BLS12_MAP_FP2_TO_G2",
    "P256VERIFY",
]

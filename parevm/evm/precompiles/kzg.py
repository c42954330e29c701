"""POINT_EVALUATION (0x0a, EIP-4844): verify a KZG proof that a blob's polynomial has value
y at point z, using c-kzg-4844 (ckzg) and Ethereum's mainnet trusted setup.

The ckzg wheel carries no setup file; `trusted_setup.txt` beside this module is the one that
ckzg's own source distribution ships (src/trusted_setup.txt, the KZG ceremony output).
Loading it takes about a second, so it is done on first use; a parent process can call
`trusted_setup()` before forking workers so that they share it.
"""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import ckzg

from .base import Precompile, PrecompileError, fixed_gas

FIELD_ELEMENTS_PER_BLOB = 4096
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
VERSIONED_HASH_VERSION_KZG = b"\x01"

_SETUP_PATH = Path(__file__).with_name("trusted_setup.txt")
_INPUT_SIZE = 192
_SUCCESS_OUTPUT = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")


@cache
def trusted_setup():
    """The loaded mainnet setup (no precomputation: verification does not use it)."""
    return ckzg.load_trusted_setup(str(_SETUP_PATH), 0)


def kzg_to_versioned_hash(commitment: bytes) -> bytes:
    return VERSIONED_HASH_VERSION_KZG + hashlib.sha256(commitment).digest()[1:]


def _point_evaluation(data: bytes) -> bytes:
    if len(data) != _INPUT_SIZE:
        raise PrecompileError("point evaluation input must be 192 bytes")
    versioned_hash, z, y = data[:32], data[32:64], data[64:96]
    commitment, proof = data[96:144], data[144:192]
    if kzg_to_versioned_hash(commitment) != versioned_hash:
        raise PrecompileError("versioned hash does not match the commitment")
    try:
        # ckzg raises on malformed input: z or y not below BLS_MODULUS, bad point encodings.
        valid = ckzg.verify_kzg_proof(commitment, z, y, proof, trusted_setup())
    except RuntimeError as error:
        raise PrecompileError(f"KZG input rejected: {error}") from None
    if not valid:
        raise PrecompileError("KZG proof does not verify")
    return _SUCCESS_OUTPUT


POINT_EVALUATION = Precompile("point_evaluation", fixed_gas(50000), _point_evaluation)

"""POINT_EVALUATION (0x0a, EIP-4844): verify a KZG proof that a blob's polynomial has value
y at point z, on arkworks (py-arkworks-bls12381).

Checking one proof needs a single point of Ethereum's trusted setup, [tau]G2, so that point is
embedded here instead of loading the whole setup (4096+ G1 points, over a second to parse and
validate). The check is EIP-4844's `verify_kzg_proof_impl`,
    e(C - [y]G1, G2) == e(proof, [tau]G2 - [z]G2),
rearranged to keep every scalar multiplication in G1:
    e(C - [y]G1 + [z]proof, -G2) * e(proof, [tau]G2) == 1.
"""
from __future__ import annotations

import hashlib

from .base import Precompile, PrecompileError, fixed_gas, load_once

FIELD_ELEMENTS_PER_BLOB = 4096
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
VERSIONED_HASH_VERSION_KZG = b"\x01"

# [tau]G2 of the mainnet KZG ceremony (KZG_SETUP_G2_MONOMIAL[1]), compressed.
TAU_G2_COMPRESSED = bytes.fromhex(
    "b5bfd7dd8cdeb128843bc287230af38926187075cbfbefa81009a2ce615ac53d"
    "2914e5870cb452d2afaaab24f3499f72185cbfee53492714734429b7b38608e2"
    "3926c911cceceac9a36851477ba4c60b087041de621000edc98edada20c1def2"
)
G1_INFINITY_COMPRESSED = b"\xc0" + bytes(47)

_INFINITY_FLAG = 0x40
_INPUT_SIZE = 192
_SUCCESS_OUTPUT = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")


@load_once  # on first use, not at import, like every precompile's native library
def _arkworks():
    import py_arkworks_bls12381

    return py_arkworks_bls12381


@load_once  # built once: decompressing [tau]G2 (with its subgroup check) takes ~0.1 ms
def _pairing_g2_points() -> list:
    """[-G2, [tau]G2], the fixed G2 side of the pairing check."""
    g2_point = _arkworks().G2Point
    return [-g2_point(), g2_point.from_compressed_bytes(TAU_G2_COMPRESSED)]


def kzg_to_versioned_hash(commitment: bytes) -> bytes:
    return VERSIONED_HASH_VERSION_KZG + hashlib.sha256(commitment).digest()[1:]


def _decode_g1(encoding: bytes):
    """A 48-byte commitment or proof, accepted exactly when blst (so ckzg) accepts it: the
    compressed form with canonical x, on the curve and in the order-r subgroup. arkworks
    checks all of that but reads anything with the infinity flag as infinity, so the one
    valid infinity encoding is matched here. Raises ValueError."""
    if encoding[0] & _INFINITY_FLAG:
        if encoding != G1_INFINITY_COMPRESSED:
            raise ValueError("non-canonical encoding of the point at infinity")
        return _arkworks().G1Point.identity()
    return _arkworks().G1Point.from_compressed_bytes(encoding)


def verify_kzg_proof(commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bool:
    """Whether `proof` shows that the polynomial committed to by `commitment` takes value `y`
    at `z` (EIP-4844's `verify_kzg_proof`). Raises PrecompileError for inputs the spec rejects
    before verifying: a bad point encoding, or z or y not below BLS_MODULUS."""
    ark = _arkworks()
    try:
        z_scalar = ark.Scalar.from_be_bytes(z)  # rejects values >= BLS_MODULUS
        y_scalar = ark.Scalar.from_be_bytes(y)
        commitment_point = _decode_g1(commitment)
        proof_point = _decode_g1(proof)
    except ValueError as error:
        raise PrecompileError(f"KZG input rejected: {error}") from None
    generator = ark.G1Point()
    shifted_commitment = commitment_point - generator * y_scalar + proof_point * z_scalar
    return ark.GT.pairing_check([shifted_commitment, proof_point], _pairing_g2_points())


def _point_evaluation(data: bytes) -> bytes:
    if len(data) != _INPUT_SIZE:
        raise PrecompileError("point evaluation input must be 192 bytes")
    versioned_hash, z, y = data[:32], data[32:64], data[64:96]
    commitment, proof = data[96:144], data[144:192]
    if kzg_to_versioned_hash(commitment) != versioned_hash:
        raise PrecompileError("versioned hash does not match the commitment")
    if not verify_kzg_proof(commitment, z, y, proof):
        raise PrecompileError("KZG proof does not verify")
    return _SUCCESS_OUTPUT


POINT_EVALUATION = Precompile("point_evaluation", fixed_gas(50000), _point_evaluation)

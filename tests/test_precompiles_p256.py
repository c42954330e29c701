"""POINT_EVALUATION (EIP-4844) and P256VERIFY (EIP-7951).

P256VERIFY's official vectors (Wycheproof and more) run in test_precompiles_fixtures.py.
"""
from __future__ import annotations

import hashlib

import ckzg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from parevm.evm import precompiles as pc
from parevm.evm.precompiles import kzg
from parevm.evm.precompiles.p256 import SECP256R1_N, SECP256R1_P

# --- point evaluation --------------------------------------------------------------------------

INFINITY_G1 = b"\xc0" + bytes(47)  # compressed point at infinity: the commitment to the zero blob
SUCCESS = (4096).to_bytes(32, "big") + kzg.BLS_MODULUS.to_bytes(32, "big")


def evaluation_input(commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bytes:
    return kzg.kzg_to_versioned_hash(commitment) + z + y + commitment + proof


@pytest.fixture(scope="module")
def blob_proof():
    """(commitment, z, y, proof) for a blob with non-trivial contents, made by ckzg."""
    blob = b"".join((i * 7919 + 3).to_bytes(32, "big") for i in range(4096))
    setup = kzg.trusted_setup()
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = (2**200 + 12345).to_bytes(32, "big")
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    return commitment, z, y, proof


def test_trusted_setup_is_the_mainnet_file():
    # sha256 of src/trusted_setup.txt in ckzg 2.1.8's source distribution.
    digest = hashlib.sha256(kzg._SETUP_PATH.read_bytes()).hexdigest()
    assert digest == "d39b9f2d047cc9dca2de58f264b6a09448ccd34db967881a6713eacacf0f26b7"


def test_point_evaluation_zero_polynomial():
    data = evaluation_input(INFINITY_G1, (5).to_bytes(32, "big"), bytes(32), INFINITY_G1)
    assert pc.POINT_EVALUATION.gas(data) == 50000
    assert pc.POINT_EVALUATION.run(data) == SUCCESS
    wrong_value = evaluation_input(INFINITY_G1, (5).to_bytes(32, "big"), (1).to_bytes(32, "big"), INFINITY_G1)
    with pytest.raises(pc.PrecompileError):
        pc.POINT_EVALUATION.run(wrong_value)


def test_point_evaluation_valid_proof(blob_proof):
    assert pc.POINT_EVALUATION.run(evaluation_input(*blob_proof)) == SUCCESS


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:-1],  # 191 bytes
        lambda d: d + b"\x00",  # 193 bytes
        lambda d: b"\x02" + d[1:],  # versioned hash with the wrong version
        lambda d: d[:31] + bytes([d[31] ^ 1]) + d[32:],  # versioned hash of another commitment
        lambda d: d[:64] + ((int.from_bytes(d[64:96], "big") + 1) % kzg.BLS_MODULUS).to_bytes(32, "big") + d[96:],
        lambda d: d[:32] + kzg.BLS_MODULUS.to_bytes(32, "big") + d[64:],  # z not canonical
        lambda d: d[:64] + (int.from_bytes(d[64:96], "big") + kzg.BLS_MODULUS).to_bytes(32, "big") + d[96:],
        lambda d: d[:144] + INFINITY_G1,  # another proof
        lambda d: d[:144] + bytes(48),  # proof that is no point encoding at all
    ],
)
def test_point_evaluation_rejects(blob_proof, mutate):
    with pytest.raises(pc.PrecompileError):
        pc.POINT_EVALUATION.run(mutate(evaluation_input(*blob_proof)))


# --- P256VERIFY --------------------------------------------------------------------------------

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

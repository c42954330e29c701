"""POINT_EVALUATION (EIP-4844): the embedded [tau]G2, fixed cases, and a differential test
against c-kzg-4844 (ckzg, a test-only dependency) on valid and malformed inputs.

The official vectors (EEST point_evaluation_precompile_*) run as state tests.
"""
from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import ckzg
import pytest
from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from parevm.evm import precompiles as pc
from parevm.evm.precompiles import kzg

SETUP_PATH = Path(kzg.__file__).with_name("trusted_setup.txt")
BLS_FIELD_MODULUS = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
INFINITY_G1 = kzg.G1_INFINITY_COMPRESSED  # the commitment to the zero blob
SUCCESS = (4096).to_bytes(32, "big") + kzg.BLS_MODULUS.to_bytes(32, "big")
COMPRESSED_FLAG, INFINITY_FLAG, SORT_FLAG = 0x80, 0x40, 0x20


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def evaluation_input(commitment: bytes, z: bytes, y: bytes, proof: bytes) -> bytes:
    return kzg.kzg_to_versioned_hash(commitment) + z + y + commitment + proof


# --- the embedded setup point ------------------------------------------------------------------


def setup_sections() -> tuple[list[str], list[str], list[str]]:
    """(G1 Lagrange, G2 monomial, G1 monomial) hex lines of the ckzg-format setup file."""
    lines = SETUP_PATH.read_text().split()
    g1_count, g2_count = int(lines[0]), int(lines[1])
    points = lines[2:]
    return points[:g1_count], points[g1_count : g1_count + g2_count], points[g1_count + g2_count :]


def test_trusted_setup_file_is_the_mainnet_one():
    # sha256 of src/trusted_setup.txt in ckzg 2.1.8's source distribution.
    assert hashlib.sha256(SETUP_PATH.read_bytes()).hexdigest() == (
        "d39b9f2d047cc9dca2de58f264b6a09448ccd34db967881a6713eacacf0f26b7"
    )


def test_embedded_tau_g2_is_the_setup_point():
    _, g2_monomial, g1_monomial = setup_sections()
    assert bytes.fromhex(g2_monomial[0]) == G2Point().to_compressed_bytes()
    assert bytes.fromhex(g2_monomial[1]) == kzg.TAU_G2_COMPRESSED
    # The same tau as the G1 side of the setup: e([tau]G1, G2) == e(G1, [tau]G2).
    tau_g1 = G1Point.from_compressed_bytes(bytes.fromhex(g1_monomial[1]))
    tau_g2 = G2Point.from_compressed_bytes(kzg.TAU_G2_COMPRESSED)
    assert GT.pairing_check([tau_g1, -G1Point()], [G2Point(), tau_g2])


def test_precompile_does_not_load_ckzg():
    # What the embedded point is for: no setup load on a block's first point evaluation.
    program = (
        "import sys\n"
        "from parevm.evm import precompiles as pc\n"
        f"pc.POINT_EVALUATION.run(bytes.fromhex('{evaluation_input(INFINITY_G1, word(5), bytes(32), INFINITY_G1).hex()}'))\n"
        "assert 'ckzg' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True)


# --- fixed cases -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup():
    return ckzg.load_trusted_setup(str(SETUP_PATH), 0)


@pytest.fixture(scope="module")
def blob_proof(setup):
    """(commitment, z, y, proof) for a blob with non-trivial contents, made by ckzg."""
    blob = b"".join(word(i * 7919 + 3) for i in range(4096))
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = word(2**200 + 12345)
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    return commitment, z, y, proof


def test_point_evaluation_zero_polynomial():
    data = evaluation_input(INFINITY_G1, word(5), bytes(32), INFINITY_G1)
    assert pc.POINT_EVALUATION.gas(data) == 50000
    assert pc.POINT_EVALUATION.run(data) == SUCCESS
    with pytest.raises(pc.PrecompileError):
        pc.POINT_EVALUATION.run(evaluation_input(INFINITY_G1, word(5), word(1), INFINITY_G1))


def test_point_evaluation_valid_proof(blob_proof):
    assert pc.POINT_EVALUATION.run(evaluation_input(*blob_proof)) == SUCCESS


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:-1],  # 191 bytes
        lambda d: d + b"\x00",  # 193 bytes
        lambda d: b"\x02" + d[1:],  # versioned hash with the wrong version
        lambda d: d[:31] + bytes([d[31] ^ 1]) + d[32:],  # versioned hash of another commitment
        lambda d: d[:64] + word((int.from_bytes(d[64:96], "big") + 1) % kzg.BLS_MODULUS) + d[96:],
        lambda d: d[:32] + word(kzg.BLS_MODULUS) + d[64:],  # z not canonical
        lambda d: d[:64] + word(int.from_bytes(d[64:96], "big") + kzg.BLS_MODULUS) + d[96:],
        lambda d: d[:144] + INFINITY_G1,  # another proof
        lambda d: d[:144] + bytes(48),  # proof that is no point encoding at all
        lambda d: d[:144] + bytes([d[144] ^ SORT_FLAG]) + d[145:],  # the negated proof
    ],
)
def test_point_evaluation_rejects(blob_proof, mutate):
    with pytest.raises(pc.PrecompileError):
        pc.POINT_EVALUATION.run(mutate(evaluation_input(*blob_proof)))


# --- differential test against ckzg ------------------------------------------------------------


def random_scalar(rng: random.Random) -> int:
    return rng.randrange(kzg.BLS_MODULUS)


def compressed_x(x: int, sort_flag: bool) -> bytes:
    encoding = bytearray(x.to_bytes(48, "big"))
    encoding[0] |= COMPRESSED_FLAG | (SORT_FLAG if sort_flag else 0)
    return bytes(encoding)


def curve_x(rng: random.Random, on_curve: bool) -> int:
    """A random x in the base field for which y^2 = x^3 + 4 has (or has no) solution. Points
    found this way are almost never in the order-r subgroup (the cofactor is ~2^126)."""
    while True:
        x = rng.randrange(BLS_FIELD_MODULUS)
        rhs = (x**3 + 4) % BLS_FIELD_MODULUS
        root = pow(rhs, (BLS_FIELD_MODULUS + 1) // 4, BLS_FIELD_MODULUS)  # p = 3 mod 4
        if (root * root % BLS_FIELD_MODULUS == rhs) == on_curve:
            return x


def malformed_g1(rng: random.Random, valid: bytes) -> bytes:
    """One of the ways a 48-byte G1 encoding can be wrong (or, for the flipped sort flag,
    right but a different point)."""
    kind = rng.randrange(9)
    if kind == 0:  # compression flag cleared
        return bytes([valid[0] & ~COMPRESSED_FLAG]) + valid[1:]
    if kind == 1:  # the negated point
        return bytes([valid[0] ^ SORT_FLAG]) + valid[1:]
    if kind == 2:  # infinity flag with a stray bit
        position = rng.choice([0, rng.randrange(1, 48)])
        stray = bytearray(INFINITY_G1)
        stray[position] |= 1 << rng.randrange(6 if position == 0 else 8)  # 0x20 on byte 0: sort flag
        return bytes(stray)
    if kind == 3:  # infinity flag without the compression flag
        return bytes([INFINITY_FLAG]) + bytes(47)
    if kind == 4:  # x not below the field modulus
        return compressed_x(rng.randrange(BLS_FIELD_MODULUS, 2**381), rng.random() < 0.5)
    if kind == 5:  # on the curve, outside the subgroup
        return compressed_x(curve_x(rng, on_curve=True), rng.random() < 0.5)
    if kind == 6:  # not on the curve
        return compressed_x(curve_x(rng, on_curve=False), rng.random() < 0.5)
    if kind == 7:  # the identity's x with the flags of a finite point: (0, +-2) is off the subgroup
        return compressed_x(0, rng.random() < 0.5)
    return rng.randbytes(48)


def malformed_scalar(rng: random.Random) -> bytes:
    return word(rng.choice([kzg.BLS_MODULUS, kzg.BLS_MODULUS + rng.randrange(2**255), 2**256 - 1]))


def scaled_proof(rng: random.Random, base: tuple[bytes, bytes, bytes, bytes]) -> tuple[bytes, bytes, bytes, bytes]:
    """Another valid (commitment, z, y, proof): for the polynomial a*p + b, the commitment is
    a*C + b*G1, the value a*y + b, and the proof a*proof."""
    commitment, z, y, proof = base
    a, b = Scalar(rng.randrange(1, 2**64)), Scalar(rng.randrange(2**64))
    new_commitment = G1Point.from_compressed_bytes(commitment) * a + G1Point() * b
    new_y = Scalar.from_be_bytes(y) * a + b
    new_proof = G1Point.from_compressed_bytes(proof) * a
    return new_commitment.to_compressed_bytes(), z, new_y.to_be_bytes(), new_proof.to_compressed_bytes()


@pytest.fixture(scope="module")
def valid_proofs(setup):
    """Proofs made by ckzg for random blobs, at random points, at a point of the evaluation
    domain (z = 1) and for a constant blob (proof at infinity)."""
    rng = random.Random(4844)
    blobs = [b"".join(word(random_scalar(rng)) for _ in range(4096)) for _ in range(3)]
    blobs.append(word(rng.randrange(kzg.BLS_MODULUS)) * 4096)
    proofs = []
    for blob in blobs:
        commitment = ckzg.blob_to_kzg_commitment(blob, setup)
        for z in (word(random_scalar(rng)), word(1)):
            proof, y = ckzg.compute_kzg_proof(blob, z, setup)
            proofs.append((commitment, z, y, proof))
    assert any(proof == INFINITY_G1 for _, _, _, proof in proofs)
    return proofs


def differential_case(rng: random.Random, family: str, valid_proofs) -> tuple[bytes, bytes, bytes, bytes]:
    commitment, z, y, proof = scaled_proof(rng, rng.choice(valid_proofs))
    if family == "valid":
        return commitment, z, y, proof
    if family == "wrong value":
        return commitment, z, word(random_scalar(rng)), proof
    if family == "random subgroup points":
        commitment, proof = ((G1Point() * Scalar(random_scalar(rng))).to_compressed_bytes() for _ in range(2))
        return commitment, z, y, proof
    if family == "malformed commitment":
        return malformed_g1(rng, commitment), z, y, proof
    if family == "malformed proof":
        return commitment, z, y, malformed_g1(rng, proof)
    if family == "non-canonical z":
        return commitment, malformed_scalar(rng), y, proof
    assert family == "non-canonical y"
    return commitment, z, malformed_scalar(rng), proof


def outcome(verify, *args) -> str:
    try:
        return "valid" if verify(*args) else "invalid"
    except (RuntimeError, pc.PrecompileError):  # ckzg raises RuntimeError for malformed input
        return "rejected"


@pytest.mark.parametrize(
    "family",
    [
        "valid",
        "wrong value",
        "random subgroup points",
        "malformed commitment",
        "malformed proof",
        "non-canonical z",
        "non-canonical y",
    ],
)
def test_matches_ckzg(family, setup, valid_proofs):
    rng = random.Random(family)
    outcomes = set()
    for _ in range(60):
        commitment, z, y, proof = differential_case(rng, family, valid_proofs)
        expected = outcome(ckzg.verify_kzg_proof, commitment, z, y, proof, setup)
        assert outcome(kzg.verify_kzg_proof, commitment, z, y, proof) == expected, (commitment, z, y, proof)
        outcomes.add(expected)
    if family == "valid":
        assert outcomes == {"valid"}
    else:
        assert "valid" not in outcomes

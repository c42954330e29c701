"""alt_bn128 precompiles against py_ecc (pure Python, independent of mcl) as the oracle."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc import optimized_bn128 as oracle

from parevm.evm import precompiles as pc
from parevm.evm.precompiles.bn254 import FIELD_MODULUS, GROUP_ORDER

P = FIELD_MODULUS
scalars = st.integers(min_value=0, max_value=2**256 - 1)


def g1_bytes(point) -> bytes:
    if oracle.is_inf(point):
        return bytes(64)
    x, y = oracle.normalize(point)
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def g2_bytes(point) -> bytes:
    """Ethereum's G2 order: x imaginary, x real, y imaginary, y real."""
    if oracle.is_inf(point):
        return bytes(128)
    x, y = oracle.normalize(point)
    return b"".join(int(c).to_bytes(32, "big") for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0]))


def g1(k: int):
    return oracle.multiply(oracle.G1, k)


def g2(k: int):
    return oracle.multiply(oracle.G2, k)


def test_gas_by_fork():
    assert (pc.BN254_ADD_BYZANTIUM.gas(b""), pc.BN254_ADD_ISTANBUL.gas(b"")) == (500, 150)
    assert (pc.BN254_MUL_BYZANTIUM.gas(b""), pc.BN254_MUL_ISTANBUL.gas(b"")) == (40000, 6000)
    three_pairs = bytes(3 * 192)
    assert pc.BN254_PAIRING_BYZANTIUM.gas(three_pairs) == 100000 + 3 * 80000
    assert pc.BN254_PAIRING_ISTANBUL.gas(three_pairs) == 45000 + 3 * 34000
    assert pc.BN254_PAIRING_ISTANBUL.gas(b"") == 45000


@settings(max_examples=30, deadline=None)
@given(scalars, scalars)
def test_add_matches_oracle(a, b):
    expected = g1_bytes(oracle.add(g1(a), g1(b)))
    assert pc.BN254_ADD_ISTANBUL.run(g1_bytes(g1(a)) + g1_bytes(g1(b))) == expected


@pytest.mark.parametrize("a, b", [(5, 5), (5, GROUP_ORDER - 5), (0, 7), (0, 0)])
def test_add_edge_cases(a, b):
    """Doubling, P + (-P) = infinity, infinity as either operand."""
    expected = g1_bytes(oracle.add(g1(a), g1(b)))
    assert pc.BN254_ADD_ISTANBUL.run(g1_bytes(g1(a)) + g1_bytes(g1(b))) == expected


def test_add_pads_short_input_and_ignores_extra():
    point = g1_bytes(g1(3))
    assert pc.BN254_ADD_ISTANBUL.run(point) == point  # second operand padded: infinity
    assert pc.BN254_ADD_ISTANBUL.run(b"") == bytes(64)
    assert pc.BN254_ADD_ISTANBUL.run(point + point + b"\x01" * 50) == g1_bytes(g1(6))


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=GROUP_ORDER - 1), scalars)
def test_mul_matches_oracle(k, scalar):
    expected = g1_bytes(oracle.multiply(g1(k), scalar % GROUP_ORDER))
    assert pc.BN254_MUL_ISTANBUL.run(g1_bytes(g1(k)) + scalar.to_bytes(32, "big")) == expected


@pytest.mark.parametrize("scalar", [0, 1, 2, GROUP_ORDER - 1, GROUP_ORDER, GROUP_ORDER + 1, 2**256 - 1])
def test_mul_edge_scalars(scalar):
    expected = g1_bytes(oracle.multiply(g1(9), scalar % GROUP_ORDER))
    assert pc.BN254_MUL_ISTANBUL.run(g1_bytes(g1(9)) + scalar.to_bytes(32, "big")) == expected
    assert pc.BN254_MUL_ISTANBUL.run(bytes(64) + scalar.to_bytes(32, "big")) == bytes(64)


BAD_G1 = [
    (1).to_bytes(32, "big") + (3).to_bytes(32, "big"),  # not on the curve
    P.to_bytes(32, "big") + (2).to_bytes(32, "big"),  # x = p (would be 0 mod p)
    (1).to_bytes(32, "big") + (P + 2).to_bytes(32, "big"),  # y >= p, y mod p on the curve
    bytes(32) + (1).to_bytes(32, "big"),  # (0, 1): only (0, 0) means infinity
]


@pytest.mark.parametrize("bad", BAD_G1)
def test_invalid_g1_points_fail(bad):
    with pytest.raises(pc.PrecompileError):
        pc.BN254_ADD_ISTANBUL.run(bad + g1_bytes(g1(1)))
    with pytest.raises(pc.PrecompileError):
        pc.BN254_ADD_ISTANBUL.run(g1_bytes(g1(1)) + bad)
    with pytest.raises(pc.PrecompileError):
        pc.BN254_MUL_ISTANBUL.run(bad + (2).to_bytes(32, "big"))
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(bad + g2_bytes(g2(1)))


# --- pairing -----------------------------------------------------------------------------------

def test_pairing_bilinearity_true_and_false():
    a, b = 1234567, 7654321
    balanced = g1_bytes(g1(a)) + g2_bytes(g2(b)) + g1_bytes(oracle.neg(g1(a * b))) + g2_bytes(g2(1))
    unbalanced = g1_bytes(g1(a)) + g2_bytes(g2(b)) + g1_bytes(oracle.neg(g1(a * b + 1))) + g2_bytes(g2(1))
    assert pc.BN254_PAIRING_ISTANBUL.run(balanced) == (1).to_bytes(32, "big")
    assert pc.BN254_PAIRING_ISTANBUL.run(unbalanced) == bytes(32)


def test_single_pairing_agrees_with_oracle():
    # e(G1, G2) != 1 for the generators, as the oracle's own pairing says.
    assert oracle.final_exponentiate(oracle.pairing(oracle.G2, oracle.G1)) != oracle.FQ12.one()
    assert pc.BN254_PAIRING_ISTANBUL.run(g1_bytes(oracle.G1) + g2_bytes(oracle.G2)) == bytes(32)


def test_pairing_empty_and_infinity_inputs_are_true():
    assert pc.BN254_PAIRING_ISTANBUL.run(b"") == (1).to_bytes(32, "big")
    assert pc.BN254_PAIRING_ISTANBUL.run(bytes(192)) == (1).to_bytes(32, "big")
    assert pc.BN254_PAIRING_ISTANBUL.run(bytes(64) + g2_bytes(g2(5))) == (1).to_bytes(32, "big")
    assert pc.BN254_PAIRING_ISTANBUL.run(g1_bytes(g1(5)) + bytes(128)) == (1).to_bytes(32, "big")


def test_pairing_rejects_partial_pairs():
    for size in (1, 191, 193, 383):
        with pytest.raises(pc.PrecompileError):
            pc.BN254_PAIRING_ISTANBUL.run(bytes(size))


def fq2_sqrt(value):
    """A square root in Fp2 = Fp[i]/(i^2 + 1), p = 3 mod 4, or None (Adj, Rodriguez-Henriquez)."""
    a1 = value ** ((P - 3) // 4)
    alpha = a1 * a1 * value
    if alpha ** P * alpha == oracle.FQ2([-1, 0]):
        return None
    x0 = a1 * value
    if alpha == oracle.FQ2([-1, 0]):
        return oracle.FQ2([0, 1]) * x0
    return (alpha + oracle.FQ2.one()) ** ((P - 1) // 2) * x0


def twist_point_outside_subgroup():
    for x_real in range(1, 100):
        x = oracle.FQ2([x_real, 1])
        rhs = x**3 + oracle.b2
        y = fq2_sqrt(rhs)
        if y is not None and y * y == rhs:
            point = (x, y, oracle.FQ2.one())
            if not oracle.is_inf(oracle.multiply(point, GROUP_ORDER)):
                return point
    raise AssertionError("no twist point found")


def test_pairing_rejects_g2_outside_subgroup_or_off_twist():
    outside = twist_point_outside_subgroup()
    assert oracle.is_on_curve(outside, oracle.b2)
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(g1_bytes(g1(1)) + g2_bytes(outside))
    off_twist = bytearray(g2_bytes(g2(1)))
    off_twist[-1] ^= 1
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(g1_bytes(g1(1)) + bytes(off_twist))
    non_canonical = P.to_bytes(32, "big") + g2_bytes(g2(1))[32:]
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(g1_bytes(g1(1)) + non_canonical)


def test_pairing_validates_points_paired_with_infinity():
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(bytes(64) + g2_bytes(twist_point_outside_subgroup()))
    with pytest.raises(pc.PrecompileError):
        pc.BN254_PAIRING_ISTANBUL.run(BAD_G1[0] + bytes(128))

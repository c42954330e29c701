"""BLS12-381 precompiles (EIP-2537) against py_ecc (pure Python) as the oracle.

The official vectors (including invalid encodings and subgroup cases) are replayed in
test_precompiles_fixtures.py; this file checks arithmetic on fresh random inputs, the
encoding rules one by one, and the gas formulas.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc import optimized_bls12_381 as oracle
from py_ecc.bls.hash_to_curve import clear_cofactor_G1, clear_cofactor_G2, map_to_curve_G1, map_to_curve_G2

from parevm.evm import precompiles as pc
from parevm.evm.precompiles.bls12_381 import FIELD_MODULUS

P = FIELD_MODULUS
Q = oracle.curve_order
TRUE = (1).to_bytes(32, "big")
scalars = st.integers(min_value=0, max_value=2**256 - 1)
field_elements = st.integers(min_value=0, max_value=P - 1)


def fp(value: int) -> bytes:
    return value.to_bytes(64, "big")


def point_bytes(point) -> bytes:
    if oracle.is_inf(point):
        return bytes(256 if isinstance(point[0], oracle.FQ2) else 128)
    x, y = oracle.normalize(point)
    coords = (x.coeffs + y.coeffs) if isinstance(x, oracle.FQ2) else (x, y)
    return b"".join(fp(int(c)) for c in coords)


def g1(k: int):
    return oracle.multiply(oracle.G1, k)


def g2(k: int):
    return oracle.multiply(oracle.G2, k)


def g1_outside_subgroup():
    """A point on y^2 = x^3 + 4 whose order is not q (p = 3 mod 4: sqrt = a^((p+1)/4))."""
    for x in range(1, 100):
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            point = (oracle.FQ(x), oracle.FQ(y), oracle.FQ.one())
            if not oracle.is_inf(oracle.multiply(point, Q)):
                return point
    raise AssertionError("no point found")


def test_fixed_gas():
    assert pc.BLS12_G1ADD.gas(b"") == 375
    assert pc.BLS12_G2ADD.gas(b"") == 600
    assert pc.BLS12_MAP_FP_TO_G1.gas(b"") == 5500
    assert pc.BLS12_MAP_FP2_TO_G2.gas(b"") == 23800
    assert pc.BLS12_PAIRING_CHECK.gas(bytes(384 * 3)) == 37700 + 3 * 32600


@pytest.mark.parametrize(
    "k, g1_gas, g2_gas",
    [
        (1, 12000, 22500),
        (2, 2 * 12000 * 949 // 1000, 2 * 22500),
        (128, 128 * 12000 * 519 // 1000, 128 * 22500 * 524 // 1000),
        (500, 500 * 12000 * 519 // 1000, 500 * 22500 * 524 // 1000),  # past the table: its last entry
    ],
)
def test_msm_gas_uses_discount_table(k, g1_gas, g2_gas):
    assert pc.BLS12_G1MSM.gas(bytes(160 * k)) == g1_gas
    assert pc.BLS12_G2MSM.gas(bytes(288 * k)) == g2_gas
    assert pc.BLS12_G1MSM.gas(b"") == 0  # and `run` rejects it


@settings(max_examples=10, deadline=None)
@given(scalars, scalars)
def test_g1_and_g2_add_match_oracle(a, b):
    assert pc.BLS12_G1ADD.run(point_bytes(g1(a)) + point_bytes(g1(b))) == point_bytes(oracle.add(g1(a), g1(b)))
    assert pc.BLS12_G2ADD.run(point_bytes(g2(a)) + point_bytes(g2(b))) == point_bytes(oracle.add(g2(a), g2(b)))


def test_add_accepts_points_outside_subgroup_but_msm_and_pairing_do_not():
    outside = g1_outside_subgroup()
    expected = point_bytes(oracle.add(outside, g1(3)))
    assert pc.BLS12_G1ADD.run(point_bytes(outside) + point_bytes(g1(3))) == expected
    with pytest.raises(pc.PrecompileError):
        pc.BLS12_G1MSM.run(point_bytes(outside) + (1).to_bytes(32, "big"))
    with pytest.raises(pc.PrecompileError):
        pc.BLS12_PAIRING_CHECK.run(point_bytes(outside) + point_bytes(oracle.G2))


@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(st.integers(1, Q - 1), scalars), min_size=1, max_size=4))
def test_msm_matches_oracle(pairs):
    expected_g1 = oracle.Z1
    expected_g2 = oracle.Z2
    g1_input = g2_input = b""
    for k, scalar in pairs:
        g1_input += point_bytes(g1(k)) + scalar.to_bytes(32, "big")
        g2_input += point_bytes(g2(k)) + scalar.to_bytes(32, "big")
        expected_g1 = oracle.add(expected_g1, oracle.multiply(g1(k), scalar % Q))
        expected_g2 = oracle.add(expected_g2, oracle.multiply(g2(k), scalar % Q))
    assert pc.BLS12_G1MSM.run(g1_input) == point_bytes(expected_g1)
    assert pc.BLS12_G2MSM.run(g2_input) == point_bytes(expected_g2)


def test_msm_of_infinity_and_zero_scalar_is_infinity():
    assert pc.BLS12_G1MSM.run(bytes(128) + (5).to_bytes(32, "big")) == bytes(128)
    assert pc.BLS12_G1MSM.run(point_bytes(g1(7)) + bytes(32)) == bytes(128)
    assert pc.BLS12_G2MSM.run(point_bytes(g2(7)) + Q.to_bytes(32, "big")) == bytes(256)


def test_pairing_check():
    a, b = 987654321, 123456789
    balanced = point_bytes(g1(a)) + point_bytes(g2(b)) + point_bytes(oracle.neg(g1(a * b))) + point_bytes(oracle.G2)
    assert pc.BLS12_PAIRING_CHECK.run(balanced) == TRUE
    unbalanced = point_bytes(g1(a)) + point_bytes(g2(b)) + point_bytes(g1(a * b)) + point_bytes(oracle.G2)
    assert pc.BLS12_PAIRING_CHECK.run(unbalanced) == bytes(32)
    assert pc.BLS12_PAIRING_CHECK.run(bytes(128) + point_bytes(g2(3))) == TRUE  # infinity: factor 1


@settings(max_examples=8, deadline=None)
@given(field_elements)
def test_map_fp_to_g1_matches_oracle(u):
    expected = clear_cofactor_G1(map_to_curve_G1(oracle.FQ(u)))
    assert pc.BLS12_MAP_FP_TO_G1.run(fp(u)) == point_bytes(expected)


@settings(max_examples=4, deadline=None)
@given(field_elements, field_elements)
def test_map_fp2_to_g2_matches_oracle(c0, c1):
    expected = clear_cofactor_G2(map_to_curve_G2(oracle.FQ2([c0, c1])))
    assert pc.BLS12_MAP_FP2_TO_G2.run(fp(c0) + fp(c1)) == point_bytes(expected)


def encodings_with_one_bad_field_element(valid: bytes):
    """`valid` with one field element made non-canonical: = p, or with a non-zero padding byte."""
    for offset in range(0, len(valid), 64):
        yield valid[:offset] + fp(P) + valid[offset + 64 :]
        yield valid[:offset] + b"\x01" + valid[offset + 1 :]


@pytest.mark.parametrize(
    "precompile, valid",
    [
        (pc.BLS12_G1ADD, point_bytes(g1(2)) + point_bytes(g1(3))),
        (pc.BLS12_G2ADD, point_bytes(g2(2)) + point_bytes(g2(3))),
        (pc.BLS12_G1MSM, point_bytes(g1(2)) + (3).to_bytes(32, "big")),
        (pc.BLS12_G2MSM, point_bytes(g2(2)) + (3).to_bytes(32, "big")),
        (pc.BLS12_PAIRING_CHECK, point_bytes(g1(2)) + point_bytes(g2(3))),
        (pc.BLS12_MAP_FP_TO_G1, fp(12345)),
        (pc.BLS12_MAP_FP2_TO_G2, fp(12345) + fp(678)),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_encoding_and_length_rules(precompile, valid):
    precompile.run(valid)
    # The trailing 32 bytes of an MSM pair are a scalar, which has no encoding rule.
    field_part = valid[:-32] if precompile in (pc.BLS12_G1MSM, pc.BLS12_G2MSM) else valid
    for bad in encodings_with_one_bad_field_element(field_part):
        with pytest.raises(pc.PrecompileError):
            precompile.run(bad + valid[len(field_part) :])
    for bad_length in (b"", valid[:-1], valid + b"\x00"):
        with pytest.raises(pc.PrecompileError):
            precompile.run(bad_length)


def test_points_off_curve_are_rejected_even_by_add():
    off = fp(1) + fp(1)
    with pytest.raises(pc.PrecompileError):
        pc.BLS12_G1ADD.run(off + point_bytes(g1(1)))
    off_g2 = bytearray(point_bytes(g2(1)))
    off_g2[-1] ^= 1
    with pytest.raises(pc.PrecompileError):
        pc.BLS12_G2ADD.run(bytes(off_g2) + point_bytes(g2(1)))

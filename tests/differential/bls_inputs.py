"""Random inputs for the EIP-2537 BLS12-381 precompiles, valid and invalid.

Points come from py_ecc (an independent implementation, pinned in parevm's test extras): scalar
multiples of the generators, infinity, points on the curve but outside the r-order subgroup
(py_ecc's SWU map before cofactor clearing), points off the curve, and encodings that break the
format (a coordinate >= p, a non-zero byte in the 16-byte padding, a wrong length).
"""
from __future__ import annotations

import random

from py_ecc.bls.hash_to_curve import map_to_curve_G1, map_to_curve_G2
from py_ecc.optimized_bls12_381 import (
    FQ, FQ2, G1, G2, add, curve_order, field_modulus, is_inf, multiply, neg, normalize,
)

P = field_modulus
R = curve_order
G1_SIZE, G2_SIZE, SCALAR_SIZE, FP_SIZE = 128, 256, 32, 64

G1ADD, G1MSM, G2ADD, G2MSM, PAIRING, MAP_FP_TO_G1, MAP_FP2_TO_G2 = range(0x0B, 0x12)
G1_MSM_DISCOUNT = (1000, 949, 848, 797, 764, 750, 738, 728)  # EIP-2537, k = 1..8
G2_MSM_DISCOUNT = (1000, 1000, 923, 884, 855, 832, 812, 796)

POINT_KINDS = {"multiple": 8, "generator": 1, "infinity": 2, "outside_subgroup": 1, "off_curve": 1,
               "coordinate_too_big": 0.5, "bad_padding": 0.5}
SCALARS = (0, 1, 2, R - 1, R, R + 1, 2**256 - 1)


def _fp(value: int) -> bytes:
    return value.to_bytes(FP_SIZE, "big")


def _encode(point, g2: bool) -> bytes:
    if is_inf(point):
        return bytes(G2_SIZE if g2 else G1_SIZE)
    x, y = normalize(point)
    if g2:
        return b"".join(_fp(c) for c in (*x.coeffs, *y.coeffs))
    return _fp(x.n) + _fp(y.n)


def _random_fq2(rng: random.Random) -> FQ2:
    return FQ2([rng.randrange(P), rng.randrange(P)])


def point(rng: random.Random, g2: bool, kind: str | None = None) -> tuple[bytes, object]:
    """(encoding, py_ecc point or None when the encoding is not a valid point) of a random kind."""
    if kind is None:
        kind = rng.choices(list(POINT_KINDS), weights=list(POINT_KINDS.values()))[0]
    generator = G2 if g2 else G1
    if kind == "generator":
        pt = generator
    elif kind == "infinity":
        pt = multiply(generator, 0)
    elif kind == "outside_subgroup":
        pt = map_to_curve_G2(_random_fq2(rng)) if g2 else map_to_curve_G1(FQ(rng.randrange(P)))
    else:
        pt = multiply(generator, rng.randrange(1, R))
    data = bytearray(_encode(pt, g2))
    if kind == "off_curve":
        data[-1] ^= 1
    elif kind == "coordinate_too_big":  # x + p still fits the 64-byte field
        data[:FP_SIZE] = _fp(int.from_bytes(data[:FP_SIZE], "big") + P)
    elif kind == "bad_padding":
        data[rng.choice((0, FP_SIZE)) + rng.randrange(16)] = rng.randrange(1, 256)
    valid = kind in ("multiple", "generator", "infinity", "outside_subgroup")
    return bytes(data), pt if valid else None


def scalar(rng: random.Random) -> int:
    return rng.choice(SCALARS) if rng.random() < 0.3 else rng.randrange(2**256)


def _fp_input(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return _fp(P + rng.randrange(2**16))  # not a field element
    if roll < 0.15:
        return bytes([rng.randrange(1, 256)]) + bytes(15) + rng.randrange(P).to_bytes(48, "big")  # bad padding
    return _fp(rng.choice((0, 1, P - 1)) if roll < 0.25 else rng.randrange(P))


def bls_input(rng: random.Random, address: int) -> tuple[bytes, int]:
    """A random input for the precompile at `address` and its gas cost (as if the input were valid)."""
    if address in (G1ADD, G2ADD):
        g2 = address == G2ADD
        a_data, a = point(rng, g2)
        roll = rng.random()
        if roll < 0.15 and a is not None:  # doubling, or P + (-P) = infinity
            b_data = a_data if rng.random() < 0.5 else _encode(neg(a), g2)
        else:
            b_data, _b = point(rng, g2)
        return a_data + b_data, 600 if g2 else 375
    if address in (G1MSM, G2MSM):
        g2 = address == G2MSM
        k = rng.choice((1, 1, 2, 2, 3, 4, 8))
        data = b"".join(point(rng, g2)[0] + scalar(rng).to_bytes(SCALAR_SIZE, "big") for _ in range(k))
        discount = (G2_MSM_DISCOUNT if g2 else G1_MSM_DISCOUNT)[k - 1]
        return data, k * (22500 if g2 else 12000) * discount // 1000
    if address == PAIRING:
        return _pairing_input(rng)
    if address == MAP_FP_TO_G1:
        return _fp_input(rng), 5500
    return _fp_input(rng) + _fp_input(rng), 23800


def _pairing_input(rng: random.Random) -> tuple[bytes, int]:
    """One or two pairs; often e(aP, bQ) * e(-abP, Q), whose product is 1, so that the check passes."""
    if rng.random() < 0.5:
        a, b = rng.randrange(1, R), rng.randrange(1, R)
        pairs = [(_encode(multiply(G1, a), False), _encode(multiply(G2, b), True)),
                 (_encode(neg(multiply(G1, a * b % R)), False), _encode(G2, True))]
        if rng.random() < 0.3:  # break it: the check fails
            pairs[1] = (_encode(add(multiply(G1, a * b % R), G1), False), pairs[1][1])
    else:
        pairs = [(point(rng, False)[0], point(rng, True)[0]) for _ in range(rng.choice((1, 1, 2)))]
    return b"".join(p + q for p, q in pairs), 32600 * len(pairs) + 37700

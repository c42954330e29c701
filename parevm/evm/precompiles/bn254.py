"""alt_bn128 (BN254) precompiles: ECADD (0x06), ECMUL (0x07), ECPAIRING (0x08).

EIP-196/197 semantics with Byzantium and Istanbul (EIP-1108) prices. Scalar multiplication
and pairings run in the mcl C++ library, reached through the ctypes handle that the
`mclbn256` wheel opens. That wheel initialises mcl for a different BN254 curve, so this
module re-initialises it for mcl's BN_SNARK1, which is Ethereum's alt_bn128 (p and r below;
y^2 = x^3 + 3). Only mcl's public C API is used: coordinates enter with mclBnFp_deserialize
(little-endian) and leave with mclBnFp_serialize.

Addition is a single affine step in Python with GMP's modular inverse: at 150 gas it is the
cheapest precompile per call, and a dozen ctypes calls would cost twice as much time.

Validation follows the EIPs: every coordinate < p, (0, 0) is the point at infinity, other
G1 points must satisfy the curve equation (G1 has cofactor 1), G2 points must be on the
twist and in the order-r subgroup.
"""
from __future__ import annotations

from .base import Precompile, PrecompileError, fixed_gas, load_once, right_pad

FIELD_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583
GROUP_ORDER = 21888242871839275222246405745257275088548364400416034343698204186575808495617

_MCL_CURVE_BN_SNARK1 = 4  # mcl's id for alt_bn128


@load_once  # on first use, not at import: mclbn256 takes ~0.1 s to import and set up
def _mcl():
    """The mclbn256 module, with mcl initialised for alt_bn128. Its `lib` is mcl's C API; its
    point types are Jacobian: mclBnG1_bytes holds x, y, z (3 field elements of 32 bytes),
    mclBnG2_bytes x, y, z in Fp2, each as (real, imaginary)."""
    from mclbn256 import mclbn256 as mcl

    if mcl.lib.mclBn_init(_MCL_CURVE_BN_SNARK1, mcl.MCLBN_COMPILED_TIME_VAR) != 0:
        raise RuntimeError("mcl refused to initialise the alt_bn128 curve")
    # mclBnG2_isValid then checks the curve equation only; the subgroup is checked explicitly.
    mcl.lib.mclBn_verifyOrderG2(0)
    return mcl


@load_once  # on first use, not at import: gmpy2 takes ~15 ms to import
def _gmpy2():
    import gmpy2

    return gmpy2


_FP_SIZE = 32
_G1_SIZE = 64
_G2_SIZE = 128
_PAIR_SIZE = _G1_SIZE + _G2_SIZE
_TRUE_WORD = (1).to_bytes(32, "big")
_FALSE_WORD = bytes(32)


def _field_element(chunk: bytes) -> int:
    value = int.from_bytes(chunk, "big")
    if value >= FIELD_MODULUS:
        raise PrecompileError("alt_bn128 coordinate not below the field modulus")
    return value


def _g1_affine(chunk: bytes) -> tuple[int, int] | None:
    """Validated (x, y) of a 64-byte G1 point, None for the point at infinity."""
    x = _field_element(chunk[:32])
    y = _field_element(chunk[32:64])
    if not (x or y):
        return None
    if (y * y - x * x * x - 3) % FIELD_MODULUS:
        raise PrecompileError("alt_bn128 G1 point not on the curve")
    return x, y


def _set_coordinates(point, chunk: bytes, count: int) -> None:
    """Fill the first `count` field elements of an mcl point from big-endian words and set
    the following one (z, or z's real part) to 1, making it an affine point."""
    from ctypes import byref  # (mcl has loaded ctypes already; importing it up front costs every process)

    lib = _mcl().lib
    for index in range(count):
        offset = index * _FP_SIZE
        lib.mclBnFp_deserialize(byref(point, offset), chunk[offset : offset + _FP_SIZE][::-1], _FP_SIZE)
    lib.mclBnFp_setInt(byref(point, count * _FP_SIZE), 1)


def _g1_from_bytes(chunk: bytes):
    point = _mcl().mclBnG1_bytes()  # all zero: the point at infinity
    if _g1_affine(chunk) is not None:
        _set_coordinates(point, chunk, 2)
    return point


def _g1_to_bytes(point) -> bytes:
    from ctypes import byref, create_string_buffer

    lib = _mcl().lib
    lib.mclBnG1_normalize(point, point)
    if lib.mclBnG1_isZero(point):
        return bytes(_G1_SIZE)
    buffer = create_string_buffer(_FP_SIZE)
    lib.mclBnFp_serialize(buffer, _FP_SIZE, point)
    x = buffer.raw[::-1]
    lib.mclBnFp_serialize(buffer, _FP_SIZE, byref(point, _FP_SIZE))
    return x + buffer.raw[::-1]


def _g2_from_bytes(chunk: bytes):
    """G2 point from Ethereum's order: x imaginary, x real, y imaginary, y real."""
    words = [chunk[i : i + _FP_SIZE] for i in range(0, _G2_SIZE, _FP_SIZE)]
    coordinates = [_field_element(word) for word in words]  # range-check all four first
    mcl = _mcl()
    point = mcl.mclBnG2_bytes()  # all zero: the point at infinity
    if not any(coordinates):
        return point
    x_imag, x_real, y_imag, y_real = words
    _set_coordinates(point, x_real + x_imag + y_real + y_imag, 4)
    if not mcl.lib.mclBnG2_isValid(point):
        raise PrecompileError("alt_bn128 G2 point not on the twist")
    if not mcl.lib.mclBnG2_isValidOrder(point):
        raise PrecompileError("alt_bn128 G2 point not in the order-r subgroup")
    return point


def _ecadd(data: bytes) -> bytes:
    data = right_pad(data, 2 * _G1_SIZE)
    first, second = data[:_G1_SIZE], data[_G1_SIZE:]
    p1, p2 = _g1_affine(first), _g1_affine(second)
    if p1 is None:
        return second  # validated, so already the canonical encoding
    if p2 is None:
        return first
    (x1, y1), (x2, y2) = p1, p2
    invert = _gmpy2().invert
    if x1 == x2:
        if y1 != y2:
            return bytes(_G1_SIZE)  # P + (-P)
        # Doubling; y1 != 0 because the group has odd (prime) order.
        slope = 3 * x1 * x1 * invert(2 * y1, FIELD_MODULUS) % FIELD_MODULUS
    else:
        slope = (y2 - y1) * invert(x2 - x1, FIELD_MODULUS) % FIELD_MODULUS
    x3 = (slope * slope - x1 - x2) % FIELD_MODULUS
    y3 = (slope * (x1 - x3) - y1) % FIELD_MODULUS
    return int(x3).to_bytes(32, "big") + int(y3).to_bytes(32, "big")


def _ecmul(data: bytes) -> bytes:
    data = right_pad(data, _G1_SIZE + 32)
    mcl = _mcl()
    point = _g1_from_bytes(data[:64])
    scalar = mcl.mclBnFr_bytes()
    # The scalar is any 256-bit number; reducing it mod r does not change the product.
    mcl.lib.mclBnFr_setLittleEndianMod(scalar, data[64:96][::-1], 32)
    product = mcl.mclBnG1_bytes()
    mcl.lib.mclBnG1_mul(product, point, scalar)
    return _g1_to_bytes(product)


def _ecpairing(data: bytes) -> bytes:
    if len(data) % _PAIR_SIZE:
        raise PrecompileError("alt_bn128 pairing input is not a whole number of pairs")
    mcl = _mcl()
    lib = mcl.lib
    count = len(data) // _PAIR_SIZE
    g1_points = (mcl.mclBnG1_bytes * count)()
    g2_points = (mcl.mclBnG2_bytes * count)()
    used = 0
    for offset in range(0, len(data), _PAIR_SIZE):
        g1 = _g1_from_bytes(data[offset : offset + _G1_SIZE])
        g2 = _g2_from_bytes(data[offset + _G1_SIZE : offset + _PAIR_SIZE])
        # A pair with the point at infinity contributes a factor of 1: leave it out.
        if not (lib.mclBnG1_isZero(g1) or lib.mclBnG2_isZero(g2)):
            g1_points[used] = g1
            g2_points[used] = g2
            used += 1
    if not used:
        return _TRUE_WORD
    product = mcl.mclBnGT_bytes()
    lib.mclBn_millerLoopVec(product, g1_points, g2_points, used)
    lib.mclBn_finalExp(product, product)
    return _TRUE_WORD if lib.mclBnGT_isOne(product) else _FALSE_WORD


def _pairing_gas(base: int, per_pair: int):
    return lambda data: base + per_pair * (len(data) // _PAIR_SIZE)


BN254_ADD_BYZANTIUM = Precompile("ecadd", fixed_gas(500), _ecadd)
BN254_ADD_ISTANBUL = Precompile("ecadd", fixed_gas(150), _ecadd)
BN254_MUL_BYZANTIUM = Precompile("ecmul", fixed_gas(40000), _ecmul)
BN254_MUL_ISTANBUL = Precompile("ecmul", fixed_gas(6000), _ecmul)
BN254_PAIRING_BYZANTIUM = Precompile("ecpairing", _pairing_gas(100000, 80000), _ecpairing)
BN254_PAIRING_ISTANBUL = Precompile("ecpairing", _pairing_gas(45000, 34000), _ecpairing)

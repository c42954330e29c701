"""BLS12-381 precompiles (0x0b-0x11, EIP-2537 as activated in Prague), on arkworks through
py-arkworks-bls12381.

Encoding: a field element is 64 big-endian bytes whose top 16 bytes must be zero and whose
value must be below p; an Fp2 element is c0 || c1; a point is x || y; all-zero bytes encode
the point at infinity. Every decoded point must be on its curve; MSM and pairing inputs must
also be in the order-q subgroup (ADD inputs need not be). The maps are the SSWU map plus
isogeny and cofactor clearing that EIP-2537 specifies (arkworks' map_from_fp / map_from_fp2).
"""
from __future__ import annotations

from .base import Precompile, PrecompileError, fixed_gas, load_once

FIELD_MODULUS = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB

_PADDED_FP_SIZE = 64
_FP_PADDING = bytes(16)
_G1_SIZE = 128
_G2_SIZE = 256
_SCALAR_SIZE = 32
_G1_MSM_PAIR_SIZE = _G1_SIZE + _SCALAR_SIZE
_G2_MSM_PAIR_SIZE = _G2_SIZE + _SCALAR_SIZE
_PAIRING_PAIR_SIZE = _G1_SIZE + _G2_SIZE
_TRUE_WORD = (1).to_bytes(32, "big")
_FALSE_WORD = bytes(32)

# Per-point discounts (per mille) for an MSM of k points, k = 1..128; larger k use the last.
_G1_MSM_DISCOUNTS = (
    1000, 949, 848, 797, 764, 750, 738, 728, 719, 712, 705, 698, 692, 687, 682, 677,
    673, 669, 665, 661, 658, 654, 651, 648, 645, 642, 640, 637, 635, 632, 630, 627,
    625, 623, 621, 619, 617, 615, 613, 611, 609, 608, 606, 604, 603, 601, 599, 598,
    596, 595, 593, 592, 591, 589, 588, 586, 585, 584, 582, 581, 580, 579, 577, 576,
    575, 574, 573, 572, 570, 569, 568, 567, 566, 565, 564, 563, 562, 561, 560, 559,
    558, 557, 556, 555, 554, 553, 552, 551, 550, 549, 548, 547, 547, 546, 545, 544,
    543, 542, 541, 540, 540, 539, 538, 537, 536, 536, 535, 534, 533, 532, 532, 531,
    530, 529, 528, 528, 527, 526, 525, 525, 524, 523, 522, 522, 521, 520, 520, 519,
)  # fmt: skip
_G2_MSM_DISCOUNTS = (
    1000, 1000, 923, 884, 855, 832, 812, 796, 782, 770, 759, 749, 740, 732, 724, 717,
    711, 704, 699, 693, 688, 683, 679, 674, 670, 666, 663, 659, 655, 652, 649, 646,
    643, 640, 637, 634, 632, 629, 627, 624, 622, 620, 618, 615, 613, 611, 609, 607,
    606, 604, 602, 600, 598, 597, 595, 593, 592, 590, 589, 587, 586, 584, 583, 582,
    580, 579, 578, 576, 575, 574, 573, 571, 570, 569, 568, 567, 566, 565, 563, 562,
    561, 560, 559, 558, 557, 556, 555, 554, 553, 552, 552, 551, 550, 549, 548, 547,
    546, 545, 545, 544, 543, 542, 541, 541, 540, 539, 538, 537, 537, 536, 535, 535,
    534, 533, 532, 532, 531, 530, 530, 529, 528, 528, 527, 526, 526, 525, 524, 524,
)  # fmt: skip


@load_once  # on first use, not at import, like every precompile's native library
def _arkworks():
    import py_arkworks_bls12381

    return py_arkworks_bls12381


def _unpad_field_elements(chunk: bytes) -> bytes:
    """The 48-byte big-endian field elements inside a run of 64-byte padded ones."""
    out = []
    for offset in range(0, len(chunk), _PADDED_FP_SIZE):
        if chunk[offset : offset + 16] != _FP_PADDING:
            raise PrecompileError("BLS12-381 field element with non-zero padding")
        element = chunk[offset + 16 : offset + _PADDED_FP_SIZE]
        if int.from_bytes(element, "big") >= FIELD_MODULUS:
            raise PrecompileError("BLS12-381 field element not below the modulus")
        out.append(element)
    return b"".join(out)


def _pad_field_elements(raw: bytes) -> bytes:
    return b"".join(_FP_PADDING + raw[i : i + 48] for i in range(0, len(raw), 48))


def _decode(chunk: bytes, from_xy, what: str):
    """The point encoded in `chunk`, made by an arkworks constructor; its ValueError (not on
    the curve, or not in the subgroup for the checked constructors) becomes PrecompileError."""
    raw = _unpad_field_elements(chunk)
    try:
        return from_xy(raw)
    except ValueError as error:
        raise PrecompileError(f"invalid {what} point: {error}") from None


def _g1_on_curve(chunk: bytes):
    return _decode(chunk, _arkworks().G1Point.from_xy_bytes_unchecked_be, "G1")


def _g2_on_curve(chunk: bytes):
    return _decode(chunk, _arkworks().G2Point.from_xy_bytes_unchecked_be, "G2")


def _g1_in_subgroup(chunk: bytes):
    return _decode(chunk, _arkworks().G1Point.from_xy_bytes_be, "G1")


def _g2_in_subgroup(chunk: bytes):
    return _decode(chunk, _arkworks().G2Point.from_xy_bytes_be, "G2")


def _encode(point) -> bytes:
    return _pad_field_elements(point.to_xy_bytes_be())  # infinity comes out as all zeros


def _add(point_size: int, decode):
    def run(data: bytes) -> bytes:
        if len(data) != 2 * point_size:
            raise PrecompileError("BLS12-381 addition takes exactly two points")
        return _encode(decode(data[:point_size]) + decode(data[point_size:]))

    return run


def _msm(point_size: int, decode):
    pair_size = point_size + _SCALAR_SIZE

    def run(data: bytes) -> bytes:
        if not data or len(data) % pair_size:
            raise PrecompileError("BLS12-381 MSM input is not a positive number of pairs")
        scalar_from_bytes = _arkworks().Scalar.from_be_bytes_mod_order
        points = []
        scalars = []
        for offset in range(0, len(data), pair_size):
            points.append(decode(data[offset : offset + point_size]))
            # Scalars may exceed q; the points have order q, so reducing changes nothing.
            scalars.append(scalar_from_bytes(data[offset + point_size : offset + pair_size]))
        point_class = type(points[0])  # G1Point or G2Point, as `decode` makes them
        return _encode(point_class.multiexp_unchecked(points, scalars))

    return run


def _msm_gas(pair_size: int, multiplication_cost: int, discounts: tuple[int, ...]):
    def gas(data: bytes) -> int:
        k = len(data) // pair_size
        if k == 0:
            return 0  # `run` rejects the input
        return k * multiplication_cost * discounts[min(k, len(discounts)) - 1] // 1000

    return gas


def _pairing_check(data: bytes) -> bytes:
    if not data or len(data) % _PAIRING_PAIR_SIZE:
        raise PrecompileError("BLS12-381 pairing input is not a positive number of pairs")
    g1_points = []
    g2_points = []
    for offset in range(0, len(data), _PAIRING_PAIR_SIZE):
        g1_points.append(_g1_in_subgroup(data[offset : offset + _G1_SIZE]))
        g2_points.append(_g2_in_subgroup(data[offset + _G1_SIZE : offset + _PAIRING_PAIR_SIZE]))
    return _TRUE_WORD if _arkworks().GT.pairing_check(g1_points, g2_points) else _FALSE_WORD


def _map_fp_to_g1(data: bytes) -> bytes:
    if len(data) != _PADDED_FP_SIZE:
        raise PrecompileError("BLS12-381 MAP_FP_TO_G1 takes one 64-byte field element")
    return _encode(_arkworks().G1Point.map_from_fp_be(_unpad_field_elements(data)))


def _map_fp2_to_g2(data: bytes) -> bytes:
    if len(data) != 2 * _PADDED_FP_SIZE:
        raise PrecompileError("BLS12-381 MAP_FP2_TO_G2 takes one 128-byte Fp2 element")
    return _encode(_arkworks().G2Point.map_from_fp2_be(_unpad_field_elements(data)))


BLS12_G1ADD = Precompile("bls12_g1add", fixed_gas(375), _add(_G1_SIZE, _g1_on_curve))
BLS12_G2ADD = Precompile("bls12_g2add", fixed_gas(600), _add(_G2_SIZE, _g2_on_curve))
BLS12_G1MSM = Precompile(
    "bls12_g1msm",
    _msm_gas(_G1_MSM_PAIR_SIZE, 12000, _G1_MSM_DISCOUNTS),
    _msm(_G1_SIZE, _g1_in_subgroup),
)
BLS12_G2MSM = Precompile(
    "bls12_g2msm",
    _msm_gas(_G2_MSM_PAIR_SIZE, 22500, _G2_MSM_DISCOUNTS),
    _msm(_G2_SIZE, _g2_in_subgroup),
)
BLS12_PAIRING_CHECK = Precompile(
    "bls12_pairing_check",
    lambda data: 37700 + 32600 * (len(data) // _PAIRING_PAIR_SIZE),
    _pairing_check,
)
BLS12_MAP_FP_TO_G1 = Precompile("bls12_map_fp_to_g1", fixed_gas(5500), _map_fp_to_g1)
BLS12_MAP_FP2_TO_G2 = Precompile("bls12_map_fp2_to_g2", fixed_gas(23800), _map_fp2_to_g2)

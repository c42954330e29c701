"""RLP: the published vectors, round trips, and every kind of non-canonical input refused."""
from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parevm.rlp import RLPError, decode, decode_int, encode, wrap_list

LOREM = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit"  # 56 bytes: first long string

# (item, encoding) pairs from the Ethereum wiki's RLP page and the ethereum/tests RLP suite.
VECTORS = [
    (b"", "80"),
    (b"\x00", "00"),
    (b"\x7f", "7f"),
    (b"\x80", "8180"),
    (b"dog", "83646f67"),
    (LOREM[:55], "b7" + LOREM[:55].hex()),
    (LOREM, "b838" + LOREM.hex()),
    ([], "c0"),
    ([b"cat", b"dog"], "c88363617483646f67"),
    ([[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"),
    ([b"a" * 54], "f7b6" + "61" * 54),  # 55-byte payload: last short list
    ([b"a" * 55], "f838b7" + "61" * 55),  # 56-byte payload: first long list
    (b"\xff" * 1024, "b90400" + "ff" * 1024),
    (b"\x01" * 70000, "ba011170" + "01" * 70000),  # beyond the prebuilt header table
]
INT_VECTORS = [
    (0, "80"),
    (1, "01"),
    (0x7F, "7f"),
    (0x80, "8180"),
    (1024, "820400"),
    (0xFFFFFF, "83ffffff"),
    (2**256 - 1, "a0" + "ff" * 32),
]


@pytest.mark.parametrize("item, expected", VECTORS, ids=[e[:12] for _, e in VECTORS])
def test_encode_and_decode_vectors(item, expected):
    assert encode(item).hex() == expected
    assert decode(bytes.fromhex(expected)) == item


@pytest.mark.parametrize("value, expected", INT_VECTORS)
def test_integer_vectors(value, expected):
    encoded = encode(value)
    assert encoded.hex() == expected
    assert decode_int(decode(encoded)) == value


def test_tuples_subclasses_and_buffers_encode_like_their_base_types():
    class Pair(NamedTuple):
        number: int
        name: bytes

    assert encode(Pair(5, b"dog")) == encode([5, b"dog"]) == encode((5, b"dog"))
    assert encode(bytearray(b"dog")) == encode(memoryview(b"dog")) == encode(b"dog")


@pytest.mark.parametrize("bad", [-1, True, "text", 1.5, None, {b"a": b"b"}])
def test_encode_rejects_what_rlp_cannot_represent(bad):
    with pytest.raises(RLPError):
        encode(bad)


def test_wrap_list_matches_encoding_the_items():
    items = [b"x" * 40, 7, [b"nested"]]
    assert wrap_list(b"".join(encode(i) for i in items)) == encode(items)


items = st.recursive(
    st.binary(max_size=80) | st.integers(min_value=0, max_value=2**300),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


def _as_decoded(item):
    """What decode returns for an encoded item: ints become their minimal big-endian bytes."""
    if isinstance(item, int):
        return item.to_bytes((item.bit_length() + 7) // 8, "big")
    if isinstance(item, list):
        return [_as_decoded(i) for i in item]
    return item


@given(items)
def test_round_trip(item):
    assert decode(encode(item)) == _as_decoded(item)


@pytest.mark.parametrize(
    "hex_input, reason",
    [
        ("", "empty input"),
        ("8100", "single byte below 0x80 wrapped in a string header"),
        ("817f", "single byte below 0x80 wrapped in a string header"),
        ("b800", "short string in long form"),
        ("b803646f67", "short string in long form"),
        ("b90038" + "61" * 56, "length with a leading zero byte"),
        ("f803c0c0c0", "short list in long form"),
        ("f90038" + "61" * 56, "list length with a leading zero byte"),
        ("8080", "trailing bytes"),
        ("c0c0", "trailing bytes after a list"),
        ("83646f", "string shorter than its header says"),
        ("c383646f67", "list payload cut inside an item"),
        ("c28364", "item runs past the end of its list"),
        ("b8", "input ends inside a length prefix"),
        ("b9ff", "input ends inside a length prefix"),
        ("c1b8", "length prefix runs past the end of its list"),
    ],
)
def test_decode_rejects_non_canonical_and_malformed_input(hex_input, reason):
    with pytest.raises(RLPError):
        decode(bytes.fromhex(hex_input))


def test_decode_reports_nesting_beyond_the_recursion_limit_as_rlp_error():
    nested = b"\xc0"
    for _ in range(5000):
        nested = wrap_list(nested)
    with pytest.raises(RLPError, match="nested too deeply"):
        decode(nested)


def test_decode_int_rejects_leading_zeros_and_lists():
    assert decode_int(b"") == 0
    assert decode_int(b"\x01\x00") == 256
    for bad in (b"\x00", b"\x00\x01"):
        with pytest.raises(RLPError):
            decode_int(bad)
    with pytest.raises(RLPError):
        decode_int([b"\x01"])



def _header_by_the_book(short_offset: int, size: int) -> bytes:
    if size < 56:
        return bytes((short_offset + size,))
    size_bytes = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((short_offset + 55 + len(size_bytes),)) + size_bytes


def test_prebuilt_headers_are_the_computed_ones_at_every_size_of_the_size():
    """The header tables are built by length of the size (1, 2 or 3 bytes), not one header at a
    time: strings and lists of every cached payload size, and sizes past the cache."""
    for size in [*range(2, 4200), 65_535, 65_536, 2**24]:  # (a 1-byte string below 0x80 has no header)
        assert encode(b"\x01" * size) == _header_by_the_book(0x80, size) + b"\x01" * size
    for size in range(0, 4200):
        items = [b"\x01"] * size  # each item encodes to one byte: a payload of `size` bytes
        assert encode(items) == _header_by_the_book(0xC0, size) + b"\x01" * size

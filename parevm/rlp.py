"""Recursive Length Prefix encoding (Yellow Paper, appendix B).

`encode` sits on the hot path of trie building and transaction hashing, so it dispatches on
the exact type first (bytes, int, list, tuple) and keeps subclasses (NamedTuples, IntEnums,
bytearrays) on a slower fallback. `decode` is strict: every input has exactly one canonical
encoding, and anything else is an `RLPError`, because consensus data that re-encodes
differently would hash differently.
"""
from __future__ import annotations

from typing import Union

Item = Union[bytes, list["Item"]]


class RLPError(ValueError):
    """Malformed or non-canonical RLP, or a value RLP cannot represent."""


def _header(short_offset: int, length: int) -> bytes:
    """String (0x80) or list (0xC0) header for a payload of `length` bytes."""
    if length < 56:
        return bytes((short_offset + length,))
    length_bytes = length.to_bytes((length.bit_length() + 7) >> 3, "big")
    return bytes((short_offset + 55 + len(length_bytes),)) + length_bytes


# Headers of the payload sizes that trie nodes, receipts and transactions mostly have, prebuilt
# (by length of the size, without calling `_header` 8,192 times: every process pays for this).
_CACHED_HEADERS = 4096


def _cached_headers(short_offset: int) -> list[bytes]:
    return ([bytes((short_offset + n,)) for n in range(56)]
            + [bytes((short_offset + 56, n)) for n in range(56, 256)]
            + [bytes((short_offset + 57, n >> 8, n & 0xFF)) for n in range(256, _CACHED_HEADERS)])


_STRING_HEADER = _cached_headers(0x80)
_LIST_HEADER = _cached_headers(0xC0)
_SINGLE_BYTE = [bytes((n,)) for n in range(0x80)]
_EMPTY_STRING = b"\x80"


def encode(item) -> bytes:
    """RLP of bytes, a non-negative int (minimal big-endian, 0 is the empty string), or a
    list/tuple of such items, nested arbitrarily."""
    kind = type(item)
    if kind is bytes:
        length = len(item)
        if length == 1 and item[0] < 0x80:
            return item
        if length < _CACHED_HEADERS:
            return _STRING_HEADER[length] + item
        return _header(0x80, length) + item
    if kind is int:
        if 0 < item < 0x80:
            return _SINGLE_BYTE[item]
        if item == 0:
            return _EMPTY_STRING
        if item < 0:
            raise RLPError(f"cannot RLP-encode a negative integer: {item}")
        length = (item.bit_length() + 7) >> 3
        if length < _CACHED_HEADERS:
            return _STRING_HEADER[length] + item.to_bytes(length, "big")
        return _header(0x80, length) + item.to_bytes(length, "big")
    if kind is list or kind is tuple:
        payload = b"".join(map(encode, item))
        length = len(payload)
        if length < _CACHED_HEADERS:
            return _LIST_HEADER[length] + payload
        return _header(0xC0, length) + payload
    return _encode_subclass(item)


def _encode_subclass(item) -> bytes:
    if isinstance(item, (bytearray, memoryview)):
        return encode(bytes(item))
    if isinstance(item, bool):
        raise RLPError("cannot RLP-encode a bool; pass an int")
    if isinstance(item, int):
        return encode(int(item))
    if isinstance(item, (list, tuple)):
        return wrap_list(b"".join(map(encode, item)))
    raise RLPError(f"cannot RLP-encode a {type(item).__name__}")


def wrap_list(payload: bytes) -> bytes:
    """An RLP list from the concatenated encodings of its items.

    For callers that assemble items already encoded (a trie node embedding a child node)."""
    length = len(payload)
    if length < _CACHED_HEADERS:
        return _LIST_HEADER[length] + payload
    return _header(0xC0, length) + payload


def decode(data: bytes) -> Item:
    """The item `data` encodes (bytes or nested lists of bytes); the whole input must be one item."""
    if type(data) is not bytes:
        data = bytes(data)
    item, end = _decode_at(data, 0, len(data), 0)
    if end != len(data):
        raise RLPError(f"{len(data) - end} trailing bytes after the item")
    return item


MAX_NESTING = 256  # far deeper than any consensus object; bounds the decoder's recursion


def _decode_at(data: bytes, pos: int, limit: int, depth: int) -> tuple[Item, int]:
    """Decode the item starting at `pos`, which must end by `limit`; return it and its end."""
    if pos >= limit:
        raise RLPError("input ends where an item was expected")
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        start, length = pos + 1, first - 0x80
        if length == 1 and start < limit and data[start] < 0x80:
            raise RLPError("single byte below 0x80 must encode as itself")
    elif first < 0xC0:
        start, length = _long_length(data, pos, limit, first - 0xB7)
    elif first < 0xF8:
        start, length = pos + 1, first - 0xC0
    else:
        start, length = _long_length(data, pos, limit, first - 0xF7)
    end = start + length
    if end > limit:
        raise RLPError(f"item claims {length} bytes but only {limit - start} remain")
    if first < 0xC0:
        return data[start:end], end
    if depth >= MAX_NESTING:
        raise RLPError("lists nested too deeply")
    items = []
    while start < end:
        item, start = _decode_at(data, start, end, depth + 1)
        items.append(item)
    return items, end


def _long_length(data: bytes, pos: int, limit: int, length_of_length: int) -> tuple[int, int]:
    """Payload start and length of a long-form string or list header at `pos`."""
    start = pos + 1 + length_of_length
    if start > limit:
        raise RLPError("input ends inside a length prefix")
    if data[pos + 1] == 0:
        raise RLPError("length prefix has leading zero bytes")
    length = int.from_bytes(data[pos + 1 : start], "big")
    if length < 56:
        raise RLPError(f"payload of {length} bytes must use the short form")
    return start, length


def decode_int(data: bytes) -> int:
    """A non-negative integer from its canonical byte string (no leading zeros; 0 is empty)."""
    if type(data) is not bytes:
        raise RLPError(f"expected a byte string for an integer, got a {type(data).__name__}")
    if data[:1] == b"\x00":
        raise RLPError("integer has leading zero bytes")
    return int.from_bytes(data, "big")

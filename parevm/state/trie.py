"""Merkle-Patricia trie roots (Yellow Paper, appendix D), computed from complete mappings.

No node store: the root is built bottom-up in one pass over the keys sorted as hex strings
(one character per nibble, so string order is nibble order and slicing is cheap). The keys of
a subtree form a contiguous run of that list, and a branch's children are found with one
`bisect` per child, so the cost is dominated by the keccak of each node that is 32 bytes or
longer; shorter nodes are embedded in their parent as the Yellow Paper requires.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Iterable, Mapping

from parevm.crypto import keccak256
from parevm.rlp import encode, wrap_list

EMPTY_TRIE_ROOT = keccak256(b"\x80")

_HEX_DIGITS = "0123456789abcdef"
_NIBBLE_INDEX = {digit: index for index, digit in enumerate(_HEX_DIGITS)}
# The smallest string above every key that continues with this nibble: prefix + _NEXT_DIGIT[d]
# bounds the run of keys starting with prefix + d ("g" follows "f" in ASCII).
_NEXT_DIGIT = {digit: following for digit, following in zip(_HEX_DIGITS, "123456789abcdefg")}
_EMPTY_SLOT = b"\x80"

# (address, nonce, balance, storage, code_hash); storage is either the slots
# (Mapping[int, int], zero values ignored) or an already computed 32-byte storage root.
AccountEntry = tuple[bytes, int, int, "Mapping[int, int] | bytes", bytes]


def trie_root(items: Mapping[bytes, bytes]) -> bytes:
    """Root of the trie mapping each key to its (already encoded) value; empty values are absent."""
    by_nibbles = {key.hex(): value for key, value in items.items() if value}
    if not by_nibbles:
        return EMPTY_TRIE_ROOT
    keys = sorted(by_nibbles)
    values = [by_nibbles[key] for key in keys]
    return keccak256(_node(keys, values, 0, len(keys), 0))


def secure_trie_root(items: Mapping[bytes, bytes]) -> bytes:
    """Root of a trie whose keys are keccak-hashed first (the state and storage tries)."""
    return trie_root({keccak256(key): value for key, value in items.items()})


def storage_root(storage: Mapping[int, int]) -> bytes:
    """Root of an account's storage trie: keccak(slot as 32 bytes) -> rlp(value), zeros omitted."""
    return trie_root(
        {keccak256(slot.to_bytes(32, "big")): encode(value) for slot, value in storage.items() if value}
    )


def state_root(accounts: Iterable[AccountEntry]) -> bytes:
    """Root of the world state from (address, nonce, balance, storage, code_hash) entries.

    Every entry given is included: dropping empty accounts (EIP-161) is the caller's rule."""
    leaves = {}
    for address, nonce, balance, storage, code_hash in accounts:
        # (most accounts have no storage: their root is a constant, not a trie built from nothing)
        root = storage if type(storage) is bytes else storage_root(storage) if storage else EMPTY_TRIE_ROOT
        leaves[keccak256(address)] = encode([nonce, balance, root, code_hash])
    return trie_root(leaves)


def ordered_trie_root(values: list[bytes]) -> bytes:
    """Root of the trie keyed by rlp(index): the transactions, receipts and withdrawals tries."""
    return trie_root({encode(index): value for index, value in enumerate(values)})


def _node(keys: list[str], values: list[bytes], lo: int, hi: int, depth: int) -> bytes:
    """RLP of the node holding keys[lo:hi] (sorted, sharing their first `depth` nibbles)."""
    first = keys[lo]
    if hi - lo == 1:
        return _leaf(first[depth:], values[lo])
    # Sorted keys: the prefix shared by the first and the last is shared by all of them.
    last = keys[hi - 1]
    shared_end = min(len(first), len(last))
    split = depth
    while split < shared_end and first[split] == last[split]:
        split += 1
    if split > depth:
        child = _node(keys, values, lo, hi, split)
        if len(child) >= 32:
            child = b"\xa0" + keccak256(child)
        return wrap_list(encode(_hex_prefix(first[depth:split], False)) + child)
    slots = [_EMPTY_SLOT] * 17
    if len(first) == depth:  # a key ending here is the branch's value (sorted before the rest)
        slots[16] = encode(values[lo])
        lo += 1
    prefix = first[:depth]
    child_depth = depth + 1
    while lo < hi:
        digit = keys[lo][depth]
        end = bisect_left(keys, prefix + _NEXT_DIGIT[digit], lo, hi)
        if end - lo == 1:  # most children of a hashed-key trie are leaves: skip the recursion
            child = _leaf(keys[lo][child_depth:], values[lo])
        else:
            child = _node(keys, values, lo, end, child_depth)
        # A child node under 32 bytes is embedded, a longer one referenced by its hash.
        slots[_NIBBLE_INDEX[digit]] = child if len(child) < 32 else b"\xa0" + keccak256(child)
        lo = end
    return wrap_list(b"".join(slots))


def _leaf(path: str, value: bytes) -> bytes:
    return wrap_list(encode(_hex_prefix(path, True)) + encode(value))


def _hex_prefix(nibbles: str, is_leaf: bool) -> bytes:
    """Hex-prefix encoding of a nibble path (a hex string) with the leaf flag."""
    if len(nibbles) & 1:
        return bytes.fromhex(("3" if is_leaf else "1") + nibbles)
    return bytes.fromhex(("20" if is_leaf else "00") + nibbles)

"""Trie roots: published vectors, a literal transcription of the Yellow Paper's definition as an
oracle for random key sets, real state roots from EEST post-states, and real withdrawals roots."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parevm.config import fixtures_dir
from parevm.crypto import EMPTY_KECCAK, keccak256
from parevm.rlp import encode
from parevm.state.trie import (
    EMPTY_TRIE_ROOT,
    ordered_trie_root,
    secure_trie_root,
    state_root,
    storage_root,
    trie_root,
)

DOGS = {b"doe": b"reindeer", b"dog": b"puppy", b"dogglesworth": b"cat"}


def test_empty_root():
    assert EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    assert trie_root({}) == secure_trie_root({}) == storage_root({}) == ordered_trie_root([]) == EMPTY_TRIE_ROOT
    assert state_root([]) == EMPTY_TRIE_ROOT


@pytest.mark.parametrize(
    "items, root",
    [
        (DOGS, "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3"),
        ({b"A": b"a" * 50}, "d23786fb4a010da3ce639d66d5e904a11dbc02746d1ce25029e53290cabf28ab"),
        # go-ethereum's delete test: empty values are absent keys.
        ({b"do": b"verb", b"ether": b"", b"horse": b"stallion", b"shaman": b"", b"doge": b"coin",
          b"dog": b"puppy"}, "5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84"),
    ],
)
def test_published_roots(items, root):
    assert trie_root(items).hex() == root


def test_secure_root_of_the_dogs():
    assert secure_trie_root(DOGS).hex() == "d4cd937e4a4368d7931a9cf51686b7e10abb3dce38a39000fd7902a092b64585"


# --- the Yellow Paper's c(I, i), transcribed literally -------------------------------------------


def _nibbles(key: bytes) -> list[int]:
    return [n for byte in key for n in (byte >> 4, byte & 15)]


def _hp(path: list[int], leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(path) % 2:
        nibbles = [flag + 1, *path]
    else:
        nibbles = [flag, 0, *path]
    return bytes(16 * nibbles[i] + nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _structure(pairs: list[tuple[list[int], bytes]], i: int):
    """c(I, i) as nested Python lists; children go through n(), which hashes encodings of 32+ bytes."""
    if len(pairs) == 1:
        key, value = pairs[0]
        return [_hp(key[i:], True), value]
    j = i
    while all(len(k) > j for k, _ in pairs) and len({k[j] for k, _ in pairs}) == 1:
        j += 1
    if j > i:
        return [_hp(pairs[0][0][i:j], False), _reference(pairs, j)]
    children = [_reference([p for p in pairs if len(p[0]) > i and p[0][i] == n], i + 1) for n in range(16)]
    ending_here = [v for k, v in pairs if len(k) == i]
    return children + [ending_here[0] if ending_here else b""]


def _reference(pairs, i):
    if not pairs:
        return b""
    structure = _structure(pairs, i)
    encoded = encode(structure)
    return structure if len(encoded) < 32 else keccak256(encoded)


def yellow_paper_root(items: dict[bytes, bytes]) -> bytes:
    pairs = [(_nibbles(k), v) for k, v in items.items() if v]
    return keccak256(encode(_structure(pairs, 0))) if pairs else EMPTY_TRIE_ROOT


# Few distinct bytes and short keys, so that keys share prefixes, end inside each other
# (branch values), and nodes come out both shorter and longer than 32 bytes.
trie_items = st.dictionaries(
    st.binary(max_size=4).map(lambda b: bytes(x % 3 for x in b)) | st.binary(min_size=1, max_size=33),
    st.binary(max_size=40),
    max_size=40,
)


@settings(max_examples=300)
@given(trie_items)
def test_matches_the_yellow_paper_definition(items):
    assert trie_root(items) == yellow_paper_root(items)


def test_matches_the_yellow_paper_definition_on_many_hashed_keys():
    items = {keccak256(i.to_bytes(4, "big")): encode(i) * (i % 5) for i in range(3000)}
    assert trie_root(items) == yellow_paper_root(items)


# --- storage, accounts, ordered tries --------------------------------------------------------------


def test_storage_root_hashes_slots_omits_zeros_and_encodes_values_as_rlp_ints():
    storage = {0: 1, 1: 0, 2**256 - 1: 2**255}
    expected = secure_trie_root({(0).to_bytes(32, "big"): b"\x01", (2**256 - 1).to_bytes(32, "big"): encode(2**255)})
    assert storage_root(storage) == expected
    assert storage_root({0: 1, 2**256 - 1: 2**255}) == expected


def test_state_root_takes_storage_or_its_root():
    address = bytes(range(20))
    storage = {5: 7}
    with_slots = state_root([(address, 1, 10**18, storage, EMPTY_KECCAK)])
    with_root = state_root([(address, 1, 10**18, storage_root(storage), EMPTY_KECCAK)])
    leaf = encode([1, 10**18, storage_root(storage), EMPTY_KECCAK])
    assert with_slots == with_root == secure_trie_root({address: leaf})


def test_ordered_root_keys_values_by_rlp_index():
    values = [bytes([i % 256]) * (i % 50) + b"x" for i in range(300)]
    assert ordered_trie_root(values) == trie_root({encode(i): v for i, v in enumerate(values)})
    assert ordered_trie_root(values) == yellow_paper_root({encode(i): v for i, v in enumerate(values)})


def _post_state_entries(state: dict) -> list:
    return [
        (bytes.fromhex(address[2:]), int(account["nonce"], 16), int(account["balance"], 16),
         {int(slot, 16): int(value, 16) for slot, value in account["storage"].items()},
         keccak256(bytes.fromhex(account["code"][2:])))
        for address, account in state.items()
    ]


EEST_FILES = [
    "prague/eip7702_set_code_tx/test_set_code_to_sstore.json",
    "prague/eip7623_increase_calldata_cost/test_eip_7623.json",
    "osaka/eip7939_count_leading_zeros/test_clz_from_set_code.json",
    "osaka/eip7825_transaction_gas_limit_cap/test_transaction_gas_limit_cap.json",
]


@pytest.mark.parametrize("name", EEST_FILES)
def test_state_root_of_eest_post_states(name, fixture_path):
    path = fixture_path("eest-state-tests", *name.split("/"))
    checked = 0
    for test in json.loads(path.read_bytes()).values():
        for entries in test["post"].values():
            for entry in entries:
                assert state_root(_post_state_entries(entry["state"])).hex() == entry["hash"][2:]
                checked += 1
    assert checked > 0


def _shanghai_blocks() -> list[Path]:
    return [p for p in sorted((fixtures_dir() / "mainnet").glob("*/block.json")) if "withdrawals" in p.read_text()]


@pytest.mark.parametrize("block_file", _shanghai_blocks(), ids=lambda p: p.parent.name)
def test_withdrawals_root_of_real_blocks(block_file):
    block = json.loads(block_file.read_bytes())
    leaves = [
        encode([int(w["index"], 16), int(w["validatorIndex"], 16), bytes.fromhex(w["address"][2:]),
                int(w["amount"], 16)])
        for w in block["withdrawals"]
    ]
    assert ordered_trie_root(leaves).hex() == block["withdrawalsRoot"][2:]

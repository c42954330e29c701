"""Transactions: every real block transaction (hash, sender, transactionsRoot, round trip), every
state-test transaction (decode, re-encode from fields, sender, re-signing, EIP-7702 authorities),
the EIP-155 example, and the malformed inputs and bad signatures that must be refused."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

import pytest

import parevm.tx.signing as signing_module
from parevm import rlp
from parevm.config import fixtures_dir
from parevm.crypto import SECP256K1_HALF_N, SECP256K1_N
from parevm.state.trie import ordered_trie_root
from parevm.tx import (
    Authorization,
    InvalidSignature,
    Transaction,
    TransactionDecodeError,
    TransactionError,
    decode_transaction,
    encode_transaction,
    private_key_address,
    recover_authority,
    recover_sender,
    sign_authorization,
    sign_transaction,
    signing_hash,
    tx_hash,
)

FIXTURES = fixtures_dir()
BLOCK_FILES = sorted(FIXTURES.glob("mainnet/*/block.json")) + sorted(FIXTURES.glob("synthetic/*/block.json"))
HOMESTEAD_BLOCK = 1_150_000  # EIP-2 (low s) from here on
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
OTHER = bytes(range(1, 21))


def _hex(text: str) -> bytes:
    return bytes.fromhex(text[2:])


@lru_cache(maxsize=None)
def _block(path: Path) -> dict:
    return json.loads(path.read_bytes())


def test_all_fixture_blocks_are_present(fixture_path):
    fixture_path("mainnet")
    fixture_path("synthetic")
    assert len(BLOCK_FILES) == 43 + 4


@pytest.mark.parametrize("block_file", BLOCK_FILES, ids=lambda p: p.parent.name)
def test_real_block_transactions(block_file):
    block = _block(block_file)
    allow_high_s = int(block["number"], 16) < HOMESTEAD_BLOCK
    transactions = [Transaction.from_rpc(obj) for obj in block["transactions"]]
    for tx, obj in zip(transactions, block["transactions"]):
        assert tx_hash(tx) == _hex(obj["hash"])
        assert recover_sender(tx, allow_high_s=allow_high_s) == _hex(obj["from"])
        assert decode_transaction(encode_transaction(tx)) == tx
    assert ordered_trie_root([encode_transaction(tx) for tx in transactions]) == _hex(block["transactionsRoot"])


def test_real_blocks_cover_every_type_and_both_legacy_signatures():
    kinds = set()
    for block_file in BLOCK_FILES:
        for obj in _block(block_file)["transactions"]:
            tx = Transaction.from_rpc(obj)
            kinds.add((tx.type, tx.chain_id is not None, tx.to is None))
    assert {kind[:2] for kind in kinds} == {(0, False), (0, True), (1, True), (2, True), (3, True), (4, True)}
    assert any(creates for _, _, creates in kinds)


@pytest.mark.parametrize("name", ["prague-7702", "osaka-mix"])
def test_eip7702_authorities_of_synthetic_blocks(name, fixture_path):
    folder = fixture_path("synthetic", name)
    block = _block(folder / "block.json")
    prestate = json.loads((folder / "prestate.json").read_bytes())
    checked = 0
    for obj in block["transactions"]:
        if obj["type"] != "0x4":
            continue
        tx = Transaction.from_rpc(obj)
        assert [auth.address for auth in tx.authorization_list] == [_hex(a["address"]) for a in obj["authorizationList"]]
        for auth in tx.authorization_list:
            authority = recover_authority(auth)
            assert authority is not None
            assert "0x" + authority.hex() in prestate  # the pre-state is the whole state
            if authority == recover_sender(tx):  # self-sponsored: signed for the nonce after the tx's
                assert auth.nonce == tx.nonce + 1
            checked += 1
    assert checked > 0


# --- the state-test corpora: ~17,000 distinct signed transactions --------------------------------

# Expected exceptions that are decoding failures (the rest are the executor's validity rules).
DECODE_FAILURES = {"TR_RLP_WRONGVALUE", "TR_BLOBCREATE", "TransactionException.TYPE_4_TX_CONTRACT_CREATION"}


@lru_cache(maxsize=None)
def _state_test_transactions() -> dict[str, tuple]:
    """txbytes -> (fork, expectException, transaction JSON), first occurrence of each."""
    files = sorted((FIXTURES / "ethereum-tests" / "GeneralStateTests").rglob("*.json"))
    files += sorted((FIXTURES / "eest-state-tests").rglob("*.json"))
    found = {}
    for path in files:
        for test in json.loads(path.read_bytes()).values():
            for fork, entries in test["post"].items():
                for entry in entries:
                    found.setdefault(entry["txbytes"], (fork, entry.get("expectException"), test["transaction"]))
    return found


def test_state_test_transactions(fixture_path):
    fixture_path("ethereum-tests", "GeneralStateTests")
    fixture_path("eest-state-tests")
    decoded = refused = 0
    for txbytes, (fork, expected_exception, fields) in _state_test_transactions().items():
        raw = _hex(txbytes)
        if expected_exception in DECODE_FAILURES:
            with pytest.raises(TransactionDecodeError):
                decode_transaction(raw)
            refused += 1
            continue
        tx = decode_transaction(raw)
        assert encode_transaction(tx.replace()) == raw  # from the fields, not the cached bytes
        assert recover_sender(tx, allow_high_s=fork == "Frontier") == _hex(fields["sender"])
        # libsecp256k1 signs deterministically (RFC 6979), as the fillers did.
        assert sign_transaction(tx.replace(v=0, r=0, s=0), _hex(fields["secretKey"])) == tx
        decoded += 1
    assert decoded > 16_000 and refused == len(DECODE_FAILURES)


def test_state_test_authorities(fixture_path):
    fixture_path("eest-state-tests")
    valid = invalid = 0
    for txbytes, (_, expected_exception, fields) in _state_test_transactions().items():
        if "authorizationList" not in fields or expected_exception in DECODE_FAILURES:
            continue
        tx = decode_transaction(_hex(txbytes))
        for auth, auth_fields in zip(tx.authorization_list, fields["authorizationList"], strict=True):
            signer = auth_fields.get("signer")
            if signer is not None and auth.s <= SECP256K1_HALF_N:
                assert recover_authority(auth) == _hex(signer)
                valid += 1
            else:  # the tests' deliberately broken signatures: s high, r or s zero or >= N, y_parity 2..255
                assert recover_authority(auth) is None
                invalid += 1
    assert valid > 4000 and invalid >= 15


# --- known vectors ---------------------------------------------------------------------------------


def test_eip155_example():
    """The worked example in EIP-155."""
    tx = Transaction(nonce=9, gas_price=20 * 10**9, gas_limit=21000, to=b"\x35" * 20, value=10**18, chain_id=1)
    assert signing_hash(tx).hex() == "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    signed = sign_transaction(tx, b"\x46" * 32)
    assert (signed.v, signed.r, signed.s) == (
        37,
        18515461264373351373200002665853028612451056578545711640558177340181847433846,
        46948507304638947509940763649030358759909902576025900602547168820602576006531,
    )
    assert encode_transaction(signed).hex() == (
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef6134"
        "0bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc"
        "64214b297fb1966a3b6d83"
    )
    assert recover_sender(signed) == private_key_address(b"\x46" * 32)


# --- constructing, signing and recovering -----------------------------------------------------------


def _unsigned(tx_type: int, chain_id: int | None = 1) -> Transaction:
    common = dict(nonce=3, gas_limit=100_000, to=OTHER, value=5, data=b"\x01\x02", chain_id=chain_id)
    access_list = ((OTHER, (1, 2**256 - 1)), (b"\x02" * 20, ()))
    if tx_type == 0:
        return Transaction(gas_price=10, **common)
    if tx_type == 1:
        return Transaction(type=1, gas_price=10, access_list=access_list, **common)
    fees = dict(max_priority_fee_per_gas=2, max_fee_per_gas=30, access_list=access_list)
    if tx_type == 2:
        return Transaction(type=2, **fees, **common)
    if tx_type == 3:
        return Transaction(type=3, **fees, **common, max_fee_per_blob_gas=7, blob_versioned_hashes=(b"\x01" * 32,))
    authorization = sign_authorization(1, OTHER, 0, KEY)
    return Transaction(type=4, **fees, **common, authorization_list=(authorization,))


ALL_KINDS = [(0, None), (0, 1), (0, 2**40), (1, 1), (2, 1), (3, 1), (4, 1)]


@pytest.mark.parametrize("tx_type, chain_id", ALL_KINDS)
def test_sign_encode_decode_recover(tx_type, chain_id):
    tx = sign_transaction(_unsigned(tx_type, chain_id), KEY)
    raw = encode_transaction(tx)
    assert raw[0] == tx_type if tx_type else raw[0] >= 0xC0
    decoded = decode_transaction(raw)
    assert decoded == tx and decoded.chain_id == chain_id
    assert recover_sender(decoded) == private_key_address(KEY)
    assert tx_hash(decoded) == tx_hash(tx.replace())


def test_legacy_fee_fields_are_uniform_with_eip1559():
    legacy, dynamic = _unsigned(0), _unsigned(2)
    assert legacy.max_fee_per_gas == legacy.max_priority_fee_per_gas == legacy.gas_price == 10
    assert dynamic.gas_price is None


def test_eip155_changes_what_is_signed():
    assert signing_hash(_unsigned(0, None)) != signing_hash(_unsigned(0, 1)) != signing_hash(_unsigned(0, 5))


def test_sender_is_cached(monkeypatch):
    tx = decode_transaction(encode_transaction(sign_transaction(_unsigned(2), KEY)))
    calls = []
    real = signing_module.recover_address
    monkeypatch.setattr(signing_module, "recover_address", lambda *args: calls.append(args) or real(*args))
    assert recover_sender(tx) is recover_sender(tx)
    assert len(calls) == 1


def test_high_s_only_with_allow_high_s():
    tx = sign_transaction(_unsigned(0, None), KEY)
    flipped = tx.replace(s=SECP256K1_N - tx.s, v=55 - tx.v)  # the same signature's other form: 27 <-> 28
    with pytest.raises(InvalidSignature, match="EIP-2"):
        recover_sender(flipped)
    assert recover_sender(flipped, allow_high_s=True) == private_key_address(KEY)
    with pytest.raises(InvalidSignature):  # a cached sender does not bypass the rule
        recover_sender(flipped)


@pytest.mark.parametrize(
    "tx_type, chain_id, changes",
    [
        (0, None, dict(v=37)),  # EIP-155 v without a chain id
        (0, 1, dict(v=27)),  # pre-155 v with a chain id
        (0, 1, dict(v=39)),  # the v of chain 2
        (0, None, dict(v=29)),
        (2, 1, dict(v=2)),
        (2, 1, dict(v=27)),
        (2, 1, dict(r=0)),
        (2, 1, dict(s=0)),
        (2, 1, dict(r=SECP256K1_N)),
    ],
)
def test_invalid_signatures(tx_type, chain_id, changes):
    tx = sign_transaction(_unsigned(tx_type, chain_id), KEY).replace(**changes)
    with pytest.raises(InvalidSignature):
        recover_sender(tx)


def test_authorization_round_trip_and_invalid_signatures():
    auth = sign_authorization(1, OTHER, 7, KEY)
    assert recover_authority(auth) == private_key_address(KEY)
    assert recover_authority(auth._replace(nonce=8)) not in (None, private_key_address(KEY))
    for broken in (
        auth._replace(s=SECP256K1_N - auth.s, y_parity=1 - auth.y_parity),  # valid curve-wise, but high s
        auth._replace(y_parity=2),
        auth._replace(r=0),
        auth._replace(r=SECP256K1_N),
        auth._replace(s=0),
    ):
        assert recover_authority(broken) is None


@pytest.mark.parametrize(
    "changes",
    [
        dict(type=7),
        dict(type=0, gas_price=None),
        dict(type=0, max_fee_per_gas=5),
        dict(type=1, chain_id=None),
        dict(type=2, gas_price=5),
        dict(type=2, max_fee_per_gas=None),
        dict(type=3, max_priority_fee_per_gas=1, max_fee_per_gas=1, gas_price=None, to=None),
        dict(type=0, access_list=((OTHER, ()),)),
        dict(blob_versioned_hashes=(b"\x01" * 32,)),
        dict(authorization_list=(Authorization(1, OTHER, 0, 0, 1, 1),)),
    ],
)
def test_constructor_refuses_fields_that_do_not_fit_the_type(changes):
    base = dict(type=1, chain_id=1, gas_price=1, to=OTHER)
    with pytest.raises(TransactionError):
        Transaction(**{**base, **changes})


# --- malformed raw transactions ----------------------------------------------------------------------


def _items(tx_type: int) -> list:
    """The decoded RLP fields of a valid signed transaction of this type, to be broken."""
    raw = encode_transaction(sign_transaction(_unsigned(tx_type), KEY))
    return rlp.decode(raw if tx_type == 0 else raw[1:])


def _envelope(tx_type: int, items: list) -> bytes:
    body = rlp.encode(items)
    return body if tx_type == 0 else bytes([tx_type]) + body


def _broken(tx_type: int, index: int | None, value) -> bytes:
    items = _items(tx_type)
    if index is None:
        items.append(value)
    else:
        items[index] = value
    return _envelope(tx_type, items)


def _broken_authorization(index: int, value) -> bytes:
    items = _items(4)
    items[9][0][index] = value
    return _envelope(4, items)


DECODE_CASES = [
    (b"", "empty"),
    (b"\x05" + rlp.encode([]), "unknown transaction type 0x05"),
    (b"\x00" + rlp.encode([]), "unknown transaction type 0x00"),
    (b"\x7f", "unknown transaction type 0x7f"),
    (b"\x83abc", "must be an RLP list"),
    (b"\x02" + rlp.encode(b"abc"), "expected 12"),
    (_broken(2, None, b""), "13 fields, expected 12"),
    (_envelope(0, _items(0)[:-1]), "8 fields, expected 9"),
    (encode_transaction(sign_transaction(_unsigned(2), KEY)) + b"\x80", "trailing"),
    (b"\x02" + b"\xf8\x03\xc0\xc0\xc0", "short form"),
    (_broken(2, 1, b"\x00\x03"), "nonce: integer has leading zero"),
    (_broken(2, 6, b"\x01" * 33), "value: integer wider than 256 bits"),
    (_broken(0, 4, b"\x01" * 33), "value: integer wider than 256 bits"),
    (_broken(2, 1, [b"\x03"]), "nonce: expected a byte string"),
    (_broken(2, 5, b"\x01" * 19), "to: expected 20 bytes"),
    (_broken(3, 5, b""), "cannot create a contract"),
    (_broken(4, 5, b""), "cannot create a contract"),
    (_broken(2, 7, [b"\x01"]), "data: expected a byte string"),
    (_broken(2, 8, b"\x01"), "access_list: expected a list"),
    (_broken(2, 8, [[OTHER]]), "access_list: expected a list of 2 items"),
    (_broken(2, 8, [[OTHER + b"\x00", []]]), "access_list address: expected 20 bytes"),
    (_broken(2, 8, [[OTHER, [b"\x01" * 31]]]), "access_list storage key: expected 32 bytes"),
    (_broken(2, 8, [[OTHER, b"\x01"]]), "access_list storage keys: expected a list"),
    (_broken(3, 10, [b"\x01" * 31]), "blob_versioned_hashes: expected 32 bytes"),
    (_broken(4, 9, [[b"\x01"] * 5]), "authorization_list: expected a list of 6 items"),
    (_broken_authorization(1, b"\x01" * 21), "authorization_list address: expected 20 bytes"),
    (_broken_authorization(2, b"\x01" * 9), "authorization_list nonce: integer wider than 64 bits"),
    (_broken_authorization(3, b"\x01\x00"), "authorization_list y_parity: integer wider than 8 bits"),
    (_broken_authorization(4, b"\x00\x01"), "authorization_list r: integer has leading zero"),
]


@pytest.mark.parametrize("raw, message", DECODE_CASES, ids=[message for _, message in DECODE_CASES])
def test_decode_refuses_malformed_transactions(raw, message):
    with pytest.raises(TransactionDecodeError, match=message):
        decode_transaction(raw)


def test_decode_accepts_extreme_but_well_formed_values():
    """Bounds are the executor's business past the encoding: max nonce, y_parity 255, v of any size."""
    items = _items(4)
    items[1] = b"\xff" * 8  # nonce 2**64 - 1 (EIP-2681 rejects it at execution, not decoding)
    items[9][0][3] = b"\xff"
    tx = decode_transaction(_envelope(4, items))
    assert tx.nonce == 2**64 - 1 and tx.authorization_list[0].y_parity == 255
    assert recover_authority(tx.authorization_list[0]) is None


# --- malformed RPC objects ---------------------------------------------------------------------------


def _rpc(tx_type: int) -> dict:
    """An RPC object as in block.json for a signed transaction of this type."""
    tx = sign_transaction(_unsigned(tx_type), KEY)
    obj = {
        "type": hex(tx_type), "nonce": hex(tx.nonce), "gas": hex(tx.gas_limit), "to": "0x" + tx.to.hex(),
        "value": hex(tx.value), "input": "0x" + tx.data.hex(), "r": hex(tx.r), "s": hex(tx.s), "v": hex(tx.v),
    }
    if tx_type < 2:
        obj["gasPrice"] = hex(tx.gas_price)
    else:
        obj["maxPriorityFeePerGas"] = hex(tx.max_priority_fee_per_gas)
        obj["maxFeePerGas"] = hex(tx.max_fee_per_gas)
    if tx_type:
        obj["chainId"] = hex(tx.chain_id)
        obj["yParity"] = hex(tx.v)
        obj["accessList"] = [
            {"address": "0x" + address.hex(), "storageKeys": ["0x" + slot.to_bytes(32, "big").hex() for slot in slots]}
            for address, slots in tx.access_list
        ]
    if tx_type == 3:
        obj["maxFeePerBlobGas"] = hex(tx.max_fee_per_blob_gas)
        obj["blobVersionedHashes"] = ["0x" + h.hex() for h in tx.blob_versioned_hashes]
    if tx_type == 4:
        obj["authorizationList"] = [
            {"chainId": hex(a.chain_id), "address": "0x" + a.address.hex(), "nonce": hex(a.nonce),
             "yParity": hex(a.y_parity), "r": hex(a.r), "s": hex(a.s)}
            for a in tx.authorization_list
        ]
    return obj


@pytest.mark.parametrize("tx_type", range(5))
def test_from_rpc_round_trip_without_optional_fields(tx_type):
    obj = _rpc(tx_type)
    expected = sign_transaction(_unsigned(tx_type), KEY)
    assert Transaction.from_rpc(obj) == expected
    if tx_type:
        del obj["yParity"]  # older nodes give typed transactions only `v`
    if tx_type == 4:
        for auth in obj["authorizationList"]:
            auth["v"] = auth.pop("yParity")
    if tx_type == 0:
        del obj["type"]  # pre-Berlin nodes omit it
    assert Transaction.from_rpc(obj) == expected


def _with(tx_type: int, path: tuple, value) -> dict:
    obj = copy.deepcopy(_rpc(tx_type))
    target = obj
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    "obj, field",
    [
        (_with(2, ("nonce",), KeyError), "nonce"),
        (_with(2, ("nonce",), "12"), "nonce"),
        (_with(2, ("nonce",), "-0x1"), "nonce"),
        (_with(2, ("gas",), 21000), "gas"),
        (_with(2, ("to",), "0x" + "11" * 19), "to"),
        (_with(2, ("input",), "0xzz"), "input"),
        (_with(2, ("maxFeePerGas",), KeyError), "maxFeePerGas"),
        (_with(0, ("gasPrice",), None), "gasPrice"),
        (_with(0, ("v",), KeyError), "v"),
        (_with(1, ("chainId",), KeyError), "chainId"),
        (_with(2, ("type",), "0x7e"), "type"),
        (_with(2, ("accessList", 0, "storageKeys", 0), "0x01"), "accessList"),
        (_with(2, ("accessList", 0, "address"), KeyError), "accessList"),
        (_with(3, ("blobVersionedHashes",), KeyError), "blobVersionedHashes"),
        (_with(3, ("maxFeePerBlobGas",), "0x"), "maxFeePerBlobGas"),
        (_with(4, ("authorizationList", 0, "nonce"), KeyError), "authorizationList"),
    ],
)
def test_from_rpc_names_the_bad_field(obj, field):
    with pytest.raises(TransactionDecodeError, match=f"'{field}'"):
        Transaction.from_rpc(obj)


def test_from_rpc_refuses_inconsistent_types():
    with pytest.raises(TransactionDecodeError, match="cannot create a contract"):
        Transaction.from_rpc(_with(3, ("to",), None))

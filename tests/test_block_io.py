"""Block folder reading: every fixture block, losslessly (header hash, transactions and withdrawals
roots recomputed from what was read), and clear errors for bad input."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from parevm.config import fixtures_dir
from parevm.crypto import keccak256
from parevm.io.block_folder import (
    BlockHeader,
    BlockInput,
    BlockInputError,
    PreAccount,
    Withdrawal,
    block_from_objects,
    read_block_folder,
)
from parevm.rlp import encode
from parevm.state.trie import ordered_trie_root
from parevm.tx import encode_transaction

FIXTURES = fixtures_dir()
BLOCK_FOLDERS = sorted(
    path.parent for kind in ("mainnet", "synthetic") for path in (FIXTURES / kind).glob("*/block.json")
)
SMALL_BLOCK = FIXTURES / "mainnet" / "930196"  # Frontier, 18 transactions, tiny prestate
SHANGHAI_BLOCK = FIXTURES / "mainnet" / "18085863"  # withdrawals, typed transactions
needs_fixtures = pytest.mark.skipif(not SMALL_BLOCK.is_dir(), reason=f"fixtures not found at {FIXTURES}")


def _mainnet_index() -> dict[str, tuple[int, int]]:
    """Folder name -> (transaction count, gas used) from mainnet/INDEX.tsv."""
    lines = (FIXTURES / "mainnet" / "INDEX.tsv").read_text().splitlines()[1:]
    return {number: (int(txs), int(gas)) for number, _fork, txs, gas in (line.split("\t") for line in lines)}


def _header_hash(header: BlockHeader) -> bytes:
    """keccak(rlp(header)): fork fields are appended in activation order up to the first absent one."""
    fields = [
        header.parent_hash, header.ommers_hash, header.coinbase, header.state_root,
        header.transactions_root, header.receipts_root, header.logs_bloom, header.difficulty,
        header.number, header.gas_limit, header.gas_used, header.timestamp, header.extra_data,
        header.mix_hash, header.nonce,
    ]
    for fork_field in (header.base_fee, header.withdrawals_root, header.blob_gas_used,
                       header.excess_blob_gas, header.parent_beacon_block_root, header.requests_hash):
        if fork_field is None:
            break
        fields.append(fork_field)
    return keccak256(encode(fields))


def _withdrawals_root(withdrawals: tuple[Withdrawal, ...]) -> bytes:
    return ordered_trie_root([
        encode([w.index, w.validator_index, w.address, w.amount_gwei]) for w in withdrawals
    ])


# --- every fixture block -------------------------------------------------------------------------


@needs_fixtures
def test_all_fixture_blocks_are_present():
    assert len(BLOCK_FOLDERS) == 47


@needs_fixtures
@pytest.mark.parametrize("folder", BLOCK_FOLDERS, ids=lambda folder: f"{folder.parent.name}/{folder.name}")
def test_fixture_block_reads_losslessly(folder: Path):
    block = read_block_folder(folder)
    header = block.header
    assert isinstance(block, BlockInput)
    assert block.source == f"block folder {folder}"
    assert _header_hash(header) == header.hash
    encoded_txs = [encode_transaction(tx) for tx in block.transactions]
    assert ordered_trie_root(encoded_txs) == header.transactions_root
    assert len(block.rpc_senders) == len(block.transactions)
    assert all(sender is not None and len(sender) == 20 for sender in block.rpc_senders)
    if header.withdrawals_root is None:
        assert block.withdrawals is None
    else:
        assert _withdrawals_root(block.withdrawals) == header.withdrawals_root
    assert (header.base_fee is None) == (header.number < 12_965_000 and folder.parent.name == "mainnet")
    assert len(block.uncle_hashes) == (1 if folder.name == "8889776" else 0)
    assert block.prestate and all(len(address) == 20 for address in block.prestate)
    assert all(header.number - 256 <= number < header.number for number in block.block_hashes)
    if folder.parent.name == "mainnet":
        assert (len(block.transactions), header.gas_used) == _mainnet_index()[folder.name]
        assert header.number == int(folder.name)


@needs_fixtures
def test_prestate_values_are_converted():
    block = read_block_folder(SMALL_BLOCK)
    raw = json.loads((SMALL_BLOCK / "prestate.json").read_bytes())
    address_hex, fields = next(iter(raw.items()))
    account = block.prestate[bytes.fromhex(address_hex[2:])]
    assert isinstance(account, PreAccount)
    assert account.balance == int(fields["balance"], 16)
    assert account.nonce == fields["nonce"]
    assert account.code == bytes.fromhex(fields.get("code", "0x")[2:])


@needs_fixtures
def test_prague_fork_fields_and_withdrawal():
    block = read_block_folder(FIXTURES / "synthetic" / "prague-7702")
    header = block.header
    assert header.requests_hash is not None and header.parent_beacon_block_root is not None
    assert header.blob_gas_used is not None and header.excess_blob_gas is not None
    assert block.withdrawals == (
        Withdrawal(0x1388, 0x384, bytes.fromhex("eac7885d8ce08ecbe9243a3f8025fd2bb5616f77"), 0x3B9ACA00),
    )
    assert len(block.block_hashes) == 256
    assert block.block_hashes[header.number - 1] == header.parent_hash


@needs_fixtures
def test_storage_and_code_are_converted():
    folder = FIXTURES / "synthetic" / "cancun-erc20-200"
    block = read_block_folder(folder)
    raw = json.loads((folder / "prestate.json").read_bytes())
    token = next(address for address, fields in raw.items() if fields.get("storage"))
    account = block.prestate[bytes.fromhex(token[2:])]
    assert len(account.storage) == len(raw[token]["storage"]) > 0
    assert account.storage == {int(k, 16): int(v, 16) for k, v in raw[token]["storage"].items()}
    assert account.code == bytes.fromhex(raw[token]["code"][2:]) and account.code


@needs_fixtures
def test_block_from_objects_matches_folder_reading():
    objects = [json.loads((SHANGHAI_BLOCK / name).read_bytes())
               for name in ("block.json", "prestate.json", "block_hashes.json")]
    from_objects = block_from_objects(*objects)
    from_folder = read_block_folder(SHANGHAI_BLOCK)
    assert from_objects.source == "<objects>"
    assert from_objects.header == from_folder.header
    assert from_objects.prestate == from_folder.prestate
    assert from_objects.withdrawals == from_folder.withdrawals
    assert [encode_transaction(tx) for tx in from_objects.transactions] == [
        encode_transaction(tx) for tx in from_folder.transactions
    ]


# --- bad input -----------------------------------------------------------------------------------


@pytest.fixture
def block_copy(tmp_path: Path) -> Path:
    if not SMALL_BLOCK.is_dir():
        pytest.skip(f"fixtures not found at {FIXTURES}")
    folder = tmp_path / "930196"
    shutil.copytree(SMALL_BLOCK, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _edit(folder: Path, name: str, change) -> None:
    """Apply `change` to the parsed JSON file and write it back."""
    path = folder / name
    data = json.loads(path.read_bytes())
    change(data)
    path.write_text(json.dumps(data))


def _error(folder: Path) -> str:
    with pytest.raises(BlockInputError) as caught:
        read_block_folder(folder)
    message = str(caught.value)
    assert str(folder) in message
    return message


def test_missing_folder(tmp_path: Path):
    assert "not a directory" in _error(tmp_path / "nope")


@pytest.mark.parametrize("name", ["block.json", "prestate.json", "block_hashes.json"])
def test_missing_file(block_copy: Path, name: str):
    (block_copy / name).unlink()
    assert f"missing {name}" in _error(block_copy)


def test_malformed_json_names_file_and_position(block_copy: Path):
    (block_copy / "prestate.json").write_text('{"0xaa": {"balance": "0x1",,}}')
    message = _error(block_copy)
    assert "prestate.json: malformed JSON" in message and "line 1 column" in message


def test_missing_header_field(block_copy: Path):
    _edit(block_copy, "block.json", lambda block: block.pop("gasUsed"))
    assert "block.json: missing header field 'gasUsed'" in _error(block_copy)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("gasLimit", "0xzz", "header field 'gasLimit': bad hex quantity '0xzz'"),
        ("timestamp", 12, "header field 'timestamp': expected a hex quantity, got 12"),
        ("number", "0x-1", "header field 'number': bad hex quantity '0x-1'"),
        ("miner", "0x1234", "header field 'miner': expected 20 bytes, got 2"),
        ("logsBloom", "0x00", "header field 'logsBloom': expected 256 bytes, got 1"),
        ("parentHash", "1234", "header field 'parentHash': expected 0x-prefixed hex data"),
        ("baseFeePerGas", "0x", "header field 'baseFeePerGas': expected a hex quantity, got '0x'"),
    ],
)
def test_bad_header_field(block_copy: Path, key: str, value, expected: str):
    _edit(block_copy, "block.json", lambda block: block.__setitem__(key, value))
    assert expected in _error(block_copy)


def test_unknown_transaction_type_names_index_and_hash(block_copy: Path):
    def change(block):
        block["transactions"][3]["type"] = "0x7f"

    _edit(block_copy, "block.json", change)
    tx_hash = json.loads((SMALL_BLOCK / "block.json").read_bytes())["transactions"][3]["hash"]
    message = _error(block_copy)
    assert f"block.json: transaction 3 ({tx_hash}):" in message
    assert "type" in message.split(tx_hash, 1)[1]


def test_transactions_given_as_hashes(block_copy: Path):
    def change(block):
        block["transactions"] = [tx["hash"] for tx in block["transactions"]]

    _edit(block_copy, "block.json", change)
    assert "block.json: transaction 0: not a transaction object" in _error(block_copy)


def test_bad_rpc_sender(block_copy: Path):
    def change(block):
        block["transactions"][2]["from"] = "0x12"

    _edit(block_copy, "block.json", change)
    assert "block.json: transaction 2 (0x" in _error(block_copy)
    assert "field 'from': expected 20 bytes, got 1" in _error(block_copy)


def test_bad_transaction_field_is_wrapped(block_copy: Path):
    def change(block):
        block["transactions"][5]["value"] = "0xnothex"

    _edit(block_copy, "block.json", change)
    assert "block.json: transaction 5 (0x" in _error(block_copy)


def test_bad_withdrawal(block_copy: Path):
    def change(block):
        block["withdrawals"] = [{"index": "0x1", "validatorIndex": "0x2", "address": "0x" + "11" * 20}]

    _edit(block_copy, "block.json", change)
    assert "block.json: withdrawal 0: missing field 'amount'" in _error(block_copy)


def _first_address(folder: Path) -> str:
    return next(iter(json.loads((folder / "prestate.json").read_bytes())))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("balance", "0xq1", "field 'balance': bad hex quantity '0xq1'"),
        ("balance", 5, "field 'balance': expected a hex quantity, got 5"),
        ("nonce", "seven", "field 'nonce': expected a hex quantity, got 'seven'"),
        ("code", "0x6001600", "field 'code': bad hex data '0x6001600'"),
        ("storage", {"0x1": "0xgg"}, "storage slot '0x1': bad hex quantity '0xgg'"),
        ("storage", {"slot": "0x1"}, "storage slot 'slot': expected a hex quantity, got 'slot'"),
        ("storage", ["0x1"], "field 'storage': expected an object"),
    ],
)
def test_bad_prestate_value_names_account_and_field(block_copy: Path, field: str, value, expected: str):
    address = _first_address(block_copy)
    _edit(block_copy, "prestate.json", lambda prestate: prestate[address].__setitem__(field, value))
    message = _error(block_copy)
    assert f"prestate.json: account '{address}'" in message
    assert expected in message


def test_bad_prestate_address(block_copy: Path):
    _edit(block_copy, "prestate.json", lambda prestate: prestate.__setitem__("0x1234", {"balance": "0x1"}))
    assert "prestate.json: account '0x1234': bad address: expected 20 bytes, got 2" in _error(block_copy)


def test_prestate_defaults_for_omitted_fields(block_copy: Path):
    address = "0x" + "ab" * 20
    _edit(block_copy, "prestate.json", lambda prestate: prestate.__setitem__(address, {"balance": "0x5"}))
    assert read_block_folder(block_copy).prestate[bytes.fromhex("ab" * 20)] == PreAccount(5, 0, b"", {})


def test_block_hash_outside_window(block_copy: Path):
    _edit(block_copy, "block_hashes.json", lambda hashes: hashes.__setitem__("930196", "0x" + "00" * 32))
    assert "block_hashes.json: entry '930196': block 930196 is outside the BLOCKHASH window" in _error(block_copy)


def test_block_hash_disagreeing_with_parent_hash(block_copy: Path):
    _edit(block_copy, "block_hashes.json", lambda hashes: hashes.__setitem__("930195", "0x" + "00" * 32))
    assert "hash of block 930195 disagrees with the header's parentHash" in _error(block_copy)


def test_block_hash_bad_key_and_value(block_copy: Path):
    _edit(block_copy, "block_hashes.json", lambda hashes: hashes.__setitem__("0x10", "0x" + "00" * 32))
    assert "entry '0x10': key is not a decimal block number" in _error(block_copy)
    _edit(block_copy, "block_hashes.json", lambda hashes: hashes.clear() or hashes.__setitem__("930190", "0x12"))
    assert "entry '930190': expected 32 bytes, got 1" in _error(block_copy)

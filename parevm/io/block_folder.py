"""Block input: a block folder (block.json, prestate.json, block_hashes.json) as typed objects.

block.json is `eth_getBlockByNumber(n, true)`, prestate.json the prestateTracer shape
(address -> {balance, nonce, code, storage}), block_hashes.json `{"<number>": "0xhash"}` for the
BLOCKHASH window. Reading is part of the engine's timed runs, so the bulk paths (prestate,
transactions) convert without per-field checks and only re-walk the input to name the
offending item once something has failed. Senders are *not* recovered here: that is a separate,
timed step of the executor; the RPC `from` of each transaction is kept for comparison.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from parevm.primitives import PreAccount
from parevm.tx import Transaction

BLOCKHASH_WINDOW = 256
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class BlockInputError(ValueError):
    """Malformed block input; the message names the block and the offending item."""


@dataclass(slots=True, frozen=True)
class BlockHeader:
    """Header fields; those a fork has not introduced yet are None."""

    number: int
    hash: bytes
    parent_hash: bytes
    ommers_hash: bytes  # sha3Uncles
    coinbase: bytes  # miner
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    difficulty: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes  # prevrandao from Paris on
    nonce: bytes  # 8 bytes, zero from Paris on
    base_fee: int | None  # London
    withdrawals_root: bytes | None  # Shanghai
    blob_gas_used: int | None  # Cancun
    excess_blob_gas: int | None  # Cancun
    parent_beacon_block_root: bytes | None  # Cancun
    requests_hash: bytes | None  # Prague

    @property
    def prev_randao(self) -> bytes:
        """PREVRANDAO (EIP-4399) is carried in mixHash from Paris on."""
        return self.mix_hash


@dataclass(slots=True, frozen=True)
class Withdrawal:
    """EIP-4895 withdrawal; the amount is in gwei as on the wire (credit amount_gwei * 10**9 wei)."""

    index: int
    validator_index: int
    address: bytes
    amount_gwei: int


@dataclass(slots=True, frozen=True)
class BlockInput:
    """Everything needed to execute one block.

    `rpc_senders[i]` is the `from` the RPC reported for transaction i (None if absent); the
    executor recovers senders itself and may compare. `uncle_hashes` is all block.json holds
    about uncles (no numbers or miners). `withdrawals` is None before Shanghai.
    """

    header: BlockHeader
    transactions: list[Transaction]
    rpc_senders: list[bytes | None]
    withdrawals: tuple[Withdrawal, ...] | None
    uncle_hashes: tuple[bytes, ...]
    prestate: dict[bytes, PreAccount]
    block_hashes: dict[int, bytes]
    source: str


# --- strict scalar converters (header, withdrawals, error diagnosis) ---------------------------


def _quantity(value: Any) -> int:
    """A JSON-RPC hex quantity ("0x1f"). Stricter than int(x, 16), which also takes '-', '_', spaces."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) == 2:
        raise ValueError(f"expected a hex quantity, got {_clip(value)}")
    if not _HEX_DIGITS.issuperset(value[2:]):
        raise ValueError(f"bad hex quantity {_clip(value)}")
    return int(value[2:], 16)


def _nonce(value: Any) -> int:
    """prestateTracer writes nonces as JSON numbers; a hex quantity is accepted too."""
    if type(value) is int and value >= 0:
        return value
    return _quantity(value)


def _data(value: Any) -> bytes:
    """JSON-RPC hex data ("0x" + an even number of hex digits)."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"expected 0x-prefixed hex data, got {_clip(value)}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ValueError(f"bad hex data {_clip(value)}") from None


def _fixed(length: int) -> Callable[[Any], bytes]:
    def convert(value: Any) -> bytes:
        result = _data(value)
        if len(result) != length:
            raise ValueError(f"expected {length} bytes, got {len(result)} in {_clip(value)}")
        return result

    return convert


_hash32 = _fixed(32)
_address = _fixed(20)


def _clip(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# --- header --------------------------------------------------------------------------------------

_REQUIRED_HEADER_FIELDS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("number", "number", _quantity),
    ("hash", "hash", _hash32),
    ("parentHash", "parent_hash", _hash32),
    ("sha3Uncles", "ommers_hash", _hash32),
    ("miner", "coinbase", _address),
    ("stateRoot", "state_root", _hash32),
    ("transactionsRoot", "transactions_root", _hash32),
    ("receiptsRoot", "receipts_root", _hash32),
    ("logsBloom", "logs_bloom", _fixed(256)),
    ("difficulty", "difficulty", _quantity),
    ("gasLimit", "gas_limit", _quantity),
    ("gasUsed", "gas_used", _quantity),
    ("timestamp", "timestamp", _quantity),
    ("extraData", "extra_data", _data),
    ("mixHash", "mix_hash", _hash32),
    ("nonce", "nonce", _fixed(8)),
)
_FORK_HEADER_FIELDS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("baseFeePerGas", "base_fee", _quantity),
    ("withdrawalsRoot", "withdrawals_root", _hash32),
    ("blobGasUsed", "blob_gas_used", _quantity),
    ("excessBlobGas", "excess_blob_gas", _quantity),
    ("parentBeaconBlockRoot", "parent_beacon_block_root", _hash32),
    ("requestsHash", "requests_hash", _hash32),
)


def _convert(convert: Callable[[Any], Any], value: Any, where: str) -> Any:
    try:
        return convert(value)
    except ValueError as exc:
        raise BlockInputError(f"{where}: {exc}") from None


def _read_header(block: dict, where: str) -> BlockHeader:
    fields: dict[str, Any] = {}
    for key, name, convert in _REQUIRED_HEADER_FIELDS:
        if key not in block:
            raise BlockInputError(f"{where}: block.json: missing header field '{key}'")
        fields[name] = _convert(convert, block[key], f"{where}: block.json: header field '{key}'")
    for key, name, convert in _FORK_HEADER_FIELDS:
        value = block.get(key)
        fields[name] = None if value is None else _convert(
            convert, value, f"{where}: block.json: header field '{key}'"
        )
    return BlockHeader(**fields)


def _read_withdrawals(block: dict, where: str) -> tuple[Withdrawal, ...] | None:
    items = block.get("withdrawals")
    if items is None:
        return None
    if not isinstance(items, list):
        raise BlockInputError(f"{where}: block.json: 'withdrawals' is not a list")
    withdrawals = []
    for position, item in enumerate(items):
        context = f"{where}: block.json: withdrawal {position}"
        if not isinstance(item, dict):
            raise BlockInputError(f"{context}: not an object")
        values = []
        for key, convert in (("index", _quantity), ("validatorIndex", _quantity),
                             ("address", _address), ("amount", _quantity)):
            if key not in item:
                raise BlockInputError(f"{context}: missing field '{key}'")
            values.append(_convert(convert, item[key], f"{context}: field '{key}'"))
        withdrawals.append(Withdrawal(*values))
    return tuple(withdrawals)


def _read_uncle_hashes(block: dict, where: str) -> tuple[bytes, ...]:
    uncles = block.get("uncles", [])
    if not isinstance(uncles, list):
        raise BlockInputError(f"{where}: block.json: 'uncles' is not a list")
    return tuple(
        _convert(_hash32, uncle, f"{where}: block.json: uncle {position}")
        for position, uncle in enumerate(uncles)
    )


# --- transactions --------------------------------------------------------------------------------


def _read_transactions(block: dict, where: str) -> tuple[list[Transaction], list[bytes | None]]:
    rpc_transactions = block.get("transactions")
    if not isinstance(rpc_transactions, list):
        raise BlockInputError(f"{where}: block.json: 'transactions' is missing or not a list")
    from_rpc = Transaction.from_rpc
    transactions = []
    senders = []
    for position, rpc_tx in enumerate(rpc_transactions):
        if not isinstance(rpc_tx, dict):
            raise BlockInputError(f"{where}: block.json: transaction {position}: not a transaction object "
                                  "(a hash? the block must be read with full transactions)")
        try:
            transactions.append(from_rpc(rpc_tx))
        except ValueError as exc:  # TransactionDecodeError is one
            raise BlockInputError(f"{_tx_context(where, position, rpc_tx)}: {exc}") from exc
        sender = rpc_tx.get("from")
        senders.append(None if sender is None else _convert(
            _address, sender, f"{_tx_context(where, position, rpc_tx)}: field 'from'"
        ))
    return transactions, senders


def _tx_context(where: str, position: int, rpc_tx: dict) -> str:
    return f"{where}: block.json: transaction {position} ({rpc_tx.get('hash', 'no hash')})"


# --- prestate ------------------------------------------------------------------------------------


def _read_prestate(prestate: Any, where: str) -> dict[bytes, PreAccount]:
    """Fast path without per-field checks; on any failure, `_prestate_error` names the culprit."""
    if not isinstance(prestate, dict):
        raise BlockInputError(f"{where}: prestate.json: expected an object of accounts")
    accounts: dict[bytes, PreAccount] = {}
    fromhex = bytes.fromhex
    try:
        for address_hex, fields in prestate.items():
            address = fromhex(address_hex[2:])
            if len(address) != 20:
                raise ValueError("address length")
            nonce = fields.get("nonce", 0)
            code = fields.get("code")
            storage = fields.get("storage")
            accounts[address] = PreAccount(
                int(fields.get("balance", "0x0"), 16),
                nonce if type(nonce) is int else int(nonce, 16),
                fromhex(code[2:]) if code else b"",
                {int(slot, 16): int(value, 16) for slot, value in storage.items()} if storage else {},
            )
    except (ValueError, TypeError, AttributeError) as exc:
        raise _prestate_error(prestate, where) from exc
    return accounts


def _prestate_error(prestate: dict, where: str) -> BlockInputError:
    """Re-walk the prestate with strict converters to say which account and field is bad."""
    for address_hex, fields in prestate.items():
        context = f"{where}: prestate.json: account {_clip(address_hex)}"
        try:
            _address(address_hex)
        except ValueError as exc:
            return BlockInputError(f"{context}: bad address: {exc}")
        if not isinstance(fields, dict):
            return BlockInputError(f"{context}: expected an object, got {_clip(fields)}")
        for key, convert in (("balance", _quantity), ("nonce", _nonce), ("code", _data)):
            if key in fields:
                try:
                    convert(fields[key])
                except ValueError as exc:
                    return BlockInputError(f"{context}: field '{key}': {exc}")
        storage = fields.get("storage", {})
        if not isinstance(storage, dict):
            return BlockInputError(f"{context}: field 'storage': expected an object, got {_clip(storage)}")
        for slot, value in storage.items():
            try:
                _quantity(slot)
                _quantity(value)
            except ValueError as exc:
                return BlockInputError(f"{context}: storage slot {_clip(slot)}: {exc}")
    return BlockInputError(f"{where}: prestate.json: malformed (no single bad field found)")


# --- block hashes --------------------------------------------------------------------------------


def _read_block_hashes(block_hashes: Any, header: BlockHeader, where: str) -> dict[int, bytes]:
    """Hashes of earlier blocks, checked to lie in the BLOCKHASH window and to agree with parentHash."""
    if not isinstance(block_hashes, dict):
        raise BlockInputError(f"{where}: block_hashes.json: expected an object {{\"<number>\": \"0xhash\"}}")
    lowest = max(header.number - BLOCKHASH_WINDOW, 0)
    hashes = {}
    for number_text, hash_hex in block_hashes.items():
        context = f"{where}: block_hashes.json: entry {number_text!r}"
        try:
            number = int(number_text)
        except ValueError:
            raise BlockInputError(f"{context}: key is not a decimal block number") from None
        if not lowest <= number < header.number:
            raise BlockInputError(
                f"{context}: block {number} is outside the BLOCKHASH window [{lowest}, {header.number})"
            )
        hashes[number] = _convert(_hash32, hash_hex, context)
    parent = hashes.get(header.number - 1)
    if parent is not None and parent != header.parent_hash:
        raise BlockInputError(
            f"{where}: block_hashes.json: hash of block {header.number - 1} disagrees with the header's parentHash"
        )
    return hashes


# --- entry points --------------------------------------------------------------------------------


def block_from_objects(block: dict, prestate: dict, block_hashes: dict, source: str = "<objects>") -> BlockInput:
    """Build a BlockInput from already-parsed JSON objects (library use, RPC clients)."""
    if not isinstance(block, dict):
        raise BlockInputError(f"{source}: block.json: expected a block object")
    header = _read_header(block, source)
    transactions, rpc_senders = _read_transactions(block, source)
    return BlockInput(
        header=header,
        transactions=transactions,
        rpc_senders=rpc_senders,
        withdrawals=_read_withdrawals(block, source),
        uncle_hashes=_read_uncle_hashes(block, source),
        prestate=_read_prestate(prestate, source),
        block_hashes=_read_block_hashes(block_hashes, header, source),
        source=source,
    )


def _load_json(folder: Path, name: str) -> Any:
    try:
        raw = (folder / name).read_bytes()
    except FileNotFoundError:
        raise BlockInputError(f"block folder {folder}: missing {name}") from None
    except OSError as exc:
        raise BlockInputError(f"block folder {folder}: cannot read {name}: {exc.strerror}") from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # malformed JSON, bad UTF-8, absurd nesting
        raise BlockInputError(f"block folder {folder}: {name}: malformed JSON: {exc}") from None


def read_block_folder(path: str | Path) -> BlockInput:
    """Read a block folder (block.json, prestate.json, block_hashes.json; all three required)."""
    folder = Path(path)
    if not folder.is_dir():
        raise BlockInputError(f"block folder {folder}: not a directory")
    return block_from_objects(
        _load_json(folder, "block.json"),
        _load_json(folder, "prestate.json"),
        _load_json(folder, "block_hashes.json"),
        source=f"block folder {folder}",
    )

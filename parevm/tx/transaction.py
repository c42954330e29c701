"""Transactions of every type (legacy, EIP-2930, EIP-1559, EIP-4844, EIP-7702) and their encodings.

One `Transaction` class for all types, so the executor treats them uniformly: for types 0 and
1 `max_fee_per_gas` and `max_priority_fee_per_gas` both equal `gas_price` (which makes the
EIP-1559 fee formulas give the legacy result); for types 2+ `gas_price` is None. `v` holds
the signature's v for legacy transactions and y_parity for typed ones.

Each type's RLP field order is data (`_LAYOUTS`), shared by decoding, encoding and the signing
hash, so the three cannot disagree.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Callable, NamedTuple

from parevm.crypto import keccak256
from parevm import rlp


class TransactionError(ValueError):
    """Transaction fields that do not fit together (e.g. a blob transaction without `to`)."""


class TransactionDecodeError(TransactionError):
    """Raw bytes or an RPC object that is not a well-formed transaction."""


class Authorization(NamedTuple):
    """One EIP-7702 authorization tuple; RLP-encodes as itself (field order is the wire order)."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


_FIELD_NAMES = (
    "type", "chain_id", "nonce", "gas_price", "max_priority_fee_per_gas", "max_fee_per_gas",
    "gas_limit", "to", "value", "data", "access_list", "max_fee_per_blob_gas",
    "blob_versioned_hashes", "authorization_list", "v", "r", "s",
)
_field_values = attrgetter(*_FIELD_NAMES)


class Transaction:
    """A transaction of any type; treat it as immutable (encoding and sender are cached).

    Construct from fields with keywords (`access_list` is a tuple of (address, tuple of int
    slots), `authorization_list` a tuple of `Authorization`), from raw bytes with
    `decode_transaction`, or from a JSON-RPC object with `Transaction.from_rpc`."""

    __slots__ = _FIELD_NAMES + ("_encoded", "_sender")

    def __init__(
        self, *, type: int = 0, chain_id: int | None = None, nonce: int = 0,
        gas_price: int | None = None, max_priority_fee_per_gas: int | None = None,
        max_fee_per_gas: int | None = None, gas_limit: int = 0, to: bytes | None = None,
        value: int = 0, data: bytes = b"", access_list: tuple = (), max_fee_per_blob_gas: int = 0,
        blob_versioned_hashes: tuple = (), authorization_list: tuple = (),
        v: int = 0, r: int = 0, s: int = 0,
    ) -> None:
        if type not in _LAYOUTS:
            raise TransactionError(f"unknown transaction type {type}")
        if type < 2:
            if gas_price is None or max_fee_per_gas is not None or max_priority_fee_per_gas is not None:
                raise TransactionError(f"a type {type} transaction takes gas_price, not max fees")
            max_fee_per_gas = max_priority_fee_per_gas = gas_price
        elif gas_price is not None or max_fee_per_gas is None or max_priority_fee_per_gas is None:
            raise TransactionError(f"a type {type} transaction takes both max fees, not gas_price")
        if type and chain_id is None:
            raise TransactionError(f"a type {type} transaction needs a chain_id")
        if to is None and type >= 3:
            raise TransactionError(f"a type {type} transaction cannot create a contract (to is None)")
        if (access_list and not type) or (blob_versioned_hashes and type != 3) or (
            authorization_list and type != 4
        ):
            raise TransactionError(f"a type {type} transaction has a field of another type")
        self.type = type
        self.chain_id = chain_id
        self.nonce = nonce
        self.gas_price = gas_price
        self.max_priority_fee_per_gas = max_priority_fee_per_gas
        self.max_fee_per_gas = max_fee_per_gas
        self.gas_limit = gas_limit
        self.to = to
        self.value = value
        self.data = data
        self.access_list = access_list
        self.max_fee_per_blob_gas = max_fee_per_blob_gas
        self.blob_versioned_hashes = blob_versioned_hashes
        self.authorization_list = authorization_list
        self.v = v
        self.r = r
        self.s = s
        self._encoded = None
        self._sender = None

    def replace(self, **changes) -> Transaction:
        """A copy with some fields changed (and nothing cached)."""
        fields = dict(zip(_FIELD_NAMES, _field_values(self)))
        if self.type < 2:  # derived from gas_price, not constructor arguments
            fields["max_fee_per_gas"] = fields["max_priority_fee_per_gas"] = None
        fields.update(changes)
        return Transaction(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transaction):
            return NotImplemented
        return _field_values(self) == _field_values(other)

    __hash__ = None  # mutable slots; compare, do not hash

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(_FIELD_NAMES, _field_values(self)))
        return f"Transaction({fields})"

    @classmethod
    def from_rpc(cls, obj: dict) -> Transaction:
        """From a JSON-RPC transaction object (`eth_getBlockByNumber(n, true)`, hex strings).

        A legacy transaction's chain id comes from `v` (any `chainId` given is ignored); typed
        ones take `yParity`, or `v` if absent. Derived fields (hash, from, block data) are not read."""
        return _from_rpc(obj)


# RLP field order per type, without the signature (what is signed).
_EIP1559_FIELDS = (
    "chain_id", "nonce", "max_priority_fee_per_gas", "max_fee_per_gas", "gas_limit", "to",
    "value", "data", "access_list",
)
_UNSIGNED_NAMES = {
    0: ("nonce", "gas_price", "gas_limit", "to", "value", "data"),
    1: ("chain_id", "nonce", "gas_price", "gas_limit", "to", "value", "data", "access_list"),
    2: _EIP1559_FIELDS,
    3: _EIP1559_FIELDS + ("max_fee_per_blob_gas", "blob_versioned_hashes"),
    4: _EIP1559_FIELDS + ("authorization_list",),
}
_TYPE_PREFIX = {tx_type: bytes((tx_type,)) for tx_type in _UNSIGNED_NAMES}


def _access_list_to_rlp(access_list: tuple) -> list:
    return [[address, [slot.to_bytes(32, "big") for slot in slots]] for address, slots in access_list]


# Fields whose Python value is not already an RLP item (ints, bytes and tuples of them are).
_TO_RLP: dict[str, Callable] = {
    "to": lambda to: b"" if to is None else to,
    "access_list": _access_list_to_rlp,
}


class _Layout(NamedTuple):
    names: tuple[str, ...]
    values: attrgetter
    conversions: tuple[tuple[int, Callable], ...]

    @classmethod
    def of(cls, names: tuple[str, ...]) -> _Layout:
        conversions = tuple((i, _TO_RLP[name]) for i, name in enumerate(names) if name in _TO_RLP)
        return cls(names, attrgetter(*names), conversions)

    def rlp_items(self, tx: Transaction) -> list:
        items = list(self.values(tx))
        for index, convert in self.conversions:
            items[index] = convert(items[index])
        return items


_UNSIGNED_LAYOUTS = {t: _Layout.of(names) for t, names in _UNSIGNED_NAMES.items()}
_LAYOUTS = {t: _Layout.of(names + ("v", "r", "s")) for t, names in _UNSIGNED_NAMES.items()}


def encode_transaction(tx: Transaction) -> bytes:
    """The consensus encoding (what the transactions trie holds and tx_hash hashes): legacy
    transactions as an RLP list, typed ones as type byte + RLP payload."""
    encoded = tx._encoded
    if encoded is None:
        encoded = rlp.encode(_LAYOUTS[tx.type].rlp_items(tx))
        if tx.type:
            encoded = _TYPE_PREFIX[tx.type] + encoded
        tx._encoded = encoded
    return encoded


def signing_hash(tx: Transaction) -> bytes:
    """The hash the sender signs: legacy with or without EIP-155 (chain_id, 0, 0), typed ones
    as keccak(type byte + RLP of the unsigned fields)."""
    items = _UNSIGNED_LAYOUTS[tx.type].rlp_items(tx)
    if tx.type:
        return keccak256(_TYPE_PREFIX[tx.type] + rlp.encode(items))
    if tx.chain_id is not None:
        items += (tx.chain_id, 0, 0)
    return keccak256(rlp.encode(items))


def tx_hash(tx: Transaction) -> bytes:
    return keccak256(encode_transaction(tx))


# ---- decoding from RLP -------------------------------------------------------------------


def _uint(item: rlp.Item, field: str, max_bytes: int = 32) -> int:
    try:
        value = rlp.decode_int(item)
    except rlp.RLPError as exc:
        raise TransactionDecodeError(f"{field}: {exc}") from None
    if len(item) > max_bytes:
        raise TransactionDecodeError(f"{field}: integer wider than {8 * max_bytes} bits")
    return value


def _fixed_bytes(item: rlp.Item, field: str, length: int) -> bytes:
    if type(item) is not bytes or len(item) != length:
        raise TransactionDecodeError(f"{field}: expected {length} bytes")
    return item


def _list(item: rlp.Item, field: str, length: int | None = None) -> list:
    if type(item) is not list or (length is not None and len(item) != length):
        raise TransactionDecodeError(f"{field}: expected a list" + (f" of {length} items" if length else ""))
    return item


def _destination(item: rlp.Item, field: str) -> bytes | None:
    if item == b"":
        return None
    return _fixed_bytes(item, field, 20)


def _data(item: rlp.Item, field: str) -> bytes:
    if type(item) is not bytes:
        raise TransactionDecodeError(f"{field}: expected a byte string")
    return item


def _access_list(item: rlp.Item, field: str) -> tuple:
    entries = []
    for entry in _list(item, field):
        address, slots = _list(entry, field, 2)
        entries.append((
            _fixed_bytes(address, f"{field} address", 20),
            tuple(int.from_bytes(_fixed_bytes(slot, f"{field} storage key", 32), "big")
                  for slot in _list(slots, f"{field} storage keys")),
        ))
    return tuple(entries)


def _blob_hashes(item: rlp.Item, field: str) -> tuple:
    return tuple(_fixed_bytes(h, field, 32) for h in _list(item, field))


def _authorizations(item: rlp.Item, field: str) -> tuple:
    # EIP-7702 bounds: nonce below 2**64 and y_parity below 2**8, the rest 256 bits.
    return tuple(
        Authorization(
            _uint(chain_id, f"{field} chain_id"), _fixed_bytes(address, f"{field} address", 20),
            _uint(nonce, f"{field} nonce", 8), _uint(y_parity, f"{field} y_parity", 1),
            _uint(r, f"{field} r"), _uint(s, f"{field} s"),
        )
        for chain_id, address, nonce, y_parity, r, s in (_list(a, field, 6) for a in _list(item, field))
    )


_FROM_RLP: dict[str, Callable] = {
    "to": _destination,
    "data": _data,
    "access_list": _access_list,
    "blob_versioned_hashes": _blob_hashes,
    "authorization_list": _authorizations,
}


def decode_transaction(raw: bytes) -> Transaction:
    """Decode the consensus encoding of any type, strictly (canonical RLP, exact field counts,
    integers within 256 bits, 20-byte addresses); the encoding is kept for `encode_transaction`."""
    raw = bytes(raw)
    if not raw:
        raise TransactionDecodeError("empty transaction")
    if raw[0] >= 0xC0:
        tx_type, body = 0, raw
    elif raw[0] and raw[0] in _LAYOUTS:
        tx_type, body = raw[0], raw[1:]
    elif raw[0] >= 0x80:
        raise TransactionDecodeError("a legacy transaction must be an RLP list, not a string")
    else:
        raise TransactionDecodeError(f"unknown transaction type 0x{raw[0]:02x}")
    try:
        items = rlp.decode(body)
    except rlp.RLPError as exc:
        raise TransactionDecodeError(f"type {tx_type} transaction: {exc}") from None
    names = _LAYOUTS[tx_type].names
    if type(items) is not list or len(items) != len(names):
        count = len(items) if type(items) is list else "no"
        raise TransactionDecodeError(f"type {tx_type} transaction has {count} fields, expected {len(names)}")
    fields = {name: _FROM_RLP.get(name, _uint)(item, name) for name, item in zip(names, items)}
    if not tx_type:
        fields["chain_id"] = _legacy_chain_id(fields["v"])
    tx = _build(tx_type, fields)
    tx._encoded = raw
    return tx


def _legacy_chain_id(v: int) -> int | None:
    """EIP-155: v = chain_id * 2 + 35 + y_parity; v of 27/28 (or anything below 35) means none."""
    return (v - 35) >> 1 if v >= 35 else None


def _build(tx_type: int, fields: dict) -> Transaction:
    try:
        return Transaction(type=tx_type, **fields)
    except TransactionError as exc:
        raise TransactionDecodeError(str(exc)) from None


# ---- decoding from JSON-RPC --------------------------------------------------------------


def _quantity(text: str) -> int:
    if text[:2] != "0x":
        raise ValueError(f"{text!r} is not a 0x-prefixed hex quantity")
    return int(text, 16)


def _hex_bytes(text: str, length: int | None = None) -> bytes:
    if text[:2] != "0x":
        raise ValueError(f"{text!r} is not 0x-prefixed hex data")
    data = bytes.fromhex(text[2:])
    if length is not None and len(data) != length:
        raise ValueError(f"expected {length} bytes, got {len(data)}")
    return data


def _rpc_access_list(entries: list) -> tuple:
    return tuple(
        (_hex_bytes(entry["address"], 20),
         tuple(int.from_bytes(_hex_bytes(key, 32), "big") for key in entry["storageKeys"]))
        for entry in entries
    )


def _rpc_authorizations(entries: list) -> tuple:
    return tuple(
        Authorization(
            _quantity(a["chainId"]), _hex_bytes(a["address"], 20), _quantity(a["nonce"]),
            _quantity(a["yParity"] if "yParity" in a else a["v"]), _quantity(a["r"]), _quantity(a["s"]),
        )
        for a in entries
    )


def _from_rpc(obj: dict) -> Transaction:
    # `field` names what is being parsed, so that any failure below can say where it was.
    field = "type"
    try:
        tx_type = _quantity(obj["type"]) if "type" in obj else 0
        if tx_type not in _LAYOUTS:
            raise ValueError(f"unsupported transaction type {tx_type}")
        field = "nonce"
        fields = {"nonce": _quantity(obj["nonce"])}
        field = "gas"
        fields["gas_limit"] = _quantity(obj["gas"])
        field = "to"
        to = obj.get("to")
        fields["to"] = None if to is None else _hex_bytes(to, 20)
        field = "value"
        fields["value"] = _quantity(obj["value"])
        field = "input"
        fields["data"] = _hex_bytes(obj["input"])
        field = "r"
        fields["r"] = _quantity(obj["r"])
        field = "s"
        fields["s"] = _quantity(obj["s"])
        if tx_type < 2:
            field = "gasPrice"
            fields["gas_price"] = _quantity(obj["gasPrice"])
        else:
            field = "maxPriorityFeePerGas"
            fields["max_priority_fee_per_gas"] = _quantity(obj["maxPriorityFeePerGas"])
            field = "maxFeePerGas"
            fields["max_fee_per_gas"] = _quantity(obj["maxFeePerGas"])
        if tx_type == 0:
            field = "v"
            fields["v"] = v = _quantity(obj["v"])
            fields["chain_id"] = _legacy_chain_id(v)
        else:
            field = "chainId"
            fields["chain_id"] = _quantity(obj["chainId"])
            field = "yParity"
            fields["v"] = _quantity(obj["yParity"] if "yParity" in obj else obj["v"])
            field = "accessList"
            fields["access_list"] = _rpc_access_list(obj["accessList"])
        if tx_type == 3:
            field = "maxFeePerBlobGas"
            fields["max_fee_per_blob_gas"] = _quantity(obj["maxFeePerBlobGas"])
            field = "blobVersionedHashes"
            fields["blob_versioned_hashes"] = tuple(_hex_bytes(h, 32) for h in obj["blobVersionedHashes"])
        elif tx_type == 4:
            field = "authorizationList"
            fields["authorization_list"] = _rpc_authorizations(obj["authorizationList"])
    except KeyError as exc:
        raise TransactionDecodeError(f"RPC transaction field {field!r}: missing {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise TransactionDecodeError(f"RPC transaction field {field!r}: {exc}") from None
    return _build(tx_type, fields)

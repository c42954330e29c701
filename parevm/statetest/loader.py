"""Reader for filled state-test JSON files.

Two dialects exist and both are read into the same typed objects:

* ethereum/tests `GeneralStateTests`: one test key holds post-states for several forks; no
  `config` (the chain id is 1); access lists per data index, `null` where that index is a legacy tx.
* EEST (execution-spec-tests) fixtures: one fork per test key, a `config` with `chainid` and
  `blobSchedule`, a full post `state` per entry, type-4 `authorizationList`, blob fields.

Everything hex is decoded once, here: addresses and hashes become `bytes`, quantities `int`,
so the EVM never sees JSON strings. Any deviation from the format raises
`StateTestFormatError` naming the file and the field, never a bare KeyError deep in the EVM.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from parevm.primitives import Address, Hash32, PreAccount

# Fork names as the fixture files spell them, oldest first.
FORK_NAMES = (
    "Frontier", "Homestead", "EIP150", "EIP158", "Byzantium", "Constantinople",
    "ConstantinopleFix", "Istanbul", "Berlin", "London", "Paris", "Shanghai", "Cancun",
    "Prague", "Osaka",
)
# Other names people use for the same forks (the files say Paris; everyone else says Merge).
FORK_ALIASES = {
    "merge": "Paris",
    "tangerinewhistle": "EIP150",
    "spuriousdragon": "EIP158",
    "petersburg": "ConstantinopleFix",
}
_FORKS_BY_LOWER = {name.lower(): name for name in FORK_NAMES} | FORK_ALIASES

# ethereum/tests writes quantities that do not fit in 256 bits (e.g. ValueOverflow) this way.
_BIGINT_PREFIX = "0x:bigint "

ETHEREUM_TESTS_CHAIN_ID = 1


class StateTestFormatError(ValueError):
    """A fixture file that is not a well-formed state test; says which file and which field."""

    def __init__(self, path: Path | str, field: str, reason: str):
        super().__init__(f"{path}: {field}: {reason}")
        self.path = str(path)
        self.field = field
        self.reason = reason


class _FieldError(Exception):
    """Raised by the field decoders; `load_file` adds the file name."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class Env:
    coinbase: Address
    gas_limit: int
    number: int
    timestamp: int
    difficulty: int
    prev_randao: Hash32 | None  # `currentRandom`; absent in pre-Merge-only files
    base_fee: int | None  # absent before London
    excess_blob_gas: int | None  # absent before Cancun


AccessList = list[tuple[Address, list[int]]]


@dataclass(slots=True)
class Authorization:
    """One EIP-7702 authorization tuple; `signer` is the fixture's claim, absent when invalid."""

    chain_id: int
    address: Address
    nonce: int
    y_parity: int
    r: int
    s: int
    signer: Address | None


@dataclass(slots=True)
class TxTemplate:
    """The transaction of a test; a vector picks one entry of `data`, `gas_limits` and `values`."""

    data: list[bytes]
    gas_limits: list[int]
    values: list[int]
    nonce: int
    gas_price: int | None
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    access_lists: list[AccessList | None] | None  # per data index; None inside = no access list
    secret_key: bytes
    sender: Address | None
    to: Address | None  # None: contract creation
    blob_versioned_hashes: list[Hash32] | None
    max_fee_per_blob_gas: int | None
    authorization_list: list[Authorization] | None


@dataclass(slots=True)
class PostEntry:
    """One vector: the expected outcome of the tx built from the given indexes under `fork`."""

    fork: str
    data_index: int
    gas_index: int
    value_index: int
    hash: Hash32  # expected state root
    logs: Hash32  # expected keccak(rlp(logs))
    expect_exception: str | None  # e.g. "TransactionException.A|TransactionException.B"
    txbytes: bytes | None
    state: dict[Address, PreAccount] | None  # EEST only: the full expected post-state

    @property
    def index(self) -> str:
        return f"{self.data_index}/{self.gas_index}/{self.value_index}"


@dataclass(slots=True)
class BlobSchedule:
    target: int
    max: int
    base_fee_update_fraction: int


@dataclass(slots=True)
class ChainConfig:
    chain_id: int
    blob_schedule: dict[str, BlobSchedule] | None  # per fork name; EEST only


@dataclass(slots=True)
class StateTest:
    name: str
    path: str
    env: Env
    pre: dict[Address, PreAccount]
    tx: TxTemplate
    post: dict[str, list[PostEntry]]  # fork name -> vectors, in file order
    config: ChainConfig

    def vectors(self) -> Iterator[PostEntry]:
        for entries in self.post.values():
            yield from entries


def canonical_fork_name(name: str) -> str:
    """The fixture spelling of a fork name given in any case or as a common alias (Merge)."""
    try:
        return _FORKS_BY_LOWER[name.lower()]
    except KeyError:
        raise ValueError(f"unknown fork {name!r}; known: {', '.join(FORK_NAMES)}") from None


def load_file(path: Path | str) -> list[StateTest]:
    """All tests of one fixture file, in file order."""
    try:
        raw = json.loads(Path(path).read_bytes())
    except (ValueError, RecursionError) as exc:  # malformed JSON, bad UTF-8, absurd nesting
        raise StateTestFormatError(path, "(file)", f"invalid JSON: {exc}") from None
    except OSError as exc:
        raise StateTestFormatError(path, "(file)", exc.strerror or str(exc)) from None
    if type(raw) is not dict:
        raise StateTestFormatError(path, "(file)", "expected a JSON object of tests")
    tests = []
    for name, body in raw.items():
        if type(body) is not dict:
            raise StateTestFormatError(path, name, f"expected a test object, got {type(body).__name__}")
        try:
            tests.append(_test(str(path), name, body))
        except _FieldError as exc:
            raise StateTestFormatError(path, f"{name}.{exc.field}", exc.reason) from None
    return tests


def _test(path: str, name: str, body: dict) -> StateTest:
    tx = _tx(_required(body, "transaction", ""))
    config = body.get("config")
    return StateTest(
        name=name,
        path=path,
        env=_env(_required(body, "env", "")),
        pre=_accounts(_required(body, "pre", ""), "pre"),
        tx=tx,
        post=_post(_required(body, "post", ""), tx),
        config=_config(config) if config is not None else ChainConfig(ETHEREUM_TESTS_CHAIN_ID, None),
    )


def _env(env: object) -> Env:
    _object(env, "env")
    prev_randao = env.get("currentRandom")
    base_fee = env.get("currentBaseFee")
    excess_blob_gas = env.get("currentExcessBlobGas")
    return Env(
        coinbase=_fixed(_required(env, "currentCoinbase", "env"), 20, "env.currentCoinbase"),
        gas_limit=_quantity(_required(env, "currentGasLimit", "env"), "env.currentGasLimit"),
        number=_quantity(_required(env, "currentNumber", "env"), "env.currentNumber"),
        timestamp=_quantity(_required(env, "currentTimestamp", "env"), "env.currentTimestamp"),
        difficulty=_quantity(_required(env, "currentDifficulty", "env"), "env.currentDifficulty"),
        prev_randao=None if prev_randao is None else _fixed(prev_randao, 32, "env.currentRandom"),
        base_fee=None if base_fee is None else _quantity(base_fee, "env.currentBaseFee"),
        excess_blob_gas=(
            None if excess_blob_gas is None else _quantity(excess_blob_gas, "env.currentExcessBlobGas")
        ),
    )


def _accounts(accounts: object, where: str) -> dict[Address, PreAccount]:
    _object(accounts, where)
    result = {}
    for address, account in accounts.items():
        field = f"{where}[{address}]"
        _object(account, field)
        storage = _object(_required(account, "storage", field), field + ".storage")
        result[_fixed(address, 20, field)] = PreAccount(
            balance=_quantity(_required(account, "balance", field), field + ".balance"),
            nonce=_quantity(_required(account, "nonce", field), field + ".nonce"),
            code=_data(_required(account, "code", field), field + ".code"),
            storage={
                _quantity(key, field + ".storage"): _quantity(value, field + ".storage")
                for key, value in storage.items()
            },
        )
    return result


def _tx(tx: object) -> TxTemplate:
    _object(tx, "transaction")
    to = _required(tx, "to", "transaction")
    sender = tx.get("sender")
    access_lists = tx.get("accessLists")
    blob_hashes = tx.get("blobVersionedHashes")
    authorizations = tx.get("authorizationList")
    return TxTemplate(
        data=[_data(d, "transaction.data")
              for d in _list(_required(tx, "data", "transaction"), "transaction.data")],
        gas_limits=_quantities(_required(tx, "gasLimit", "transaction"), "transaction.gasLimit"),
        values=_quantities(_required(tx, "value", "transaction"), "transaction.value"),
        nonce=_quantity(_required(tx, "nonce", "transaction"), "transaction.nonce"),
        gas_price=_optional_quantity(tx, "gasPrice"),
        max_fee_per_gas=_optional_quantity(tx, "maxFeePerGas"),
        max_priority_fee_per_gas=_optional_quantity(tx, "maxPriorityFeePerGas"),
        access_lists=None if access_lists is None else [
            None if access_list is None else _access_list(access_list, f"transaction.accessLists[{i}]")
            for i, access_list in enumerate(_list(access_lists, "transaction.accessLists"))
        ],
        secret_key=_fixed(_required(tx, "secretKey", "transaction"), 32, "transaction.secretKey"),
        sender=None if sender is None else _fixed(sender, 20, "transaction.sender"),
        to=None if to == "" else _fixed(to, 20, "transaction.to"),
        blob_versioned_hashes=None if blob_hashes is None else [
            _fixed(h, 32, "transaction.blobVersionedHashes")
            for h in _list(blob_hashes, "transaction.blobVersionedHashes")
        ],
        max_fee_per_blob_gas=_optional_quantity(tx, "maxFeePerBlobGas"),
        authorization_list=None if authorizations is None else [
            _authorization(auth, f"transaction.authorizationList[{i}]")
            for i, auth in enumerate(_list(authorizations, "transaction.authorizationList"))
        ],
    )


def _optional_quantity(tx: dict, key: str) -> int | None:
    value = tx.get(key)
    return None if value is None else _quantity(value, "transaction." + key)


def _access_list(access_list: object, where: str) -> AccessList:
    result = []
    for item in _list(access_list, where):
        _object(item, where)
        keys = _list(_required(item, "storageKeys", where), where + ".storageKeys")
        result.append((
            _fixed(_required(item, "address", where), 20, where + ".address"),
            [_quantity(key, where + ".storageKeys") for key in keys],
        ))
    return result


def _authorization(auth: object, where: str) -> Authorization:
    _object(auth, where)
    y_parity = auth.get("yParity", auth.get("v"))
    if y_parity is None:
        raise _FieldError(where + ".yParity", "missing (and no v)")
    signer = auth.get("signer")
    return Authorization(
        chain_id=_quantity(_required(auth, "chainId", where), where + ".chainId"),
        address=_fixed(_required(auth, "address", where), 20, where + ".address"),
        nonce=_quantity(_required(auth, "nonce", where), where + ".nonce"),
        y_parity=_quantity(y_parity, where + ".yParity"),
        r=_quantity(_required(auth, "r", where), where + ".r"),
        s=_quantity(_required(auth, "s", where), where + ".s"),
        signer=None if signer is None else _fixed(signer, 20, where + ".signer"),
    )


def _post(post: object, tx: TxTemplate) -> dict[str, list[PostEntry]]:
    _object(post, "post")
    limits = (len(tx.data), len(tx.gas_limits), len(tx.values))
    return {
        fork: [_post_entry(fork, entry, f"post.{fork}[{i}]", limits)
               for i, entry in enumerate(_list(entries, "post." + fork))]
        for fork, entries in post.items()
    }


def _post_entry(fork: str, entry: object, where: str, limits: tuple[int, int, int]) -> PostEntry:
    _object(entry, where)
    indexes = _object(_required(entry, "indexes", where), where + ".indexes")
    data_index, gas_index, value_index = (
        _index(_required(indexes, key, where + ".indexes"), limit, f"{where}.indexes.{key}")
        for key, limit in zip(("data", "gas", "value"), limits)
    )
    exception = entry.get("expectException")
    if exception is not None and type(exception) is not str:
        raise _FieldError(where + ".expectException", "expected a string")
    txbytes = entry.get("txbytes")
    state = entry.get("state")
    return PostEntry(
        fork=fork,
        data_index=data_index,
        gas_index=gas_index,
        value_index=value_index,
        hash=_fixed(_required(entry, "hash", where), 32, where + ".hash"),
        logs=_fixed(_required(entry, "logs", where), 32, where + ".logs"),
        expect_exception=exception,
        txbytes=None if txbytes is None else _data(txbytes, where + ".txbytes"),
        state=None if state is None else _accounts(state, where + ".state"),
    )


def _config(config: object) -> ChainConfig:
    _object(config, "config")
    schedule = config.get("blobSchedule")
    if schedule is not None:
        _object(schedule, "config.blobSchedule")
        schedule = {fork: _blob_schedule(params, f"config.blobSchedule.{fork}")
                    for fork, params in schedule.items()}
    return ChainConfig(
        chain_id=_quantity(_required(config, "chainid", "config"), "config.chainid"),
        blob_schedule=schedule,
    )


def _blob_schedule(params: object, where: str) -> BlobSchedule:
    _object(params, where)
    return BlobSchedule(
        target=_quantity(_required(params, "target", where), where + ".target"),
        max=_quantity(_required(params, "max", where), where + ".max"),
        base_fee_update_fraction=_quantity(
            _required(params, "baseFeeUpdateFraction", where), where + ".baseFeeUpdateFraction"
        ),
    )


# --- field decoders: each raises _FieldError naming the field ---------------------------------

def _required(obj: dict, key: str, where: str) -> object:
    try:
        return obj[key]
    except KeyError:
        raise _FieldError(f"{where}.{key}" if where else key, "missing") from None


def _object(value: object, where: str) -> dict:
    if type(value) is not dict:
        raise _FieldError(where, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list:
    if type(value) is not list:
        raise _FieldError(where, f"expected a list, got {type(value).__name__}")
    return value


def _quantity(value: object, where: str) -> int:
    if type(value) is str:
        if value.startswith(_BIGINT_PREFIX):
            value = value[len(_BIGINT_PREFIX):]
        if value.startswith("0x"):
            try:
                return int(value, 16)
            except ValueError:
                pass
    raise _FieldError(where, f"expected a 0x-prefixed hex quantity, got {value!r:.80}")


def _quantities(values: object, where: str) -> list[int]:
    return [_quantity(value, where) for value in _list(values, where)]


def _data(value: object, where: str) -> bytes:
    if type(value) is str and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise _FieldError(where, f"expected 0x-prefixed hex bytes, got {value!r:.80}")


def _fixed(value: object, size: int, where: str) -> bytes:
    data = _data(value, where)
    if len(data) != size:
        raise _FieldError(where, f"expected {size} bytes, got {len(data)}")
    return data


def _index(value: object, limit: int, where: str) -> int:
    if type(value) is not int or not 0 <= value < limit:
        raise _FieldError(where, f"expected an index below {limit}, got {value!r:.80}")
    return value

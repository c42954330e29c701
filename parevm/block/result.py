"""What replaying a block produced: typed results, the checks against the header, and their JSON form.

Everything here is plain data, comparable with `==`, so that a sequential and a parallel run of
the same block can be compared field by field (`parevm run --compare`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Callable

from parevm.block.receipts import Receipt

OK = "ok"
MISMATCH = "mismatch"
UNAVAILABLE = "n/a"


@dataclass(slots=True, frozen=True)
class Check:
    """One header field recomputed: `status` is OK, MISMATCH, or UNAVAILABLE (with the reason in `note`)."""

    name: str
    status: str
    expected: int | bytes | None = None
    actual: int | bytes | None = None
    note: str = ""

    @classmethod
    def compare(cls, name: str, expected: int | bytes, actual: int | bytes) -> Check:
        return cls(name, OK if expected == actual else MISMATCH, expected, actual)

    @classmethod
    def unavailable(cls, name: str, note: str) -> Check:
        return cls(name, UNAVAILABLE, note=note)


@dataclass(slots=True, frozen=True)
class TxOutcome:
    """A transaction as executed: enough to find the one where a replay diverges."""

    index: int
    hash: bytes
    type: int
    success: bool
    gas_used: int
    cumulative_gas_used: int
    log_count: int


@dataclass(slots=True, frozen=True)
class AccountState:
    """An account as the state diff shows it: `storage` holds only the slots that changed."""

    balance: int
    nonce: int
    code: bytes
    storage: dict[int, int]


@dataclass(slots=True, frozen=True)
class AccountChange:
    """An account the block changed; `pre` is None if it was created, `post` None if it was deleted."""

    pre: AccountState | None
    post: AccountState | None


@dataclass(slots=True)
class Timings:
    """Seconds spent per phase: `read` covers reading the block folder and loading the pre-state,
    `recover` the sender recovery, `prepare` decoding the pre-state's code for the interpreter and
    loading the KZG setup (both cached: a contract seen before costs nothing, the setup loads once
    per process), `execute` the transactions alone, `system` the system calls, rewards,
    withdrawals and requests, `trie` building the receipts (with their blooms) and the receipts,
    transactions, withdrawals and state roots, `diff` the state diff (0 until it is first asked
    for: see `BlockResult.state_diff`)."""

    read: float = 0.0
    recover: float = 0.0
    prepare: float = 0.0
    execute: float = 0.0
    system: float = 0.0
    trie: float = 0.0
    diff: float = 0.0

    @property
    def total(self) -> float:
        return self.read + self.recover + self.prepare + self.execute + self.system + self.trie + self.diff


@dataclass(slots=True)
class BlockResult:
    """The outcome of one block replay.

    `receipts` hold a status code from Byzantium on; before it their `status_or_state_root` is
    None, since the intermediate state root after each transaction cannot be computed from a
    partial pre-state. `engine` is "sequential" or "parallel"; `engine_stats` is what the
    parallel engine reported (None for sequential runs)."""

    number: int
    hash: bytes
    fork: str
    gas_used: int
    receipts: list[Receipt]
    bloom: bytes
    checks: list[Check]
    txs: list[TxOutcome]
    # the state diff, or how to compute it: `state_diff` does on first use (see there)
    _state_diff: dict[bytes, AccountChange] | Callable[[], dict[bytes, AccountChange]]
    state_root: bytes | None
    requests: list[bytes] | None  # EIP-7685 type-prefixed requests, Prague on
    timings: Timings
    engine: str
    workers: int
    engine_stats: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def tx_count(self) -> int:
        return len(self.txs)

    @property
    def state_diff(self) -> dict[bytes, AccountChange]:
        """Every account the block changed. Computed on first use (`--state-diff`, `--compare`, the
        library): on a large block it costs tens of milliseconds that a plain replay does not
        need. Its time then goes to `timings.diff`."""
        diff = self._state_diff
        if callable(diff):
            started = perf_counter()
            diff = self._state_diff = diff()
            self.timings.diff += perf_counter() - started
        return diff

    @property
    def ok(self) -> bool:
        """No check mismatched (unavailable checks do not count against the block)."""
        return all(check.status != MISMATCH for check in self.checks)

    @property
    def mismatches(self) -> list[Check]:
        return [check for check in self.checks if check.status == MISMATCH]

    @property
    def mgas_per_second(self) -> float:
        """Throughput of transaction execution alone (recovery, code analysis, system calls and tries
        excluded)."""
        seconds = self.timings.execute
        return self.gas_used / seconds / 1e6 if seconds > 0 else 0.0

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_json(self) -> dict:
        """JSON-ready summary (no state diff: that is `state_diff_json`)."""
        return {
            "number": self.number,
            "hash": _hex(self.hash),
            "fork": self.fork,
            "txs": self.tx_count,
            "gasUsed": self.gas_used,
            "ok": self.ok,
            "checks": {check.name: _check_json(check) for check in self.checks},
            "stateRoot": _hex(self.state_root),
            "requests": None if self.requests is None else [_hex(r) for r in self.requests],
            "transactions": [
                {"index": tx.index, "hash": _hex(tx.hash), "type": tx.type, "success": tx.success,
                 "gasUsed": tx.gas_used, "cumulativeGasUsed": tx.cumulative_gas_used, "logs": tx.log_count}
                for tx in self.txs
            ],
            "timings": {**{name: getattr(self.timings, name) for name in self.timings.__dataclass_fields__},
                        "total": self.timings.total},
            "mgasPerSecond": self.mgas_per_second,
            "engine": self.engine,
            "workers": self.workers,
            "engineStats": _stats_json(self.engine_stats),
            "notes": self.notes,
        }


def state_diff_json(diff: dict[bytes, AccountChange]) -> dict:
    """The prestateTracer `diffMode` shape: `pre` has every changed account as it was (with the
    changed slots' old values), `post` what changed (fields and slots); a deleted account is absent
    from `post`, a created one from `pre`; a slot cleared to zero shows as "0x0" in `post`."""
    pre: dict[str, dict] = {}
    post: dict[str, dict] = {}
    for address, change in sorted(diff.items()):
        key = _hex(address)
        if change.pre is not None:
            pre[key] = _account_json(change.pre, None)
        if change.post is not None:
            post[key] = _account_json(change.post, change.pre)
    return {"pre": pre, "post": post}


def _account_json(account: AccountState, before: AccountState | None) -> dict:
    """All fields of `account`, or (when `before` is given) those that differ from it."""
    out: dict[str, Any] = {}
    if before is None or account.balance != before.balance:
        out["balance"] = hex(account.balance)
    if before is None or account.nonce != before.nonce:
        out["nonce"] = account.nonce
    if account.code and (before is None or account.code != before.code):
        out["code"] = _hex(account.code)
    slots = {_word(slot): _word(value) for slot, value in sorted(account.storage.items())
             if before is not None or value}
    if slots:
        out["storage"] = slots
    return out


def _check_json(check: Check) -> dict:
    out: dict[str, Any] = {"status": check.status}
    if check.status != UNAVAILABLE:
        out["expected"] = _value_json(check.expected)
        out["actual"] = _value_json(check.actual)
    if check.note:
        out["note"] = check.note
    return out


def _stats_json(stats: Any) -> Any:
    if stats is None or isinstance(stats, (int, float, str, bool, list, dict)):
        return stats
    if hasattr(stats, "__dataclass_fields__"):
        return {name: _stats_json(getattr(stats, name)) for name in stats.__dataclass_fields__}
    return str(stats)


def _value_json(value: int | bytes | None) -> int | str | None:
    return _hex(value) if isinstance(value, bytes) else value


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()

"""Shared test setup: the `conformance` marker and access to the fixtures outside the repo.

Fixtures are optional on a developer machine (tests that need them skip, saying where they
looked) but mandatory in CI: with `CI=true` their absence fails the test instead, so a broken
checkout cannot turn the conformance suite into a row of green skips.
"""
from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from parevm.config import FIXTURES_ENV_VAR, fixtures_dir
from parevm.statetest.loader import PostEntry, StateTest

STATETEST_DATA = Path(__file__).parent / "data" / "statetest"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: runs the EVM over whole fixture suites (slow; deselect with -m 'not conformance')"
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_fixture_path(*parts: str) -> Path:
    """`fixtures_dir()/parts...`; skips the calling test if it is absent (fails it when CI=true)."""
    path = fixtures_dir().joinpath(*parts)
    if not path.exists():
        reason = f"fixtures not found at {path} (set {FIXTURES_ENV_VAR} to their location)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true requires them", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture
def fixture_path() -> Callable[..., Path]:
    """`fixture_path("eest-state-tests", "prague")` -> that path, or skip (fail in CI) if absent."""
    return require_fixture_path


# --- a stand-in for the EVM, for testing the state-test runner and CLI without it ---------------

@dataclass(slots=True)
class FakeOutcome:
    """Shaped like `parevm.statetest.execute.VectorOutcome`."""

    state_root: bytes
    logs_hash: bytes
    rejected: str | None
    post_state: dict[bytes, tuple[int, int, bytes, dict[int, int]]]


@dataclass
class FakeEvm:
    """Answers exactly what each vector expects, unless `tweaks[(name, fork, index)]` says otherwise:
    a tweak receives the correct outcome and may change it in place or raise."""

    tweaks: dict[tuple[str, str, str], Callable[[FakeOutcome], None]] = field(default_factory=dict)

    def execute_vector(self, test: StateTest, entry: PostEntry) -> FakeOutcome:
        expected_state = entry.state or {}
        outcome = FakeOutcome(
            state_root=entry.hash,
            logs_hash=entry.logs,
            rejected="INTRINSIC_GAS_TOO_LOW" if entry.expect_exception else None,
            post_state={address: (account.nonce, account.balance, account.code, dict(account.storage))
                        for address, account in expected_state.items()},
        )
        tweak = self.tweaks.get((test.name, entry.fork, entry.index))
        if tweak is not None:
            tweak(outcome)
        return outcome


@pytest.fixture
def fake_evm(monkeypatch: pytest.MonkeyPatch) -> FakeEvm:
    """A FakeEvm installed as `parevm.statetest.execute` for the duration of the test."""
    evm = FakeEvm()
    module = types.ModuleType("parevm.statetest.execute")
    module.execute_vector = evm.execute_vector
    module.VectorOutcome = FakeOutcome
    monkeypatch.setitem(sys.modules, "parevm.statetest.execute", module)
    return evm


@pytest.fixture
def statetest_data() -> Path:
    """Small hand-written state-test files (both dialects, and a malformed one)."""
    return STATETEST_DATA

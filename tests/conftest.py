"""Shared test setup: the `conformance` marker and access to the fixtures outside the repo.

Fixtures are optional on a developer machine (tests that need them skip, saying where they
looked) but mandatory in CI: with `CI=true` their absence fails the test instead, so a broken
checkout cannot turn the conformance suite into a row of green skips.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from parevm.config import FIXTURES_ENV_VAR, fixtures_dir


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

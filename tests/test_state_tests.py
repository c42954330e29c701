"""Conformance: every state-test vector of the fixture suites passes.

One pytest test per top-level GeneralStateTests folder and per EEST feature folder, so a failure
says where to look; the assertion message lists the failing vectors and what differs. Marked
`conformance`: `pytest -m "not conformance"` skips it for a quick run; CI runs it.
"""
from __future__ import annotations

import pytest

from parevm.config import fixtures_dir
from parevm.statetest.runner import expand_paths, load_executor, run_files

pytestmark = pytest.mark.conformance

JOBS = 2  # what CI has
SHOWN_FAILURES = 40

SUITES = (("ethereum-tests", "GeneralStateTests"), ("eest-state-tests", "prague"), ("eest-state-tests", "osaka"))


def conformance_folders() -> list:
    """A param per test folder; a suite whose root is missing gets one param for the root itself,
    so that the test skips (or fails under CI=true) instead of silently vanishing."""
    params = []
    for suite in SUITES:
        root = fixtures_dir().joinpath(*suite)
        folders = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        if not folders:
            params.append(pytest.param(suite, id="/".join(suite)))
        params.extend(pytest.param((*suite, name), id=f"{suite[-1]}/{name}") for name in folders)
    return params


@pytest.mark.parametrize("parts", conformance_folders())
def test_state_tests_pass(parts: tuple[str, ...], fixture_path):
    folder = fixture_path(*parts)
    files = expand_paths([folder])
    total = 0
    failures = []
    for result in run_files(files, load_executor(), jobs=JOBS):
        total += len(result.vectors) + (result.error is not None)
        if result.error is not None:
            failures.append(result.error)
        failures.extend(f"{v.name} {v.fork} {v.index}: {v.error}" for v in result.vectors if not v.passed)
    if failures:
        shown = "\n".join(failures[:SHOWN_FAILURES])
        more = f"\n... and {len(failures) - SHOWN_FAILURES} more" if len(failures) > SHOWN_FAILURES else ""
        pytest.fail(f"{len(failures)} of {total} vectors failed in {folder}:\n{shown}{more}", pytrace=False)
    assert total > 0, f"no vectors found in {folder}"

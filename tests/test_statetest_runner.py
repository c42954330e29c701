"""State-test runner: the pass rule, the failure descriptions, fault isolation, fork filtering,
and parallel runs giving the same results in the same order as sequential ones."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from parevm.statetest.loader import PreAccount, load_file
from parevm.statetest.runner import (
    describe_mismatch,
    expand_paths,
    first_state_difference,
    load_executor,
    run_file,
    run_files,
)

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = b"\xcc" * 20
LEGACY_NAME = "twoForks"
EEST_NAME = "tests/prague/test_demo.py::test_demo[fork_Prague-state_test]"


def outcome_for(fake_evm, path: Path, fork: str, index: str):
    """The fake EVM's answer for one vector of `path`, with the test and entry it belongs to."""
    (test,) = load_file(path)
    entry = next(e for e in test.post[fork] if e.index == index)
    return test, entry, fake_evm.execute_vector(test, entry)


def test_expected_outcome_passes(fake_evm, statetest_data):
    for fork, index in [("Berlin", "0/0/0"), ("Berlin", "1/0/0"), ("Paris", "0/0/0")]:
        _, entry, outcome = outcome_for(fake_evm, statetest_data / "legacy_two_forks.json", fork, index)
        assert describe_mismatch(entry, outcome) is None


def test_validity_mismatch_is_a_failure_whatever_the_roots(fake_evm, statetest_data):
    path = statetest_data / "legacy_two_forks.json"
    _, invalid_entry, outcome = outcome_for(fake_evm, path, "Berlin", "1/0/0")
    outcome.rejected = None
    assert describe_mismatch(invalid_entry, outcome) == (
        "expected exception TR_IntrinsicGas, but the transaction was valid")
    _, valid_entry, outcome = outcome_for(fake_evm, path, "Berlin", "0/0/0")
    outcome.rejected = "NONCE_MISMATCH_TOO_LOW"
    assert describe_mismatch(valid_entry, outcome) == (
        "transaction rejected (NONCE_MISMATCH_TOO_LOW), expected valid")


def test_root_and_logs_mismatches_are_both_reported(fake_evm, statetest_data):
    _, entry, outcome = outcome_for(fake_evm, statetest_data / "legacy_two_forks.json", "Paris", "0/0/0")
    outcome.state_root = b"\x99" * 32
    outcome.logs_hash = b"\x98" * 32
    assert describe_mismatch(entry, outcome) == (
        f"stateRoot 0x{'99' * 32} != expected 0x{'33' * 32}; "
        f"logsHash 0x{'98' * 32} != expected 0x{entry.logs.hex()}")


def test_root_mismatch_names_first_differing_account_field(fake_evm, statetest_data):
    _, entry, outcome = outcome_for(fake_evm, statetest_data / "eest_with_state.json", "Prague", "0/0/0")
    outcome.state_root = b"\x99" * 32
    nonce, balance, code, storage = outcome.post_state[CONTRACT]
    outcome.post_state[CONTRACT] = (nonce, balance, code, {1: 2})
    assert describe_mismatch(entry, outcome).endswith(
        "; account 0xcccccccccccccccccccccccccccccccccccccccc storage[0x1] 0x2 != expected 0x1")
    # With equal states, the hint points at the root computation instead.
    outcome.post_state[CONTRACT] = (nonce, balance, code, storage)
    assert describe_mismatch(entry, outcome).endswith(
        "post_state equals the expected state, so the root computation is off")


def test_first_state_difference_order_and_zero_slots():
    expected = {SENDER: PreAccount(balance=5, nonce=1, code=b"", storage={}),
                CONTRACT: PreAccount(balance=0, nonce=1, code=b"\x00", storage={7: 1})}
    actual = {SENDER: (1, 5, b"", {3: 0}), CONTRACT: (1, 0, b"\x00", {7: 1})}
    assert first_state_difference(expected, actual) is None  # a zero slot is an absent slot
    actual[SENDER] = (1, 6, b"", {})
    actual[CONTRACT] = (2, 0, b"\x00", {7: 1})
    # Accounts are compared in address order: 0xa9.. before 0xcc..
    assert first_state_difference(expected, actual) == (
        "account 0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b balance 6 != expected 5")
    del actual[SENDER]
    assert "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b is missing" in first_state_difference(expected, actual)
    actual = {SENDER: (1, 5, b"", {}), CONTRACT: (1, 0, b"\x00", {7: 1}), b"\x01" * 20: (0, 1, b"", {})}
    assert first_state_difference(expected, actual) == (
        "account 0x0101010101010101010101010101010101010101 exists but is not in the expected state")


def test_evm_exception_fails_only_its_vector(fake_evm, statetest_data):
    def crash(outcome):
        raise ZeroDivisionError("division by zero in the interpreter")

    fake_evm.tweaks[(LEGACY_NAME, "Berlin", "0/0/0")] = crash
    result = run_file(str(statetest_data / "legacy_two_forks.json"), fake_evm.execute_vector)
    assert result.error is None
    assert [(v.fork, v.index, v.passed) for v in result.vectors] == [
        ("Berlin", "0/0/0", False), ("Berlin", "1/0/0", True), ("Paris", "0/0/0", True)]
    crashed = result.vectors[0]
    assert crashed.error.startswith("ZeroDivisionError: division by zero in the interpreter (at ")
    assert "conftest.py" in crashed.error or "test_statetest_runner.py" in crashed.error
    assert crashed.state_root is None and crashed.logs_hash is None


def test_fork_filter(fake_evm, statetest_data):
    result = run_file(str(statetest_data / "legacy_two_forks.json"), fake_evm.execute_vector, frozenset({"Paris"}))
    assert [(v.fork, v.index) for v in result.vectors] == [("Paris", "0/0/0")]


def test_malformed_file_is_a_failed_file(fake_evm, statetest_data):
    result = run_file(str(statetest_data / "malformed_missing_number.json"), fake_evm.execute_vector)
    assert result.vectors == []
    assert result.error.endswith("malformed_missing_number.json: noNumber.env.currentNumber: missing")


def test_expand_paths_recurses_sorted_and_keeps_what_it_cannot_expand(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.json").write_text("{}")
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "empty").mkdir()
    missing = tmp_path / "missing.json"
    assert expand_paths([tmp_path, missing, tmp_path / "empty"]) == [
        str(tmp_path / "a.json"), str(tmp_path / "b" / "z.json"), str(missing), str(tmp_path / "empty")]


def test_parallel_run_matches_sequential_run_in_order(fake_evm, statetest_data, tmp_path):
    # Several files of different sizes, so that the parallel schedule differs from the file order.
    for copy_number in range(4):
        shutil.copy(statetest_data / "legacy_two_forks.json", tmp_path / f"legacy_{copy_number}.json")
    shutil.copy(statetest_data / "eest_with_state.json", tmp_path / "b_eest.json")
    shutil.copy(statetest_data / "malformed_missing_number.json", tmp_path / "c_malformed.json")
    fake_evm.tweaks[(EEST_NAME, "Prague", "0/0/0")] = lambda outcome: setattr(outcome, "state_root", bytes(32))
    files = expand_paths([tmp_path])

    def summary(results):
        return [(r.path, r.error, [(v.name, v.fork, v.index, v.passed, v.error) for v in r.vectors])
                for r in results]

    sequential = summary(run_files(files, fake_evm.execute_vector, jobs=1))
    parallel = summary(run_files(files, fake_evm.execute_vector, jobs=2))
    assert parallel == sequential
    assert [path for path, _, _ in parallel] == files
    assert sum(not passed for _, _, vectors in parallel for *_, passed, _ in vectors) == 1


def test_missing_evm_is_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "parevm.statetest.execute", None)
    with pytest.raises(ImportError):
        load_executor()

"""Differential testing against the Ethereum execution specification (EELS).

A few hundred generated Cancun/Prague/Osaka state tests (see README "Differential testing") run
on parevm and on EELS; for every vector the two must agree on the post-state root, the logs
hash and whether the transaction is rejected. EELS lives in its own virtualenv ($PAREVM_EELS,
made by .ci/run): without it these tests skip locally and fail under CI=true.

The seed is fixed so CI is reproducible; PAREVM_DIFF_SEED=N explores other cases, and
run_long.py runs thousands.
"""
from __future__ import annotations

import json
import os
import subprocess

import compare_engines
import pytest
from compare_engines import compare_files, find_eels, run_parevm
from conftest import in_ci
from generate import FAMILIES, generate_case, write_batches

SEED = int(os.environ.get("PAREVM_DIFF_SEED", "20250704"))
# cases per family in CI: about a minute on two cores (point evaluations cost EELS ~0.6 s each)
CI_CASES = {
    "set_code": 80, "bls": 40, "p256": 30, "modexp": 40, "point_eval": 6, "calldata_floor": 25,
    "gas_cap": 15, "blob_tx": 30, "tx_validity": 30, "clz": 15, "random_program": 120, "gas_boundary": 40,
}
SHOWN_MISMATCHES = 10


@pytest.fixture(scope="module")
def eels():
    path, why = find_eels()
    if path is None:
        if in_ci():
            pytest.fail(f"{why}; CI=true requires it", pytrace=False)
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def report(eels, tmp_path_factory):
    cases = (generate_case(SEED, index, family) for family, count in CI_CASES.items() for index in range(count))
    paths = write_batches(cases, tmp_path_factory.mktemp("differential"), files=8)
    return compare_files(paths, eels, workers=2)


def test_every_family_has_ci_cases():
    assert set(CI_CASES) == set(FAMILIES)


@pytest.mark.parametrize("family", list(CI_CASES))
def test_engines_agree(report, family):
    vectors = report.vectors[family]
    assert vectors >= CI_CASES[family], f"only {vectors} vectors for {CI_CASES[family]} {family} cases"
    mismatches = [m for m in report.mismatches if m.name.startswith(family + "-")]
    if mismatches:
        shown = "\n".join(m.describe() for m in mismatches[:SHOWN_MISMATCHES])
        pytest.fail(f"{len(mismatches)} of {vectors} {family} vectors differ (seed {SEED}):\n{shown}", pytrace=False)


def test_generation_is_reproducible():
    for family in FAMILIES:
        assert json.dumps(generate_case(7, 3, family)) == json.dumps(generate_case(7, 3, family))
    assert generate_case(7, 3) != generate_case(7, 4)


def test_a_wrong_result_is_caught(eels, tmp_path, monkeypatch):
    """The comparison is not vacuous: parevm answers with a flipped root or a false rejection,
    and exactly those vectors are reported."""
    paths = write_batches([generate_case(SEED, i, "clz") for i in range(3)], tmp_path, files=1)
    real_execute = compare_engines.execute_vector

    def sabotaged(test, entry):
        outcome = real_execute(test, entry)
        if test.name.endswith("-0"):
            outcome.state_root = bytes(32)
        elif test.name.endswith("-1"):
            outcome.rejected = "SABOTAGE"
        return outcome

    monkeypatch.setattr(compare_engines, "execute_vector", sabotaged)
    result = compare_files(paths, eels, workers=1)
    assert {m.name for m in result.mismatches} == {f"clz-{SEED}-0", f"clz-{SEED}-1"}
    assert sum(result.vectors.values()) > len(result.mismatches)


def test_eels_cli_gives_the_same_roots(eels, tmp_path):
    """`ethereum-spec-evm statetest` itself (not our driver) agrees with parevm's state roots."""
    cases = [generate_case(SEED, i, family) for i, family in enumerate(("set_code", "random_program", "blob_tx"))]
    [path] = write_batches(cases, tmp_path, files=1)
    cli = subprocess.run([str(eels), "statetest", str(path)], capture_output=True, check=True, text=True)
    theirs = [(r["name"], r["fork"], r["stateRoot"]) for r in json.loads(cli.stdout)]  # in file order
    ours = [(name, fork, outcome.state_root) for (name, fork, _index), outcome in run_parevm(path).items()]
    assert len(ours) > len(cases)
    assert theirs == ours

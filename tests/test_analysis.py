"""Code analysis: jump destinations against a plain loop; compiled blocks against the state tests."""
from __future__ import annotations

import random

import pytest

from parevm.evm import analysis
from parevm.evm.analysis import jump_destinations
from parevm.statetest.runner import expand_paths, load_executor, run_files


def _reference_jump_destinations(code: bytes) -> frozenset[int]:
    dests = set()
    pc = 0
    while pc < len(code):
        op = code[pc]
        if op == 0x5B:
            dests.add(pc)
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return frozenset(dests)


def test_jump_destinations_skip_push_data():
    assert jump_destinations(b"") == frozenset()
    assert jump_destinations(bytes.fromhex("5b605b5b")) == {0, 3}  # PUSH1 0x5b hides one
    assert jump_destinations(bytes.fromhex("7f" + "5b" * 32 + "5b")) == {33}
    assert jump_destinations(bytes.fromhex("5b7f5b5b")) == {0}  # PUSH32 truncated by the end of code


def test_jump_destinations_match_reference_on_random_code():
    rng = random.Random(1)
    # bytes biased to JUMPDEST and PUSHes, so immediates hide JUMPDESTs and run past the end
    alphabet = [0x5B, 0x5B, 0x60, 0x61, 0x63, 0x7F, 0x7E, 0x00, 0x01, 0x56, 0x57]
    for _ in range(3000):
        code = bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
                     for _ in range(rng.randrange(120)))
        assert jump_destinations(code) == _reference_jump_destinations(code), code.hex()


# Folders whose vectors cover control flow, stack limits, gas observation (GAS, CALL*, CREATE*,
# SSTORE) inside blocks, and random programs; about 15 s in all per threshold.
COMPILED_FOLDERS = (
    ("VMTests", "vmIOandFlowOperations"), ("VMTests", "vmArithmeticTest"),
    ("VMTests", "vmBitwiseLogicOperation"), ("stStackTests",), ("stMemoryTest",), ("stShift",),
    ("stEIP150singleCodeGasPrices",), ("stCallCodes",), ("stSStoreTest",), ("stRevertTest",),
    ("stReturnDataTest",), ("stCreate2",), ("stSystemOperationsTest",), ("stSolidityTest",),
    ("stRandom",), ("stRandom2",), ("Cancun",),
)


@pytest.mark.conformance
@pytest.mark.parametrize("hot", [1, 2])
@pytest.mark.parametrize("parts", COMPILED_FOLDERS, ids="/".join)
def test_state_tests_pass_with_blocks_compiled_early(parts, hot, fixture_path, monkeypatch):
    """The compiler otherwise sees only blocks entered HOT_BLOCK_ENTRIES times, which few vectors
    reach. At 1 every block is compiled on its first entry, alone; at 2 on its second, with the
    blocks it fell through into on the first."""
    monkeypatch.setattr(analysis, "HOT_BLOCK_ENTRIES", hot)
    files = expand_paths([fixture_path("ethereum-tests", "GeneralStateTests", *parts)])
    total = 0
    failures = []
    for result in run_files(files, load_executor()):  # in this process, so the patch applies
        total += len(result.vectors)
        failures.extend([result.error] if result.error is not None else [])
        failures.extend(f"{v.name} {v.fork} {v.index}: {v.error}" for v in result.vectors if not v.passed)
    assert total and not failures, "\n".join(failures[:20])

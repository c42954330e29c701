"""The parallel engine equals sequential execution: same results, same final state, same errors.

Fast slice: every mainnet fixture block on 2 worker processes and on simulated workers; 3 and 4
workers on a few blocks. `PAREVM_LONG=1`: every block on 2, 3 and 4 workers, three runs each, and
the simulated transport with several seeds and chunk sizes.
"""
from __future__ import annotations

import os
from pathlib import Path
from unittest.mock import patch

import pytest

from parevm.block.executor import block_env, recover_senders
from parevm.block.sequential import InvalidBlock, execute_transactions
from parevm.config import fixtures_dir
from parevm.evm.forks import mainnet_fork
from parevm.io.block_folder import read_block_folder
from parevm.parallel import chunks as chunks_module
from parevm.parallel import engine as engine_module
from parevm.parallel import executor as executor_module
from parevm.parallel import split as split_module
from parevm.parallel.engine import execute_transactions_parallel
from parevm.parallel.synthetic import (COINBASE, PROBE, Action, SyntheticBlock, conflict_block, hot_slot_block,
                                       value_transfers)
from parevm.parallel.workers import ProcessTransport, SimulatedTransport, ThreadTransport
from parevm.state.block_state import BlockState
from parevm.tx import Transaction

LONG = os.environ.get("PAREVM_LONG") == "1"
MAINNET = fixtures_dir() / "mainnet"
BLOCKS = sorted((p.name for p in MAINNET.iterdir() if p.name.isdigit()), key=int) if MAINNET.is_dir() else []
SYNTHETIC = fixtures_dir() / "synthetic"
SYNTHETIC_BLOCKS = sorted(p.name for p in SYNTHETIC.iterdir() if p.is_dir()) if SYNTHETIC.is_dir() else []
FEW_BLOCKS = ["116525", "2675000", "4864590", "8889776", "12244000", "19932148"]


def snapshot(state: BlockState) -> tuple:
    return state.accounts, state.storage, {a: c.bytes for a, c in state.codes.items()}


def sequential_outcome(block: SyntheticBlock) -> tuple:
    state = block.state()
    try:
        results = execute_transactions(block.env, block.txs, block.senders, state)
    except InvalidBlock as exc:
        results = f"InvalidBlock: {exc}"
    return results, snapshot(state)


def parallel_outcome(block: SyntheticBlock, workers: int, **options) -> tuple:
    state = block.state()
    stats = None
    try:
        results, stats = execute_transactions_parallel(block.env, block.txs, block.senders, state, workers,
                                                       **options)
    except InvalidBlock as exc:
        results = f"InvalidBlock: {exc}"
    return results, snapshot(state), stats


def assert_same(block: SyntheticBlock, expected: tuple, workers: int, **options):
    results, state, stats = parallel_outcome(block, workers, **options)
    assert results == expected[0], f"{block.name}, {workers} workers: results differ"
    assert state == expected[1], f"{block.name}, {workers} workers: final state differs"
    return stats


_loaded: dict[str, tuple[SyntheticBlock, tuple]] = {}


def mainnet_block(name: str, fixture_path, kind: str = "mainnet") -> tuple[SyntheticBlock, tuple]:
    """The fixture block and its sequential outcome (cached: several tests compare against it)."""
    if name not in _loaded:
        block = read_block_folder(fixture_path(kind, name))
        fork = mainnet_fork(block.header.number, block.header.timestamp)
        synthetic = SyntheticBlock(block_env(block.header, fork, block.block_hashes), block.transactions,
                                   recover_senders(block, fork),
                                   [(a, p.nonce, p.balance, p.code, p.storage) for a, p in block.prestate.items()],
                                   f"mainnet {name}")
        _loaded[name] = synthetic, sequential_outcome(synthetic)
    return _loaded[name]


@pytest.mark.parametrize("name", BLOCKS)
def test_mainnet_block_on_worker_processes(name, fixture_path):
    block, expected = mainnet_block(name, fixture_path)
    for workers in (2, 3, 4) if LONG else (2,):
        for run in range(3 if LONG else 1):
            stats = assert_same(block, expected, workers, fallback=run == 2)  # pure Block-STM, then adaptive
            if stats is not None:
                assert stats.executions >= len(stats.chunks) and stats.worker_restarts == 0
    with patch.multiple(split_module, WORKER_START_SECONDS=0.0, COMMIT_SECONDS_PER_TX=0.0):  # even ranges
        assert_same(block, expected, 2, split=True)


@pytest.mark.parametrize("name", SYNTHETIC_BLOCKS)
def test_synthetic_fixture_block(name, fixture_path):
    """Prague/Osaka/BPO2 blocks: EIP-7702 delegations, blobs against the block's blob gas, ..."""
    block, expected = mainnet_block(name, fixture_path, "synthetic")
    for workers, transport, chunk_txs in ((2, None, None), (3, SimulatedTransport(5), 1)):
        assert_same(block, expected, workers, transport=transport, chunk_txs=chunk_txs, fallback=False)


@pytest.mark.parametrize("name", FEW_BLOCKS)
@pytest.mark.parametrize("workers", [3, 4])
def test_mainnet_block_on_more_workers(name, workers, fixture_path):
    block, expected = mainnet_block(name, fixture_path)
    assert_same(block, expected, workers, fallback=False)
    assert_same(block, expected, workers)


@pytest.mark.parametrize("name", BLOCKS)
def test_mainnet_block_on_simulated_workers(name, fixture_path):
    """Adversarial interleavings (late messages, stale replicas, reordered outcomes), replayable by seed."""
    block, expected = mainnet_block(name, fixture_path)
    for seed in range(6 if LONG else 1):
        for chunk_txs in (None, 1) if LONG else (1,):
            assert_same(block, expected, 2 + seed % 3, transport=SimulatedTransport(seed), chunk_txs=chunk_txs,
                        fallback=seed % 2 == 1)


def test_mainnet_block_on_threads(fixture_path):
    block, expected = mainnet_block("4864590", fixture_path)
    assert_same(block, expected, 2, transport=ThreadTransport())


def test_killed_worker_is_replaced_and_its_tasks_run_again():
    block = value_transfers(2000)
    expected = sequential_outcome(block)
    transport = ProcessTransport(kill_after={0: 3})
    stats = assert_same(block, expected, 2, transport=transport, chunk_txs=10, fallback=False)
    assert stats.worker_restarts == 1 and stats.lost_tasks >= 1
    # independent transactions: the only re-executions are the lost tasks' new incarnations
    assert stats.re_executions == stats.lost_tasks and stats.executions == len(stats.chunks)


def test_independent_block_hands_over_to_the_range_split(monkeypatch):
    monkeypatch.setattr(chunks_module, "MIN_PARALLEL_SECONDS", 0.0)
    block = value_transfers(3000)
    stats = assert_same(block, sequential_outcome(block), 2, record_access=True)
    assert len(stats.reads) == len(stats.writes) == len(stats.tx_seconds) == len(stats.aborts) == 3000
    # the first chunks, run on the coordinator, read nothing of each other: the rest is a range split
    assert stats.split_from == sum(last - first for first, last in stats.chunks[:engine_module.PROBE_CHUNKS])
    assert stats.executions > engine_module.PROBE_CHUNKS and sum(stats.aborts) == 0
    ranges = sorted(stats.chunks + stats.sequential)
    assert ranges[0][0] == 0 and ranges[-1][1] == 3000 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


@pytest.mark.parametrize("transport", [SimulatedTransport(7), ProcessTransport()], ids=["simulated", "processes"])
def test_range_split_catching_up_skips_the_worker_ahead(transport, monkeypatch):
    """With no range of its own, the coordinator catches up with the worker at once, and again and
    again: each time it runs half of what is left in place while the worker skips ahead."""
    monkeypatch.setattr(split_module, "WORKER_START_SECONDS", -1.0)  # the coordinator's range is empty
    block = value_transfers(400)
    stats = assert_same(block, sequential_outcome(block), 2, transport=transport, chunk_txs=10, split=True)
    assert stats.split_from == 0 and stats.chunks[0] == (0, 10)  # the worker's first chunk, waited for
    first, last = stats.sequential[0]  # then half of the rest in place, while the worker skipped ahead
    assert first == 10 and last - first == 200 and any(chunk[0] == last for chunk in stats.chunks)


def test_range_split_stops_a_worker_whose_first_chunks_are_stale(monkeypatch):
    """A block that looks independent at first and then is a chain: the worker's first chunks read
    what the coordinator's range changes, so it is stopped and its range runs in place."""
    monkeypatch.setattr(chunks_module, "MIN_PARALLEL_SECONDS", 0.0)
    block = hot_slot_block(6000).after(value_transfers(400))
    stats = assert_same(block, sequential_outcome(block), 2)
    assert stats.split_from is not None
    # the worker's range is about half of what follows the probe: it was stopped well before its end
    assert stats.tx_executions < (len(block.txs) - stats.split_from) / 4


def test_killed_worker_in_a_range_split_has_its_range_finished_here():
    block = value_transfers(2000)
    stats = assert_same(block, sequential_outcome(block), 2, transport=ProcessTransport(kill_after={0: 2}),
                        chunk_txs=10, split=True)
    assert stats.worker_restarts == 1 and stats.lost_tasks >= 1


def test_killed_worker_on_a_mainnet_block(fixture_path):
    block, expected = mainnet_block("14029313", fixture_path)
    stats = assert_same(block, expected, 3, transport=ProcessTransport(kill_after={0: 1, 1: 2}), fallback=False)
    assert stats.worker_restarts == 2


def test_simulated_worker_deaths():
    block = conflict_block([Action(kind, i % 5, i) for i, kind in enumerate(
        ["inc", "transfer", "coinbase", "create2", "child", "destroy", "create2", "child"] * 6)], "Shanghai")
    expected = sequential_outcome(block)
    deaths = 0
    for seed in range(10):
        stats = assert_same(block, expected, 3, transport=SimulatedTransport(seed, kill_rate=0.2), chunk_txs=2,
                            fallback=False)
        deaths += stats.worker_restarts
    assert deaths > 0


def test_chain_taken_over_by_the_coordinator_drops_late_worker_outcomes():
    """On a chain the window shrinks and the coordinator takes over the chunks worker processes
    hold; their outcomes arrive later (the simulation delivers them at random) and must not count."""
    block = hot_slot_block(200)
    expected = sequential_outcome(block)
    taken_over = 0
    for seed in range(12):
        stats = assert_same(block, expected, 2 + seed % 2, transport=SimulatedTransport(seed), chunk_txs=1 + seed % 3,
                            fallback=False)
        taken_over += stats.taken_over
    assert taken_over > 0


def test_stale_invalid_transactions_are_reexecuted_not_reported():
    """A nonce chain split over chunks: later transactions first run on a stale nonce and fail."""
    block = conflict_block([Action("inc", 0, 0)] * 12, "Cancun")
    expected = sequential_outcome(block)
    reexecuted = 0
    for seed in range(5):
        stats = assert_same(block, expected, 3, transport=SimulatedTransport(seed), chunk_txs=1, fallback=False)
        reexecuted += stats.re_executions + stats.blocked
    assert reexecuted > 0


@pytest.mark.parametrize("gas_limit", [200_000, 1_000_000])
def test_block_gas_limit_exceeded_raises_the_sequential_error(gas_limit):
    kinds = ["inc", "oog", "transfer", "coinbase"] * 5
    block = conflict_block([Action(kind, i % 4, i) for i, kind in enumerate(kinds)],
                           "London", gas_limit=gas_limit)
    expected = sequential_outcome(block)
    assert isinstance(expected[0], str) and "GAS_ALLOWANCE_EXCEEDED" in expected[0]
    stats = assert_same(block, expected, 2, transport=SimulatedTransport(1), chunk_txs=3, fallback=False)
    assert stats is None  # it raised
    assert_same(block, expected, 2, fallback=False)


def test_block_blob_gas_exceeded_raises_the_sequential_error():
    block = value_transfers(6)
    blobs = (b"\x01" + bytes(31),) * 3  # Cancun allows 6 blobs per block
    block.txs = [Transaction(type=3, chain_id=1, nonce=0, max_priority_fee_per_gas=1, max_fee_per_gas=100,
                             gas_limit=21_000, to=tx.to, value=1, max_fee_per_blob_gas=10,
                             blob_versioned_hashes=blobs) for tx in block.txs]
    expected = sequential_outcome(block)
    assert expected[0].startswith("InvalidBlock: transaction 2: TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED")
    assert_same(block, expected, 2, fallback=False)
    assert_same(block, expected, 3, transport=SimulatedTransport(2), chunk_txs=1, fallback=False)


def test_invalid_transaction_raises_the_sequential_error():
    actions = [Action("inc", 0, 0), Action("transfer", 1, 2), Action("bad_nonce", 0, 0), Action("inc", 2, 0)]
    block = conflict_block(actions, "Cancun")
    expected = sequential_outcome(block)
    assert expected[0] == "InvalidBlock: transaction 2: NONCE_MISMATCH_TOO_HIGH: nonce 2, account nonce 1"
    assert_same(block, expected, 2, fallback=False)
    assert_same(block, expected, 3, transport=SimulatedTransport(7), chunk_txs=1, fallback=False)
    assert_same(block, expected, 2)  # (small enough to run sequentially from the start)


def test_unexpected_exception_that_survives_validation_is_raised(monkeypatch):
    real = executor_module.execute_transaction

    def flaky(tx, sender, state, env, *gas):
        if tx.value == 1002:
            raise ZeroDivisionError("boom")
        return real(tx, sender, state, env, *gas)

    block = conflict_block([Action("inc", 0, 0), Action("transfer", 1, 2), Action("inc", 2, 0)], "Cancun")
    monkeypatch.setattr(executor_module, "execute_transaction", flaky)
    monkeypatch.setattr("parevm.parallel.engine.execute_transaction", flaky)
    with pytest.raises(ZeroDivisionError, match="boom"):
        execute_transactions_parallel(block.env, block.txs, block.senders, block.state(), 2,
                                      transport=SimulatedTransport(0), fallback=False)


def test_one_worker_and_empty_block():
    block = hot_slot_block(50)
    assert_same(block, sequential_outcome(block), 1, fallback=False)
    empty = value_transfers(0)
    results, stats = execute_transactions_parallel(empty.env, [], [], empty.state(), 2)
    assert results == [] and stats.executions == 0 and stats.chunks == []


def test_tiny_block_runs_sequentially():
    block = value_transfers(20)  # estimated well under MIN_PARALLEL_SECONDS
    stats = assert_same(block, sequential_outcome(block), 2)
    assert stats.sequential == [(0, 20)] and stats.epochs == 0 and stats.executions == 0


def test_statistics_describe_every_transaction(monkeypatch):
    monkeypatch.setattr(chunks_module, "MIN_PARALLEL_SECONDS", 0.0)  # small, but tried in parallel
    block = hot_slot_block(120)
    stats = assert_same(block, sequential_outcome(block), 2, transport=SimulatedTransport(3), chunk_txs=3,
                        record_access=True)  # (gives up on the chain: covers both kinds of execution)
    n = len(block.txs)
    ranges = sorted(stats.chunks + stats.sequential)  # they partition the block
    assert ranges[0][0] == 0 and ranges[-1][1] == n and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(last - first <= 3 for first, last in stats.chunks)
    assert stats.sequential  # a chain: the epoch gave up and ran the rest sequentially
    for per_tx in (stats.aborts, stats.dependency_waits, stats.incarnations, stats.tx_seconds, stats.reads,
                   stats.writes):
        assert len(per_tx) == n
    assert all(incarnations >= 1 for incarnations in stats.incarnations)
    # every chunk depends on the one before: the epochs saw it in their first chunks, run on the
    # coordinator, and gave up without forking a worker
    assert stats.epochs >= 1 and len(stats.chunks) == stats.epochs * engine_module.PROBE_CHUNKS
    assert stats.worker_busy[1] == 0 and sum(stats.aborts) == 0
    assert stats.validations >= len(stats.chunks)
    for reads, writes in zip(stats.reads, stats.writes):
        assert ("slot", PROBE, 0) in reads and ("slot", PROBE, 0) in writes
        assert ("delta", COINBASE) in writes  # the fee, without reading the coinbase balance


@pytest.mark.parametrize("transport", [SimulatedTransport(11), ProcessTransport()], ids=["simulated", "processes"])
def test_a_chain_runs_sequentially_between_epochs(transport, monkeypatch):
    monkeypatch.setattr(engine_module, "STRETCH_TO_EPOCH", 0.0)  # short stretches: several epochs
    block = hot_slot_block(1500)
    stats = assert_same(block, sequential_outcome(block), 2, transport=transport, chunk_txs=4)
    assert stats.epochs >= 2 and len(stats.sequential) >= 2
    ranges = sorted(stats.chunks + stats.sequential)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])) and ranges[-1][1] == len(block.txs)
    for (first, last), (next_first, next_last) in zip(stats.sequential, stats.sequential[1:]):
        # consecutive give-ups at least double the stretch (unless the block ends first)
        assert next_last - next_first >= 2 * (last - first) or next_last == len(block.txs)


def test_process_statistics_report_time_per_worker():
    block = value_transfers(3000)
    stats = assert_same(block, sequential_outcome(block), 2, fallback=False)
    assert len(stats.worker_busy) == 2 and all(busy > 0 for busy in stats.worker_busy)
    assert stats.wall_time > 0 and 0 <= stats.coordinator_busy <= stats.wall_time


def test_fixture_blocks_exist_in_ci():
    if os.environ.get("CI", "").lower() == "true":
        assert BLOCKS, f"no mainnet blocks under {MAINNET}"
    else:
        assert isinstance(BLOCKS, list)
        assert Path(__file__).name == "test_parallel_engine.py"

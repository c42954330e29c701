"""Property tests: on generated conflict-heavy blocks the parallel engine equals sequential execution.

The blocks (`parevm.parallel.synthetic.conflict_block`) mix nonce chains, a hot slot, coinbase
balance reads while every transaction pays fees, value sent to accounts that are then read,
CREATE/CREATE2 and calls into the new contracts, self-destruct and re-creation at one address,
reverts, out-of-gas, transient storage, invalid transactions and a block gas limit that runs out,
on forks from Spurious Dragon to Prague. Simulated workers (seeded interleavings, stale replicas,
worker deaths) are cheap, so most examples use them; some run on real processes and threads.

Fast by default; the long run is

    PAREVM_LONG=1 pytest tests/test_parallel_properties.py     # thousands of blocks
"""
from __future__ import annotations

import os
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parevm.block.sequential import InvalidBlock, execute_transactions
from parevm.parallel import chunks as chunks_module
from parevm.parallel import split as split_module
from parevm.parallel.engine import execute_transactions_parallel
from parevm.parallel.synthetic import ACTION_KINDS, SENDERS, Action, SyntheticBlock, conflict_block
from parevm.parallel.workers import ProcessTransport, SimulatedTransport, ThreadTransport
from parevm.workloads.blocks import value_transfers

LONG = os.environ.get("PAREVM_LONG") == "1"
FORKS = ["SpuriousDragon", "Byzantium", "Istanbul", "Berlin", "London", "Shanghai", "Cancun", "Prague"]

valid_kinds = [kind for kind in ACTION_KINDS if kind != "bad_nonce"]
actions = st.lists(st.builds(Action, st.sampled_from(valid_kinds), st.integers(0, len(SENDERS)),
                             st.integers(0, 15)), min_size=20 if LONG else 8, max_size=120 if LONG else 40)
blocks = st.builds(
    lambda actions, invalid_at, fork, gas_limit: conflict_block(
        actions[:invalid_at] + [Action("bad_nonce", 0, 0)] + actions[invalid_at:]
        if invalid_at < len(actions) else actions, fork, gas_limit),
    actions, st.integers(0, 600 if LONG else 200), st.sampled_from(FORKS),
    st.sampled_from([30_000_000, 30_000_000, 1_500_000]))


def outcome(block, run) -> tuple:
    state = block.state()
    try:
        results = run(state)
    except InvalidBlock as exc:
        results = str(exc)
    return results, state.accounts, state.storage, {a: c.bytes for a, c in state.codes.items()}


def sequential(block) -> tuple:
    return outcome(block, lambda state: execute_transactions(block.env, block.txs, block.senders, state))


def parallel(block, workers, **options) -> tuple:
    return outcome(block, lambda state: execute_transactions_parallel(
        block.env, block.txs, block.senders, state, workers, **options)[0])


@settings(max_examples=3000 if LONG else 150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.integers(0, 2**32 - 1), st.integers(1, 4), st.sampled_from([None, 1, 2, 3, 5]),
       st.sampled_from([0.0, 0.0, 0.1]), st.booleans())
def test_simulated_workers_equal_sequential(block, seed, workers, chunk_txs, kill_rate, fallback):
    assert parallel(block, workers, transport=SimulatedTransport(seed, kill_rate), chunk_txs=chunk_txs,
                    fallback=fallback) == sequential(block)


@settings(max_examples=300 if LONG else 10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.integers(2, 4), st.sampled_from([None, 1, 2]), st.booleans())
def test_worker_processes_equal_sequential(block, workers, chunk_txs, fallback):
    assert parallel(block, workers, transport=ProcessTransport(), chunk_txs=chunk_txs, fallback=fallback) \
        == sequential(block)


@settings(max_examples=100 if LONG else 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.sampled_from([1, 2]))
def test_worker_threads_equal_sequential(block, chunk_txs):
    assert parallel(block, 3, transport=ThreadTransport(), chunk_txs=chunk_txs) == sequential(block)


def independent_then(block, count: int):
    """`block` after `count` independent value transfers (from fresh senders): the probe chunks
    see independence, and what follows conflicts."""
    return block.after(SyntheticBlock.from_workload(value_transfers(count)))


mixed_blocks = st.builds(independent_then, st.builds(
    conflict_block, actions, st.sampled_from(["London", "Shanghai", "Cancun", "Prague"])), st.integers(0, 250))


@settings(max_examples=1000 if LONG else 60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_blocks, st.integers(0, 2**32 - 1), st.integers(2, 4), st.sampled_from([0.0, 0.0, 0.1]))
def test_adaptive_engine_on_simulated_workers_equals_sequential(block, seed, workers, kill_rate):
    """The engine as `parevm run` uses it (probe chunks, then a chain given up, a range split or
    Block-STM), on blocks too small to be tried in parallel unless told to."""
    with patch.object(chunks_module, "MIN_PARALLEL_SECONDS", 0.0):
        assert parallel(block, workers, transport=SimulatedTransport(seed, kill_rate)) == sequential(block)


@settings(max_examples=100 if LONG else 6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_blocks, st.integers(2, 3))
def test_adaptive_engine_on_worker_processes_equals_sequential(block, workers):
    with patch.object(chunks_module, "MIN_PARALLEL_SECONDS", 0.0):
        assert parallel(block, workers, transport=ProcessTransport()) == sequential(block)


def even_split():
    """Ranges of equal estimated work: on blocks this small, the worker's start-up time would
    otherwise give the coordinator the whole block."""
    return patch.multiple(split_module, WORKER_START_SECONDS=0.0, COMMIT_SECONDS_PER_TX=0.0)


@settings(max_examples=2000 if LONG else 100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.integers(0, 2**32 - 1), st.integers(2, 4), st.sampled_from([None, 1, 2, 3, 5]),
       st.sampled_from([0.0, 0.0, 0.1]))
def test_range_split_on_simulated_workers_equals_sequential(block, seed, workers, chunk_txs, kill_rate):
    """The range split on blocks built to conflict: every worker chunk that read something an
    earlier range changed must be caught and re-executed (seeded interleavings, deaths)."""
    with even_split():
        assert parallel(block, workers, transport=SimulatedTransport(seed, kill_rate), chunk_txs=chunk_txs,
                        split=True) == sequential(block)


@settings(max_examples=200 if LONG else 8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks, st.integers(2, 3), st.sampled_from([None, 1, 2]))
def test_range_split_on_worker_processes_equals_sequential(block, workers, chunk_txs):
    with even_split():
        assert parallel(block, workers, transport=ProcessTransport(), chunk_txs=chunk_txs, split=True) \
            == sequential(block)

"""Sequential EVM speed: the synthetic workloads executed on one core, and sender recovery apart.

Each case times `execute_transactions` on a fresh pre-state (building the state is not timed),
best of `repeats` runs; the first run also pays for code analysis, which later runs reuse, as a
long-running node would. Senders are passed in, so signature recovery, a separate cost of every
whole-block run (`parevm run`), is measured on its own: decoding raw signed transactions is not
timed, recovering their senders is.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Callable

from parevm.block.sequential import execute_transactions
from parevm.tx import decode_transaction, encode_transaction, recover_sender
from parevm.workloads.blocks import (Workload, amm_swaps, compute, erc20_transfers, game, lending, nft_mints,
                                     value_transfers)


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    build: Callable[[int], Workload]
    full_size: int
    quick_size: int


COMPUTE_ITERATIONS = 200
CASES = (
    Case("erc20_transfers", erc20_transfers, 2_000, 300),
    Case("value_transfers", value_transfers, 2_000, 300),
    Case(f"compute({COMPUTE_ITERATIONS})", partial(compute, iterations=COMPUTE_ITERATIONS), 200, 30),
    Case("amm_swaps", amm_swaps, 1_000, 150),
    Case("nft_mints", nft_mints, 1_000, 150),
    Case("lending", lending, 1_000, 150),
    Case("game", game, 1_000, 150),
)
RECOVERY_SIZE = 2_000, 300  # full, quick


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    txs: int
    gas: int
    seconds: float  # best run
    failed: int  # transactions that did not succeed (0 for every workload as generated)

    @property
    def tx_per_second(self) -> float:
        return self.txs / self.seconds

    @property
    def mgas_per_second(self) -> float:
        return self.gas / self.seconds / 1e6


def time_execution(name: str, workload: Workload, repeats: int) -> Measurement:
    """Best of `repeats` sequential executions of `workload`."""
    best = float("inf")
    for _ in range(repeats):
        state = workload.pre_state()
        gc.collect()
        started = perf_counter()
        results = execute_transactions(workload.block_env, workload.txs, workload.senders, state)
        best = min(best, perf_counter() - started)
    return Measurement(name, len(results), sum(r.gas_used for r in results), best,
                       sum(not r.success for r in results))


def time_sender_recovery(workload: Workload, repeats: int) -> Measurement:
    """Best of `repeats` recoveries of every sender of `workload`, from freshly decoded transactions
    (a decoded transaction caches its sender, so each run decodes again, untimed)."""
    raw = [encode_transaction(tx) for tx in workload.signed_transactions()]
    best = float("inf")
    for _ in range(repeats):
        txs = [decode_transaction(data) for data in raw]
        started = perf_counter()
        senders = [recover_sender(tx) for tx in txs]
        best = min(best, perf_counter() - started)
    wrong = sum(recovered != expected for recovered, expected in zip(senders, workload.senders))
    return Measurement("sender recovery", len(txs), 0, best, wrong)


def run_benchmarks(*, quick: bool, repeats: int, only: frozenset[str] | None = None,
                   progress: Callable[[str], None] = lambda name: None) -> list[Measurement]:
    """Every case (or those named in `only`; "sender recovery" is one), full or quick sizes."""
    measurements = []
    for case in CASES:
        if only is None or case.name in only:
            progress(case.name)
            size = case.quick_size if quick else case.full_size
            measurements.append(time_execution(case.name, case.build(size), repeats))
    if only is None or "sender recovery" in only:
        progress("sender recovery")
        size = RECOVERY_SIZE[quick]
        measurements.append(time_sender_recovery(erc20_transfers(size), repeats))
    return measurements

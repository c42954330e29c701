"""Where chunks end: the engine's unit of scheduling is a run of consecutive transactions.

A plain value transfer takes ~10 us in this interpreter, while sending a task and its outcome
between processes, recording and validating it costs tens of microseconds: one task per such
transaction would spend more time on messages than on the EVM. So transactions are grouped into
chunks of roughly `target` seconds of estimated work. Heavy transactions (typical mainnet calls,
milliseconds each) get a chunk of their own, which is textbook Block-STM.

The estimate has two rates, learnt from the per-transaction times workers report: seconds per
plain transfer (no code at the destination in the pre-state) and seconds per unit of gas limit
for everything else. Chunks are cut only when execution reaches them, with the rates known then;
towards the end of the block they shrink so the last ones spread over all workers.
"""
from __future__ import annotations

from itertools import accumulate
from typing import Sequence

from parevm.state.block_state import BlockState
from parevm.tx import Transaction

# A block estimated (at the planner's initial rates) to take less runs sequentially: a fork, the
# copy-on-write faults of a fresh worker's first 10-20 ms and a first epoch cost more than two cores
# win on it. The 35 mainnet fixture blocks with >= 50 transactions (estimated 4-86 ms each) gain
# nothing on average when tried in parallel (bench/bench_parallel.py --only mainnet --cold
# --force-parallel: 1.00x mean, 1.02x total).
MIN_PARALLEL_SECONDS = 0.1
TARGET_SECONDS = 0.002
MIN_TARGET_SECONDS = 0.0002
MAX_CHUNK_TXS = 512
_LEARNING_RATE = 0.3


class ChunkPlanner:
    __slots__ = ("plain", "plain_before", "gas_before", "workers", "target", "fixed",
                 "seconds_per_plain", "seconds_per_gas")

    def __init__(self, txs: Sequence[Transaction], state: BlockState, workers: int,
                 target: float = TARGET_SECONDS, fixed: int | None = None) -> None:
        """`fixed`: every chunk has that many transactions (tests; 1 is textbook Block-STM)."""
        codes = state.codes
        self.plain = [tx.to is not None and tx.to not in codes and not tx.authorization_list for tx in txs]
        # prefix sums: the estimate of any run of transactions costs two subtractions
        self.plain_before = [0, *accumulate(self.plain)]
        self.gas_before = [0, *accumulate(0 if plain else tx.gas_limit for tx, plain in zip(txs, self.plain))]
        self.workers = workers
        self.target = target
        self.fixed = fixed
        self.seconds_per_plain = 15e-6
        self.seconds_per_gas = 1.5e-9

    def next_end(self, first: int, target: float | None = None) -> int:
        """The end (exclusive) of the chunk that starts at transaction `first` (of about `target`
        seconds, the planner's own target if None)."""
        count = len(self.plain)
        if self.fixed is not None:
            return min(first + self.fixed, count)
        target = max(MIN_TARGET_SECONDS, min(target or self.target, self.estimate(first, count) / (2 * self.workers)))
        return min(self.span(first, target), first + MAX_CHUNK_TXS)

    def estimate(self, first: int, last: int) -> float:
        """Estimated seconds of transactions first..last-1."""
        return ((self.plain_before[last] - self.plain_before[first]) * self.seconds_per_plain
                + (self.gas_before[last] - self.gas_before[first]) * self.seconds_per_gas)

    def worth_parallel(self) -> bool:
        """Whether the block is estimated to take at least `MIN_PARALLEL_SECONDS`."""
        return self.span(0, MIN_PARALLEL_SECONDS) < len(self.plain)

    def span(self, first: int, seconds: float) -> int:
        """The end of the run of transactions from `first` estimated to take `seconds`."""
        low, high = first, len(self.plain)
        while low < high:
            middle = (low + high) // 2
            if self.estimate(first, middle) < seconds:
                low = middle + 1
            else:
                high = middle
        return low

    def observe(self, first: int, seconds: Sequence[float]) -> None:
        """Learn from the measured times of transactions first, first+1, ..."""
        end = first + len(seconds)
        plain_count = self.plain_before[end] - self.plain_before[first]
        other_gas = self.gas_before[end] - self.gas_before[first]
        total = sum(seconds)
        if plain_count and other_gas:
            plain_time = sum(spent for plain, spent in zip(self.plain[first:end], seconds) if plain)
        else:  # one kind only (the common case): no loop
            plain_time = total if plain_count else 0
        other_time = total - plain_time
        if plain_count:
            self.seconds_per_plain += _LEARNING_RATE * (plain_time / plain_count - self.seconds_per_plain)
        if other_gas:
            self.seconds_per_gas += _LEARNING_RATE * (other_time / other_gas - self.seconds_per_gas)

"""Range split: the parallel engine's fast path for blocks whose transactions look independent.

Block-STM pays for its generality on every transaction: the coordinator records each chunk's
writes in the multi-version memory, validates its reads, and commits it, and its own chunks run
through a recording reader. When an epoch's first chunks (see `BlockSTM._end_probe`) read nothing
that their predecessors wrote, the engine bets that the block is independent and runs this
instead: Block-STM with one run of chunks per process, the coordinator's run executed in place.

* The rest of the block is cut into ranges: the coordinator's first, then one per worker process,
  sized so that all are estimated to finish together (`_split`). The workers are forked and each
  is sent its whole range at once, as chunks it runs in order on its own copy of the state
  (copy-on-write from the fork) exactly as sequential execution does, reporting the value each
  location had when a chunk first read it (`parevm.parallel.split_worker`).
* The coordinator executes its range **in place**, exactly as sequential execution does (the
  same loop, `BlockRun.run_sequentially`): no read sets, no multi-version memory.
* Then it takes the workers' chunks in block order. Everything before a chunk has been applied
  to the state by then, so the chunk is valid if every value it read equals the state's: its
  execution was then the sequential one. A valid chunk is committed as Block-STM commits one
  (block-level gas checks included); an invalid one, or one where a transaction failed, is
  executed again in place.
* Once the coordinator has caught up with a worker (its next chunk is not done), it tells the
  worker to skip ahead to the middle of what is left of its range, waits for the chunk the worker
  is running, and executes the chunks in between in place meanwhile; and so on, halving, so that
  both stay busy to the end whatever the estimates said. (The worker may have run some of the
  skipped chunks before it read the order: its later chunks saw their writes, and the check by
  value catches any that differ from what was executed here.) A worker that dies is replaced by a
  fresh fork, which is sent the chunks it still owed.

A block that turns out to be dependent costs a little more than sequential execution: the
coordinator re-executes in place whatever conflicts, and stops a worker whose first chunks are
already stale while its own range runs (`_check_early`): 400 independent transfers followed by
8,000 increments of one slot run at ~0.90x (0.80x without the early stop).
"""
from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

from parevm.parallel.executor import DONE, DROP, EXECUTE, TxFailed, result_from_wire
from parevm.parallel.mv_memory import ChunkWrites
from parevm.parallel.split_worker import FirstReads, SplitWorkerCore

if TYPE_CHECKING:
    from parevm.parallel.engine import BlockRun

# The balance between the coordinator's range and the workers' (10,000 ERC-20 and value transfers,
# bench/bench_parallel.py --where): a worker process starts a few ms late (fork, copy-on-write
# page faults at first) and each of its transactions costs the coordinator ~3 us (unpickling its
# outcome, the check, the commit). The estimates only start the split; skipping ahead corrects it.
WORKER_START_SECONDS = 0.005
COMMIT_SECONDS_PER_TX = 3e-6
# A worker's chunks are longer than Block-STM's: each costs the coordinator a message (~70 us of
# system calls here); a conflict re-executes the whole chunk, and catching up waits for half of one.
CHUNK_SECONDS = 0.005
MAX_REPLACEMENTS = 3  # deaths per worker process replaced (as in Block-STM)
EARLY_CHECK_CHUNKS = 2  # a worker's first chunks all stale while this range runs: a chain, stop it
SLICE_SECONDS = 0.01  # in-place execution reads the workers' outcomes this often (a full pipe blocks them)


class RangeSplit:
    """One epoch of the range split, from transaction `first` to the end of the block."""

    def __init__(self, run: BlockRun, first: int) -> None:
        self.run_ = run
        self.first = first
        self.remotes = run.workers - 1
        self.ranges: list[list[tuple[int, int]]] = []  # per worker process: its chunks, in order
        self.base: list[int] = []  # per worker process: the chunk number of its first chunk
        self.outcomes: list[dict[int, tuple]] = [{} for _ in range(self.remotes)]  # position -> DONE outcome
        self.alive = [True] * self.remotes  # False once it has died too often: its range runs here
        self.owed = [(0, 1)] * self.remotes  # per worker: (p, r): it still owes chunk p and those from r on
        self.checked: set[int] = set()  # workers whose first chunks have been looked at (`_check_early`)
        self.cpu_base = list(run.stats.worker_cpu)
        self.waiting = 0.0

    def run(self) -> int:
        """Execute the rest of the block; returns the block's length (every transaction committed)."""
        run, stats = self.run_, self.run_.stats
        started = perf_counter()
        stats.split_from = self.first
        middle = self._split()
        if not any(self.ranges):  # too little left for a worker to start in time
            run.run_sequentially(self.first, middle)
            return len(run.txs)
        transport = run.transport
        transport.start(self._make_core, self.remotes)
        try:
            for remote, chunks in enumerate(self.ranges):
                base = self.base[remote]
                transport.send(remote, [(EXECUTE, base + i, 0, first, last) for i, (first, last) in enumerate(chunks)])
            self._in_place(self.first, middle)
            for remote in range(self.remotes):
                if not self._take_range(remote):
                    break  # a transaction failed: the block was finished sequentially
        finally:
            transport.abort()
            stats.coordinator_busy += perf_counter() - started - self.waiting
        return len(run.txs)

    def _split(self) -> int:
        """Cut the rest of the block into the coordinator's range (returns its end) and one range of
        chunks per worker process, so that all are estimated to finish together."""
        planner, count, remotes = self.run_.planner, len(self.run_.txs), self.remotes
        total = planner.estimate(self.first, count)

        def coordinator_late(middle: int) -> bool:
            own = planner.estimate(self.first, middle)
            return own + COMMIT_SECONDS_PER_TX * (count - middle) > WORKER_START_SECONDS + (total - own) / remotes

        low, high = self.first, count
        while low < high:
            middle = (low + high) // 2
            if coordinator_late(middle):
                high = middle
            else:
                low = middle + 1
        middle = start = low
        share = planner.estimate(middle, count) / remotes
        for remote in range(remotes):
            end = count if remote == remotes - 1 else max(start, planner.span(start, share))
            chunks = []
            while start < end:
                chunks.append((start, min(end, planner.next_end(start, CHUNK_SECONDS))))
                start = chunks[-1][1]
            self.base.append(sum(len(earlier) for earlier in self.ranges))
            self.ranges.append(chunks)
        return middle

    def _make_core(self) -> SplitWorkerCore:
        """A worker's core, on its own copy of the state (which it updates as it goes)."""
        run = self.run_
        state = run.state if run.transport.forks else run.state.copy()
        return SplitWorkerCore(run.env, run.txs, run.senders, state, run.record_access)

    def _take_range(self, remote: int) -> bool:
        """Commit (or redo) worker `remote`'s chunks in order, skipping it ahead whenever this
        process catches up with it (see the module's docstring). False if the block was finished
        sequentially."""
        run, chunks, outcomes = self.run_, self.ranges[remote], self.outcomes[remote]
        position = 0
        while position < len(chunks):
            resume = position + 1  # the next chunk to take from the worker
            self._take_news(run.transport.poll())
            caught_up = position not in outcomes and self.alive[remote]
            if caught_up:
                resume += (len(chunks) - position) // 2
                if resume > position + 1:
                    run.transport.send(remote, [(DROP, self.base[remote] + position + 1, self.base[remote] + resume)])
            self.owed[remote] = (position, resume)
            if caught_up:
                self._wait(remote, position)
            outcome = outcomes.pop(position, None)
            if outcome is None:  # the worker kept dying: the rest of its range runs here
                self._in_place(chunks[position][0], chunks[-1][1])
                return True
            if not self._commit(chunks[position][0], outcome):
                return False
            if resume > position + 1:
                self._in_place(chunks[position + 1][0], chunks[resume - 1][1])
                for skipped in range(position + 1, resume):
                    outcomes.pop(skipped, None)  # (if the worker ran it before it read the order)
            position = resume
        return True

    def _in_place(self, first: int, last: int) -> None:
        """Transactions first..last-1 executed here, in slices of about `SLICE_SECONDS` between
        which the workers' outcomes are read (a worker blocks when its pipe is full). The first
        slice is cut by the planner's estimate, the next ones by the time the last one took."""
        run = self.run_
        end = run.planner.span(first, SLICE_SECONDS)
        while first < last:
            end = min(last, max(end, first + 1))
            started = perf_counter()
            run.run_sequentially(first, end)
            elapsed = perf_counter() - started
            run.stats.worker_busy[0] += elapsed
            self._take_news(run.transport.poll())
            self._check_early()
            first, end = end, end + int((end - first) * SLICE_SECONDS / max(elapsed, 1e-6))

    def _check_early(self) -> None:
        """Stop a worker whose first chunks already read values the state no longer has: the block
        turned dependent after its first chunks (a chain through the ranges), and every chunk of
        that worker would be received, checked and executed again here for nothing. Its range then
        runs here; a block that is not a chain loses at most the parallelism of that worker."""
        state = self.run_.state
        for remote, outcomes in enumerate(self.outcomes):
            if self.alive[remote] and remote not in self.checked and all(
                    position in outcomes for position in range(EARLY_CHECK_CHUNKS)):
                self.checked.add(remote)
                if not any(FirstReads.hold(state, outcomes[position][3]) for position in range(EARLY_CHECK_CHUNKS)):
                    self.alive[remote] = False
                    first = self.base[remote]
                    self.run_.transport.send(remote, [(DROP, first, first + len(self.ranges[remote]))])

    def _wait(self, remote: int, position: int) -> None:
        """Until `remote`'s chunk at `position` is done or the worker has died."""
        while position not in self.outcomes[remote] and self.alive[remote]:
            wait_started = perf_counter()
            news = self.run_.transport.receive()
            self.waiting += perf_counter() - wait_started
            self._take_news(news)

    def _take_news(self, news: list[tuple[int, list | None]]) -> None:
        stats = self.run_.stats
        for remote, outcomes in news:
            if outcomes is None:
                if self.alive[remote]:  # (not one stopped on purpose: its range runs here anyway)
                    self._replace(remote)
                continue
            for outcome in outcomes:
                assert outcome[0] == DONE  # nothing is ever an ESTIMATE here
                stats.worker_busy[remote + 1] += sum(outcome[6])
                stats.worker_cpu[remote + 1] = self.cpu_base[remote + 1] + outcome[-1]
                self.outcomes[remote][outcome[1] - self.base[remote]] = outcome

    def _replace(self, remote: int) -> None:
        """A worker died: fork another (from the state as it is now: everything in it precedes
        the chunks owed) and send it the chunks the dead one still owed; after `MAX_REPLACEMENTS`
        deaths per worker, the coordinator runs the rest itself."""
        run, stats, chunks = self.run_, self.run_.stats, self.ranges[remote]
        stats.worker_restarts += 1
        position, resume = self.owed[remote]
        owed = [p for p in (position, *range(resume, len(chunks))) if p not in self.outcomes[remote]]
        stats.lost_tasks += len(owed)
        if stats.worker_restarts > MAX_REPLACEMENTS * self.remotes:
            self.alive[remote] = False
            return
        run.transport.restart(remote, self._make_core)
        run.transport.send(remote, [(EXECUTE, self.base[remote] + p, 0, *chunks[p]) for p in owed])

    def _commit(self, first: int, outcome: tuple) -> bool:
        """Commit a worker's chunk if its reads hold, else execute it again here; False if the
        block had to be finished sequentially (a transaction failed the block's rules)."""
        run, stats = self.run_, self.run_.stats
        _, _, _, reads, wire, results, seconds, access, _ = outcome
        last = first + len(results)
        stats.executions += 1
        stats.tx_executions += len(results)
        stats.validations += 1
        run.planner.observe(first, seconds)
        results = [result_from_wire(result) for result in results]
        if any(type(result) is TxFailed for result in results) or not FirstReads.hold(run.state, reads):
            run.run_sequentially(first, last, aborted=True)
            return True
        stats.chunks.append((first, last))
        return run.commit_chunk(first, results, seconds, access, ChunkWrites.wire_tx_writes(wire), (0, 0, 1))

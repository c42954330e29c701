"""Block-STM on worker processes: `execute_transactions_parallel`, equal to sequential execution.

Shape (design choices and why):

* **A coordinator owns the truth; workers hold replicas.** The coordinator (the calling process)
  owns the authoritative multi-version memory (`MVMemory`) and the paper's scheduler, and runs
  every validation itself. Each worker keeps a replica of the multi-version memory, fed with every
  recorded write set and ESTIMATE mark, in the coordinator's order, before any task sent after
  them; it executes against the replica and reports the chunk's read set (locations and the values
  seen) and write set. A replica may lag (writes still in flight): that only costs a re-execution,
  because validation happens against the authoritative memory. Reads are dynamic, so there is no
  way to ship "the snapshot a task needs" up front, and per-read messages would cost far more than
  the reads; shared memory would need a lock-free structure of Python objects that CPython cannot
  share between processes. The same engine runs on threads (`ThreadTransport`): the coordinator
  logic does not know how messages travel.
* **The unit of scheduling is a chunk** of consecutive transactions (`parevm.parallel.chunks`),
  which one worker executes in order, each transaction seeing the chunk's earlier writes directly.
  Every Block-STM notion (incarnations, ESTIMATEs, dependencies, validation) applies to chunks.
  Heavy transactions get a chunk each (the textbook algorithm); cheap ones (value transfers take
  ~10 us here) are grouped so that messaging and validation cost little per transaction.
* **Validation is mostly set arithmetic.** A read that saw the pre-state's value needs checking only
  if another chunk writes that location, which `MVMemory.validate` finds with set intersections;
  only reads of other chunks' values are compared one by one.
* **Replicas get other workers' write sets only once they matter.** Until the first abort no
  chunk has read another's writes, so they are held back (a replica keeps its own worker's writes,
  which later chunks on it may read); the first abort sends everything held, ahead of its
  ESTIMATE mark, and from then on write sets go out as they are recorded. Independent blocks thus
  never pay for updating replicas with writes no one reads.
* **Dispatch keeps chains on one worker.** A chunk goes to the worker that holds its predecessor
  (if that worker has room), so a run of dependent chunks executes back to back on one replica,
  each seeing the previous one's writes without a round trip; otherwise to the least loaded
  worker, preferring among equals the one that last ran the contract its first transaction calls
  (which has decoded that code already, and touched its copy-on-write pages). Each worker holds
  at most `QUEUE_DEPTH` tasks and runs the lowest-indexed first.
* **Speculation is bounded by a window** of chunks past the lowest one not yet executed: it grows
  by one each time that frontier advances and halves on every abort (additive increase,
  multiplicative decrease). On an independent block it opens wide and all workers run; with
  sporadic conflicts (a quarter of chunks aborting, typical of mainnet) it stays around eight.
  On a chain of dependent chunks it shrinks to a few, and while it is at most `LANE_WINDOW` every
  chunk in flight goes to one worker (the lane), so the chain runs back to back on one replica
  instead of the other workers executing chunks that are bound to fail (on two cores that waste
  would take CPU from the useful chain). In the lane the window stays put; after `probe_interval`
  advances it is set just past `LANE_WINDOW`, so the next chunk probes another worker: if that
  aborts, the lane resumes and the interval doubles (a long chain costs one wasted chunk per
  `MAX_PROBE_INTERVAL`); if not, the window grows and the interval resets.
* **Commit in block order.** Once the scheduler is done, every chunk's reads have been validated
  against the final versions, so applying the chunks' write sets in order to `state` gives the
  sequential state. Block-level rules the workers could not check (cumulative gas and blob gas
  against the block's limits) are checked here in order; at the first transaction that fails them
  or that raised (an `InvalidTransaction` or any other exception that survived validation), the
  block is finished sequentially from that chunk on (the sequential executor's loop, with the gas
  used so far), so the error raised is the sequential one.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from heapq import heappop, heappush
from time import perf_counter, process_time
from typing import Sequence

from parevm.block.sequential import InvalidBlock
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import GAS_PER_BLOB, InvalidTransaction, TxResult, execute_transaction
from parevm.parallel.chunks import ChunkPlanner
from parevm.parallel.executor import BLOCKED, DONE, ESTIMATE, EXECUTE, WRITES, TxFailed, WorkerCore
from parevm.parallel.mv_memory import ChunkWrites, MVMemory
from parevm.parallel.scheduler import EXECUTED, Scheduler
from parevm.parallel.workers import ProcessTransport, Transport
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState
from parevm.tx import Transaction

QUEUE_DEPTH = 2  # tasks per worker: the one running and the next, so a worker never waits for a message
MIN_WINDOW = 2.0
LANE_WINDOW = 4  # a window this small means dependent chunks: run them all on one worker
PROBE_INTERVAL = 8  # lane advances before trying another worker again (doubles while that fails)
MAX_PROBE_INTERVAL = 64
MAX_RESTARTS_PER_WORKER = 3


class WorkerCrash(RuntimeError):
    """Worker processes kept dying; the block was not executed."""


@dataclass(slots=True)
class EngineStats:
    """What the engine did for one block; per-transaction lists are in block order."""

    workers: int
    transactions: int
    chunks: list[tuple[int, int]] = field(default_factory=list)  # [first, last) transaction ranges
    executions: int = 0  # chunk executions completed (with a read and write set)
    tx_executions: int = 0  # transactions in those
    re_executions: int = 0  # of those, incarnations > 0
    blocked: int = 0  # chunk executions stopped by an ESTIMATE read
    validations: int = 0
    aborts: list[int] = field(default_factory=list)  # per tx: failed validations of its chunk
    dependency_waits: list[int] = field(default_factory=list)  # per tx: ESTIMATE reads that stopped its chunk
    incarnations: list[int] = field(default_factory=list)  # per tx: incarnations of its chunk started
    tx_seconds: list[float] = field(default_factory=list)  # per tx: CPU time of its final execution
    reads: list[tuple] | None = None  # per tx (with record_access): locations read, see executor.write_locations
    writes: list[tuple] | None = None  # per tx (with record_access): locations written
    worker_busy: list[float] = field(default_factory=list)  # per worker slot: seconds executing chunks
    worker_cpu: list[float] = field(default_factory=list)  # per worker slot: CPU seconds (all it did)
    worker_restarts: int = 0
    lost_tasks: int = 0  # tasks that were with a dead worker, handed out again
    fallback_from: int | None = None  # first tx finished by the sequential executor (block-level failure)
    wall_time: float = 0.0
    coordinator_busy: float = 0.0  # coordinator time outside waiting for workers
    coordinator_cpu: float = 0.0  # coordinator process CPU seconds (with a worker thread's, if any)
    commit_time: float = 0.0


def execute_transactions_parallel(block_env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes],
                                  state: BlockState, workers: int, *, record_access: bool = False,
                                  transport: Transport | None = None,
                                  chunk_txs: int | None = None) -> tuple[list[TxResult], EngineStats]:
    """Execute `txs` on `state` with Block-STM on `workers` workers; leaves `state` and returns
    results exactly as `parevm.block.sequential.execute_transactions` would (raising the same
    `InvalidBlock`), plus statistics.

    `record_access` lists each transaction's read and write locations in the statistics;
    `transport` defaults to forked processes; `chunk_txs` fixes the chunk size (adaptive if None)."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    engine = BlockSTM(block_env, txs, senders, state, workers, transport or ProcessTransport(),
                      ChunkPlanner(txs, state, workers, fixed=chunk_txs), record_access)
    return engine.run()


class ChunkTable:
    """The block's chunks, cut when the scheduler asks for one more (`add`), and what is known
    of each one's latest execution. (Separate from the engine so that the scheduler holding
    `add` does not make the engine a reference cycle, freed only by a full collection.)"""

    __slots__ = ("planner", "count", "ranges", "read_sets", "outcomes", "incarnations", "aborts", "waits")

    def __init__(self, planner: ChunkPlanner, count: int) -> None:
        self.planner = planner
        self.count = count  # transactions in the block
        self.ranges: list[tuple[int, int]] = []  # [first, last) transactions
        self.read_sets: list[tuple | None] = []
        self.outcomes: list[tuple | None] = []  # (results, tx seconds, access)
        self.incarnations: list[int] = []  # started
        self.aborts: list[int] = []
        self.waits: list[int] = []  # executions stopped by an ESTIMATE

    def add(self) -> bool:
        """Cut the next chunk; False when every transaction has one."""
        first = self.first(len(self.ranges))
        if first >= self.count:
            return False
        self.ranges.append((first, self.planner.next_end(first)))
        self.read_sets.append(None)
        self.outcomes.append(None)
        for per_chunk in (self.incarnations, self.aborts, self.waits):
            per_chunk.append(0)
        return True

    def first(self, chunk: int) -> int:
        """The first transaction of `chunk` (of the next chunk to cut, if `chunk` is that)."""
        ranges = self.ranges
        return ranges[chunk][0] if chunk < len(ranges) else ranges[-1][1] if ranges else 0


class BlockSTM:
    """The coordinator: scheduler, authoritative multi-version memory, validation, dispatch, commit."""

    def __init__(self, env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes], state: BlockState,
                 workers: int, transport: Transport, planner: ChunkPlanner, record_access: bool) -> None:
        self.env = env
        self.txs = txs
        self.senders = senders
        self.state = state
        self.workers = workers
        self.transport = transport
        self.planner = planner
        self.record_access = record_access
        self.mv = MVMemory(state)
        self.chunks = ChunkTable(planner, len(txs))
        self.scheduler = Scheduler(self.chunks.add)
        self.inflight: list[set[int]] = [set() for _ in range(workers)]
        self.holder: dict[int, int] = {}  # chunk -> worker it is queued or running at
        self.affinity: dict[bytes | None, int] = {}  # contract -> worker that last ran a chunk calling it
        self.ready: list[tuple[int, int]] = []  # execution tasks to send (heap)
        self.outbox: list[list] = [[] for _ in range(workers)]
        # Write sets not yet sent to each worker, while no abort has shown that chunks read each
        # other's writes (then replicas need only their own): None once they are sent as recorded.
        self.held_writes: list[list] | None = [[] for _ in range(workers)]
        self.executed_prefix = 0  # the lowest chunk not EXECUTED
        self.window = 4.0 * workers  # chunks from there that may be handed out
        self.max_window = 64.0 * workers
        self.probe_interval = PROBE_INTERVAL
        self.lane_advances = 0
        self.stats = EngineStats(workers, len(txs), worker_busy=[0.0] * workers, worker_cpu=[0.0] * workers)
        self.worker_cpu_base = [0.0] * workers  # CPU of the slot's dead processes

    # ------------------------------------------------------------------ the block
    def run(self) -> tuple[list[TxResult], EngineStats]:
        started = perf_counter()
        cpu_started = process_time()
        waiting = 0.0
        if self.txs:
            self.transport.start(self._make_core, self.workers)
            try:
                self._pump()
                while not self.scheduler.done():
                    if not self.holder:
                        raise RuntimeError(f"Block-STM stalled: nothing in flight, not done ({self._state()})")
                    wait_started = perf_counter()
                    news = self.transport.receive()
                    waiting += perf_counter() - wait_started
                    for worker, outcomes in news:
                        if outcomes is None:
                            self._worker_died(worker)
                        else:
                            for outcome in outcomes:
                                self._on_outcome(worker, outcome)
                    self._pump()
            except BaseException:
                self.transport.abort()
                raise
            self.transport.close()
        commit_started = perf_counter()
        results = self._commit()
        stats = self.stats
        stats.commit_time = perf_counter() - commit_started
        stats.wall_time = perf_counter() - started
        stats.coordinator_busy = stats.wall_time - waiting
        stats.coordinator_cpu = process_time() - cpu_started
        return results, stats

    def _state(self) -> str:
        s = self.scheduler
        around = range(self.executed_prefix, min(s.size, self.executed_prefix + 4))
        return (f"execution_idx {s.execution_idx}, validation_idx {s.validation_idx}, size {s.size}, "
                f"active {s.num_active_tasks}, prefix {self.executed_prefix}, window {self.window:.1f}, "
                f"ready {self.ready[:4]}, status {[(i, s.status[i], s.incarnation[i]) for i in around]}")

    def _make_core(self) -> WorkerCore:
        return WorkerCore(self.env, self.txs, self.senders, self.mv.clone(), self.record_access)

    # ------------------------------------------------------------------ handing out work
    def _pump(self) -> None:
        """Run every validation due (inline: they are cheap), then hand out executions inside the
        window while workers have room. Tasks are taken from the scheduler only when a worker can
        take them, so `execution_idx` stays close to what is in flight and a lowered
        `validation_idx` re-walks only that."""
        scheduler, ready = self.scheduler, self.ready
        while True:
            if scheduler.validation_idx < scheduler.execution_idx:
                task = scheduler.next_version_to_validate()
                if task is not None:
                    self._validate(*task)
                continue
            limit = self._window_end()
            if ready and ready[0][0] < scheduler.execution_idx:  # a re-execution or retry comes first
                chunk = ready[0][0]
                worker = self._choose_worker(chunk) if chunk < limit else None
                if worker is None:
                    break
                self._dispatch(worker, *heappop(ready))
                continue
            position = scheduler.execution_idx
            worker = self._choose_worker(position) if position < limit else None
            if worker is None:
                break
            task = scheduler.next_version_to_execute()
            if task is not None:
                self._dispatch(worker, *task)
            elif scheduler.execution_idx == position:
                break  # no more tasks
            # else it passed a task that was not ready to execute (which may need validating now)
        for worker, ops in enumerate(self.outbox):
            if ops:
                self.transport.send(worker, ops)
                self.outbox[worker] = []

    def _window_end(self) -> int:
        status = self.scheduler.status
        prefix = self.executed_prefix
        while prefix < len(status) and status[prefix] == EXECUTED:
            prefix += 1
            if self.window > LANE_WINDOW:
                self.window = min(self.window + 1, self.max_window)
                if self.window > 2 * LANE_WINDOW:
                    self.probe_interval = PROBE_INTERVAL  # chunks run spread out again
            else:
                self.lane_advances += 1
                if self.lane_advances >= self.probe_interval:
                    self.lane_advances = 0
                    self.probe_interval = min(2 * self.probe_interval, MAX_PROBE_INTERVAL)
                    self.window = LANE_WINDOW + 1.0
        self.executed_prefix = prefix
        return prefix + max(int(self.window), LANE_WINDOW)  # a lane always holds LANE_WINDOW chunks

    def _choose_worker(self, chunk: int) -> int | None:
        """Where the chunk should run: with its predecessor if that worker has room (the only
        choice while the window is small); else the least loaded worker, preferring among equals
        the one where its first transaction's contract last ran (its code is decoded there
        already). None if all are full."""
        inflight = self.inflight
        lane = self.holder.get(chunk - 1)
        if self.window <= LANE_WINDOW:
            if lane is None and self.holder:
                lane = self.holder[max(self.holder)]
            if lane is not None:
                return lane if len(inflight[lane]) < LANE_WINDOW else None
        elif lane is not None and len(inflight[lane]) < QUEUE_DEPTH:
            return lane
        load = min(len(tasks) for tasks in inflight)
        if load >= QUEUE_DEPTH:
            return None
        first = self.chunks.first(chunk)
        worker = self.affinity.get(self.txs[first].to) if first < len(self.txs) else None
        if worker is not None and len(inflight[worker]) == load:
            return worker
        return next(w for w, tasks in enumerate(inflight) if len(tasks) == load)

    def _dispatch(self, worker: int, chunk: int, incarnation: int) -> None:
        self.affinity[self.txs[self.chunks.ranges[chunk][0]].to] = worker
        self.inflight[worker].add(chunk)
        self.holder[chunk] = worker
        self.chunks.incarnations[chunk] = incarnation + 1
        self.outbox[worker].append((EXECUTE, chunk, incarnation, *self.chunks.ranges[chunk]))

    def _release(self, worker: int, chunk: int) -> None:
        self.inflight[worker].discard(chunk)
        del self.holder[chunk]

    # ------------------------------------------------------------------ worker news
    def _on_outcome(self, worker: int, outcome: tuple) -> None:
        stats = self.stats
        stats.worker_cpu[worker] = self.worker_cpu_base[worker] + outcome[-1]
        if outcome[0] == DONE:
            _, chunk, incarnation, read_set, wire, results, seconds, access, _ = outcome
            self._release(worker, chunk)
            stats.executions += 1
            stats.tx_executions += len(results)
            stats.re_executions += incarnation > 0
            stats.worker_busy[worker] += sum(seconds)
            wrote_new = self.mv.record(chunk, ChunkWrites(pickle.loads(wire)))
            self.chunks.read_sets[chunk] = read_set
            self.chunks.outcomes[chunk] = (results, seconds, access)
            update = (WRITES, chunk, incarnation, wire)
            for other, ops in enumerate(self.held_writes or self.outbox):
                if other != worker:
                    ops.append(update)
            self.planner.observe(self.chunks.ranges[chunk][0], seconds)
            task = self.scheduler.finish_execution(chunk, incarnation, wrote_new)
            if task is not None:
                self._validate(*task)
        else:
            assert outcome[0] == BLOCKED
            _, chunk, incarnation, blocking, seconds, _ = outcome
            self._release(worker, chunk)
            stats.blocked += 1
            stats.worker_busy[worker] += seconds
            self.chunks.waits[chunk] += 1
            if not self.scheduler.add_dependency(chunk, blocking):
                heappush(self.ready, (chunk, incarnation))  # the replica lagged: it has executed since

    def _validate(self, chunk: int, incarnation: int) -> None:
        self.stats.validations += 1
        valid = self.mv.validate(chunk, self.chunks.read_sets[chunk])
        aborted = not valid and self.scheduler.try_validation_abort(chunk, incarnation)
        if aborted:
            self.chunks.aborts[chunk] += 1
            self.executed_prefix = min(self.executed_prefix, chunk)
            self.window = max(MIN_WINDOW, self.window / 2)
            self._release_held_writes()
            self.mv.mark_estimate(chunk)
            for ops in self.outbox:
                ops.append((ESTIMATE, chunk, incarnation))
        task = self.scheduler.finish_validation(chunk, aborted)
        if task is not None:
            heappush(self.ready, task)

    def _release_held_writes(self) -> None:
        """From the first abort on, write sets go to every replica as they are recorded."""
        if self.held_writes is not None:
            for ops, held in zip(self.outbox, self.held_writes):
                ops[:0] = held
            self.held_writes = None

    def _worker_died(self, worker: int) -> None:
        """Hand the dead worker's tasks out again as new incarnations and start a replacement."""
        stats = self.stats
        stats.worker_restarts += 1
        self.worker_cpu_base[worker] = stats.worker_cpu[worker]
        if stats.worker_restarts > MAX_RESTARTS_PER_WORKER * self.workers:
            raise WorkerCrash(f"{stats.worker_restarts} worker deaths in one block")
        for chunk in sorted(self.inflight[worker]):
            self._release(worker, chunk)
            self.scheduler.abandon_execution(chunk)
            stats.lost_tasks += 1
        self.outbox[worker] = []
        if self.held_writes is not None:
            self.held_writes[worker] = []  # the replacement starts from the coordinator's memory
        self.transport.restart(worker, self._make_core)

    # ------------------------------------------------------------------ commit
    def _commit(self) -> list[TxResult]:
        """Apply the chunks' writes in block order, checking the block-level rules on the way."""
        env, txs, state, stats = self.env, self.txs, self.state, self.stats
        max_blob_gas = env.fork.blob_schedule.max * GAS_PER_BLOB if env.fork.blob_schedule else 0
        results: list[TxResult] = []
        gas_used = blob_gas_used = 0
        for chunk, (first, last) in enumerate(self.chunks.ranges):
            chunk_results, seconds, access = self.chunks.outcomes[chunk]
            chunk_gas, chunk_blob_gas = gas_used, blob_gas_used
            for index, result in enumerate(chunk_results, first):
                tx = txs[index]
                # validate_transaction's two checks that depend on the transactions before
                if (type(result) is TxFailed or tx.gas_limit > env.gas_limit - gas_used
                        or (tx.type == 3 and GAS_PER_BLOB * len(tx.blob_versioned_hashes)
                            > max_blob_gas - blob_gas_used)):
                    stats.fallback_from = first
                    del results[first:]
                    results += self._finish_sequentially(first, chunk_gas, chunk_blob_gas)
                    self._collect_stats()
                    return results
                results.append(TxResult(*result))
                gas_used += result[1]
                blob_gas_used += result[4]
            state.apply(self.mv.entries[chunk].tx_writes())
        self._collect_stats()
        return results

    def _finish_sequentially(self, first: int, gas_used: int, blob_gas_used: int) -> list[TxResult]:
        """`parevm.block.sequential.execute_transactions` from transaction `first` on (same checks,
        same error), with the gas the transactions before it used."""
        results = []
        for index in range(first, len(self.txs)):
            tx_state = TxState(self.state)
            try:
                result = execute_transaction(self.txs[index], self.senders[index], tx_state, self.env,
                                             gas_used, blob_gas_used)
            except InvalidTransaction as exc:
                raise InvalidBlock(f"transaction {index}: {exc}") from None
            self.state.apply(tx_state.writes())
            gas_used += result.gas_used
            blob_gas_used += result.blob_gas_used
            results.append(result)
        return results

    def _collect_stats(self) -> None:
        stats = self.stats
        table = self.chunks
        stats.chunks = table.ranges
        if self.record_access:
            stats.reads, stats.writes = [], []
        for chunk, (first, last) in enumerate(table.ranges):
            size = last - first
            stats.aborts += [table.aborts[chunk]] * size
            stats.dependency_waits += [table.waits[chunk]] * size
            stats.incarnations += [table.incarnations[chunk]] * size
            _, seconds, access = table.outcomes[chunk]
            stats.tx_seconds += seconds
            if access is not None:
                stats.reads += [reads for reads, _ in access]
                stats.writes += [writes for _, writes in access]

"""Block-STM on worker processes: `execute_transactions_parallel`, equal to sequential execution.

Shape (design choices and why):

* **A coordinator owns the truth, and works too; workers hold replicas.** The coordinator (the
  calling process) owns the authoritative multi-version memory (`MVMemory`) and the paper's
  scheduler, and runs every validation itself. It is also worker slot 0 (`LOCAL`): between
  messages it executes chunks itself, on the authoritative memory (no replica, no messages), so
  `--workers N` means N busy processes on N cores, not N workers plus a coordinator competing
  with them for a core. Its own chunks are short, so the news of the `N - 1` worker processes
  waits at most one chunk, and each of those holds `QUEUE_DEPTH` tasks so it never runs dry
  meanwhile. (A worker on a thread of the coordinator instead would wait for a GIL handoff at
  every message.) Each worker process keeps a replica of the multi-version memory, fed with every
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
  each seeing the previous one's writes without a round trip; otherwise to the coordinator if it
  has nothing queued, else to the least loaded worker process, preferring among equals the one
  that last ran the contract its first transaction calls (which has decoded that code already,
  and touched its copy-on-write pages). Each worker runs its lowest-indexed task first.
* **Speculation is bounded by a window** of chunks past the lowest one not yet executed: it grows
  by one each time that frontier advances and halves on every abort (additive increase,
  multiplicative decrease). On an independent block it opens wide and all workers run; with
  sporadic conflicts (a quarter of chunks aborting, typical of mainnet) it stays around eight.
  On a chain of dependent chunks it shrinks to a few, and while it is at most `LANE_WINDOW` every
  chunk goes to the coordinator (the lane), so the chain runs back to back on the authoritative
  memory instead of the worker processes executing chunks that are bound to fail (the chunks they
  hold when the lane starts are taken over). After `PROBE_INTERVAL` advances in the lane the
  window is set just past `LANE_WINDOW`, so the next chunk probes another worker: if nothing
  aborts, the window keeps growing; if something does, the chain goes on (see the next point).
* **Where Block-STM is slower, run sequentially.** It cannot beat sequential execution on a
  chain of dependent transactions, nor on transactions so cheap (a value transfer takes ~8 us
  here) that messages cost more than the work; there its overheads make it slower. So a run of
  the algorithm (an *epoch*) gives up when it is slower than sequential execution would have
  been, measured as the CPU time of what it has made final against the time it has taken: at
  once if a probe of another worker from the lane fails; otherwise only past `WARM_UP_SECONDS`
  (forks and first messages make any epoch look slow at first) and if clearly slower (`SLOWER`,
  since the measure is noisy). It stops at the executed prefix, commits it, and the next
  transactions run sequentially, in this process, for a stretch estimated to take
  `STRETCH_TO_EPOCH` times as long as the epoch did (and at least twice the previous stretch),
  so that trying again costs a small fraction of the time (and a block estimated to take less
  than `chunks.MIN_PARALLEL_SECONDS` is not tried at all). Then a new epoch starts from the state as it
  is then. Every epoch begins with a cheap test: its first `PROBE_CHUNKS` (short) chunks run on
  the coordinator alone. If each after the first read values its predecessors wrote, the epoch
  gives up there, before forking any worker (a chain costs only those chunks' bookkeeping).
* **Where the block looks independent, split it in ranges.** If none of those chunks read what
  another wrote, the rest of the block runs as a range split (`parevm.parallel.split`): the
  coordinator executes the first range in place, as sequential execution does, and worker
  processes the following ranges; their chunks are then checked by value against the state and
  committed, or executed again in place. On independent transactions that spends far less per
  transaction than Block-STM's bookkeeping. In between (some chunks depend on others, some do
  not) the worker processes are forked and Block-STM runs as described above.
* **Commit in block order.** Chunks below the executed prefix, after all due validations, have
  had their reads validated against final versions, so applying their write sets in order to
  `state` gives the sequential state: an epoch commits them when it is done or gives up.
  Block-level rules the workers could not check (cumulative gas and blob gas against the block's
  limits) are checked then, in order; at the first transaction that fails them or that raised (an
  `InvalidTransaction` or any other exception that survived validation), the block is finished
  sequentially from that chunk on, so the error raised is the sequential one.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from heapq import heappop, heappush
from operator import sub
from time import perf_counter, process_time, thread_time
from typing import TYPE_CHECKING, Sequence

from parevm.block.collector import block_collection
from parevm.block.sequential import InvalidBlock
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import GAS_PER_BLOB, InvalidTransaction, TxResult, execute_transaction
from parevm.parallel.chunks import ChunkPlanner
from parevm.parallel.executor import (BLOCKED, DONE, ESTIMATE, EXECUTE, WRITES, RecordingState, TxFailed,
                                      WorkerCore, result_from_wire, write_locations)
from parevm.parallel.mv_memory import ChunkWrites, MVMemory
from parevm.parallel.scheduler import EXECUTED, Scheduler
from parevm.parallel.split import RangeSplit
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState, TxWrites
from parevm.tx import Transaction

if TYPE_CHECKING:
    from parevm.parallel.workers import Transport

LOCAL = 0  # worker slot 0 is the coordinator itself, running chunks between its other duties
QUEUE_DEPTH = 3  # tasks per worker process: the one running and two more, so it never waits for a message
MIN_WINDOW = 2.0
LANE_WINDOW = 4  # a window this small means dependent chunks: run them all on the coordinator
PROBE_INTERVAL = 2  # lane advances before a chunk is tried on another worker
PROBE_CHUNKS = 3  # chunks an epoch runs on the coordinator alone, to tell a chain before forking
PROBE_CHUNK_SECONDS = 0.0005  # short: meanwhile, no worker process runs
MIN_STRETCH = 64  # transactions run sequentially after an epoch gives up, at least
STRETCH_TO_EPOCH = 20  # a sequential stretch is estimated to take this many times its epoch's time
WARM_UP_SECONDS = 0.03  # after this long, an epoch clearly slower than sequential execution gives up
SLOWER = 0.8  # "clearly slower": the useful work done is below this fraction of the time taken
MAX_RESTARTS_PER_WORKER = 3


class WorkerCrash(RuntimeError):
    """Worker processes kept dying; the block was not executed."""


@dataclass(slots=True)
class EngineStats:
    """What the engine did for one block; per-transaction lists are in block order."""

    workers: int
    transactions: int
    chunks: list[tuple[int, int]] = field(default_factory=list)  # [first, last) transaction ranges, all epochs
    sequential: list[tuple[int, int]] = field(default_factory=list)  # ranges run sequentially (chains, errors)
    epochs: int = 0
    executions: int = 0  # chunk executions completed (with a read and write set)
    tx_executions: int = 0  # transactions in those
    re_executions: int = 0  # of those, incarnations > 0
    blocked: int = 0  # chunk executions stopped by an ESTIMATE read
    taken_over: int = 0  # executions a worker process still held when the coordinator took them over
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
    fallback_from: int | None = None  # first tx finished sequentially because one failed (see engine)
    split_from: int | None = None  # first tx of the range split, if the block ended in one (parevm.parallel.split)
    wall_time: float = 0.0
    coordinator_busy: float = 0.0  # coordinator time outside waiting for workers
    coordinator_cpu: float = 0.0  # coordinator process CPU seconds (forks, messages, validation, commits)
    commit_time: float = 0.0


def execute_transactions_parallel(block_env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes],
                                  state: BlockState, workers: int, *, record_access: bool = False,
                                  transport: Transport | None = None, chunk_txs: int | None = None,
                                  fallback: bool = True, split: bool = False) -> tuple[list[TxResult], EngineStats]:
    """Execute `txs` on `state` with Block-STM on `workers` workers; leaves `state` and returns
    results exactly as `parevm.block.sequential.execute_transactions` would (raising the same
    `InvalidBlock`), plus statistics.

    `record_access` lists each transaction's read and write locations in the statistics;
    `transport` defaults to forked processes (one instance serves every epoch of the block);
    `chunk_txs` fixes the chunk size (adaptive if None); `fallback` False never gives up on
    Block-STM for sequential stretches nor hands over to the range split, and `split` True runs the
    whole block as a range split (`parevm.parallel.split`): tests of each algorithm itself."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    return BlockRun(block_env, txs, senders, state, workers, transport,
                    ChunkPlanner(txs, state, workers, fixed=chunk_txs), record_access, fallback, split).execute()


class BlockRun:
    """One block: epochs of Block-STM and sequential stretches between them, committed in order."""

    def __init__(self, env: BlockEnv, txs: Sequence[Transaction], senders: Sequence[bytes], state: BlockState,
                 workers: int, transport: Transport | None, planner: ChunkPlanner, record_access: bool,
                 fallback: bool, split: bool = False) -> None:
        self.env = env
        self.fallback = fallback
        self.split = split and workers > 1
        self.txs = txs
        self.senders = senders
        self.state = state
        self.workers = workers
        self._transport = transport
        self.planner = planner
        self.record_access = record_access
        self.results: list[TxResult] = []
        self.gas_used = self.blob_gas_used = 0
        self.max_blob_gas = env.fork.blob_schedule.max * GAS_PER_BLOB if env.fork.blob_schedule else 0
        self.stats = EngineStats(workers, len(txs), worker_busy=[0.0] * workers, worker_cpu=[0.0] * workers)
        if record_access:
            self.stats.reads, self.stats.writes = [], []

    @property
    def transport(self) -> Transport:
        """The transport given, else forked processes, made (and `multiprocessing` imported) only
        when an epoch forks: a block that runs sequentially does not pay for them."""
        if self._transport is None:
            from parevm.parallel.workers import ProcessTransport
            self._transport = ProcessTransport()
        return self._transport

    def execute(self) -> tuple[list[TxResult], EngineStats]:
        """Run the block, with the collector policy of `parevm.block.collector` (the heap frozen:
        a collection would walk it, and so copy it page by page from the workers it is shared
        with, for objects that the block does not free anyway)."""
        started = perf_counter()
        cpu_started = process_time()
        stats = self.stats
        count = len(self.txs)
        first = stretch = 0
        with block_collection():
            if self.split:
                stats.epochs += 1
                first = RangeSplit(self, 0).run()
            elif self.fallback and not self.planner.worth_parallel():
                first = count
                self.run_sequentially(0, count)
            while first < count:
                stats.epochs += 1
                epoch_started = perf_counter()
                epoch = BlockSTM(self, first)
                stop = epoch.run()
                if epoch.independent and stop < count:
                    stop = RangeSplit(self, stop).run()
                if stop == count:
                    break
                budget = STRETCH_TO_EPOCH * (perf_counter() - epoch_started)
                stretch = max(MIN_STRETCH, 2 * stretch, self.planner.span(stop, budget) - stop)
                first = min(count, stop + stretch)
                self.run_sequentially(stop, first)
        stats.wall_time = perf_counter() - started
        stats.coordinator_cpu = process_time() - cpu_started
        return self.results, stats

    def commit_chunk(self, first: int, results: list, seconds: list[float], access: list | None,
                     writes: TxWrites, attempts: tuple[int, int, int]) -> bool:
        """Apply a final chunk, checking the block-level rules; False if a transaction in it fails
        them or failed (then the rest of the block has been run sequentially: it raised, normally)."""
        env, txs = self.env, self.txs
        gas_used, blob_gas_used = self.gas_used, self.blob_gas_used
        for index, result in enumerate(results, first):
            tx = txs[index]
            # validate_transaction's two checks that depend on the transactions before
            if (type(result) is TxFailed or tx.gas_limit > env.gas_limit - gas_used
                    or (tx.type == 3 and GAS_PER_BLOB * len(tx.blob_versioned_hashes)
                        > self.max_blob_gas - blob_gas_used)):
                self.stats.fallback_from = first
                self.run_sequentially(first, len(txs))
                return False
            gas_used += result.gas_used
            blob_gas_used += result.blob_gas_used
        self.gas_used, self.blob_gas_used = gas_used, blob_gas_used
        self.results += results
        self.state.apply(writes)
        stats = self.stats
        aborts, waits, incarnations = attempts
        size = len(results)
        stats.aborts += [aborts] * size
        stats.dependency_waits += [waits] * size
        stats.incarnations += [incarnations] * size
        stats.tx_seconds += seconds
        if access is not None:
            stats.reads += [reads for reads, _ in access]
            stats.writes += [written for _, written in access]
        return True

    def run_sequentially(self, first: int, last: int, aborted: bool = False) -> None:
        """Transactions first..last-1 exactly as `parevm.block.sequential.execute_transactions`
        runs them (same checks, same error), after the gas the block has used so far. `aborted`:
        they re-execute a chunk that failed validation (the range split). (Statistics are filled
        in after the loop: this is as fast as sequential execution.)"""
        env, txs, senders, state, stats = self.env, self.txs, self.senders, self.state, self.stats
        record, results = self.record_access, self.results
        gas_used, blob_gas_used = self.gas_used, self.blob_gas_used
        clock = [perf_counter()]  # when each transaction ended (the first entry: when the first began)
        for index in range(first, last):
            backing = RecordingState(state) if record else state
            tx_state = TxState(backing)
            try:
                result = execute_transaction(txs[index], senders[index], tx_state, env, gas_used, blob_gas_used)
            except InvalidTransaction as exc:
                raise InvalidBlock(f"transaction {index}: {exc}") from None
            writes = tx_state.writes()
            state.apply(writes)
            gas_used += result.gas_used
            blob_gas_used += result.blob_gas_used
            results.append(result)
            clock.append(perf_counter())
            if record:
                stats.reads.append(tuple(backing.reads))
                stats.writes.append(write_locations(writes))
        self.gas_used, self.blob_gas_used = gas_used, blob_gas_used
        count = last - first
        if stats.sequential and stats.sequential[-1][1] == first:
            stats.sequential[-1] = (stats.sequential[-1][0], last)  # one range, run in slices
        else:
            stats.sequential.append((first, last))
        stats.aborts += [int(aborted)] * count
        stats.dependency_waits += [0] * count
        stats.incarnations += [1 + aborted] * count
        stats.tx_seconds += map(sub, clock[1:], clock)


class ChunkTable:
    """An epoch's chunks, cut when the scheduler asks for one more (`add`), and what is known of
    each one's latest execution. (Separate from the epoch so that the scheduler holding `add` does
    not make the epoch a reference cycle, freed only by a full collection.)"""

    __slots__ = ("planner", "target", "start", "count", "ranges", "read_sets", "outcomes", "incarnations", "aborts",
                 "waits")

    def __init__(self, planner: ChunkPlanner, start: int, count: int) -> None:
        self.planner = planner
        self.target: float | None = None  # seconds per chunk (None: the planner's)
        self.start = start  # the epoch's first transaction
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
        self.ranges.append((first, self.planner.next_end(first, self.target)))
        self.read_sets.append(None)
        self.outcomes.append(None)
        for per_chunk in (self.incarnations, self.aborts, self.waits):
            per_chunk.append(0)
        return True

    def first(self, chunk: int) -> int:
        """The first transaction of `chunk` (of the next chunk to cut, if `chunk` is that)."""
        ranges = self.ranges
        return ranges[chunk][0] if chunk < len(ranges) else ranges[-1][1] if ranges else self.start


class BlockSTM:
    """One epoch's coordinator: scheduler, authoritative multi-version memory, validation, dispatch."""

    def __init__(self, run: BlockRun, first: int) -> None:
        self.run_ = run
        self.txs = run.txs
        self.workers = workers = run.workers
        self.planner = run.planner
        self.stats = run.stats
        self.mv = MVMemory(run.state)
        self.chunks = ChunkTable(run.planner, first, len(run.txs))
        self.scheduler = Scheduler(self.chunks.add)
        self.local = WorkerCore(run.env, run.txs, run.senders, self.mv, run.record_access)  # slot LOCAL
        self.local_cpu = 0.0
        self.inflight: list[set[int]] = [set() for _ in range(workers)]
        self.holder: dict[int, int] = {}  # chunk -> worker it is queued or running at
        self.stale = [0] * workers  # per worker: executions taken over from it whose outcome is still due
        self.affinity: dict[bytes | None, int] = {}  # contract -> worker that last ran a chunk calling it
        self.ready: list[tuple[int, int]] = []  # execution tasks to send (heap)
        self.outbox: list[list] = [[] for _ in range(workers)]
        # Write sets not yet sent to each worker, while no abort has shown that chunks read each
        # other's writes (then replicas need only their own): None once they are sent as recorded.
        self.held_writes: list[list] | None = [[] for _ in range(workers)]
        self.executed_prefix = 0  # the lowest chunk not EXECUTED
        self.window = 4.0 * workers  # chunks from there that may be handed out
        self.max_window = 64.0 * workers
        self.lane_advances = 0
        self.probing = False  # a chunk was tried on another worker from the lane: has the chain ended?
        self.may_give_up = run.fallback
        # The epoch's first `PROBE_CHUNKS` chunks run here, and worker processes are forked only
        # if some of them read their predecessors' writes and some did not (`_end_probe`).
        self.probing_start = self.may_give_up and workers > 1
        if self.probing_start:
            self.chunks.target = PROBE_CHUNK_SECONDS
        self.remote = False  # worker processes are running
        self.independent = False  # the first chunks read nothing of each other: hand over to the range split
        self.giving_up = False
        self.started = perf_counter()
        self.useful = 0.0  # CPU seconds of the transactions below the executed prefix
        self.worker_cpu_base = list(run.stats.worker_cpu)  # CPU of the slots' earlier processes

    @property
    def transport(self) -> Transport:
        return self.run_.transport

    def run(self) -> int:
        """Execute the epoch and commit it; returns the first transaction not committed (the
        block's length when done)."""
        waiting = 0.0
        started = self.started = perf_counter()
        if not self.probing_start:
            self._start_workers()
        local_tasks = self.local.tasks
        try:
            self._pump()
            while not (self.scheduler.done() or self.giving_up):
                if local_tasks:
                    self._run_local()
                    if self.remote:  # what workers finished meanwhile, before refilling their queues
                        self._take_news(self.transport.poll())
                else:
                    if not self.holder:
                        raise RuntimeError(f"Block-STM stalled: nothing in flight, not done ({self._state()})")
                    wait_started = perf_counter()
                    news = self.transport.receive()
                    waiting += perf_counter() - wait_started
                    self._take_news(news)
                self._pump()
        except BaseException:
            if self.remote:
                self.transport.abort()
            raise
        finally:
            self.stats.worker_cpu[LOCAL] = self.worker_cpu_base[LOCAL] + self.local_cpu
        if self.remote and self.giving_up:
            self.transport.abort()  # what is still running is past the prefix: not needed
        elif self.remote:
            self.transport.close()
        commit_started = perf_counter()
        stop = self._commit()
        stats = self.stats
        stats.commit_time += perf_counter() - commit_started
        stats.coordinator_busy += perf_counter() - started - waiting
        return stop

    def _state(self) -> str:
        s = self.scheduler
        around = range(self.executed_prefix, min(s.size, self.executed_prefix + 4))
        return (f"execution_idx {s.execution_idx}, validation_idx {s.validation_idx}, size {s.size}, "
                f"active {s.num_active_tasks}, prefix {self.executed_prefix}, window {self.window:.1f}, "
                f"ready {self.ready[:4]}, status {[(i, s.status[i], s.incarnation[i]) for i in around]}")

    def _take_news(self, news: list[tuple[int, list | None]]) -> None:
        for remote, outcomes in news:
            worker = remote + 1  # the transport numbers the worker processes only
            if outcomes is None:
                self._worker_died(worker)
            else:
                for outcome in outcomes:
                    self._on_outcome(worker, outcome)

    def _run_local(self) -> None:
        """Run the coordinator's lowest queued chunk, on the authoritative memory itself."""
        cpu_started = thread_time()
        outcome = self.local.execute(*heappop(self.local.tasks))
        self.local_cpu += thread_time() - cpu_started
        self._on_outcome(LOCAL, outcome)

    def _start_workers(self) -> None:
        if self.workers > 1:
            self.transport.start(self._make_core, self.workers - 1)
            self.remote = True

    def _end_probe(self) -> None:
        """The first chunks have run here: stop if each one after the first read values that its
        predecessors wrote (a chain; sequential execution is faster) or if none did (the range
        split is faster, `parevm.parallel.split`); else fork the workers."""
        self.probing_start = False
        self.chunks.target = None
        read_sets = self.chunks.read_sets[1:PROBE_CHUNKS]
        dependent = [any(reads[1::2]) for reads in read_sets]  # the odd fields: values other chunks wrote
        if all(dependent) or not any(dependent):
            self.independent = not any(dependent)
            self.giving_up = True
        else:
            self._start_workers()

    def _make_core(self) -> WorkerCore:
        run = self.run_
        return WorkerCore(run.env, run.txs, run.senders, self.mv.clone(), run.record_access)

    # ------------------------------------------------------------------ handing out work
    def _pump(self) -> None:
        """Run every validation due (inline: they are cheap), then hand out executions inside the
        window while workers have room (none once the epoch gives up). Tasks are taken from the
        scheduler only when a worker can take them, so `execution_idx` stays close to what is in
        flight and a lowered `validation_idx` re-walks only that."""
        scheduler, ready = self.scheduler, self.ready
        while True:
            if scheduler.validation_idx < scheduler.execution_idx:
                task = scheduler.next_version_to_validate()
                if task is not None:
                    self._validate(*task)
                continue
            limit = self._window_end()
            if self.giving_up:
                break
            if ready and ready[0][0] < scheduler.execution_idx:  # a re-execution or retry comes first
                chunk, incarnation = ready[0]
                worker = self._choose_worker(chunk, incarnation) if chunk < limit else None
                if worker is None:
                    break
                self._dispatch(worker, *heappop(ready))
                continue
            position = scheduler.execution_idx
            incarnation = scheduler.incarnation[position] if position < scheduler.size else 0
            worker = self._choose_worker(position, incarnation) if position < limit else None
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
                self.transport.send(worker - 1, ops)
                self.outbox[worker] = []

    def _window_end(self) -> int:
        status = self.scheduler.status
        prefix = self.executed_prefix
        while prefix < len(status) and status[prefix] == EXECUTED:
            self.useful += sum(self.chunks.outcomes[prefix][1])
            prefix += 1
            if self.window > LANE_WINDOW:
                self.window = min(self.window + 1, self.max_window)
                if self.window > 2 * LANE_WINDOW:
                    self.probing = False  # chunks run spread out again
            else:
                self.lane_advances += 1
                if self.lane_advances >= PROBE_INTERVAL:
                    self.lane_advances = 0
                    self.probing = True
                    self.window = LANE_WINDOW + 1.0
        if self.probing_start and prefix >= PROBE_CHUNKS:
            self._end_probe()
        if prefix > self.executed_prefix and self.may_give_up:
            elapsed = perf_counter() - self.started
            if elapsed > WARM_UP_SECONDS and self.useful < SLOWER * elapsed:
                self.giving_up = True  # clearly slower than sequential execution
        self.executed_prefix = prefix
        return prefix + max(int(self.window), LANE_WINDOW)  # a lane always holds LANE_WINDOW chunks

    def _choose_worker(self, chunk: int, incarnation: int) -> int | None:
        """Where the chunk should run. A re-execution, and every chunk while the window is small
        (a chain), on the coordinator itself, which reads the authoritative memory without a round
        trip (a worker's replica may lack what made the previous incarnation fail). Otherwise with its
        predecessor if that worker has room; else on the coordinator if it has nothing queued;
        else at the least loaded worker process, preferring among equals the one where its first
        transaction's contract last ran (its code is decoded there already). None if all are full."""
        inflight, stale = self.inflight, self.stale
        if not self.remote:
            return None if inflight[LOCAL] else LOCAL
        if self.window <= LANE_WINDOW or incarnation:
            return LOCAL if len(inflight[LOCAL]) < LANE_WINDOW else None
        lane = self.holder.get(chunk - 1)
        if lane is not None and len(inflight[lane]) + stale[lane] < (1 if lane == LOCAL else QUEUE_DEPTH):
            return lane
        if not inflight[LOCAL]:
            return LOCAL
        if self.workers == 1:
            return None
        loads = [len(tasks) + waste for tasks, waste in zip(inflight, stale)]
        load = min(loads[1:])
        if load >= QUEUE_DEPTH:
            return None
        first = self.chunks.first(chunk)
        worker = self.affinity.get(self.txs[first].to) if first < len(self.txs) else None
        if worker is not None and worker != LOCAL and loads[worker] == load:
            return worker
        return loads.index(load, 1)

    def _dispatch(self, worker: int, chunk: int, incarnation: int) -> None:
        self.affinity[self.txs[self.chunks.ranges[chunk][0]].to] = worker
        self.inflight[worker].add(chunk)
        self.holder[chunk] = worker
        self.chunks.incarnations[chunk] = incarnation + 1
        if worker == LOCAL:
            heappush(self.local.tasks, (chunk, incarnation, *self.chunks.ranges[chunk]))
        else:
            self.outbox[worker].append((EXECUTE, chunk, incarnation, *self.chunks.ranges[chunk]))

    def _release(self, worker: int, chunk: int) -> None:
        self.inflight[worker].discard(chunk)
        del self.holder[chunk]

    # ------------------------------------------------------------------ worker news
    def _on_outcome(self, worker: int, outcome: tuple) -> None:
        stats = self.stats
        if worker != LOCAL:
            stats.worker_cpu[worker] = self.worker_cpu_base[worker] + outcome[-1]
        chunk, incarnation = outcome[1], outcome[2]
        if self.holder.get(chunk) != worker or self.scheduler.incarnation[chunk] != incarnation:
            self.stale[worker] -= 1  # taken over meanwhile (see _take_over)
            stats.worker_busy[worker] += sum(outcome[6]) if outcome[0] == DONE else outcome[4]
            return
        if outcome[0] == DONE:
            _, chunk, incarnation, read_set, wire, results, seconds, access, _ = outcome
            if worker != LOCAL:
                results = [result_from_wire(result) for result in results]
            self._release(worker, chunk)
            stats.executions += 1
            stats.tx_executions += len(results)
            stats.re_executions += incarnation > 0
            stats.worker_busy[worker] += sum(seconds)
            wrote_new = self.mv.record(chunk, ChunkWrites(wire if worker == LOCAL else pickle.loads(wire)))
            self.chunks.read_sets[chunk] = read_set
            self.chunks.outcomes[chunk] = (results, seconds, access)
            update = (WRITES, chunk, incarnation, wire)
            for other, ops in enumerate(self.held_writes or self.outbox):
                if other != worker and other != LOCAL:
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
            outcomes = self.chunks.outcomes
            for undone in range(chunk, self.executed_prefix):  # no longer known to be final
                self.useful -= sum(outcomes[undone][1])
            self.executed_prefix = min(self.executed_prefix, chunk)
            self.window = max(MIN_WINDOW, self.window / 2)
            if self.window <= LANE_WINDOW:
                self._take_over()
            if self.probing and self.useful < perf_counter() - self.started and self.may_give_up:
                self.giving_up = True  # the chain goes on, and sequential execution is faster
            self._release_held_writes()
            self.mv.mark_estimate(chunk)
            for ops in self.outbox[1:]:
                ops.append((ESTIMATE, chunk, incarnation))
        task = self.scheduler.finish_validation(chunk, aborted)
        if task is not None:
            heappush(self.ready, task)

    def _take_over(self) -> None:
        """A chain: the chunks worker processes hold are bound to fail on their replicas, and the
        coordinator would wait for them. It runs them itself (as new incarnations); what those
        processes report for them later is dropped."""
        for worker in range(1, self.workers):
            taken = self._abandon_tasks(worker)
            self.stale[worker] += taken
            self.stats.taken_over += taken

    def _abandon_tasks(self, worker: int) -> int:
        """Make the executions `worker` holds ready again as new incarnations; how many."""
        chunks = sorted(self.inflight[worker])
        for chunk in chunks:
            self._release(worker, chunk)
            self.scheduler.abandon_execution(chunk)
        return len(chunks)

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
        stats.lost_tasks += self._abandon_tasks(worker)
        self.stale[worker] = 0
        self.outbox[worker] = []
        if self.held_writes is not None:
            self.held_writes[worker] = []  # the replacement starts from the coordinator's memory
        self.transport.restart(worker - 1, self._make_core)

    # ------------------------------------------------------------------ commit
    def _commit(self) -> int:
        """Commit the chunks below the executed prefix (all of them when done): every validation
        due has run, so their reads hold against final versions. Returns the next transaction."""
        table, stats, run = self.chunks, self.stats, self.run_
        final = len(table.ranges) if self.scheduler.done() else self.executed_prefix
        for chunk in range(final):
            first, last = table.ranges[chunk]
            stats.chunks.append((first, last))
            results, seconds, access = table.outcomes[chunk]
            attempts = table.aborts[chunk], table.waits[chunk], table.incarnations[chunk]
            if not run.commit_chunk(first, results, seconds, access, self.mv.entries[chunk].tx_writes(), attempts):
                return len(self.txs)
        return table.first(final)

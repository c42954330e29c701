"""How the coordinator's messages reach the workers: processes, threads, or a seeded simulation.

All three move the same pickled operation batches (see `parevm.parallel.executor`) and run the
same worker cores (`ChunkQueue`s: Block-STM's `WorkerCore`, the range split's `SplitWorkerCore`),
so the engine above them is one piece of code:

* `ProcessTransport` (the default): one process per worker, forked when an epoch starts, so the
  pre-state, the transactions and the interpreter's caches are shared copy-on-write for free.
  The garbage collector's generations are frozen before a fork (and, by the engine, for the whole
  block), so that no collection, in a worker or in the coordinator, walks (and so copies, page
  by page) the heap they share; what the block allocates is still collected. The coordinator
  never blocks writing to a worker (see the class), and a worker reads its pipe between tasks.
  A worker that dies is seen as end-of-file on its pipe and is replaced by
  a fresh fork of the coordinator, whose multi-version memory is then the complete, current
  replica. A transport numbers its workers from 0; the engine's worker slot k is transport worker
  k - 1 (its slot 0 is the coordinator itself).
* `ThreadTransport`: the same worker loop on threads. On a GIL build it is only useful for tests;
  on a free-threaded CPython it is the parallel engine without processes.
* `SimulatedTransport`: workers as objects stepped by a seeded random schedule that delivers
  messages late, runs tasks on stale replicas, reorders outcomes between workers and (optionally)
  kills workers, all deterministically: tests replay any interleaving from its seed.
"""
from __future__ import annotations

import fcntl
import gc
import os
import pickle
import queue
import random
import selectors
import signal
import struct
import sys
import threading
import traceback
from collections import deque
from multiprocessing.connection import Connection
from typing import Callable, Protocol

from parevm.parallel.executor import STOP, Cancelled, ChunkQueue
from parevm.parallel.offload import reap_later


CoreFactory = Callable[[], ChunkQueue]
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class Transport(Protocol):
    forks: bool  # whether each worker has its own (copy-on-write) copy of this process's memory

    def start(self, make_core: CoreFactory, count: int) -> None:
        """Start `count` workers (again after `close` or `abort`: one transport serves every epoch)."""

    def send(self, worker: int, ops: list) -> None: ...

    def receive(self) -> list[tuple[int, list | None]]:
        """Block until some worker has news: (worker, its outcomes), or (worker, None) if it died."""

    def poll(self) -> list[tuple[int, list | None]]:
        """The news there is now, without waiting (maybe none)."""

    def restart(self, worker: int, make_core: CoreFactory) -> None: ...

    def close(self) -> None:
        """Stop the workers once they have finished their tasks."""

    def abort(self) -> None:
        """Stop the workers now (their tasks are not needed any more)."""


def serve(core: ChunkQueue, receive: Callable[[bool], bytes | None], send: Callable[[tuple], None]) -> None:
    """A worker's loop: take every (pickled) operation batch that has arrived (`receive(block)`:
    the next batch, None if none has arrived and `block` is False), then run the lowest task and
    `send` its outcome."""
    while True:
        data = receive(not core.has_work())
        while data is not None:
            if not core.accept(pickle.loads(data)):
                return
            data = receive(False)
        if core.has_work():
            send(core.run_next())


def _pickled_sender(send_bytes: Callable[[bytes], None]) -> Callable[[tuple], None]:
    return lambda outcome: send_bytes(pickle.dumps([outcome], protocol=_PROTOCOL))


_STOP_BATCH = pickle.dumps([(STOP,)], protocol=_PROTOCOL)
_PIPE_BYTES = 1 << 20  # pipe capacity asked for (Linux caps it at /proc/sys/fs/pipe-max-size)


def _frame(data: bytes) -> bytes:
    """`data` framed as `multiprocessing.connection.Connection.recv_bytes` reads it."""
    if len(data) > 0x7FFFFFFF:
        return struct.pack("!iQ", -1, len(data)) + data
    return struct.pack("!i", len(data)) + data


def _widen(fd: int) -> None:
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except OSError:
        pass  # the default capacity only means more waiting for a writable pipe


class ProcessTransport:
    """Forked worker processes, a pipe each way; the coordinator waits on one selector.

    The coordinator never blocks writing: what a full pipe does not take waits in a buffer, flushed
    whenever the coordinator polls or waits (so a worker blocked writing its outcome to the
    coordinator always gets read, and two full pipes cannot deadlock). A worker is one thread that
    reads its pipe between tasks: a reader thread would need the GIL, which the executing thread
    holds, to hand over each message, and so would deliver new tasks only once the worker ran dry."""

    forks = True

    def __init__(self, kill_after: dict[int, int] | None = None) -> None:
        """`kill_after` (fault injection for tests): {worker: n} kills that worker's first process
        with SIGKILL right after its n-th message arrives, while it still holds queued tasks."""
        self.kill_after = dict(kill_after or {})

    def start(self, make_core: CoreFactory, count: int) -> None:
        reap_later([])
        self.pids: list[int] = [0] * count
        self.inbound: list[Connection | None] = [None] * count  # outcomes from each worker
        self.outbound: list[int] = [-1] * count  # non-blocking write end of each worker's pipe
        self.pending = [bytearray() for _ in range(count)]  # framed batches the pipe did not take yet
        self.received = [0] * count
        self.selector = selectors.DefaultSelector()
        for worker in range(count):
            self._fork(worker, make_core)

    def _fork(self, worker: int, make_core: CoreFactory) -> None:
        to_worker, to_coordinator = os.pipe(), os.pipe()
        for _, write_end in (to_worker, to_coordinator):
            _widen(write_end)
        gc.freeze()  # the child inherits the heap as the permanent generation: never walked (nor copied)
        pid = os.fork()
        if pid == 0:
            os.close(to_worker[1])
            os.close(to_coordinator[0])
            self._child(Connection(to_worker[0], writable=False), Connection(to_coordinator[1], readable=False),
                        make_core)  # never returns
        os.close(to_worker[0])
        os.close(to_coordinator[1])
        os.set_blocking(to_worker[1], False)
        self.pids[worker] = pid
        self.outbound[worker] = to_worker[1]
        self.pending[worker].clear()
        self.inbound[worker] = Connection(to_coordinator[0], writable=False)
        self.selector.register(self.inbound[worker], selectors.EVENT_READ, worker)

    def _child(self, inbox: Connection, outbox: Connection, make_core: CoreFactory) -> None:
        code = 0
        try:
            for other in self.inbound:
                if other is not None:
                    other.close()
            for fd in self.outbound:
                if fd >= 0:
                    os.close(fd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when workers stop

            def receive(block: bool) -> bytes | None:
                try:
                    return inbox.recv_bytes() if block or inbox.poll() else None
                except (EOFError, OSError):
                    return _STOP_BATCH  # the coordinator is gone

            serve(make_core(), receive, _pickled_sender(outbox.send_bytes))
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def send(self, worker: int, ops: list) -> None:
        self.pending[worker] += _frame(pickle.dumps(ops, protocol=_PROTOCOL))
        self._flush(worker)

    def _flush(self, worker: int) -> None:
        """Write what the worker's pipe takes now; wait (in `poll`) to write the rest."""
        buffer, fd = self.pending[worker], self.outbound[worker]
        try:
            while buffer:
                del buffer[:os.write(fd, buffer)]
        except BlockingIOError:
            pass
        except OSError:
            buffer.clear()  # it died: poll() reports it
        conn = self.inbound[worker]
        try:
            registered = self.selector.get_key(conn).events
        except KeyError:  # its death has been reported: nothing more goes to it
            buffer.clear()
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if buffer else 0)
        if registered != events:
            self.selector.modify(conn, events, worker)

    def receive(self) -> list[tuple[int, list | None]]:
        return self.poll(None)

    def poll(self, timeout: float | None = 0) -> list[tuple[int, list | None]]:
        news = []
        while True:
            for key, events in self.selector.select(timeout):
                worker, conn = key.data, key.fileobj
                if events & selectors.EVENT_WRITE:
                    self._flush(worker)
                if not events & selectors.EVENT_READ:
                    continue
                try:
                    while True:  # every message there is (one per completed task)
                        news.append((worker, pickle.loads(conn.recv_bytes())))
                        self.received[worker] += 1
                        if self.kill_after.get(worker) == self.received[worker]:
                            del self.kill_after[worker]
                            os.kill(self.pids[worker], signal.SIGKILL)
                        if not conn.poll():
                            break
                except (EOFError, OSError):
                    news.append((worker, None))  # reported once: it is not listened to any more
                    self.selector.unregister(conn)
            if news or timeout is not None:
                return news

    def restart(self, worker: int, make_core: CoreFactory) -> None:
        self.inbound[worker].close()
        os.close(self.outbound[worker])
        self.inbound[worker], self.outbound[worker] = None, -1  # (the fork must not close their reused numbers)
        os.waitpid(self.pids[worker], 0)
        self._fork(worker, make_core)

    def close(self) -> None:
        """Stop the workers (their tasks are done): a stop message, or a kill if it cannot go now."""
        for worker, pid in enumerate(self.pids):
            self.pending[worker] += _frame(_STOP_BATCH)
            self._flush(worker)
            if self.pending[worker]:
                _kill(pid)
        self._release()

    def abort(self) -> None:
        """Stop the workers without waiting for them to finish their tasks."""
        for pid in self.pids:
            _kill(pid)
        self._release()

    def _release(self) -> None:
        for conn, fd in zip(self.inbound, self.outbound):
            conn.close()
            os.close(fd)
        self.selector.close()
        reap_later(self.pids)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _next_or_none(inbox: queue.SimpleQueue) -> bytes | None:
    try:
        return inbox.get_nowait()
    except queue.Empty:
        return None


class ThreadTransport:
    """Worker threads in this process (each with its own replica)."""

    forks = False

    def start(self, make_core: CoreFactory, count: int) -> None:
        self.inboxes: list[queue.SimpleQueue] = []
        self.outcomes: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.cores: list[ChunkQueue] = []
        for worker in range(count):
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            self.inboxes.append(inbox)
            self.cores.append(make_core())
            thread = threading.Thread(target=self._run, args=(worker, self.cores[-1], inbox), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, worker: int, core: ChunkQueue, inbox: queue.SimpleQueue) -> None:
        try:
            serve(core, lambda block: inbox.get() if block else _next_or_none(inbox),
                  _pickled_sender(lambda data: self.outcomes.put((worker, data))))
        except Cancelled:
            pass
        except BaseException:
            traceback.print_exc()
            self.outcomes.put((worker, None))

    def send(self, worker: int, ops: list) -> None:
        self.inboxes[worker].put(pickle.dumps(ops, protocol=_PROTOCOL))

    def receive(self) -> list[tuple[int, list | None]]:
        return self.poll(block=True)

    def poll(self, block: bool = False) -> list[tuple[int, list | None]]:
        news = [self.outcomes.get()] if block else []
        while True:
            try:
                news.append(self.outcomes.get_nowait())
            except queue.Empty:
                break
        return [(worker, None if data is None else pickle.loads(data)) for worker, data in news]

    def restart(self, worker: int, make_core: CoreFactory) -> None:
        raise RuntimeError(f"worker thread {worker} failed")  # a thread dies only of a bug

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(_STOP_BATCH)
        for thread in self.threads:
            thread.join()

    def abort(self) -> None:
        for core in self.cores:
            core.cancelled = True
        self.close()


class SimulatedTransport:
    """Workers stepped in this process by a seeded random schedule (deterministic per seed)."""

    forks = False

    def __init__(self, seed: int, kill_rate: float = 0.0, max_kills: int = 3) -> None:
        self.random = random.Random(seed)
        self.kill_rate = kill_rate
        self.kills_left = max_kills

    def start(self, make_core: CoreFactory, count: int) -> None:
        self.cores: list[ChunkQueue] = []
        self.inboxes: list[deque[bytes]] = []
        self.outboxes: list[deque[bytes]] = []
        for _ in range(count):
            self.cores.append(make_core())
            self.inboxes.append(deque())
            self.outboxes.append(deque())

    def send(self, worker: int, ops: list) -> None:
        self.inboxes[worker].append(pickle.dumps(ops, protocol=_PROTOCOL))

    def receive(self) -> list[tuple[int, list | None]]:
        while True:
            news = self._step()
            if news is None:
                raise RuntimeError("simulated workers are idle while the coordinator waits for them")
            if news:
                return news

    def poll(self) -> list[tuple[int, list | None]]:
        """A few random steps (maybe none): what the workers did while the coordinator ran a chunk."""
        for _ in range(self.random.randint(0, 3)):
            news = self._step()
            if news:
                return news
        return []

    def _step(self) -> list[tuple[int, list | None]] | None:
        """One random move of one worker: news it reports (maybe none); None if all are idle."""
        rng = self.random
        moves = []
        for worker, core in enumerate(self.cores):
            if self.inboxes[worker]:
                moves.append((self._deliver, worker))
            if core.has_work():
                moves.append((self._run, worker))
                if self.kills_left and rng.random() < self.kill_rate:
                    self.kills_left -= 1
                    return [(worker, None)]
            if self.outboxes[worker]:
                moves.append((self._report, worker))
        if not moves:
            return None
        move, worker = rng.choice(moves)
        return move(worker) or []

    def _deliver(self, worker: int) -> None:
        self.cores[worker].accept(pickle.loads(self.inboxes[worker].popleft()))

    def _run(self, worker: int) -> None:
        self.outboxes[worker].append(pickle.dumps([self.cores[worker].run_next()], protocol=_PROTOCOL))

    def _report(self, worker: int) -> list[tuple[int, list]]:
        """Hand over one or more of this worker's outcomes, in its order."""
        outbox = self.outboxes[worker]
        count = self.random.randint(1, len(outbox))
        return [(worker, pickle.loads(outbox.popleft())) for _ in range(count)]

    def restart(self, worker: int, make_core: CoreFactory) -> None:
        self.cores[worker] = make_core()
        self.inboxes[worker].clear()
        self.outboxes[worker].clear()

    def close(self) -> None:
        self.cores.clear()

    abort = close

"""How the coordinator's messages reach the workers: processes, threads, or a seeded simulation.

All three move the same pickled operation batches (see `parevm.parallel.executor`) and run the
same `WorkerCore`, so the engine above them is one piece of code:

* `ProcessTransport` (the default): worker 0 is a thread of the coordinator's process (which
  mostly waits); each other worker is a process forked when an epoch starts, so the pre-state,
  the transactions and the interpreter's caches are shared copy-on-write for free. The garbage
  collector's generations are frozen from before the forks until the epoch ends, so that no
  collection, in a worker or in the coordinator, walks (and so copies, page by page) the heap
  they share; what the epoch allocates is still collected. Each worker process reads its pipe on
  a small thread, so a coordinator writing to a busy worker never blocks and two full pipes
  cannot deadlock. A worker that dies is seen as end-of-file on its pipe and is replaced by a
  fresh fork of the coordinator, whose multi-version memory is then the complete, current
  replica. (A replacement is forked while the local worker thread runs; it only runs its own
  worker loop, on its own objects, so no lock that thread might hold matters to it.)
* `ThreadTransport`: the same worker loop on threads. On a GIL build it is only useful for tests;
  on a free-threaded CPython it is the parallel engine without processes.
* `SimulatedTransport`: workers as objects stepped by a seeded random schedule that delivers
  messages late, runs tasks on stale replicas, reorders outcomes between workers and (optionally)
  kills workers, all deterministically: tests replay any interleaving from its seed.
"""
from __future__ import annotations

import gc
import os
import pickle
import queue
import random
import selectors
import signal
import sys
import threading
import traceback
from collections import deque
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Callable, Protocol

from parevm.parallel.executor import STOP, Cancelled, WorkerCore

CoreFactory = Callable[[], WorkerCore]
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class Transport(Protocol):
    def start(self, make_core: CoreFactory, count: int) -> None:
        """Start `count` workers (again after `close` or `abort`: one transport serves every epoch)."""

    def send(self, worker: int, ops: list) -> None: ...

    def receive(self) -> list[tuple[int, list | None]]:
        """Block until some worker has news: (worker, its outcomes), or (worker, None) if it died."""

    def restart(self, worker: int, make_core: CoreFactory) -> None: ...

    def close(self) -> None:
        """Stop the workers once they have finished their tasks."""

    def abort(self) -> None:
        """Stop the workers now (their tasks are not needed any more)."""


def serve(core: WorkerCore, inbox: queue.SimpleQueue, send: Callable[[tuple], None]) -> None:
    """A worker's loop: take every operation batch that has arrived (pickled, or a list from a
    thread of the same process), then run the lowest task and `send` its outcome."""
    while True:
        data = inbox.get() if not core.has_work() else _next_or_none(inbox)
        while data is not None:
            if not core.accept(data if type(data) is list else pickle.loads(data)):
                return
            data = _next_or_none(inbox)
        if core.has_work():
            send(core.run_next())


def _pickled_sender(send_bytes: Callable[[bytes], None]) -> Callable[[tuple], None]:
    return lambda outcome: send_bytes(pickle.dumps([outcome], protocol=_PROTOCOL))


def _next_or_none(inbox: queue.SimpleQueue) -> bytes | None:
    try:
        return inbox.get_nowait()
    except queue.Empty:
        return None


_STOP_BATCH = pickle.dumps([(STOP,)], protocol=_PROTOCOL)


class ProcessTransport:
    """Worker 0 runs on a thread of the coordinator's process, which otherwise mostly waits for
    messages (so n workers keep n processes busy on n cores, not n + 1); the others are forked
    processes. All talk to the coordinator over pipes, so it waits on one selector. While the
    block runs, the interpreter's thread switch interval is short, so the coordinator thread gets
    the GIL back from the local worker quickly when a message arrives."""

    SWITCH_INTERVAL = 0.0005

    def __init__(self, kill_after: dict[int, int] | None = None, local_worker: bool = True) -> None:
        """`kill_after` (fault injection for tests): {worker: n} kills that worker's first process
        with SIGKILL right after its n-th message arrives, while it still holds queued tasks
        (worker 0, the thread, cannot be killed). `local_worker`: False forks every worker."""
        if kill_after and 0 in kill_after and local_worker:
            raise ValueError("worker 0 is a thread of this process")
        self.local_worker = local_worker
        self.kill_after = dict(kill_after or {})
        self.switch_interval = sys.getswitchinterval()

    def start(self, make_core: CoreFactory, count: int) -> None:
        self.pids: list[int | None] = [None] * count  # None for the thread
        self.conns: list[Connection | None] = [None] * count
        self.received = [0] * count
        self.selector = selectors.DefaultSelector()
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()  # the thread's
        self.thread: threading.Thread | None = None
        self.thread_core: WorkerCore | None = None
        gc.freeze()
        for worker in range(1 if self.local_worker else 0, count):  # fork before any thread of ours runs
            self._fork(worker, make_core)
        if self.local_worker:
            self._start_thread(make_core)
            sys.setswitchinterval(self.SWITCH_INTERVAL)

    def _start_thread(self, make_core: CoreFactory) -> None:
        """The local worker passes objects, not pickles: outcomes go to a deque, and a byte on a
        pipe wakes the coordinator's selector (None in the deque: the thread has ended)."""
        wake_read, wake_write = os.pipe()
        self.wake_read, self.wake_write = wake_read, wake_write
        self.selector.register(wake_read, selectors.EVENT_READ, 0)
        self.thread_core = make_core()
        outcomes = self.thread_outcomes = deque()

        def send(outcome: tuple | None) -> None:
            outcomes.append(outcome)
            os.write(wake_write, b".")

        self.thread = threading.Thread(target=_serve_thread, args=(self.thread_core, self.inbox, send),
                                       daemon=True)
        self.thread.start()

    def _fork(self, worker: int, make_core: CoreFactory) -> None:
        ours, theirs = Pipe()
        gc.freeze()  # (again, for a replacement forked mid-block: what the block allocated so far)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._child(theirs, make_core)  # never returns
        theirs.close()
        self.pids[worker] = pid
        self.conns[worker] = ours
        self.selector.register(ours, selectors.EVENT_READ, worker)

    def _child(self, conn: Connection, make_core: CoreFactory) -> None:
        code = 0
        try:
            for other in self.conns:
                if other is not None:
                    other.close()
            if self.thread is not None:  # a replacement, forked while the local worker runs
                os.close(self.wake_read)
                os.close(self.wake_write)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when workers stop
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            threading.Thread(target=_read_pipe, args=(conn, inbox), daemon=True).start()
            serve(make_core(), inbox, _pickled_sender(conn.send_bytes))
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def send(self, worker: int, ops: list) -> None:
        if worker == 0 and self.local_worker:
            self.inbox.put(ops)
            return
        try:
            self.conns[worker].send_bytes(pickle.dumps(ops, protocol=_PROTOCOL))
        except OSError:
            pass  # it died: receive() reports it

    def receive(self) -> list[tuple[int, list | None]]:
        news = []
        for key, _ in self.selector.select():
            worker, conn = key.data, key.fileobj
            if worker == 0 and self.local_worker:
                os.read(self.wake_read, 65536)
                outcomes = self.thread_outcomes
                while outcomes:
                    outcome = outcomes.popleft()
                    news.append((0, None if outcome is None else [outcome]))
                continue
            try:
                news.append((worker, pickle.loads(conn.recv_bytes())))
            except (EOFError, OSError):
                news.append((worker, None))
                continue
            self.received[worker] += 1
            if self.kill_after.get(worker) == self.received[worker]:
                del self.kill_after[worker]
                os.kill(self.pids[worker], signal.SIGKILL)
        return news

    def restart(self, worker: int, make_core: CoreFactory) -> None:
        if worker == 0 and self.local_worker:  # the thread failed (it printed why)
            self.thread.join()
            self._close_wake_pipe()
            self.inbox = queue.SimpleQueue()
            self._start_thread(make_core)
        else:
            self.selector.unregister(self.conns[worker])
            self.conns[worker].close()
            os.waitpid(self.pids[worker], 0)
            self._fork(worker, make_core)

    def _close_wake_pipe(self) -> None:
        self.selector.unregister(self.wake_read)
        os.close(self.wake_read)
        os.close(self.wake_write)

    def close(self) -> None:
        self.inbox.put([(STOP,)])
        for worker, conn in enumerate(self.conns):
            if self.pids[worker] is not None:
                try:
                    conn.send_bytes(_STOP_BATCH)
                except OSError:
                    pass
        if self.thread is not None:
            self.thread.join()
        self._release()

    def abort(self) -> None:
        """Stop the workers without waiting for them to finish their tasks (on an error)."""
        for pid in self.pids:
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.thread is not None:
            self.thread_core.cancelled = True  # the thread stops at its next transaction
            self.inbox.put([(STOP,)])
            self.thread.join()  # before the coordinator writes to the state the thread reads
        self._release()

    def _release(self) -> None:
        gc.unfreeze()
        sys.setswitchinterval(self.switch_interval)
        if self.thread is not None:
            self._close_wake_pipe()
        for conn in self.conns:
            if conn is not None:
                conn.close()
        self.selector.close()
        # Reap in the background: a big child takes milliseconds to tear down its memory.
        threading.Thread(target=_reap, args=([pid for pid in self.pids if pid is not None],), daemon=True).start()


def _serve_thread(core: WorkerCore, inbox: queue.SimpleQueue, send: Callable[[tuple | None], None]) -> None:
    try:
        serve(core, inbox, send)
    except Cancelled:
        pass
    except BaseException:
        traceback.print_exc()
        send(None)  # tells the coordinator


def _reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _read_pipe(conn: Connection, inbox: queue.SimpleQueue) -> None:
    try:
        while True:
            inbox.put(conn.recv_bytes())
    except (EOFError, OSError):
        inbox.put(_STOP_BATCH)


class ThreadTransport:
    """Worker threads in this process (each with its own replica)."""

    def start(self, make_core: CoreFactory, count: int) -> None:
        self.inboxes: list[queue.SimpleQueue] = []
        self.outcomes: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.cores: list[WorkerCore] = []
        for worker in range(count):
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            self.inboxes.append(inbox)
            self.cores.append(make_core())
            thread = threading.Thread(target=self._run, args=(worker, self.cores[-1], inbox), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, worker: int, core: WorkerCore, inbox: queue.SimpleQueue) -> None:
        try:
            serve(core, inbox, _pickled_sender(lambda data: self.outcomes.put((worker, data))))
        except Cancelled:
            pass
        except BaseException:
            traceback.print_exc()
            self.outcomes.put((worker, None))

    def send(self, worker: int, ops: list) -> None:
        self.inboxes[worker].put(pickle.dumps(ops, protocol=_PROTOCOL))

    def receive(self) -> list[tuple[int, list | None]]:
        news = [self.outcomes.get()]
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

    def __init__(self, seed: int, kill_rate: float = 0.0, max_kills: int = 3) -> None:
        self.random = random.Random(seed)
        self.kill_rate = kill_rate
        self.kills_left = max_kills

    def start(self, make_core: CoreFactory, count: int) -> None:
        self.cores: list[WorkerCore] = []
        self.inboxes: list[deque[bytes]] = []
        self.outboxes: list[deque[bytes]] = []
        for _ in range(count):
            self.cores.append(make_core())
            self.inboxes.append(deque())
            self.outboxes.append(deque())

    def send(self, worker: int, ops: list) -> None:
        self.inboxes[worker].append(pickle.dumps(ops, protocol=_PROTOCOL))

    def receive(self) -> list[tuple[int, list | None]]:
        rng = self.random
        while True:
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
                raise RuntimeError("simulated workers are idle while the coordinator waits for them")
            move, worker = rng.choice(moves)
            news = move(worker)
            if news:
                return news

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

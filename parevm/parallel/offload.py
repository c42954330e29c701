"""A block's independent side work spread over the cores `--workers` grants, outside the engine.

* `in_threads`: work that spends its time in C code that releases the GIL (sender recovery is
  libsecp256k1's ECDSA recovery through cffi) runs on threads, even on a GIL build: ~1.9x with
  two threads on 10,000 signatures.
* `ForkedCall`: Python-bound work (the transactions and receipts tries) computed in a forked child
  while this process does something else (the state root); only the result, a few hashes, comes
  back. On a free-threaded CPython it is a thread instead: no fork, no pickling.

Both are only ever a speed-up: a thread's errors are left for the caller to meet again (it does
the same work afterwards, finding the results cached), and a child that fails or dies has its call
made here instead, so the outcome never depends on them. Children this process is done with (these
and the engine's worker processes) are waited for without blocking (`reap_later`).
"""
from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")


def gil_enabled() -> bool:
    """False on a free-threaded CPython running without the GIL (3.13t and later)."""
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def in_threads(function: Callable[[Sequence], object], items: Sequence, workers: int) -> None:
    """Call `function` on `workers` contiguous parts of `items` at once (this thread takes the first
    part). Exceptions in the other threads are dropped: `function` is a warm-up whose work the
    caller repeats, meeting any error then, in order."""
    if workers < 2 or len(items) < 2:
        function(items)
        return
    size = -(-len(items) // workers)
    parts = [items[start:start + size] for start in range(0, len(items), size)]

    def quietly(part: Sequence) -> None:
        try:
            function(part)
        except Exception:
            pass

    threads, here = [], [parts[0]]
    for part in parts[1:]:
        thread = threading.Thread(target=quietly, args=(part,), daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no more threads to be had: that part runs here
            here.append(part)
        else:
            threads.append(thread)
    try:
        for part in here:
            quietly(part)
    finally:
        for thread in threads:
            thread.join()


class ForkedCall(Generic[T]):
    """`function()` computed in a forked child (a thread without the GIL) while the caller goes on;
    `result()` returns its value, computing it in place if the child failed."""

    def __init__(self, function: Callable[[], T], use_thread: bool | None = None) -> None:
        self.function = function
        self.pid = 0
        self.value: tuple[T] | None = None
        self.thread: threading.Thread | None = None
        if use_thread if use_thread is not None else not gil_enabled():
            thread = threading.Thread(target=self._in_thread, daemon=True)
            try:
                thread.start()
            except RuntimeError:  # no thread to be had: computed in place by result()
                return
            self.thread = thread
            return
        try:
            self.read_end, write_end = os.pipe()
        except OSError:  # out of file descriptors: computed in place by result()
            return
        try:
            self.pid = os.fork()
        except OSError:  # no process to be had (memory, process limit): computed in place
            os.close(self.read_end)
            os.close(write_end)
            return
        if self.pid == 0:  # the child: compute, send, exit without running the parent's cleanup
            code = 1
            try:
                os.close(self.read_end)
                gc.disable()  # a collection would walk (and so copy) the heap shared with the parent
                import pickle  # (here, not at the top: a sequential `parevm run` never needs it)

                data = pickle.dumps(function(), protocol=pickle.HIGHEST_PROTOCOL)
                with open(write_end, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)

    def _in_thread(self) -> None:
        try:
            self.value = (self.function(),)
        except Exception:
            pass  # result() calls it again, raising here

    def result(self) -> T:
        if self.thread is not None:
            self.thread.join()
        elif self.pid:
            with open(self.read_end, "rb") as source:
                data = source.read()  # to the end: the child has closed the pipe (or died)
            reap_later([self.pid])  # its teardown takes a few ms: not waited for
            self.pid = 0
            import pickle

            try:
                self.value = (pickle.loads(data),)
            except Exception:  # nothing or a truncated pickle: it died before it was done
                pass
        return self.value[0] if self.value is not None else self.function()


_unreaped: list[int] = []  # child processes done with (stopped, killed, result in), not yet waited for


def reap_later(pids: list[int]) -> None:
    """Children this process is done with: wait for them without blocking, now and at each later
    call (a big child takes milliseconds to tear down its memory; a reaper thread would wait for
    the GIL to start)."""
    _unreaped.extend(pids)
    for pid in list(_unreaped):
        try:
            exited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            exited = pid
        if exited:
            _unreaped.remove(pid)

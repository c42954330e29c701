"""Side work spread over threads and a forked process (parevm.parallel.offload): same results, and
a failing helper never changes them."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from parevm.parallel.offload import ForkedCall, in_threads


def test_in_threads_covers_every_item_once_in_parts_and_drops_helper_errors():
    seen: list[tuple[int, list[int]]] = []
    lock = threading.Lock()

    def work(part):
        with lock:
            seen.append((threading.get_ident(), list(part)))
        if 7 in part:
            raise ValueError("left for the caller to meet again")

    in_threads(work, list(range(10)), 3)
    assert sorted(item for _, part in seen for item in part) == list(range(10))
    caller = threading.get_ident()
    assert sorted((ident == caller, part) for ident, part in seen) == [
        (False, [4, 5, 6, 7]), (False, [8, 9]), (True, [0, 1, 2, 3])]  # the caller's thread takes the first part
    with pytest.raises(ValueError):  # an error in the caller's own part is not swallowed
        in_threads(work, [7, 8], 1)


def test_forked_call_runs_in_another_process_and_returns_its_value():
    parent = os.getpid()
    call = ForkedCall(lambda: (os.getpid(), [b"\x01" * 32] * 3))
    pid, value = call.result()
    assert pid != parent and value == [b"\x01" * 32] * 3


def test_forked_call_that_dies_is_computed_here():
    parent = os.getpid()

    def dies_in_the_child():
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return "computed in the parent"

    assert ForkedCall(dies_in_the_child).result() == "computed in the parent"


def test_forked_call_error_is_raised_here():
    def fails():
        raise ArithmeticError("same error, raised in the caller")

    with pytest.raises(ArithmeticError, match="same error"):
        ForkedCall(fails).result()
    with pytest.raises(ArithmeticError, match="same error"):
        ForkedCall(fails, use_thread=True).result()


def test_forked_call_on_a_thread_as_without_the_gil():
    call = ForkedCall(lambda: (os.getpid(), threading.get_ident()), use_thread=True)
    pid, ident = call.result()
    assert pid == os.getpid() and ident != threading.get_ident()


def test_no_process_or_thread_to_be_had_means_work_done_here(monkeypatch):
    def refuse(*_):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refuse)
    assert ForkedCall(lambda: os.getpid()).result() == os.getpid()

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    assert ForkedCall(lambda: threading.get_ident(), use_thread=True).result() == threading.get_ident()
    seen = []
    in_threads(lambda part: seen.extend(part), list(range(6)), 3)
    assert sorted(seen) == list(range(6))

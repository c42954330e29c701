"""Run state-test vectors through the EVM and judge them against the fixtures.

A vector passes when the EVM agrees on validity (rejected or not, whatever the exception's
name), on the post-state root and on the logs hash. The runner never dies with a vector: an
exception from the EVM fails that vector, a malformed file fails that file, and the run goes on.

Files are the unit of parallel work (`jobs` worker processes, forked so the EVM's imports and
caches are shared copy-on-write); results come back in the order of the files given, whatever
the scheduling, so two runs print the same thing.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
import traceback
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from parevm.statetest.loader import PostEntry, PreAccount, StateTest, StateTestFormatError, load_file

if TYPE_CHECKING:
    from parevm.statetest.execute import VectorOutcome

ExecuteVector = Callable[[StateTest, PostEntry], "VectorOutcome"]


@dataclass(slots=True)
class VectorResult:
    file: str
    name: str
    fork: str
    index: str  # "data/gas/value"
    passed: bool
    state_root: bytes | None  # None when the EVM raised
    logs_hash: bytes | None
    error: str | None  # what differs, or the EVM's exception; None when passed
    seconds: float  # time spent in execute_vector


@dataclass(slots=True)
class FileResult:
    path: str
    vectors: list[VectorResult]
    error: str | None  # set when the file could not be loaded; then `vectors` is empty


def load_executor() -> ExecuteVector:
    """The EVM's entry point, imported only when a run starts so this module loads without it."""
    from parevm.statetest.execute import execute_vector

    return execute_vector


def expand_paths(paths: Iterable[Path | str]) -> list[str]:
    """Files to run: each file as given, each directory's `*.json` files recursively, sorted.

    A path that does not exist, or a directory without JSON files, is kept as is, so that
    `run_file` reports it as a failed file instead of it silently running nothing."""
    files = []
    for path in map(Path, paths):
        found = sorted(path.rglob("*.json")) if path.is_dir() else []
        files.extend(str(f) for f in found or [path])
    return files


def run_files(
    files: list[str],
    execute: ExecuteVector,
    *,
    forks: frozenset[str] | None = None,
    jobs: int = 1,
) -> Iterator[FileResult]:
    """Run every vector of `files` (restricted to `forks` if given), one result per file, in order."""
    jobs = min(jobs, len(files))
    if jobs <= 1:
        for path in files:
            yield run_file(path, execute, forks)
        return
    # Largest files first so a big one does not start last and leave the other workers idle.
    pending = sorted(enumerate(files), key=lambda item: -_file_size(item[1]))
    pending.reverse()  # pop() from the end takes the largest first
    finished: dict[int, FileResult] = {}
    next_index = 0
    context = multiprocessing.get_context("fork")
    while pending:
        # A worker that dies (killed, out of memory) breaks the pool: its files are reported as
        # failed and a fresh pool carries on with the rest, so a run never hangs or loses work.
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(execute, forks)) as pool:
            running = {}
            try:
                while pending or running:
                    while pending and len(running) < 2 * jobs:
                        index, path = pending.pop()
                        running[pool.submit(_run_indexed_file, (index, path))] = (index, path)
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        index, path = running.pop(future)
                        finished[index] = future.result()[1]
                    while next_index in finished:
                        yield finished.pop(next_index)
                        next_index += 1
            except BrokenProcessPool:
                for index, path in running.values():
                    finished[index] = FileResult(path, [], f"{path}: a worker process died running this file "
                                                           "(killed or out of memory)")
                while next_index in finished:
                    yield finished.pop(next_index)
                    next_index += 1


def run_file(path: str, execute: ExecuteVector, forks: frozenset[str] | None = None) -> FileResult:
    if Path(path).is_dir():
        return FileResult(path, [], f"{path}: (directory): holds no .json state tests")
    try:
        tests = load_file(path)
    except StateTestFormatError as exc:
        return FileResult(path, [], str(exc))
    results = []
    for test in tests:
        for fork, entries in test.post.items():
            if forks is None or fork in forks:
                results.extend(run_vector(test, entry, execute) for entry in entries)
    return FileResult(path, results, None)


def run_vector(test: StateTest, entry: PostEntry, execute: ExecuteVector) -> VectorResult:
    start = perf_counter()
    try:
        outcome = execute(test, entry)
        seconds = perf_counter() - start
        error = describe_mismatch(entry, outcome)
    except Exception as exc:  # the EVM's bug fails this vector only
        return VectorResult(test.path, test.name, entry.fork, entry.index, False, None, None,
                            _describe_exception(exc), perf_counter() - start)
    return VectorResult(test.path, test.name, entry.fork, entry.index, error is None,
                        outcome.state_root, outcome.logs_hash, error, seconds)


def describe_mismatch(entry: PostEntry, outcome: VectorOutcome) -> str | None:
    """Everything in which `outcome` differs from `entry`, or None if the vector passes."""
    problems = []
    if entry.expect_exception is not None and outcome.rejected is None:
        problems.append(f"expected exception {entry.expect_exception}, but the transaction was valid")
    elif entry.expect_exception is None and outcome.rejected is not None:
        problems.append(f"transaction rejected ({outcome.rejected}), expected valid")
    if outcome.state_root != entry.hash:
        problems.append(f"stateRoot 0x{outcome.state_root.hex()} != expected 0x{entry.hash.hex()}")
        if entry.state is not None:
            difference = first_state_difference(entry.state, outcome.post_state)
            problems.append(difference or "post_state equals the expected state, so the root computation is off")
    if outcome.logs_hash != entry.logs:
        problems.append(f"logsHash 0x{outcome.logs_hash.hex()} != expected 0x{entry.logs.hex()}")
    return "; ".join(problems) or None


def first_state_difference(
    expected: dict[bytes, PreAccount],
    actual: dict[bytes, tuple[int, int, bytes, dict[int, int]]],
) -> str | None:
    """The first account field (by address, then nonce, balance, code, storage slot) that differs.

    Zero-valued slots count as absent on both sides, as they do in the trie."""
    for address in sorted(expected.keys() | actual.keys()):
        name = "0x" + address.hex()
        want = expected.get(address)
        got = actual.get(address)
        if want is None:
            return f"account {name} exists but is not in the expected state"
        if got is None:
            return f"account {name} is missing (expected nonce {want.nonce}, balance {want.balance})"
        nonce, balance, code, storage = got
        if nonce != want.nonce:
            return f"account {name} nonce {nonce} != expected {want.nonce}"
        if balance != want.balance:
            return f"account {name} balance {balance} != expected {want.balance}"
        if code != want.code:
            return f"account {name} code ({len(code)} bytes) != expected ({len(want.code)} bytes)"
        for slot in sorted(storage.keys() | want.storage.keys()):
            value, wanted = storage.get(slot, 0), want.storage.get(slot, 0)
            if value != wanted:
                return f"account {name} storage[{slot:#x}] {value:#x} != expected {wanted:#x}"
    return None


def _describe_exception(exc: Exception) -> str:
    """`Type: message (at file:line)`, the line being where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# --- worker process side: the executor and fork filter arrive once, through fork ---------------

_worker_execute: ExecuteVector | None = None
_worker_forks: frozenset[str] | None = None


# Address-space cap per worker: a runaway vector fails with MemoryError instead of the machine's OOM killer.
# The hungriest official vector, static_Call1MB1024Calldepth (1,024 nested calls, each with 1 MB of
# memory and 1 MB of call data), peaks at 4.6-5.5 GB of RSS, and a long-lived worker's address space
# also holds what earlier vectors left mapped: 6 GiB failed it intermittently, so 10 GiB (two jobs
# stay under this machine's 24 GiB).
WORKER_MEMORY_LIMIT = 10 << 30


def _init_worker(execute: ExecuteVector, forks: frozenset[str] | None) -> None:
    global _worker_execute, _worker_forks
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_LIMIT, WORKER_MEMORY_LIMIT))
    _worker_execute, _worker_forks = execute, forks


def _run_indexed_file(item: tuple[int, str]) -> tuple[int, FileResult]:
    index, path = item
    return index, run_file(path, _worker_execute, _worker_forks)

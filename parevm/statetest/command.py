"""`parevm statetest PATH...`: run state-test fixtures and report the failing vectors.

Output goes to stdout: one line per failure (or with `--json` one JSON object per vector), then
always a final `N passed, M failed` line; the exit status is 1 if anything failed. A progress line
is drawn on stderr, and only when stderr is a terminal, so logs and pipes stay clean.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from time import monotonic
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from parevm.statetest.runner import FileResult, VectorResult

_PROGRESS_INTERVAL = 0.2  # seconds between progress redraws


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "statetest", help="run filled state tests (ethereum/tests, EEST)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="fixture file or folder (searched recursively)")
    parser.add_argument("--fork", action="append", type=_fork_argument, metavar="F",
                        help="only vectors of this fork (repeatable; Merge = Paris)")
    parser.add_argument("--json", action="store_true", help="one JSON object per vector on stdout")
    parser.add_argument("--jobs", type=_jobs_argument, default=1, metavar="N",
                        help="worker processes (0 = one per CPU; default 1)")
    parser.add_argument("--slowest", type=int, default=0, metavar="K",
                        help="list the K slowest vectors (on stderr with --json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that the CLI's other subcommands do not load the runner.
    from parevm.statetest.runner import expand_paths, load_executor, run_files

    try:
        execute = load_executor()
    except ImportError as exc:
        print(f"error: the EVM entry point is not available: {exc}", file=sys.stderr)
        return 2
    files = expand_paths(args.paths)
    forks = frozenset(args.fork) if args.fork else None
    report = _Report(json_lines=args.json, total_files=len(files), out=sys.stdout, err=sys.stderr)
    timings: list[VectorResult] = []
    for file_result in run_files(files, execute, forks=forks, jobs=args.jobs):
        report.add(file_result)
        if args.slowest:
            timings.extend(file_result.vectors)
    report.finish()
    if args.slowest:
        _print_slowest(timings, args.slowest, sys.stderr if args.json else sys.stdout)
    print(f"{report.passed} passed, {report.failed} failed", file=sys.stdout)
    return 1 if report.failed else 0


class _Report:
    """Counts results as they stream in and prints failures (or every vector, as JSON)."""

    def __init__(self, *, json_lines: bool, total_files: int, out: TextIO, err: TextIO):
        self.json_lines = json_lines
        self.total_files = total_files
        self.out = out
        self.err = err
        self.show_progress = err.isatty()
        self.passed = 0
        self.failed = 0
        self.files_done = 0
        self.last_drawn = 0.0

    def add(self, file_result: FileResult) -> None:
        self.files_done += 1
        if file_result.error is not None:
            self.failed += 1
            self._emit_file_error(file_result)
        for vector in file_result.vectors:
            if vector.passed:
                self.passed += 1
            else:
                self.failed += 1
            if self.json_lines:
                self._write(json.dumps(_vector_json(vector)))
            elif not vector.passed:
                self._write(f"FAIL {vector.name} {vector.fork} {vector.index}: {vector.error}")
        self._draw_progress()

    def finish(self) -> None:
        if self.show_progress:
            self.err.write("\r\033[K")
            self.err.flush()

    def _emit_file_error(self, file_result: FileResult) -> None:
        if self.json_lines:
            self._write(json.dumps({
                "file": file_result.path, "name": None, "fork": None, "index": None, "pass": False,
                "stateRoot": None, "logsHash": None, "error": file_result.error,
            }))
        else:
            self._write(f"ERROR {file_result.error}")

    def _write(self, line: str) -> None:
        if self.show_progress:
            self.err.write("\r\033[K")  # keep the progress line from mixing into the output
        print(line, file=self.out, flush=self.show_progress)

    def _draw_progress(self) -> None:
        now = monotonic()
        if not self.show_progress or now - self.last_drawn < _PROGRESS_INTERVAL:
            return
        self.last_drawn = now
        self.err.write(f"\r{self.files_done}/{self.total_files} files, "
                       f"{self.passed} passed, {self.failed} failed")
        self.err.flush()


def _vector_json(vector: VectorResult) -> dict:
    return {
        "file": vector.file,
        "name": vector.name,
        "fork": vector.fork,
        "index": vector.index,
        "pass": vector.passed,
        "stateRoot": None if vector.state_root is None else "0x" + vector.state_root.hex(),
        "logsHash": None if vector.logs_hash is None else "0x" + vector.logs_hash.hex(),
        "error": vector.error,
        "seconds": round(vector.seconds, 6),
    }


def _print_slowest(vectors: list[VectorResult], count: int, out: TextIO) -> None:
    slowest = sorted(vectors, key=lambda v: v.seconds, reverse=True)[:count]
    print(f"slowest {len(slowest)} vectors:", file=out)
    for vector in slowest:
        print(f"  {vector.seconds:8.3f}s  {vector.name} {vector.fork} {vector.index}", file=out)


def _fork_argument(name: str) -> str:
    from parevm.statetest.loader import canonical_fork_name  # here, not at the top: see run

    try:
        return canonical_fork_name(name)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _jobs_argument(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected 0 (one per CPU) or a positive number, got {text!r}")
    return int(text) or os.cpu_count() or 1

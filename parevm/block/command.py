"""`parevm run BLOCK_DIR...`: replay blocks and check them against their headers.

One line per block on stdout: number, fork, transactions, gas, each header check (ok, FAIL, or
- when it cannot be checked), wall time and execution throughput; on a mismatch, what differs and
every transaction's gas and status. Then a summary per fork. The exit status is 1 if any block
mismatched or could not be replayed. Bad input is reported as one `ERROR` line naming the block
folder and the item, and the batch goes on. A progress line is drawn on stderr, only on a terminal.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TextIO

from parevm.block.executor import REPLAY_ERRORS, EngineComparison, compare_engines, execute_block
from parevm.block.result import MISMATCH, OK, BlockResult, state_diff_json
from parevm.evm.forks import fork_by_name
from parevm.io.block_folder import BlockInput, BlockInputError, read_block_folder

# Header checks as table columns: (check name, column title).
_COLUMNS = (("gasUsed", "gas"), ("logsBloom", "bloom"), ("transactionsRoot", "txs"), ("receiptsRoot", "rcpts"),
            ("withdrawalsRoot", "wdrl"), ("blobGasUsed", "blob"), ("requestsHash", "reqs"), ("stateRoot", "state"))
_MARK = {OK: "ok", MISMATCH: "FAIL"}
_LINE_WIDTH = 110


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="replay blocks (block folders) and check them against their headers", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("blocks", nargs="+", metavar="BLOCK_DIR",
                        help="block folder (block.json, prestate.json, block_hashes.json)")
    parser.add_argument("--workers", type=_workers_argument, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes for the parallel engine; 1 = sequential (default: one per CPU)")
    parser.add_argument("--json", action="store_true", help="one JSON object per block on stdout")
    parser.add_argument("--state-diff", type=Path, metavar="FILE",
                        help="write each block's state diff (prestateTracer diffMode shape) to FILE, by block number")
    parser.add_argument("--compare", action="store_true",
                        help="run every block sequentially and in parallel; report both times and any difference")
    parser.add_argument("--check-state-root", action="store_true",
                        help="the pre-states are complete: a stateRoot (or requestsHash) that differs is a failure")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    workers = args.workers
    if args.compare and workers == 1:
        print("note: --compare needs a parallel engine and --workers > 1; comparing sequential with itself",
              file=sys.stderr)
    folders = block_folders(args.blocks)
    report = _Report(out=sys.stdout, err=sys.stderr, json_lines=args.json, compare=args.compare,
                     total=len(folders))
    options = {"check_state_root": True if args.check_state_root else None}
    diffs = {}
    for path in folders:
        report.progress(path)
        try:
            started = perf_counter()
            block = read_block_folder(path)  # its errors name the folder already
            read_seconds = perf_counter() - started
        except BlockInputError as exc:
            report.error(str(exc))
            continue
        try:
            result = _replay(block, read_seconds, report, compare=args.compare, workers=workers, options=options)
        except REPLAY_ERRORS as exc:
            report.error(f"{block.source}: {exc}")
            continue
        except BrokenPipeError:  # the reader of our output went away: not a fault of this block
            raise
        except Exception as exc:  # a parevm bug: say so, show where, and go on with the other blocks
            import traceback  # (only for this: ~1 ms of every process otherwise)

            traceback.print_exc(file=sys.stderr)
            report.error(f"{path}: internal error: {type(exc).__name__}: {exc}")
            continue
        if args.state_diff is not None:
            diffs[str(result.number)] = state_diff_json(result.state_diff)
    report.finish()
    if args.state_diff is not None:
        args.state_diff.write_text(json.dumps(diffs, indent=2))
    return 0 if report.all_ok else 1


def _replay(block: BlockInput, read_seconds: float, report: _Report, *, compare: bool, workers: int,
            options: dict) -> BlockResult:
    """Run one block (or compare both engines on it), report it, and return the sequential result."""
    if compare:
        comparison = compare_engines(block, workers, **options)
        for result in (comparison.sequential, comparison.parallel):
            result.timings.read += read_seconds
        report.add_comparison(comparison)
        return comparison.sequential
    result = execute_block(block, workers=workers, **options)
    result.timings.read += read_seconds
    report.add(result)
    return result


def block_folders(paths: list[str]) -> list[str]:
    """The block folders named by `paths`: a folder holding block.json is one; a folder without it
    stands for its subfolders that hold one (`parevm run fixtures/mainnet`); plain files are
    skipped, so that `parevm run blocks/*` may match a README. Anything else is kept, for the
    reader to report."""
    folders = []
    for path in map(Path, paths):
        if path.is_file():
            continue
        if path.is_dir() and not (path / "block.json").exists():
            inner = sorted((p for p in path.iterdir() if (p / "block.json").is_file()), key=_folder_order)
            if inner:
                folders.extend(map(str, inner))
                continue
        folders.append(str(path))
    return folders


def _folder_order(path: Path) -> tuple[int, int, str]:
    """Numbered folders (block numbers) in numeric order, before the others."""
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


@dataclass
class _ForkTotals:
    blocks: int = 0
    failed: int = 0
    gas: int = 0
    execute: float = 0.0
    total: float = 0.0
    parallel_execute: float = 0.0

    def absorb(self, other: _ForkTotals) -> None:
        self.blocks += other.blocks
        self.failed += other.failed
        self.gas += other.gas
        self.execute += other.execute
        self.total += other.total
        self.parallel_execute += other.parallel_execute


@dataclass
class _Report:
    """Prints block lines (or JSON) as results come, and the per-fork summary at the end."""

    out: TextIO
    err: TextIO
    json_lines: bool
    compare: bool
    total: int
    done: int = 0
    errors: int = 0
    differing: int = 0
    forks: dict[str, _ForkTotals] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.show_progress = self.err.isatty()
        if not self.json_lines:
            self._write(self._title())

    @property
    def all_ok(self) -> bool:
        return not self.errors and not self.differing and not any(t.failed for t in self.forks.values())

    def progress(self, path: str) -> None:
        if self.show_progress:
            self.err.write(f"\r\033[K[{self.done + 1}/{self.total}] {path}")
            self.err.flush()

    def add(self, result: BlockResult) -> None:
        self._count(result)
        if self.json_lines:
            self._write(json.dumps(result.to_json()))
            return
        self._write(f"{self._block_columns(result)}  {result.timings.total:7.2f}s  {result.mgas_per_second:7.2f}")
        self._details(result)

    def add_comparison(self, comparison: EngineComparison) -> None:
        sequential, parallel = comparison.sequential, comparison.parallel
        totals = self._count(sequential)
        totals.parallel_execute += parallel.timings.execute
        if not parallel.ok and sequential.ok:
            totals.failed += 1
        if not comparison.identical:
            self.differing += 1
        if self.json_lines:
            self._write(json.dumps({
                "sequential": sequential.to_json(), "parallel": parallel.to_json(),
                "identical": comparison.identical, "differences": comparison.differences,
                "speedup": comparison.speedup,
            }))
            return
        same = "yes" if comparison.identical else "NO"
        self._write(f"{self._block_columns(sequential)}  {sequential.timings.execute:7.2f}s  "
                    f"{parallel.timings.execute:7.2f}s  {comparison.speedup:6.2f}x  {same}")
        for difference in comparison.differences:
            self._write(f"    differs: {difference}")
        self._details(sequential)
        if not parallel.ok and not comparison.identical:  # identical results fail identically
            self._write("    parallel run:")
            self._details(parallel)

    def error(self, message: str) -> None:
        self.errors += 1
        if self.json_lines:
            self._write(json.dumps({"error": message}))
        else:
            self._write(f"ERROR {message}")

    def finish(self) -> None:
        if self.show_progress:
            self.err.write("\r\033[K")
            self.err.flush()
        # JSON lines stay machine-readable: the summary goes to stderr there.
        out = self.err if self.json_lines else self.out
        for line in self._summary():
            print(line, file=out)

    # --- formatting --------------------------------------------------------------------------------

    def _title(self) -> str:
        checks = " ".join(f"{title:<5}" for _, title in _COLUMNS)
        timing = "   seq exec   par exec  speedup same" if self.compare else "     time   Mgas/s"
        return f"{'block':>10}  {'fork':<16} {'txs':>5} {'gas':>12}  {checks}{timing}"

    def _block_columns(self, result: BlockResult) -> str:
        marks = []
        for name, _ in _COLUMNS:
            check = result.check(name)
            marks.append(f"{_MARK.get(check.status, '-') if check else '-':<5}")
        return f"{result.number:>10}  {result.fork:<16} {result.tx_count:>5} {result.gas_used:>12,}  {' '.join(marks)}"

    def _details(self, result: BlockResult) -> None:
        """Notes, and for a failed block what differs and every transaction's gas and status."""
        for note in result.notes:
            self._write(f"    note: {note}")
        if result.ok:
            return
        for check in result.mismatches:
            self._write(f"    {check.name}: {_difference(check.expected, check.actual)}"
                        + (f" ({check.note})" if check.note else ""))
        failed = [str(tx.index) for tx in result.txs if not tx.success]
        self._write(f"    failed transactions: {', '.join(failed) or 'none'}")
        self._write("    gas per transaction (first-last:gas, ! = failed):")
        line = "   "
        for cell in _tx_runs(result):
            if len(line) + len(cell) >= _LINE_WIDTH:
                self._write(line)
                line = "   "
            line += " " + cell
        self._write(line)

    def _count(self, result: BlockResult) -> _ForkTotals:
        self.done += 1
        totals = self.forks.setdefault(result.fork, _ForkTotals())
        totals.blocks += 1
        totals.failed += not result.ok
        totals.gas += result.gas_used
        totals.execute += result.timings.execute
        totals.total += result.timings.total
        return totals

    def _summary(self) -> list[str]:
        rows = sorted(self.forks.items(), key=lambda item: fork_by_name(item[0]).order)
        overall = _ForkTotals()
        for _, totals in rows:
            overall.absorb(totals)
        timing = f"{'seq exec':>9} {'par exec':>9} {'speedup':>8}" if self.compare else \
            f"{'exec s':>8} {'total s':>8} {'Mgas/s':>8}"
        lines = ["", f"{'fork':<16} {'blocks':>6} {'failed':>6} {'Mgas':>9} {timing}"]
        for name, totals in rows + [("total", overall)]:
            head = f"{name:<16} {totals.blocks:>6} {totals.failed:>6} {totals.gas / 1e6:>9.2f}"
            if self.compare:
                speedup = totals.execute / totals.parallel_execute if totals.parallel_execute else 0.0
                lines.append(f"{head} {totals.execute:>8.2f}s {totals.parallel_execute:>8.2f}s {speedup:>7.2f}x")
            else:
                rate = totals.gas / totals.execute / 1e6 if totals.execute else 0.0
                lines.append(f"{head} {totals.execute:>8.2f} {totals.total:>8.2f} {rate:>8.2f}")
        failed = overall.failed
        verdict = (f"{overall.blocks} blocks replayed: {overall.blocks - failed} ok, {failed} failed, "
                   f"{self.errors} errors")
        if self.compare:
            verdict += f", {self.differing} with sequential/parallel differences"
        lines.append(verdict)
        return lines

    def _write(self, line: str) -> None:
        if self.show_progress:
            self.err.write("\r\033[K")
            self.err.flush()
        print(line, file=self.out, flush=self.show_progress)


def _tx_runs(result: BlockResult) -> list[str]:
    """Transactions as `index:gas` cells, consecutive ones with equal gas and status merged
    (`6-9:21000`), so a block of plain transfers stays short."""
    cells = []
    txs = result.txs
    start = 0
    for end in range(1, len(txs) + 1):
        if end < len(txs) and (txs[end].gas_used, txs[end].success) == (txs[start].gas_used, txs[start].success):
            continue
        first, last = txs[start], txs[end - 1]
        span = str(first.index) if first is last else f"{first.index}-{last.index}"
        cells.append(f"{span}:{first.gas_used}{'' if first.success else '!'}")
        start = end
    return cells


def _difference(expected, actual) -> str:
    if isinstance(expected, bytes) and isinstance(actual, bytes) and len(expected) == len(actual) > 32:
        # a bloom: which bits differ says more than two walls of hex
        want, got = int.from_bytes(expected, "big"), int.from_bytes(actual, "big")
        return (f"{(want & ~got).bit_count()} expected bits not set, "
                f"{(got & ~want).bit_count()} unexpected bits set")
    return f"expected {_show(expected)}, got {_show(actual)}"


def _show(value) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return f"{value:,}" if isinstance(value, int) else str(value)


def _workers_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of workers, got {text!r}")
    return int(text)

"""Whole `parevm run` processes, as hidden blocks are timed: wall time with 1 and 2 workers.

    python bench/bench_whole.py DIR [DIR ...] [--repeat 5] [--against ../old-checkout]

Each block folder is replayed in fresh processes (`python -m parevm run DIR --workers N`), so
starting Python, importing, reading the JSON, recovering senders, executing and building the
tries all count. The runs alternate (this checkout with 1 and 2 workers, then the `--against`
checkout, if given, the same way), so a machine that slows down meanwhile slows all of them;
each cell is the median of `--repeat` runs. A run that fails (exit status not 0) stops the
benchmark: a time is only worth something for a block that replays correctly.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def run_once(checkout: Path, folder: str, workers: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "parevm", "run", folder, "--workers", str(workers)],
                               cwd=checkout, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"{checkout}: parevm run {folder} --workers {workers} failed:\n"
                         f"{completed.stdout}{completed.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="block folders (block.json, prestate.json, block_hashes.json)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout of parevm, timed in the same loop")
    args = parser.parse_args()
    checkouts = [HERE] + ([args.against.resolve()] if args.against else [])
    print(f"median of {args.repeat} runs, ms: workers 1 / workers 2 (w1 / w2)"
          + (f"; then {args.against}" if args.against else ""), flush=True)
    for folder in args.folders:
        times: dict[tuple[Path, int], list[float]] = {}
        for _ in range(args.repeat):
            for checkout in checkouts:
                for workers in (1, 2):
                    times.setdefault((checkout, workers), []).append(run_once(checkout, folder, workers))
        cells = []
        for checkout in checkouts:
            one, two = (statistics.median(times[checkout, workers]) * 1e3 for workers in (1, 2))
            cells.append(f"{one:7,.0f} / {two:7,.0f} ({one / two:4.2f}x)")
        print(f"{Path(folder).name:28} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()

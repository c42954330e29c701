"""`parevm bench`: sequential EVM speed on synthetic workloads (tx/s, Mgas/s), one core.

A table on stdout, or with `--json` one JSON object. Every workload's transactions are expected to
succeed; a nonzero `failed` column means a bug (in sender recovery: senders recovered wrongly), and
the exit status is then 1. See parevm/workloads/bench.py for what is timed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from parevm.workloads.bench import Measurement


class _CaseNames:
    """The case names, as `--only` choices. The benchmark module is imported only when argparse
    checks or lists them, so that building the CLI for another subcommand does not load it."""

    def __iter__(self) -> Iterator[str]:
        from parevm.workloads.bench import CASES

        return iter([case.name for case in CASES] + ["sender recovery"])

    def __contains__(self, name: object) -> bool:
        return name in list(self)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="sequential EVM speed on synthetic workloads", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="small blocks, fewer repeats (a smoke test)")
    parser.add_argument("--repeat", type=int, metavar="N", help="runs per case, best kept (default 5, quick 2)")
    parser.add_argument("--only", action="append", choices=_CaseNames(), metavar="CASE",
                        help="only this case (repeatable): %(choices)s")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from parevm.workloads.bench import run_benchmarks  # here, not at the top: see _CaseNames

    repeats = args.repeat or (2 if args.quick else 5)
    show_progress = sys.stderr.isatty()

    def progress(name: str) -> None:
        if show_progress:
            sys.stderr.write(f"\r\033[K{name}...")
            sys.stderr.flush()

    measurements = run_benchmarks(quick=args.quick, repeats=repeats,
                                  only=frozenset(args.only) if args.only else None, progress=progress)
    if show_progress:
        sys.stderr.write("\r\033[K")
    if args.json:
        print(json.dumps(_report_json(measurements, repeats, args.quick)))
    else:
        _print_table(measurements, repeats)
    return 1 if any(m.failed for m in measurements) else 0


def _report_json(measurements: list[Measurement], repeats: int, quick: bool) -> dict:
    import platform  # (here: every `parevm` process imports this module, and platform costs ~2 ms)

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "quick": quick,
        "repeats": repeats,
        "results": [{
            "name": m.name, "txs": m.txs, "gas": m.gas, "seconds": round(m.seconds, 6),
            "tx_per_s": round(m.tx_per_second, 1), "mgas_per_s": round(m.mgas_per_second, 2), "failed": m.failed,
        } for m in measurements],
    }


def _print_table(measurements: list[Measurement], repeats: int) -> None:
    import platform
    print(f"{'case':<18}{'txs':>7}{'Mgas':>9}{'best s':>9}{'tx/s':>10}{'Mgas/s':>9}{'failed':>8}")
    for m in measurements:
        mgas = f"{m.gas / 1e6:.2f}" if m.gas else "-"
        rate = f"{m.mgas_per_second:.1f}" if m.gas else "-"
        print(f"{m.name:<18}{m.txs:>7}{mgas:>9}{m.seconds:>9.3f}{m.tx_per_second:>10,.0f}{rate:>9}{m.failed:>8}")
    print(f"sequential, one core, best of {repeats}; Python {platform.python_version()}")

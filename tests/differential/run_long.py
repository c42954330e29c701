"""The long differential run: thousands of generated state tests on parevm and EELS.

    python tests/differential/run_long.py --cases 5000 --seed 1 [--families set_code,bls] [--workers 2]
    python tests/differential/run_long.py --seed 1 --only 1234      # regenerate and rerun one case

Cases are generated and compared in chunks (one EELS process per worker per chunk). Every
disagreeing test is saved as a state-test file under --failures (default
./differential-failures) and can be rerun alone with `python tests/differential/compare_engines.py FILE`.
Exits 1 if any vector disagreed. Needs EELS: $PAREVM_EELS or .eels-venv (see README).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the sibling modules, when run as a script

from compare_engines import Report, compare_files, find_eels  # noqa: E402
from generate import FAMILIES, generate_case, write_batches  # noqa: E402

SHOWN_MISMATCHES = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--families", help=f"comma-separated subset of: {', '.join(FAMILIES)}")
    parser.add_argument("--only", type=int, help="run just this case index")
    parser.add_argument("--workers", type=int, default=2, help="EELS processes (default 2)")
    parser.add_argument("--chunk", type=int, default=250, help="cases per round of generation and comparison")
    parser.add_argument("--failures", type=Path, default=Path("differential-failures"))
    args = parser.parse_args(argv)

    eels, why = find_eels()
    if eels is None:
        print(why, file=sys.stderr)
        return 2
    families = args.families.split(",") if args.families else None
    if families and not set(families) <= set(FAMILIES):
        parser.error(f"unknown families: {', '.join(sorted(set(families) - set(FAMILIES)))}")
    indexes = [args.only] if args.only is not None else list(range(args.cases))

    total = Report()
    started = time.perf_counter()
    for first in range(0, len(indexes), args.chunk):
        chunk = indexes[first:first + args.chunk]
        generating = time.perf_counter()
        cases = [_case(args.seed, index, families) for index in chunk]
        generation_seconds = time.perf_counter() - generating
        with tempfile.TemporaryDirectory(prefix="parevm-differential-") as scratch:
            paths = write_batches(cases, Path(scratch), files=4 * args.workers)
            report = compare_files(paths, eels, workers=args.workers)
            _save_failures(report, paths, args.failures)
        total.add(report)
        print(f"cases {first + len(chunk)}/{len(indexes)}: {sum(total.vectors.values())} vectors, "
              f"{len(total.mismatches)} mismatches, {time.perf_counter() - started:.0f} s "
              f"(this chunk: generation {generation_seconds:.1f} s, parevm {report.parevm_seconds:.1f} s, "
              f"EELS {report.eels_seconds:.1f} s)", flush=True)

    for mismatch in total.mismatches[:SHOWN_MISMATCHES]:
        print(mismatch.describe())
    if len(total.mismatches) > SHOWN_MISMATCHES:
        print(f"... and {len(total.mismatches) - SHOWN_MISMATCHES} more")
    print(total.summary())
    print(f"seed {args.seed}, {len(indexes)} cases, {time.perf_counter() - started:.0f} s in all")
    if total.mismatches:
        print(f"disagreeing tests saved in {args.failures}/")
    return 1 if total.mismatches else 0


def _case(seed: int, index: int, families: list[str] | None) -> dict:
    """Case `index`, from the given families: spread evenly over them when a subset is asked for."""
    return generate_case(seed, index, families[index % len(families)] if families else None)


def _save_failures(report: Report, paths: list[Path], directory: Path) -> None:
    names = {m.name for m in report.mismatches}
    if not names:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for path in paths:
        for name, body in json.loads(path.read_bytes()).items():
            if name in names:
                (directory / f"{name}.json").write_text(json.dumps({name: body}, indent=2))
    for mismatch in report.mismatches:  # the batch files are temporary; point at the saved copy
        mismatch.file = str(directory / f"{mismatch.name}.json")


if __name__ == "__main__":
    sys.exit(main())

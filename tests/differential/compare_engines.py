"""Runs state-test files on parevm (in process) and on EELS (subprocesses) and compares the outcomes.

Two engines agree on a vector when both apply the transaction or both reject it (the reasons are
worded differently and are not compared), and they compute the same post-state root and logs
hash. Any exception from either engine is a disagreement too.

EELS is found through $PAREVM_EELS, the path of `ethereum-spec-evm` in its own virtualenv
(`.ci/run` makes one at .eels-venv); `eels_driver.py` is run by that virtualenv's `python`.
EELS workers run while parevm executes, each on its share of the files, writing to a temporary
file rather than a pipe so that nobody waits on a full pipe.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from generate import family_of

from parevm.statetest.execute import execute_vector
from parevm.statetest.loader import load_file

EELS_ENV_VAR = "PAREVM_EELS"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_EELS = REPO / ".eels-venv" / "bin" / "ethereum-spec-evm"
DRIVER = Path(__file__).with_name("eels_driver.py")

Account = tuple[int, int, str, dict[int, int]]  # nonce, balance, code hex, non-zero storage


def find_eels() -> tuple[Path | None, str]:
    """The `ethereum-spec-evm` to use and, when there is none, why."""
    configured = os.environ.get(EELS_ENV_VAR)
    path = Path(configured) if configured else DEFAULT_EELS
    if not path.is_file():
        where = f"${EELS_ENV_VAR}={configured}" if configured else f"{DEFAULT_EELS} (${EELS_ENV_VAR} unset)"
        return None, f"EELS not found at {where}; create it with .ci/run or see README 'Differential testing'"
    if not path.with_name("python").is_file():
        return None, f"{path} is not inside a virtualenv (no python next to it)"
    return path, ""


@dataclass(slots=True)
class Outcome:
    state_root: str | None = None
    logs_hash: str | None = None
    rejected: str | None = None  # the engine's reason; None when the transaction was applied
    post: dict[str, Account] = field(default_factory=dict)
    error: str | None = None  # the engine raised


@dataclass(slots=True)
class Mismatch:
    file: str
    name: str
    fork: str
    index: str
    differences: list[str]
    parevm: Outcome
    eels: Outcome

    def describe(self) -> str:
        lines = [f"{self.name} {self.fork} {self.index} (in {self.file}): " + "; ".join(self.differences)]
        for engine, outcome in (("parevm", self.parevm), ("EELS", self.eels)):
            if outcome.error:
                lines.append(f"  {engine} raised: {outcome.error.strip().splitlines()[-1]}")
            elif outcome.rejected:
                lines.append(f"  {engine} rejected: {outcome.rejected}")
        if not (self.parevm.error or self.eels.error):
            lines += ["  " + line for line in post_state_diff(self.parevm.post, self.eels.post)]
        return "\n".join(lines)


@dataclass
class Report:
    vectors: Counter = field(default_factory=Counter)  # per family
    rejected: Counter = field(default_factory=Counter)  # per family, vectors both engines rejected
    mismatches: list[Mismatch] = field(default_factory=list)
    parevm_seconds: float = 0.0
    eels_seconds: float = 0.0  # wall time of the slowest EELS worker
    wall_seconds: float = 0.0

    def add(self, other: Report) -> None:
        self.vectors += other.vectors
        self.rejected += other.rejected
        self.mismatches += other.mismatches
        self.parevm_seconds += other.parevm_seconds
        self.eels_seconds += other.eels_seconds
        self.wall_seconds += other.wall_seconds

    def summary(self) -> str:
        rows = [f"{'family':<14}{'vectors':>9}{'rejected':>10}{'mismatches':>12}"]
        bad = Counter(family_of(m.name) for m in self.mismatches)
        for family in sorted(self.vectors):
            rows.append(f"{family:<14}{self.vectors[family]:>9}{self.rejected[family]:>10}{bad[family]:>12}")
        rows.append(f"{'total':<14}{sum(self.vectors.values()):>9}{sum(self.rejected.values()):>10}"
                    f"{len(self.mismatches):>12}")
        rows.append(f"parevm {self.parevm_seconds:.1f} s, EELS {self.eels_seconds:.1f} s (slowest worker), "
                    f"wall {self.wall_seconds:.1f} s")
        return "\n".join(rows)


def run_parevm(path: Path) -> dict[tuple[str, str, str], Outcome]:
    outcomes = {}
    for test in load_file(path):
        for entry in test.vectors():
            try:
                result = execute_vector(test, entry)
            except Exception as exc:  # a crash is a finding, not the end of the run
                outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
            else:
                outcome = Outcome(
                    state_root="0x" + result.state_root.hex(), logs_hash="0x" + result.logs_hash.hex(),
                    rejected=result.rejected,
                    post={"0x" + address.hex(): (nonce, balance, "0x" + code.hex(),
                                                 {k: v for k, v in storage.items() if v})
                          for address, (nonce, balance, code, storage) in result.post_state.items()})
            outcomes[(test.name, entry.fork, entry.index)] = outcome
    return outcomes


def _eels_outcome(record: dict) -> Outcome:
    if "error" in record:
        return Outcome(error=record["error"])
    post = {}
    for address, account in record["alloc"].items():
        storage = {int(k, 16): int(v, 16) for k, v in account.get("storage", {}).items()}
        post[address] = (int(account.get("nonce", "0x0"), 16), int(account.get("balance", "0x0"), 16),
                         account.get("code", "0x"), {k: v for k, v in storage.items() if v})
    return Outcome(state_root=record["stateRoot"], logs_hash=record["logsHash"], rejected=record["rejected"],
                   post=post)


def start_eels(eels: Path, paths: list[Path], output: Path) -> subprocess.Popen:
    with open(output, "wb") as sink:
        return subprocess.Popen([str(eels.with_name("python")), str(DRIVER), *map(str, paths)],
                                stdout=sink, stderr=subprocess.PIPE)


def compare_files(paths: list[Path], eels: Path, *, workers: int = 2) -> Report:
    """Runs every vector of `paths` on both engines (EELS on up to `workers` processes) and compares."""
    report = Report()
    started = time.perf_counter()
    shares = [paths[i::workers] for i in range(workers) if paths[i::workers]]
    with tempfile.TemporaryDirectory(prefix="parevm-eels-") as scratch:
        outputs = [Path(scratch) / f"eels{i}.jsonl" for i in range(len(shares))]
        processes = [start_eels(eels, share, out) for share, out in zip(shares, outputs)]
        ours = {}
        for path in paths:
            for key, outcome in run_parevm(path).items():
                ours[key] = (str(path), outcome)
        report.parevm_seconds = time.perf_counter() - started
        theirs = {}
        for process, output in zip(processes, outputs):
            _out, err = process.communicate()
            if process.returncode:
                raise RuntimeError(f"EELS driver failed ({process.returncode}):\n{err.decode(errors='replace')}")
            for line in output.read_bytes().splitlines():
                record = json.loads(line)
                theirs[(record["name"], record["fork"], record["index"])] = _eels_outcome(record)
        report.eels_seconds = time.perf_counter() - started
    for key, (path, mine) in ours.items():
        name, fork, index = key
        family = family_of(name)
        report.vectors[family] += 1
        other = theirs.pop(key, None) or Outcome(error="EELS produced no result for this vector")
        differences = differences_between(mine, other)
        if differences:
            report.mismatches.append(Mismatch(path, name, fork, index, differences, mine, other))
        elif mine.rejected is not None:
            report.rejected[family] += 1
    for (name, fork, index), other in theirs.items():  # vectors EELS ran that parevm did not see
        report.mismatches.append(Mismatch("?", name, fork, index, ["only EELS ran it"], Outcome(), other))
    report.wall_seconds = time.perf_counter() - started
    return report


def differences_between(mine: Outcome, other: Outcome) -> list[str]:
    if mine.error or other.error:
        return ["an engine raised"]
    if (mine.rejected is None) != (other.rejected is None):
        return ["parevm rejected the tx, EELS applied it" if mine.rejected
                else "EELS rejected the tx, parevm applied it"]
    differences = []
    if mine.state_root != other.state_root:
        differences.append(f"state root {mine.state_root} (parevm) != {other.state_root} (EELS)")
    if mine.logs_hash != other.logs_hash:
        differences.append(f"logs hash {mine.logs_hash} (parevm) != {other.logs_hash} (EELS)")
    return differences


def post_state_diff(ours: dict[str, Account], theirs: dict[str, Account]) -> list[str]:
    """Per account and field, where the two post-states differ (parevm's value first)."""
    lines = []
    for address in sorted(ours.keys() | theirs.keys()):
        mine, other = ours.get(address), theirs.get(address)
        if mine == other:
            continue
        if mine is None or other is None:
            nonce, balance, code, storage = mine or other
            lines.append(f"{address} only in {'EELS' if mine is None else 'parevm'}: nonce {nonce}, "
                         f"balance {balance}, code {code[:50]}{'...' if len(code) > 50 else ''}, {len(storage)} slots")
            continue
        for label, a, b in zip(("nonce", "balance", "code"), mine, other):
            if a != b:
                lines.append(f"{address} {label}: {a} != {b}")
        for slot in sorted(mine[3].keys() | other[3].keys()):
            a, b = mine[3].get(slot, 0), other[3].get(slot, 0)
            if a != b:
                lines.append(f"{address} storage[{slot:#x}]: {a:#x} != {b:#x}")
    return lines


if __name__ == "__main__":  # compare given state-test files: python compare_engines.py FILE...
    eels_path, why = find_eels()
    if eels_path is None:
        sys.exit(why)
    result = compare_files([Path(p) for p in sys.argv[1:]], eels_path)
    for mismatch in result.mismatches:
        print(mismatch.describe())
    print(result.summary())
    sys.exit(1 if result.mismatches else 0)

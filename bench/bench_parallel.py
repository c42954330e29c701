"""Speedup of the parallel engine over sequential execution, measured in one run.

    python bench/bench_parallel.py                      # all workloads, 2 workers
    python bench/bench_parallel.py --workers 2 3 --repeat 5 --only erc20 value
    python bench/bench_parallel.py --cold               # mainnet blocks in fresh processes
    python bench/bench_parallel.py --only erc20 --where  # and where the parallel run spent its time
    python bench/bench_parallel.py --only mainnet --cold --force-parallel  # as if every block were big
    python bench/bench_parallel.py --only nft lending game compute --count 5000  # the other dApps

Workloads (`parevm.workloads.blocks`, 10,000 transactions each unless `--count`): independent ERC-20
transfers, independent value transfers, AMM swaps on one pool (fully dependent: every swap reads
and writes the reserves), the cheapest fully dependent block (every transaction increments one slot,
`parevm.parallel.synthetic.hot_slot_block`), a block that starts independent and then is such a
chain (`turn`: 400 value transfers, then increments of one slot: the range split's worst case), and
every mainnet fixture block with at least 50 transactions. The engine runs a block it estimates
under `MIN_PARALLEL_SECONDS` sequentially (every mainnet fixture block); `--force-parallel` sets
that to 0, to measure the algorithm on them.

Each timing is the best of `--repeat` runs on a fresh copy of the pre-state, after an untimed run
(`warm_up`) that decodes and compiles all the code the block runs: the interpreter caches both on
each contract's code, and otherwise compiles a block only once it has been entered 128 times over
all runs, so later runs of either engine would gain from earlier ones; both engines are measured
warm. `--cold` instead times each
mainnet run in a new interpreter (decoding included, as `parevm run` on one block would), which is
slower and noisier. The results of every parallel run are checked against the sequential ones.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parevm.block.executor import block_env  # noqa: E402
from parevm.block.sequential import execute_transactions  # noqa: E402
from parevm.config import fixtures_dir  # noqa: E402
from parevm.evm import analysis  # noqa: E402
from parevm.evm.forks import mainnet_fork  # noqa: E402
from parevm.io.block_folder import read_block_folder  # noqa: E402
from parevm.parallel import chunks  # noqa: E402
from parevm.parallel.engine import execute_transactions_parallel  # noqa: E402
from parevm.parallel.synthetic import SyntheticBlock, hot_slot_block  # noqa: E402
from parevm.state.block_state import BlockState  # noqa: E402
from parevm.tx import recover_sender  # noqa: E402
from parevm.workloads import blocks as workloads  # noqa: E402

MIN_MAINNET_TXS = 50
# The other dApp workloads (`--only` them; not in the default run): NFT mints and the lending pool
# are chains (a mint counter, the pool's balance), the board game mostly independent moves with
# collisions, `compute` independent and CPU-heavy.
DAPPS = {"nft": workloads.nft_mints, "lending": workloads.lending, "game": workloads.game,
         "compute": workloads.compute}


def mainnet_blocks() -> list[Path]:
    root = fixtures_dir() / "mainnet"
    folders = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return [p for p in folders
            if len(json.loads((p / "block.json").read_bytes())["transactions"]) >= MIN_MAINNET_TXS]


def load_mainnet(folder: Path) -> SyntheticBlock:
    block = read_block_folder(folder)
    fork = mainnet_fork(block.header.number, block.header.timestamp)
    senders = [recover_sender(tx, allow_high_s=not fork.homestead) for tx in block.transactions]
    accounts = [(a, p.nonce, p.balance, p.code, p.storage) for a, p in block.prestate.items()]
    return SyntheticBlock(block_env(block.header, fork, block.block_hashes), block.transactions, senders,
                          accounts, f"mainnet {folder.name}")


def snapshot(state: BlockState) -> tuple:
    return state.accounts, state.storage, {a: c.bytes for a, c in state.codes.items()}


def time_sequential(block: SyntheticBlock) -> tuple[float, list, tuple]:
    state = block.state()
    started = time.perf_counter()
    results = execute_transactions(block.env, block.txs, block.senders, state)
    return time.perf_counter() - started, results, snapshot(state)


def time_parallel(block: SyntheticBlock, workers: int) -> tuple[float, list, tuple, object]:
    state = block.state()
    started = time.perf_counter()
    results, stats = execute_transactions_parallel(block.env, block.txs, block.senders, state, workers)
    return time.perf_counter() - started, results, snapshot(state), stats


def measure(block: SyntheticBlock, workers_list: list[int], repeat: int,
            where: bool = False) -> tuple[float, dict[int, float]]:
    """Print one line for `block` (and, with `where`, where the best parallel runs spent their
    time); returns the best sequential time and the best parallel time per worker count."""
    _, expected_results, expected_state = warm_up(block)
    sequential = min(time_sequential(block)[0] for _ in range(repeat))
    line = f"{block.name:26} {len(block.txs):6} txs  sequential {sequential * 1e3:8.1f} ms"
    parallel = {}
    for workers in workers_list:
        time_parallel(block, workers)
        best = None
        for _ in range(repeat):
            elapsed, results, state, stats = time_parallel(block, workers)
            if results != expected_results or state != expected_state:
                raise SystemExit(f"{block.name}: parallel result differs from sequential")
            if best is None or elapsed < best[0]:
                best = (elapsed, stats)
        elapsed, stats = best
        parallel[workers] = elapsed
        line += (f" | {workers}w {elapsed * 1e3:8.1f} ms x{sequential / elapsed:5.2f}"
                 f" (chunks {len(stats.chunks)}, re-exec {stats.re_executions}, blocked {stats.blocked})")
        if where:
            line += "\n" + where_time_went(stats)
    print(line, flush=True)
    return sequential, parallel


def warm_up(block: SyntheticBlock) -> tuple[float, list, tuple]:
    """One untimed run with every block of code compiled on its first entry: without it, a block
    is compiled once entered `HOT_BLOCK_ENTRIES` times over all runs, so the later runs of either
    engine would gain from the earlier ones; after it, both run the same compiled code."""
    saved = analysis.HOT_BLOCK_ENTRIES
    analysis.HOT_BLOCK_ENTRIES = 1
    try:
        return time_sequential(block)
    finally:
        analysis.HOT_BLOCK_ENTRIES = saved


def where_time_went(stats) -> str:
    """The coordinator's time (its own chunks, coordinating, waiting, sequential stretches) and
    each worker process's (executing, other CPU: messages, replica, page faults after fork)."""
    ms = 1e3
    own = stats.worker_busy[0]
    stretches = stats.wall_time - stats.coordinator_busy
    parts = [f"    coordinator: {stats.wall_time * ms:.0f} ms = own chunks {own * ms:.0f}"
             f" + coordinating {(stats.coordinator_busy - own) * ms:.0f} (commit {stats.commit_time * ms:.0f})"
             f" + waiting or sequential {stretches * ms:.0f}"]
    for worker in range(1, stats.workers):
        busy, cpu = stats.worker_busy[worker], stats.worker_cpu[worker]
        parts.append(f"worker {worker}: executing {busy * ms:.0f} ms, other CPU {(cpu - busy) * ms:.0f} ms")
    return "; ".join(parts) + f"; taken over {stats.taken_over}, epochs {stats.epochs}"


def cold_run(folder: str, workers: int, force_parallel: bool) -> float:
    """One timed run in a fresh interpreter (workers 0: sequential)."""
    code = ("import sys, time; sys.path.insert(0, %r); from bench.bench_parallel import *; "
            "force_parallel(%r); b = load_mainnet(Path(%r)); w = %d; "
            "print(time_parallel(b, w)[0] if w else time_sequential(b)[0])") % (
        str(Path(__file__).resolve().parent.parent), force_parallel, folder, workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def independent_then_chain(count: int, independent: int = 400) -> SyntheticBlock:
    """`independent` value transfers, then increments of one slot: `count` transactions."""
    transfers = SyntheticBlock.from_workload(workloads.value_transfers(independent))
    block = hot_slot_block(count - independent).after(transfers)
    block.name = f"turn-{count}"
    return block


def force_parallel(force: bool) -> None:
    """Let the engine try Block-STM on every block, however small its estimate."""
    if force:
        chunks.MIN_PARALLEL_SECONDS = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=10_000, help="transactions in the synthetic blocks")
    parser.add_argument("--only", nargs="+", choices=["erc20", "value", "amm", "hot", "turn", "mainnet", *DAPPS],
                        default=["erc20", "value", "amm", "hot", "turn", "mainnet"])
    parser.add_argument("--cold", action="store_true", help="mainnet blocks: each run in a fresh interpreter")
    parser.add_argument("--where", action="store_true", help="where the parallel runs spent their time")
    parser.add_argument("--force-parallel", action="store_true",
                        help="try Block-STM on every block (MIN_PARALLEL_SECONDS = 0)")
    args = parser.parse_args()
    force_parallel(args.force_parallel)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; best of {args.repeat}", flush=True)
    for name, make in (("erc20", workloads.erc20_transfers), ("value", workloads.value_transfers),
                       ("amm", workloads.amm_swaps)):
        if name in args.only:
            measure(SyntheticBlock.from_workload(make(args.count)), args.workers, args.repeat, args.where)
    for name, make in DAPPS.items():
        if name in args.only:
            measure(SyntheticBlock.from_workload(make(args.count)), args.workers, args.repeat, args.where)
    if "hot" in args.only:
        measure(hot_slot_block(args.count), args.workers, args.repeat, args.where)
    if "turn" in args.only:
        measure(independent_then_chain(args.count), args.workers, args.repeat, args.where)
    if "mainnet" in args.only:
        runs = []  # (sequential, {workers: parallel}) per block
        for folder in mainnet_blocks():
            if args.cold:
                sequential = min(cold_run(str(folder), 0, args.force_parallel) for _ in range(args.repeat))
                line = f"mainnet {folder.name:18} cold sequential {sequential * 1e3:8.1f} ms"
                parallel = {}
                for workers in args.workers:
                    parallel[workers] = min(cold_run(str(folder), workers, args.force_parallel)
                                            for _ in range(args.repeat))
                    line += f" | {workers}w {parallel[workers] * 1e3:8.1f} ms x{sequential / parallel[workers]:5.2f}"
                print(line, flush=True)
                runs.append((sequential, parallel))
            else:
                runs.append(measure(load_mainnet(folder), args.workers, args.repeat, args.where))
        for workers in args.workers:
            ratios = [sequential / parallel[workers] for sequential, parallel in runs]
            total = sum(sequential for sequential, _ in runs) / sum(parallel[workers] for _, parallel in runs)
            print(f"mainnet, {len(runs)} blocks, {workers} workers: mean speedup x{statistics.fmean(ratios):.2f}"
                  f" (geometric x{statistics.geometric_mean(ratios):.2f}), total time x{total:.2f},"
                  f" {sum(ratio > 1 for ratio in ratios)} faster")


if __name__ == "__main__":
    main()

"""What a forked worker costs the coordinator by merely existing: copy-on-write page faults.

    python bench/bench_fork_faults.py                  # ERC-20 and value transfers, 5,000 each
    python bench/bench_fork_faults.py --count 2000 --repeat 5

After a fork, every page the two processes share is write-protected; the first write to one
(a reference count, a dict's table, an allocation in a pool the block's objects share) is a page
fault and a 4 KB copy. The parallel engine's coordinator executes its range in place with the
worker process alive, so it pays these on top of the execution itself. This times the same
sequential execution of the first `--count` transactions of a block twice: alone, and with an
idle forked child (the heap frozen before the fork, as the engine does), and reports both times
and minor page faults. Best of `--repeat`, alternating, in one process.
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parevm.block.sequential import execute_transactions  # noqa: E402
from parevm.parallel.synthetic import SyntheticBlock  # noqa: E402
from parevm.workloads import blocks as workloads  # noqa: E402


def timed_run(block: SyntheticBlock, count: int, with_child: bool) -> tuple[float, int]:
    """(seconds, minor faults) of executing the first `count` transactions on a fresh pre-state."""
    state = block.state()
    child = 0
    if with_child:
        gc.freeze()
        child = os.fork()
        if child == 0:
            time.sleep(600)  # killed below
            os._exit(0)
    try:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        execute_transactions(block.env, block.txs[:count], block.senders[:count], state)
        elapsed = time.perf_counter() - started
        return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, make in (("erc20-transfers", workloads.erc20_transfers), ("value-transfers", workloads.value_transfers)):
        block = SyntheticBlock.from_workload(make(args.count))
        timed_run(block, args.count, False)  # warm-up: code decoded
        alone, forked = [], []
        for _ in range(args.repeat):
            alone.append(timed_run(block, args.count, False))
            forked.append(timed_run(block, args.count, True))
        (a, a_faults), (f, f_faults) = min(alone), min(forked)
        print(f"{name:16} {args.count} txs: alone {a * 1e3:7.1f} ms ({a_faults} faults), with a forked child "
              f"{f * 1e3:7.1f} ms ({f_faults} faults): +{(f / a - 1) * 100:.0f}%", flush=True)


if __name__ == "__main__":
    main()

"""Sequential EVM speed on the synthetic workloads: the same as `parevm bench`.

    python bench/bench_evm.py [--json] [--quick] [--repeat N] [--only CASE]
"""
import sys

from parevm.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))

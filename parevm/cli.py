"""The `parevm` command line.

Each subcommand lives with the code it drives and contributes one `register(subparsers)`
function, which adds its parser and sets `handler`, a function from the parsed arguments to an
exit status. Adding a subcommand means adding its register function to `SUBCOMMANDS`.
Every command module is imported and registered whatever the command line asks for, so a
module imports the heavy code it drives inside its handler, not at the top: `parevm run`
then loads neither the state-test runner nor the benchmark.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn, Sequence

# Every `parevm` process is timed whole (`parevm run` on one block takes a few hundred ms), and
# compiling parevm's sources costs ~30 ms of it each time. So the command keeps their bytecode
# cache (`__pycache__`, ignored by git) even where PYTHONDONTWRITEBYTECODE is set (Docker images).
sys.dont_write_bytecode = False

from parevm.block import command as run_command  # noqa: E402
from parevm.statetest import command as statetest_command  # noqa: E402
from parevm.workloads import command as bench_command  # noqa: E402

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    statetest_command.register,
    run_command.register,
    bench_command.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parevm", description="A parallel (Block-STM) EVM execution engine.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:
        # The reader went away (`parevm ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def command_line() -> NoReturn:
    """The installed `parevm` (and `python -m parevm`): `main`, then a prompt exit.

    A normal interpreter exit frees every object one by one: after a block replay that is
    40-50 ms of a ~350 ms process (the pre-state, the code analyses, the results). Once the
    output is flushed nothing is left to do, so the process ends without that teardown.
    Everything `main` opens it also closes, and worker processes are shut down before it
    returns; the background reaper of forked children is the only thread left behind.
    """
    status = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        status = status or 1
    os._exit(int(status or 0))

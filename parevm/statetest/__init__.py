"""State tests: load filled fixture files, run their vectors through the EVM, report.

`loader` turns JSON into typed objects, `runner` executes and judges vectors, `command` is the
`parevm statetest` subcommand; the EVM side is `execute.execute_vector`, imported only at run time.
The names below come from `loader` and `runner`, imported on first use, so that the CLI's
`import parevm.statetest.command` stays cheap for the other subcommands.
"""
from importlib import import_module

_EXPORTS = {
    "FORK_NAMES": "loader", "PostEntry": "loader", "PreAccount": "loader", "StateTest": "loader",
    "StateTestFormatError": "loader", "TxTemplate": "loader", "canonical_fork_name": "loader",
    "load_file": "loader",
    "FileResult": "runner", "VectorResult": "runner", "expand_paths": "runner", "run_files": "runner",
    "run_vector": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    # only the exported names: `from parevm.statetest import loader` must find the submodule
    if name not in _EXPORTS:
        raise AttributeError(f"module 'parevm.statetest' has no attribute {name!r}")
    return getattr(import_module(f"parevm.statetest.{_EXPORTS[name]}"), name)

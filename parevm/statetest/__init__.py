"""State tests: load filled fixture files, run their vectors through the EVM, report.

`loader` turns JSON into typed objects, `runner` executes and judges vectors, `command` is the
`parevm statetest` subcommand; the EVM side is `execute.execute_vector`, imported only at run time.
"""
from parevm.statetest.loader import (
    FORK_NAMES,
    PostEntry,
    PreAccount,
    StateTest,
    StateTestFormatError,
    TxTemplate,
    canonical_fork_name,
    load_file,
)
from parevm.statetest.runner import FileResult, VectorResult, expand_paths, run_files, run_vector

__all__ = [
    "FORK_NAMES", "FileResult", "PostEntry", "PreAccount", "StateTest", "StateTestFormatError",
    "TxTemplate", "VectorResult", "canonical_fork_name", "expand_paths", "load_file", "run_files",
    "run_vector",
]

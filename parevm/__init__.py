"""parevm: a parallel (Block-STM) EVM execution engine in Python.

The library entry point is `parevm.execute_block(parevm.read_block_folder(path), workers=N)`;
everything in `parevm.api` is available here, imported on first use so that importing a
subpackage (the EVM alone, say) stays cheap.
"""
from importlib import import_module

__version__ = "0.1.0"


_API_NAMES = frozenset({
    "execute_block", "execute_block_folder", "compare_engines", "read_block_folder", "block_from_objects",
    "BlockInput", "BlockInputError", "BlockResult", "Check", "EngineComparison", "InvalidBlock", "Timings",
    "TxOutcome", "UnsupportedBlock", "REPLAY_ERRORS",
})


def __getattr__(name: str):
    # only the API's names: `from parevm import rlp` must find the submodule, not import the API
    if name not in _API_NAMES:
        raise AttributeError(f"module 'parevm' has no attribute {name!r}")
    return getattr(import_module("parevm.api"), name)

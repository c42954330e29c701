"""parevm: a parallel (Block-STM) EVM execution engine in Python.

The library entry point is `parevm.execute_block(parevm.read_block_folder(path), workers=N)`;
everything in `parevm.api` is available here, imported on first use so that importing a
subpackage (the EVM alone, say) stays cheap.
"""
from importlib import import_module

__version__ = "0.1.0"


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    api = import_module("parevm.api")
    try:
        return getattr(api, name)
    except AttributeError:
        raise AttributeError(f"module 'parevm' has no attribute {name!r}") from None

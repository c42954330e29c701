"""parevm as a library: replay a block and check it against its header.

    from parevm.api import read_block_folder, execute_block
    result = execute_block(read_block_folder("examples/blocks/19923400"), workers=1)
    assert result.ok, result.mismatches

`block_from_objects(block, prestate, block_hashes)` builds the input from already-parsed JSON
(an RPC client's answers) instead of a folder. Errors for blocks that cannot be replayed are the
classes in `REPLAY_ERRORS`; their messages name the block and the offending item.
"""
from parevm.block.executor import (
    REPLAY_ERRORS,
    EngineComparison,
    UnsupportedBlock,
    compare_engines,
    execute_block,
    execute_block_folder,
)
from parevm.block.result import AccountChange, AccountState, BlockResult, Check, Timings, TxOutcome, state_diff_json
from parevm.block.sequential import InvalidBlock
from parevm.io.block_folder import BlockInput, BlockInputError, block_from_objects, read_block_folder

__all__ = [
    "REPLAY_ERRORS",
    "AccountChange",
    "AccountState",
    "BlockInput",
    "BlockInputError",
    "BlockResult",
    "Check",
    "EngineComparison",
    "InvalidBlock",
    "Timings",
    "TxOutcome",
    "UnsupportedBlock",
    "block_from_objects",
    "compare_engines",
    "execute_block",
    "execute_block_folder",
    "read_block_folder",
    "state_diff_json",
]

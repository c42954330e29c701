"""How both engines run Python's cyclic garbage collector while they execute a block.

Executing transactions allocates millions of objects; reference counting frees nearly all of
them, and the few that survive (decoded code, the block's writes) live until the block ends. With
the default thresholds the collector still runs every 700 net allocations and, every so often,
walks the whole heap: the pre-state, the transactions, every decoded contract. On a cold mainnet
block that cost a third of the execution time (block 19933612: 478 ms sequential with the default
collector, 342 ms with this policy; warm ERC-20 transfers are unchanged, and so is peak memory).
So, for the duration of a block:

* the heap as it is when the block starts is frozen (`gc.freeze`): never walked, and so, in the
  parallel engine, never copied page by page from the worker processes it is shared with;
* a young-generation collection waits for `YOUNG_THRESHOLD` net allocations instead of 700;
* what the block allocated and kept (results, the state it wrote) joins the old generation at the
  end without being walked (restoring the threshold of 700 with up to 100,000 young objects would
  walk them all at once: 7-9 ms after 10,000 ERC-20 transfers).

Cycles the block creates are still collected. The sequential and the parallel engine use the same
policy, so comparing them compares the engines, not their collectors.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

YOUNG_THRESHOLD = 100_000

_depth = 0  # nested blocks (an engine inside another's run) keep the outermost policy


@contextmanager
def block_collection() -> Iterator[None]:
    global _depth
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    _depth = 1
    try:
        yield
    finally:
        _depth = 0
        gc.freeze()  # what the block allocated and kept joins the old generation unwalked: with the
        gc.unfreeze()  # young count still high, restoring the threshold would walk it all at once
        gc.set_threshold(*thresholds)

"""Runs filled state tests on EELS and prints, per vector, what the differential test compares.

Runs under the EELS virtualenv's interpreter, never parevm's (ethereum-execution pins crypto
libraries that conflict with parevm's), and imports nothing from parevm.

`ethereum-spec-evm statetest FILE` prints only each vector's state root. This script drives the
same code (`read_test_cases` and `run_test_case` of its `statetest` module) and prints one JSON
object per line with the state root, the logs hash, the rejection message (null when the
transaction was applied) and the post-state alloc, or `error` when EELS itself raised.

    python eels_driver.py FILE...
"""
from __future__ import annotations

import json
import logging
import sys
import traceback

from ethereum_spec_tools.evm_tools import statetest
from ethereum_spec_tools.evm_tools.t8n import ForkCache


class _T8NKeepingAlloc(statetest.T8N):
    """`run_test_case` returns only the t8n result; this remembers the last transition so its
    post-state can be printed too. Installed under the name `run_test_case` looks up."""

    last: statetest.T8N | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _T8NKeepingAlloc.last = self


def main(paths: list[str]) -> int:
    logging.getLogger("T8N").addHandler(logging.NullHandler())  # keeps EELS's per-rejection warnings off stderr
    statetest.T8N = _T8NKeepingAlloc
    out = sys.stdout
    with ForkCache() as fork_cache:
        for path in paths:
            for case in statetest.read_test_cases(path):
                indexes = case.post["indexes"]
                record = {"name": case.key, "fork": case.fork_name,
                          "index": f"{indexes['data']}/{indexes['gas']}/{indexes['value']}"}
                try:
                    result = statetest.run_test_case(case, fork_cache)
                except Exception:  # an EELS crash is reported per vector; the batch goes on
                    record["error"] = traceback.format_exc(limit=-4)
                else:
                    record["stateRoot"] = "0x" + bytes(result.state_root).hex()
                    record["logsHash"] = "0x" + bytes(result.logs_hash).hex()
                    record["rejected"] = result.rejected.get(0)
                    record["alloc"] = _T8NKeepingAlloc.last.alloc.to_json()
                out.write(json.dumps(record) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

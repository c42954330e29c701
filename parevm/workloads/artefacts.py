"""The compiled workload contracts (contracts/*.json, built by `compile.py`) and what generators need
of them: call data for a method, and the storage slot of a variable or mapping entry.

Only static ABI types are encoded (uint, address, bool): every call the generators make uses nothing else.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from parevm.crypto import keccak256

CONTRACTS_DIR = Path(__file__).parent / "contracts"


def word(value: int | bytes) -> bytes:
    """One 32-byte ABI word / storage key: an int big-endian, bytes (an address) left-padded."""
    if isinstance(value, bytes):
        return value.rjust(32, b"\x00")
    return value.to_bytes(32, "big")


@dataclass(frozen=True, slots=True)
class Contract:
    name: str
    runtime: bytes
    creation: bytes
    storage: dict[str, int]  # state variable -> slot
    methods: dict[str, bytes]  # "transfer(address,uint256)" -> 4-byte selector

    def call(self, signature: str, *args: int | bytes) -> bytes:
        """Call data for `signature` (which must be one of the contract's methods) with static arguments."""
        return self.methods[signature] + b"".join(word(arg) for arg in args)

    def slot(self, variable: str, *keys: int | bytes) -> int:
        """The slot of a state variable, or of `variable[keys[0]][keys[1]]...` for a mapping
        (Solidity: the entry for key k of a mapping at slot p is at keccak256(k . p))."""
        slot = self.storage[variable]
        for key in keys:
            slot = int.from_bytes(keccak256(word(key) + word(slot)), "big")
        return slot


@cache
def load(name: str) -> Contract:
    """The artefact contracts/<name>.json."""
    data = json.loads((CONTRACTS_DIR / f"{name}.json").read_text())
    return Contract(
        name=data["name"],
        runtime=bytes.fromhex(data["runtime"][2:]),
        creation=bytes.fromhex(data["creation"][2:]),
        storage=data["storage"],
        methods={signature: bytes.fromhex(selector[2:]) for signature, selector in data["methods"].items()},
    )

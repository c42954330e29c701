"""Contract snippets shared by the case families.

Everything a generated contract observes is written to storage (`Recorder`), so any difference
in what the two engines compute (a flag, a size, a hash, gas left) reaches the state root.
"""
from __future__ import annotations

from evm_asm import Arg, invoke, op, push, sstore

CALL_KINDS = ("CALL", "CALLCODE", "DELEGATECALL", "STATICCALL")


class Recorder:
    """Hands out consecutive storage slots to the values a contract records."""

    def __init__(self, first_slot: int = 0):
        self.next_slot = first_slot

    def slot(self) -> int:
        self.next_slot += 1
        return self.next_slot - 1

    def store(self, value: Arg) -> bytes:
        return sstore(self.slot(), value)

    def store_top(self) -> bytes:
        """Stores (and pops) the value on top of the stack."""
        return push(self.slot()) + op("SSTORE")

    def call(self, kind: str, target: bytes | int, *, gas: Arg, value: Arg = 0, args: tuple[Arg, Arg] = (0, 0),
             out: int = 0) -> bytes:
        """A call whose success flag, gas used, return data size and return data hash are recorded.
        The return data is copied to memory at `out` to be hashed."""
        address = target if isinstance(target, int) else int.from_bytes(target, "big")
        value_arg = (value,) if kind in ("CALL", "CALLCODE") else ()
        code = op("GAS") + invoke(kind, gas, address, *value_arg, args[0], args[1], 0, 0)
        code += op("GAS") + op("SWAP1") + self.store_top()  # [gas before, gas after]; success recorded
        code += op("SWAP1") + op("SUB") + self.store_top()  # gas before - gas after
        return code + self.returndata(out)

    def returndata(self, out: int = 0) -> bytes:
        """Records RETURNDATASIZE and keccak of the return data (copied to memory at `out`)."""
        code = self.store("RETURNDATASIZE")
        code += invoke("RETURNDATACOPY", out, 0, "RETURNDATASIZE")
        return code + self.store(invoke("KECCAK256", out, "RETURNDATASIZE"))

    def probe_account(self, target: bytes, *, copy_offset: int = 0, copy_size: int = 32) -> bytes:
        """Records what code and balance queries see of `target` (a delegated account, an EOA, ...)."""
        address = int.from_bytes(target, "big")
        code = self.store(invoke("EXTCODESIZE", address))
        code += self.store(invoke("EXTCODEHASH", address))
        code += self.store(invoke("BALANCE", address))
        code += invoke("MSTORE", 0, 0) + invoke("MSTORE", 32, 0)
        code += invoke("EXTCODECOPY", address, 0, copy_offset, copy_size)
        return code + self.store(invoke("MLOAD", 0)) + self.store(invoke("MLOAD", 32))

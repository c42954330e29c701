"""A tiny EVM assembler for the generated differential tests.

The opcode table is written out here rather than taken from parevm, so that a wrong byte in
parevm's own table cannot silently shape the tests that are meant to catch it.

`invoke(op, *args)` reads in call order, like the yellow paper: `invoke("SSTORE", 0, "CALLER")`
stores CALLER at slot 0. Each argument is an int (pushed), the name of an opcode that takes no
input (e.g. "GAS"), or bytes of code that leaves exactly one value; arguments are emitted last
first, so the first one ends up on top of the stack.
"""
from __future__ import annotations

from typing import Union

# name: (byte, stack inputs, stack outputs)
OPCODES: dict[str, tuple[int, int, int]] = {
    "STOP": (0x00, 0, 0), "ADD": (0x01, 2, 1), "MUL": (0x02, 2, 1), "SUB": (0x03, 2, 1),
    "DIV": (0x04, 2, 1), "SDIV": (0x05, 2, 1), "MOD": (0x06, 2, 1), "SMOD": (0x07, 2, 1),
    "ADDMOD": (0x08, 3, 1), "MULMOD": (0x09, 3, 1), "EXP": (0x0A, 2, 1), "SIGNEXTEND": (0x0B, 2, 1),
    "LT": (0x10, 2, 1), "GT": (0x11, 2, 1), "SLT": (0x12, 2, 1), "SGT": (0x13, 2, 1), "EQ": (0x14, 2, 1),
    "ISZERO": (0x15, 1, 1), "AND": (0x16, 2, 1), "OR": (0x17, 2, 1), "XOR": (0x18, 2, 1), "NOT": (0x19, 1, 1),
    "BYTE": (0x1A, 2, 1), "SHL": (0x1B, 2, 1), "SHR": (0x1C, 2, 1), "SAR": (0x1D, 2, 1), "CLZ": (0x1E, 1, 1),
    "KECCAK256": (0x20, 2, 1),
    "ADDRESS": (0x30, 0, 1), "BALANCE": (0x31, 1, 1), "ORIGIN": (0x32, 0, 1), "CALLER": (0x33, 0, 1),
    "CALLVALUE": (0x34, 0, 1), "CALLDATALOAD": (0x35, 1, 1), "CALLDATASIZE": (0x36, 0, 1),
    "CALLDATACOPY": (0x37, 3, 0), "CODESIZE": (0x38, 0, 1), "CODECOPY": (0x39, 3, 0), "GASPRICE": (0x3A, 0, 1),
    "EXTCODESIZE": (0x3B, 1, 1), "EXTCODECOPY": (0x3C, 4, 0), "RETURNDATASIZE": (0x3D, 0, 1),
    "RETURNDATACOPY": (0x3E, 3, 0), "EXTCODEHASH": (0x3F, 1, 1),
    "BLOCKHASH": (0x40, 1, 1), "COINBASE": (0x41, 0, 1), "TIMESTAMP": (0x42, 0, 1), "NUMBER": (0x43, 0, 1),
    "PREVRANDAO": (0x44, 0, 1), "GASLIMIT": (0x45, 0, 1), "CHAINID": (0x46, 0, 1), "SELFBALANCE": (0x47, 0, 1),
    "BASEFEE": (0x48, 0, 1), "BLOBHASH": (0x49, 1, 1), "BLOBBASEFEE": (0x4A, 0, 1),
    "POP": (0x50, 1, 0), "MLOAD": (0x51, 1, 1), "MSTORE": (0x52, 2, 0), "MSTORE8": (0x53, 2, 0),
    "SLOAD": (0x54, 1, 1), "SSTORE": (0x55, 2, 0), "JUMP": (0x56, 1, 0), "JUMPI": (0x57, 2, 0), "PC": (0x58, 0, 1),
    "MSIZE": (0x59, 0, 1), "GAS": (0x5A, 0, 1), "JUMPDEST": (0x5B, 0, 0), "TLOAD": (0x5C, 1, 1),
    "TSTORE": (0x5D, 2, 0), "MCOPY": (0x5E, 3, 0), "PUSH0": (0x5F, 0, 1),
    **{f"PUSH{n}": (0x5F + n, 0, 1) for n in range(1, 33)},
    **{f"DUP{n}": (0x7F + n, n, n + 1) for n in range(1, 17)},
    **{f"SWAP{n}": (0x8F + n, n + 1, n + 1) for n in range(1, 17)},
    **{f"LOG{n}": (0xA0 + n, n + 2, 0) for n in range(5)},
    "CREATE": (0xF0, 3, 1), "CALL": (0xF1, 7, 1), "CALLCODE": (0xF2, 7, 1), "RETURN": (0xF3, 2, 0),
    "DELEGATECALL": (0xF4, 6, 1), "CREATE2": (0xF5, 4, 1), "STATICCALL": (0xFA, 6, 1), "REVERT": (0xFD, 2, 0),
    "INVALID": (0xFE, 0, 0), "SELFDESTRUCT": (0xFF, 1, 0),
}

Arg = Union[int, str, bytes]


def op(name: str) -> bytes:
    return bytes((OPCODES[name][0],))


def push(value: int, width: int | None = None) -> bytes:
    """The shortest push of `value` (PUSH0 for zero), or a PUSH`width` when given (for patching)."""
    if value < 0 or value >= 1 << 256:
        raise ValueError(f"cannot push {value}")
    if width is None:
        width = (value.bit_length() + 7) // 8
        if width == 0:
            return b"\x5f"
    return bytes((0x5F + width,)) + value.to_bytes(width, "big")


def _arg(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        if OPCODES[arg][1:] != (0, 1):
            raise ValueError(f"{arg} does not produce exactly one value from nothing")
        return op(arg)
    return push(arg)


def stack_args(*args: Arg) -> bytes:
    """Code that leaves `args` on the stack, the first on top."""
    return b"".join(_arg(a) for a in reversed(args))


def invoke(name: str, *args: Arg) -> bytes:
    """`name` applied to `args` (first argument on top of the stack)."""
    if len(args) != OPCODES[name][1]:
        raise ValueError(f"{name} takes {OPCODES[name][1]} arguments, got {len(args)}")
    return stack_args(*args) + op(name)


def sstore(slot: int, value: Arg) -> bytes:
    return invoke("SSTORE", slot, value)


def returning(runtime: bytes) -> bytes:
    """Init code that deploys `runtime` (copied from the init code's own tail)."""
    header_len = 0
    while True:  # the header's size depends on the pushes it contains; a few passes settle it
        header = invoke("CODECOPY", 0, header_len, len(runtime)) + invoke("RETURN", 0, len(runtime))
        if len(header) == header_len:
            return header + runtime
        header_len = len(header)

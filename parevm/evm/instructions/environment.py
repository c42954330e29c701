"""Execution environment: addresses, balances, call data, code, return data, gas price."""
from __future__ import annotations

from parevm.evm.frame import ReturnDataOutOfBounds
from parevm.evm.gas import COLD_ACCOUNT_ACCESS, COPY_WORD, WARM_ACCESS, charge, expand_memory
from parevm.evm.instructions import instruction
from parevm.primitives import to_address


def access_account(f, address: bytes) -> None:
    """EIP-2929: charge the warm or cold access cost (before Berlin the cost is static)."""
    if f.ctx.fork.eip2929:
        charge(f, COLD_ACCOUNT_ACCESS if f.state.warm_address(address) else WARM_ACCESS)


def copy_to_memory(f, dest: int, source: bytes, offset: int, size: int) -> None:
    """The *COPY family: `size` bytes of `source` from `offset`, zero-padded, into memory at `dest`."""
    charge(f, COPY_WORD * ((size + 31) >> 5))
    expand_memory(f, dest, size)
    if size:
        chunk = source[offset:offset + size] if offset < len(source) else b""
        if len(chunk) < size:
            chunk = bytes(chunk) + bytes(size - len(chunk))
        f.memory[dest:dest + size] = chunk


@instruction(0x30, "ADDRESS")
def address(f, s, pc):
    s.append(int.from_bytes(f.address, "big"))
    return pc + 1


@instruction(0x31, "BALANCE")
def balance(f, s, pc):
    target = to_address(s[-1])
    access_account(f, target)
    s[-1] = f.state.get_balance(target)
    return pc + 1


@instruction(0x32, "ORIGIN")
def origin(f, s, pc):
    s.append(int.from_bytes(f.ctx.origin, "big"))
    return pc + 1


@instruction(0x33, "CALLER")
def caller(f, s, pc):
    s.append(int.from_bytes(f.caller, "big"))
    return pc + 1


@instruction(0x34, "CALLVALUE")
def callvalue(f, s, pc):
    s.append(f.value)
    return pc + 1


@instruction(0x35, "CALLDATALOAD")
def calldataload(f, s, pc):
    offset = s[-1]
    data = f.data
    if offset >= len(data):
        s[-1] = 0
    else:
        word = data[offset:offset + 32]
        s[-1] = int.from_bytes(word, "big") << (8 * (32 - len(word)))
    return pc + 1


@instruction(0x36, "CALLDATASIZE")
def calldatasize(f, s, pc):
    s.append(len(f.data))
    return pc + 1


@instruction(0x37, "CALLDATACOPY")
def calldatacopy(f, s, pc):
    dest = s.pop()
    offset = s.pop()
    size = s.pop()
    copy_to_memory(f, dest, f.data, offset, size)
    return pc + 1


@instruction(0x38, "CODESIZE")
def codesize(f, s, pc):
    s.append(len(f.code.bytes))
    return pc + 1


@instruction(0x39, "CODECOPY")
def codecopy(f, s, pc):
    dest = s.pop()
    offset = s.pop()
    size = s.pop()
    copy_to_memory(f, dest, f.code.bytes, offset, size)
    return pc + 1


@instruction(0x3A, "GASPRICE")
def gasprice(f, s, pc):
    s.append(f.ctx.gas_price)
    return pc + 1


@instruction(0x3B, "EXTCODESIZE")
def extcodesize(f, s, pc):
    target = to_address(s[-1])
    access_account(f, target)
    s[-1] = len(f.state.get_code(target).bytes)
    return pc + 1


@instruction(0x3C, "EXTCODECOPY")
def extcodecopy(f, s, pc):
    target = to_address(s.pop())
    dest = s.pop()
    offset = s.pop()
    size = s.pop()
    access_account(f, target)
    copy_to_memory(f, dest, f.state.get_code(target).bytes, offset, size)
    return pc + 1


@instruction(0x3D, "RETURNDATASIZE")
def returndatasize(f, s, pc):
    s.append(len(f.return_data))
    return pc + 1


@instruction(0x3E, "RETURNDATACOPY")
def returndatacopy(f, s, pc):
    dest = s.pop()
    offset = s.pop()
    size = s.pop()
    if offset + size > len(f.return_data):
        raise ReturnDataOutOfBounds()
    copy_to_memory(f, dest, f.return_data, offset, size)
    return pc + 1


@instruction(0x3F, "EXTCODEHASH")
def extcodehash(f, s, pc):
    target = to_address(s[-1])
    access_account(f, target)
    state = f.state
    s[-1] = 0 if state.is_empty(target) else int.from_bytes(state.get_code(target).hash, "big")
    return pc + 1


@instruction(0x47, "SELFBALANCE")
def selfbalance(f, s, pc):
    s.append(f.state.get_balance(f.address))
    return pc + 1

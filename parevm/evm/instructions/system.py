"""System instructions: CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2, SELFDESTRUCT.

Calls and creates never recurse in Python: the handler prepares the child frame, stores where the
parent resumes, and raises SUSPEND; `parevm.evm.interpreter.run` runs the child and resumes the
parent with its result (`resume_parent`).
"""
from __future__ import annotations

from parevm.crypto import keccak256
from parevm.evm.frame import CALL_DEPTH_LIMIT, OUT_OF_GAS, SUSPEND, STOP, StaticViolation
from parevm.evm.gas import (CALL_STIPEND, CALL_VALUE, COLD_ACCOUNT_ACCESS, INITCODE_WORD, KECCAK_WORD,
                            MAX_INITCODE_SIZE, NEW_ACCOUNT, SELFDESTRUCT_NEW_ACCOUNT, WARM_ACCESS, charge,
                            expand_memory, expand_memory_two)
from parevm.evm.instructions import instruction
from parevm.primitives import to_address
from parevm.rlp import encode as rlp_encode
from parevm.state.code import code_of

_CALL, _CALLCODE, _DELEGATECALL, _STATICCALL = range(4)
MAX_NONCE = 2**64 - 1


def _resolve_code(f, address: bytes):
    """The code a call to `address` runs, with EIP-7702 delegation followed (and its access charged).

    Returns (code_address, code, precompiles_disabled)."""
    state = f.state
    code = state.get_code(address)
    delegate = code.delegate
    if delegate is None or not f.ctx.fork.eip7702:
        return address, code, False
    charge(f, COLD_ACCOUNT_ACCESS if state.warm_address(delegate) else WARM_ACCESS)
    return delegate, state.get_code(delegate), True


def _call(f, s, pc, kind: int) -> int:
    from parevm.evm.interpreter import new_frame

    requested = s.pop()
    target = to_address(s.pop())
    value = s.pop() if kind <= _CALLCODE else 0
    in_offset = s.pop()
    in_size = s.pop()
    out_offset = s.pop()
    out_size = s.pop()
    ctx = f.ctx
    fork = ctx.fork
    state = f.state

    # The rest of this block's static gas was charged on entry; a call may pay for it with gas its
    # child hands back (the value stipend is free), so give it back while pricing the call.
    rest_of_block = f.args[pc]
    f.gas += rest_of_block
    expand_memory_two(f, in_offset, in_size, out_offset, out_size)
    extra = 0
    if fork.eip2929:
        extra += COLD_ACCOUNT_ACCESS if state.warm_address(target) else WARM_ACCESS
    code_address, code, precompiles_disabled = _resolve_code(f, target)
    if kind == _CALL and (not state.is_alive(target) if fork.eip158 and value else
                          (not fork.eip158 and not state.exists(target))):
        extra += NEW_ACCOUNT
    if value:
        extra += CALL_VALUE
    charge(f, extra)
    if kind == _CALL and value and f.is_static:
        raise StaticViolation("CALL with value in static context")

    available = f.gas
    if fork.eip150:
        child_gas = min(requested, available - available // 64)
    else:
        if requested > available:
            raise OUT_OF_GAS
        child_gas = requested
    # may go below zero until the child returns its unused gas (checked in the interpreter's resume)
    f.gas -= child_gas + rest_of_block
    f.return_data = b""
    if value:
        child_gas += CALL_STIPEND

    if kind == _DELEGATECALL:
        caller, address, value, transfers = f.caller, f.address, f.value, False
    elif kind == _CALLCODE:
        caller, address, transfers = f.address, f.address, True
    else:
        caller, address, transfers = f.address, target, True
    if (transfers and value and state.get_balance(f.address) < value) or f.depth + 1 > CALL_DEPTH_LIMIT:
        f.gas += child_gas
        if f.gas < 0:
            raise OUT_OF_GAS
        s.append(0)
        return pc + 1

    child = new_frame(ctx, caller=caller, address=address, code_address=code_address, code=code, gas=child_gas,
                      value=value, data=bytes(f.memory[in_offset:in_offset + in_size]) if in_size else b"",
                      is_static=f.is_static or kind == _STATICCALL, depth=f.depth + 1, transfers_value=transfers)
    if not precompiles_disabled:
        child.precompile = ctx.precompiles.get(code_address)
    child.ret_offset = out_offset
    child.ret_size = out_size
    f.child = child
    f.pc = pc + 1
    raise SUSPEND


@instruction(0xF1, "CALL")
def call(f, s, pc):
    return _call(f, s, pc, _CALL)


@instruction(0xF2, "CALLCODE")
def callcode(f, s, pc):
    return _call(f, s, pc, _CALLCODE)


@instruction(0xF4, "DELEGATECALL")
def delegatecall(f, s, pc):
    return _call(f, s, pc, _DELEGATECALL)


@instruction(0xFA, "STATICCALL")
def staticcall(f, s, pc):
    return _call(f, s, pc, _STATICCALL)


def _create(f, s, pc, value: int, offset: int, size: int, address_of) -> int:
    """The shared part of CREATE and CREATE2; `address_of(initcode)` gives the new address."""
    from parevm.evm.interpreter import new_frame

    ctx = f.ctx
    fork = ctx.fork
    state = f.state
    if fork.eip3860:
        if size > MAX_INITCODE_SIZE:
            raise OUT_OF_GAS
        charge(f, INITCODE_WORD * ((size + 31) >> 5))
    expand_memory(f, offset, size)
    initcode = bytes(f.memory[offset:offset + size]) if size else b""
    address = address_of(initcode)

    available = f.gas + f.args[pc]
    child_gas = available - available // 64 if fork.eip150 else available
    f.gas -= child_gas
    if f.is_static:
        raise StaticViolation("CREATE in static context")
    f.return_data = b""
    creator = f.address
    if state.get_balance(creator) < value or state.get_nonce(creator) == MAX_NONCE \
            or f.depth + 1 > CALL_DEPTH_LIMIT:
        f.gas += child_gas
        s.append(0)
        return pc + 1
    if fork.eip2929:
        state.warm_address(address)
    if state.has_code_or_nonce(address) or (fork.eip7610 and state.has_storage(address)):
        state.increment_nonce(creator)  # collision: the creator's nonce still moves and the gas is gone
        s.append(0)
        if f.gas < 0:
            raise OUT_OF_GAS
        return pc + 1
    state.increment_nonce(creator)
    child = new_frame(ctx, caller=creator, address=address, code_address=address, code=code_of(initcode),
                      gas=child_gas, value=value, data=b"", is_static=False, depth=f.depth + 1,
                      transfers_value=True, is_create=True)
    f.child = child
    f.pc = pc + 1
    raise SUSPEND


def create_address(sender: bytes, nonce: int) -> bytes:
    return keccak256(rlp_encode([sender, nonce]))[12:]


def create2_address(sender: bytes, salt: int, initcode: bytes) -> bytes:
    return keccak256(b"\xff" + sender + salt.to_bytes(32, "big") + keccak256(initcode))[12:]


@instruction(0xF0, "CREATE")
def create(f, s, pc):
    value = s.pop()
    offset = s.pop()
    size = s.pop()
    nonce = f.state.get_nonce(f.address)
    return _create(f, s, pc, value, offset, size, lambda initcode: create_address(f.address, nonce))


@instruction(0xF5, "CREATE2")
def create2(f, s, pc):
    value = s.pop()
    offset = s.pop()
    size = s.pop()
    salt = s.pop()
    charge(f, KECCAK_WORD * ((size + 31) >> 5))
    return _create(f, s, pc, value, offset, size, lambda initcode: create2_address(f.address, salt, initcode))


@instruction(0xFF, "SELFDESTRUCT")
def selfdestruct(f, s, pc):
    beneficiary = to_address(s.pop())
    ctx = f.ctx
    fork = ctx.fork
    state = f.state
    originator = f.address
    cost = 0
    if fork.eip2929 and state.warm_address(beneficiary):
        cost += COLD_ACCOUNT_ACCESS
    if fork.eip158:
        if state.get_balance(originator) and not state.is_alive(beneficiary):
            cost += SELFDESTRUCT_NEW_ACCOUNT
    elif fork.eip150 and not state.exists(beneficiary):
        cost += SELFDESTRUCT_NEW_ACCOUNT
    if fork.selfdestruct_refund and originator not in state.destructed:
        ctx.refund += fork.selfdestruct_refund
    charge(f, cost)
    if f.is_static:
        raise StaticViolation("SELFDESTRUCT in static context")
    balance = state.get_balance(originator)
    if fork.eip6780:
        if beneficiary != originator and balance:
            state.sub_balance(originator, balance)
            state.add_balance(beneficiary, balance)
        if originator in state.created:
            state.set_balance(originator, 0)
            state.mark_destructed(originator)
    else:
        if balance or not fork.eip158:  # before EIP-161 even a zero credit creates the beneficiary
            state.add_balance(beneficiary, balance)
        state.set_balance(originator, 0)
        state.mark_destructed(originator)
    if fork.touch_cleanup and state.exists(beneficiary) and state.is_empty(beneficiary):
        state.touch(beneficiary)
    raise STOP

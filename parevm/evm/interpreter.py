"""The interpreter: runs a message and all the frames it spawns, without Python recursion.

A CALL or CREATE does not recurse: its handler builds the child frame and raises `Suspend`;
`run` switches to the child and, when the child ends, resumes the parent where it stopped.
Call depth 1024 therefore never touches Python's recursion limit.
"""
from __future__ import annotations

from parevm.evm.analysis import analyze
from parevm.evm.frame import ExceptionalHalt, Frame, Revert, Stop, Suspend, TxContext
from parevm.evm.gas import CODE_DEPOSIT_BYTE
from parevm.evm.precompiles import PrecompileError
from parevm.state.code import Code, code_of

SUCCESS, REVERTED, FAILED = 0, 1, 2
RIPEMD160_ADDRESS = (3).to_bytes(20, "big")


def new_frame(ctx: TxContext, *, caller: bytes, address: bytes, code_address: bytes, code: Code, gas: int,
              value: int, data: bytes, is_static: bool, depth: int, transfers_value: bool,
              is_create: bool = False) -> Frame:
    """Open a message frame: snapshot, account creation or touch, value transfer.

    The caller has already checked balance, depth and (for creates) address collisions."""
    f = Frame(ctx, code, gas, caller, address, code_address, value, data, is_static, depth, is_create)
    state = ctx.state
    f.snapshot = state.snapshot()
    f.logs_mark = len(ctx.logs)
    f.refund_mark = ctx.refund
    fork = ctx.fork
    if is_create:
        state.create_account(address, 1 if fork.eip158 else 0)
    elif not fork.proof_of_stake:
        state.create_if_absent(address)  # before the Merge a message creates its target (touch_account)
    if transfers_value and value:
        state.sub_balance(caller, value)
        state.add_balance(address, value)
    return f


def run(f: Frame) -> Frame:
    """Run `f` and every frame it spawns to completion; returns `f` with status, gas left and output."""
    status = _start(f)
    while True:
        if status is None:
            status = _step(f)
            if status is None:  # suspended on a child frame
                child = f.child
                child.parent = f
                f = child
                status = _start(f)
                continue
        _complete(f, status)
        parent = f.parent
        if parent is None:
            return f
        status = _resume(parent, f)
        f = parent


def _step(f: Frame) -> int | None:
    """The dispatch loop: run until the frame ends (its status) or suspends on a child (None)."""
    ops = f.ops
    s = f.stack
    pc = f.pc
    try:
        while True:
            pc = ops[pc](f, s, pc)
    except Suspend as signal:
        signal.__traceback__ = None  # the signals are shared instances: drop the frames they collected
        return None
    except Stop as signal:
        signal.__traceback__ = None
        return SUCCESS
    except Revert as signal:
        signal.__traceback__ = None
        return REVERTED
    except (ExceptionalHalt, IndexError) as halt:  # IndexError: a pop from an empty stack (underflow)
        halt.__traceback__ = None
        return FAILED


def _start(f: Frame) -> int | None:
    """Enter a frame: run a precompile outright, or decode the code and charge the first block."""
    precompile = f.precompile
    if precompile is not None:
        cost = precompile.gas(f.data)
        if cost > f.gas:
            return FAILED
        try:
            f.output = precompile.run(f.data)
        except PrecompileError:
            return FAILED
        f.gas -= cost
        return SUCCESS
    code = f.code
    if not code.bytes:
        return SUCCESS
    analysis = analyze(code, f.ctx.fork)
    f.ops = analysis.ops
    f.jumpdests = analysis.jumpdests
    f.args = analysis.args
    if not analysis.start(f):  # the first block alone needs more gas or stack than there is
        return FAILED
    return None


def _complete(f: Frame, status: int) -> None:
    """Settle a finished frame: deposit created code, or roll back its changes."""
    ctx = f.ctx
    state = f.state
    fork = ctx.fork
    if status == SUCCESS and f.is_create:
        status = _deposit_code(f)
    if status != SUCCESS:
        state.revert(f.snapshot)
        del ctx.logs[f.logs_mark:]
        ctx.refund = f.refund_mark
        if status == FAILED:
            f.gas = 0
            f.output = b""
    if fork.touch_cleanup and (status == SUCCESS or f.address == RIPEMD160_ADDRESS) \
            and state.exists(f.address) and state.is_empty(f.address):
        if f.address == RIPEMD160_ADDRESS:
            # Mainnet block 2,675,119 cleared the empty 0x03 although the call touching it was
            # reverted; clients keep that history: a touch of 0x03 survives every revert.
            state.touched.add(RIPEMD160_ADDRESS)
        else:
            state.touch(f.address)
    f.status = status


def _deposit_code(f: Frame) -> int:
    code = f.output
    fork = f.ctx.fork
    if fork.eip3541 and code[:1] == b"\xef":
        return FAILED
    cost = CODE_DEPOSIT_BYTE * len(code)
    if cost > f.gas:
        if not fork.homestead:  # Frontier: the contract is created, without code
            f.output = b""
            return SUCCESS
        return FAILED
    if fork.eip170_code_size_limit is not None and len(code) > fork.eip170_code_size_limit:
        return FAILED
    f.gas -= cost
    f.state.set_code(f.address, code_of(code))
    return SUCCESS


def _resume(parent: Frame, child: Frame) -> int | None:
    """Hand a finished child's result to its parent; None lets the parent continue."""
    parent.gas += child.gas
    status = child.status
    if child.is_create:
        parent.stack.append(int.from_bytes(child.address, "big") if status == SUCCESS else 0)
        parent.return_data = child.output if status == REVERTED else b""
    else:
        output = child.output
        parent.return_data = output
        parent.stack.append(1 if status == SUCCESS else 0)
        size = min(child.ret_size, len(output))
        if size:
            parent.memory[child.ret_offset:child.ret_offset + size] = output[:size]
    if parent.gas < 0:  # the rest of the block, charged in advance, cannot be paid after all
        return FAILED
    return None

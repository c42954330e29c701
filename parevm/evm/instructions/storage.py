"""SLOAD, SSTORE (every fork's metering: Frontier, EIP-1283, EIP-2200, EIP-2929/3529), TLOAD, TSTORE (EIP-1153)."""
from __future__ import annotations

from parevm.evm.frame import OUT_OF_GAS, StaticViolation
from parevm.evm.gas import COLD_SLOAD, SSTORE_RESET, SSTORE_SENTRY, SSTORE_SET, WARM_ACCESS, charge
from parevm.evm.instructions import instruction

# net-metering parameters per rule: (cost of a no-op/dirty write = SLOAD price, cost of a reset, sentry check)
_NET_METERING = {
    "eip1283": (200, SSTORE_RESET, False),
    "eip2200": (800, SSTORE_RESET, True),
    "eip2929": (WARM_ACCESS, SSTORE_RESET - COLD_SLOAD, True),
}


@instruction(0x54, "SLOAD")
def sload(f, s, pc):
    slot = s[-1]
    state = f.state
    if f.ctx.fork.eip2929:
        charge(f, COLD_SLOAD if state.warm_slot(f.address, slot) else WARM_ACCESS)
    s[-1] = state.get_storage(f.address, slot)
    return pc + 1


@instruction(0x55, "SSTORE")
def sstore(f, s, pc):
    slot = s.pop()
    value = s.pop()
    if f.is_static:
        raise StaticViolation("SSTORE in static context")
    state = f.state
    address = f.address
    fork = f.ctx.fork
    rule = fork.sstore_rule
    current = state.get_storage(address, slot)
    if rule == "frontier":
        if value and not current:
            charge(f, SSTORE_SET)
        else:
            charge(f, SSTORE_RESET)
            if current and not value:
                f.ctx.refund += fork.sstore_clears_refund
    else:
        noop_cost, reset_cost, sentry = _NET_METERING[rule]
        if sentry and f.gas + f.args[pc] <= SSTORE_SENTRY:
            raise OUT_OF_GAS
        cost = COLD_SLOAD if rule == "eip2929" and state.warm_slot(address, slot) else 0
        original = state.get_original_storage(address, slot)
        clear_refund = fork.sstore_clears_refund
        refund = 0
        if current == value:
            cost += noop_cost
        elif original == current:
            cost += SSTORE_SET if original == 0 else reset_cost
            if original and not value:
                refund = clear_refund
        else:
            cost += noop_cost
            if original:
                if not current:
                    refund -= clear_refund
                elif not value:
                    refund += clear_refund
            if original == value:
                refund += (SSTORE_SET if original == 0 else reset_cost) - noop_cost
        charge(f, cost)
        if refund:
            f.ctx.refund += refund
    if current != value:
        state.set_storage(address, slot, value)
    return pc + 1


@instruction(0x5C, "TLOAD")
def tload(f, s, pc):
    s[-1] = f.state.get_transient(f.address, s[-1])
    return pc + 1


@instruction(0x5D, "TSTORE")
def tstore(f, s, pc):
    slot = s.pop()
    value = s.pop()
    if f.is_static:
        raise StaticViolation("TSTORE in static context")
    f.state.set_transient(f.address, slot, value)
    return pc + 1

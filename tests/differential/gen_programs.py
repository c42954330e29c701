"""Bytecode: the EIP-7939 CLZ opcode on its edge values, random programs, and the exact gas a
random program needs (`generate_gas_boundary`).

A random program is a sequence of statements, each an opcode with arguments chosen for its role:
numbers are drawn from interesting values (0, 1, powers of two and their neighbours, 2^255,
2^256-1, random words) or taken from results still on the stack; memory offsets and sizes are
mostly small, sometimes large, rarely absurd; addresses come from the accounts of the test and
the precompiles; call gas is all, some, or none. Results are often stored (so they reach the
state root) and otherwise left for later statements to consume. Forward JUMP/JUMPI skip over
stack-neutral sections, small loops repeat one, CREATE/CREATE2 deploy init code written to memory
first. The main program is called by the transaction and calls helper programs that may call it
back; a few programs are plain random bytes.
"""
from __future__ import annotations

import random

from evm_asm import OPCODES, invoke, op, push, returning, sstore, stack_args
from fixture_json import TestBuilder, Tx, authorization_json, delegation
from parevm.tx import sign_authorization

INTERESTING = [0, 1, 2, 3, 31, 32, 33, 255, 256, 2**64 - 1, 2**64, 2**128, 2**255 - 1, 2**255, 2**255 + 1,
               2**256 - 1, 2**256 - 2]
PRECOMPILES = [*range(1, 0x12), 0x100]

# opcode: roles of its arguments, first argument first
ROLES: dict[str, tuple[str, ...]] = {
    **{name: ("num", "num") for name in (
        "ADD", "MUL", "SUB", "DIV", "SDIV", "MOD", "SMOD", "LT", "GT", "SLT", "SGT", "EQ", "AND", "OR", "XOR")},
    "ADDMOD": ("num", "num", "num"), "MULMOD": ("num", "num", "num"), "EXP": ("num", "num"),
    "SIGNEXTEND": ("small", "num"), "BYTE": ("small", "num"), "SHL": ("shift", "num"), "SHR": ("shift", "num"),
    "SAR": ("shift", "num"), "ISZERO": ("num",), "NOT": ("num",), "CLZ": ("num",),
    "KECCAK256": ("offset", "size"),
    **{name: () for name in (
        "ADDRESS", "ORIGIN", "CALLER", "CALLVALUE", "CALLDATASIZE", "CODESIZE", "GASPRICE", "RETURNDATASIZE",
        "COINBASE", "TIMESTAMP", "NUMBER", "PREVRANDAO", "GASLIMIT", "CHAINID", "SELFBALANCE", "BASEFEE",
        "BLOBBASEFEE", "PC", "MSIZE", "GAS")},
    "BALANCE": ("address",), "EXTCODESIZE": ("address",), "EXTCODEHASH": ("address",),
    "CALLDATALOAD": ("small",), "CALLDATACOPY": ("offset", "small", "size"), "CODECOPY": ("offset", "small", "size"),
    "EXTCODECOPY": ("address", "offset", "small", "size"),
    "RETURNDATACOPY": ("offset", "returndata_offset", "returndata_size"),
    "BLOCKHASH": ("block",), "BLOBHASH": ("tiny",),
    "MLOAD": ("offset",), "MSTORE": ("offset", "num"), "MSTORE8": ("offset", "num"),
    "SLOAD": ("key",), "SSTORE": ("key", "num"), "TLOAD": ("key",), "TSTORE": ("key", "num"),
    "MCOPY": ("offset", "offset", "size"),
    **{f"LOG{n}": ("offset", "size") + ("num",) * n for n in range(5)},
    "CALL": ("gas", "address", "wei", "offset", "size", "offset", "size"),
    "CALLCODE": ("gas", "address", "wei", "offset", "size", "offset", "size"),
    "DELEGATECALL": ("gas", "address", "offset", "size", "offset", "size"),
    "STATICCALL": ("gas", "address", "offset", "size", "offset", "size"),
}
WEIGHTS = {name: 1.0 for name in ROLES}
WEIGHTS.update({"SSTORE": 4, "SLOAD": 2, "MSTORE": 3, "CALL": 3, "STATICCALL": 2, "DELEGATECALL": 2, "CALLCODE": 1,
                "CLZ": 0.05, "LOG0": 0.5, "LOG4": 0.5, "TSTORE": 2, "TLOAD": 2, "KECCAK256": 2, "EXP": 2})
TERMINATORS = {"STOP": 3, "RETURN": 4, "REVERT": 2, "INVALID": 1, "SELFDESTRUCT": 1, "fall_off": 2,
               "bad_jump": 0.5, "unassigned": 0.5}


class ProgramBuilder:
    """Emits one random program; tracks the stack depth so statements mostly find their arguments."""

    MAX_DEPTH = 12

    def __init__(self, rng: random.Random, addresses: list[bytes], *, first_slot: int = 0, hazards: bool = False):
        self.rng = rng
        self.addresses = addresses
        self.code = bytearray()
        self.depth = 0
        self.floor = 0  # stack items below this belong to an enclosing construct
        self.next_slot = first_slot
        # memory offsets and sizes that run out of gas at once: in a few programs only, or few would finish
        self.huge_memory = 0.03 if hazards else 0.0

    def number(self) -> int:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return rng.choice(INTERESTING)
        if roll < 0.55:
            k = rng.randrange(256)
            return (1 << k) + rng.choice((-1, 0, 0, 1)) if k else 1
        if roll < 0.75:
            return rng.randrange(64)
        if roll < 0.85:
            return int.from_bytes(rng.choice(self.addresses), "big")
        return rng.randrange(2 ** (8 * rng.choice((1, 2, 4, 8, 20, 32))))

    def value_for(self, role: str) -> int | str:
        """A fresh argument for `role` (an int to push, or the name of an opcode producing it)."""
        rng = self.rng
        roll = rng.random()
        if role == "num":
            return self.number() if roll < 0.85 else rng.choice(("CALLVALUE", "CALLDATASIZE", "GAS", "ADDRESS",
                                                                 "CALLER", "SELFBALANCE", "RETURNDATASIZE"))
        if role in ("small", "shift"):
            return rng.choice((0, 1, 8, 31, 32, 255, 256, 300)) if roll < 0.4 else rng.randrange(40)
        if role == "tiny":
            return rng.randrange(4) if roll < 0.9 else rng.randrange(100)
        if role == "returndata_offset":  # reading past the return data halts: mostly stay inside
            return 0 if roll < 0.95 else rng.randrange(40)
        if role == "returndata_size":
            return "RETURNDATASIZE" if roll < 0.95 else rng.randrange(40)
        if role == "offset":
            if roll < 0.75:
                return rng.randrange(256)
            if roll < 1 - self.huge_memory:
                return rng.randrange(4096)
            return rng.choice((30_000, 2**32, 2**64, 2**256 - 1))
        if role == "size":
            if roll < 0.2:
                return 0
            if roll < 0.85:
                return rng.randint(1, 96)
            if roll < 1 - self.huge_memory:
                return rng.randrange(1024)
            return rng.choice((20_000, 2**32, 2**256 - 1))
        if role == "address":
            return rng.choice(("ADDRESS", "CALLER", "ORIGIN", "COINBASE")) if roll < 0.15 else \
                int.from_bytes(rng.choice(self.addresses), "big")
        if role == "gas":
            # all the gas, rarely: a callee that halts would burn it
            if roll < 0.12:
                return rng.choice(("GAS", 2**256 - 1))
            return rng.choice((0, 100, 2300, 10_000, 30_000, 100_000))
        if role == "wei":
            return rng.choice((0, 0, 0, 1, 1000, "CALLVALUE", "SELFBALANCE"))
        if role == "key":
            return rng.randrange(8) if roll < 0.9 else rng.randrange(2**256)
        if role == "block":
            return rng.choice((0, 0, 1, 2, 257, 2**256 - 1))
        raise ValueError(role)

    def emit(self, code: bytes, pops: int, pushes: int) -> None:
        self.code += code
        self.depth += pushes - pops

    def statement(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04 and self.depth - self.floor >= 1:
            n = rng.randint(1, min(16, self.depth - self.floor))
            self.emit(op(f"DUP{n}"), 0, 1)
        elif roll < 0.08 and self.depth - self.floor >= 2:
            self.emit(op(f"SWAP{rng.randint(1, min(16, self.depth - self.floor - 1))}"), 0, 0)
        elif roll < 0.12:
            self.conditional_skip()
        elif roll < 0.14:
            self.loop()
        elif roll < 0.16:
            self.create()
        else:
            name = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            self.apply(name)
        if self.depth - self.floor > self.MAX_DEPTH:
            self.settle(self.floor + self.MAX_DEPTH // 2)

    def apply(self, name: str) -> None:
        """`name` with fresh arguments, except that numeric ones may come off the stack."""
        roles = ROLES[name]
        from_stack = 0
        while (from_stack < len(roles) and roles[-1 - from_stack] == "num"
               and self.depth - self.floor > from_stack and self.rng.random() < 0.4):
            from_stack += 1
        fresh = [self.value_for(role) for role in roles[: len(roles) - from_stack]]
        for i in range(len(fresh) - 1):  # an empty range costs no memory, wherever it starts
            if roles[i:i + 2] == ("offset", "size") and fresh[i + 1] == 0 and self.rng.random() < 0.3:
                fresh[i] = self.rng.choice((2**32, 2**64, 2**256 - 1))
        outputs = OPCODES[name][2]
        self.emit(stack_args(*fresh) + op(name), from_stack, outputs)
        if outputs and self.rng.random() < 0.45:
            self.store_top()

    def store_top(self) -> None:
        self.emit(push(self.next_slot) + op("SSTORE"), 1, 0)
        self.next_slot += 1

    def settle(self, depth: int) -> None:
        """Stores or pops down to `depth`."""
        while self.depth > depth:
            if self.rng.random() < 0.5:
                self.store_top()
            else:
                self.emit(op("POP"), 1, 0)

    def section(self, statements: int) -> None:
        """Stack-neutral statements: they neither use nor leave anything below/above the current depth."""
        saved_floor, self.floor = self.floor, self.depth
        for _ in range(statements):
            self.statement()
        self.settle(self.floor)
        self.floor = saved_floor

    def conditional_skip(self) -> None:
        """JUMPI (or JUMP) forward over a stack-neutral section to a JUMPDEST."""
        if self.rng.random() < 0.8:
            self.code += stack_args(self.rng.choice((0, 1, "CALLVALUE", "CALLDATASIZE", self.number())))
            jump = op("JUMPI")
        else:
            jump = op("JUMP")
        patch = len(self.code) + 1  # the PUSH2's operand
        self.code += push(0, 2) + jump
        self.section(self.rng.randint(1, 5))
        self.code[patch:patch + 2] = len(self.code).to_bytes(2, "big")
        self.code += op("JUMPDEST")

    def loop(self) -> None:
        """A counted loop (1 to 5 rounds) around a stack-neutral section."""
        self.emit(push(self.rng.randint(1, 5)), 0, 1)
        start = len(self.code)
        self.code += op("JUMPDEST")
        self.section(self.rng.randint(1, 4))
        self.code += push(1) + op("SWAP1") + op("SUB") + op("DUP1") + push(start, 2) + op("JUMPI")
        self.emit(op("POP"), 1, 0)

    def create(self) -> None:
        """CREATE or CREATE2 of init code written to memory at a random offset, then perhaps a call
        into the new contract (which may self-destruct: EIP-6780 deletes it, created in this tx).
        The new address and the call's success are stored."""
        rng = self.rng
        # init code that halts, or deploys code starting with 0xEF, burns all the gas it was given: rarely
        runtime = rng.choices((b"", sstore(0, 1), invoke("RETURN", 0, 32), rng.randbytes(8),
                               invoke("SELFDESTRUCT", "CALLER"), b"\xef\x00"), weights=(3, 3, 3, 3, 3, 1))[0]
        init = rng.choices((returning(runtime), invoke("REVERT", 0, 8), sstore(1, "CALLVALUE") + returning(runtime),
                            rng.randbytes(12)), weights=(8, 1, 3, 1))[0]
        offset = rng.randrange(256)
        for i in range(0, len(init), 32):
            word = init[i:i + 32]
            self.code += invoke("MSTORE", offset + i, int.from_bytes(word.ljust(32, b"\0"), "big"))
        value = self.value_for("wei")
        if rng.random() < 0.5:
            self.code += invoke("CREATE", value, offset, len(init))
        else:
            self.code += invoke("CREATE2", value, offset, len(init), rng.choice((0, 1, self.number())))
        self.depth += 1
        if rng.random() < 0.5:  # CALL(gas, new address (DUP6, under the five arguments), value, 0, 0, 0, 0)
            self.code += stack_args(rng.choice((0, 1)), 0, 0, 0, 0) + op("DUP6") + push(50_000) + op("CALL")
            self.depth += 1
            self.store_top()
        self.store_top()

    def terminate(self) -> None:
        rng = self.rng
        end = rng.choices(list(TERMINATORS), weights=list(TERMINATORS.values()))[0]
        if end in ("RETURN", "REVERT"):
            self.code += invoke(end, rng.randrange(128), rng.choice((0, 1, 32, 64, 100)))
        elif end == "SELFDESTRUCT":
            self.code += invoke("SELFDESTRUCT", int.from_bytes(rng.choice(self.addresses), "big"))
        elif end == "bad_jump":
            self.code += invoke("JUMP", rng.randrange(len(self.code) + 2))  # rarely a JUMPDEST
        elif end == "unassigned":
            self.code += bytes((rng.choice((0x0C, 0x21, 0x4B, 0xA5, 0xB0, 0xEF, 0xF6, 0xFB)),))
        elif end != "fall_off":
            self.code += op(end)

    def program(self, statements: int, *, end: bytes | None = None) -> bytes:
        """`statements` random statements, then `end` or a random way to stop."""
        for _ in range(statements):
            self.statement()
        if end is None:
            self.terminate()
        else:
            self.code += end
        return bytes(self.code)


class World:
    """The accounts random programs live among: helper programs to call, an EOA, a contract with
    storage, precompiles, an account that may be delegated; `main` is left for the caller to fill."""

    def __init__(self, b: TestBuilder, rng: random.Random):
        self.sender_key, self.sender = b.funded_sender()
        self.helpers = [b.new_address() for _ in range(rng.randint(1, 3))]
        self.main = b.new_address()
        eoa = b.account(b.new_address(), balance=rng.choice((1, 10**18)))
        stored = b.account(b.new_address(), balance=1, code=sstore(0, "CALLER"), storage={0: 1, 1: 2})
        self.delegated_key, self.delegated = b.new_key()  # delegated before the test, by the tx, or not at all
        self.pool = [self.main, *self.helpers, eoa, stored, self.sender, b.new_address(), bytes(20),
                     self.delegated, *(n.to_bytes(20, "big") for n in rng.sample(PRECOMPILES, 3))]
        if rng.random() < 0.3:  # executes the helper's code from Prague on
            b.account(self.delegated, balance=10**15, nonce=1, code=delegation(rng.choice(self.helpers)))
        for address in self.helpers:
            b.account(address, balance=rng.choice((0, 10**9)), nonce=1, code=_program(rng, self.pool, 5, 30),
                      storage={k: rng.randrange(1, 4) for k in range(rng.choice((0, 3)))})


def generate_random_program(rng: random.Random, name: str) -> dict:
    b = TestBuilder(rng, base_fee=rng.choice((7, 100)))
    world = World(b, rng)
    b.account(world.main, balance=rng.choice((0, 10**9)), nonce=1, code=_program(rng, world.pool, 20, 80),
              storage={k: rng.randrange(1, 4) for k in range(rng.choice((0, 4)))})

    forks = tuple(sorted(rng.sample(("Cancun", "Prague", "Osaka"), rng.choice((1, 2, 2, 3)))))
    tx_type = rng.choices((0, 1, 2, 4), weights=(1, 1, 3, 1 if "Cancun" not in forks else 0))[0]
    tx = Tx(sender_key=world.sender_key, to=world.main, type=tx_type, gas_limits=[rng.choice((1_000_000, 2_000_000, 4_000_000))],
            data=[rng.randbytes(rng.choice((0, 4, 32, 68, 100)))], values=[rng.choice((0, 1, 10**15))],
            **b.fee_caps())
    if tx_type:
        tx.access_list = [(a, [0, 1]) for a in rng.sample(world.pool, rng.choice((0, 1, 2)))]
    if tx_type == 4:
        tx.authorizations = [authorization_json(*sign_authorization(
            rng.choice((0, 1)), rng.choice(world.helpers + [world.main]), 0, world.delegated_key))]
    return b.build(name, forks, tx)


def _program(rng: random.Random, pool: list[bytes], low: int, high: int) -> bytes:
    if rng.random() < 0.05:
        return rng.randbytes(rng.randint(1, 64))
    builder = ProgramBuilder(rng, pool, first_slot=rng.choice((0, 0, 0x40)), hazards=rng.random() < 0.2)
    return builder.program(rng.randint(low, high))


def generate_clz(rng: random.Random, name: str) -> dict:
    """CLZ of 0, 2^k and neighbours, 2^256-1 and random words; forks without CLZ halt on it."""
    b = TestBuilder(rng)
    sender_key, _sender = b.funded_sender()
    values = [0, 1, 2**256 - 1, 2**255, 2**255 - 1]
    for _ in range(12):
        k = rng.randrange(256)
        values.append(max((1 << k) + rng.choice((-1, 0, 0, 1)), 0) % 2**256)
    values += [rng.randrange(2 ** (8 * rng.randint(1, 32))) for _ in range(4)]
    code = b"".join(sstore(i, invoke("CLZ", v)) for i, v in enumerate(rng.sample(values, len(values))))
    code += sstore(len(values), invoke("CLZ", invoke("CALLDATALOAD", 0)))
    code += op("GAS") + invoke("CLZ", 2**200) + op("POP") + op("GAS") + op("SWAP1") + op("SUB")
    code += push(len(values) + 1) + op("SSTORE")  # gas of GAS + PUSH + CLZ + POP
    if rng.random() < 0.1:
        code = op("CLZ") + code  # on an empty stack: underflow
    to = b.deploy(code)
    data = rng.choice((b"", bytes(32), (1 << rng.randrange(256)).to_bytes(32, "big"), rng.randbytes(32)))
    tx = Tx(sender_key=sender_key, to=to, data=[data], gas_limits=[1_000_000], **b.fee_caps())
    forks = ("Osaka",) if rng.random() < 0.7 else ("Prague", "Osaka")
    return b.build(name, forks, tx)


def _binary_search_prober(kind: str, callee: bytes, high: int) -> bytes:
    """Finds the least call gas in (0, high] with which `callee` reaches its end (it then reverts
    with 32 bytes of return data, so every probe leaves the state as it was) and stores it in slot 0;
    `high` when even that is not enough. Each probe is one `kind` call with exactly `mid` gas."""
    address = int.from_bytes(callee, "big")
    value = (0,) if kind in ("CALL", "CALLCODE") else ()
    code = bytearray(push(high) + push(0))  # [hi, lo]
    loop = len(code)
    code += op("JUMPDEST")
    code += op("DUP1") + op("DUP3") + op("SUB") + push(1) + op("LT") + op("ISZERO")  # hi - lo <= 1 ?
    end_patch = len(code) + 1
    code += push(0, 2) + op("JUMPI")
    code += op("DUP1") + op("DUP3") + op("ADD") + push(1) + op("SHR")  # [hi, lo, mid]
    arguments = stack_args(*value, 0, 0, 0, 0) + push(address)
    code += arguments + op(f"DUP{len(value) + 6}") + op(kind) + op("POP")  # the call gets exactly mid gas
    code += op("RETURNDATASIZE") + push(32) + op("EQ")
    reached_patch = len(code) + 1
    code += push(0, 2) + op("JUMPI")
    code += op("SWAP1") + op("POP") + push(loop, 2) + op("JUMP")  # not reached: lo = mid
    code[reached_patch:reached_patch + 2] = len(code).to_bytes(2, "big")
    code += op("JUMPDEST") + op("SWAP2") + op("POP") + push(loop, 2) + op("JUMP")  # reached: hi = mid
    code[end_patch:end_patch + 2] = len(code).to_bytes(2, "big")
    code += op("JUMPDEST") + op("POP") + push(0) + op("SSTORE")
    return bytes(code)


def generate_gas_boundary(rng: random.Random, name: str) -> dict:
    """The exact gas a random program needs, found by a binary search of calls in the EVM: any
    gas charged at a different moment (say, a basic block's static gas charged up front while
    CALL, GAS or the SSTORE 2300 sentry look at the gas left) moves the threshold."""
    b = TestBuilder(rng)
    world = World(b, rng)
    body = ProgramBuilder(rng, world.pool).program(rng.randint(3, 25), end=invoke("REVERT", 0, 32))
    b.account(world.main, balance=10**9, nonce=1, code=body, storage={0: 1, 1: 1})
    kind = rng.choice(("CALL", "CALL", "DELEGATECALL", "CALLCODE"))
    prober = b.deploy(_binary_search_prober(kind, world.main, 400_000), balance=10**9)
    tx = Tx(sender_key=world.sender_key, to=prober, gas_limits=[12_000_000], **b.fee_caps())
    forks = tuple(sorted(rng.sample(("Cancun", "Prague", "Osaka"), rng.choice((1, 2)))))
    return b.build(name, forks, tx)

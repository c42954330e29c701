"""Code analysis: jump destinations against a plain loop; compiled blocks against the state tests."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parevm.evm import analysis
from parevm.evm.analysis import jump_destinations
from parevm.evm.forks import CANCUN
from parevm.evm.frame import BlockEnv
from parevm.evm.instructions import INSTRUCTIONS
from parevm.evm.transaction import execute_transaction
from parevm.state.block_state import BlockState
from parevm.state.code import code_of
from parevm.state.tx_state import TxState
from parevm.statetest.runner import expand_paths, load_executor, run_files
from parevm.tx import Transaction


def _reference_jump_destinations(code: bytes) -> frozenset[int]:
    dests = set()
    pc = 0
    while pc < len(code):
        op = code[pc]
        if op == 0x5B:
            dests.add(pc)
        pc += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return frozenset(dests)


def test_jump_destinations_skip_push_data():
    assert jump_destinations(b"") == frozenset()
    assert jump_destinations(bytes.fromhex("5b605b5b")) == {0, 3}  # PUSH1 0x5b hides one
    assert jump_destinations(bytes.fromhex("7f" + "5b" * 32 + "5b")) == {33}
    assert jump_destinations(bytes.fromhex("5b7f5b5b")) == {0}  # PUSH32 truncated by the end of code


def test_jump_destinations_match_reference_on_random_code():
    rng = random.Random(1)
    # bytes biased to JUMPDEST and PUSHes, so immediates hide JUMPDESTs and run past the end
    alphabet = [0x5B, 0x5B, 0x60, 0x61, 0x63, 0x7F, 0x7E, 0x00, 0x01, 0x56, 0x57]
    for _ in range(3000):
        code = bytes(rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
                     for _ in range(rng.randrange(120)))
        assert jump_destinations(code) == _reference_jump_destinations(code), code.hex()


# Folders whose vectors cover control flow, stack limits, gas observation (GAS, CALL*, CREATE*,
# SSTORE) inside blocks, and random programs; about 15 s in all per threshold.
COMPILED_FOLDERS = (
    ("VMTests", "vmIOandFlowOperations"), ("VMTests", "vmArithmeticTest"),
    ("VMTests", "vmBitwiseLogicOperation"), ("stStackTests",), ("stMemoryTest",), ("stShift",),
    ("stEIP150singleCodeGasPrices",), ("stCallCodes",), ("stSStoreTest",), ("stRevertTest",),
    ("stReturnDataTest",), ("stCreate2",), ("stSystemOperationsTest",), ("stSolidityTest",),
    ("stRandom",), ("stRandom2",), ("Cancun",),
)


@pytest.mark.conformance
@pytest.mark.parametrize("hot", [1, 2])
@pytest.mark.parametrize("parts", COMPILED_FOLDERS, ids="/".join)
def test_state_tests_pass_with_blocks_compiled_early(parts, hot, fixture_path, monkeypatch):
    """The compiler otherwise sees only blocks entered HOT_BLOCK_ENTRIES times, which few vectors
    reach. At 1 every block is compiled on its first entry, alone; at 2 on its second, with the
    blocks it fell through into on the first."""
    monkeypatch.setattr(analysis, "HOT_BLOCK_ENTRIES", hot)
    files = expand_paths([fixture_path("ethereum-tests", "GeneralStateTests", *parts)])
    total = 0
    failures = []
    for result in run_files(files, load_executor()):  # in this process, so the patch applies
        total += len(result.vectors)
        failures.extend([result.error] if result.error is not None else [])
        failures.extend(f"{v.name} {v.fork} {v.index}: {v.error}" for v in result.vectors if not v.passed)
    assert total and not failures, "\n".join(failures[:20])


# Straight-line code the compiler writes inline (stack, arithmetic, memory, call data) or calls
# through handlers (GAS observes the gas left, ADDMOD and SLOAD are never inline), with
# JUMPDESTs that start new blocks: after either, the values are on the real stack, so DUP and
# SWAP reach below what the compiled code pushed itself.
_OPCODES = {name: opcode for name, (opcode, _) in INSTRUCTIONS.items()}
_INLINE_OPS = ["ADD", "MUL", "SUB", "DIV", "MOD", "LT", "GT", "SLT", "SGT", "EQ", "AND", "OR", "XOR", "SHL",
               "SHR", "BYTE", "ISZERO", "NOT", "POP", "PC", "MLOAD", "MSTORE", "CALLDATALOAD", "CALLDATASIZE",
               "CALLVALUE", "CALLER", "ADDRESS", "PUSH0"]
_STACK_OPS = [*(f"DUP{n}" for n in range(1, 17)), *(f"SWAP{n}" for n in range(1, 17))]
_REAL_STACK_OPS = ["GAS", "ADDMOD", "SLOAD", "JUMPDEST"]  # after these, every value is on the real stack


def _ops(names: list[str]):
    return st.sampled_from(names).map(lambda name: bytes([_OPCODES[name]]))


_instruction = st.one_of(
    _ops(_INLINE_OPS), _ops(_STACK_OPS), _ops(_REAL_STACK_OPS),
    st.integers(0, 255).map(lambda value: bytes([0x60, value])),  # PUSH1
    st.integers(0, 2**256 - 1).map(lambda value: b"\x7f" + value.to_bytes(32, "big")),  # PUSH32
)
_CONTRACT = bytes.fromhex("cc" * 20)
_SENDER = bytes.fromhex("11" * 20)


def _outcome(code: bytes, hot: int) -> tuple:
    """Run `code` as a call's code with blocks compiled on their `hot`-th entry: what it returned,
    spent and stored."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "HOT_BLOCK_ENTRIES", hot)
        return _run(code)


def _run(code: bytes) -> tuple:
    contract = code_of(code)
    contract.analyses.clear()  # (an earlier run's decoded or compiled form)
    backing = BlockState()
    backing.accounts = {_SENDER: (0, 10**18), _CONTRACT: (0, 0)}
    backing.codes = {_CONTRACT: contract}
    backing.storage = {_CONTRACT: {slot: slot * 7 + 1 for slot in range(4)}}
    env = BlockEnv(fork=CANCUN, chain_id=1, coinbase=bytes(20), number=1, timestamp=1, gas_limit=30_000_000)
    tx = Transaction(type=0, gas_price=1, gas_limit=1_000_000, to=_CONTRACT, nonce=0, chain_id=1, value=5,
                     data=bytes(range(40)))
    state = TxState(backing)
    result = execute_transaction(tx, _SENDER, state, env)
    return result.success, result.gas_used, result.output, state.writes().storage


@settings(max_examples=300, deadline=None)
@given(prefix=st.lists(st.integers(0, 2**256 - 1), min_size=16, max_size=16),
       body=st.lists(_instruction, min_size=10, max_size=80))
def test_compiled_blocks_equal_interpreted_ones_on_random_code(prefix, body):
    """Random straight-line code (16 values pushed first, so most programs get far) compiled on
    the first entry of each block, and then interpreted: the same success, gas, output and
    storage. The end stores the top 8 stack values and returns the first 96 bytes of memory,
    so the stack and memory the compiled code leaves are compared too."""
    values = b"".join(b"\x7f" + value.to_bytes(32, "big") if value > 255 else bytes([0x60, value])
                      for value in prefix)
    epilogue = b"".join(bytes([0x60, slot, _OPCODES["SSTORE"]]) for slot in range(8)) + bytes.fromhex("60605ff3")
    code = values + b"".join(body) + epilogue
    compiled = _outcome(code, 1)
    assert compiled == _outcome(code, 10**9), code.hex()

"""Known-answer tests from the official execution-spec state tests (EEST fixtures).

Each fixture is a full state test: a contract copies the call data into memory, calls a
precompile with a fixed gas amount, and stores the call's success flag, the output size,
the output's keccak (and for modexp the gas used) in storage. The EVM that would run these
is being written elsewhere, so this file replays the few opcodes those contracts use with a
tiny stack machine that sends the CALL to our precompiles, and compares the storage it
computes with the fixture's post-state. Gas is tracked only as far as the contracts look at
it (the GAS opcode around the call, the 63/64 rule, SSTORE running out of gas).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from parevm.config import fixtures_dir
from parevm.crypto import keccak256
from parevm.evm import precompiles as pc

EEST_FOLDERS = (
    ("prague", "eip2537_bls_12_381_precompiles"),
    ("osaka", "eip7951_p256verify_precompiles"),
    ("osaka", "eip7823_modexp_upper_bounds"),
    ("osaka", "eip7883_modexp_gas_increase"),
)

BERLIN = {
    0x01: pc.ECRECOVER,
    0x02: pc.SHA256,
    0x03: pc.RIPEMD160,
    0x04: pc.IDENTITY,
    0x05: pc.MODEXP_BERLIN,
    0x06: pc.BN254_ADD_ISTANBUL,
    0x07: pc.BN254_MUL_ISTANBUL,
    0x08: pc.BN254_PAIRING_ISTANBUL,
    0x09: pc.BLAKE2F,
}
CANCUN = BERLIN | {0x0A: pc.POINT_EVALUATION}
PRAGUE = CANCUN | {
    0x0B: pc.BLS12_G1ADD,
    0x0C: pc.BLS12_G1MSM,
    0x0D: pc.BLS12_G2ADD,
    0x0E: pc.BLS12_G2MSM,
    0x0F: pc.BLS12_PAIRING_CHECK,
    0x10: pc.BLS12_MAP_FP_TO_G1,
    0x11: pc.BLS12_MAP_FP2_TO_G2,
}
OSAKA = PRAGUE | {0x05: pc.MODEXP_OSAKA, 0x100: pc.P256VERIFY}
FORKS = {
    "Berlin": BERLIN,
    "London": BERLIN,
    "Paris": BERLIN,
    "Shanghai": BERLIN,
    "Cancun": CANCUN,
    "Prague": PRAGUE,
    "Osaka": OSAKA,
}

FIXTURE_FILES = sorted(
    path
    for fork, folder in EEST_FOLDERS
    for path in fixtures_dir().joinpath("eest-state-tests", fork, folder).glob("*.json")
)

WORD = 2**256
CALL, CALLCODE, DELEGATECALL, STATICCALL = 0xF1, 0xF2, 0xF4, 0xFA
COLD_SSTORE_SET = 22100


class Unsupported(Exception):
    """The contract uses an opcode this replay does not model: the vector is skipped."""


def intrinsic_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 21000 + 4 * zeros + 16 * (len(data) - zeros)


def replay(code: bytes, calldata: bytes, value: int, gas_limit: int, table) -> dict[int, int]:
    """Storage left by running `code`; {} when the transaction runs out of gas."""
    stack: list[int] = []
    memory = bytearray()
    storage: dict[int, int] = {}
    returndata = b""
    gas = gas_limit - intrinsic_gas(calldata)

    def memory_write(offset: int, chunk: bytes) -> None:
        if len(memory) < offset + len(chunk):
            memory.extend(bytes(offset + len(chunk) - len(memory)))
        memory[offset : offset + len(chunk)] = chunk

    pc_ = 0
    while pc_ < len(code):
        op = code[pc_]
        pc_ += 1
        if 0x60 <= op <= 0x7F:
            size = op - 0x5F
            stack.append(int.from_bytes(code[pc_ : pc_ + size], "big"))
            pc_ += size
            gas -= 3
        elif op == 0x00:
            break
        elif op == 0x01:
            stack.append((stack.pop() + stack.pop()) % WORD)
            gas -= 3
        elif op == 0x03:
            a = stack.pop()
            stack.append((a - stack.pop()) % WORD)
            gas -= 3
        elif op == 0x20:
            offset, size = stack.pop(), stack.pop()
            stack.append(int.from_bytes(keccak256(bytes(memory[offset : offset + size])), "big"))
        elif op == 0x34:
            stack.append(value)
            gas -= 2
        elif op == 0x36:
            stack.append(len(calldata))
            gas -= 2
        elif op == 0x37:
            dest, offset, size = stack.pop(), stack.pop(), stack.pop()
            memory_write(dest, calldata[offset : offset + size].ljust(size, b"\0"))
        elif op == 0x3D:
            stack.append(len(returndata))
            gas -= 2
        elif op == 0x3E:
            dest, offset, size = stack.pop(), stack.pop(), stack.pop()
            memory_write(dest, returndata[offset : offset + size])
        elif op == 0x51:
            offset = stack.pop()
            stack.append(int.from_bytes(bytes(memory[offset : offset + 32]).ljust(32, b"\0"), "big"))
        elif op == 0x55:
            key, val = stack.pop(), stack.pop()
            gas -= COLD_SSTORE_SET if val else 0
            if gas < 0:
                return {}
            storage[key] = val
        elif op == 0x5A:
            gas -= 2
            stack.append(gas)
        elif op == 0x80:
            stack.append(stack[-1])
            gas -= 3
        elif op == 0x90:
            stack[-1], stack[-2] = stack[-2], stack[-1]
            gas -= 3
        elif op in (CALL, CALLCODE, DELEGATECALL, STATICCALL):
            requested, address = stack.pop(), stack.pop()
            call_value = stack.pop() if op in (CALL, CALLCODE) else 0
            args_offset, args_size, ret_offset, ret_size = (stack.pop() for _ in range(4))
            gas -= 100 + (9000 if call_value else 0)
            callee_gas = min(requested, gas - gas // 64)
            gas -= callee_gas
            if call_value:
                callee_gas += 2300
            data = bytes(memory[args_offset : args_offset + args_size]).ljust(args_size, b"\0")
            success, returndata, left = run_precompile(table.get(address), data, callee_gas)
            gas += left
            memory_write(ret_offset, returndata[:ret_size])
            stack.append(int(success))
        else:
            raise Unsupported(hex(op))
    return {key: val for key, val in storage.items() if val}


def run_precompile(precompile, data: bytes, gas: int) -> tuple[bool, bytes, int]:
    """(success, output, gas left) the way the interpreter will drive a Precompile."""
    if precompile is None:  # no precompile (or code) at that address: an empty call
        return True, b"", gas
    cost = precompile.gas(data)
    if cost > gas:
        return False, b"", 0
    try:
        return True, precompile.run(data), gas - cost
    except pc.PrecompileError:
        return False, b"", 0


def vectors(path: Path):
    """(name, code, calldata, value, gas limit, precompile table, expected storage)."""
    for name, test in json.loads(path.read_text()).items():
        tx = test["transaction"]
        target = tx.get("to")
        code = bytes.fromhex(test["pre"].get(target, {}).get("code", "0x")[2:]) if target else b""
        if not code:
            continue  # contract creation or a transaction straight to a precompile
        for fork, results in test["post"].items():
            if fork not in FORKS:
                continue
            for result in results:
                index = result["indexes"]
                account = result["state"].get(target, {})
                expected = {int(k, 16): int(v, 16) for k, v in account.get("storage", {}).items()}
                yield (
                    f"{name}[{fork}:{index['data']}/{index['gas']}/{index['value']}]",
                    code,
                    bytes.fromhex(tx["data"][index["data"]][2:]),
                    int(tx["value"][index["value"]], 16),
                    int(tx["gasLimit"][index["gas"]], 16),
                    FORKS[fork],
                    {k: v for k, v in expected.items() if v},
                )


@pytest.mark.parametrize("fork, folder", EEST_FOLDERS)
def test_fixture_folder_present(fixture_path, fork: str, folder: str):
    assert any(fixture_path("eest-state-tests", fork, folder).glob("*.json"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_file(path: Path):
    checked = 0
    mismatches = []
    for name, code, calldata, value, gas_limit, table, expected in vectors(path):
        try:
            got = replay(code, calldata, value, gas_limit, table)
        except Unsupported:
            continue
        checked += 1
        if got != expected:
            mismatches.append(f"{name}: expected {expected}, got {got}")
    if checked == 0:
        pytest.skip("no vector in this file is a plain precompile call")
    assert not mismatches, f"{len(mismatches)}/{checked} vectors differ:\n" + "\n".join(mismatches[:10])

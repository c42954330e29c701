"""Transaction-level rules: the EIP-7623 calldata floor, the EIP-7825 gas cap, blob transactions
(EIP-4844, EIP-7691 limits, EIP-7594 per-transaction cap) and the validity checks every
transaction goes through (nonce, balance, fees, sender code, gas limits).

Gas limits are put on the boundaries the rules draw (floor - 1, floor, intrinsic - 1, 2^24,
2^24 + 1, ...) as several gas indexes of one test, so each boundary is its own vector.
"""
from __future__ import annotations

import random

from contracts import Recorder
from evm_asm import invoke, op, push, returning, sstore
from fixture_json import RICH, TestBuilder, Tx, delegation, floor_gas, intrinsic_gas

GAS_CAP = 1 << 24  # EIP-7825
GAS_PER_BLOB = 1 << 17
BLOB_FEE_FRACTIONS = {"Cancun": 3_338_477, "Prague": 5_007_716, "Osaka": 5_007_716}
MAX_INITCODE_SIZE = 2 * 24576


def _gas_burner(rng: random.Random) -> tuple[bytes, dict[int, int]]:
    """Code that loops a random number of times and clears pre-set slots (refunds), and its storage."""
    iterations = rng.choice((1, 10, 200, 2000))
    loop_start = len(push(iterations))  # the JUMPDEST's offset
    code = push(iterations) + op("JUMPDEST")
    code += push(1) + op("SWAP1") + op("SUB") + op("DUP1") + push(loop_start) + op("JUMPI")
    slots = {slot: rng.randint(1, 9) for slot in range(rng.choice((0, 0, 1, 5)))}
    code += b"".join(sstore(slot, 0) for slot in slots)  # EIP-3529 refunds, capped at a fifth
    return code + sstore(0x100, "GAS"), slots


def generate_calldata_floor(rng: random.Random, name: str) -> dict:
    b = TestBuilder(rng)
    sender_key, _sender = b.funded_sender()
    heavy = rng.random() < 0.5
    size = rng.choice((200, 1000, 4000, 20000)) if heavy else rng.choice((0, 4, 36, 100))
    data = bytes(rng.choice((0, 0, rng.randrange(256))) for _ in range(size))
    kind = rng.choices(("burner", "eoa", "create"), weights=(5, 2, 2))[0]
    if kind == "create":
        to = None
        data = returning(b"\x00" * rng.randint(0, 3)) + data  # the tail after RETURN is never executed
    elif kind == "eoa":
        to = b.account(b.new_address(), balance=1)
    else:
        code, storage = _gas_burner(rng)
        to = b.deploy(code, storage=storage)
    tx_type = rng.choice((0, 1, 2))
    access_list = [(b.new_address(), [1, 2])] if tx_type and rng.random() < 0.3 else None
    intrinsic = intrinsic_gas(data, create=to is None, access_list=access_list)
    floor = floor_gas(data)
    limits = {floor - 1, floor, intrinsic - 1, intrinsic, max(floor, intrinsic) + rng.randint(1, 5000),
              max(floor, intrinsic) + 300_000}
    tx = Tx(sender_key=sender_key, to=to, data=[data], gas_limits=sorted(limits), type=tx_type,
            values=[rng.choice((0, 1))], access_list=access_list, **b.fee_caps())
    return b.build(name, ("Cancun", "Prague", "Osaka"), tx)


def generate_gas_cap(rng: random.Random, name: str) -> dict:
    block_gas_limit = rng.choice((30_000_000, 60_000_000, 100_000_000))
    b = TestBuilder(rng, block_gas_limit=block_gas_limit)
    sender_key, _sender = b.funded_sender()
    rec = Recorder()
    body = rng.choice((rec.store("GAS"), op("INVALID"), rec.store("GASLIMIT") + invoke("REVERT", 0, 0)))
    to = b.deploy(body)
    limits = sorted({GAS_CAP - 1, GAS_CAP, GAS_CAP + 1, rng.choice((2 * GAS_CAP, block_gas_limit)), 100_000})
    tx = Tx(sender_key=sender_key, to=to, gas_limits=limits, type=rng.choice((0, 2)), **b.fee_caps())
    return b.build(name, ("Prague", "Osaka"), tx)


def blob_base_fee(excess_blob_gas: int, fraction: int) -> int:
    """EIP-4844 fake_exponential(1, excess, fraction)."""
    i, output, accumulator = 1, 0, fraction
    while accumulator > 0:
        output += accumulator
        accumulator = accumulator * excess_blob_gas // (fraction * i)
        i += 1
    return output // fraction


def generate_blob_tx(rng: random.Random, name: str) -> dict:
    excess = rng.choice((0, 0, 2_000_000, 50_000_000, 400_000_000))
    b = TestBuilder(rng, excess_blob_gas=excess)
    count = rng.choices(range(11), weights=(1, 6, 3, 2, 2, 1, 2, 2, 1, 2, 1))[0]
    hashes = [b"\x01" + rng.randbytes(31) for _ in range(count)]
    if hashes and rng.random() < 0.1:
        hashes[rng.randrange(count)] = rng.choice((b"\x00", b"\x02")) + rng.randbytes(31)
    fees = sorted({blob_base_fee(excess, f) for f in BLOB_FEE_FRACTIONS.values()})
    fee = rng.choice(fees)
    max_fee_per_blob_gas = rng.choice((fee, fee, fee - 1, fee + 1, 10**6))
    gas_limit, caps = 200_000, b.fee_caps()
    cost = gas_limit * caps["max_fee_per_gas"] + count * GAS_PER_BLOB * max_fee_per_blob_gas
    balance = rng.choice((RICH, cost, cost - 1))
    sender_key, _sender = b.funded_sender(balance=max(balance, 1))

    rec = Recorder()
    code = b"".join(rec.store(invoke("BLOBHASH", i)) for i in (*range(count + 1), 2**256 - 1))
    code += rec.store("BLOBBASEFEE")
    to = rng.choices((b.deploy(code), None), weights=(30, 1))[0]
    tx = Tx(sender_key=sender_key, to=to, type=3, gas_limits=[gas_limit], blob_hashes=hashes,
            max_fee_per_blob_gas=max(max_fee_per_blob_gas, 0), **caps)
    return b.build(name, ("Cancun", "Prague", "Osaka"), tx)


TX_DEFECTS = {
    "none": 4, "nonce_low": 1, "nonce_high": 1, "nonce_max": 1, "balance_short": 1, "fee_below_base": 1,
    "priority_above_max": 1, "sender_contract": 1, "sender_delegated": 1, "gas_above_block": 1,
    "intrinsic_short": 1, "initcode_too_big": 1,
}


def generate_tx_validity(rng: random.Random, name: str) -> dict:
    """A plain transaction with at most one defect that makes it invalid (a delegated sender
    is one only before Prague)."""
    defect = rng.choices(list(TX_DEFECTS), weights=list(TX_DEFECTS.values()))[0]
    b = TestBuilder(rng, base_fee=rng.choice((7, 1000)), block_gas_limit=rng.choice((1_000_000, 30_000_000)))
    caps = b.fee_caps()
    tx = Tx(sender_key=b"", to=b.deploy(sstore(1, "CALLVALUE") + sstore(2, "ORIGIN")), gas_limits=[100_000],
            values=[rng.choice((0, 1, 10**18))], type=rng.choice((0, 1, 2)), **caps)
    sender_nonce = 2**64 - 1 if defect == "nonce_max" else rng.choice((1, 100))
    tx.nonce = sender_nonce + {"nonce_low": -1, "nonce_high": 1}.get(defect, 0)
    if defect == "fee_below_base":
        tx.max_fee_per_gas = tx.gas_price = b.base_fee - 1
        tx.max_priority_fee_per_gas = 0
    elif defect == "priority_above_max":
        tx.max_priority_fee_per_gas = tx.max_fee_per_gas + 1
    elif defect == "gas_above_block":
        tx.gas_limits = [int(b.env["currentGasLimit"], 16) + 1]
    elif defect == "intrinsic_short":
        tx.gas_limits = [20_999]
    elif defect == "initcode_too_big":
        init = returning(b"")
        tx.to, tx.data, tx.gas_limits = None, [init + bytes(MAX_INITCODE_SIZE + 1 - len(init))], [800_000]
    balance = RICH
    if defect == "balance_short":
        price = tx.gas_price if tx.type < 2 else tx.max_fee_per_gas
        balance = tx.gas_limits[0] * price + tx.values[0] - 1
    code = b""
    if defect == "sender_contract":
        code = sstore(0, 1)
    elif defect == "sender_delegated":
        code = delegation(b.deploy(sstore(0, 1)))
    tx.sender_key, sender = b.new_key()
    b.account(sender, balance=balance, nonce=sender_nonce, code=code)
    return b.build(name, ("Cancun", "Prague", "Osaka"), tx)

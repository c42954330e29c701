"""Precompile calls with random valid and invalid inputs: BLS12-381 (EIP-2537), P256VERIFY
(EIP-7951), MODEXP (EIP-198/2565/7823/7883) and the KZG point evaluation (EIP-4844).

Every case is one transaction into a caller contract that copies its calldata (the precompile
input) to memory and calls the precompile one to three times with different gas: all it has,
the price of a valid input, one gas less, a little more. Each call's success flag, gas used,
return data size and return data hash are stored. Inputs are sometimes cut short or extended,
since precompiles price and parse by length.
"""
from __future__ import annotations

import hashlib
import random
from functools import cache
from pathlib import Path

import ckzg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

import bls_inputs
from contracts import Recorder
from evm_asm import invoke
from fixture_json import TestBuilder, Tx

import parevm.evm.precompiles as precompiles_package

P256_ADDRESS = 0x100
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_GAS = 6900
MODEXP_ADDRESS = 0x05
POINT_EVALUATION_ADDRESS = 0x0A
POINT_EVALUATION_GAS = 50000
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
FIELD_ELEMENTS_PER_BLOB = 4096


def _caller_case(rng: random.Random, name: str, address: int, data: bytes, cost: int,
                 forks: tuple[str, ...], *, tx_gas: int = 3_000_000) -> dict:
    """A test whose transaction hands `data` to the precompile at `address` (priced `cost` when valid)."""
    roll = rng.random()
    if roll < 0.08 and data:
        data = data[:-rng.choice((1, 1, 32, len(data)))]  # too short (or empty)
    elif roll < 0.14:
        data += rng.randbytes(rng.choice((1, 32)))  # too long
    b = TestBuilder(rng)
    sender_key, _sender = b.funded_sender()
    rec = Recorder()
    code = invoke("CALLDATACOPY", 0, 0, "CALLDATASIZE")
    out = len(data) + 32
    for _ in range(rng.choice((1, 2, 2, 3))):
        gas = rng.choice(("GAS", cost, cost, max(cost - 1, 0), cost + rng.randint(1, 100), 2 * cost))
        kind = rng.choices(("STATICCALL", "CALL", "DELEGATECALL", "CALLCODE"), weights=(6, 3, 1, 1))[0]
        code += rec.call(kind, address, gas=gas, value=rng.choice((0, 0, 1)), args=(0, "CALLDATASIZE"), out=out)
    caller = b.deploy(code, balance=10)
    tx = Tx(sender_key=sender_key, to=caller, data=[data], gas_limits=[tx_gas], **b.fee_caps())
    return b.build(name, forks, tx)


def generate_bls(rng: random.Random, name: str) -> dict:
    address = rng.choices(range(bls_inputs.G1ADD, bls_inputs.MAP_FP2_TO_G2 + 1), weights=(3, 3, 3, 2, 1, 2, 2))[0]
    data, cost = bls_inputs.bls_input(rng, address)
    forks = ("Prague", "Osaka") if rng.random() < 0.9 else ("Cancun", "Prague")
    return _caller_case(rng, name, address, data, cost, forks)


def generate_p256(rng: random.Random, name: str) -> dict:
    key = ec.derive_private_key(rng.randrange(1, P256_N), ec.SECP256R1())
    public = key.public_key().public_numbers()
    message_hash = rng.randbytes(32)
    der = key.sign(message_hash, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    x, y = public.x, public.y
    variant = rng.choices(("valid", "high_s", "wrong_hash", "r_bad", "s_bad", "key_bad", "other_key"),
                          weights=(5, 1, 1, 1, 1, 2, 1))[0]
    if variant == "high_s":
        s = P256_N - s  # P256VERIFY has no low-s rule: still valid
    elif variant == "wrong_hash":
        message_hash = bytes([message_hash[0] ^ 1]) + message_hash[1:]
    elif variant == "r_bad":
        r = rng.choice((0, P256_N, P256_N + 1, 2**256 - 1))
    elif variant == "s_bad":
        s = rng.choice((0, P256_N, P256_N + r % 2**32, 2**256 - 1))
    elif variant == "key_bad":  # infinity, off the curve, a coordinate >= p (x + p: equal to x mod p)
        unreduced_x = x + P256_P if x + P256_P < 2**256 else P256_P
        x, y = rng.choice(((0, 0), (x, (y + 1) % P256_P), (unreduced_x, y), (x, P256_P), (x, 0)))
    elif variant == "other_key":
        other = ec.derive_private_key(rng.randrange(1, P256_N), ec.SECP256R1()).public_key().public_numbers()
        x, y = other.x, other.y
    data = message_hash + b"".join(v.to_bytes(32, "big") for v in (r, s, x, y))
    forks = ("Osaka",) if rng.random() < 0.8 else ("Prague", "Osaka")
    return _caller_case(rng, name, P256_ADDRESS, data, P256_GAS, forks)


MODEXP_LENGTHS = (0, 1, 2, 31, 32, 33, 64, 100, 255, 256, 512, 1000, 1023, 1024, 1025)


def modexp_gas(base_len: int, exp_len: int, mod_len: int, exp_head: int, *, osaka: bool) -> int:
    """The MODEXP price: EIP-2565 (Berlin) or EIP-7883 (Osaka)."""
    longest = max(base_len, mod_len)
    words = (longest + 7) // 8
    if osaka:
        complexity = 16 if longest <= 32 else 2 * words * words
    else:
        complexity = words * words
    head_bits = max(exp_head.bit_length() - 1, 0)
    if exp_len <= 32:
        iterations = head_bits
    else:
        iterations = (16 if osaka else 8) * (exp_len - 32) + head_bits
    iterations = max(iterations, 1)
    return max(500, complexity * iterations) if osaka else max(200, complexity * iterations // 3)


def _modexp_number(rng: random.Random, length: int) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(length)
    if roll < 0.2 and length:
        return bytes(length - 1) + b"\x01"
    if roll < 0.3 and length > 1:  # leading zeros (the exponent's head sets the price)
        zeros = rng.randint(1, length - 1)
        return bytes(zeros) + rng.randbytes(length - zeros)
    return rng.randbytes(length)


def generate_modexp(rng: random.Random, name: str) -> dict:
    base_len, exp_len, mod_len = (rng.choice(MODEXP_LENGTHS) for _ in range(3))
    if rng.random() < 0.2:  # the exponent alone sets a huge price; keep it short most of the time
        exp_len = rng.choice((0, 1, 8, 32))
    base, exp, mod = (_modexp_number(rng, n) for n in (base_len, exp_len, mod_len))
    header = [base_len, exp_len, mod_len]
    if rng.random() < 0.08:  # a declared length far beyond the data (EELS overflows near 2**256 before Osaka)
        header[rng.randrange(3)] = rng.choice((2**32, 2**64, 2**255))
    data = b"".join(n.to_bytes(32, "big") for n in header) + base + exp + mod
    head = int.from_bytes((exp + bytes(32))[: min(32, exp_len)], "big")
    osaka = rng.random() < 0.6
    cost = modexp_gas(base_len, exp_len, mod_len, head, osaka=osaka)
    forks = ("Osaka", "Prague") if osaka else ("Prague", "Cancun")
    return _caller_case(rng, name, MODEXP_ADDRESS, data, min(cost, 10_000_000), forks, tx_gas=15_000_000)


@cache
def _trusted_setup() -> object:
    return ckzg.load_trusted_setup(str(Path(precompiles_package.__file__).with_name("trusted_setup.txt")), 0)


def _versioned_hash(commitment: bytes) -> bytes:
    return b"\x01" + hashlib.sha256(commitment).digest()[1:]


def generate_point_evaluation(rng: random.Random, name: str) -> dict:
    """A KZG proof of a random blob's polynomial at a random point, honest or broken."""
    setup = _trusted_setup()
    blob = b"".join(rng.randrange(BLS_MODULUS).to_bytes(32, "big") for _ in range(FIELD_ELEMENTS_PER_BLOB))
    commitment = ckzg.blob_to_kzg_commitment(blob, setup)
    z = rng.randrange(BLS_MODULUS).to_bytes(32, "big")
    proof, y = ckzg.compute_kzg_proof(blob, z, setup)
    versioned_hash = _versioned_hash(commitment)
    variant = rng.choices(("valid", "zero_polynomial", "wrong_y", "wrong_hash", "z_too_big", "bad_commitment"),
                          weights=(4, 1, 1, 1, 1, 1))[0]
    if variant == "zero_polynomial":  # commitment and proof at infinity open to 0 everywhere
        commitment = proof = b"\xc0" + bytes(47)
        versioned_hash, y = _versioned_hash(commitment), bytes(32)
    elif variant == "wrong_y":
        y = ((int.from_bytes(y, "big") + 1) % BLS_MODULUS).to_bytes(32, "big")
    elif variant == "wrong_hash":
        versioned_hash = rng.choice((b"\x02" + versioned_hash[1:], rng.randbytes(32)))
    elif variant == "z_too_big":
        z = (int.from_bytes(z, "big") + BLS_MODULUS).to_bytes(32, "big")  # below 2**256: the modulus is < 2**255
    elif variant == "bad_commitment":
        commitment = rng.randbytes(48)
        versioned_hash = _versioned_hash(commitment)
    data = versioned_hash + z + y + commitment + proof
    return _caller_case(rng, name, POINT_EVALUATION_ADDRESS, data, POINT_EVALUATION_GAS, ("Cancun", "Osaka"))

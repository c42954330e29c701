"""EIP-7702 set-code transactions: valid and invalid authorizations, then the delegated accounts in use.

A case has one to three authorities (sometimes the sender itself), a list of authorizations
that mixes valid ones with each way an authorization can be skipped (wrong chain id, nonce
mismatch, nonce 2^64-1, bad or high-s signature, y_parity out of range, an authority with code)
or make the whole transaction invalid (nonce 2^64, y_parity 2^8, an empty list, no `to`).
Delegation targets are contracts that record their context, revert, self-destruct, call on or
create, and addresses without code: a precompile, an EOA, another authority, the authority
itself, the zero address (revocation). The transaction then calls into the delegated accounts
directly or through a prober contract that records EXTCODESIZE/EXTCODEHASH/EXTCODECOPY/BALANCE
of each authority and calls it with every call kind.
"""
from __future__ import annotations

import random

from contracts import CALL_KINDS, Recorder
from evm_asm import invoke, returning, sstore
from fixture_json import (
    CHAIN_ID, SECP256K1_N, TestBuilder, Tx, authorization_json, delegation, floor_gas, intrinsic_gas,
)
from parevm.tx import sign_authorization

PRECOMPILES = (0x01, 0x02, 0x04, 0x09, 0x0A, 0x0B, 0x11, 0x100)
U64_MAX = 2**64 - 1

# authorization variant: weight
AUTH_VARIANTS = {
    "valid": 12, "wrong_chain": 2, "nonce_mismatch": 2, "nonce_max": 1, "nonce_overflow": 0.3,
    "high_s": 1, "zero_r": 0.5, "zero_s": 0.5, "r_too_big": 0.5, "s_too_big": 0.5, "random_sig": 1,
    "bad_parity": 1, "parity_overflow": 0.3,
}
AUTHORITY_STATES = {"absent": 3, "eoa": 4, "delegated": 2, "contract": 1, "storage": 1}


def _context_writer(rng: random.Random) -> bytes:
    """Records the context it runs in (in the authority's storage when delegated to), logs, returns a word."""
    rec = Recorder(first_slot=rng.choice((0, 0x100)))
    code = b"".join(rec.store(name) for name in (
        "CALLER", "ADDRESS", "CALLVALUE", "SELFBALANCE", "CODESIZE", "ORIGIN", "CALLDATASIZE"))
    code += rec.store(invoke("EXTCODESIZE", "ADDRESS")) + rec.store(invoke("EXTCODEHASH", "ADDRESS"))
    code += sstore(0x1000, invoke("ADD", invoke("SLOAD", 0x1000), 1))
    code += invoke("TSTORE", 1, invoke("ADD", invoke("TLOAD", 1), 1)) + rec.store(invoke("TLOAD", 1))
    code += invoke("CODECOPY", 0, 0, 32) + invoke("LOG1", 0, 32, "CALLER")
    return code + invoke("RETURN", 0, 32)


def _reverter() -> bytes:
    return sstore(0, 1) + invoke("MSTORE", 0, "ADDRESS") + invoke("REVERT", 0, 32)


def _forwarder(rng: random.Random, next_hop: bytes) -> bytes:
    """Calls on (into another authority, say) with a little value, then records the outcome."""
    rec = Recorder(first_slot=0x200)
    return rec.call(rng.choice(CALL_KINDS), next_hop, gas="GAS", value=rng.choice((0, 1))) + rec.store("ADDRESS")


def _creator() -> bytes:
    """CREATE from the delegated account (its nonce goes up), recording the new address."""
    init = returning(bytes.fromhex("5f5ff3"))  # deploys PUSH0 PUSH0 RETURN
    code = invoke("MSTORE", 0, int.from_bytes(init, "big"))
    return code + sstore(0x300, invoke("CREATE", 0, 32 - len(init), len(init)))


def _sign(rng: random.Random, key: bytes, chain_id: int, target: bytes, nonce: int) -> tuple[dict, bool]:
    """An authorization of `target` by `key`, honest or broken in one random way.
    Returns its JSON and whether it is meant to be valid (and so use up `nonce`)."""
    variant = rng.choices(list(AUTH_VARIANTS), weights=list(AUTH_VARIANTS.values()))[0]
    if variant == "wrong_chain":
        chain_id = rng.choice((CHAIN_ID + 1, 1 << 64, 2**256 - 1))
    elif variant == "nonce_mismatch":
        nonce = nonce + rng.choice((1, 2)) if nonce == 0 or rng.random() < 0.5 else nonce - 1
    elif variant == "nonce_max":
        nonce = U64_MAX
    elif variant == "nonce_overflow":
        nonce = U64_MAX + 1
    auth = sign_authorization(chain_id, target, nonce, key)
    y_parity, r, s = auth.y_parity, auth.r, auth.s
    if variant == "high_s":
        y_parity, s = 1 - y_parity, SECP256K1_N - s  # the same signature in its malleable form
    elif variant == "zero_r":
        r = 0
    elif variant == "zero_s":
        s = 0
    elif variant == "r_too_big":
        r = rng.randrange(SECP256K1_N, 2**256)
    elif variant == "s_too_big":
        s = rng.randrange(SECP256K1_N, 2**256)
    elif variant == "random_sig":  # usually recovers some unrelated account, which then gets delegated
        r, s = rng.randrange(1, SECP256K1_N), rng.randrange(1, SECP256K1_N // 2)
    elif variant == "bad_parity":
        y_parity = rng.choice((2, 27, 28, 255))
    elif variant == "parity_overflow":
        y_parity = 256
    return authorization_json(chain_id, target, nonce, y_parity, r, s), variant == "valid"


def generate(rng: random.Random, name: str) -> dict:
    b = TestBuilder(rng, base_fee=rng.choice((7, 7, 1000)))
    sender_key, sender = b.funded_sender(nonce=rng.choice((0, 0, 1, 7)))
    authorities = [b.new_key() for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.25:
        authorities.append((sender_key, sender))  # self-sponsored
    addresses = [address for _key, address in authorities]

    eoa = b.account(b.new_address(), balance=rng.choice((1, 10**18)))
    contract_targets = [
        b.deploy(_context_writer(rng)), b.deploy(_reverter()), b.deploy(_creator()),
        b.deploy(invoke("SELFDESTRUCT", rng.choice((sender, eoa, b"\x00" * 20)))),
        b.deploy(_forwarder(rng, rng.choice(addresses + [eoa]))),
    ]
    targets = contract_targets + [
        eoa, rng.choice(PRECOMPILES).to_bytes(20, "big"), b"\x00" * 20, rng.choice(addresses), b.new_address(),
    ]

    nonces = {}
    for key, address in authorities:
        if address == sender:
            nonces[address] = int(b.pre[sender]["nonce"], 16) + 1  # the sender's nonce is bumped first
            continue
        state = rng.choices(list(AUTHORITY_STATES), weights=list(AUTHORITY_STATES.values()))[0]
        nonce = rng.randint(0, 3) if state in ("eoa", "storage") else 1
        balance = rng.choice((0, 10**17)) if nonce else rng.choice((1, 10**17))
        if state == "eoa":
            b.account(address, balance=balance, nonce=nonce)
        elif state == "storage":
            b.account(address, balance=balance, nonce=nonce, storage={0: 5, 0x1000: 9, 0x200: 1})
        elif state == "delegated":
            b.account(address, balance=balance, nonce=nonce, code=delegation(rng.choice(targets)))
        elif state == "contract":
            b.account(address, balance=balance, nonce=nonce, code=sstore(0, 1))
        else:
            nonce = 0
        nonces[address] = nonce

    authorizations = []
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4)) if rng.random() < 0.97 else 0):
        key, address = rng.choice(authorities)
        target = rng.choice(targets + [address])  # sometimes the authority itself
        chain_id = rng.choice((0, CHAIN_ID))
        auth, valid = _sign(rng, key, chain_id, target, nonces[address])
        nonces[address] += valid
        authorizations.append(auth)

    rec = Recorder()
    prober_code = b""
    for address in rng.sample(addresses, len(addresses)) + [rng.choice(targets)]:
        prober_code += rec.probe_account(address, copy_offset=rng.choice((0, 0, 1, 3, 20, 23)),
                                         copy_size=rng.choice((32, 23, 64, 5)))
        for _ in range(rng.randint(0, 2)):
            prober_code += rec.call(rng.choice(CALL_KINDS), address, gas=rng.choice(("GAS", 100_000, 30_000, 2000)),
                                    value=rng.choice((0, 1, 1000)), args=(0, rng.choice((0, 4, 32))))
        if rng.random() < 0.3:
            prober_code += rec.probe_account(address)
    prober = b.deploy(prober_code, balance=10**18)

    to = rng.choices((prober, rng.choice(addresses), sender, rng.choice(contract_targets), b.new_address(), None),
                     weights=(10, 5, 2, 1, 1, 0.3))[0]
    access_list = None
    if rng.random() < 0.3:
        access_list = [(address, [0, 0x1000][: rng.randint(0, 2)]) for address in rng.sample(addresses, 1)]
    data = rng.randbytes(rng.choice((0, 4, 36, 100, 3000)))  # 3000 bytes: the EIP-7623 floor prices it
    gas_limits = [rng.choice((300_000, 1_000_000, 3_000_000))]
    if rng.random() < 0.2:
        minimum = max(intrinsic_gas(data, access_list=access_list, authorizations=len(authorizations)),
                      floor_gas(data))
        gas_limits += [minimum - 1, minimum, minimum + rng.randint(1, 30_000)]
    tx = Tx(sender_key=sender_key, to=to, type=4, data=[data], gas_limits=gas_limits,
            values=[rng.choice((0, 0, 1, 10**15))], nonce=int(b.pre[sender]["nonce"], 16),
            access_list=access_list, authorizations=authorizations, **b.fee_caps())
    forks = ("Prague", "Osaka") + (("Cancun",) if rng.random() < 0.1 else ())
    return b.build(name, forks, tx)


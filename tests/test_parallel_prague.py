"""Parallel equals sequential on generated Prague and Osaka blocks full of EIP-7702 delegations.

Sponsors send type-4 transactions whose authorizations delegate many authorities to a few shared
contracts (some authorizations stale or for another chain, some revocations), then call into the
delegated accounts; other transactions call delegated accounts delegated earlier in the block,
read their code hash, or re-delegate them, so delegations created by one transaction are read by
later ones. Seeded: `PAREVM_LONG=1` runs many more seeds.
"""
from __future__ import annotations

import os
import random

import pytest

from parevm.block.sequential import InvalidBlock, execute_transactions
from parevm.evm.forks import OSAKA, PRAGUE
from parevm.evm.frame import BlockEnv
from parevm.parallel.engine import execute_transactions_parallel
from parevm.parallel.workers import SimulatedTransport
from parevm.state.block_state import BlockState
from parevm.tx import Transaction, private_key_address, sign_authorization

LONG = os.environ.get("PAREVM_LONG") == "1"
COINBASE = bytes.fromhex("c0" * 20)
# Counter: slot0 += 1, LOG0 the new value (run in whichever account delegates to it).
COUNTER = bytes.fromhex("5f54600101805f555f5260205fa000")
COUNTER_ADDRESS = bytes.fromhex("0c" * 20)
# Prober: SSTORE(slot = CALLER's low bits, EXTCODEHASH(calldata address)); then CALL that address.
PROBER = bytes.fromhex("5f353f" "33" "55" "5f5f5f5f5f5f35" "5af1" "00")
PROBER_ADDRESS = bytes.fromhex("0d" * 20)
NULL = bytes(20)


def _key(i: int) -> bytes:
    return (i + 1).to_bytes(32, "big")


def prague_block(seed: int, fork=PRAGUE, n_txs: int = 40, n_authorities: int = 12, n_sponsors: int = 8):
    rng = random.Random(seed)
    authorities = [_key(1000 + i) for i in range(n_authorities)]
    sponsors = [_key(i) for i in range(n_sponsors)]
    authority_address = [private_key_address(k) for k in authorities]
    sponsor_address = [private_key_address(k) for k in sponsors]
    accounts = [(a, 0, 10**20, b"", {}) for a in sponsor_address]
    accounts += [(a, rng.randrange(3), 10**18, b"", {}) for a in authority_address]
    accounts += [(COUNTER_ADDRESS, 1, 0, COUNTER, {}), (PROBER_ADDRESS, 1, 0, PROBER, {})]
    nonces = {a: n for a, n, *_ in accounts}
    sender_nonce = dict.fromkeys(sponsor_address, 0)
    txs, senders = [], []
    for _ in range(n_txs):
        sender = rng.choice(sponsor_address)
        target = rng.choice(authority_address)
        kind = rng.random()
        if kind < 0.5:  # set-code transaction
            auths = []
            for _ in range(rng.randint(1, 3)):
                index = rng.randrange(n_authorities)
                who = authority_address[index]
                nonce = nonces[who] + (0 if rng.random() < 0.8 else rng.choice((1, -1)))
                chain = rng.choice((1, 1, 1, 0, 5))
                delegate = rng.choice((COUNTER_ADDRESS, COUNTER_ADDRESS, PROBER_ADDRESS, NULL))
                auths.append(sign_authorization(chain, delegate, max(nonce, 0), authorities[index]))
                if nonce == nonces[who] and chain in (0, 1):
                    nonces[who] += 1  # an estimate only: the engines decide which ones apply
            tx = Transaction(type=4, chain_id=1, nonce=sender_nonce[sender], max_fee_per_gas=100,
                             max_priority_fee_per_gas=rng.randrange(3), gas_limit=300_000, to=target,
                             authorization_list=tuple(auths))
        elif kind < 0.8:  # call into a (maybe) delegated account
            tx = Transaction(type=2, chain_id=1, nonce=sender_nonce[sender], max_fee_per_gas=100,
                             max_priority_fee_per_gas=1, gas_limit=200_000, to=target, value=rng.randrange(2))
        else:  # the prober reads an authority's code hash and calls it
            tx = Transaction(type=2, chain_id=1, nonce=sender_nonce[sender], max_fee_per_gas=100,
                             max_priority_fee_per_gas=1, gas_limit=300_000, to=PROBER_ADDRESS,
                             data=bytes(12) + target)
        sender_nonce[sender] += 1
        txs.append(tx)
        senders.append(sender)
    env = BlockEnv(fork=fork, chain_id=1, coinbase=COINBASE, number=22_000_000, timestamp=fork.activation_time,
                   gas_limit=60_000_000, prev_randao=b"\x02" * 32, base_fee=7)
    return env, txs, senders, accounts


def _outcome(run, accounts):
    state = BlockState.from_accounts(accounts)
    try:
        results = run(state)
    except InvalidBlock as exc:
        results = f"InvalidBlock: {exc}"
    return results, (state.accounts, state.storage, {a: c.bytes for a, c in state.codes.items()})


@pytest.mark.parametrize("fork", [PRAGUE, OSAKA], ids=lambda f: f.name)
@pytest.mark.parametrize("seed", range(40 if LONG else 4))
def test_delegation_heavy_block_parallel_equals_sequential(seed, fork):
    env, txs, senders, accounts = prague_block(seed, fork)
    expected = _outcome(lambda state: execute_transactions(env, txs, senders, state), accounts)
    assert isinstance(expected[0], list) and any(r.success for r in expected[0])
    delegated = [c for c in expected[1][2].values() if c.startswith(b"\xef\x01\x00")]
    assert delegated, "the generator must leave some delegations in place"
    for workers, transport in ((2, None), (3, SimulatedTransport(seed))):
        actual = _outcome(lambda state: execute_transactions_parallel(env, txs, senders, state, workers,
                                                                      transport=transport)[0], accounts)
        assert actual[0] == expected[0], f"seed {seed}, {workers} workers: results differ"
        assert actual[1] == expected[1], f"seed {seed}, {workers} workers: final state differs"

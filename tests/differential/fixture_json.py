"""Builds one state test in the filled GeneralStateTests JSON shape that both engines read.

What EELS's `statetest` needs shapes a few choices here:
* it always runs with chain id 1 (it ignores `config`), so `config.chainid` is 1 and no
  `blobSchedule` is written: both engines then use their fork's default blob parameters;
* it signs the transaction itself from `secretKey` (EIP-155 for legacy), so no signature is written;
* the post `hash` and `logs` are never trusted by the comparison (both engines compute them), so
  they are placeholders;
* the block is number 1 and `previousHash` is keccak("0"): EELS answers BLOCKHASH(0) from
  `previousHash`, parevm (like geth) with keccak of the decimal number, so the two agree.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from parevm.crypto import keccak256
from parevm.tx import private_key_address

CHAIN_ID = 1
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
PLACEHOLDER_HASH = "0x" + "00" * 32
RICH = 10**24  # wei: enough for any gas limit at the fees used here
TX_BASE_GAS = 21000
TX_CREATE_GAS = 32000
PER_AUTH_GAS = 25000  # EIP-7702 PER_EMPTY_ACCOUNT_COST, charged per authorization in the intrinsic gas
FLOOR_GAS_PER_TOKEN = 10  # EIP-7623


def hex_bytes(data: bytes) -> str:
    return "0x" + data.hex()


def delegation(address: bytes) -> bytes:
    """An EIP-7702 delegation designator."""
    return b"\xef\x01\x00" + address


def calldata_tokens(data: bytes) -> int:
    """EIP-7623 tokens: zero bytes count 1, others 4."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def intrinsic_gas(data: bytes, *, create: bool = False, access_list: list | None = None,
                  authorizations: int = 0) -> int:
    """The standard intrinsic gas (Shanghai+ rules) of a transaction; the EIP-7623 floor is `floor_gas`."""
    gas = TX_BASE_GAS + 4 * calldata_tokens(data) + PER_AUTH_GAS * authorizations
    if create:
        gas += TX_CREATE_GAS + 2 * ((len(data) + 31) // 32)
    for _address, slots in access_list or ():
        gas += 2400 + 1900 * len(slots)
    return gas


def floor_gas(data: bytes) -> int:
    return TX_BASE_GAS + FLOOR_GAS_PER_TOKEN * calldata_tokens(data)


@dataclass
class Tx:
    """A transaction template; `data`, `gas_limits` and `values` give one vector per combination."""

    sender_key: bytes
    to: bytes | None
    gas_limits: list[int]
    data: list[bytes] = field(default_factory=lambda: [b""])
    values: list[int] = field(default_factory=lambda: [0])
    nonce: int = 0
    type: int = 2
    gas_price: int = 10  # types 0 and 1
    max_fee_per_gas: int = 10
    max_priority_fee_per_gas: int = 1
    access_list: list[tuple[bytes, list[int]]] | None = None  # types 1+
    blob_hashes: list[bytes] | None = None
    max_fee_per_blob_gas: int = 1
    authorizations: list[dict] | None = None  # JSON authorization tuples, see `authorization_json`


def authorization_json(chain_id: int, address: bytes, nonce: int, y_parity: int, r: int, s: int) -> dict:
    """EELS reads the parity from `v`, parevm from `yParity`: both are written."""
    return {"chainId": hex(chain_id), "address": hex_bytes(address), "nonce": hex(nonce),
            "v": hex(y_parity), "yParity": hex(y_parity), "r": hex(r), "s": hex(s)}


class TestBuilder:
    """Accumulates a pre-state and block environment; `build` adds the transaction and the forks."""

    def __init__(self, rng: random.Random, *, base_fee: int = 7, excess_blob_gas: int = 0,
                 block_gas_limit: int = 60_000_000):
        self.rng = rng
        self.pre: dict[bytes, dict] = {}
        self.env = {
            "currentCoinbase": hex_bytes(self.new_address()),
            "currentGasLimit": hex(block_gas_limit),
            "currentNumber": "0x01",
            "currentTimestamp": "0x03e8",
            "currentRandom": hex_bytes(rng.randbytes(32)),
            "currentDifficulty": "0x00",
            "currentBaseFee": hex(base_fee),
            "currentExcessBlobGas": hex(excess_blob_gas),
            "previousHash": hex_bytes(keccak256(b"0")),
        }
        self.base_fee = base_fee

    def new_address(self) -> bytes:
        return self.rng.randbytes(20)

    def new_key(self) -> tuple[bytes, bytes]:
        """A fresh (private key, address) pair drawn from the seed."""
        key = self.rng.randrange(1, SECP256K1_N).to_bytes(32, "big")
        return key, private_key_address(key)

    def account(self, address: bytes, *, balance: int = 0, nonce: int = 0, code: bytes = b"",
                storage: dict[int, int] | None = None) -> bytes:
        if not (balance or nonce or code or storage):
            raise ValueError("an empty account in the pre-state (EIP-161 forbids them; EELS refuses them)")
        self.pre[address] = {
            "balance": hex(balance), "nonce": hex(nonce), "code": hex_bytes(code),
            "storage": {hex(k): hex(v) for k, v in (storage or {}).items()},
        }
        return address

    def deploy(self, code: bytes, *, balance: int = 0, storage: dict[int, int] | None = None) -> bytes:
        """A contract at a fresh address (nonce 1, as if created)."""
        return self.account(self.new_address(), balance=balance, nonce=1, code=code, storage=storage)

    def funded_sender(self, *, balance: int = RICH, nonce: int = 0) -> tuple[bytes, bytes]:
        key, address = self.new_key()
        self.account(address, balance=balance, nonce=nonce)
        return key, address

    def fee_caps(self) -> dict:
        """Fee fields that pay the base fee, with a random tip."""
        tip = self.rng.choice((0, 1, 2))
        return {"max_fee_per_gas": self.base_fee + tip + self.rng.choice((0, 0, 5)),
                "max_priority_fee_per_gas": tip, "gas_price": self.base_fee + tip}

    def build(self, name: str, forks: tuple[str, ...], tx: Tx) -> dict:
        """The test as {name: body}, with one post entry per fork and index combination."""
        pre = {hex_bytes(address): account for address, account in self.pre.items()}
        body = {"env": self.env, "pre": pre, "transaction": _tx_json(tx),
                "config": {"chainid": hex(CHAIN_ID)}}
        combos = list(itertools.product(range(len(tx.data)), range(len(tx.gas_limits)), range(len(tx.values))))
        body["post"] = {
            fork: [{"indexes": {"data": d, "gas": g, "value": v}, "hash": PLACEHOLDER_HASH,
                    "logs": PLACEHOLDER_HASH} for d, g, v in combos]
            for fork in forks
        }
        return {name: body}


def _tx_json(tx: Tx) -> dict:
    out = {
        "nonce": hex(tx.nonce),
        "to": "" if tx.to is None else hex_bytes(tx.to),
        "data": [hex_bytes(d) for d in tx.data],
        "gasLimit": [hex(g) for g in tx.gas_limits],
        "value": [hex(v) for v in tx.values],
        "secretKey": hex_bytes(tx.sender_key),
        "sender": hex_bytes(private_key_address(tx.sender_key)),
    }
    if tx.type < 2:
        out["gasPrice"] = hex(tx.gas_price)
    else:
        out["maxFeePerGas"] = hex(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = hex(tx.max_priority_fee_per_gas)
    if tx.type >= 1:
        access_list = [{"address": hex_bytes(address), "storageKeys": ["0x%064x" % k for k in keys]}
                       for address, keys in tx.access_list or ()]
        out["accessLists"] = [access_list for _ in tx.data]
    if tx.type == 3:
        out["maxFeePerBlobGas"] = hex(tx.max_fee_per_blob_gas)
        out["blobVersionedHashes"] = [hex_bytes(h) for h in tx.blob_hashes or ()]
    if tx.type == 4:
        out["authorizationList"] = tx.authorizations or []
    return out

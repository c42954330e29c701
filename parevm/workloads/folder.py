"""Write a workload as a block folder (block.json, prestate.json, block_hashes.json) that `parevm run`
replays and checks.

The transactions are signed with the workload's keys, executed sequentially, and the header
filled with what that execution produced: gasUsed, logsBloom, receiptsRoot, stateRoot (the
pre-state is complete), transactionsRoot, and the block hash over the Cancun header. The
pre-state holds no system contracts, so the EIP-4788 beacon-root call finds no code and does
nothing, as the executor allows.

    python -m parevm.workloads.folder erc20_transfers 200 blocks/erc20-200 [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from parevm.block.receipts import Receipt, block_bloom, receipts_root
from parevm.crypto import keccak256
from parevm.rlp import encode
from parevm.state.trie import ordered_trie_root
from parevm.tx import Transaction, encode_transaction
from parevm.workloads.blocks import GENERATORS, Workload

EXTRA_DATA = b"parevm workloads"
EMPTY_OMMERS_HASH = keccak256(encode([]))


def _quantity(value: int) -> str:
    return hex(value)


def _data(value: bytes) -> str:
    return "0x" + value.hex()


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def block_objects(workload: Workload) -> tuple[dict, dict, dict]:
    """(block.json, prestate.json, block_hashes.json) of `workload`, as JSON-ready objects."""
    env = workload.block_env
    txs = workload.signed_transactions()
    results, state = workload.execute()
    receipts = []
    cumulative = 0
    for tx, result in zip(txs, results):
        cumulative += result.gas_used
        receipts.append(Receipt.build(tx.type, int(result.success), cumulative, result.logs))
    encoded = [encode_transaction(tx) for tx in txs]
    parent_beacon_root = keccak256(workload.parent_hash + b"beacon")
    # Cancun header fields in RLP order: (JSON name, value, JSON form).
    header = [
        ("parentHash", workload.parent_hash, _data),
        ("sha3Uncles", EMPTY_OMMERS_HASH, _data),
        ("miner", env.coinbase, _data),
        ("stateRoot", state.state_root(), _data),
        ("transactionsRoot", ordered_trie_root(encoded), _data),
        ("receiptsRoot", receipts_root(receipts), _data),
        ("logsBloom", block_bloom(receipts), _data),
        ("difficulty", 0, _quantity),
        ("number", env.number, _quantity),
        ("gasLimit", env.gas_limit, _quantity),
        ("gasUsed", cumulative, _quantity),
        ("timestamp", env.timestamp, _quantity),
        ("extraData", EXTRA_DATA, _data),
        ("mixHash", env.prev_randao, _data),
        ("nonce", bytes(8), _data),
        ("baseFeePerGas", env.base_fee, _quantity),
        ("withdrawalsRoot", ordered_trie_root([]), _data),
        ("blobGasUsed", 0, _quantity),
        ("excessBlobGas", 0, _quantity),
        ("parentBeaconBlockRoot", parent_beacon_root, _data),
    ]
    block_hash = keccak256(encode([value for _, value, _ in header]))
    block = {"hash": _data(block_hash)}
    block.update((name, form(value)) for name, value, form in header)
    block["uncles"] = []
    block["withdrawals"] = []
    block["transactions"] = [
        _rpc_transaction(tx, raw, sender, index, block_hash, env.number, env.base_fee)
        for index, (tx, raw, sender) in enumerate(zip(txs, encoded, workload.senders))
    ]
    prestate = {_data(address): _prestate_account(account) for address, account in workload.accounts.items()}
    block_hashes = {str(env.number - 1): _data(workload.parent_hash)}
    return block, prestate, block_hashes


def _rpc_transaction(tx: Transaction, raw: bytes, sender: bytes, index: int, block_hash: bytes, number: int,
                     base_fee: int) -> dict:
    """A type-2 transaction as eth_getBlockByNumber(n, true) returns it."""
    return {
        "hash": _data(keccak256(raw)),
        "nonce": _quantity(tx.nonce),
        "blockHash": _data(block_hash),
        "blockNumber": _quantity(number),
        "transactionIndex": _quantity(index),
        "from": _data(sender),
        "to": _data(tx.to),
        "value": _quantity(tx.value),
        "gas": _quantity(tx.gas_limit),
        "input": _data(tx.data),
        "r": _quantity(tx.r),
        "s": _quantity(tx.s),
        "gasPrice": _quantity(min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)),
        "maxFeePerGas": _quantity(tx.max_fee_per_gas),
        "maxPriorityFeePerGas": _quantity(tx.max_priority_fee_per_gas),
        "v": _quantity(tx.v),
        "yParity": _quantity(tx.v),
        "chainId": _quantity(tx.chain_id),
        "accessList": [],
        "type": _quantity(tx.type),
    }


def _prestate_account(account) -> dict:
    """prestateTracer's shape: nonce a number, storage keys and values as 32-byte words."""
    entry = {"balance": _quantity(account.balance), "nonce": account.nonce}
    if account.code:
        entry["code"] = _data(account.code)
    if account.storage:
        entry["storage"] = {_word(slot): _word(value) for slot, value in sorted(account.storage.items())}
    return entry


def write_block_folder(workload: Workload, path: str | Path) -> Path:
    """Write `workload` as a block folder at `path` (created if needed); returns the folder."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in zip(("block.json", "prestate.json", "block_hashes.json"), block_objects(workload)):
        (folder / name).write_text(json.dumps(content, indent=2))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=sorted(GENERATORS))
    parser.add_argument("transactions", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = write_block_folder(GENERATORS[args.workload](args.transactions, seed=args.seed), args.folder)
    print(f"wrote {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

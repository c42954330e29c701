"""Block replay: a block's transactions on its pre-state, with the block rules around them, checked
against the header.

The order is the execution spec's (`apply_body` in EELS): pre-block system calls (EIP-4788,
EIP-2935), the transactions, then the proof-of-work reward or the withdrawals, then the EIP-7685
requests. What the header commits to is recomputed and compared: gasUsed, logsBloom and
transactionsRoot always; receiptsRoot from Byzantium; withdrawalsRoot from Shanghai; blobGasUsed
from Cancun; requestsHash from Prague; stateRoot as `check_state_root` says (see `execute_block`).

Real blocks come with a *partial* pre-state (the accounts the block touches), which limits what can
be checked: the state root, the receipts of blocks before Byzantium (they embed the state root
after each transaction), the uncle miners' rewards (block.json names uncles only by hash).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from time import perf_counter
from typing import Sequence

from parevm.block.receipts import Receipt, block_bloom, receipts_root
from parevm.block.result import (MISMATCH, UNAVAILABLE, AccountChange, AccountState, BlockResult, Check, Timings,
                                 TxOutcome)
from parevm.block.sequential import InvalidBlock, execute_transactions
from parevm.block.system import RequestsUnavailable, collect_requests, pre_block_calls, requests_hash
from parevm.crypto import keccak256
from parevm.evm.analysis import analyze, jump_destinations
from parevm.evm.forks import Fork, mainnet_fork
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import TxResult, blob_base_fee
from parevm.io.block_folder import BlockHeader, BlockInput, BlockInputError, PreAccount, read_block_folder
from parevm.parallel.chunks import ChunkPlanner
from parevm.parallel.offload import ForkedCall, in_threads
from parevm.rlp import encode
from parevm.state.block_state import BlockState
from parevm.state.code import EMPTY_CODE
from parevm.state.trie import ordered_trie_root
from parevm.state.tx_state import TxState
from parevm.tx import InvalidSignature, Transaction, encode_transaction, recover_sender

CHAIN_ID = 1
DAO_FORK_BLOCK = 1_920_000
GWEI = 10**9
# With --workers > 1, side work outside the engine (see `parevm.parallel.offload`): signatures on
# threads (~35 us each, 0.1 ms to start a thread); in a forked process, the transactions and
# receipts tries (~12 us per transaction) and the pre-state code's jump destinations (~15 ns per
# byte), against 1-2 ms for the fork and the child's start.
THREADED_RECOVERY_MIN_TXS = 64
FORKED_TRIES_MIN_TXS = 1000
FORKED_ANALYSIS_MIN_BYTES = 256 * 1024  # of code: jump destinations cost ~15 ns per byte


class UnsupportedBlock(Exception):
    """A block whose rules parevm does not implement."""


# Everything `execute_block` raises for a block it cannot replay; each message names the block.
REPLAY_ERRORS = (BlockInputError, InvalidBlock, UnsupportedBlock)

def execute_block(block: BlockInput, *, workers: int = 1, check_state_root: bool | None = None) -> BlockResult:
    """Replay `block` on its pre-state and check the result against its header.

    `workers` > 1 runs the transactions on the parallel engine, 1 sequentially. `check_state_root`:
    True when the pre-state is known to be complete (a differing stateRoot or requestsHash fails
    the block); None (default) computes both and reports `ok` if they match, `n/a` if not, since a
    partial pre-state cannot reproduce them; False also skips computing the state root.
    Raises one of REPLAY_ERRORS."""
    header = block.header
    where = f"block {header.number}"
    if header.number == DAO_FORK_BLOCK:
        raise UnsupportedBlock(f"{where}: the DAO fork's irregular state change is not implemented")
    fork = mainnet_fork(header.number, header.timestamp)
    timings = Timings()
    notes: list[str] = []

    started = perf_counter()
    senders = recover_senders(block, fork, workers)
    timings.recover = perf_counter() - started

    started = perf_counter()
    env = block_env(header, fork, block.block_hashes)
    state = BlockState.from_accounts(
        (address, a.nonce, a.balance, a.code, a.storage) for address, a in block.prestate.items())
    timings.read = perf_counter() - started

    started = perf_counter()
    parallel = workers > 1 and ChunkPlanner(block.transactions, state, workers).worth_parallel()
    if parallel:
        prepare_execution(state, fork, workers)
    timings.prepare = perf_counter() - started

    started = perf_counter()
    try:
        pre_block_calls(env, state, header.parent_hash, header.parent_beacon_block_root)
    except InvalidBlock as exc:
        raise InvalidBlock(f"{where}: {exc}") from None
    timings.system = perf_counter() - started

    started = perf_counter()
    results, engine, stats = _run_transactions(env, block, senders, state, workers if parallel else 1)
    timings.execute = perf_counter() - started

    started = perf_counter()
    receipts = _receipts(block.transactions, results, fork)
    bloom = block_bloom(receipts)
    timings.trie = perf_counter() - started

    started = perf_counter()
    requests, requests_note = _post_block(env, block, state, receipts, notes)
    timings.system += perf_counter() - started

    started = perf_counter()
    checks, state_root, hashes = _checks(block, fork, receipts, bloom, results, state, requests, requests_note,
                                         check_state_root, workers)
    timings.trie += perf_counter() - started

    txs = [TxOutcome(index, tx_hash, tx.type, result.success, result.gas_used, receipt.cumulative_gas_used,
                     len(receipt.logs))
           for index, (tx, tx_hash, result, receipt) in enumerate(zip(block.transactions, hashes, results, receipts))]
    return BlockResult(
        number=header.number, hash=header.hash, fork=fork.name,
        gas_used=receipts[-1].cumulative_gas_used if receipts else 0, receipts=receipts,
        bloom=bloom, checks=checks, txs=txs, _state_diff=lambda: state_diff(block.prestate, state),
        state_root=state_root,
        requests=requests, timings=timings, engine=engine, workers=workers if engine == "parallel" else 1,
        engine_stats=stats, notes=notes,
    )


def execute_block_folder(path: str | Path, **options) -> BlockResult:
    """Read a block folder and replay it (`execute_block` options); the reading is timed too."""
    started = perf_counter()
    block = read_block_folder(path)
    read = perf_counter() - started
    result = execute_block(block, **options)
    result.timings.read += read
    return result


@dataclass(slots=True)
class EngineComparison:
    """The same block run sequentially and in parallel, and every way their results differ."""

    sequential: BlockResult
    parallel: BlockResult
    differences: list[str]

    @property
    def identical(self) -> bool:
        return not self.differences

    @property
    def speedup(self) -> float:
        parallel = self.parallel.timings.execute
        return self.sequential.timings.execute / parallel if parallel > 0 else 0.0


def compare_engines(block: BlockInput, workers: int, **options) -> EngineComparison:
    """Run `block` sequentially and on `workers` workers; compare receipts, gas, logs and state.

    An untimed sequential run comes first: it decodes the block's code, which later runs in this
    process reuse, so neither timed engine pays for decoding (else the one timed first would);
    likewise the parallel engine is imported before the timed runs."""
    import_module("parevm.parallel.engine")
    execute_block(block, workers=1, **options)
    sequential = execute_block(block, workers=1, **options)
    parallel = execute_block(block, workers=workers, **options)
    return EngineComparison(sequential, parallel, result_differences(sequential, parallel))


def result_differences(a: BlockResult, b: BlockResult) -> list[str]:
    """What differs between two runs of one block, each item naming the first place it differs."""
    differences = []
    if a.gas_used != b.gas_used:
        differences.append(f"gas used {a.gas_used} vs {b.gas_used}")
    first = next((i for i, (x, y) in enumerate(zip(a.receipts, b.receipts)) if x != y), None)
    if first is not None:
        what = "logs" if a.receipts[first].logs != b.receipts[first].logs else "status or gas"
        differences.append(f"receipt of transaction {first} ({what})")
    elif len(a.receipts) != len(b.receipts):
        differences.append(f"{len(a.receipts)} vs {len(b.receipts)} receipts")
    changed = sorted(address for address in a.state_diff.keys() | b.state_diff.keys()
                     if a.state_diff.get(address) != b.state_diff.get(address))
    if changed:
        differences.append(f"state of {len(changed)} account(s), first 0x{changed[0].hex()}")
    if a.requests != b.requests:
        differences.append("requests")
    return differences


# --- the steps -----------------------------------------------------------------------------------


def block_env(header: BlockHeader, fork: Fork, block_hashes: dict[int, bytes]) -> BlockEnv:
    """What the EVM sees of the block. BLOCKHASH answers from `block_hashes` plus the parent hash,
    and None (the instruction pushes 0) for a block it does not know."""
    hashes = dict(block_hashes)
    if header.number > 0:
        hashes[header.number - 1] = header.parent_hash
    excess_blob_gas = header.excess_blob_gas or 0
    return BlockEnv(
        fork=fork, chain_id=CHAIN_ID, coinbase=header.coinbase, number=header.number,
        timestamp=header.timestamp, gas_limit=header.gas_limit, difficulty=header.difficulty,
        prev_randao=header.prev_randao if fork.proof_of_stake else bytes(32),
        base_fee=header.base_fee or 0, excess_blob_gas=excess_blob_gas,
        blob_base_fee=blob_base_fee(fork, excess_blob_gas), block_hash=hashes.get,
    )


def recover_senders(block: BlockInput, fork: Fork, workers: int = 1) -> list[bytes]:
    """Every transaction's sender, recovered from its signature and checked against the RPC `from`.
    With `workers` > 1, a block of at least `THREADED_RECOVERY_MIN_TXS` transactions has its
    signatures recovered on that many threads first (libsecp256k1 runs without the GIL)."""
    allow_high_s = not fork.homestead
    if workers > 1 and len(block.transactions) >= THREADED_RECOVERY_MIN_TXS:
        in_threads(lambda txs: [recover_sender(tx, allow_high_s=allow_high_s) for tx in txs], block.transactions,
                   workers)  # cached on each transaction; errors are met again below, in order
    senders = []
    for index, (tx, rpc_sender) in enumerate(zip(block.transactions, block.rpc_senders)):
        if tx.chain_id is not None and (tx.chain_id != CHAIN_ID or (tx.type == 0 and not fork.eip155)):
            raise BlockInputError(f"{_tx_where(block, index)}: chain id {tx.chain_id} is not valid "
                                  f"for mainnet {fork.name}")
        try:
            sender = recover_sender(tx, allow_high_s=allow_high_s)
        except InvalidSignature as exc:
            raise BlockInputError(f"{_tx_where(block, index)}: bad signature: {exc}") from None
        if rpc_sender is not None and sender != rpc_sender:
            raise BlockInputError(f"{_tx_where(block, index)}: recovered sender 0x{sender.hex()} differs "
                                  f"from the RPC 'from' 0x{rpc_sender.hex()}")
        senders.append(sender)
    return senders


def _tx_where(block: BlockInput, index: int) -> str:
    tx_hash = keccak256(encode_transaction(block.transactions[index]))
    return f"block {block.header.number}: transaction {index} (0x{tx_hash.hex()})"


def prepare_execution(state: BlockState, fork: Fork, workers: int = 1) -> None:
    """Before a parallel run, the work that every worker would otherwise repeat inside the first
    transaction that needs it: decode the entry of the pre-state's code and find its jump
    destinations (later basic blocks are decoded lazily, on first entry). It is cached on the
    code, and worker processes forked afterwards share it. With `workers` > 1 and at least
    `FORKED_ANALYSIS_MIN_BYTES` of code, a forked process finds the jump destinations (about half
    the work) meanwhile. A sequential run skips this: it analyses code when it first runs it, and
    about a third of a mainnet pre-state's code never runs (the fixture blocks: -10% of prepare
    plus execute). The KZG trusted setup (~1.5 s to load) is left to the first point evaluation."""
    codes = list({id(code): code for code in state.codes.values() if fork.name not in code.analyses}.values())
    if workers < 2 or sum(len(code.bytes) for code in codes) < FORKED_ANALYSIS_MIN_BYTES:
        for code in codes:
            analyze(code, fork)
        return
    found = ForkedCall(lambda: [jump_destinations(code.bytes) for code in codes])
    analyses = [analyze(code, fork, jumpdests=frozenset()) for code in codes]  # theirs come below
    for analysis, jumpdests in zip(analyses, found.result()):
        analysis.jumpdests = jumpdests


def _run_transactions(env: BlockEnv, block: BlockInput, senders: list[bytes], state: BlockState,
                      workers: int) -> tuple[list[TxResult], str, object]:
    """Execute the transactions on `state`: (results, engine name, engine statistics). With
    `workers` > 1 on the parallel engine; `execute_block` passes 1 for a block too small to gain
    from workers (`ChunkPlanner.worth_parallel`), which then runs without even loading it."""
    try:
        if workers > 1:
            from parevm.parallel.engine import execute_transactions_parallel
            results, stats = execute_transactions_parallel(env, block.transactions, senders, state, workers)
            return results, "parallel", stats
        return execute_transactions(env, block.transactions, senders, state), "sequential", None
    except InvalidBlock as exc:
        missing = [f"{i} (0x{s.hex()})" for i, s in enumerate(senders) if s not in block.prestate]
        hint = f"; senders missing from prestate.json: transaction {', '.join(missing[:3])}" if missing else ""
        raise InvalidBlock(f"block {block.header.number}: {exc}{hint}") from None


def _receipts(txs: Sequence[Transaction], results: Sequence[TxResult], fork: Fork) -> list[Receipt]:
    receipts = []
    cumulative = 0
    for tx, result in zip(txs, results):
        cumulative += result.gas_used
        # Before Byzantium the receipt holds the state root after the transaction: unknown here.
        outcome = int(result.success) if fork.byzantium else None
        receipts.append(Receipt.build(tx.type, outcome, cumulative, result.logs))
    return receipts


def _post_block(env: BlockEnv, block: BlockInput, state: BlockState, receipts: list[Receipt],
                notes: list[str]) -> tuple[list[bytes] | None, str]:
    """Block reward or withdrawals, then requests: (requests or None, why they are unavailable)."""
    fork = env.fork
    where = f"block {block.header.number}"
    if not fork.proof_of_stake:
        uncles = len(block.uncle_hashes)
        _credit(state, [(env.coinbase, fork.block_reward + uncles * (fork.block_reward // 32))])
        if uncles:
            notes.append(f"{uncles} uncle(s): their miners' rewards are not applied (block.json has only "
                         "uncle hashes, not their numbers and miners)")
    if fork.withdrawals:
        if block.withdrawals is None:
            raise InvalidBlock(f"{where}: a {fork.name} block without a withdrawals list")
        # A zero withdrawal changes nothing: it would create an empty account, which is deleted again.
        _credit(state, [(w.address, w.amount_gwei * GWEI) for w in block.withdrawals])
    if not fork.eip7685_requests:
        return None, ""
    try:
        return collect_requests(env, state, (log for receipt in receipts for log in receipt.logs)), ""
    except RequestsUnavailable as exc:
        return None, str(exc)
    except InvalidBlock as exc:
        raise InvalidBlock(f"{where}: {exc}") from None


def _credit(state: BlockState, credits: list[tuple[bytes, int]]) -> None:
    tx_state = TxState(state)
    for address, amount in credits:
        if amount:
            tx_state.add_balance(address, amount)
    state.apply(tx_state.writes())


def _checks(block: BlockInput, fork: Fork, receipts: list[Receipt], bloom: bytes, results: list[TxResult],
            state: BlockState, requests: list[bytes] | None, requests_note: str,
            check_state_root: bool | None, workers: int) -> tuple[list[Check], bytes | None, list[bytes]]:
    """The header checks, the state root (if computed) and the transaction hashes. With `workers`
    > 1, a block of at least `FORKED_TRIES_MIN_TXS` transactions has its transactions and receipts
    tries computed in another process while this one computes the state root."""
    header = block.header

    def tries() -> tuple[bytes, bytes | None, list[bytes]]:
        """(transactions root, receipts root (Byzantium on), transaction hashes)."""
        encoded = [encode_transaction(tx) for tx in block.transactions]
        return (ordered_trie_root(encoded), receipts_root(receipts) if fork.byzantium else None,
                [keccak256(tx) for tx in encoded])

    forked = (ForkedCall(tries) if workers > 1 and len(block.transactions) >= FORKED_TRIES_MIN_TXS
              and check_state_root is not False else None)
    state_root = None if check_state_root is False else state.state_root()
    transactions_root, receipts_trie_root, hashes = forked.result() if forked else tries()
    checks = [
        Check.compare("gasUsed", header.gas_used, receipts[-1].cumulative_gas_used if receipts else 0),
        Check.compare("logsBloom", header.logs_bloom, bloom),
        Check.compare("transactionsRoot", header.transactions_root, transactions_root),
    ]
    if fork.byzantium:
        checks.append(Check.compare("receiptsRoot", header.receipts_root, receipts_trie_root))
    else:
        checks.append(Check.unavailable("receiptsRoot", "receipts before Byzantium hold intermediate state roots"))
    if fork.withdrawals:
        checks.append(Check.compare("withdrawalsRoot", header.withdrawals_root, ordered_trie_root(
            [encode([w.index, w.validator_index, w.address, w.amount_gwei]) for w in block.withdrawals])))
    if fork.eip4844:
        checks.append(Check.compare("blobGasUsed", header.blob_gas_used,
                                    sum(result.blob_gas_used for result in results)))
    complete = check_state_root is True
    if fork.eip7685_requests:
        if requests is not None:
            checks.append(_state_check("requestsHash", header.requests_hash, requests_hash(requests), complete))
        elif complete:  # a complete pre-state must hold the request contracts
            checks.append(Check("requestsHash", MISMATCH, header.requests_hash, None, requests_note))
        else:
            checks.append(Check.unavailable("requestsHash", requests_note))
    if state_root is None:
        checks.append(Check.unavailable("stateRoot", "not computed"))
    else:
        checks.append(_state_check("stateRoot", header.state_root, state_root, complete))
    return checks, state_root, hashes


def _state_check(name: str, expected: bytes, actual: bytes, complete: bool) -> Check:
    """A check that depends on state the transactions need not have touched (the whole state; the
    request contracts' queues): from a partial pre-state a difference proves nothing, so it is
    only a mismatch when the pre-state is known to be complete."""
    check = Check.compare(name, expected, actual)
    if check.status == MISMATCH and not complete:
        return Check(name, UNAVAILABLE, expected, actual,
                     "differs; expected with a partial pre-state (--check-state-root if it is complete)")
    return check


def state_diff(prestate: dict[bytes, PreAccount], state: BlockState) -> dict[bytes, AccountChange]:
    """Every account whose balance, nonce, code or storage differs between `prestate` and `state`."""
    diff = {}
    accounts, codes, storage = state.accounts, state.codes, state.storage
    no_slots: dict[int, int] = {}
    for address in prestate.keys() | accounts.keys():
        before = prestate.get(address)
        after = accounts.get(address)
        pre_slots = before.storage if before is not None else no_slots
        post_slots = storage.get(address, no_slots)
        changed = [slot for slot in pre_slots.keys() | post_slots.keys()
                   if pre_slots.get(slot, 0) != post_slots.get(slot, 0)]
        code = codes.get(address, EMPTY_CODE).bytes
        if before is not None and after is not None and not changed and (
                before.nonce, before.balance, before.code) == (after[0], after[1], code):
            continue
        diff[address] = AccountChange(
            None if before is None else AccountState(
                before.balance, before.nonce, before.code, {slot: pre_slots.get(slot, 0) for slot in changed}),
            None if after is None else AccountState(
                after[1], after[0], code, {slot: post_slots.get(slot, 0) for slot in changed}),
        )
    return diff

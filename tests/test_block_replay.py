"""Block replay: every fixture block passes every check that applies to it; the block rules
(rewards, withdrawals, system calls, requests) have the effects the specs say; bad input is a
clear one-line error; `parevm run` prints, exits and writes what it promises."""
from __future__ import annotations

import json
import random
import shutil
from hashlib import sha256
from pathlib import Path

import pytest

from parevm.api import (
    BlockInputError,
    InvalidBlock,
    UnsupportedBlock,
    block_from_objects,
    compare_engines,
    execute_block,
    execute_block_folder,
    read_block_folder,
    state_diff_json,
)
from parevm.block import executor as executor_module
from parevm.block.executor import block_env
from parevm.block.result import MISMATCH, OK, UNAVAILABLE
from parevm.block.system import (
    DEPOSIT_CONTRACT_ADDRESS,
    DEPOSIT_EVENT_TOPIC,
    collect_requests,
    deposit_request,
    requests_hash,
)
from parevm.cli import main
from parevm.config import REPO_ROOT, fixtures_dir
from parevm.evm.analysis import jump_destinations
from parevm.evm.forks import mainnet_fork
from parevm.parallel import chunks as chunks_module
from parevm.primitives import Log
from parevm.state.block_state import BlockState

EXAMPLES = REPO_ROOT / "examples" / "blocks"
FRONTIER_BLOCK = EXAMPLES / "930196"  # 18 transfers, no contract calls
CANCUN_BLOCK = EXAMPLES / "19923400"  # withdrawals, EIP-4788 call
SYNTHETIC_BLOCKS = ("bpo2-blobs", "cancun-erc20-200", "osaka-mix", "prague-7702")


def _fixture_blocks(kind: str) -> list:
    """A param per block folder of fixtures/<kind>, or one param for the missing root (so the test
    skips, or fails with CI=true, instead of vanishing)."""
    root = fixtures_dir() / kind
    folders = sorted((p.name for p in root.iterdir() if (p / "block.json").is_file()), key=_numeric_first) \
        if root.is_dir() else []
    return [pytest.param(name, id=name) for name in folders] or [pytest.param(None, id=f"{kind}-missing")]


def _numeric_first(name: str) -> tuple:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def _expected_checks(fork, complete_prestate: bool) -> dict[str, str]:
    """Which header checks apply to a block of `fork`, and the status each must have."""
    checks = {"gasUsed": OK, "logsBloom": OK, "transactionsRoot": OK,
              "receiptsRoot": OK if fork.byzantium else UNAVAILABLE}
    if fork.withdrawals:
        checks["withdrawalsRoot"] = OK
    if fork.eip4844:
        checks["blobGasUsed"] = OK
    if fork.eip7685_requests:
        checks["requestsHash"] = OK
    checks["stateRoot"] = OK if complete_prestate else UNAVAILABLE
    return checks


def _statuses(result) -> dict[str, str]:
    return {check.name: check.status for check in result.checks}


# --- every fixture block ---------------------------------------------------------------------------


@pytest.mark.conformance
@pytest.mark.parametrize("name", _fixture_blocks("mainnet"))
def test_mainnet_block_replays(name, fixture_path):
    folder = fixture_path("mainnet", *([name] if name else []))
    block = read_block_folder(folder)
    result = execute_block(block, check_state_root=False)
    fork = mainnet_fork(block.header.number, block.header.timestamp)
    expected = _expected_checks(fork, complete_prestate=False)
    failed_txs = [tx.index for tx in result.txs if not tx.success]
    assert _statuses(result) == expected, f"mismatches: {result.mismatches}; failed transactions: {failed_txs}"
    assert result.ok
    assert result.gas_used == block.header.gas_used
    assert result.tx_count == len(block.transactions)


@pytest.mark.parametrize("name", SYNTHETIC_BLOCKS)
def test_synthetic_block_replays_with_state_root(name, fixture_path):
    block = read_block_folder(fixture_path("synthetic", name))
    result = execute_block(block, check_state_root=True)
    fork = mainnet_fork(block.header.number, block.header.timestamp)
    assert _statuses(result) == _expected_checks(fork, complete_prestate=True), result.mismatches
    assert result.state_root == block.header.state_root


def test_prague_block_has_withdrawal_and_consolidation_requests(fixture_path):
    result = execute_block(read_block_folder(fixture_path("synthetic", "prague-7702")), check_state_root=True)
    assert result.check("requestsHash").status == OK
    assert sorted(request[0] for request in result.requests) == [1, 2]  # EIP-7002 and EIP-7251, no deposits


# --- the rules around the transactions ------------------------------------------------------------


def test_frontier_reward_and_fees_go_to_the_miner():
    block = read_block_folder(FRONTIER_BLOCK)
    result = execute_block(block)
    miner = result.state_diff[block.header.coinbase]
    fees = sum(tx.gas_used * t.gas_price for tx, t in zip(result.txs, block.transactions))
    assert miner.post.balance - miner.pre.balance == 5 * 10**18 + fees
    assert all(receipt.status_or_state_root is None for receipt in result.receipts)  # roots unknowable
    assert result.check("receiptsRoot").status == UNAVAILABLE


def test_senders_nonces_advance_once_per_transaction():
    block = read_block_folder(CANCUN_BLOCK)
    result = execute_block(block)
    sent: dict[bytes, int] = {}
    for sender in block.rpc_senders:
        sent[sender] = sent.get(sender, 0) + 1
    for sender, count in sent.items():
        change = result.state_diff[sender]
        assert change.post.nonce - change.pre.nonce == count


def test_withdrawals_are_credited_in_gwei():
    block = read_block_folder(CANCUN_BLOCK)
    objects = _objects(CANCUN_BLOCK)
    objects["block"]["transactions"] = []
    objects["block"]["gasUsed"] = "0x0"
    empty = block_from_objects(**objects)
    result = execute_block(empty)
    assert result.check("gasUsed").status == OK and result.check("withdrawalsRoot").status == OK
    credited: dict[bytes, int] = {}
    for withdrawal in block.withdrawals:
        credited[withdrawal.address] = credited.get(withdrawal.address, 0) + withdrawal.amount_gwei * 10**9
    beacon_roots = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")
    balance_changes = {address: (change.post.balance - (change.pre.balance if change.pre else 0))
                       for address, change in result.state_diff.items() if address != beacon_roots}
    assert balance_changes == credited


def test_beacon_root_system_call_stores_the_parent_beacon_root(fixture_path):
    block = read_block_folder(fixture_path("synthetic", "cancun-erc20-200"))
    result = execute_block(block, check_state_root=True)
    beacon_roots = result.state_diff[bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")]
    history = 8191  # EIP-4788 ring buffer: timestamp at t % 8191, root at t % 8191 + 8191
    slot = block.header.timestamp % history
    assert beacon_roots.post.storage[slot] == block.header.timestamp
    assert beacon_roots.post.storage[slot + history] == int.from_bytes(block.header.parent_beacon_block_root, "big")


def test_block_env_answers_blockhash_from_the_window_and_the_parent():
    block = read_block_folder(CANCUN_BLOCK)
    header = block.header
    env = block_env(header, mainnet_fork(header.number, header.timestamp), block.block_hashes)
    assert env.block_hash(header.number - 1) == header.parent_hash
    assert env.block_hash(header.number - 255) == block.block_hashes.get(header.number - 255)
    assert env.prev_randao == header.mix_hash and env.base_fee == header.base_fee
    assert env.blob_base_fee == 1  # excess blob gas 0 -> the minimum


def test_state_root_modes_on_a_partial_prestate():
    block = read_block_folder(FRONTIER_BLOCK)
    auto = execute_block(block)
    assert auto.check("stateRoot").status == UNAVAILABLE and auto.state_root is not None and auto.ok
    strict = execute_block(block, check_state_root=True)
    assert strict.check("stateRoot").status == MISMATCH and not strict.ok
    skipped = execute_block(block, check_state_root=False)
    assert skipped.state_root is None and skipped.check("stateRoot").status == UNAVAILABLE


def test_requests_hash_of_no_requests_is_sha256_of_nothing():
    assert requests_hash([]) == sha256(b"").digest()
    assert requests_hash([b"\x01abc"]) == sha256(sha256(b"\x01abc").digest()).digest()


def _deposit_event(pubkey: bytes, credentials: bytes, amount: bytes, signature: bytes, index: bytes) -> bytes:
    """The ABI encoding of DepositEvent(bytes,bytes,bytes,bytes,bytes), built by hand."""
    fields = (pubkey, credentials, amount, signature, index)
    head, tail = b"", b""
    offset = 32 * len(fields)
    for field in fields:
        head += (offset + len(tail)).to_bytes(32, "big")
        tail += len(field).to_bytes(32, "big") + field + bytes(-len(field) % 32)
    return head + tail


def test_deposit_request_from_an_event():
    fields = (b"\x11" * 48, b"\x22" * 32, (32 * 10**9).to_bytes(8, "little"), b"\x33" * 96, (7).to_bytes(8, "little"))
    data = _deposit_event(*fields)
    assert len(data) == 576
    assert deposit_request(data) == b"".join(fields)
    with pytest.raises(InvalidBlock, match="deposit log"):
        deposit_request(data[:-32])
    bad_offset = data[:32] + (161).to_bytes(32, "big") + data[64:]
    with pytest.raises(InvalidBlock, match="field 1"):
        deposit_request(bad_offset)


def test_deposits_are_collected_from_the_deposit_contract_logs_only(fixture_path):
    block = read_block_folder(fixture_path("synthetic", "prague-7702"))
    env = block_env(block.header, mainnet_fork(block.header.number, block.header.timestamp), block.block_hashes)
    data = _deposit_event(b"\x11" * 48, b"\x22" * 32, bytes(8), b"\x33" * 96, bytes(8))
    logs = [Log(DEPOSIT_CONTRACT_ADDRESS, (DEPOSIT_EVENT_TOPIC,), data),
            Log(b"\x01" * 20, (DEPOSIT_EVENT_TOPIC,), data),  # not the deposit contract
            Log(DEPOSIT_CONTRACT_ADDRESS, (), data)]  # no topic
    state = BlockState.from_accounts((a, p.nonce, p.balance, p.code, p.storage) for a, p in block.prestate.items())
    # before the block's transactions the EIP-7002/7251 queues are empty: only the deposit
    assert collect_requests(env, state, logs) == [b"\x00" + deposit_request(data)]


def test_state_diff_is_computed_when_first_asked_for():
    result = execute_block_folder(CANCUN_BLOCK)
    assert result.timings.diff == 0
    diff = result.state_diff
    assert diff and result.timings.diff > 0 and result.state_diff is diff


def test_state_diff_json_has_the_prestate_tracer_diff_shape():
    result = execute_block(read_block_folder(FRONTIER_BLOCK))
    diff = state_diff_json(result.state_diff)
    assert set(diff) == {"pre", "post"}
    assert set(diff["post"]) == {"0x" + address.hex() for address, change in result.state_diff.items() if change.post}
    some = next(iter(diff["post"].values()))
    assert set(some) <= {"balance", "nonce", "code", "storage"} and some


def test_parallel_workers_match_sequential(monkeypatch):
    block = read_block_folder(CANCUN_BLOCK)
    comparison = compare_engines(block, workers=2)
    assert comparison.identical, comparison.differences
    # too small to gain from workers: run sequentially, without loading the parallel engine
    assert comparison.parallel.engine == "sequential" and comparison.parallel.workers == 1
    monkeypatch.setattr(chunks_module, "MIN_PARALLEL_SECONDS", 0.0)
    comparison = compare_engines(block, workers=2)
    assert comparison.identical, comparison.differences
    assert comparison.parallel.engine == "parallel" and comparison.parallel.engine_stats.transactions == len(
        block.transactions)


# --- library use from parsed JSON, and bad input ---------------------------------------------------


def _objects(folder: Path) -> dict:
    return {"block": json.loads((folder / "block.json").read_bytes()),
            "prestate": json.loads((folder / "prestate.json").read_bytes()),
            "block_hashes": json.loads((folder / "block_hashes.json").read_bytes())}


def test_library_api_from_objects_equals_the_folder():
    from_objects = execute_block(block_from_objects(**_objects(CANCUN_BLOCK)))
    from_folder = execute_block_folder(CANCUN_BLOCK)
    assert from_objects.ok and from_objects.receipts == from_folder.receipts
    assert from_objects.state_diff == from_folder.state_diff
    assert from_folder.timings.read > 0


def test_wrong_rpc_sender_names_the_transaction():
    objects = _objects(FRONTIER_BLOCK)
    objects["block"]["transactions"][3]["from"] = "0x" + "ab" * 20
    tx_hash = objects["block"]["transactions"][3]["hash"]
    with pytest.raises(BlockInputError, match=f"block 930196: transaction 3 \\({tx_hash}\\): recovered sender"):
        execute_block(block_from_objects(**objects))


def test_bad_signature_names_the_transaction():
    objects = _objects(CANCUN_BLOCK)
    objects["block"]["transactions"][5]["s"] = hex(2**256 - 1)
    with pytest.raises(BlockInputError, match="block 19923400: transaction 5 .*bad signature"):
        execute_block(block_from_objects(**objects))


def test_bad_signature_is_named_the_same_with_threaded_recovery(monkeypatch):
    monkeypatch.setattr(executor_module, "THREADED_RECOVERY_MIN_TXS", 1)
    objects = _objects(CANCUN_BLOCK)
    objects["block"]["transactions"][5]["s"] = hex(2**256 - 1)
    objects["block"]["transactions"][9]["s"] = hex(2**256 - 1)
    with pytest.raises(BlockInputError, match="block 19923400: transaction 5 .*bad signature"):
        execute_block(block_from_objects(**objects), workers=2)


@pytest.mark.parametrize("name", [None, "frontier", *SYNTHETIC_BLOCKS])
def test_side_work_on_threads_and_a_forked_process_equals_the_work_done_here(monkeypatch, fixture_path, name):
    folder = {None: CANCUN_BLOCK, "frontier": FRONTIER_BLOCK}.get(name) or fixture_path("synthetic", name)
    alone = execute_block_folder(folder, workers=1)
    monkeypatch.setattr(executor_module, "THREADED_RECOVERY_MIN_TXS", 1)
    monkeypatch.setattr(executor_module, "FORKED_TRIES_MIN_TXS", 1)
    monkeypatch.setattr(chunks_module, "MIN_PARALLEL_SECONDS", 1e9)  # the engine itself: sequential
    spread = execute_block_folder(folder, workers=2)
    assert spread.ok and spread.checks == alone.checks and spread.txs == alone.txs
    assert spread.state_root == alone.state_root and spread.requests == alone.requests


def test_jump_destinations_found_by_a_forked_process_are_those_found_here(monkeypatch):
    monkeypatch.setattr(executor_module, "FORKED_ANALYSIS_MIN_BYTES", 1)
    rng = random.Random(7)
    codes = [bytes(rng.choice((0x5B, 0x60, 0x61, 0x7F, 0x56, 0x00)) for _ in range(rng.randrange(1, 400)))
             + rng.randbytes(8) for _ in range(20)]  # fresh bytes: not analysed by another test
    state = BlockState.from_accounts([(bytes([i]) * 20, 1, 0, code, {}) for i, code in enumerate(codes, 1)])
    fork = mainnet_fork(19_000_000, 1_710_000_000)
    executor_module.prepare_execution(state, fork, workers=2)
    for code in state.codes.values():
        assert code.analyses[fork.name].jumpdests == jump_destinations(code.bytes)


def test_sender_missing_from_prestate_is_named():
    objects = _objects(FRONTIER_BLOCK)
    sender = objects["block"]["transactions"][0]["from"]
    del objects["prestate"][sender]
    with pytest.raises(InvalidBlock, match=f"block 930196: transaction 0: .*missing from prestate.json: "
                                           f"transaction 0 \\({sender}\\)"):
        execute_block(block_from_objects(**objects))


def test_dao_fork_block_is_refused():
    objects = _objects(FRONTIER_BLOCK)
    objects["block"]["number"] = hex(1_920_000)
    objects["block"]["transactions"] = []
    with pytest.raises(UnsupportedBlock, match="DAO"):
        execute_block(block_from_objects(**objects))


# --- the command ----------------------------------------------------------------------------------


def run_cli(capsys, *args) -> tuple[int, list[str], str]:
    status = main(["run", *map(str, args)])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def _copy_block(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_run_prints_a_line_per_block_and_a_summary(capsys):
    status, out, err = run_cli(capsys, "--workers", "1", FRONTIER_BLOCK, CANCUN_BLOCK, EXAMPLES / "README.md")
    assert status == 0
    assert out[0].split()[:4] == ["block", "fork", "txs", "gas"]
    assert out[1].split()[:8] == ["930196", "Frontier", "18", "378,000", "ok", "ok", "ok", "-"]
    assert out[2].split()[:10] == ["19923400", "Cancun", "24", "1,624,049", "ok", "ok", "ok", "ok", "ok", "ok"]
    assert out[-1] == "2 blocks replayed: 2 ok, 0 failed, 0 errors"  # the README was skipped
    assert "Traceback" not in err


def test_run_expands_a_folder_of_block_folders(capsys):
    status, out, _ = run_cli(capsys, "--workers", "1", EXAMPLES)
    assert status == 0
    assert [line.split()[0] for line in out[1:4]] == ["930196", "6196166", "19923400"]


def test_run_reports_a_mismatch_with_the_per_transaction_gas(tmp_path, capsys):
    folder = _copy_block(FRONTIER_BLOCK, tmp_path / "930196")
    block = json.loads((folder / "block.json").read_bytes())
    block["gasUsed"] = hex(int(block["gasUsed"], 16) + 1)
    (folder / "block.json").write_text(json.dumps(block))
    status, out, _ = run_cli(capsys, "--workers", "1", folder)
    assert status == 1
    assert "FAIL" in out[1].split()[4]
    assert "    gasUsed: expected 378,001, got 378,000" in out
    assert "    failed transactions: none" in out
    assert any(line.strip() == "0-17:21000" for line in out)  # 18 plain transfers, merged into one run
    assert out[-1] == "1 blocks replayed: 0 ok, 1 failed, 0 errors"


@pytest.mark.parametrize("breakage, fragments", [
    (lambda folder: (folder / "prestate.json").unlink(), ("broken: missing prestate.json",)),
    (lambda folder: (folder / "block.json").write_text("{not json"), ("broken: block.json: malformed JSON",)),
    (lambda folder: _edit_block(folder, lambda b: b["transactions"][2].update(type="0x7f")),
     ("transaction 2 (0x", "unsupported transaction type 127")),
    (lambda folder: _edit_block(folder, lambda b: b["transactions"][1].update(v="0x1")),
     ("broken: block 930196: transaction 1 (0x", "bad signature")),
], ids=["missing-file", "bad-json", "unknown-tx-type", "bad-signature"])
def test_run_bad_input_is_one_error_line_and_the_batch_goes_on(tmp_path, capsys, breakage, fragments):
    broken = _copy_block(FRONTIER_BLOCK, tmp_path / "broken")
    breakage(broken)
    status, out, err = run_cli(capsys, "--workers", "1", broken, FRONTIER_BLOCK)
    assert status == 1
    errors = [line for line in out if line.startswith("ERROR ")]
    assert len(errors) == 1 and all(fragment in errors[0] for fragment in fragments), errors
    assert any(line.split()[:1] == ["930196"] for line in out)  # the good block still ran
    assert out[-1] == "1 blocks replayed: 1 ok, 0 failed, 1 errors"
    assert "Traceback" not in err


def _edit_block(folder: Path, edit) -> None:
    block = json.loads((folder / "block.json").read_bytes())
    edit(block)
    (folder / "block.json").write_text(json.dumps(block))


def test_run_json_and_state_diff_file(tmp_path, capsys):
    diff_file = tmp_path / "diff.json"
    status, out, err = run_cli(capsys, "--workers", "1", "--json", "--state-diff", diff_file, FRONTIER_BLOCK)
    assert status == 0
    record = json.loads(out[0])
    assert len(out) == 1  # the summary goes to stderr in JSON mode
    assert record["number"] == 930196 and record["ok"] is True
    assert record["checks"]["gasUsed"] == {"status": "ok", "expected": 378000, "actual": 378000}
    assert [tx["gasUsed"] for tx in record["transactions"]] == [21000] * 18
    assert "1 blocks replayed" in err
    diffs = json.loads(diff_file.read_bytes())
    assert set(diffs) == {"930196"} and set(diffs["930196"]) == {"pre", "post"}


def test_run_compare_reports_identical_results(capsys):
    status, out, err = run_cli(capsys, "--workers", "2", "--compare", CANCUN_BLOCK)
    assert status == 0
    columns = out[1].split()
    assert columns[0] == "19923400" and columns[-1] == "yes" and columns[-2].endswith("x")
    assert out[-1].endswith(" ok, 0 failed, 0 errors, 0 with sequential/parallel differences")


def test_replays_are_deterministic():
    first = execute_block(read_block_folder(CANCUN_BLOCK))
    second = execute_block(read_block_folder(CANCUN_BLOCK))
    assert first.receipts == second.receipts and first.state_diff == second.state_diff
    assert first.state_root == second.state_root and first.state_diff


def test_run_check_state_root_on_complete_and_partial_prestates(fixture_path, capsys):
    synthetic = fixture_path("synthetic", "prague-7702")
    status, out, _ = run_cli(capsys, "--workers", "1", "--check-state-root", synthetic, FRONTIER_BLOCK)
    assert status == 1
    prague, frontier = out[1].split(), out[2].split()
    assert prague[1] == "Prague" and prague[4:12] == ["ok"] * 8  # every check, stateRoot and requestsHash too
    assert frontier[0] == "930196" and frontier[11] == "FAIL"  # a partial pre-state cannot give the root
    assert out[-1] == "2 blocks replayed: 1 ok, 1 failed, 0 errors"


def test_uncle_inclusion_reward_and_note(fixture_path):
    objects = _objects(fixture_path("mainnet", "8889776"))  # Petersburg (2 ETH reward), one uncle
    with_uncle = execute_block(block_from_objects(**objects), check_state_root=False)
    objects["block"]["uncles"] = []
    without = execute_block(block_from_objects(**objects), check_state_root=False)
    assert with_uncle.ok and without.ok
    miner = bytes.fromhex(objects["block"]["miner"][2:])  # the miner also sends transactions here
    difference = with_uncle.state_diff[miner].post.balance - without.state_diff[miner].post.balance
    assert difference == 2 * 10**18 // 32
    assert any("1 uncle(s)" in note for note in with_uncle.notes) and not without.notes


def test_requests_hash_mismatch_fails_only_on_a_complete_prestate(fixture_path):
    objects = _objects(fixture_path("synthetic", "prague-7702"))
    objects["block"]["requestsHash"] = "0x" + "00" * 32
    block = block_from_objects(**objects)
    assert execute_block(block, check_state_root=True).check("requestsHash").status == MISMATCH
    lenient = execute_block(block)
    assert lenient.check("requestsHash").status == UNAVAILABLE and lenient.check("stateRoot").status == OK

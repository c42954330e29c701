"""Workloads: the compiled contracts deploy to their artefacts' runtime code with the storage layout
the generators rely on; every generated block runs as designed (all transactions succeed, tokens
are conserved, the AMM's product never falls, loans are paid out and repaid, ...), with the
dependency shape its docstring promises; written block folders pass `parevm run`'s checks."""
from __future__ import annotations

import json

import pytest

from parevm.block.sequential import execute_transactions
from parevm.crypto import keccak256
from parevm.evm.forks import CANCUN
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import execute_transaction
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState
from parevm.tx import Transaction, recover_sender
from parevm.workloads import blocks
from parevm.workloads.artefacts import CONTRACTS_DIR, Contract, load, word
from parevm.workloads.bench import run_benchmarks
from parevm.workloads.blocks import GENERATORS, Workload

N = 40
TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
BUMPED_TOPIC = keccak256(b"Bumped(address,address,uint256)")
UINT256 = 2**256


def storage_of(state: BlockState, address: bytes, contract: Contract, variable: str, *keys) -> int:
    return state.read_storage(address, contract.slot(variable, *keys))


def balance(state: BlockState, address: bytes) -> int:
    account = state.read_account(address)
    return account[1] if account else 0


def as_address(value: int) -> bytes:
    return value.to_bytes(20, "big")


# --- artefacts -------------------------------------------------------------------------------------

DEPLOYER = bytes.fromhex("00000000000000000000000000000000000de910")
CONSTRUCTOR_ARGS = {
    "Token": (10**24,),
    "Pair": (b"\x11" * 20, b"\x22" * 20),
    "Collectible": (500, 10**16),
    "BoardGame": (16,),
    "LendingPool": (10**17, 500),
    "Compute": (),
}


def test_every_source_has_an_artefact():
    sources = sorted(path.stem for path in CONTRACTS_DIR.glob("*.sol"))
    assert sources == sorted(CONSTRUCTOR_ARGS)
    for name in sources:
        artefact = json.loads((CONTRACTS_DIR / f"{name}.json").read_text())
        assert artefact["evmVersion"] == "cancun" and artefact["compiler"].startswith("0.8.")
        assert artefact["source"] == f"{name}.sol"


@pytest.mark.parametrize("name", sorted(CONSTRUCTOR_ARGS))
def test_creation_code_deploys_the_runtime_code(name):
    """Creation and runtime bytecode come from one compilation, and the runtime has no immutables
    (which a pre-state deployment could not fill in)."""
    contract = load(name)
    env = BlockEnv(fork=CANCUN, chain_id=1, coinbase=b"\xc0" * 20, number=1, timestamp=blocks.TIMESTAMP,
                   gas_limit=30_000_000, base_fee=7)
    state = BlockState.from_accounts([(DEPLOYER, 0, 10**18, b"", {})])
    data = contract.creation + b"".join(word(arg) for arg in CONSTRUCTOR_ARGS[name])
    tx = Transaction(type=2, chain_id=1, nonce=0, max_fee_per_gas=10, max_priority_fee_per_gas=1,
                     gas_limit=5_000_000, to=None, data=data)
    [result] = execute_transactions(env, [tx], [DEPLOYER], state)
    assert result.success
    assert state.read_code(result.created_address).bytes == contract.runtime


def test_constructor_writes_the_slots_the_generators_use():
    token = load("Token")
    env = BlockEnv(fork=CANCUN, chain_id=1, coinbase=b"\xc0" * 20, number=1, timestamp=blocks.TIMESTAMP,
                   gas_limit=30_000_000, base_fee=7)
    state = BlockState.from_accounts([(DEPLOYER, 0, 10**18, b"", {})])
    tx = Transaction(type=2, chain_id=1, nonce=0, max_fee_per_gas=10, max_priority_fee_per_gas=1,
                     gas_limit=5_000_000, to=None, data=token.creation + word(12345))
    [result] = execute_transactions(env, [tx], [DEPLOYER], state)
    address = result.created_address
    assert storage_of(state, address, token, "balanceOf", DEPLOYER) == 12345
    assert storage_of(state, address, token, "totalSupply") == 12345
    assert storage_of(state, address, token, "owner") == int.from_bytes(DEPLOYER, "big")


def test_call_data_and_slots():
    token = load("Token")
    data = token.call("transfer(address,uint256)", b"\x01" * 20, 5)
    assert data[:4] == keccak256(b"transfer(address,uint256)")[:4]
    assert data[4:] == bytes(12) + b"\x01" * 20 + (5).to_bytes(32, "big")
    with pytest.raises(KeyError):
        token.call("transfer(address)", b"\x01" * 20)
    owner, spender = b"\x0a" * 20, b"\x0b" * 20
    inner = keccak256(bytes(12) + owner + (1).to_bytes(32, "big"))
    assert token.slot("allowance", owner, spender) == int.from_bytes(keccak256(bytes(12) + spender + inner), "big")


# --- generated blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_is_deterministic_and_seeded(name):
    first, again, other = GENERATORS[name](8), GENERATORS[name](8), GENERATORS[name](8, seed=1)
    assert first.txs == again.txs and first.senders == again.senders and first.accounts == again.accounts
    assert first.txs != other.txs
    assert len(first.txs) == 8


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_transaction_succeeds_and_signatures_match_senders(name):
    workload = GENERATORS[name](N)
    results, _ = workload.execute()
    assert [r.success for r in results] == [True] * N
    signed = workload.signed_transactions()
    assert [recover_sender(tx) for tx in signed[:5]] == workload.senders[:5]


def test_value_transfers():
    workload = blocks.value_transfers(N)
    _, state = workload.execute()
    assert len(set(workload.senders)) == N
    recipients = [tx.to for tx in workload.txs]
    assert len(set(recipients)) == N and not set(recipients) & workload.accounts.keys()
    assert [balance(state, tx.to) for tx in workload.txs] == [tx.value for tx in workload.txs]


def test_erc20_transfers_conserve_tokens():
    workload = blocks.erc20_transfers(N)
    token, address = load("Token"), workload.contracts["token"]
    results, state = workload.execute()
    recipients = [as_address(int.from_bytes(tx.data[4:36], "big")) for tx in workload.txs]
    amounts = [int.from_bytes(tx.data[36:68], "big") for tx in workload.txs]
    assert len(set(workload.senders)) == len(set(recipients)) == N
    holders = workload.senders + recipients
    total = sum(storage_of(state, address, token, "balanceOf", holder) for holder in holders)
    assert total == storage_of(state, address, token, "totalSupply") == N * 1_000 * blocks.TOKEN
    assert [storage_of(state, address, token, "balanceOf", r) for r in recipients] == amounts
    for result, sender, recipient, amount in zip(results, workload.senders, recipients, amounts):
        [log] = result.logs
        assert log.topics == (TRANSFER_TOPIC, word(sender), word(recipient))
        assert int.from_bytes(log.data, "big") == amount


def test_amm_swaps_keep_the_product_rising():
    workload = blocks.amm_swaps(N)
    token, pair, address = load("Token"), load("Pair"), workload.contracts["pair"]
    state = workload.pre_state()
    reserves = lambda: (storage_of(state, address, pair, "reserve0"), storage_of(state, address, pair, "reserve1"))
    before = reserves()
    for tx, sender in zip(workload.txs, workload.senders):
        [result] = execute_transactions(workload.block_env, [tx], [sender], state)
        assert result.success
        after = reserves()
        assert after[0] * after[1] > before[0] * before[1]  # the fee stays in the pool
        token_in = int.from_bytes(tx.data[4:36], "big")
        direction = 0 if token_in == int.from_bytes(workload.contracts["token0"], "big") else 1
        amount_in = int.from_bytes(tx.data[36:68], "big")
        paid = blocks.pair_quote(amount_in, before[direction], before[1 - direction])
        assert after[direction] == before[direction] + amount_in
        assert after[1 - direction] == before[1 - direction] - paid
        before = after
    for index in range(2):  # each reserve is exactly what the pair holds
        held = storage_of(state, workload.contracts[f"token{index}"], token, "balanceOf", address)
        assert held == before[index]


def test_nft_mints_sell_out_in_order():
    workload = blocks.nft_mints(N)
    nft, address = load("Collectible"), workload.contracts["collectible"]
    _, state = workload.execute()
    assert storage_of(state, address, nft, "totalSupply") == N
    owners = [as_address(storage_of(state, address, nft, "_owners", token_id)) for token_id in range(1, N + 1)]
    assert owners == workload.senders
    assert balance(state, address) == N * blocks.MINT_PRICE
    # one more mint is refused: the collection is sold out
    buyer = workload.senders[0]
    extra = workload.txs[0].replace(nonce=1)
    [result] = execute_transactions(workload.block_env, [extra], [buyer], state)
    assert not result.success
    assert result.output[:4] == keccak256(b"SoldOut(uint256)")[:4]


def test_lending_pays_out_and_collects_loans():
    workload = blocks.lending(N)
    pool, address = load("LendingPool"), workload.contracts["pool"]
    borrow, repay, deposit = (pool.methods[s] for s in ("borrow(uint256)", "repay()", "deposit()"))
    state = workload.pre_state()
    start_balance = balance(state, address)
    principals: dict[bytes, int] = {}
    repaid = deposited = 0
    for tx, sender in zip(workload.txs, workload.senders):
        before = balance(state, sender)
        [result] = execute_transactions(workload.block_env, [tx], [sender], state)
        assert result.success
        fee = result.gas_used * (blocks.BASE_FEE + blocks.PRIORITY_FEE)  # below the max fee: the price paid
        selector = tx.data[:4]
        if selector == borrow:
            principals[sender] = principal = int.from_bytes(tx.data[4:36], "big")
            assert balance(state, sender) == before - fee + principal  # disbursed to the borrower
            assert storage_of(state, address, pool, "loanOf", sender) == principal
        elif selector == repay:
            assert tx.value == blocks.loan_owed(principals[sender])
            assert balance(state, sender) == before - fee - tx.value
            assert storage_of(state, address, pool, "loanOf", sender) == 0
            repaid += 1
        else:
            assert selector == deposit
            deposited += tx.value
    assert repaid == (N - N // 10) // 2  # every borrower repays within the block
    open_loans = {b: p for b, p in principals.items() if storage_of(state, address, pool, "loanOf", b)}
    interest = sum(blocks.loan_owed(p) - p for b, p in principals.items() if b not in open_loans)
    assert storage_of(state, address, pool, "outstanding") == sum(open_loans.values())
    assert storage_of(state, address, pool, "interestEarned") == interest
    assert balance(state, address) == start_balance + deposited + interest - sum(open_loans.values())


def test_game_board_stays_consistent():
    workload = blocks.game(N)
    board, address = load("BoardGame"), workload.contracts["game"]
    pre = workload.pre_state()
    results, state = workload.execute()
    players = sorted(set(workload.senders))
    assert len(players) == N // 2
    side = storage_of(state, address, board, "side")
    treasure = lambda s: sum(storage_of(s, address, board, "treasureAt", cell) for cell in range(side * side))
    scores = [storage_of(state, address, board, "scoreOf", p) for p in players]
    assert sum(scores) == treasure(pre) - treasure(state) > 0
    for player in players:
        cell = storage_of(state, address, board, "cellOf", player) - 1
        assert storage_of(state, address, board, "occupantOf", cell) == int.from_bytes(player, "big")
    assert storage_of(state, address, board, "leaderScore") == max(scores)
    bumps = sum(log.topics[0] == BUMPED_TOPIC for r in results for log in r.logs)
    moves = sum(log.topics[0] == keccak256(b"Moved(address,uint256,uint256)") for r in results for log in r.logs)
    assert bumps + moves == N


def compute_reference(iterations: int, seed: int) -> int:
    """Compute.run in Python."""
    prime = UINT256 - 189
    h, result = seed, 0
    for i in range(iterations):
        h = int.from_bytes(keccak256(word(h) + word(i)), "big")
        result = ((result + h) % UINT256 * (h | 1) % prime) ^ (h >> (i & 0xFF))
        result = (result + (h // (i + 1)) * 3 % UINT256) % prime
    return result


def test_compute_matches_a_python_reference():
    workload = blocks.compute(5, iterations=30)
    contract, address = load("Compute"), workload.contracts["compute"]
    results, state = workload.execute()
    for tx, sender, result in zip(workload.txs, workload.senders, results):
        expected = compute_reference(30, int.from_bytes(tx.data[36:68], "big"))
        assert storage_of(state, address, contract, "resultOf", sender) == expected
        assert int.from_bytes(result.output, "big") == expected
    assert results[0].gas_used < blocks.COMPUTE_BASE_GAS + 30 * blocks.COMPUTE_GAS_PER_ITERATION


# --- dependency shapes -----------------------------------------------------------------------------


class RecordingState(BlockState):
    """A BlockState that remembers what was read from it."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        super().__init__()
        self.reads: set = set()

    def read_account(self, address):
        self.reads.add(address)
        return super().read_account(address)

    def read_code(self, address):
        self.reads.add(address)
        return super().read_code(address)

    def read_storage(self, address, slot):
        self.reads.add((address, slot))
        return super().read_storage(address, slot)


def dependent_transactions(workload: Workload) -> list[int]:
    """Indexes of the transactions that read something an earlier transaction wrote."""
    state = RecordingState.from_accounts(
        (address, a.nonce, a.balance, a.code, a.storage) for address, a in workload.accounts.items())
    written: set = set()
    dependent = []
    for index, (tx, sender) in enumerate(zip(workload.txs, workload.senders)):
        state.reads = set()
        tx_state = TxState(state)
        execute_transaction(tx, sender, tx_state, workload.block_env)
        writes = tx_state.writes()
        if state.reads & written:
            dependent.append(index)
        written |= writes.accounts.keys() | writes.balance_deltas.keys()
        written |= {(address, slot) for address, slots in writes.storage.items() for slot in slots}
        state.apply(writes)
    return dependent


@pytest.mark.parametrize("name", ["value_transfers", "erc20_transfers", "compute"])
def test_independent_workloads_have_no_dependencies(name):
    assert dependent_transactions(GENERATORS[name](N)) == []


@pytest.mark.parametrize("name", ["amm_swaps", "nft_mints"])
def test_single_hot_spot_workloads_are_fully_dependent(name):
    assert dependent_transactions(GENERATORS[name](N)) == list(range(1, N))


def test_game_dependencies_are_partial():
    dependent = dependent_transactions(blocks.game(N))
    assert 0 < len(dependent) < N - 1


# --- block folders and the benchmark --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_written_block_folder_passes_every_check(name, tmp_path):
    executor = pytest.importorskip("parevm.block.executor")
    block_folder = pytest.importorskip("parevm.io.block_folder")
    from parevm.block.result import OK
    from parevm.workloads.folder import write_block_folder

    workload = GENERATORS[name](12)
    folder = write_block_folder(workload, tmp_path / name)
    result = executor.execute_block(block_folder.read_block_folder(folder), check_state_root=True)
    statuses = {check.name: check.status for check in result.checks}
    assert set(statuses) >= {"gasUsed", "logsBloom", "transactionsRoot", "receiptsRoot", "stateRoot"}
    assert set(statuses.values()) == {OK}, statuses
    assert [tx.success for tx in result.txs] == [True] * 12


def test_block_folder_cli_check(tmp_path):
    pytest.importorskip("parevm.block.command")
    from parevm.cli import main
    from parevm.workloads.folder import main as write_main

    assert write_main(["erc20_transfers", "5", str(tmp_path / "block")]) == 0
    assert main(["run", str(tmp_path / "block"), "--workers", "1", "--check-state-root"]) == 0


def test_benchmark_quick_run_reports_every_case():
    measurements = run_benchmarks(quick=True, repeats=1, only=frozenset({"erc20_transfers", "sender recovery"}))
    assert [m.name for m in measurements] == ["erc20_transfers", "sender recovery"]
    for m in measurements:
        assert m.failed == 0 and m.txs == 300 and m.seconds > 0
    assert measurements[0].gas > 300 * 21_000

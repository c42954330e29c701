"""Synthetic blocks for benchmarks and tests: a pre-state with the contracts already deployed, and a
list of transactions that exercise them with a known dependency shape.

Every generator is deterministic in (n, seed). Contracts are placed in the pre-state with their
runtime code and their storage initialised directly (balances, allowances, reserves, ...) at the
slots the compiler reported, so no deployment transactions are needed. Senders are accounts whose
private keys derive from the seed, so a block can be signed (`Workload.signed_transactions`) and
written as a block folder (`parevm.workloads.folder`); benchmarks skip signing and pass the senders.

| generator | transactions | dependencies |
| --- | --- | --- |
| value_transfers | ether to fresh addresses | none (distinct senders and recipients) |
| erc20_transfers | Token.transfer to fresh addresses | none |
| amm_swaps | Pair.swap, random direction | all: every swap reads and writes the reserves |
| nft_mints | Collectible.mint (paid) | all: every mint increments totalSupply |
| lending | LendingPool deposit / borrow / repay | most: the pool's balance and `outstanding` |
| game | BoardGame.move | neighbours, new leaders, a player's own earlier moves |
| compute | Compute.run(iterations) | none; CPU-bound |
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from math import isqrt
from typing import Callable

from parevm.block.sequential import execute_transactions
from parevm.crypto import keccak256
from parevm.evm.forks import CANCUN
from parevm.evm.frame import BlockEnv
from parevm.evm.transaction import TxResult
from parevm.io.block_folder import PreAccount
from parevm.state.block_state import BlockState
from parevm.tx import Transaction, private_key_address, sign_transaction
from parevm.workloads.artefacts import Contract, load

CHAIN_ID = 1
BLOCK_NUMBER = 20_000_000
TIMESTAMP = 1_720_000_000  # Cancun on mainnet (Cancun from 1,710,338,135, Prague from 1,746,612,311)
BASE_FEE = 7
MAX_FEE = 10
PRIORITY_FEE = 1
MIN_BLOCK_GAS_LIMIT = 1_000_000_000
ETHER = 10**18
TOKEN = 10**18  # one whole token (18 decimals)
MAX_UINT256 = 2**256 - 1

TRANSFER_GAS = 21_000
TOKEN_CALL_GAS = 100_000
SWAP_GAS = 200_000
CALL_GAS = 200_000
COMPUTE_BASE_GAS = 60_000
COMPUTE_GAS_PER_ITERATION = 400  # measured: 251 per iteration, 26,012 for none


@dataclass(slots=True)
class Workload:
    """One synthetic block: its environment, pre-state, transactions and their senders.

    `accounts` is the pre-state; execution mutates a `BlockState`, so `pre_state()` builds a
    fresh one per run. `txs` are unsigned (benchmarks pass `senders` directly);
    `signed_transactions()` signs them with `keys`. `contracts` names the deployed addresses
    ("token", "pair", ...) for tests and tools."""

    name: str
    seed: int
    block_env: BlockEnv
    parent_hash: bytes
    accounts: dict[bytes, PreAccount]
    txs: list[Transaction]
    senders: list[bytes]
    keys: dict[bytes, bytes]  # sender address -> private key
    contracts: dict[str, bytes]

    def pre_state(self) -> BlockState:
        return BlockState.from_accounts(
            (address, a.nonce, a.balance, a.code, a.storage) for address, a in self.accounts.items())

    def execute(self) -> tuple[list[TxResult], BlockState]:
        """Run the transactions sequentially on a fresh pre-state: (results, post-state)."""
        state = self.pre_state()
        return execute_transactions(self.block_env, self.txs, self.senders, state), state

    def signed_transactions(self) -> list[Transaction]:
        keys = self.keys
        return [sign_transaction(tx, keys[sender]) for tx, sender in zip(self.txs, self.senders)]


def _derived(seed: int, role: str, index: int) -> bytes:
    return keccak256(f"parevm-workloads/{seed}/{role}/{index}".encode())


def contract_address(role: str) -> bytes:
    """Where a workload places its contract playing `role` (the same for every seed)."""
    return keccak256(f"parevm-workloads/contract/{role}".encode())[12:]


@dataclass(slots=True)
class _Builder:
    """Accumulates a workload's accounts and transactions, tracking each sender's nonce."""

    name: str
    seed: int
    rng: random.Random = field(init=False)
    accounts: dict[bytes, PreAccount] = field(default_factory=dict)
    keys: dict[bytes, bytes] = field(default_factory=dict)
    contracts: dict[str, bytes] = field(default_factory=dict)
    txs: list[Transaction] = field(default_factory=list)
    senders: list[bytes] = field(default_factory=list)
    nonces: dict[bytes, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.name}/{self.seed}")

    def account(self, role: str, index: int, balance: int = ETHER) -> bytes:
        """An externally owned account with a key derived from the seed, funded in the pre-state."""
        key = _derived(self.seed, role, index)
        address = private_key_address(key)
        self.keys[address] = key
        self.accounts[address] = PreAccount(balance, 0, b"", {})
        return address

    def fresh_address(self, role: str, index: int) -> bytes:
        """An address absent from the pre-state (a recipient nobody controls)."""
        return _derived(self.seed, role, index)[12:]

    def deploy(self, role: str, contract: Contract, storage: dict[int, int], balance: int = 0) -> bytes:
        address = contract_address(role)
        self.accounts[address] = PreAccount(balance, 1, contract.runtime, {k: v for k, v in storage.items() if v})
        self.contracts[role] = address
        return address

    def send(self, sender: bytes, to: bytes, gas_limit: int, data: bytes = b"", value: int = 0) -> None:
        nonce = self.nonces.get(sender, 0)
        self.nonces[sender] = nonce + 1
        self.txs.append(Transaction(
            type=2, chain_id=CHAIN_ID, nonce=nonce, max_fee_per_gas=MAX_FEE, max_priority_fee_per_gas=PRIORITY_FEE,
            gas_limit=gas_limit, to=to, value=value, data=data))
        self.senders.append(sender)

    def build(self) -> Workload:
        parent_hash = _derived(self.seed, "parent", 0)
        gas_limit = max(MIN_BLOCK_GAS_LIMIT, sum(tx.gas_limit for tx in self.txs))
        env = BlockEnv(
            fork=CANCUN, chain_id=CHAIN_ID, coinbase=self.fresh_address("coinbase", 0), number=BLOCK_NUMBER,
            timestamp=TIMESTAMP, gas_limit=gas_limit, prev_randao=_derived(self.seed, "randao", 0),
            base_fee=BASE_FEE, block_hash={BLOCK_NUMBER - 1: parent_hash}.get)
        return Workload(self.name, self.seed, env, parent_hash, self.accounts, self.txs, self.senders, self.keys,
                        self.contracts)


def _token_storage(token: Contract, owner: bytes, balances: dict[bytes, int],
                   allowances: dict[tuple[bytes, bytes], int] | None = None) -> dict[int, int]:
    """Token storage holding `balances` (with the matching totalSupply) and `allowances` (owner, spender)."""
    storage = {token.slot("balanceOf", holder): amount for holder, amount in balances.items()}
    for (holder, spender), amount in (allowances or {}).items():
        storage[token.slot("allowance", holder, spender)] = amount
    storage[token.slot("totalSupply")] = sum(balances.values())
    storage[token.slot("owner")] = int.from_bytes(owner, "big")
    return storage


def value_transfers(n: int, seed: int = 0) -> Workload:
    """n ether transfers, each from its own sender to its own fresh recipient: no dependencies."""
    b = _Builder("value_transfers", seed)
    for i in range(n):
        sender = b.account("sender", i)
        b.send(sender, b.fresh_address("recipient", i), TRANSFER_GAS, value=b.rng.randint(1, 10**15))
    return b.build()


def erc20_transfers(n: int, seed: int = 0) -> Workload:
    """n Token.transfer calls, each from its own holder (1,000 tokens) to its own fresh recipient."""
    b = _Builder("erc20_transfers", seed)
    token = load("Token")
    holders = [b.account("sender", i) for i in range(n)]
    storage = _token_storage(token, b.account("deployer", 0), {holder: 1_000 * TOKEN for holder in holders})
    address = b.deploy("token", token, storage)
    for i, holder in enumerate(holders):
        amount = b.rng.randint(1, 1_000) * TOKEN // 10
        b.send(holder, address, TOKEN_CALL_GAS, token.call("transfer(address,uint256)", b.fresh_address("recipient", i),
                                                             amount))
    return b.build()


def pair_quote(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Pair.quote in Python: the output for `amount_in` after the 0.3 % fee."""
    in_after_fee = amount_in * 9_970
    return in_after_fee * reserve_out // (reserve_in * 10_000 + in_after_fee)


def amm_swaps(n: int, seed: int = 0) -> Workload:
    """n swaps on one Pair by n traders, each direction at random: a chain of n dependent transactions.

    Each swap sets minAmountOut to its exact sequential output less 1 %, as a trader quoting the
    pool just before would; executed in block order every swap succeeds."""
    b = _Builder("amm_swaps", seed)
    token, pair = load("Token"), load("Pair")
    traders = [b.account("trader", i) for i in range(n)]
    provider = b.account("provider", 0)
    deployer = b.account("deployer", 0)
    token_addresses = contract_address("token0"), contract_address("token1")
    pair_address = contract_address("pair")
    reserves = [1_000_000 * TOKEN, 1_000_000 * TOKEN]
    for index, token_address in enumerate(token_addresses):
        balances = {trader: 10_000 * TOKEN for trader in traders}
        balances[pair_address] = reserves[index]
        allowances = {(trader, pair_address): MAX_UINT256 for trader in traders}
        b.deploy(f"token{index}", token, _token_storage(token, deployer, balances, allowances))
    shares = isqrt(reserves[0] * reserves[1])
    b.deploy("pair", pair, {
        pair.slot("token0"): int.from_bytes(token_addresses[0], "big"),
        pair.slot("token1"): int.from_bytes(token_addresses[1], "big"),
        pair.slot("reserve0"): reserves[0], pair.slot("reserve1"): reserves[1],
        pair.slot("totalShares"): shares, pair.slot("sharesOf", provider): shares,
    })
    for trader in traders:
        direction = b.rng.randrange(2)  # 0: sell token0 for token1
        amount_in = b.rng.randint(1, 1_000) * TOKEN
        amount_out = pair_quote(amount_in, reserves[direction], reserves[1 - direction])
        reserves[direction] += amount_in
        reserves[1 - direction] -= amount_out
        data = pair.call("swap(address,uint256,uint256,address)", token_addresses[direction], amount_in,
                         amount_out * 99 // 100, trader)
        b.send(trader, pair_address, SWAP_GAS, data)
    return b.build()


MINT_PRICE = ETHER // 100


def nft_mints(n: int, seed: int = 0) -> Workload:
    """n paid Collectible.mint calls by n buyers, selling out the collection (maxSupply = n)."""
    b = _Builder("nft_mints", seed)
    nft = load("Collectible")
    buyers = [b.account("buyer", i) for i in range(n)]
    address = b.deploy("collectible", nft, {
        nft.slot("maxSupply"): n, nft.slot("mintPrice"): MINT_PRICE,
        nft.slot("owner"): int.from_bytes(b.account("deployer", 0), "big"),
    })
    for buyer in buyers:
        b.send(buyer, address, CALL_GAS, nft.call("mint(address)", buyer), value=MINT_PRICE)
    return b.build()


MAX_LOAN = ETHER // 10
INTEREST_BPS = 500


def loan_owed(principal: int) -> int:
    """LendingPool.owedBy for a loan of `principal`."""
    return principal + principal * INTEREST_BPS // 10_000


def lending(n: int, seed: int = 0) -> Workload:
    """n LendingPool transactions: one in ten a deposit by a new lender, the rest borrowers who
    each borrow (paid out to them at once) and later in the block repay with 5 % interest.

    The pool starts with 4 lenders' 100 ether, enough for every loan at once. Borrow-repay
    pairs are interleaved at random, a borrower's repay always after its borrow; with an odd
    count the last borrower's loan stays open."""
    b = _Builder("lending", seed)
    pool = load("LendingPool")
    lenders = [b.account("lender", i, balance=101 * ETHER) for i in range(4)]
    storage = {pool.slot("sharesOf", lender): 100 * ETHER for lender in lenders}
    storage.update({pool.slot("totalShares"): 400 * ETHER, pool.slot("maxLoan"): MAX_LOAN,
                    pool.slot("interestBps"): INTEREST_BPS})
    address = b.deploy("pool", pool, storage, balance=400 * ETHER)
    deposits = n // 10
    # Each borrower appears twice: its first step borrows, its second repays. None is a deposit.
    steps: list[int | None] = [i // 2 for i in range(n - deposits)] + [None] * deposits
    b.rng.shuffle(steps)
    principal_of: dict[int, int] = {}
    borrowers: dict[int, bytes] = {}
    depositor_count = 0
    for step in steps:
        if step is None:
            lender = b.account("depositor", depositor_count, balance=11 * ETHER)
            depositor_count += 1
            b.send(lender, address, CALL_GAS, pool.call("deposit()"), value=b.rng.randint(1, 10) * ETHER)
        elif step not in principal_of:
            borrower = borrowers[step] = b.account("borrower", step)
            principal_of[step] = principal = b.rng.randint(10, 100) * MAX_LOAN // 100
            b.send(borrower, address, CALL_GAS, pool.call("borrow(uint256)", principal))
        else:
            b.send(borrowers[step], address, CALL_GAS, pool.call("repay()"), value=loan_owed(principal_of[step]))
    return b.build()


def game(n: int, seed: int = 0, players: int | None = None) -> Workload:
    """n BoardGame.move calls by `players` players (default n // 2), in rounds of shuffled turns.

    The board is a torus of at least 4 cells per player (side >= 16), a third of its cells hold
    treasure worth 1-100 points. Moves into an occupied cell bump (as designed: the transaction
    succeeds and the player stays)."""
    b = _Builder("game", seed)
    board = load("BoardGame")
    count = players or max(1, n // 2)
    side = max(16, isqrt(4 * count - 1) + 1)
    cells = side * side
    accounts = [b.account("player", i) for i in range(count)]
    storage = {board.slot("side"): side, board.slot("players"): count,
               board.slot("owner"): int.from_bytes(b.account("deployer", 0), "big")}
    for player, cell in zip(accounts, b.rng.sample(range(cells), count)):
        storage[board.slot("cellOf", player)] = cell + 1
        storage[board.slot("occupantOf", cell)] = int.from_bytes(player, "big")
    for cell in b.rng.sample(range(cells), cells // 3):
        storage[board.slot("treasureAt", cell)] = b.rng.randint(1, 100)
    address = b.deploy("game", board, storage)
    turns: list[bytes] = []
    while len(turns) < n:
        round_order = accounts[:]
        b.rng.shuffle(round_order)
        turns.extend(round_order)
    for player in turns[:n]:
        b.send(player, address, CALL_GAS, board.call("move(uint256)", b.rng.randrange(4)))
    return b.build()


def compute(n: int, iterations: int = 100, seed: int = 0) -> Workload:
    """n Compute.run(iterations) calls by n senders: independent, CPU-bound (keccak and mulmod loops)."""
    b = _Builder("compute", seed)
    contract = load("Compute")
    address = b.deploy("compute", contract, {})
    gas_limit = COMPUTE_BASE_GAS + COMPUTE_GAS_PER_ITERATION * iterations
    for i in range(n):
        sender = b.account("sender", i)
        b.send(sender, address, gas_limit, contract.call("run(uint256,uint256)", iterations, b.rng.getrandbits(256)))
    return b.build()


GENERATORS: dict[str, Callable[..., Workload]] = {
    "value_transfers": value_transfers,
    "erc20_transfers": erc20_transfers,
    "amm_swaps": amm_swaps,
    "nft_mints": nft_mints,
    "lending": lending,
    "game": game,
    "compute": compute,
}

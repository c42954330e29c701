"""The fork table: every mainnet fork's rules, stated once, as data.

Each fork is derived from its predecessor by naming only what changed (opcodes added, static gas
repriced, feature flags switched on, parameters). The interpreter, the transaction rules and the
block rules read these records; no code asks "is this fork later than X" except through a named
flag here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from parevm.evm import precompiles as pc


@dataclass(frozen=True, slots=True)
class BlobSchedule:
    """EIP-4844 / EIP-7691 / EIP-7840 blob parameters of a fork."""

    target: int
    max: int
    base_fee_update_fraction: int


@dataclass(frozen=True)
class Fork:
    name: str
    order: int
    # activation on mainnet: a block number (before the Merge) or a timestamp (after)
    activation_block: int | None = None
    activation_time: int | None = None
    aliases: tuple[str, ...] = ()

    # static gas of each opcode, by mnemonic; an opcode absent here does not exist in this fork
    opcode_gas: Mapping[str, int] = field(default_factory=dict)
    precompiles: Mapping[bytes, "pc.Precompile"] = field(default_factory=dict)

    # --- feature flags (named after the EIP that introduced them) ---
    homestead: bool = False          # EIP-2: creation tx 53000 gas, high-s invalid, code-deposit OOG fails
    eip150: bool = False             # all-but-one-64th call gas, repriced IO
    eip158: bool = False             # empty accounts: touched & empty are deleted; CREATE nonce starts at 1
    touch_cleanup: bool = False      # EIP-161 touch tracking; dropped at the Merge (EIP-7523: no empty accounts)
    eip155: bool = False             # chain id in legacy signatures
    eip170_code_size_limit: int | None = None
    byzantium: bool = False          # status receipts, REVERT, return data
    sstore_rule: str = "frontier"    # "frontier" | "eip1283" | "eip2200" | "eip2929" (Berlin+, with cold costs)
    eip2929: bool = False            # cold/warm access lists
    eip2930: bool = False            # type 1 transactions
    eip1559: bool = False            # base fee, type 2 transactions
    eip3529: bool = False            # refund cap 1/5, no SELFDESTRUCT refund, SSTORE clear refund 4800
    eip3541: bool = False            # reject new code starting with 0xEF
    eip3651: bool = False            # warm coinbase
    eip3860: bool = False            # initcode size limit and word cost
    eip4844: bool = False            # blob transactions
    eip6780: bool = False            # SELFDESTRUCT only destroys contracts created in the same tx
    eip7610: bool = True             # CREATE collision also on non-empty storage (applied retroactively)
    eip7702: bool = False            # set-code transactions
    eip7623: bool = False            # calldata floor cost
    eip4788: bool = False            # beacon root system call
    eip2935: bool = False            # block hashes in the history contract
    eip7685_requests: bool = False   # EIP-6110/7002/7251 requests and requestsHash
    eip7825_tx_gas_cap: int | None = None
    eip7918: bool = False            # blob base fee reserve price
    eip7594_max_blobs_per_tx: int | None = None
    proof_of_stake: bool = False     # no block rewards, PREVRANDAO
    withdrawals: bool = False

    calldata_nonzero_gas: int = 68
    sstore_clears_refund: int = 15000
    selfdestruct_refund: int = 24000
    max_refund_quotient: int = 2
    block_reward: int = 5 * 10**18
    blob_schedule: BlobSchedule | None = None

    def derive(self, name: str, *, add_opcodes: Mapping[str, int] = MappingProxyType({}),
               remove_opcodes: tuple[str, ...] = (), add_precompiles: Mapping[bytes, object] = MappingProxyType({}),
               **changes) -> "Fork":
        """A successor fork: this one with the listed changes."""
        gas = {k: v for k, v in self.opcode_gas.items() if k not in remove_opcodes}
        gas.update(add_opcodes)
        precompiles = dict(self.precompiles)
        precompiles.update(add_precompiles)
        return replace(self, name=name, order=self.order + 1, aliases=changes.pop("aliases", ()),
                       activation_block=changes.pop("activation_block", None),
                       activation_time=changes.pop("activation_time", None),
                       opcode_gas=MappingProxyType(gas), precompiles=MappingProxyType(precompiles), **changes)

    def at_least(self, other: "Fork") -> bool:
        return self.order >= other.order

    def __repr__(self) -> str:
        return f"Fork({self.name})"


def _addr(n: int) -> bytes:
    return n.to_bytes(20, "big")


# Static gas, Frontier. Dynamic parts (memory, copy words, cold access, ...) live with the instructions.
_FRONTIER_GAS = {
    "STOP": 0, "ADD": 3, "MUL": 5, "SUB": 3, "DIV": 5, "SDIV": 5, "MOD": 5, "SMOD": 5, "ADDMOD": 8, "MULMOD": 8,
    "EXP": 10, "SIGNEXTEND": 5,
    "LT": 3, "GT": 3, "SLT": 3, "SGT": 3, "EQ": 3, "ISZERO": 3, "AND": 3, "OR": 3, "XOR": 3, "NOT": 3, "BYTE": 3,
    "KECCAK256": 30,
    "ADDRESS": 2, "BALANCE": 20, "ORIGIN": 2, "CALLER": 2, "CALLVALUE": 2, "CALLDATALOAD": 3, "CALLDATASIZE": 2,
    "CALLDATACOPY": 3, "CODESIZE": 2, "CODECOPY": 3, "GASPRICE": 2, "EXTCODESIZE": 20, "EXTCODECOPY": 20,
    "BLOCKHASH": 20, "COINBASE": 2, "TIMESTAMP": 2, "NUMBER": 2, "DIFFICULTY": 2, "GASLIMIT": 2,
    "POP": 2, "MLOAD": 3, "MSTORE": 3, "MSTORE8": 3, "SLOAD": 50, "SSTORE": 0, "JUMP": 8, "JUMPI": 10, "PC": 2,
    "MSIZE": 2, "GAS": 2, "JUMPDEST": 1,
    **{f"PUSH{n}": 3 for n in range(1, 33)}, **{f"DUP{n}": 3 for n in range(1, 17)},
    **{f"SWAP{n}": 3 for n in range(1, 17)},
    "LOG0": 375, "LOG1": 750, "LOG2": 1125, "LOG3": 1500, "LOG4": 1875,
    "CREATE": 32000, "CALL": 40, "CALLCODE": 40, "RETURN": 0, "INVALID": 0, "SELFDESTRUCT": 0,
}

FRONTIER = Fork(
    name="Frontier", order=0, activation_block=0,
    opcode_gas=MappingProxyType(_FRONTIER_GAS),
    precompiles=MappingProxyType({_addr(1): pc.ECRECOVER, _addr(2): pc.SHA256, _addr(3): pc.RIPEMD160,
                                  _addr(4): pc.IDENTITY}),
)
HOMESTEAD = FRONTIER.derive("Homestead", activation_block=1_150_000, homestead=True,
                            add_opcodes={"DELEGATECALL": 40})
TANGERINE_WHISTLE = HOMESTEAD.derive(
    "TangerineWhistle", activation_block=2_463_000, aliases=("EIP150",), eip150=True,
    add_opcodes={"BALANCE": 400, "EXTCODESIZE": 700, "EXTCODECOPY": 700, "SLOAD": 200, "CALL": 700,
                 "CALLCODE": 700, "DELEGATECALL": 700, "SELFDESTRUCT": 5000})
SPURIOUS_DRAGON = TANGERINE_WHISTLE.derive(
    "SpuriousDragon", activation_block=2_675_000, aliases=("EIP158",), eip158=True, eip155=True, touch_cleanup=True,
    eip170_code_size_limit=0x6000)
BYZANTIUM = SPURIOUS_DRAGON.derive(
    "Byzantium", activation_block=4_370_000, byzantium=True, block_reward=3 * 10**18,
    add_opcodes={"REVERT": 0, "RETURNDATASIZE": 2, "RETURNDATACOPY": 3, "STATICCALL": 700},
    add_precompiles={_addr(5): pc.MODEXP_BYZANTIUM, _addr(6): pc.BN254_ADD_BYZANTIUM,
                     _addr(7): pc.BN254_MUL_BYZANTIUM, _addr(8): pc.BN254_PAIRING_BYZANTIUM})
CONSTANTINOPLE = BYZANTIUM.derive(
    "Constantinople", activation_block=7_280_000, block_reward=2 * 10**18, sstore_rule="eip1283",
    add_opcodes={"SHL": 3, "SHR": 3, "SAR": 3, "CREATE2": 32000, "EXTCODEHASH": 400})
PETERSBURG = CONSTANTINOPLE.derive("Petersburg", activation_block=7_280_000, aliases=("ConstantinopleFix",),
                                   sstore_rule="frontier")
ISTANBUL = PETERSBURG.derive(
    "Istanbul", activation_block=9_069_000, sstore_rule="eip2200", calldata_nonzero_gas=16,
    add_opcodes={"CHAINID": 2, "SELFBALANCE": 5, "SLOAD": 800, "BALANCE": 700, "EXTCODEHASH": 700},
    add_precompiles={_addr(6): pc.BN254_ADD_ISTANBUL, _addr(7): pc.BN254_MUL_ISTANBUL,
                     _addr(8): pc.BN254_PAIRING_ISTANBUL, _addr(9): pc.BLAKE2F})
# Muir Glacier (9,200,000), Arrow Glacier and Gray Glacier only moved the difficulty bomb.
BERLIN = ISTANBUL.derive(
    "Berlin", activation_block=12_244_000, eip2929=True, eip2930=True, sstore_rule="eip2929",
    # with EIP-2929 these accesses cost warm 100 / cold 2600 dynamically
    add_opcodes={"SLOAD": 0, "BALANCE": 0, "EXTCODESIZE": 0, "EXTCODECOPY": 0, "EXTCODEHASH": 0,
                 "CALL": 0, "CALLCODE": 0, "DELEGATECALL": 0, "STATICCALL": 0},
    add_precompiles={_addr(5): pc.MODEXP_BERLIN})
LONDON = BERLIN.derive(
    "London", activation_block=12_965_000, eip1559=True, eip3529=True, eip3541=True,
    sstore_clears_refund=4800, selfdestruct_refund=0, max_refund_quotient=5,
    add_opcodes={"BASEFEE": 2})
PARIS = LONDON.derive("Paris", activation_block=15_537_394, aliases=("Merge",), proof_of_stake=True, touch_cleanup=False,
                      block_reward=0, add_opcodes={"PREVRANDAO": 2}, remove_opcodes=("DIFFICULTY",))
SHANGHAI = PARIS.derive("Shanghai", activation_time=1_681_338_455, eip3651=True, eip3860=True,
                        withdrawals=True, add_opcodes={"PUSH0": 2})
CANCUN = SHANGHAI.derive(
    "Cancun", activation_time=1_710_338_135, eip4844=True, eip6780=True, eip4788=True,
    blob_schedule=BlobSchedule(3, 6, 3_338_477),
    add_opcodes={"TLOAD": 100, "TSTORE": 100, "MCOPY": 3, "BLOBHASH": 3, "BLOBBASEFEE": 2},
    add_precompiles={_addr(0x0A): pc.POINT_EVALUATION})
PRAGUE = CANCUN.derive(
    "Prague", activation_time=1_746_612_311, eip7702=True, eip7623=True, eip2935=True, eip7685_requests=True,
    blob_schedule=BlobSchedule(6, 9, 5_007_716),
    add_precompiles={_addr(0x0B): pc.BLS12_G1ADD, _addr(0x0C): pc.BLS12_G1MSM, _addr(0x0D): pc.BLS12_G2ADD,
                     _addr(0x0E): pc.BLS12_G2MSM, _addr(0x0F): pc.BLS12_PAIRING_CHECK,
                     _addr(0x10): pc.BLS12_MAP_FP_TO_G1, _addr(0x11): pc.BLS12_MAP_FP2_TO_G2})
OSAKA = PRAGUE.derive(
    "Osaka", activation_time=1_764_798_551, eip7825_tx_gas_cap=1 << 24, eip7918=True,
    eip7594_max_blobs_per_tx=6, add_opcodes={"CLZ": 5},
    add_precompiles={_addr(5): pc.MODEXP_OSAKA, _addr(0x100): pc.P256VERIFY})
BPO1 = OSAKA.derive("BPO1", activation_time=1_765_290_071, blob_schedule=BlobSchedule(10, 15, 8_346_193))
BPO2 = BPO1.derive("BPO2", activation_time=1_767_747_671, blob_schedule=BlobSchedule(14, 21, 11_684_671))

MAINNET_FORKS: tuple[Fork, ...] = (FRONTIER, HOMESTEAD, TANGERINE_WHISTLE, SPURIOUS_DRAGON, BYZANTIUM,
                                   PETERSBURG, ISTANBUL, BERLIN, LONDON, PARIS, SHANGHAI, CANCUN, PRAGUE,
                                   OSAKA, BPO1, BPO2)
ALL_FORKS: tuple[Fork, ...] = MAINNET_FORKS[:5] + (CONSTANTINOPLE,) + MAINNET_FORKS[5:]

_BY_NAME = {name.lower(): f for f in ALL_FORKS for name in (f.name, *f.aliases)}


def fork_by_name(name: str) -> Fork:
    """The fork called `name` (case-insensitive; test-suite aliases such as EIP150, Merge accepted)."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise KeyError(f"unknown fork {name!r}; known: {', '.join(f.name for f in ALL_FORKS)}") from None


def mainnet_fork(block_number: int, timestamp: int) -> Fork:
    """The fork in force on Ethereum mainnet for a block (by number before the Merge, by time after)."""
    current = FRONTIER
    for fork in MAINNET_FORKS:
        if fork.activation_time is not None:
            if timestamp >= fork.activation_time:
                current = fork
        elif block_number >= fork.activation_block:
            current = fork
    return current

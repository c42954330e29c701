"""System calls and EIP-7685 requests: the block-level work around the transactions.

A system call runs a system contract's code as a message from SYSTEM_ADDRESS with 30M gas. It is
not a transaction: no nonce, no fee, no gas counted against the block, nothing in the receipts.
From Cancun on the EIP-4788 beacon-roots contract gets the parent beacon block root before the
first transaction; from Prague on the EIP-2935 history contract gets the parent hash, and after the
withdrawals the EIP-7002 and EIP-7251 contracts are asked for the requests queued in the block,
next to the EIP-6110 deposits read from the deposit contract's logs.
"""
from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Iterable, Sequence

from parevm.block.sequential import InvalidBlock
from parevm.evm.frame import BlockEnv, TxContext
from parevm.evm.interpreter import SUCCESS, new_frame, run
from parevm.primitives import Log
from parevm.state.block_state import BlockState
from parevm.state.tx_state import TxState

SYSTEM_ADDRESS = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
SYSTEM_CALL_GAS = 30_000_000
BEACON_ROOTS_ADDRESS = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")  # EIP-4788
HISTORY_STORAGE_ADDRESS = bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935")  # EIP-2935
WITHDRAWAL_REQUEST_ADDRESS = bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")  # EIP-7002
CONSOLIDATION_REQUEST_ADDRESS = bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")  # EIP-7251
DEPOSIT_CONTRACT_ADDRESS = bytes.fromhex("00000000219ab540356cbb839cbe05303d7705fa")  # mainnet, EIP-6110
# keccak("DepositEvent(bytes,bytes,bytes,bytes,bytes)")
DEPOSIT_EVENT_TOPIC = bytes.fromhex("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5")

DEPOSIT_REQUEST_TYPE = b"\x00"
WITHDRAWAL_REQUEST_TYPE = b"\x01"
CONSOLIDATION_REQUEST_TYPE = b"\x02"

# The DepositEvent's data is the ABI encoding of five `bytes` fields: five head words holding
# offsets, then each field as a length word and its bytes padded to 32. (offset, length) per field,
# in order: pubkey, withdrawal credentials, amount, signature, index.
_DEPOSIT_FIELDS = ((160, 48), (256, 32), (320, 8), (384, 96), (512, 8))
_DEPOSIT_EVENT_SIZE = 576


@dataclass(slots=True, frozen=True)
class SystemCallResult:
    success: bool
    output: bytes


class RequestsUnavailable(Exception):
    """A request contract has no code in the state given (a partial pre-state lacks it)."""


def system_call(block: BlockEnv, state: BlockState, target: bytes, data: bytes) -> SystemCallResult | None:
    """Run `target`'s code as a system call and apply its writes to `state`; None if it has no code.

    A failed call leaves the state as it was (the frame's changes are reverted)."""
    tx_state = TxState(state)
    code = tx_state.get_code(target)
    if not code:
        return None
    ctx = TxContext(block, tx_state, SYSTEM_ADDRESS, block.base_fee)
    frame = new_frame(ctx, caller=SYSTEM_ADDRESS, address=target, code_address=target, code=code,
                      gas=SYSTEM_CALL_GAS, value=0, data=data, is_static=False, depth=0, transfers_value=False)
    run(frame)
    state.apply(tx_state.writes())
    return SystemCallResult(frame.status == SUCCESS, frame.output)


def pre_block_calls(block: BlockEnv, state: BlockState, parent_hash: bytes,
                    parent_beacon_root: bytes | None) -> None:
    """EIP-4788 (Cancun on) and EIP-2935 (Prague on); their failures are ignored, as the EIPs say."""
    fork = block.fork
    if fork.eip4788:
        if parent_beacon_root is None:
            raise InvalidBlock(f"{fork.name} header without parentBeaconBlockRoot")
        system_call(block, state, BEACON_ROOTS_ADDRESS, parent_beacon_root)
    if fork.eip2935:
        system_call(block, state, HISTORY_STORAGE_ADDRESS, parent_hash)


def collect_requests(block: BlockEnv, state: BlockState, logs: Iterable[Log]) -> list[bytes]:
    """The block's EIP-7685 requests (type byte + data, empty types left out), in type order.

    Deposits come from the deposit contract's logs; withdrawal and consolidation requests from
    calls to their contracts, which must exist and succeed (else the block is invalid). Raises
    RequestsUnavailable when a request contract is missing from `state`."""
    requests = []
    deposits = b"".join(deposit_request(log.data) for log in logs
                        if log.address == DEPOSIT_CONTRACT_ADDRESS and log.topics[:1] == (DEPOSIT_EVENT_TOPIC,))
    if deposits:
        requests.append(DEPOSIT_REQUEST_TYPE + deposits)
    for request_type, address in ((WITHDRAWAL_REQUEST_TYPE, WITHDRAWAL_REQUEST_ADDRESS),
                                  (CONSOLIDATION_REQUEST_TYPE, CONSOLIDATION_REQUEST_ADDRESS)):
        result = system_call(block, state, address, b"")
        if result is None:
            raise RequestsUnavailable(f"request contract 0x{address.hex()} has no code in the pre-state")
        if not result.success:
            raise InvalidBlock(f"system call to request contract 0x{address.hex()} failed")
        if result.output:
            requests.append(request_type + result.output)
    return requests


def deposit_request(data: bytes) -> bytes:
    """EIP-6110: pubkey ++ withdrawal credentials ++ amount ++ signature ++ index from a DepositEvent's
    data, whose layout is checked exactly (a malformed deposit log makes the block invalid)."""
    if len(data) != _DEPOSIT_EVENT_SIZE:
        raise InvalidBlock(f"deposit log of {len(data)} bytes, expected {_DEPOSIT_EVENT_SIZE}")
    parts = []
    for position, (offset, length) in enumerate(_DEPOSIT_FIELDS):
        head = int.from_bytes(data[32 * position:32 * position + 32], "big")
        size = int.from_bytes(data[offset:offset + 32], "big")
        if head != offset or size != length:
            raise InvalidBlock(f"deposit log field {position}: offset {head} size {size}, "
                               f"expected offset {offset} size {length}")
        parts.append(data[offset + 32:offset + 32 + length])
    return b"".join(parts)


def requests_hash(requests: Sequence[bytes]) -> bytes:
    """EIP-7685: sha256 of the concatenated sha256 of each (type-prefixed) request."""
    outer = sha256()
    for request in requests:
        outer.update(sha256(request).digest())
    return outer.digest()

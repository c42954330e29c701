"""Gas constants and the dynamic costs shared by several instructions (memory, copies, calls)."""
from __future__ import annotations

from parevm.evm.frame import OUT_OF_GAS, Frame

WARM_ACCESS = 100
COLD_ACCOUNT_ACCESS = 2600
COLD_SLOAD = 2100
CALL_VALUE = 9000
CALL_STIPEND = 2300
NEW_ACCOUNT = 25000
SSTORE_SET = 20000
SSTORE_RESET = 5000
SSTORE_SENTRY = 2300
COPY_WORD = 3
KECCAK_WORD = 6
LOG_DATA_BYTE = 8
CODE_DEPOSIT_BYTE = 200
INITCODE_WORD = 2
MAX_INITCODE_SIZE = 2 * 0x6000
SELFDESTRUCT_NEW_ACCOUNT = 25000
BLOCKHASH_WINDOW = 256

# Memory this large cannot be paid for by any gas limit; reject before computing its cost.
_MEMORY_LIMIT = 1 << 36


def memory_cost(words: int) -> int:
    return words * words // 512 + 3 * words


def expand_memory(f: Frame, offset: int, size: int) -> None:
    """Charge for and grow memory so that [offset, offset + size) is addressable."""
    if size == 0:
        return
    end = offset + size
    memory = f.memory
    if end <= len(memory):
        return
    if end > _MEMORY_LIMIT:
        raise OUT_OF_GAS
    old_words = len(memory) >> 5
    new_words = (end + 31) >> 5
    gas = f.gas - (new_words * new_words // 512 + 3 * new_words - old_words * old_words // 512 - 3 * old_words)
    if gas < 0:
        raise OUT_OF_GAS
    f.gas = gas
    memory.extend(bytes((new_words << 5) - len(memory)))


def expand_memory_two(f: Frame, offset1: int, size1: int, offset2: int, size2: int) -> None:
    """Expand for the larger of two regions (CALL's input and output) in one charge."""
    end1 = offset1 + size1 if size1 else 0
    end2 = offset2 + size2 if size2 else 0
    if end1 >= end2:
        expand_memory(f, offset1, size1)
    else:
        expand_memory(f, offset2, size2)


def charge(f: Frame, amount: int) -> None:
    gas = f.gas - amount
    if gas < 0:
        raise OUT_OF_GAS
    f.gas = gas


def words(size: int) -> int:
    return (size + 31) >> 5


def all_but_one_64th(gas: int) -> int:
    return gas - gas // 64

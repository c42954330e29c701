"""Block information: BLOCKHASH, COINBASE, TIMESTAMP, NUMBER, DIFFICULTY/PREVRANDAO, GASLIMIT, CHAINID,
BASEFEE, BLOBHASH, BLOBBASEFEE."""
from __future__ import annotations

from parevm.evm.gas import BLOCKHASH_WINDOW
from parevm.evm.instructions import instruction


@instruction(0x40, "BLOCKHASH")
def blockhash(f, s, pc):
    number = s[-1]
    block = f.ctx.block
    if block.number - BLOCKHASH_WINDOW <= number < block.number:
        h = block.block_hash(number)
        s[-1] = int.from_bytes(h, "big") if h else 0
    else:
        s[-1] = 0
    return pc + 1


@instruction(0x41, "COINBASE")
def coinbase(f, s, pc):
    s.append(int.from_bytes(f.ctx.block.coinbase, "big"))
    return pc + 1


@instruction(0x42, "TIMESTAMP")
def timestamp(f, s, pc):
    s.append(f.ctx.block.timestamp)
    return pc + 1


@instruction(0x43, "NUMBER")
def number(f, s, pc):
    s.append(f.ctx.block.number)
    return pc + 1


@instruction(0x44, "DIFFICULTY")
def difficulty(f, s, pc):
    s.append(f.ctx.block.difficulty)
    return pc + 1


@instruction(0x44, "PREVRANDAO")
def prevrandao(f, s, pc):
    s.append(int.from_bytes(f.ctx.block.prev_randao, "big"))
    return pc + 1


@instruction(0x45, "GASLIMIT")
def gaslimit(f, s, pc):
    s.append(f.ctx.block.gas_limit)
    return pc + 1


@instruction(0x46, "CHAINID")
def chainid(f, s, pc):
    s.append(f.ctx.block.chain_id)
    return pc + 1


@instruction(0x48, "BASEFEE")
def basefee(f, s, pc):
    s.append(f.ctx.block.base_fee)
    return pc + 1


@instruction(0x49, "BLOBHASH")
def blobhash(f, s, pc):
    index = s[-1]
    hashes = f.ctx.blob_hashes
    s[-1] = int.from_bytes(hashes[index], "big") if index < len(hashes) else 0
    return pc + 1


@instruction(0x4A, "BLOBBASEFEE")
def blobbasefee(f, s, pc):
    s.append(f.ctx.block.blob_base_fee)
    return pc + 1

"""secp256k1 for transactions: sender recovery, EIP-7702 authorities, and signing.

Recovery itself is coincurve's (via `parevm.crypto.recover_address`); the checks here are the
consensus rules around it, cheapest first, so an invalid signature costs no elliptic-curve work.
"""
from __future__ import annotations

from coincurve import PrivateKey

from parevm import rlp
from parevm.crypto import SECP256K1_HALF_N, keccak256, recover_address
from parevm.tx.transaction import Authorization, Transaction, TransactionError, signing_hash

_AUTHORIZATION_MAGIC = b"\x05"  # EIP-7702 signing domain


class InvalidSignature(TransactionError):
    """A transaction signature that no sender can be recovered from under the rules in force."""


def recover_sender(tx: Transaction, *, allow_high_s: bool = False) -> bytes:
    """The sender's address; raises `InvalidSignature`.

    `allow_high_s` is for Frontier: from Homestead on, s must be at most secp256k1n/2 (EIP-2).
    Legacy v must be 27/28 without a chain id, chain_id * 2 + 35/36 with one; typed y_parity 0/1.
    The result is cached on the transaction (the s rule is checked on every call)."""
    s = tx.s
    if s > SECP256K1_HALF_N and not allow_high_s:
        raise InvalidSignature("s is above secp256k1n/2 (EIP-2)")
    sender = tx._sender
    if sender is not None:
        return sender
    v = tx.v
    if tx.type:
        recovery_id = v
    elif tx.chain_id is None:
        recovery_id = v - 27
    else:
        recovery_id = v - 35 - 2 * tx.chain_id
    if recovery_id != 0 and recovery_id != 1:
        raise InvalidSignature(f"v = {v} does not fit a type {tx.type} transaction with chain id {tx.chain_id}")
    sender = recover_address(signing_hash(tx), recovery_id, tx.r, s)
    if sender is None:
        raise InvalidSignature("no public key recovers from this signature (r or s out of range?)")
    tx._sender = sender
    return sender


def authorization_hash(chain_id: int, address: bytes, nonce: int) -> bytes:
    """What an EIP-7702 authority signs: keccak(0x05 || rlp([chain_id, address, nonce]))."""
    return keccak256(_AUTHORIZATION_MAGIC + rlp.encode([chain_id, address, nonce]))


def recover_authority(auth: Authorization) -> bytes | None:
    """The EIP-7702 authority that signed `auth`, or None if the signature is invalid
    (y_parity not 0/1, r or s out of range, s above secp256k1n/2)."""
    if auth.s > SECP256K1_HALF_N:
        return None
    return recover_address(authorization_hash(auth.chain_id, auth.address, auth.nonce), auth.y_parity, auth.r, auth.s)


def private_key_address(private_key: bytes) -> bytes:
    """The address controlled by a 32-byte secp256k1 private key."""
    return keccak256(PrivateKey(private_key).public_key.format(compressed=False)[1:])[12:]


def _sign(message_hash: bytes, private_key: bytes) -> tuple[int, int, int]:
    """(recovery id, r, s) of a deterministic (RFC 6979), low-s signature."""
    signature = PrivateKey(private_key).sign_recoverable(message_hash, hasher=None)
    return signature[64], int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")


def sign_transaction(tx: Transaction, private_key: bytes) -> Transaction:
    """A copy of `tx` signed with `private_key`; legacy v follows EIP-155 iff tx.chain_id is set."""
    recovery_id, r, s = _sign(signing_hash(tx), private_key)
    if tx.type:
        v = recovery_id
    elif tx.chain_id is None:
        v = 27 + recovery_id
    else:
        v = 35 + 2 * tx.chain_id + recovery_id
    return tx.replace(v=v, r=r, s=s)


def sign_authorization(chain_id: int, address: bytes, nonce: int, private_key: bytes) -> Authorization:
    """An EIP-7702 authorization to delegate the key's account to `address`."""
    y_parity, r, s = _sign(authorization_hash(chain_id, address, nonce), private_key)
    return Authorization(chain_id, address, nonce, y_parity, r, s)

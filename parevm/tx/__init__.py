"""Transactions: the types, their encodings, and their signatures.

Intrinsic gas and fork-dependent validity are the executor's; this package only says what a
transaction is, how it is encoded and hashed, and who signed it.
"""
from parevm.tx.signing import (
    InvalidSignature,
    authorization_hash,
    private_key_address,
    recover_authority,
    recover_sender,
    sign_authorization,
    sign_transaction,
)
from parevm.tx.transaction import (
    Authorization,
    Transaction,
    TransactionDecodeError,
    TransactionError,
    decode_transaction,
    encode_transaction,
    signing_hash,
    tx_hash,
)

__all__ = [
    "Authorization",
    "InvalidSignature",
    "Transaction",
    "TransactionDecodeError",
    "TransactionError",
    "authorization_hash",
    "decode_transaction",
    "encode_transaction",
    "private_key_address",
    "recover_authority",
    "recover_sender",
    "sign_authorization",
    "sign_transaction",
    "signing_hash",
    "tx_hash",
]

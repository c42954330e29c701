"""SHA256 (0x02), RIPEMD160 (0x03) and IDENTITY (0x04): priced per 32-byte word of input."""
from __future__ import annotations

from hashlib import sha256

from .base import Precompile, load_once, per_word_gas

_DIGEST_PADDING = bytes(12)


@load_once  # on first use, not at import: pycryptodome takes ~15 ms to import
def _pycryptodome_ripemd160():
    from Crypto.Hash import RIPEMD160  # OpenSSL 3 may not provide ripemd160

    return RIPEMD160


def _sha256(data: bytes) -> bytes:
    return sha256(data).digest()


def _ripemd160(data: bytes) -> bytes:
    # The 20-byte digest is returned left-padded to a 32-byte word.
    return _DIGEST_PADDING + _pycryptodome_ripemd160().new(data).digest()


def _identity(data: bytes) -> bytes:
    return bytes(data)


SHA256 = Precompile("sha256", per_word_gas(60, 12), _sha256)
RIPEMD160 = Precompile("ripemd160", per_word_gas(600, 120), _ripemd160)
IDENTITY = Precompile("identity", per_word_gas(15, 3), _identity)

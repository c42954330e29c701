"""Contract code as the state holds it: the bytes, their hash, and the interpreter's analyses.

One `Code` object per distinct code, shared by every account, transaction and (through fork
copy-on-write) worker process that runs it, so jump analysis and decoding are done once.
"""
from __future__ import annotations

from weakref import WeakValueDictionary

from parevm.crypto import EMPTY_KECCAK, keccak256

DELEGATION_PREFIX = b"\xef\x01\x00"  # EIP-7702 delegation designator


class Code:
    __slots__ = ("bytes", "_hash", "analyses", "delegate", "__weakref__")

    def __init__(self, code: bytes, code_hash: bytes | None = None) -> None:
        self.bytes = code
        self._hash = code_hash
        self.analyses: dict = {}  # fork name -> interpreter analysis (see parevm.evm.analysis)
        self.delegate: bytes | None = (
            code[3:] if len(code) == 23 and code.startswith(DELEGATION_PREFIX) else None)

    @property
    def hash(self) -> bytes:
        h = self._hash
        if h is None:
            h = self._hash = keccak256(self.bytes)
        return h

    def __len__(self) -> int:
        return len(self.bytes)

    def __bool__(self) -> bool:
        return bool(self.bytes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Code) and other.bytes == self.bytes

    def __hash__(self) -> int:
        return hash(self.bytes)

    def __repr__(self) -> str:
        return f"Code({len(self.bytes)} bytes)"

    def __reduce__(self) -> tuple:
        """Pickled as its bytes, unpickled as the interned `Code`: analyses are this process's
        caches (and hold the interpreter's closures, which do not pickle)."""
        return code_of, (self.bytes,)


EMPTY_CODE = Code(b"", EMPTY_KECCAK)

# Weak: a code lives as long as some state or frame holds it, so long runs do not accumulate.
_interned: WeakValueDictionary[bytes, Code] = WeakValueDictionary({b"": EMPTY_CODE})


def code_of(data: bytes) -> Code:
    """The shared `Code` object for these bytes (interned while in use, so analyses are reused)."""
    code = _interned.get(data)
    if code is None:
        code = _interned[data] = Code(data)
    return code

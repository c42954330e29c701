"""The simple precompiles (ecrecover, hashes, identity, modexp, blake2f) and the record type."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from dataclasses import FrozenInstanceError

import pytest
from coincurve import PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from parevm.crypto import SECP256K1_N, keccak256
from parevm.evm import precompiles as pc


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def test_every_constant_is_a_precompile():
    for name in pc.__all__:
        if name not in ("Precompile", "PrecompileError"):
            item = getattr(pc, name)
            assert isinstance(item, pc.Precompile), name
            assert isinstance(item.gas(b""), int), name
    with pytest.raises(FrozenInstanceError):
        pc.SHA256.name = "other"


NATIVE_LIBRARIES = ("gmpy2", "mclbn256", "Crypto", "cryptography", "py_arkworks_bls12381", "blake2b")


def test_native_libraries_load_on_first_use():
    """Importing the precompiles, as every process does, loads none of their libraries; running
    one loads its own."""
    program = (
        "import sys\n"
        "from parevm.evm import precompiles as pc\n"
        f"names = {NATIVE_LIBRARIES!r}\n"
        "print(sorted(n for n in names if n in sys.modules))\n"
        "lengths = (1).to_bytes(32, 'big') * 3\n"
        "assert pc.MODEXP_BERLIN.run(lengths + bytes([2, 3, 5])) == bytes([3])  # 2**3 % 5\n"
        "print(sorted(n for n in names if n in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert completed.stdout.splitlines() == ["[]", "['gmpy2']"]


def test_load_once_runs_the_loader_once_across_threads():
    calls = []
    entered = threading.Event()
    release = threading.Event()

    @pc.base.load_once
    def load():
        calls.append(1)
        entered.set()
        release.wait(5)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(load())) for _ in range(4)]
    threads[0].start()
    entered.wait(5)  # the first thread is inside the loader; the others must wait for it
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


# --- ecrecover ---------------------------------------------------------------------------------

def signed_input(key: PrivateKey, msg_hash: bytes) -> bytes:
    signature = key.sign_recoverable(msg_hash, hasher=None)  # r || s || recovery id
    return msg_hash + word(27 + signature[64]) + signature[:64]


def address_of(key: PrivateKey) -> bytes:
    return keccak256(key.public_key.format(compressed=False)[1:])[12:]


def test_ecrecover_known_vector():
    # The signature used by the ethereum/tests CallEcrecover0 state tests.
    data = bytes.fromhex(
        "18c547e4f7b0f325ad1e56f57e26c745b09a3e503d86e00e5255ff7f715d3d1c"
        "000000000000000000000000000000000000000000000000000000000000001c"
        "73b1693892219d736caba55bdb67216e485557ea6b6af75f37096c9aa6a5a75f"
        "eeb940b1d03b21e36b0e47e79769f095fe2ab855bd91e3a38756b7d75a9c4549"
    )
    assert pc.ECRECOVER.run(data) == bytes(12) + bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
    assert pc.ECRECOVER.gas(data) == 3000


def test_ecrecover_recovers_signer_and_ignores_extra_input():
    key = PrivateKey(b"\x07" * 32)
    data = signed_input(key, keccak256(b"parevm"))
    assert pc.ECRECOVER.run(data) == bytes(12) + address_of(key)
    assert pc.ECRECOVER.run(data + b"\xff" * 40) == bytes(12) + address_of(key)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:32] + word(29) + d[64:],  # v outside {27, 28}
        lambda d: d[:32] + word(27 + (1 << 255)) + d[64:],  # v with high bits set
        lambda d: d[:64] + word(0) + d[96:],  # r = 0
        lambda d: d[:64] + word(SECP256K1_N) + d[96:],  # r = n
        lambda d: d[:96] + word(0),  # s = 0
        lambda d: d[:96] + word(SECP256K1_N),  # s = n
        lambda d: b"",  # all zero after padding
    ],
)
def test_ecrecover_invalid_signature_is_empty_output_not_error(mutate):
    data = signed_input(PrivateKey(b"\x07" * 32), keccak256(b"parevm"))
    assert pc.ECRECOVER.run(mutate(data)) == b""


def test_ecrecover_short_input_is_zero_padded():
    key = PrivateKey(b"\x09" * 32)
    data = signed_input(key, keccak256(b"x"))
    # An s whose low byte is zero can be cut off and comes back as padding.
    while data[-1] != 0:
        data = signed_input(key, keccak256(data))
    assert pc.ECRECOVER.run(data[:-1]) == bytes(12) + address_of(key)


# --- hashes and identity ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "precompile, base, per_word",
    [(pc.SHA256, 60, 12), (pc.RIPEMD160, 600, 120), (pc.IDENTITY, 15, 3)],
)
@pytest.mark.parametrize("size, words", [(0, 0), (1, 1), (32, 1), (33, 2), (64, 2), (1000, 32)])
def test_hash_and_identity_gas_is_base_plus_per_word(precompile, base, per_word, size, words):
    assert precompile.gas(bytes(size)) == base + per_word * words


def test_hash_outputs():
    assert pc.SHA256.run(b"") == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert pc.SHA256.run(b"abc") == hashlib.sha256(b"abc").digest()
    assert pc.RIPEMD160.run(b"") == bytes(12) + bytes.fromhex("9c1185a5c5e9fc54612808977ee8f548b2258d31")
    assert pc.RIPEMD160.run(b"abc") == bytes(12) + bytes.fromhex("8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")


@given(st.binary(max_size=300))
def test_identity_returns_its_input(data):
    assert pc.IDENTITY.run(data) == data


# --- modexp ------------------------------------------------------------------------------------

def modexp_input(base: bytes, exponent: bytes, modulus: bytes) -> bytes:
    return word(len(base)) + word(len(exponent)) + word(len(modulus)) + base + exponent + modulus


SECP256K1_P = 2**256 - 2**32 - 977
# EIP-198's examples: 3^(p-1) mod p = 1 (Fermat) and 0^(p-1) mod p = 0 with an empty base.
FERMAT = modexp_input(b"\x03", word(SECP256K1_P - 1), word(SECP256K1_P))
EMPTY_BASE = modexp_input(b"", word(SECP256K1_P - 1), word(SECP256K1_P))


def test_modexp_eip198_examples():
    for precompile in (pc.MODEXP_BYZANTIUM, pc.MODEXP_BERLIN, pc.MODEXP_OSAKA):
        assert precompile.run(FERMAT) == word(1)
        assert precompile.run(EMPTY_BASE) == word(0)
    # 32-byte operands, exponent of 256 bits: complexity 32^2 resp. 4 words^2 resp. 16, 255 iterations.
    assert pc.MODEXP_BYZANTIUM.gas(FERMAT) == 1024 * 255 // 20 == 13056
    assert pc.MODEXP_BERLIN.gas(FERMAT) == 16 * 255 // 3 == 1360
    assert pc.MODEXP_OSAKA.gas(FERMAT) == 16 * 255 == 4080


@pytest.mark.parametrize(
    "base_len, exp_len, mod_len, exp_head, byzantium, berlin, osaka",
    [
        (0, 0, 0, 0, 0, 200, 500),
        (1, 1, 1, 0, 0, 200, 500),  # exponent 0: one iteration
        (64, 1, 64, 3, 64 * 64 // 20, 200, 500),  # Osaka: 2 * 8^2 = 128, raised to the minimum
        (100, 40, 100, 1, (100 * 100 // 4 + 9600 - 3072) * 64 // 20, 13 * 13 * 64 // 3, 2 * 13 * 13 * 128),
        (2000, 1, 1, 2, (2000 * 2000 // 16 + 480 * 2000 - 199680) // 20, max(200, 250 * 250 // 3), 2 * 250 * 250),
    ],
)
def test_modexp_gas_rules(base_len, exp_len, mod_len, exp_head, byzantium, berlin, osaka):
    head_len = min(exp_len, 32)
    exponent = exp_head.to_bytes(head_len, "big") + bytes(exp_len - head_len)
    data = modexp_input(bytes(base_len), exponent, bytes(mod_len))
    assert pc.MODEXP_BYZANTIUM.gas(data) == byzantium
    assert pc.MODEXP_BERLIN.gas(data) == berlin
    assert pc.MODEXP_OSAKA.gas(data) == osaka


def test_modexp_gas_survives_absurd_lengths():
    absurd = word(2**256 - 1) * 3
    for precompile in (pc.MODEXP_BYZANTIUM, pc.MODEXP_BERLIN, pc.MODEXP_OSAKA):
        assert precompile.gas(absurd) > 2**256


def test_modexp_empty_modulus_reads_nothing():
    # Byzantium charges nothing here whatever the exponent length claims; run must not read it.
    data = word(0) + word(2**255) + word(0)
    assert pc.MODEXP_BYZANTIUM.gas(data) == 0
    assert pc.MODEXP_BYZANTIUM.run(data) == b""


def test_modexp_reads_missing_bytes_as_zero_and_zero_modulus_gives_zeros():
    # base 2 (1 byte), exponent 0x03?? truncated: only the first exponent byte is present.
    data = word(1) + word(2) + word(1) + b"\x02\x03"
    assert pc.MODEXP_BERLIN.run(data) == b"\x00"  # modulus byte missing: zero modulus
    data = word(1) + word(2) + word(2) + b"\x02\x00\x01\x00\x07"  # 2^1 mod 0x0007
    assert pc.MODEXP_BERLIN.run(data) == b"\x00\x02"


def test_modexp_osaka_bounds_each_length_to_1024():
    at_limit = modexp_input(bytes(1024), b"\x01", b"\x01" * 1024)
    assert pc.MODEXP_OSAKA.run(at_limit) == bytes(1024)
    for lengths in ((1025, 1, 1), (1, 1025, 1), (1, 1, 1025)):
        data = b"".join(word(n) for n in lengths) + bytes(sum(lengths))
        with pytest.raises(pc.PrecompileError):
            pc.MODEXP_OSAKA.run(data)
        pc.MODEXP_BERLIN.run(data)  # no bound before Osaka


@settings(max_examples=200)
@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=40))
def test_modexp_matches_python_pow(base, exponent, modulus):
    data = modexp_input(base, exponent, modulus)
    m = int.from_bytes(modulus, "big")
    expected = pow(int.from_bytes(base, "big"), int.from_bytes(exponent, "big"), m) if m else 0
    for precompile in (pc.MODEXP_BYZANTIUM, pc.MODEXP_BERLIN, pc.MODEXP_OSAKA):
        assert precompile.run(data) == expected.to_bytes(len(modulus), "big")


# --- blake2f -----------------------------------------------------------------------------------

# EIP-152 test vectors 4-7: (input, output).
EIP152_VECTOR_5 = bytes.fromhex(
    "0000000c48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d182e6ad7f520e511f6c3e2b8c68059b6b"
    "bd41fbabd9831f79217e1319cde05b6162630000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000"
    "01"
)
_BLAKE2F_BODY = EIP152_VECTOR_5[4:-1].hex()  # state, message and offsets shared by vectors 4-7
BLAKE2F_VECTORS = [
    ("00000000", "01", "08c9bcf367e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d282e6ad7f520e511f6c3e2b8c6805"
     "9b9442be0454267ce079217e1319cde05b"),
    ("0000000c", "01", "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc"
     "9518d38aa8dbf1925ab92386edd4009923"),
    ("0000000c", "00", "75ab69d3190a562c51aef8d88f1c2775876944407270c42c9844252c26d2875298743e7f6d5ea2f2d3e8d226039cd3"
     "1b4e426ac4f2d3d666a610c2116fde4735"),
    ("00000001", "01", "b63a380cb2897d521994a85234ee2c181b5f844d2c624c002677e9703449d2fba551b3a8333bcdf5f2f7e08993d539"
     "23de3d64fcc68c034e717b9293fed7a421"),
]


@pytest.mark.parametrize("rounds, flag, output", BLAKE2F_VECTORS)
def test_blake2f_eip152_vectors(rounds, flag, output):
    data = bytes.fromhex(rounds + _BLAKE2F_BODY + flag)
    assert len(data) == 213
    assert pc.BLAKE2F.gas(data) == int(rounds, 16)
    assert pc.BLAKE2F.run(data).hex() == output


def test_blake2f_rejects_bad_length_and_flag():
    data = EIP152_VECTOR_5
    for bad in (b"", data[:-1], data + b"\x00", data[:-1] + b"\x02"):
        with pytest.raises(pc.PrecompileError):
            pc.BLAKE2F.run(bad)
    assert pc.BLAKE2F.gas(b"\xff\xff\xff\xff" + data[4:]) == 2**32 - 1  # EIP-152 vector 8's price


# --- every precompile, arbitrary input ----------------------------------------------------------

ALL_PRECOMPILES = [getattr(pc, name) for name in pc.__all__ if name not in ("Precompile", "PrecompileError")]
_SIZES_OF_INTEREST = [0, 1, 31, 32, 64, 96, 128, 160, 192, 213, 256, 288, 384, 512]
inputs = st.one_of(
    st.binary(max_size=600),
    st.sampled_from(_SIZES_OF_INTEREST).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PRECOMPILES), inputs)
def test_arbitrary_input_gives_output_or_precompile_error(precompile, data):
    """The interpreter relies on this: `gas` never raises, and `run` (reached only when the
    gas was affordable) returns bytes or raises PrecompileError, nothing else."""
    cost = precompile.gas(data)
    assert isinstance(cost, int) and cost >= 0
    if cost > 30_000_000:  # more than a block's gas: the interpreter never gets to `run`
        return
    try:
        output = precompile.run(data)
    except pc.PrecompileError:
        return
    assert isinstance(output, bytes)

"""Time each precompile on typical inputs and report its speed in Mgas/s.

The interpreter's own speed is the yardstick: a precompile that runs slower per gas than the
interpreter lets a block's gas limit buy more time than intended. Each row times
`gas(data)` plus `run(data)`, as the interpreter calls them, best of a few repeats. A last
line gives the first point evaluation's latency in a fresh process.

    python bench/bench_precompiles.py [--min-mgas 20] [--repeat 5]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import timeit

from coincurve import PrivateKey
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256 as SHA256_HASH
from py_arkworks_bls12381 import G1Point, G2Point, Scalar

from parevm.crypto import keccak256
from parevm.evm import precompiles as pc
from parevm.evm.precompiles import kzg

BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
BN254_G1 = (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
# EIP-197's G2 generator in Ethereum's order: x imaginary, x real, y imaginary, y real.
BN254_G2 = b"".join(
    v.to_bytes(32, "big")
    for v in (
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
    )
)


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def ecrecover_input() -> bytes:
    msg_hash = keccak256(b"bench")
    signature = PrivateKey(b"\x05" * 32).sign_recoverable(msg_hash, hasher=None)
    return msg_hash + word(27 + signature[64]) + signature[:64]


def modexp_input(base_len: int, exp: bytes, mod_len: int) -> bytes:
    base = bytes(range(1, 256)) * (base_len // 255 + 1)
    modulus = b"\xff" * mod_len
    return word(base_len) + word(len(exp)) + word(mod_len) + base[:base_len] + exp + modulus


def bn254_multiple(k: int) -> bytes:
    return pc.BN254_MUL_ISTANBUL.run(BN254_G1 + word(k))


def bn254_pairing_input(pairs: int) -> bytes:
    """Pairs (aG1, G2), (-aG1, G2), ...: a product that is 1, the case verifiers hit."""
    data = b""
    for i in range(pairs):
        point = bn254_multiple(1000 + i // 2)
        if i % 2:
            point = point[:32] + word(BN254_P - int.from_bytes(point[32:], "big"))
        data += point + BN254_G2
    return data


def padded(raw: bytes) -> bytes:
    """arkworks' 48-byte field elements as EIP-2537's 64-byte ones."""
    return b"".join(bytes(16) + raw[i : i + 48] for i in range(0, len(raw), 48))


def bls_g1(k: int) -> bytes:
    return padded((G1Point() * Scalar(k)).to_xy_bytes_be())


def bls_g2(k: int) -> bytes:
    return padded((G2Point() * Scalar(k)).to_xy_bytes_be())


def bls_msm_input(point, k: int) -> bytes:
    return b"".join(point(i + 2) + word(2**255 - 19 * i) for i in range(k))


def bls_pairing_input(pairs: int) -> bytes:
    data = b""
    for i in range(pairs):
        g1 = G1Point() * Scalar(77 + i // 2)
        data += padded((g1 if i % 2 == 0 else -g1).to_xy_bytes_be()) + bls_g2(1)
    return data


def point_evaluation_input() -> bytes:
    """A valid proof for the blob whose i-th element is 7919 i + 3, at z = 2^200 + 12345
    (computed once with ckzg and the mainnet setup)."""
    commitment = bytes.fromhex(
        "a577e8f06b15bb6427ea7ba823c20fae04fe50b88d0f4810510debcb8f01eb98aff933c3d428d9d0f60673c0bf60970a"
    )
    proof = bytes.fromhex(
        "8b0084f7b53c94a056716af76146b78f48685771a99017e08a18429cbc195d2ed3230662239c726ce4fe4aea015fd4d5"
    )
    y = bytes.fromhex("3de1692bb80b74e41a0156059c49b8407b4802b1de77a0c77f67b5967759a11e")
    return kzg.kzg_to_versioned_hash(commitment) + word(2**200 + 12345) + y + commitment + proof


def p256_input() -> bytes:
    key = ec.derive_private_key(0xBEEF, ec.SECP256R1())
    digest = keccak256(b"bench")
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(SHA256_HASH()))))
    numbers = key.public_key().public_numbers()
    return digest + word(r) + word(s) + word(numbers.x) + word(numbers.y)


def blake2f_input(rounds: int) -> bytes:
    state, message = bytes(range(64)), bytes(range(64, 192))
    offsets = (128).to_bytes(8, "little") + bytes(8)
    return rounds.to_bytes(4, "big") + state + message + offsets + b"\x01"


def cases():
    fermat = modexp_input(32, word(2**256 - 2**32 - 978), 32)
    rsa_2048 = modexp_input(256, (65537).to_bytes(3, "big"), 256)
    long_exponent = modexp_input(32, b"\xff" * 1024, 32)
    yield "ecrecover", pc.ECRECOVER, ecrecover_input()
    yield "sha256 32 B", pc.SHA256, bytes(32)
    yield "sha256 1 KiB", pc.SHA256, bytes(1024)
    yield "ripemd160 32 B", pc.RIPEMD160, bytes(32)
    yield "ripemd160 1 KiB", pc.RIPEMD160, bytes(1024)
    yield "identity 32 B", pc.IDENTITY, bytes(32)
    yield "identity 1 KiB", pc.IDENTITY, bytes(1024)
    modexps = (("byzantium", pc.MODEXP_BYZANTIUM), ("berlin", pc.MODEXP_BERLIN), ("osaka", pc.MODEXP_OSAKA))
    for label, precompile in modexps:
        yield f"modexp {label} 256-bit exp (EIP-198 ex.)", precompile, fermat
        yield f"modexp {label} RSA-2048 e=65537", precompile, rsa_2048
        yield f"modexp {label} 256-bit mod, 8192-bit exp", precompile, long_exponent
    yield "bn254 add (istanbul)", pc.BN254_ADD_ISTANBUL, bn254_multiple(3) + bn254_multiple(5)
    yield "bn254 mul (istanbul)", pc.BN254_MUL_ISTANBUL, bn254_multiple(3) + word(2**256 - 12345)
    yield "bn254 pairing 2 (istanbul)", pc.BN254_PAIRING_ISTANBUL, bn254_pairing_input(2)
    yield "bn254 pairing 4 (istanbul)", pc.BN254_PAIRING_ISTANBUL, bn254_pairing_input(4)
    yield "blake2f 12 rounds", pc.BLAKE2F, blake2f_input(12)
    yield "blake2f 10000 rounds", pc.BLAKE2F, blake2f_input(10000)
    yield "point evaluation", pc.POINT_EVALUATION, point_evaluation_input()
    yield "bls g1add", pc.BLS12_G1ADD, bls_g1(3) + bls_g1(5)
    yield "bls g2add", pc.BLS12_G2ADD, bls_g2(3) + bls_g2(5)
    for k in (1, 16, 128):
        yield f"bls g1msm k={k}", pc.BLS12_G1MSM, bls_msm_input(bls_g1, k)
    for k in (1, 16, 128):
        yield f"bls g2msm k={k}", pc.BLS12_G2MSM, bls_msm_input(bls_g2, k)
    yield "bls pairing 2", pc.BLS12_PAIRING_CHECK, bls_pairing_input(2)
    yield "bls pairing 4", pc.BLS12_PAIRING_CHECK, bls_pairing_input(4)
    yield "bls map fp to g1", pc.BLS12_MAP_FP_TO_G1, (12345).to_bytes(64, "big")
    yield "bls map fp2 to g2", pc.BLS12_MAP_FP2_TO_G2, (12345).to_bytes(64, "big") + (6789).to_bytes(64, "big")
    yield "p256verify", pc.P256VERIFY, p256_input()


def seconds_per_call(precompile: pc.Precompile, data: bytes, repeat: int) -> float:
    def call():
        precompile.gas(data)
        precompile.run(data)

    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # enough calls for >= 0.2 s
    return min(timer.repeat(repeat=repeat, number=number)) / number


def first_point_evaluation_seconds() -> float:
    """The first point evaluation in a fresh interpreter, imports excluded: a one-off cost that
    a block replay pays in full and that the per-call rows hide."""
    program = (
        "import time\n"
        "from parevm.evm import precompiles as pc\n"
        f"data = bytes.fromhex('{point_evaluation_input().hex()}')\n"
        "start = time.perf_counter()\n"
        "pc.POINT_EVALUATION.run(data)\n"
        "print(time.perf_counter() - start)\n"
    )
    return float(subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mgas", type=float, default=20.0, help="flag rows slower than this (Mgas/s)")
    parser.add_argument("--repeat", type=int, default=5, help="timing repeats; the best is reported")
    args = parser.parse_args()
    print(f"{'case':44} {'gas':>10} {'us/call':>10} {'Mgas/s':>9}")
    slow = 0
    for label, precompile, data in cases():
        gas = precompile.gas(data)
        seconds = seconds_per_call(precompile, data, args.repeat)
        mgas = gas / seconds / 1e6
        flag = "  < min" if mgas < args.min_mgas else ""
        slow += bool(flag)
        print(f"{label:44} {gas:>10} {seconds * 1e6:>10.1f} {mgas:>9.1f}{flag}")
    print(f"{slow} of the cases run below {args.min_mgas:g} Mgas/s")
    print(f"point evaluation, first call in a fresh process: {first_point_evaluation_seconds() * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

"""Receipts, blooms and logs hashes against hand-built encodings and published vectors."""
from __future__ import annotations

import pytest

from parevm.block.bloom import EMPTY_BLOOM, bloom_bits, combine_blooms, logs_bloom
from parevm.block.receipts import Receipt, block_bloom, encode_receipt, logs_hash, receipts_root
from parevm.crypto import keccak256
from parevm.primitives import Log

EMPTY_TRIE_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_LIST_HASH = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")

# The callee of ethereum-tests GeneralStateTests/stLogTests/*, which emits the logs below.
LOG_TEST_CONTRACT = bytes.fromhex("0f572e5295c57f15886f9b263e2f6d2d6c7b5ec6")


def _bloom_by_bytes(items: list[bytes]) -> bytes:
    """The Yellow Paper's M3:2048 written byte-wise: bit i lives in byte 255 - i // 8, bit i % 8."""
    bloom = bytearray(256)
    for item in items:
        digest = keccak256(item)
        for pair in range(3):
            index = int.from_bytes(digest[2 * pair: 2 * pair + 2], "big") % 2048
            bloom[255 - index // 8] |= 1 << (index % 8)
    return bytes(bloom)


# --- bloom ---------------------------------------------------------------------------------------


def test_bloom_of_no_logs_is_empty():
    assert logs_bloom([]) == EMPTY_BLOOM == bytes(256)


def test_bloom_bits_by_hand_from_keccak_of_empty_string():
    # keccak("") = c5d2 4601 86f7 ...: low 11 bits of each pair are 0x5d2, 0x601, 0x6f7.
    assert bloom_bits(b"") == (1 << 1490) | (1 << 1537) | (1 << 1783)
    bloom = logs_bloom([Log(b"", (), b"")])
    expected = bytearray(256)
    expected[255 - 1490 // 8] = 1 << (1490 % 8)  # byte 69, 0x04
    expected[255 - 1537 // 8] = 1 << (1537 % 8)  # byte 63, 0x02
    expected[255 - 1783 // 8] = 1 << (1783 % 8)  # byte 33, 0x80
    assert bloom == bytes(expected)


def test_bloom_published_vector_address_and_topic():
    # Parity's ethbloom test vector: one address and one topic accrued.
    address = bytes.fromhex("ef2d6d194084c2de36e0dabfce45d046b37d1106")
    topic = bytes.fromhex("02c69be41d0b7e40352fc85be1cd65eb03d40ef8427a0ca4596b1ead9a00e9fc")
    expected = bytearray(256)
    for position, value in ((20, 0x10), (99, 0x02), (100, 0x02), (123, 0x08), (128, 0x10), (155, 0x10)):
        expected[position] = value
    assert logs_bloom([Log(address, (topic,), b"data is not in the bloom")]) == bytes(expected)


def test_bloom_covers_address_and_every_topic_but_not_data():
    logs = [
        Log(bytes([1]) * 20, (bytes([2]) * 32, bytes([3]) * 32), b"\x99" * 64),
        Log(bytes([4]) * 20, (), b""),
        Log(bytes([1]) * 20, (bytes([5]) * 32,), b""),
    ]
    items = [bytes([1]) * 20, bytes([2]) * 32, bytes([3]) * 32, bytes([4]) * 20, bytes([5]) * 32]
    assert logs_bloom(logs) == _bloom_by_bytes(items)
    assert logs_bloom(logs) != logs_bloom(logs[:2])


def test_combine_blooms_is_bitwise_or():
    first = _bloom_by_bytes([b"a"])
    second = _bloom_by_bytes([b"b"])
    assert combine_blooms([first, second]) == bytes(x | y for x, y in zip(first, second))
    assert combine_blooms([]) == EMPTY_BLOOM


# --- receipt encoding ----------------------------------------------------------------------------

ZERO_BLOOM_RLP = bytes.fromhex("b90100") + bytes(256)


def test_legacy_success_receipt_encoding():
    receipt = Receipt.build(0, 1, 21000, [])
    assert receipt.bloom == EMPTY_BLOOM
    # list of 264 payload bytes: status 0x01, gas 0x825208, 256-byte bloom, empty log list.
    assert encode_receipt(receipt) == bytes.fromhex("f9010801825208") + ZERO_BLOOM_RLP + b"\xc0"


def test_typed_failed_receipt_has_type_prefix_and_empty_status():
    receipt = Receipt.build(2, 0, 21000, [])
    assert encode_receipt(receipt) == bytes.fromhex("02f9010880825208") + ZERO_BLOOM_RLP + b"\xc0"


def test_pre_byzantium_receipt_carries_state_root():
    root = bytes(range(32))
    receipt = Receipt.build(0, root, 0x5208, [])
    # payload: 33 (root) + 3 (gas) + 259 (bloom) + 1 (logs) = 296 = 0x128.
    assert encode_receipt(receipt) == bytes.fromhex("f90128a0") + root + bytes.fromhex("825208") + ZERO_BLOOM_RLP + b"\xc0"


def test_receipt_with_log_encoding_and_bloom():
    address, topic, data = b"\x11" * 20, b"\x22" * 32, b"\x33\x44"
    receipt = Receipt.build(1, 1, 0x0100, [Log(address, (topic,), data)])
    log_rlp = bytes.fromhex("f83a94") + address + bytes.fromhex("e1a0") + topic + bytes.fromhex("823344")
    payload = b"\x01" + bytes.fromhex("820100") + bytes.fromhex("b90100") + receipt.bloom + b"\xf8\x3c" + log_rlp
    assert len(payload) == 1 + 3 + 259 + 2 + 60 == 0x145
    assert encode_receipt(receipt) == b"\x01\xf9\x01\x45" + payload
    assert receipt.bloom == _bloom_by_bytes([address, topic])


def test_receipts_root_empty_and_single():
    assert receipts_root([]) == EMPTY_TRIE_ROOT
    receipt = Receipt.build(0, 1, 21000, [])
    encoded = encode_receipt(receipt)
    # One leaf, key rlp(0) = 0x80 -> nibbles 8,0 -> even leaf path 0x20 0x80; the node is hashed.
    leaf_payload = bytes.fromhex("822080") + bytes.fromhex("b9") + len(encoded).to_bytes(2, "big") + encoded
    leaf = bytes.fromhex("f9") + len(leaf_payload).to_bytes(2, "big") + leaf_payload
    assert receipts_root([receipt]) == keccak256(leaf)


def test_block_bloom_ors_receipt_blooms():
    first = Receipt.build(0, 1, 100, [Log(b"\x01" * 20, (), b"")])
    second = Receipt.build(2, 1, 200, [Log(b"\x02" * 20, (b"\x03" * 32,), b"")])
    assert block_bloom([first, second]) == _bloom_by_bytes([b"\x01" * 20, b"\x02" * 20, b"\x03" * 32])
    assert block_bloom([]) == EMPTY_BLOOM


# --- logs hash (state tests' post `logs`) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        ([], EMPTY_LIST_HASH.hex()),
        # stLogTests/log0_emptyMem: LOG0 of no bytes.
        ([Log(LOG_TEST_CONTRACT, (), b"")], "ea63b4dbbdbca1bd985580a0c3b6f35a4955d4d4cf0b4d903003cdfc4c40ba1c"),
        # stLogTests/log0_nonEmptyMem: LOG0 of 32 0xff bytes.
        ([Log(LOG_TEST_CONTRACT, (), b"\xff" * 32)],
         "4b78f5979516c0624506af0eb4124e0a6ae9e21c82a3a90ca2999983634d7338"),
        # stLogTests/log1_MaxTopic: LOG1 with topic 2**256-1.
        ([Log(LOG_TEST_CONTRACT, (b"\xff" * 32,), bytes.fromhex("aabb" + "ff" * 28 + "ccdd"))],
         "390a7f435e94b10f36ab57ca7106029629ee62569ed1bc309de88acc3ddfd954"),
    ],
)
def test_logs_hash_matches_state_test_vectors(logs, expected):
    assert logs_hash(logs).hex() == expected

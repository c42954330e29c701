// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Compute: a CPU-bound workload, a loop of keccak256 and 256-bit arithmetic.
/// @notice Each caller's result goes to its own slot, so calls by different senders are independent.
contract Compute {
    mapping(address => uint256) public resultOf;

    // The largest prime below 2**256 (2**256 - 189).
    uint256 private constant PRIME = 0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff43;

    event Computed(address indexed caller, uint256 iterations, uint256 result);

    function run(uint256 iterations, uint256 seed) external returns (uint256 result) {
        uint256 h = seed;
        for (uint256 i; i < iterations; ) {
            assembly ("memory-safe") {
                mstore(0x00, h)
                mstore(0x20, i)
                h := keccak256(0x00, 0x40)
            }
            unchecked {
                result = mulmod(result + h, h | 1, PRIME) ^ (h >> (i & 0xff));
                result = addmod(result, (h / (i + 1)) * 3, PRIME);
                ++i;
            }
        }
        resultOf[msg.sender] = result;
        emit Computed(msg.sender, iterations, result);
    }
}

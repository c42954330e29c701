// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BoardGame: players walk a square board that wraps around at the edges, collecting treasure.
/// @notice One player per cell: a move into an occupied cell bumps (the player stays; the transaction still
/// succeeds). Players far apart do not interact; neighbours and a new high score (the leader slots) do.
contract BoardGame {
    mapping(address => uint256) public cellOf; // cell index + 1; 0 = not on the board
    mapping(address => uint256) public scoreOf;
    mapping(uint256 => address) public occupantOf;
    mapping(uint256 => uint256) public treasureAt;
    uint256 public side; // the board has side * side cells
    uint256 public players;
    address public leader;
    uint256 public leaderScore;
    address public owner;

    event Joined(address indexed player, uint256 cell);
    event Left(address indexed player, uint256 score);
    event Moved(address indexed player, uint256 cell, uint256 score);
    event Bumped(address indexed player, address indexed occupant, uint256 cell);
    event NewLeader(address indexed player, uint256 score);

    error AlreadyPlaying(address player);
    error NotPlaying(address player);
    error BoardFull();
    error BadDirection(uint256 direction);
    error BadCell(uint256 cell);
    error NotOwner(address caller);

    constructor(uint256 side_) {
        owner = msg.sender;
        side = side_;
    }

    /// Start on the first free cell at or after one chosen by the player's address.
    function join() external returns (uint256 cell) {
        if (cellOf[msg.sender] != 0) revert AlreadyPlaying(msg.sender);
        uint256 cells = side * side;
        if (players == cells) revert BoardFull();
        cell = uint256(keccak256(abi.encode(msg.sender))) % cells;
        while (occupantOf[cell] != address(0)) {
            cell = (cell + 1) % cells;
        }
        _place(msg.sender, cell);
        players += 1;
        emit Joined(msg.sender, cell);
    }

    function leave() external {
        uint256 cell = _cellOf(msg.sender);
        delete occupantOf[cell];
        delete cellOf[msg.sender];
        players -= 1;
        emit Left(msg.sender, scoreOf[msg.sender]);
    }

    /// Directions: 0 north, 1 east, 2 south, 3 west.
    function move(uint256 direction) external returns (uint256 cell) {
        uint256 from = _cellOf(msg.sender);
        cell = _neighbour(from, direction);
        address occupant = occupantOf[cell];
        if (occupant != address(0)) {
            emit Bumped(msg.sender, occupant, cell);
            return from;
        }
        delete occupantOf[from];
        _place(msg.sender, cell);
        uint256 score = scoreOf[msg.sender];
        uint256 found = treasureAt[cell];
        if (found != 0) {
            delete treasureAt[cell];
            score += found;
            scoreOf[msg.sender] = score;
            if (score > leaderScore) {
                leader = msg.sender;
                leaderScore = score;
                emit NewLeader(msg.sender, score);
            }
        }
        emit Moved(msg.sender, cell, score);
    }

    function placeTreasure(uint256 cell, uint256 value) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (cell >= side * side) revert BadCell(cell);
        treasureAt[cell] = value;
    }

    function _cellOf(address player) private view returns (uint256) {
        uint256 stored = cellOf[player];
        if (stored == 0) revert NotPlaying(player);
        return stored - 1;
    }

    function _place(address player, uint256 cell) private {
        occupantOf[cell] = player;
        cellOf[player] = cell + 1;
    }

    function _neighbour(uint256 cell, uint256 direction) private view returns (uint256) {
        uint256 n = side;
        uint256 row = cell / n;
        uint256 column = cell % n;
        if (direction == 0) row = (row + n - 1) % n;
        else if (direction == 1) column = (column + 1) % n;
        else if (direction == 2) row = (row + 1) % n;
        else if (direction == 3) column = (column + n - 1) % n;
        else revert BadDirection(direction);
        return row * n + column;
    }
}

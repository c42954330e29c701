// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IERC721Receiver {
    function onERC721Received(address operator, address from, uint256 tokenId, bytes memory data)
        external
        returns (bytes4);
}

/// @title Collectible: non-fungible tokens in the ERC-721 shape, sold by a public paid mint.
/// @notice Token ids count up from 1; every mint reads and writes `totalSupply`, the hot slot of an NFT drop.
contract Collectible {
    mapping(uint256 => address) private _owners;
    mapping(address => uint256) public balanceOf;
    mapping(uint256 => address) public getApproved;
    mapping(address => mapping(address => bool)) public isApprovedForAll;
    uint256 public totalSupply;
    uint256 public maxSupply;
    uint256 public mintPrice;
    address public owner;

    string public constant name = "Parevm Collectible";
    string public constant symbol = "PRVC";

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    error NonexistentToken(uint256 tokenId);
    error WrongPrice(uint256 paid, uint256 price);
    error SoldOut(uint256 maxSupply);
    error NotAuthorized(address caller, uint256 tokenId);
    error WrongOwner(address claimed, address actual);
    error InvalidReceiver(address receiver);
    error NotOwner(address caller);
    error PayoutFailed();

    constructor(uint256 maxSupply_, uint256 mintPrice_) {
        owner = msg.sender;
        maxSupply = maxSupply_;
        mintPrice = mintPrice_;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x80ac58cd || interfaceId == 0x01ffc9a7; // ERC-721, ERC-165
    }

    function ownerOf(uint256 tokenId) public view returns (address holder) {
        holder = _owners[tokenId];
        if (holder == address(0)) revert NonexistentToken(tokenId);
    }

    function mint(address to) external payable returns (uint256 tokenId) {
        if (msg.value != mintPrice) revert WrongPrice(msg.value, mintPrice);
        if (to == address(0)) revert InvalidReceiver(to);
        tokenId = totalSupply + 1;
        if (tokenId > maxSupply) revert SoldOut(maxSupply);
        totalSupply = tokenId;
        _owners[tokenId] = to;
        unchecked {
            balanceOf[to] += 1;
        }
        emit Transfer(address(0), to, tokenId);
    }

    function approve(address approved, uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        if (msg.sender != holder && !isApprovedForAll[holder][msg.sender]) revert NotAuthorized(msg.sender, tokenId);
        getApproved[tokenId] = approved;
        emit Approval(holder, approved, tokenId);
    }

    function setApprovalForAll(address operator, bool approved) external {
        isApprovedForAll[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function transferFrom(address from, address to, uint256 tokenId) public {
        address holder = ownerOf(tokenId);
        if (holder != from) revert WrongOwner(from, holder);
        if (to == address(0)) revert InvalidReceiver(to);
        if (msg.sender != holder && getApproved[tokenId] != msg.sender && !isApprovedForAll[holder][msg.sender]) {
            revert NotAuthorized(msg.sender, tokenId);
        }
        delete getApproved[tokenId];
        _owners[tokenId] = to;
        unchecked {
            balanceOf[from] -= 1;
            balanceOf[to] += 1;
        }
        emit Transfer(from, to, tokenId);
    }

    /// Like transferFrom, but a contract receiver must acknowledge with onERC721Received.
    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public {
        transferFrom(from, to, tokenId);
        if (to.code.length != 0) {
            bytes4 answer = IERC721Receiver(to).onERC721Received(msg.sender, from, tokenId, data);
            if (answer != IERC721Receiver.onERC721Received.selector) revert InvalidReceiver(to);
        }
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        safeTransferFrom(from, to, tokenId, "");
    }

    /// The owner collects the mint proceeds.
    function withdraw(address payable to) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        (bool sent,) = to.call{value: address(this).balance}("");
        if (!sent) revert PayoutFailed();
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

interface IToken {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @title Pair: a constant-product market for two tokens, with a 0.3 % fee and liquidity shares.
/// @notice Traders approve the pair once; `swap` pulls the input with transferFrom and pushes the output.
/// Every swap reads and writes both reserves, so swaps on one pair form a chain of dependencies.
contract Pair {
    address public token0;
    address public token1;
    uint256 public reserve0;
    uint256 public reserve1;
    uint256 public totalShares;
    mapping(address => uint256) public sharesOf;

    uint256 public constant FEE_BPS = 30;
    uint256 private constant BPS = 10_000;

    bool private transient locked;

    event Swap(address indexed trader, address indexed tokenIn, uint256 amountIn, uint256 amountOut, address to);
    event LiquidityAdded(address indexed provider, uint256 amount0, uint256 amount1, uint256 shares);
    event LiquidityRemoved(address indexed provider, uint256 amount0, uint256 amount1, uint256 shares);

    error UnknownToken(address token);
    error InsufficientOutput(uint256 amountOut, uint256 minimum);
    error InsufficientShares(uint256 held, uint256 requested);
    error NoShares();
    error TransferFailed(address token);
    error Reentered();

    modifier nonReentrant() {
        if (locked) revert Reentered();
        locked = true;
        _;
        locked = false;
    }

    constructor(address token0_, address token1_) {
        token0 = token0_;
        token1 = token1_;
    }

    /// What `swap` would pay out for `amountIn` of `tokenIn` at the current reserves.
    function quote(address tokenIn, uint256 amountIn) public view returns (uint256) {
        (uint256 reserveIn, uint256 reserveOut) = _reservesFrom(tokenIn);
        uint256 inAfterFee = amountIn * (BPS - FEE_BPS);
        return (inAfterFee * reserveOut) / (reserveIn * BPS + inAfterFee);
    }

    function swap(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        amountOut = quote(tokenIn, amountIn);
        if (amountOut == 0 || amountOut < minAmountOut) revert InsufficientOutput(amountOut, minAmountOut);
        bool zeroForOne = tokenIn == token0;
        address tokenOut = zeroForOne ? token1 : token0;
        _pull(tokenIn, msg.sender, amountIn);
        _push(tokenOut, to, amountOut);
        if (zeroForOne) {
            reserve0 += amountIn;
            reserve1 -= amountOut;
        } else {
            reserve1 += amountIn;
            reserve0 -= amountOut;
        }
        emit Swap(msg.sender, tokenIn, amountIn, amountOut, to);
    }

    /// The first provider sets the price; later ones get shares for the smaller of their two contributions.
    function addLiquidity(uint256 amount0, uint256 amount1) external nonReentrant returns (uint256 shares) {
        uint256 total = totalShares;
        if (total == 0) {
            shares = _sqrt(amount0 * amount1);
        } else {
            uint256 shares0 = (amount0 * total) / reserve0;
            uint256 shares1 = (amount1 * total) / reserve1;
            shares = shares0 < shares1 ? shares0 : shares1;
        }
        if (shares == 0) revert NoShares();
        _pull(token0, msg.sender, amount0);
        _pull(token1, msg.sender, amount1);
        reserve0 += amount0;
        reserve1 += amount1;
        totalShares = total + shares;
        sharesOf[msg.sender] += shares;
        emit LiquidityAdded(msg.sender, amount0, amount1, shares);
    }

    function removeLiquidity(uint256 shares) external nonReentrant returns (uint256 amount0, uint256 amount1) {
        uint256 held = sharesOf[msg.sender];
        if (shares == 0 || shares > held) revert InsufficientShares(held, shares);
        uint256 total = totalShares;
        amount0 = (shares * reserve0) / total;
        amount1 = (shares * reserve1) / total;
        sharesOf[msg.sender] = held - shares;
        totalShares = total - shares;
        reserve0 -= amount0;
        reserve1 -= amount1;
        _push(token0, msg.sender, amount0);
        _push(token1, msg.sender, amount1);
        emit LiquidityRemoved(msg.sender, amount0, amount1, shares);
    }

    function _reservesFrom(address tokenIn) private view returns (uint256, uint256) {
        if (tokenIn == token0) return (reserve0, reserve1);
        if (tokenIn == token1) return (reserve1, reserve0);
        revert UnknownToken(tokenIn);
    }

    function _pull(address token, address from, uint256 amount) private {
        if (!IToken(token).transferFrom(from, address(this), amount)) revert TransferFailed(token);
    }

    function _push(address token, address to, uint256 amount) private {
        if (!IToken(token).transfer(to, amount)) revert TransferFailed(token);
    }

    /// Babylonian square root, rounded down.
    function _sqrt(uint256 x) private pure returns (uint256 root) {
        if (x == 0) return 0;
        root = x;
        uint256 next = (x >> 1) + 1;
        while (next < root) {
            root = next;
            next = (x / next + next) >> 1;
        }
    }
}

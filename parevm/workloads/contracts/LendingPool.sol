// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LendingPool: lenders pool ether; borrowers take small fixed-fee loans and repay them.
/// @notice A loan is paid out to the borrower at once and repaid in full, principal plus `interestBps`, in one
/// transaction. Lenders hold shares of the pool's value (cash plus loans outstanding), so repaid interest
/// raises every share's worth. One open loan per borrower.
contract LendingPool {
    mapping(address => uint256) public sharesOf;
    uint256 public totalShares;
    uint256 public outstanding; // principal of all open loans
    mapping(address => uint256) public loanOf; // principal owed; 0 = no open loan
    uint256 public maxLoan;
    uint256 public interestBps;
    uint256 public interestEarned;

    uint256 private constant BPS = 10_000;

    bool private transient locked;

    event Deposited(address indexed lender, uint256 amount, uint256 shares);
    event Withdrawn(address indexed lender, uint256 amount, uint256 shares);
    event Borrowed(address indexed borrower, uint256 amount);
    event Repaid(address indexed borrower, uint256 principal, uint256 interest);

    error ZeroAmount();
    error LoanOpen(address borrower, uint256 principal);
    error NoLoan(address borrower);
    error LoanTooLarge(uint256 amount, uint256 maximum);
    error InsufficientLiquidity(uint256 available, uint256 needed);
    error WrongRepayment(uint256 paid, uint256 owed);
    error InsufficientShares(uint256 held, uint256 requested);
    error PayoutFailed(address to);
    error Reentered();

    modifier nonReentrant() {
        if (locked) revert Reentered();
        locked = true;
        _;
        locked = false;
    }

    constructor(uint256 maxLoan_, uint256 interestBps_) {
        maxLoan = maxLoan_;
        interestBps = interestBps_;
    }

    /// Cash held plus principal lent out: what all shares together are worth.
    function poolValue() public view returns (uint256) {
        return address(this).balance + outstanding;
    }

    function owedBy(address borrower) public view returns (uint256) {
        uint256 principal = loanOf[borrower];
        return principal + (principal * interestBps) / BPS;
    }

    function deposit() external payable nonReentrant returns (uint256 shares) {
        if (msg.value == 0) revert ZeroAmount();
        uint256 total = totalShares;
        // The balance already includes msg.value: price the shares on the value before it.
        shares = total == 0 ? msg.value : (msg.value * total) / (poolValue() - msg.value);
        if (shares == 0) revert ZeroAmount();
        totalShares = total + shares;
        sharesOf[msg.sender] += shares;
        emit Deposited(msg.sender, msg.value, shares);
    }

    function withdraw(uint256 shares) external nonReentrant returns (uint256 amount) {
        uint256 held = sharesOf[msg.sender];
        if (shares == 0 || shares > held) revert InsufficientShares(held, shares);
        amount = (shares * poolValue()) / totalShares;
        if (amount > address(this).balance) revert InsufficientLiquidity(address(this).balance, amount);
        sharesOf[msg.sender] = held - shares;
        totalShares -= shares;
        emit Withdrawn(msg.sender, amount, shares);
        _pay(msg.sender, amount);
    }

    function borrow(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 open = loanOf[msg.sender];
        if (open != 0) revert LoanOpen(msg.sender, open);
        if (amount > maxLoan) revert LoanTooLarge(amount, maxLoan);
        if (amount > address(this).balance) revert InsufficientLiquidity(address(this).balance, amount);
        loanOf[msg.sender] = amount;
        outstanding += amount;
        emit Borrowed(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// Repay the open loan: send exactly `owedBy(msg.sender)`.
    function repay() external payable nonReentrant {
        uint256 principal = loanOf[msg.sender];
        if (principal == 0) revert NoLoan(msg.sender);
        uint256 owed = owedBy(msg.sender);
        if (msg.value != owed) revert WrongRepayment(msg.value, owed);
        delete loanOf[msg.sender];
        outstanding -= principal;
        interestEarned += owed - principal;
        emit Repaid(msg.sender, principal, owed - principal);
    }

    function _pay(address to, uint256 amount) private {
        (bool sent,) = payable(to).call{value: amount}("");
        if (!sent) revert PayoutFailed(to);
    }
}

"""Hot basic blocks compiled to one Python function each: no dispatch inside the block.

The interpreter runs a block instruction by instruction through `ops`; a block entered often
(a loop body) is turned into Python source and compiled once. The compiled function replaces the
block's entry in `ops`; the per-instruction handlers stay in place, so a frame suspended on a
CALL in the middle of the block resumes exactly as before.

The simple instructions (PUSH, DUP, SWAP, POP, arithmetic, comparisons, the final jump, and
the memory and call-data reads and writes of `_INLINE`) are written inline, and the stack they
work on is kept *symbolic* while the compiler reads them: the values they push are Python locals
(or literals, for PUSHes and for arithmetic on literals), and a DUP or SWAP only renames. The
real stack list is touched only where it must be: an operand that lies below what the block
pushed itself is popped (or, for DUP and SWAP, indexed), and before every other instruction,
which runs through its handler on the real stack, the values still pending are pushed. So
`PUSH1 0x20 DUP3 ADD PUSH1 0x40 MSTORE` reads the stack once and pushes nothing. Nothing
observable changes: the inline instructions have no effect but on the stack and memory, in the
same order; a stack too short still raises `IndexError` (an exceptional halt) inside the block,
whose gas was charged on entry, and a halt ends the frame whatever was pending.
"""
from __future__ import annotations

from parevm.evm.frame import OUT_OF_GAS
from parevm.evm.gas import expand_memory
from parevm.evm.instructions.arithmetic import M, signed
from parevm.evm.instructions.control import _INVALID_JUMP, _STACK_OVERFLOW

# Inline forms of instructions taking the top of the stack `{a}` (and the next one, `{b}`).
_BINARY = {
    "ADD": "({a} + {b}) & M", "MUL": "({a} * {b}) & M", "SUB": "({a} - {b}) & M",
    "DIV": "{a} // {b} if {b} else 0", "MOD": "{a} % {b} if {b} else 0",
    "LT": "1 if {a} < {b} else 0", "GT": "1 if {a} > {b} else 0",
    "SLT": "1 if signed({a}) < signed({b}) else 0", "SGT": "1 if signed({a}) > signed({b}) else 0",
    "EQ": "1 if {a} == {b} else 0", "AND": "{a} & {b}", "OR": "{a} | {b}", "XOR": "{a} ^ {b}",
    "SHL": "({b} << {a}) & M if {a} < 256 else 0", "SHR": "{b} >> {a} if {a} < 256 else 0",
    "BYTE": "({b} >> (248 - ({a} << 3))) & 0xFF if {a} < 32 else 0",
}
_UNARY = {"ISZERO": "0 if {a} else 1", "NOT": "{a} ^ M"}
# Instructions that read the frame or touch memory, written inline too, as the handlers in
# parevm.evm.instructions run them: (operands taken, whether they push `{r}`, lines of code).
_INLINE = {
    "MLOAD": (1, True, ["m = f.memory",
                        "if {a} + 32 > len(m): expand_memory(f, {a}, 32)",
                        "{r} = int.from_bytes(m[{a}:{a} + 32], 'big')"]),
    "MSTORE": (2, False, ["m = f.memory",
                          "if {a} + 32 > len(m): expand_memory(f, {a}, 32)",
                          "m[{a}:{a} + 32] = ({b}).to_bytes(32, 'big')"]),
    "CALLDATALOAD": (1, True, ["w = f.data[{a}:{a} + 32] if {a} < len(f.data) else b''",
                               "{r} = int.from_bytes(w, 'big') << (256 - 8 * len(w)) if w else 0"]),
    "CALLDATASIZE": (0, True, ["{r} = len(f.data)"]),
    "CALLVALUE": (0, True, ["{r} = f.value"]),
    "CALLER": (0, True, ["{r} = int.from_bytes(f.caller, 'big')"]),
    "ADDRESS": (0, True, ["{r} = int.from_bytes(f.address, 'big')"]),
}
_ENV = {"M": M, "signed": signed, "expand_memory": expand_memory, "OOG": OUT_OF_GAS, "SO": _STACK_OVERFLOW,
        "IJ": _INVALID_JUMP}


class _SymbolicStack:
    """The top of the stack as the block has pushed it so far: Python expressions (a local's
    name or a literal), above whatever is on the real stack `s`. Emits the code that keeps the
    two equal to the EVM's stack where it matters."""

    def __init__(self, out) -> None:
        self.out = out
        self.values: list[str] = []
        self.locals = 0

    def _name(self) -> str:
        """A fresh local."""
        self.locals += 1
        return f"t{self.locals - 1}"

    def _local(self, expression: str) -> str:
        name = self._name()
        self.out(f"    {name} = {expression}")
        return name

    def _operands(self, count: int) -> dict[str, str]:
        """Pop the top `count` (0-2) symbolic values: {a} the top, {b} the next ("" if not taken)."""
        values = self.values
        return {"a": values.pop() if count else "", "b": values.pop() if count == 2 else ""}

    def need(self, count: int) -> None:
        """Make the top `count` values symbolic, popping the missing ones off the real stack."""
        values = self.values
        while len(values) < count:
            values.insert(0, self._local("s.pop()"))

    def push(self, expression: str) -> None:
        self.values.append(expression)

    def pop(self) -> str:
        return self.values.pop()

    def compute(self, template: str, operands: int) -> None:
        """Replace the top `operands` values by the value of `template` on them ({a} the top,
        {b} the next): folded now if they are literals, kept as a local if they are symbolic;
        if the last operand is on the real stack, the result replaces it there."""
        values = self.values
        if len(values) >= operands:
            named = self._operands(operands)
            expression = template.format(**named)
            if all(operand.isdigit() for operand in named.values() if operand):
                self.push(str(eval(expression, dict(_ENV))))
            else:
                self.push(self._local(expression))
            return
        self.need(operands - 1)
        named = {"a": values.pop() if operands == 2 else "s[-1]", "b": "s[-1]"}
        self.out(f"    s[-1] = {template.format(**named)}")

    def inline(self, operands: int, pushes: bool, lines: list[str]) -> None:
        """An `_INLINE` instruction on the top `operands` values ({a} the top, {b} the next)."""
        self.need(operands)
        named = self._operands(operands)
        named["r"] = self._name() if pushes else ""
        for line in lines:
            self.out("    " + line.format(**named))
        if pushes:
            self.values.append(named["r"])

    def dup(self, depth: int) -> None:
        values = self.values
        if depth <= len(values):
            values.append(values[-depth])
        else:
            values.append(self._local(f"s[-{depth - len(values)}]"))

    def swap(self, depth: int) -> None:
        """Exchange the top with the value `depth` below it (SWAPn: depth n)."""
        values = self.values
        if not values:  # both on the real stack: exchanged there
            self.out(f"    s[-1], s[-{depth + 1}] = s[-{depth + 1}], s[-1]")
        elif depth < len(values):
            values[-1], values[-1 - depth] = values[-1 - depth], values[-1]
        else:  # the other one is on the real stack: exchange through it
            below = depth + 1 - len(values)
            top = values[-1]
            values[-1] = self._local(f"s[-{below}]")
            self.out(f"    s[-{below}] = {top}")

    def drop(self) -> None:
        if self.values:
            self.values.pop()
        else:
            self.out("    s.pop()")

    def flush(self) -> None:
        """Push the pending values on the real stack (before a handler, or leaving the block)."""
        values = self.values
        if len(values) == 1:
            self.out(f"    s.append({values[0]})")
        elif values:
            self.out(f"    s += ({', '.join(values)})")
        values.clear()


def compile_block(code: bytes, pcs: list[int], names: list, handlers: list, args: list,
                  entry: tuple[int, int] | None, fallthrough: tuple[int, int] | None, jumpdests: frozenset[int]):
    """A function `(frame, stack, pc) -> next pc` running the instructions at `pcs` as one unit.

    `handlers` and `args` are the analysis' decoded code; `entry` is (gas, stack limit) to charge
    on entering (a JUMPDEST block), `fallthrough` the same for the block a final JUMPI falls into."""
    lines = ["def block(f, s, pc):"]
    out = lines.append
    env = dict(_ENV, jd=jumpdests)
    if entry is not None and entry[0]:
        _charge(out, entry[0])
    if entry is not None:
        out(f"    if len(s) > {entry[1]}: raise SO")
    stack = _SymbolicStack(out)
    last = len(pcs) - 1
    for i, at in enumerate(pcs):
        name = names[code[at]] or "INVALID"
        if name == "JUMPDEST":
            continue
        if name.startswith("PUSH"):
            stack.push(str(args[at] if name != "PUSH0" else 0))
        elif name == "POP":
            stack.drop()
        elif name.startswith("DUP"):
            stack.dup(int(name[3:]))
        elif name.startswith("SWAP"):
            stack.swap(int(name[4:]))
        elif name in _BINARY:
            stack.compute(_BINARY[name], 2)
        elif name in _UNARY:
            stack.compute(_UNARY[name], 1)
        elif name in _INLINE:
            stack.inline(*_INLINE[name])
        elif name == "PC":
            stack.push(str(at))
        elif name == "JUMP" and i == last:
            stack.need(1)
            destination = stack.pop()
            stack.flush()
            _jump(out, destination, jumpdests, "    ")
            return _define(lines, env, pcs)
        elif name == "JUMPI" and i == last:
            stack.need(2)
            destination = stack.pop()
            condition = stack.pop()
            stack.flush()
            out(f"    if {condition}:")
            _jump(out, destination, jumpdests, "        ")
            if fallthrough is not None and fallthrough[0]:
                _charge(out, fallthrough[0])
            if fallthrough is not None:
                out(f"    if len(s) > {fallthrough[1]}: raise SO")
            out(f"    return {at + 1}")
            return _define(lines, env, pcs)
        else:  # everything else through its handler (it may raise: halts, calls, errors)
            stack.flush()
            env[f"h{at}"] = handlers[at]
            if i == last:
                out(f"    return h{at}(f, s, {at})")
                return _define(lines, env, pcs)
            out(f"    h{at}(f, s, {at})")
    stack.flush()
    op = code[pcs[-1]]
    out(f"    return {pcs[-1] + (op - 0x5E if 0x60 <= op <= 0x7F else 1)}")
    return _define(lines, env, pcs)


def _charge(out, gas: int) -> None:
    out(f"    g = f.gas - {gas}")
    out("    if g < 0: raise OOG")
    out("    f.gas = g")


def _jump(out, destination: str, jumpdests: frozenset[int], indent: str) -> None:
    """Return `destination` if it is a JUMPDEST, else halt (decided now for a literal)."""
    if destination.isdigit():
        out(f"{indent}{'return ' + destination if int(destination) in jumpdests else 'raise IJ'}")
    else:
        out(f"{indent}if {destination} not in jd: raise IJ")
        out(f"{indent}return {destination}")


def _define(lines: list[str], env: dict, pcs: list[int]):
    exec(compile("\n".join(lines), f"<evm block {pcs[0]}>", "exec"), env)
    return env["block"]

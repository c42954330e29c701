"""Hot basic blocks compiled to one Python function each: no dispatch inside the block.

The interpreter runs a block instruction by instruction through `ops`; a block entered often
(a loop body) is turned into Python source, with the simple instructions (stack, arithmetic,
comparisons, jumps) written inline on the local stack list and every other instruction called
through its handler, and compiled once. The compiled function replaces the block's entry in
`ops`; the per-instruction handlers stay in place, so a frame suspended on a CALL in the middle
of the block resumes exactly as before.
"""
from __future__ import annotations

from parevm.evm.frame import OUT_OF_GAS
from parevm.evm.instructions.arithmetic import M, signed
from parevm.evm.instructions.control import _INVALID_JUMP, _STACK_OVERFLOW

# Inline forms: `{v}` is the PUSH immediate, `{n}` the DUP/SWAP depth, `{next}` the next pc.
_BINARY = {
    "ADD": "s[-1] = (a + s[-1]) & M", "MUL": "s[-1] = (a * s[-1]) & M", "SUB": "s[-1] = (a - s[-1]) & M",
    "DIV": "b = s[-1]; s[-1] = a // b if b else 0", "MOD": "b = s[-1]; s[-1] = a % b if b else 0",
    "LT": "s[-1] = 1 if a < s[-1] else 0", "GT": "s[-1] = 1 if a > s[-1] else 0",
    "SLT": "s[-1] = 1 if signed(a) < signed(s[-1]) else 0", "SGT": "s[-1] = 1 if signed(a) > signed(s[-1]) else 0",
    "EQ": "s[-1] = 1 if a == s[-1] else 0", "AND": "s[-1] &= a", "OR": "s[-1] |= a", "XOR": "s[-1] ^= a",
    "SHL": "s[-1] = (s[-1] << a) & M if a < 256 else 0", "SHR": "s[-1] = s[-1] >> a if a < 256 else 0",
    "BYTE": "s[-1] = (s[-1] >> (248 - (a << 3))) & 0xFF if a < 32 else 0",
}
_UNARY = {"ISZERO": "s[-1] = 0 if s[-1] else 1", "NOT": "s[-1] ^= M"}


def compile_block(code: bytes, pcs: list[int], names: list, handlers: list, args: list,
                  entry: tuple[int, int] | None, fallthrough: tuple[int, int] | None, jumpdests: frozenset[int]):
    """A function `(frame, stack, pc) -> next pc` running the instructions at `pcs` as one unit.

    `handlers` and `args` are the analysis' decoded code; `entry` is (gas, stack limit) to charge
    on entering (a JUMPDEST block), `fallthrough` the same for the block a final JUMPI falls into."""
    lines = ["def block(f, s, pc):"]
    out = lines.append
    env = {"M": M, "signed": signed, "jd": jumpdests, "OOG": OUT_OF_GAS, "SO": _STACK_OVERFLOW,
           "IJ": _INVALID_JUMP}
    if entry is not None and entry[0]:
        out(f"    g = f.gas - {entry[0]}")
        out("    if g < 0: raise OOG")
        out("    f.gas = g")
    if entry is not None:
        out(f"    if len(s) > {entry[1]}: raise SO")
    last = len(pcs) - 1
    for i, at in enumerate(pcs):
        name = names[code[at]] or "INVALID"
        if name == "JUMPDEST":
            continue
        if name.startswith("PUSH") and name != "PUSH0":
            out(f"    s.append({args[at]})")
        elif name == "PUSH0":
            out("    s.append(0)")
        elif name == "POP":
            out("    s.pop()")
        elif name.startswith("DUP"):
            out(f"    s.append(s[-{int(name[3:])}])")
        elif name.startswith("SWAP"):
            n = int(name[4:]) + 1
            out(f"    s[-1], s[-{n}] = s[-{n}], s[-1]")
        elif name in _BINARY:
            out("    a = s.pop()")
            out("    " + _BINARY[name])
        elif name in _UNARY:
            out("    " + _UNARY[name])
        elif name == "PC":
            out(f"    s.append({at})")
        elif name == "JUMP" and i == last:
            out("    d = s.pop()")
            out("    if d not in jd: raise IJ")
            out("    return d")
        elif name == "JUMPI" and i == last:
            out("    d = s.pop()")
            out("    if s.pop():")
            out("        if d not in jd: raise IJ")
            out("        return d")
            if fallthrough is not None and fallthrough[0]:
                out(f"    g = f.gas - {fallthrough[0]}")
                out("    if g < 0: raise OOG")
                out("    f.gas = g")
            if fallthrough is not None:
                out(f"    if len(s) > {fallthrough[1]}: raise SO")
            out(f"    return {at + 1}")
        else:  # everything else through its handler (it may raise: halts, calls, errors)
            env[f"h{at}"] = handlers[at]
            if i == last:
                out(f"    return h{at}(f, s, {at})")
            else:
                out(f"    h{at}(f, s, {at})")
    if not lines[-1].lstrip().startswith("return"):
        nxt = pcs[-1]
        op = code[nxt]
        out(f"    return {nxt + (op - 0x5E if 0x60 <= op <= 0x7F else 1)}")
    exec(compile("\n".join(lines), f"<evm block {pcs[0]}>", "exec"), env)
    return env["block"]

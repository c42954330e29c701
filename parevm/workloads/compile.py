"""Rebuild the contract artefacts (contracts/*.json) from contracts/*.sol with solcjs.

CI and users never need node: the artefacts are committed. To rebuild after editing a source:

    mkdir -p /tmp/solc && (cd /tmp/solc && npm install solc@0.8.37)
    python -m parevm.workloads.compile --solc /tmp/solc/node_modules/solc

Each artefact holds what the generators use and nothing else (no ABI): runtime and creation
bytecode, the method selectors, and the storage slot of every state variable. Generators write
storage directly at those slots, so a variable packed with another one (a nonzero offset) is
refused here rather than silently mis-initialised there.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from parevm.workloads.artefacts import CONTRACTS_DIR

SETTINGS = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {"*": {"*": [
        "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers", "storageLayout",
    ]}},
}

# Reads solc's standard-JSON input on stdin, writes {"version", "output"} on stdout.
_NODE_DRIVER = """
const solc = require(process.argv[1]);
let input = "";
process.stdin.on("data", chunk => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def compile_sources(solc_module: str, sources: dict[str, str]) -> tuple[str, dict]:
    """Run solcjs on {file name: source text}; (compiler version, standard-JSON output)."""
    standard_input = {"language": "Solidity", "settings": SETTINGS,
                      "sources": {name: {"content": text} for name, text in sources.items()}}
    completed = subprocess.run(["node", "-e", _NODE_DRIVER, str(Path(solc_module).resolve())],
                               input=json.dumps(standard_input), capture_output=True, text=True, check=True)
    result = json.loads(completed.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    return result["version"], output


def artefact(name: str, source: str, version: str, compiled: dict) -> dict:
    """The minimal artefact of one compiled contract."""
    storage = {}
    for variable in compiled["storageLayout"]["storage"]:
        if variable["offset"]:
            raise SystemExit(f"{source}: {variable['label']} shares slot {variable['slot']} with another variable;"
                             " the generators need one variable per slot")
        storage[variable["label"]] = int(variable["slot"])
    return {
        "name": name,
        "source": source,
        "compiler": version,
        "evmVersion": SETTINGS["evmVersion"],
        "optimizerRuns": SETTINGS["optimizer"]["runs"],
        "storage": storage,
        "methods": {signature: "0x" + selector for signature, selector in compiled["evm"]["methodIdentifiers"].items()},
        "runtime": "0x" + compiled["evm"]["deployedBytecode"]["object"],
        "creation": "0x" + compiled["evm"]["bytecode"]["object"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solc", required=True, metavar="DIR", help="the solc npm package (node_modules/solc)")
    args = parser.parse_args(argv)
    sources = {path.name: path.read_text() for path in sorted(CONTRACTS_DIR.glob("*.sol"))}
    version, output = compile_sources(args.solc, sources)
    for source, contracts in output["contracts"].items():
        # Interfaces compile to empty bytecode; only a contract named after its file is an artefact.
        name = Path(source).stem
        built = artefact(name, source, version, contracts[name])
        target = CONTRACTS_DIR / f"{name}.json"
        target.write_text(json.dumps(built, indent=1) + "\n")
        print(f"{target.name}: runtime {len(built['runtime']) // 2 - 1} bytes, "
              f"creation {len(built['creation']) // 2 - 1} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

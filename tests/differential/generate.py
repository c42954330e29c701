"""Seeded generation of differential state tests, and writing them in batch files.

Case `index` of run `seed` depends on nothing else: its random stream is seeded with
"seed/index", so any case of a long run can be regenerated alone (`run_long.py --seed S
--only INDEX`). Test names are "<family>-<seed>-<index>".
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable, Iterable

import gen_precompiles
import gen_programs
import gen_set_code
import gen_tx_rules

Family = Callable[[random.Random, str], dict]

# family name: (generator, share of a mixed run)
FAMILIES: dict[str, tuple[Family, float]] = {
    "set_code": (gen_set_code.generate, 3.0),
    "bls": (gen_precompiles.generate_bls, 1.5),
    "p256": (gen_precompiles.generate_p256, 1.0),
    "modexp": (gen_precompiles.generate_modexp, 1.0),
    "point_eval": (gen_precompiles.generate_point_evaluation, 0.2),  # EELS needs ~0.6 s per proof
    "calldata_floor": (gen_tx_rules.generate_calldata_floor, 1.0),
    "gas_cap": (gen_tx_rules.generate_gas_cap, 0.5),
    "blob_tx": (gen_tx_rules.generate_blob_tx, 1.0),
    "tx_validity": (gen_tx_rules.generate_tx_validity, 1.0),
    "clz": (gen_programs.generate_clz, 0.5),
    "random_program": (gen_programs.generate_random_program, 3.0),
    "gas_boundary": (gen_programs.generate_gas_boundary, 1.5),
}


def case_name(family: str, seed: int, index: int) -> str:
    return f"{family}-{seed}-{index}"


def family_of(name: str) -> str:
    return name.split("-", 1)[0]


def generate_case(seed: int, index: int, family: str | None = None) -> dict:
    """Case `index` of run `seed` as {name: body}; its family is drawn by weight unless given."""
    rng = random.Random(f"{seed}/{index}")
    if family is None:
        names = list(FAMILIES)
        family = rng.choices(names, weights=[FAMILIES[n][1] for n in names])[0]
    generate, _weight = FAMILIES[family]
    return generate(rng, case_name(family, seed, index))


def write_batches(cases: Iterable[dict], directory: Path, files: int) -> list[Path]:
    """Spreads the cases round-robin over `files` JSON files (one per EELS worker)."""
    batches: list[dict] = [{} for _ in range(files)]
    for i, case in enumerate(cases):
        batches[i % files].update(case)
    paths = []
    for i, batch in enumerate(batches):
        if batch:
            path = directory / f"batch{i}.json"
            path.write_text(json.dumps(batch))
            paths.append(path)
    return paths

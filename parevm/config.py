"""Where parevm finds its shared test data.

The fixtures are large and live outside the repository (next to it, in `../shared/fixtures`),
so every consumer (tests, CLI defaults, benchmarks) asks here instead of hard-coding a path.
"""
from __future__ import annotations

import os
from pathlib import Path

FIXTURES_ENV_VAR = "PAREVM_FIXTURES"
REPO_ROOT = Path(__file__).resolve().parent.parent


def fixtures_dir() -> Path:
    """`$PAREVM_FIXTURES` if set, else `<repo root>/../shared/fixtures` (which may not exist)."""
    override = os.environ.get(FIXTURES_ENV_VAR)
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "fixtures"

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
GO_DUMPS = SAMPLES / "go" / "dumps"
PY_DUMPS = SAMPLES / "python" / "dumps"
UPSTREAM = ROOT.parent / "shared" / "corpus" / "upstream"


def upstream(relative: str) -> Path:
    """A real dump from a public project, by path; the test is skipped when it is absent."""
    path = UPSTREAM / relative
    if not path.exists():
        pytest.skip(f"upstream corpus not present: {path}")
    return path

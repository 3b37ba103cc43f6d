from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]

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


# CI runs the property tests with a fixed seed: a red build must be reproducible, and the
# examples it runs are the ones a developer runs with CI=true. Locally they stay random.
if os.environ.get("CI"):
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    settings.load_profile("ci")

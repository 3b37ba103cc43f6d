"""Bytecode for the tree a benchmark times, written before the first run."""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compile_package(checkout: Path | None) -> None:
    """Write the bytecode of the snapdiff package timed (this tree's, or ``checkout``'s), so
    that every timed process starts with it cached, as an installed package does. Without
    this, a fresh ``git archive`` of another tree, or any tree where PYTHONDONTWRITEBYTECODE
    is set, compiles every module it imports in every run: 30 to 50 ms of each start-up."""
    package = (checkout or ROOT) / "snapdiff"
    if not compileall.compile_dir(str(package), quiet=1):
        raise SystemExit(f"cannot compile {package}")

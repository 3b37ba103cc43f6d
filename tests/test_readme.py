"""The README's commands stay true."""

from __future__ import annotations

import re
import shlex

from typer.testing import CliRunner

from snapdiff.cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_first_lines_are_the_two_setup_commands():
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None and README.index(block.group(0)) < 40
    lines = block.group(1).strip().splitlines()
    assert len(lines) == 2
    install, tests = lines
    assert "pip install" in install and "snapdiff diff samples/" in install
    assert tests.endswith("-m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci


def test_the_sample_report_in_the_readme_is_what_snapdiff_prints():
    example = re.search(r"```text\n\$ snapdiff (.*?)\n(.*?)```", README, re.S)
    assert example is not None
    args = shlex.split(example.group(1))
    shown = [line for line in example.group(2).splitlines() if line != "..."]
    result = CliRunner().invoke(
        app, [*args, "--color", "never", "-q"], env={"COLUMNS": "88"}, prog_name="snapdiff"
    )
    assert result.exit_code == 0, result.output
    printed = result.stdout.splitlines()
    assert printed[: len(shown)] == shown
    # The README's main job runs on the same sample pair.
    assert example.group(1).split("diff ", 1)[1] in README.split("```sh", 1)[1].split("```")[0]

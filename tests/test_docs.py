"""The docs follow the code: the CLI reference is regenerated and compared, every command, option
and input format is documented by hand somewhere in docs/, and no relative link is broken."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import typer

from snapdiff import runtimes, store
from snapdiff.cli import app
from tests.conftest import ROOT

DOCS = ROOT / "docs"
CLI_MD = DOCS / "cli.md"


def _gen_cli():
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _handwritten() -> str:
    """Every doc page except the generated CLI reference, and the README."""
    pages = [p for p in sorted(DOCS.glob("*.md")) if p.name != "cli.md"]
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *pages])


def _commands():
    group = typer.main.get_command(app)
    return group, dict(group.commands)  # type: ignore[attr-defined]


def _long_options(command) -> list[str]:
    names = []
    for param in command.params:
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--") and opt != "--help":
                names.append(opt)
    return names


def test_cli_reference_is_up_to_date():
    gen = _gen_cli()
    current = CLI_MD.read_text(encoding="utf-8")
    assert gen.updated(current) == current, "docs/cli.md is out of date: run python docs/gen_cli.py"


def test_cli_reference_has_every_command():
    text = CLI_MD.read_text(encoding="utf-8")
    _, commands = _commands()
    for name in commands:
        assert f"## `snapdiff {name}`" in text


def test_every_command_and_option_has_help():
    root, commands = _commands()
    for name, command in {"snapdiff": root, **commands}.items():
        assert (command.help or "").strip(), f"{name} has no help text"
        for param in command.params:
            if param.param_type_name == "option" and "--help" not in param.opts:
                assert (getattr(param, "help", "") or "").strip(), f"{name} {param.opts}: no help"


def test_every_command_is_documented_by_hand():
    text = _handwritten()
    _, commands = _commands()
    for name in commands:
        assert f"snapdiff {name}" in text, f"no page in docs/ or README.md mentions {name!r}"


@pytest.mark.parametrize(
    "option",
    sorted(
        {opt for cmd in [_commands()[0], *_commands()[1].values()] for opt in _long_options(cmd)}
    ),
)
def test_every_option_is_documented_by_hand(option):
    text = _handwritten()
    assert re.search(re.escape(option) + r"(?![\w-])", text), (
        f"{option} is an option of snapdiff but no page in docs/ explains it"
    )


def test_every_input_format_is_in_formats_md():
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    for name in [*runtimes.SOURCES, store.FORMAT]:
        assert f"`{name}`" in text, f"docs/formats.md does not describe {name}"


_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _relative_links(page: Path) -> list[str]:
    text = _CODE_SPAN.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
    links = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # https:, mailto:, an anchor on the same page
        links.append(target.split("#", 1)[0])
    return links


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", *sorted(DOCS.glob("*.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_point_to_files(page):
    missing = [t for t in _relative_links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_link_checker_sees_links():
    # The README links to the docs pages: if the pattern stopped matching, every link test
    # above would pass vacuously.
    assert "docs/guide.md" in _relative_links(ROOT / "README.md")


def test_schemas_named_in_the_docs_exist():
    text = _handwritten()
    for name in re.findall(r"snapdiff/schemas/([\w.-]+\.json)", text):
        assert (ROOT / "snapdiff" / "schemas" / name).exists(), name


# ``pip install snapdiff`` / ``pipx install 'snapdiff[plot]'`` / ``uv pip install -U snapdiff``: a
# requirement named snapdiff, which the package index resolves to an unrelated project's code.
_INDEX_INSTALL = re.compile(
    r"\b(?:pip3?|pipx|uv(?: pip| tool)?|poetry|pdm)\s+(?:install|add)\b"
    r"(?:\s+-{1,2}[\w-]+(?:[= ](?!snapdiff)\S+)?)*"  # options
    r"\s+['\"]?snapdiff(?:\[[\w,]+\])?(?:[=<>~!]=?[\w.]+)?['\"]?"  # the name, extras, version
    r"(?=\s|$|&|;|\)|`)",
    re.I,
)


_WARNED = re.compile(r"\b(?:do not|don't|never|not to)\W*$", re.I)


def _installs(text: str) -> list[str]:
    """The index installs of snapdiff that ``text`` tells the reader to run (not the ones it
    warns against: "do not `pip install snapdiff`")."""
    return [
        m.group(0)
        for m in _INDEX_INSTALL.finditer(text)
        if not _WARNED.search(text[max(0, m.start() - 30) : m.start()])
    ]


def _every_doc() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md")), *sorted(ROOT.glob("samples/**/*.md"))]


def test_no_doc_installs_snapdiff_from_the_package_index_by_name():
    """On the package index the name snapdiff is an unrelated project: a doc that says to
    install it by name puts a stranger's code on the user's machine (or production pod)."""
    found = [
        f"{page.relative_to(ROOT)}: {line!r}"
        for page in _every_doc()
        for line in _installs(page.read_text(encoding="utf-8"))
    ]
    assert not found, found


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("sh -c 'pip install -q snapdiff && snapdiff capture --pid 1'", True),
        ("pip install snapdiff", True),
        ("pip3 install -U 'snapdiff[plot]'", True),
        ("pipx install snapdiff==0.1.0", True),
        ("uv tool install snapdiff", True),
        ("pip install -q /dist/snapdiff-0.1.0-py3-none-any.whl", False),
        ("pip install -e '.[plot]'", False),
        ("pipx install git+https://example.org/snapdiff.git", False),
        ("pip install matplotlib", False),
        ("do not\n`pip install snapdiff` in a pod", False),
        ("never `pip install snapdiff`", False),
    ],
)
def test_the_index_install_check_tells_them_apart(line, bad):
    assert bool(_installs(line)) is bad

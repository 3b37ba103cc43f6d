"""What a reader asked of a report beyond its format: every group or the folded view, and links
from ``file:line`` to the code.

A link is made from a template with ``{path}``, ``{line}`` and ``{ref}``
(``https://git.example/repo/blob/{ref}/{path}#L{line}``). The path a dump records is where the
code was built (``/build/src/app/fanout.go``, ``/root/go/pkg/mod/example.com/lib@v1.2.0/x.go``,
a Go module path ``example.com/app/leaky/fanout.go``); ``--path-map FROM=TO`` rewrites a
leading ``FROM`` to ``TO`` (the first map that matches wins), and a path no map matches gets no
link, so no link points at a file that is not in the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from snapdiff.errors import UsageError
from snapdiff.model import Frame

LINK_ENV = "SNAPDIFF_LINK_TEMPLATE"
PATH_MAP_ENV = "SNAPDIFF_PATH_MAP"
REF_ENV = "SNAPDIFF_LINK_REF"
_FIELDS = ("{path}", "{line}", "{ref}")


@dataclass(frozen=True, slots=True)
class Links:
    template: str
    path_map: tuple[tuple[str, str], ...] = ()
    ref: str = "main"

    def url(self, frame: Frame | None) -> str | None:
        """The link to ``frame``'s file and line, or None (no file, or no map matches)."""
        if frame is None or not frame.file:
            return None
        path = frame.file.replace("\\", "/")
        if self.path_map:
            for src, dst in self.path_map:
                if path.startswith(src):
                    path = dst + path[len(src) :]
                    break
            else:
                return None
        path = path.lstrip("/")
        template = self.template
        if not frame.line:
            # No line (a group keyed by its file, a frame the dump gave none): a fragment that
            # names the line goes (``#L{line}``), so the link opens the file, not line 1.
            base, sep, fragment = template.partition("#")
            if sep and "{line}" in fragment:
                template = base
        url = (
            template.replace("{path}", quote(path, safe="/@+-._~"))
            .replace("{line}", str(frame.line or 1))
            .replace("{ref}", quote(self.ref, safe="/-._~"))
        )
        return url if url.startswith(("https://", "http://")) else None


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """``all_groups``: list every group instead of folding steady and internal ones into one
    line; ``links``: turn ``file:line`` into links (Markdown, Jira, HTML)."""

    all_groups: bool = False
    links: Links | None = None


DEFAULT = ReportOptions()


def parse_path_map(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``FROM=TO`` items (or one ``FROM=TO,FROM=TO`` from the environment) -> pairs."""
    pairs = []
    for item in items:
        for part in filter(None, item.split(",")):
            src, sep, dst = part.partition("=")
            if not sep or not src:
                raise UsageError(f"--path-map: {part!r} is not FROM=TO (e.g. /build/src/=)")
            pairs.append((src, dst))
    return tuple(pairs)


def links_from(template: str | None, path_map: list[str] | None, ref: str | None) -> Links | None:
    """Links from the options, falling back to the environment variables; None without a
    template. A template must be an http(s) URL with ``{path}``."""
    template = template or os.environ.get(LINK_ENV) or None
    if template is None:
        if path_map:
            raise UsageError("--path-map needs --link-template (or $" + LINK_ENV + ")")
        return None
    if not template.startswith(("https://", "http://")) or "{path}" not in template:
        raise UsageError(
            f"--link-template: {template!r} must be an http(s) URL with {{path}} "
            "(and {line}, {ref} if wanted)"
        )
    maps = list(path_map or [])
    if not maps and os.environ.get(PATH_MAP_ENV):
        maps = [os.environ[PATH_MAP_ENV]]
    return Links(template, parse_path_map(maps), ref or os.environ.get(REF_ENV) or "main")

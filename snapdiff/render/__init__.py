"""Renderers: results in, text out. They only render; nothing here reads or decides.

:data:`RENDERERS` lists the report formats, in the order ``--help`` shows them. Each names the
module that renders each report (``diff``, ``show``, ``trend``, ``formats``): the module has a
function ``render_<report>``, which takes the result and, for a ``console`` format, a rich
console to print on; a ``text`` format returns a string, a ``bytes`` format bytes. A module is
imported only when its report is asked for, so a JSON or Markdown report never imports rich.
Adding a report format is its module plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any


@dataclass(frozen=True, slots=True)
class Renderer:
    name: str
    output: str  # "console" (rich, to a terminal or a file), "text" or "bytes"
    modules: Mapping[str, str]  # report -> module with render_<report>

    def function(self, report: str) -> Callable[..., Any]:
        """The function that renders ``report`` in this format."""
        module = self.modules[report]
        render: Callable[..., Any] = getattr(import_module(module), f"render_{report}")
        return render

    def renders(self, report: str) -> bool:
        return report in self.modules


def _reports(diff_module: str, trend_module: str, fleet_module: str) -> dict[str, str]:
    return {
        "diff": diff_module,
        "show": diff_module,
        "formats": diff_module,
        "trend": trend_module,
        "fleet": fleet_module,
    }


def _pages(diff_module: str, trend_module: str, fleet_module: str) -> dict[str, str]:
    """The reports of a format for tickets (no ``formats`` list)."""
    return {"diff": diff_module, "show": diff_module, "trend": trend_module, "fleet": fleet_module}


RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer(
            "text",
            "console",
            _reports(
                "snapdiff.render.text", "snapdiff.render.trend_text", "snapdiff.render.fleet_text"
            ),
        ),
        Renderer(
            "markdown",
            "text",
            _reports(
                "snapdiff.render.markdown",
                "snapdiff.render.trend_markdown",
                "snapdiff.render.fleet_markdown",
            ),
        ),
        Renderer(
            "json",
            "bytes",
            _reports(
                "snapdiff.render.json", "snapdiff.render.trend_json", "snapdiff.render.fleet_json"
            ),
        ),
        Renderer(
            "jira",
            "text",
            _pages(
                "snapdiff.render.jira", "snapdiff.render.trend_jira", "snapdiff.render.fleet_jira"
            ),
        ),
        Renderer(
            "html",
            "text",
            _pages(
                "snapdiff.render.html", "snapdiff.render.trend_html", "snapdiff.render.fleet_html"
            ),
        ),
    )
}

"""``trend --plot``: counts over time of the top groups, as PNG or SVG, with matplotlib.

matplotlib is an optional extra (``pip install matplotlib`` beside snapdiff; in a checkout,
``pip install -e '.[plot]'``), imported only here and only
when a plot is asked for. Labels are the groups' names as plain text (math text is off), so
nothing from a dump is interpreted.
"""

from __future__ import annotations

import io
from typing import Any

from snapdiff.errors import UsageError
from snapdiff.render import trend_common as tc
from snapdiff.trend import TrendResult

FORMATS = {".png": "png", ".svg": "svg"}
TOP = 8
MISSING = (
    "--plot needs matplotlib, which is not installed: pip install matplotlib into snapdiff's "
    "environment (in a checkout: pip install -e '.[plot]')"
)


def plot_format(path: str) -> str:
    for suffix, fmt in FORMATS.items():
        if path.lower().endswith(suffix):
            return fmt
    raise UsageError(f"--plot {path}: give a file name ending in .png or .svg")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise UsageError(MISSING) from None
    matplotlib.use("Agg")  # files only: no display, no window
    import matplotlib.pyplot as plt

    return plt


def render_plot(result: TrendResult, fmt: str, top: int = TOP) -> bytes:
    """The figure as bytes (``fmt``: png or svg)."""
    plt = _pyplot()
    timed = result.offsets_seconds is not None
    xs = [o / 60 for o in result.offsets_seconds] if result.offsets_seconds else None
    xs = xs or [float(i + 1) for i in range(len(result.snapshots))]
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    try:
        # Suspects first, then the groups that reached the most tasks (a burst shows).
        shown = sorted(result.groups, key=lambda g: (not g.suspect, -max(g.series)))[:top]
        for g in shown:
            label = f"{tc.verdict_text(g)}: {tc.site_text(g)}"
            if len(label) > 90:
                label = label[:87] + "..."
            ax.plot(
                xs,
                list(g.series),
                marker="o",
                linewidth=2.5 if g.suspect else 1.2,
                linestyle="-" if g.suspect else "--",
                label=label.replace("$", r"\$"),
            )
        kind = tc.kind(result)
        ax.set_xlabel("minutes since the first snapshot" if timed else "snapshot")
        ax.set_ylabel(f"{kind}s per group")
        ax.set_title(tc.head(result).replace("$", r"\$"), fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        buf = io.BytesIO()
        metadata = {"Software": None} if fmt == "png" else {"Date": None}
        fig.savefig(buf, format=fmt, metadata=metadata)
        return buf.getvalue()
    finally:
        plt.close(fig)

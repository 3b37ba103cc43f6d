"""``python -m snapdiff`` and the ``snapdiff`` console script.

``--version`` is answered before the CLI (Typer, rich) is imported: start-up stays instant.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from snapdiff import __version__

        print(f"snapdiff {__version__}")
        return
    from snapdiff.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

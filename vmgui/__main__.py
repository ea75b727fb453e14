"""Entry point of the `vmgui` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from vmgui.cli import parse

    options = parse(sys.argv[1:] if argv is None else argv)
    from vmgui.ui.app import run  # Qt is imported only once the arguments are known to be good

    return run(options)


if __name__ == "__main__":
    sys.exit(main())

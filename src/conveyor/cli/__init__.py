"""The ``conveyor`` command line: one module per command group, thin over the services."""

from __future__ import annotations

import sys

from conveyor.cli.app import app


def main() -> None:
    """Run the CLI; ``ConveyorError`` becomes a one-line message and its exit code."""
    from conveyor.cli.app import run

    sys.exit(run(sys.argv[1:]))


__all__ = ["app", "main"]

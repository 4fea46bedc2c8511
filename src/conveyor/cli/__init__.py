"""The ``conveyor`` command line: one module per command group, thin over the services."""

from __future__ import annotations

import sys

from conveyor.cli.app import app


def main() -> None:
    """Run the CLI; ``ConveyorError`` becomes a one-line message and its exit code."""
    from conveyor._allocator import retain_freed_memory
    from conveyor.cli.app import run

    retain_freed_memory()  # a long-lived server or monitor reuses freed arrays (see the module)
    sys.exit(run(sys.argv[1:]))


__all__ = ["app", "main"]

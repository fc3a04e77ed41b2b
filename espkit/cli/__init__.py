"""The ``espkit`` command line: ``app`` holds the group, its context and output helpers; each
other module adds one command group to it (importing it registers the commands)."""

from __future__ import annotations

from collections.abc import Sequence

from espkit.cli import bulk, dns, fleet  # noqa: F401  (registers their commands on `cli`)
from espkit.cli.app import cli


def main(argv: Sequence[str] | None = None) -> None:
    """The ``espkit`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="espkit")


__all__ = ["cli", "main"]

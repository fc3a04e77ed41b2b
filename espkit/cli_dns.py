"""``espkit dns ...``: the DNS records customers must publish, exported and checked."""

from __future__ import annotations

from .cli import cli


@cli.group()
def dns() -> None:
    """Export the DNS records customers must add; check they are published."""

"""Small helpers for tests that read the command line's output or write its input files."""

from __future__ import annotations

from pathlib import Path


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> str:
    """Write ``text`` to ``tmp_path / name``; the path as a string, as the CLI takes it."""
    path = tmp_path / name
    path.write_text(text)
    return str(path)

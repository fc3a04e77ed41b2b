"""The base of the fleet-file checker: the state every section's checks share (what the
schema already reported, the connections and pools seen so far), how they report a problem,
and the small helpers they all use to read loosely typed YAML values.

``espkit.fleet.loader.Loader`` is this ``Checker`` with one mixin per section of the file
(``schema_errors``, ``connections``, ``streams``, ``templates``, ``customers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from espkit.fleet.model import DEFAULT_CONNECTION, Connection
from espkit.fleet.placeholders import placeholder_problem
from espkit.fleet.reader import KeyPath, Reader


def under(path: KeyPath, paths: set[KeyPath]) -> bool:
    """Whether ``path`` or one of its ancestors is in ``paths``."""
    return any(path[:n] in paths for n in range(len(path) + 1))


def kind_of(value: object) -> str:
    """What YAML read, in words: ``"a mapping"``, ``"true/false"``, ``"an empty value"``."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (the schema reported what it is)."""
    return value if isinstance(value, dict) else {}


def as_strings(value: object) -> tuple[str, ...]:
    """The strings of a list; nothing when ``value`` is not a list."""
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def as_text(value: object) -> str | None:
    """``value`` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


class Checker(Reader):
    """A ``Reader`` with the state espkit's checks share and the primitives they all use:
    ``error`` and ``template_text``."""

    def __init__(self, source: str, base_dir: Path,
                 allowed_paths: tuple[str, ...] = ()) -> None:
        super().__init__(source, base_dir)
        #: files (or directories of files) outside base_dir the caller lets the file name
        self.allowed_paths = allowed_paths
        #: paths the schema already complained about: espkit's checks stay quiet there
        self.bad: set[KeyPath] = set()
        # set by fleet(), in this order
        self.conns: dict[str, Connection] = {}
        self.default = DEFAULT_CONNECTION
        self.pool_conn: dict[str, str] = {}
        self.defaults: dict[str, tuple[Any, KeyPath]] = {}
        self.stream_options: dict[str, dict[str, tuple[Any, KeyPath]]] = {}
        self.reported_options: set[tuple[KeyPath, str]] = set()

    def error(self, path: KeyPath, message: str, *, at: KeyPath | None = None) -> None:
        """A problem found by espkit's own checks: not repeated where the schema already
        reported one (at the same place or above it)."""
        if under(path, self.bad) or (at is not None and under(at, self.bad)):
            return
        self.add(path, message, at=at)

    def template_text(self, value: object, at: KeyPath,
                      allowed: tuple[str, ...]) -> tuple[str, KeyPath, bool] | None:
        """A ``{placeholder}`` template as ``(text, where, usable)``; None when not given.
        Unknown placeholders and stray braces are reported and make it unusable."""
        if not isinstance(value, str) or not value:
            return None
        problem = placeholder_problem(value, allowed)
        if problem is not None:
            self.error(at, problem)
        return value, at, problem is None and at not in self.bad


__all__ = [
    "Checker",
    "as_dict",
    "as_strings",
    "as_text",
    "kind_of",
    "under",
]

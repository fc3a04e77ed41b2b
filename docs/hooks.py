"""mkdocs hook: fill ``<!-- capability-matrix -->`` from the providers' own declarations."""

from __future__ import annotations

from typing import Any

from espkit.capabilities import markdown

MARKER = "<!-- capability-matrix -->"


def on_page_markdown(text: str, **_: Any) -> str:
    return text.replace(MARKER, markdown()) if MARKER in text else text

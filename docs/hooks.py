"""The capability matrix in docs/capabilities.md: generated from the providers' own
declarations (``espkit.capabilities.markdown()``) and committed, so that it reads the same in
the repository as on the site.

    python docs/hooks.py            # rewrite the table in docs/capabilities.md
    python docs/hooks.py --check    # exit 1 if the committed table is out of date

As an mkdocs hook it warns when the committed table differs from the code, which fails
``mkdocs build --strict``; ``tests/docs/test_capabilities_page.py`` fails on the same drift.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

BEGIN = "<!-- capability-matrix:begin (generated: python docs/hooks.py; do not edit) -->"
END = "<!-- capability-matrix:end -->"
PAGE = Path(__file__).resolve().parent / "capabilities.md"

log = logging.getLogger("mkdocs.hooks.capabilities")


def table() -> str:
    from espkit.capabilities import markdown

    return markdown()


def render(text: str, generated: str | None = None) -> str:
    """``text`` (the page) with the block between ``BEGIN`` and ``END`` replaced by the
    current table."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the page lacks the markers {BEGIN!r} ... {END!r}")
    body = table() if generated is None else generated
    return text[:start + len(BEGIN)] + "\n\n" + body.rstrip("\n") + "\n\n" + text[end:]


def stale(text: str) -> bool:
    """Whether the page's table differs from what the providers declare now."""
    return render(text) != text


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if BEGIN in markdown and stale(markdown):
        log.warning("%s: the capability matrix is out of date: run python docs/hooks.py",
                    getattr(getattr(page, "file", None), "src_path", "capabilities.md"))
    return markdown


def main(argv: list[str]) -> int:
    text = PAGE.read_text(encoding="utf-8")
    if "--check" in argv:
        if stale(text):
            print(f"{PAGE} is out of date: run python docs/hooks.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(render(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

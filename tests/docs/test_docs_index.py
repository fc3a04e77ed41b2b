"""Every documentation page can be found: docs/index.md links it and mkdocs.yml's nav lists
it; the README and the index say how espkit is installed and how the docs are built."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def pages() -> set[str]:
    return {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}


def links(page: Path) -> set[str]:
    base = page.parent
    return {(base / target).resolve().relative_to(DOCS.resolve()).as_posix()
            for target in LINK.findall(page.read_text(encoding="utf-8"))
            if not target.startswith(("http:", "https:"))}


def nav_pages(node: object) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, list):
        return set().union(*(nav_pages(item) for item in node))
    if isinstance(node, dict):
        return set().union(*(nav_pages(value) for value in node.values()))
    return set()


def test_the_index_links_every_page() -> None:
    missing = pages() - {"index.md"} - links(DOCS / "index.md")
    assert missing == set(), f"docs/index.md does not link: {sorted(missing)}"


def test_every_link_of_the_index_is_a_page() -> None:
    assert links(DOCS / "index.md") <= pages()


def test_the_nav_lists_every_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert nav_pages(config["nav"]) == pages()


def test_install_from_a_checkout_is_said_once_in_readme_and_index() -> None:
    for page in (ROOT / "README.md", DOCS / "index.md"):
        text = " ".join(page.read_text(encoding="utf-8").split())
        assert "not on PyPI yet" in text or "not published on PyPI yet" in text, page
        assert "from a checkout" in text, page


#: what the one install form is: an editable install of a checkout, with its extras
INSTALL = re.compile(r"pip install (?:-q )?-e '[./\w]*\[[\w,]+\]'")
#: the one other mention: what not to install in CI (docs/security.md)
NOT_THIS = "no `pip install .` there"


def test_one_install_form_everywhere() -> None:
    """``pip install -e '.[extra]'`` from a checkout; never ``pip install 'espkit[...]'``,
    which names a package that is not published."""
    found = 0
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        text = " ".join(page.read_text(encoding="utf-8").split()).replace(NOT_THIS, "")
        for at in (m.start() for m in re.finditer(r"pip install", text)):
            assert INSTALL.match(text, at), f"{page}: {text[at:at + 60]!r}"
            found += 1
    assert found >= 8  # README, quickstart, index, cookbook, dns, resilience, ses, security


def test_the_install_form_is_recognised() -> None:
    assert INSTALL.match("pip install -e '.[cli]'")
    assert INSTALL.match("pip install -q -e '.[cli,ses]'")
    assert INSTALL.match("pip install -e './.espkit[cli]'")
    assert not INSTALL.match("pip install 'espkit[ses]'")
    assert not INSTALL.match("pip install -e .")


def test_the_docs_say_how_to_build_them() -> None:
    for page in (ROOT / "README.md", DOCS / "index.md"):
        text = page.read_text(encoding="utf-8")
        assert "pip install -e '.[docs]'" in text, page
        assert "mkdocs serve" in text, page
        assert "mkdocs build --strict" in text, page

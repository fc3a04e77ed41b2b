"""docs/capabilities.md holds the capability matrix as the code declares it: the committed
table is ``espkit.capabilities.markdown()``, and ``docs/hooks.py`` (the generator, and the
mkdocs hook) notices when it is not."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType

import pytest

from espkit.capabilities import markdown

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "capabilities.md"


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = load_hooks()


def committed_table(text: str) -> str:
    start = text.index(hooks.BEGIN) + len(hooks.BEGIN)
    return text[start:text.index(hooks.END)].strip("\n")


def test_the_committed_table_is_what_the_providers_declare() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert committed_table(text) == markdown().strip("\n"), \
        "docs/capabilities.md is out of date: run python docs/hooks.py"
    assert not hooks.stale(text)


def test_a_changed_cell_is_stale_and_render_restores_it() -> None:
    text = PAGE.read_text(encoding="utf-8")
    edited = text.replace("| yes |", "| — |", 1)
    assert edited != text
    assert hooks.stale(edited)
    assert hooks.render(edited) == text
    # the prose around the table is kept as it is
    assert hooks.render(edited.replace("# Capability matrix", "# Matrix")).startswith("# Matrix")


def test_render_fills_an_empty_block_and_needs_both_markers() -> None:
    empty = f"intro\n\n{hooks.BEGIN}\n{hooks.END}\nafter\n"
    filled = hooks.render(empty, generated="| a |\n")
    assert filled == f"intro\n\n{hooks.BEGIN}\n\n| a |\n\n{hooks.END}\nafter\n"
    with pytest.raises(ValueError, match="lacks the markers"):
        hooks.render("no markers here")
    with pytest.raises(ValueError, match="lacks the markers"):
        hooks.render(f"{hooks.END}\n{hooks.BEGIN}")


def test_the_mkdocs_hook_warns_on_a_stale_page_only(caplog: pytest.LogCaptureFixture) -> None:
    text = PAGE.read_text(encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.capabilities"):
        assert hooks.on_page_markdown(text, page=None) == text
        assert caplog.records == []
        stale = text.replace("| yes |", "| — |", 1)
        assert hooks.on_page_markdown(stale, page=None) == stale  # shown as committed
    assert len(caplog.records) == 1
    assert "python docs/hooks.py" in caplog.records[0].getMessage()


def test_the_check_command_exits_1_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    page = tmp_path / "capabilities.md"
    page.write_text(PAGE.read_text(encoding="utf-8").replace("| yes |", "| — |", 1))
    monkeypatch.setattr(hooks, "PAGE", page)
    assert hooks.main(["--check"]) == 1
    assert hooks.main([]) == 0  # rewrites it
    assert hooks.main(["--check"]) == 0
    assert page.read_text() == PAGE.read_text(encoding="utf-8")

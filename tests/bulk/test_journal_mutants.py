"""``Journal`` pinned where mutation testing found it loose (scripts/mutation.py journal):
the exact words of a refusal for an altered journal (which row, the reason bounded at 300
characters, "nothing was sent"), and ``get`` for a key the journal does not hold.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from espkit.bulk.journal import DONE, PENDING, Journal
from espkit.errors import ConfigError

NOTHING_SENT = "; nothing was sent for it"


def _refusing(reason: str, key: str | None = None) -> Any:
    """A row check that refuses ``key`` (every key when None) with ``reason``."""

    def check(k: str, payload: Mapping[str, Any]) -> None:
        if key is None or k == key:
            raise ConfigError(reason)

    return check


def _journal(*keys: str) -> Journal:
    j = Journal()
    j.add((k, {"name": k}) for k in keys)
    return j


@pytest.mark.parametrize(("length", "shown"), [
    (299, "w" * 299),
    (300, "w" * 300),                # the longest reason kept whole ...
    (301, "w" * 300 + "..."),        # ... and one character more is cut
    (2000, "w" * 300 + "..."),
])
def test_a_refused_rows_reason_is_bounded(length: int, shown: str) -> None:
    with _journal("a.example") as j, pytest.raises(ConfigError) as info:
        j.check_rows(_refusing("w" * length))
    assert str(info.value) == (
        f"journal :memory: has been altered or damaged (row 1): {shown}{NOTHING_SENT}")


def test_a_refusal_names_the_row_it_is_about() -> None:
    with _journal("a.example", "b.example", "c.example") as j:
        with pytest.raises(ConfigError) as info:
            j.check_rows(_refusing("not a domain this job creates", key="b.example"))
        assert str(info.value) == ("journal :memory: has been altered or damaged (row 2): "
                                   f"not a domain this job creates{NOTHING_SENT}")
        assert j.check_rows() == 3  # without the check every row is readable


def test_an_unreadable_item_names_the_kind_of_trouble_and_the_row() -> None:
    def check(key: str, payload: Mapping[str, Any]) -> None:
        payload["domain"]

    with _journal("a.example") as j, pytest.raises(ConfigError) as info:
        j.check_rows(check)
    assert str(info.value) == ("journal :memory: has been altered or damaged (row 1): "
                               f"unreadable item (KeyError){NOTHING_SENT}")


def test_a_damaged_job_record_names_no_row(tmp_path: Path) -> None:
    path = str(tmp_path / "job.journal")
    Journal(path).close()
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("INSERT INTO meta VALUES ('note', X'00ff')")  # bytes, not text
    finally:
        db.close()
    with Journal(path) as j, pytest.raises(ConfigError) as info:
        j.meta()
    assert str(info.value) == (f"journal {path} has been altered or damaged: "
                               f"job record note is not text{NOTHING_SENT}")


def test_get_is_none_for_a_key_not_in_the_journal() -> None:
    with _journal("a.example") as j:
        assert j.get("b.example") is None
        entry = j.get("a.example")
        assert entry is not None
        assert (entry.key, entry.state, dict(entry.payload)) == (
            "a.example", PENDING, {"name": "a.example"})
        j.start("a.example")
        j.finish("a.example", "created")
        done = j.get("a.example")
        assert done is not None
        assert (done.state, done.outcome, done.attempts) == (DONE, "created", 1)
        assert j.get("") is None

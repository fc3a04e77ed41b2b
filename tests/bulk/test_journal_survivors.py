"""``Journal`` pinned where a mutation run of espkit/bulk/journal.py found it loose (issue 18):
what ``bind`` records and refuses, in its exact words and with its transaction rolled back;
the counts ``add`` returns and the form it stores payloads in; the ``created`` stamp; paging
in ``check_rows``; the row checks' messages; format-1 journals missing a key.

Journals with a given job record or raw rows are written with ``sqlite3`` directly, as a
user editing the file (or an older espkit) would.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from support.journals import edit

from espkit.bulk.identity import AccountIdentity
from espkit.bulk.journal import DONE, FAILED, PENDING, Journal
from espkit.bulk.journalfile import SCHEMA
from espkit.errors import ConfigError

ME = AccountIdentity(provider="sandbox", host="h.example", scope="", key="k1")
ME_TOO = "sandbox at h.example, scope main account, key fingerprint k1"
USE_NEW = ". Nothing was sent: use a new journal for this account"


def legacy(path: Path, meta: dict[str, str], *, done: int = 0) -> str:
    """A format-1 journal (no account recorded) holding ``meta`` and two items, the first
    ``done`` of them finished."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.executescript(SCHEMA)
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            for i, key in enumerate(("a.example", "b.example")):
                state, outcome = (DONE, "created") if i < done else (PENDING, None)
                db.execute("INSERT INTO items (key, payload, state, outcome) "
                           "VALUES (?, ?, ?, ?)", (key, '{"name":"x"}', state, outcome))
    finally:
        db.close()
    return str(path)


def raw_payloads(path: str) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT payload FROM items ORDER BY seq")]
    finally:
        db.close()


# -- bind ------------------------------------------------------------------------------------


def test_bind_records_the_job_and_a_created_stamp() -> None:
    before = time.time()
    with Journal() as j:
        assert j.meta() == {"version": "2"}  # a fresh journal holds its format only
        j.bind("create", ME)
        after = time.time()
        meta = j.meta()
        created = meta.pop("created")
        assert before <= float(created) <= after
        assert meta == {"version": "2", "operation": "create", "provider": "sandbox",
                        "host": "h.example", "scope": "", "key_fingerprint": "k1"}
        j.bind("create", ME)  # the same job again: accepted, nothing rewritten
        assert j.meta()["created"] == created


@pytest.mark.parametrize(("other", "says"), [
    (AccountIdentity("sandbox", "h.example", "", "k2"),
     "sandbox at h.example, scope main account, key fingerprint k2 (the API key differs"),
    (AccountIdentity("sandbox", "g.example", "s1", "k1"),
     "sandbox at g.example, scope subaccount s1, key fingerprint k1 "
     "(the API host and the subaccount scope differ"),
])
def test_bind_refuses_another_account_in_exact_words_and_rolls_back(
        other: AccountIdentity, says: str) -> None:
    with Journal() as j:
        j.bind("create", ME)
        j.add([("a.example", {"name": "a"})])
        with pytest.raises(ConfigError) as info:
            j.bind("create", other)
        assert str(info.value) == f"journal :memory: belongs to {ME_TOO}; this run is {says})" \
            + USE_NEW
        with pytest.raises(ConfigError) as again:
            j.check_identity(other)
        assert str(again.value) == str(info.value)
        # the refused bind's transaction is over: the journal takes new work
        assert j.add([("b.example", {"name": "b"})]) == (1, 0)
        assert j.identity == ME


def test_bind_refuses_another_operation_in_exact_words_and_rolls_back() -> None:
    with Journal() as j:
        j.bind("create", ME)
        with pytest.raises(ConfigError) as info:
            j.bind("delete", ME)
        assert str(info.value) == (
            "journal :memory: belongs to another job (a 'create' job; this is 'delete'); "
            "nothing was sent: use a new journal file for this one")
        assert j.meta()["operation"] == "create"
        assert j.add([("a.example", {"name": "a"})]) == (1, 0)


def test_bind_records_the_operation_of_an_adopted_journal_that_had_none(
        tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"version": "1", "provider": "sandbox"}, done=1)
    with Journal(path) as j:
        j.adopt(ME)
        assert "operation" not in j.meta()
        j.bind("create", ME)
        assert j.meta()["operation"] == "create"


def test_bind_refuses_a_worked_on_old_journal(tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"version": "1", "operation": "create"}, done=1)
    with Journal(path) as j:
        with pytest.raises(ConfigError) as info:
            j.bind("create", ME)
        assert str(info.value) == (
            f"journal {path} was written by an earlier espkit and does not record which "
            "account it belongs to, so its finished items may be another account's work; "
            "nothing was sent. Start a new journal (items already done then show as existed "
            f"or absent), or, if it was started on {ME_TOO}, adopt it: espkit bulk "
            f"--journal {path} adopt")
        assert j.identity is None
        assert j.add([("c.example", {"name": "c"})]) == (1, 0)  # rolled back


def test_bind_refuses_a_current_journal_worked_on_without_an_account(
        tmp_path: Path) -> None:
    path = str(tmp_path / "run.db")
    with Journal(path) as j:
        j.add([("a.example", {"name": "a"})])
        j.start("a.example")
        with pytest.raises(ConfigError) as info:
            j.bind("create", ME)
        assert str(info.value) == (
            f"journal {path} has been altered or damaged: items were worked on but no "
            "account is recorded; nothing was sent for it")


def test_an_account_recorded_in_part_names_it(tmp_path: Path) -> None:
    path = legacy(tmp_path / "part.db", {"version": "2", "provider": "sandbox",
                                         "host": "h.example"})
    with Journal(path) as j, pytest.raises(ConfigError) as info:
        j.check_identity(ME)
    assert str(info.value) == (f"journal {path} has been altered or damaged: its account is "
                               "recorded only in part; nothing was sent for it")


# -- format-1 journals -------------------------------------------------------------------------


def test_an_old_journal_without_a_version_is_format_1(tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"operation": "create"})
    with Journal(path) as j:
        j.bind("create", ME)  # nothing worked on: claimed
        assert j.identity == ME
        assert j.meta()["version"] == "2"


def test_an_old_journal_without_a_provider_is_claimed(tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"version": "1", "operation": "create"})
    with Journal(path) as j:
        j.check_identity(ME)
        j.bind("create", ME)
        assert j.identity == ME


def test_adopting_keeps_the_created_stamp_and_drops_the_old_subaccount(
        tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"version": "1", "operation": "create",
                                        "created": "1700000000.0", "subaccount": "s1"},
                  done=1)
    with Journal(path) as j:
        j.adopt(AccountIdentity("sandbox", "h.example", "s1", "k1"))
        assert j.meta() == {"version": "2", "operation": "create", "created": "1700000000.0",
                            "provider": "sandbox", "host": "h.example", "scope": "s1",
                            "key_fingerprint": "k1"}


def test_an_old_journal_of_another_account_is_refused_in_exact_words(tmp_path: Path) -> None:
    path = legacy(tmp_path / "old.db", {"version": "1", "provider": "mailgun",
                                        "subaccount": "s1"})
    with Journal(path) as j, pytest.raises(ConfigError) as info:
        j.bind("create", ME)
    assert str(info.value) == (
        f"journal {path} belongs to another account (provider is 'mailgun' there, "
        "'sandbox' here, scope is 's1' there, '' here); nothing was sent: use a new journal "
        "for this account")


def test_a_newer_format_names_the_journal(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    Journal(path).close()
    with Journal(path) as j:
        edit(path, "UPDATE meta SET value = '3' WHERE key = 'version'")
        with pytest.raises(ConfigError) as info:
            j.check_identity(ME)
    assert str(info.value).startswith(f"journal {path} was written by a newer espkit")


# -- add -------------------------------------------------------------------------------------


def test_add_counts_added_and_known_items_exactly() -> None:
    with Journal() as j:
        assert j.add([]) == (0, 0)
        assert j.add([("a", {"n": 1})]) == (1, 0)
        assert j.add([("b", {"n": 1}), ("c", {"n": 1}), ("d", {"n": 1})]) == (3, 0)
        assert j.add([("a", {"n": 2})]) == (0, 1)
        assert j.add([("a", {}), ("b", {}), ("c", {}), ("e", {})]) == (1, 3)
        assert j.counts() == {PENDING: 5, "inflight": 0, DONE: 0, FAILED: 0}


def test_add_stores_payloads_compact_with_sorted_keys(tmp_path: Path) -> None:
    path = str(tmp_path / "run.db")
    with Journal(path) as j:
        j.add([("a", {"b": [1, 2], "a": {"y": 1, "x": 2}})])
        entry = j.get("a")
        assert entry is not None
        assert list(entry.payload) == ["a", "b"]
        assert list(entry.payload["a"]) == ["x", "y"]
    assert raw_payloads(path) == ['{"a":{"x":2,"y":1},"b":[1,2]}']


# -- reading rows ----------------------------------------------------------------------------


def test_check_rows_pages_through_every_row() -> None:
    with Journal() as j:
        j.add((f"k{i}", {"i": i}) for i in range(5))
        assert j.check_rows(batch=2) == 5
        assert j.check_rows(batch=5) == 5
        assert j.check_rows(batch=1) == 5
        assert [e.key for e in j.entries(batch=2)] == [f"k{i}" for i in range(5)]


def test_a_key_that_is_not_text_is_refused_in_exact_words(tmp_path: Path) -> None:
    path = str(tmp_path / "run.db")
    with Journal(path) as j:
        j.add([("a", {"n": 1})])
    edit(path, "UPDATE items SET key = X'00ff'")
    with Journal(path) as j, pytest.raises(ConfigError) as info:
        j.check_rows()
    assert str(info.value) == (f"journal {path} has been altered or damaged (row 1): an item "
                               "key that is not text; nothing was sent for it")


def test_an_outcome_that_does_not_fit_is_named(tmp_path: Path) -> None:
    path = str(tmp_path / "run.db")
    with Journal(path) as j:
        j.add([("a", {"n": 1})])
    edit(path, "UPDATE items SET state = 'done', outcome = 'bogus'")
    with Journal(path) as j, pytest.raises(ConfigError) as info:
        j.check_rows()
    assert str(info.value) == (f"journal {path} has been altered or damaged (row 1): item a: "
                               "outcome 'bogus' does not fit state 'done'; nothing was sent "
                               "for it")

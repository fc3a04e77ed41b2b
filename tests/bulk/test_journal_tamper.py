"""An edited or damaged journal: every row is input, so a row espkit could not have written is
a ConfigError naming the journal before anything is sent, never an untyped exception and
never an item silently left out. Hypothesis mutates rows and the job record within bounds.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.journals import edit

import espkit
from espkit.bulk import Bulk, Journal, identity_of
from espkit.bulk.report import Outcome
from espkit.sandbox import FakeClock
from espkit.testing import emulator

NAMES = ["a.example.com", "b.example.com", "c.example.com", "d.example.com"]


def sandbox() -> espkit.Account:
    return espkit.connect("sandbox", path=":memory:", clock=FakeClock())


def journal_of_every_state(path: Path, acct: espkit.Account) -> str:
    """A create job an earlier run left with one item done, one failed, one in flight and
    one pending."""
    with Journal(str(path)) as j:
        j.bind("create", identity_of(acct))
        j.add((n, {"name": n}) for n in NAMES)
        j.start(NAMES[0])
        acct.domains.create(NAMES[0])
        j.finish(NAMES[0], "created")
        j.start(NAMES[1])
        j.fail(NAMES[1], espkit.ServerError("down", provider="sandbox", status=503))
        j.start(NAMES[2])
    return str(path)


def rows(path: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT seq, key, payload, state FROM items ORDER BY seq").fetchall()
    finally:
        db.close()


# -- one case each ----------------------------------------------------------------------------


CASES = {
    "a key that names another domain than its payload": (
        "UPDATE items SET payload = ? WHERE key = ?", '{"name":"evil.example.com"}', NAMES[3],
        r"does not match the domain its input names \('evil.example.com'\)"),
    "a payload with a field the user never gave": (
        "UPDATE items SET payload = ? WHERE key = ?",
        '{"name":"d.example.com","error":"x"}', NAMES[3], "not the checked form"),
    "an unknown state (would be left out)": (
        "UPDATE items SET state = ? WHERE key = ?", "paused", NAMES[3], "unknown state 'paused'"),
    "done without an outcome": (
        "UPDATE items SET state = 'done', outcome = ? WHERE key = ?", None, NAMES[3],
        "outcome 'None' does not fit state 'done'"),
    "done as skipped": (
        "UPDATE items SET state = 'done', outcome = ? WHERE key = ?", "skipped", NAMES[3],
        "does not fit state"),
    "a payload that is not JSON": (
        "UPDATE items SET payload = ? WHERE key = ?", "{name", NAMES[3], "not a JSON object"),
    "a payload nested past any parser": (
        "UPDATE items SET payload = ? WHERE key = ?", "[" * 100_000, NAMES[3],
        "not a JSON object"),
    "a key that is bytes": (
        "UPDATE items SET key = ? WHERE key = ?", b"a.example.com", NAMES[3], "not text"),
    "a key that is not a domain": (
        "UPDATE items SET key = ?, payload = '{\"name\":\"x y\"}' WHERE key = ?", "x y",
        NAMES[3], "invalid"),
    "attempts that are not a count": (
        "UPDATE items SET attempts = ? WHERE key = ?", "many", NAMES[3], "not a count"),
    "error text that is bytes": (
        "UPDATE items SET error = ? WHERE key = ?", b"\x1b[2J", NAMES[1], "not text"),
}


@pytest.mark.parametrize("case", CASES, ids=CASES.keys())
def test_a_tampered_row_stops_the_run_before_anything_is_sent(tmp_path: Path, case: str
                                                               ) -> None:
    sql, value, key, message = CASES[case]
    acct = sandbox()
    journal = journal_of_every_state(tmp_path / "run.db", acct)
    edit(journal, sql, value, key)
    before = Path(journal).read_bytes()
    emu = emulator(acct)
    emu.history.clear()
    with pytest.raises(espkit.ConfigError, match=message) as caught:
        Bulk(acct, journal=journal).resume()
    assert f"journal {journal} has been altered or damaged (row " in str(caught.value)
    assert "nothing was sent" in str(caught.value)
    assert list(emu.history) == []
    assert Path(journal).read_bytes() == before


def test_an_untampered_journal_of_every_state_resumes(tmp_path: Path) -> None:
    """The other side of the cases above: the same journal, unedited, runs to the end."""
    acct = sandbox()
    journal = journal_of_every_state(tmp_path / "run.db", acct)
    report = Bulk(acct, journal=journal).resume()
    assert report.counts == {"skipped": 1, "created": 3}
    assert {d.name for d in acct.domains.list()} == set(NAMES)


def test_the_status_command_names_a_damaged_row_too(tmp_path: Path) -> None:
    acct = sandbox()
    journal = journal_of_every_state(tmp_path / "run.db", acct)
    edit(journal, "UPDATE items SET state = 'paused' WHERE key = ?", NAMES[3])
    with Journal(journal) as j:
        assert j.counts()["pending"] == 0  # counting alone would lose it...
        with pytest.raises(espkit.ConfigError, match="unknown state"):
            j.check_rows()  # ...which is why status reads every row first


@pytest.mark.parametrize(("operation", "message"), [
    ("frobnicate", r"holds a 'frobnicate' job; resume it the way it was started"),
    ("assign foo:bar", r"holds a 'assign foo:bar' job; resume it the way"),
    ("assign pool:not a pool", r"holds a 'assign pool:not a pool' job that cannot be resumed"),
    ("\x1b[31mred", r"holds a \"'\\\\x1b\[31mred'\" job"),
])
def test_an_unknown_or_unreadable_operation_is_a_config_error(tmp_path: Path, operation: str,
                                                              message: str) -> None:
    acct = sandbox()
    journal = journal_of_every_state(tmp_path / "run.db", acct)
    edit(journal, "UPDATE meta SET value = ? WHERE key = 'operation'", operation)
    emu = emulator(acct)
    emu.history.clear()
    with pytest.raises(espkit.ConfigError, match=message) as caught:
        Bulk(acct, journal=journal).resume()
    assert "\x1b" not in str(caught.value)
    assert list(emu.history) == []


def test_an_account_recorded_in_part_is_tampering(tmp_path: Path) -> None:
    acct = sandbox()
    journal = journal_of_every_state(tmp_path / "run.db", acct)
    edit(journal, "DELETE FROM meta WHERE key = ?", "key_fingerprint")
    with pytest.raises(espkit.ConfigError, match="its account is recorded only in part"):
        Bulk(acct, journal=journal)
    # removing the whole account record does not make a worked-on journal claimable
    edit(journal, "DELETE FROM meta WHERE key IN ('provider', 'host', 'scope')")
    with pytest.raises(espkit.ConfigError, match="worked on but no account is recorded"):
        Bulk(acct, journal=journal)


# -- hypothesis: any bounded mutation has a typed outcome -----------------------------------------


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)
ANY = (st.none() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=True)
       | st.text(max_size=30) | st.binary(max_size=12))
PLAUSIBLE = {
    "key": st.sampled_from([*NAMES, "z.example.com", "A.EXAMPLE.COM", " a.example.com", ""]),
    "payload": st.sampled_from([
        '{"name":"a.example.com"}', '{"name":"d.example.com"}', '{"name":"z.example.com"}',
        '{"name":"d.example.com","dkim_key_size":2048}', '{"name":"d.example.com","pool":"x"}',
        '{"name":"d.example.com","ips":["192.0.2.1"]}', '{"domain":"d.example.com"}', "{}",
        "[]", "null", '"d.example.com"']) | JSON.map(json.dumps),
    "state": st.sampled_from(["pending", "inflight", "done", "failed", "DONE", "skipped"]),
    "outcome": st.sampled_from([*(o.value for o in Outcome), "Created", "bogus"]),
    "error_type": st.sampled_from(["ServerError", "NotFound", "=cmd|' /C calc'!A0"]),
    "error": st.sampled_from(["down", "\x1b]0;owned\x07", "=HYPERLINK(\"http://x\")"]),
    "attempts": st.integers(-3, 10**12),
}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=st.sampled_from(sorted(PLAUSIBLE)), seq=st.integers(1, len(NAMES)),
       data=st.data())
def test_any_mutated_row_is_refused_or_every_item_is_accounted_for(
        column: str, seq: int, data: st.DataObject) -> None:
    value = data.draw(PLAUSIBLE[column] | ANY, label="value")
    with tempfile.TemporaryDirectory() as folder:
        acct = sandbox()
        journal = journal_of_every_state(Path(folder) / "run.db", acct)
        try:
            edit(journal, f"UPDATE items SET {column} = ? WHERE seq = ?", value, seq)
        except sqlite3.IntegrityError:
            return  # NOT NULL or UNIQUE: not a file SQLite would write
        before = rows(journal)
        emu = emulator(acct)
        emu.history.clear()
        try:
            report = Bulk(acct, journal=journal).resume()
        except espkit.ConfigError as exc:
            event(f"refused: {column}")
            refusal = str(exc)
        else:
            refusal = ""
        if refusal:
            assert journal in refusal
            assert list(emu.history) == []  # refused before any request
            return
        event(f"accepted: {column}")
        # accepted: the row was one espkit could have written, and nothing was left out
        assert all(isinstance(k, str) and json.loads(p)["name"] == k for _, k, p, _ in before)
        done_before = sum(1 for *_, state in before if state == "done")
        assert report.total == len(NAMES)
        assert report.counts.get("skipped", 0) == done_before
        worked = sum(n for k, n in report.counts.items() if k != "skipped")
        assert worked == len(NAMES) - done_before
        assert report.remaining == 0
        on_server = {d.name for d in acct.domains.list()}
        for _, key, _, state in before:
            if state != "done":
                assert key in on_server or key in {r.key for r in report.failed}


META = ["operation", "provider", "host", "scope", "key_fingerprint", "version", "created"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(META), value=st.none() | ANY | st.sampled_from(
    ["create", "delete", "sandbox", "mailgun", "", "1", "2", "3"]))
def test_any_mutated_job_record_is_refused_or_changes_nothing(key: str, value: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        acct = sandbox()
        journal = journal_of_every_state(Path(folder) / "run.db", acct)
        try:
            if value is None:
                edit(journal, "DELETE FROM meta WHERE key = ?", key)
            else:
                edit(journal, "UPDATE meta SET value = ? WHERE key = ?", value, key)
        except sqlite3.IntegrityError:
            return  # NaN is stored as NULL, which the record refuses: not a possible file
        emu = emulator(acct)
        emu.history.clear()
        try:
            report = Bulk(acct, journal=journal).resume()
        except espkit.ConfigError as exc:
            event(f"refused: {key}")
            refusal = str(exc)
        else:
            refusal = ""
        if refusal:
            assert journal in refusal
            assert list(emu.history) == []
            return
        event(f"accepted: {key}")
        # accepted only when the record still says this job on this account
        with Journal(journal) as j:
            assert j.identity == identity_of(acct)
            assert j.meta()["operation"] == "create"
        assert report.counts == {"skipped": 1, "created": 3}
        assert Counter(m for m, _, _ in emu.history)["POST"] <= 3

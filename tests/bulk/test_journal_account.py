"""A journal belongs to one account: provider, API host, subaccount scope and key.

Each component is tested on both sides: the same account resumes the job (and sends the
requests left), a difference in that one component is a ConfigError naming it, with no
request sent (counted on the mocked ESP, or in the sandbox emulator's history).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import responses

import espkit
from espkit.bulk import Bulk, Journal, identity_of
from espkit.bulk.identity import api_host
from espkit.bulk.journalfile import SCHEMA
from espkit.sandbox import FakeClock
from espkit.testing import emulator

US = "https://api.mailgun.net"
EU = "https://api.eu.mailgun.net"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
OTHER_KEY = "key-0000000000000000000000000000beef"
SUB = "6fr783930fhhriu673"
NAMES = ["a.example.com", "b.example.com", "c.example.com"]


def mailgun(*, key: str = KEY, region: str | None = "us", base_url: str | None = None,
            sub: str | None = None) -> espkit.Account:
    options: dict[str, object] = {"api_key": key, "rate_limit": 1000.0}
    if base_url is not None:
        options["base_url"] = base_url
    else:
        options["region"] = region
    acct = espkit.connect("mailgun", **options)
    return acct.on_behalf_of(sub) if sub else acct


def half_done_journal(path: Path, acct: espkit.Account) -> str:
    """A delete job on ``acct`` that an earlier run left with one item of three done."""
    with Journal(str(path)) as journal:
        journal.bind("delete", identity_of(acct))
        journal.add((n, {}) for n in NAMES)
        journal.start(NAMES[0])
        journal.finish(NAMES[0], "deleted")
    return str(path)


def esp() -> responses.RequestsMock:
    """Both Mailgun regions answer every delete, so a request sent anywhere is counted
    rather than failing on its own."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    for base in (US, EU):
        for name in NAMES:
            mock.add("DELETE", f"{base}/v3/domains/{name}",
                     json={"message": "Domain will be deleted in the background"})
    return mock


# -- the same account resumes; each single difference is refused --------------------------


SAME = {
    "as typed first": {},
    "the host typed another way": {"region": None, "base_url": "https://API.Mailgun.net/"},
}
DIFFERENT = {
    "API host": ({"region": "eu"}, "https://api.eu.mailgun.net"),
    "API key": ({"key": OTHER_KEY}, hashlib.sha256(OTHER_KEY.encode()).hexdigest()[:12]),
    "subaccount scope": ({"sub": SUB}, f"subaccount {SUB}"),
}


@pytest.mark.parametrize("change", SAME.values(), ids=SAME.keys())
def test_the_same_account_resumes_the_job(tmp_path: Path, change: dict[str, object]) -> None:
    journal = half_done_journal(tmp_path / "run.db", mailgun())
    with esp() as mock:
        report = Bulk(mailgun(**change), journal=journal).resume()  # type: ignore[arg-type]
        sent = [(c.request.method, c.request.url) for c in mock.calls]
    assert report.counts == {"deleted": 2, "skipped": 1}
    assert sorted(sent) == [("DELETE", f"{US}/v3/domains/{n}") for n in NAMES[1:]]


@pytest.mark.parametrize("component", DIFFERENT, ids=DIFFERENT.keys())
def test_another_account_is_refused_naming_what_differs(tmp_path: Path, component: str
                                                        ) -> None:
    change, shown_here = DIFFERENT[component]
    journal = half_done_journal(tmp_path / "run.db", mailgun())
    with esp() as mock:
        with pytest.raises(espkit.ConfigError) as caught:
            Bulk(mailgun(**change), journal=journal).resume()  # type: ignore[arg-type]
        assert len(mock.calls) == 0
    message = str(caught.value)
    assert f"(the {component} differs)" in message
    assert message.count(" differ") == 1  # only that one component
    assert "belongs to mailgun at https://api.mailgun.net, scope main account" in message
    assert shown_here in message.partition("this run is")[2]
    assert "Nothing was sent" in message
    assert KEY not in message
    assert OTHER_KEY not in message
    # refused, not claimed: the journal still names its own account, its items untouched
    with Journal(journal) as j:
        assert j.identity == identity_of(mailgun())
        assert j.counts() == {"pending": 2, "inflight": 0, "done": 1, "failed": 0}


def test_another_provider_is_refused(tmp_path: Path) -> None:
    journal = half_done_journal(tmp_path / "run.db", mailgun())
    # the same key sent to the same host, by another provider's code: only that differs
    other = espkit.connect("sendgrid", api_key=KEY, base_url=US, rate_limit=1000.0)
    with esp() as mock, pytest.raises(espkit.ConfigError, match=r"this run is sendgrid at "
                                      r"https://api.mailgun.net.*\(the provider differs\)"):
        Bulk(other, journal=journal).delete_domains(NAMES)
    assert len(mock.calls) == 0
    # and the other way round: a journal started there is refused here
    second = half_done_journal(tmp_path / "sg.db", other)
    with esp() as mock, pytest.raises(espkit.ConfigError, match=r"belongs to sendgrid"):
        Bulk(mailgun(), journal=second).resume()
    assert len(mock.calls) == 0


def test_two_subaccounts_are_two_accounts(tmp_path: Path) -> None:
    journal = half_done_journal(tmp_path / "run.db", mailgun(sub=SUB))
    with esp() as mock:
        with pytest.raises(espkit.ConfigError, match=r"subaccount 6fr783930fhhriu673.*"
                           r"subaccount other.*\(the subaccount scope differs\)"):
            Bulk(mailgun(sub="other"), journal=journal).resume()
        assert len(mock.calls) == 0
        report = Bulk(mailgun(sub=SUB), journal=journal).resume()
        assert report.counts == {"deleted": 2, "skipped": 1}
        assert {c.request.headers["X-Mailgun-On-Behalf-Of"] for c in mock.calls} == {SUB}


def test_the_check_is_made_on_opening_and_for_new_input_too(tmp_path: Path) -> None:
    journal = half_done_journal(tmp_path / "run.db", mailgun())
    with esp() as mock:
        # the same operation with input, not a resume: refused all the same
        with pytest.raises(espkit.ConfigError, match="API key differs"):
            Bulk(mailgun(key=OTHER_KEY), journal=journal).delete_domains(NAMES)
        # and already when the journal is handed over, before an operation is chosen
        with pytest.raises(espkit.ConfigError, match="API key differs"):
            Bulk(mailgun(key=OTHER_KEY), journal=journal)
        with pytest.raises(espkit.ConfigError, match="API key differs"):
            Bulk(mailgun(key=OTHER_KEY), journal=Journal(journal))
        assert len(mock.calls) == 0


def test_the_reported_bug_two_skipped_zero_requests_is_gone(tmp_path: Path) -> None:
    """Issue 12: a journal finished on one sandbox, reused on another, reported "2 skipped,
    0 requests" and created nothing."""
    first = espkit.connect("sandbox", path=str(tmp_path / "one.db"))
    second = espkit.connect("sandbox", path=str(tmp_path / "two.db"))
    journal = str(tmp_path / "run.db")
    Bulk(first, journal=journal).create_domains(NAMES[:2])
    emu = emulator(second)
    with pytest.raises(espkit.ConfigError, match=r"two\.db.*\(the API host differs\)"):
        Bulk(second, journal=journal).create_domains(NAMES[:2])
    assert list(emu.history) == []
    assert list(second.domains.list()) == []
    # the first sandbox, reopened (a new process, in effect), still resumes
    again = espkit.connect("sandbox", path=str(tmp_path / "one.db"))
    assert Bulk(again, journal=journal).create_domains(NAMES[:2]).counts == {"skipped": 2}


@pytest.mark.parametrize("change", ["key", "scope"])
def test_sandbox_key_and_scope_on_both_sides(tmp_path: Path, change: str) -> None:
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    sub = acct.subaccounts.create("team").id
    emu = emulator(acct)
    journal = str(tmp_path / "run.db")
    Bulk(acct, journal=journal).create_domains(NAMES[:1])
    other = (espkit.connect("sandbox", path=":memory:", api_key="another-key")
             if change == "key" else acct.on_behalf_of(sub))
    emu.history.clear()
    other_emu = emulator(other)
    other_emu.history.clear()
    with pytest.raises(espkit.ConfigError, match="differs"):
        Bulk(other, journal=journal).create_domains(NAMES)
    assert list(emu.history) == list(other_emu.history) == []
    report = Bulk(acct, journal=journal).create_domains(NAMES)
    assert report.counts == {"skipped": 1, "created": 2}


# -- what is recorded ----------------------------------------------------------------------


def test_the_key_is_recorded_only_as_its_fingerprint(tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    half_done_journal(journal, mailgun())
    with Journal(str(journal)) as j:
        meta = j.meta()
    assert meta["provider"] == "mailgun"
    assert meta["host"] == "https://api.mailgun.net"
    assert meta["scope"] == ""
    assert meta["key_fingerprint"] == hashlib.sha256(KEY.encode()).hexdigest()[:12]
    for name in [journal, *(Path(f"{journal}{s}") for s in ("-wal", "-shm"))]:
        if name.exists():
            data = name.read_bytes()
            assert KEY.encode() not in data
            assert KEY.split("-")[1].encode() not in data


def test_the_fingerprint_is_the_same_in_another_process(tmp_path: Path) -> None:
    code = ("import espkit\nfrom espkit.bulk import identity_of\n"
            f"print(identity_of(espkit.connect('mailgun', api_key={KEY!r})).key)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    there = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**env, "PYTHONHASHSEED": seed}).stdout.strip()
             for seed in ("1", "2")}
    assert there == {identity_of(mailgun()).key}


@pytest.mark.parametrize(("url", "host"), [
    ("https://api.mailgun.net", "https://api.mailgun.net"),
    ("https://API.mailgun.net/", "https://api.mailgun.net"),
    ("https://user:secret@api.mailgun.net/v3?key=abc#x", "https://api.mailgun.net/v3"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("https://[::1]:8443/api", "https://[::1]:8443/api"),
    ("https://user:secret@host:notaport/x", "https://host:notaport/x"),
])
def test_the_api_host_drops_credentials_and_spelling(url: str, host: str) -> None:
    assert api_host(url) == host


# -- journals written before the account was recorded ----------------------------------------


def legacy_journal(path: Path, *, done: int, provider: str = "sandbox",
                   subaccount: str | None = None) -> str:
    """A journal as espkit wrote it before journals recorded their account (format 1)."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        meta = {"operation": "create", "provider": provider, "version": "1",
                "created": "1700000000.0"}
        if subaccount:
            meta["subaccount"] = subaccount
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        for i, name in enumerate(NAMES):
            state, outcome = ("done", "created") if i < done else ("pending", None)
            db.execute("INSERT INTO items (key, payload, state, outcome) VALUES (?, ?, ?, ?)",
                       (name, f'{{"name":"{name}"}}', state, outcome))
    db.close()
    return str(path)


def test_an_old_journal_with_finished_items_is_refused_until_adopted(tmp_path: Path) -> None:
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    emu = emulator(acct)
    journal = legacy_journal(tmp_path / "old.db", done=1)
    with pytest.raises(espkit.ConfigError, match=r"written by an earlier espkit.*nothing "
                       r"was sent.*espkit bulk --journal .*old\.db adopt"):
        Bulk(acct, journal=journal).resume()
    assert list(emu.history) == []
    with Journal(journal) as j:
        assert j.identity is None  # refusing claimed nothing
        j.adopt(identity_of(acct))
        assert j.identity == identity_of(acct)
        assert j.meta()["version"] == "2"
    report = Bulk(acct, journal=journal).resume()
    assert report.counts == {"skipped": 1, "created": 2}
    # adopted once, checked ever after
    other = espkit.connect("sandbox", path=":memory:", api_key="someone-else")
    with pytest.raises(espkit.ConfigError, match="API key differs"):
        Bulk(other, journal=journal).resume()
    with Journal(journal) as j, pytest.raises(espkit.ConfigError, match="API key differs"):
        j.adopt(identity_of(other))


def test_an_old_journal_with_nothing_finished_is_claimed(tmp_path: Path) -> None:
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    journal = legacy_journal(tmp_path / "old.db", done=0)
    report = Bulk(acct, journal=journal).resume()
    assert report.counts == {"created": 3}
    with Journal(journal) as j:
        assert j.identity == identity_of(acct)


def test_an_old_journal_of_another_provider_or_scope_is_refused_even_to_adopt(
        tmp_path: Path) -> None:
    acct = espkit.connect("sandbox", path=":memory:", clock=FakeClock())
    for name, kwargs in {"mg": {"provider": "mailgun"}, "sub": {"subaccount": "s1"}}.items():
        journal = legacy_journal(tmp_path / f"{name}.db", done=0, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(espkit.ConfigError, match="belongs to another account"):
            Bulk(acct, journal=journal).resume()
        with Journal(journal) as j, pytest.raises(espkit.ConfigError, match="another account"):
            j.adopt(identity_of(acct))
    assert list(emulator(acct).history) == []

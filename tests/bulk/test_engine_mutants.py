"""The bulk engine's front (``espkit.bulk.engine``): the behaviours mutation testing found
unpinned (scripts/mutation.py, issue 18).

``Bulk``'s settings are checked on both sides of each bound, with typed errors naming the
setting and the bad value; a journal the caller handed in is left open when it is refused
(it is the caller's), one the engine opened is closed; the input is read into the journal
whole or not at all, a repeated item is skipped only when it says the same thing, and the
refusal lists the bad items exactly (at most ``SHOW_BAD_ROWS`` of them, then a count); the
module's conveniences pass every argument through. "Nothing was sent" is counted in the
sandbox emulator's request history.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import espkit
from espkit.bulk import (
    MAX_OUTAGE,
    SHOW_BAD_ROWS,
    Bulk,
    Journal,
    Progress,
    assign,
    create_domains,
    delete_domains,
    identity_of,
    verify_domains,
)
from espkit.bulk.engine import MAX_CONSECUTIVE_FAILURES
from espkit.bulk.operations import CREATE
from espkit.errors import ConfigError, Unsupported, ValidationError
from espkit.sandbox import FakeClock

ZONE = "engine.example"


def sandbox(**options: Any) -> espkit.Account:
    # a fake clock: retry back-offs and 429 waits pass instantly
    options.setdefault("clock", FakeClock())
    return espkit.connect("sandbox", path=":memory:", **options)


def names(n: int) -> list[str]:
    return [f"d{i:03d}.{ZONE}" for i in range(n)]


def sent(acct: espkit.Account) -> int:
    """Requests the sandbox ESP has answered so far (every method, every path)."""
    return len(acct.provider.emulator.history)  # type: ignore[attr-defined]


def on_server(acct: espkit.Account) -> set[str]:
    return {d.name for d in acct.domains.list()}


def why(acct: espkit.Account, item: Any) -> str:
    """What the single-object check says about a bad item (the line the refusal quotes)."""
    with pytest.raises(ValidationError) as info:
        CREATE.prepare(acct, item)
    return str(info.value)


# -- Bulk's settings -------------------------------------------------------------------------


def test_defaults() -> None:
    bulk = Bulk(sandbox())
    assert bulk.max_concurrency == 256
    assert bulk.max_consecutive_failures == MAX_CONSECUTIVE_FAILURES == 20
    assert bulk.max_outage == MAX_OUTAGE == 300.0
    assert isinstance(bulk.max_outage, float)
    assert bulk.journal.path == ":memory:"


POSITIVE_INT = "must be a positive integer"
SECONDS = "must be a finite, non-negative number of seconds"
BAD_SETTINGS = [
    *[("max_concurrency", v, POSITIVE_INT) for v in (0, -1, True, False, "4", 2.0, None)],
    *[("max_consecutive_failures", v, POSITIVE_INT)
      for v in (0, -3, True, False, "20", 1.0, None)],
    *[("max_outage", v, SECONDS)
      for v in (-0.001, -1, math.nan, math.inf, -math.inf, True, False, "300", None)],
]


@pytest.mark.parametrize(("setting", "value", "reason"), BAD_SETTINGS,
                         ids=[f"{s}={v!r}" for s, v, _ in BAD_SETTINGS])
def test_a_bad_setting_is_a_validation_error_naming_it(tmp_path: Path, setting: str,
                                                       value: object, reason: str) -> None:
    acct = sandbox()
    before = sent(acct)
    path = tmp_path / "job.db"
    with pytest.raises(ValidationError) as info:
        Bulk(acct, journal=str(path), **{setting: value})  # type: ignore[arg-type]
    assert (info.value.field, info.value.reason) == (setting, reason)
    assert info.value.value is value
    assert str(info.value) == f"invalid {setting} {value!r}: {reason}"
    assert not path.exists()  # refused before the journal is even opened
    assert sent(acct) == before


@pytest.mark.parametrize(("setting", "value", "kept"), [
    ("max_concurrency", 1, 1), ("max_concurrency", 2, 2),
    ("max_consecutive_failures", 1, 1), ("max_consecutive_failures", 2, 2),
    ("max_outage", 0, 0.0), ("max_outage", 0.0, 0.0), ("max_outage", 0.5, 0.5),
    ("max_outage", 7, 7.0),
])
def test_the_smallest_good_settings_are_kept(setting: str, value: float, kept: float) -> None:
    options: dict[str, Any] = {setting: value}
    bulk = Bulk(sandbox(), **options)
    assert getattr(bulk, setting) == kept
    assert type(getattr(bulk, setting)) is type(kept)


def test_max_concurrency_one_and_one_failure_still_run_a_job() -> None:
    acct = sandbox()
    report = Bulk(acct, max_concurrency=1, max_consecutive_failures=1).create_domains(names(3))
    assert report.counts == {"created": 3}
    assert report.concurrency == 1
    assert on_server(acct) == set(names(3))


# -- the journal an account refuses ------------------------------------------------------------


def other_accounts_journal(journal: Journal) -> Journal:
    journal.bind("create", identity_of(sandbox(api_key="someone-else")))
    journal.add([(names(1)[0], {"name": names(1)[0]})])
    return journal


def test_a_refused_journal_the_caller_gave_is_left_open() -> None:
    acct = sandbox()
    journal = other_accounts_journal(Journal())
    with pytest.raises(ConfigError, match="belongs to"):
        Bulk(acct, journal=journal)
    # still the caller's to use: reading it works
    assert journal.meta()["operation"] == "create"
    assert journal.counts()["pending"] == 1
    journal.close()


def test_a_refused_journal_the_engine_opened_is_closed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "job.db")
    with Journal(path) as journal:
        other_accounts_journal(journal)
    closed: list[str] = []
    real_close = Journal.close

    def close(self: Journal) -> None:
        closed.append(self.path)
        real_close(self)

    monkeypatch.setattr(Journal, "close", close)
    with pytest.raises(ConfigError, match="belongs to"):
        Bulk(sandbox(), journal=path)
    assert closed == [path]


# -- the run's checks before anything is sent ----------------------------------------------


def test_an_operation_the_esp_lacks_is_unsupported_naming_it() -> None:
    acct = sandbox(like="postmark")
    before = sent(acct)
    bulk = Bulk(acct)
    with pytest.raises(Unsupported) as pool:
        bulk.assign(names(2), pool="mkt")
    assert pool.value.capability == "assign.domain_pool"
    assert pool.value.hint.startswith("Postmark does not bind domains to pools")
    with pytest.raises(Unsupported) as ip:
        bulk.assign(names(2), ip="198.51.100.1")
    assert ip.value.capability == "assign.domain_ip"
    assert sent(acct) == before
    assert bulk.journal.meta().get("operation") is None  # not even claimed


@pytest.mark.parametrize("items", ["a.engine.example", b"a.engine.example"])
def test_one_string_is_not_an_iterable_of_items(items: str | bytes) -> None:
    acct = sandbox()
    before = sent(acct)
    bulk = Bulk(acct)
    with pytest.raises(ValidationError) as info:
        bulk.create_domains(items)  # type: ignore[arg-type]
    assert info.value.field == "items"
    assert info.value.value == items
    assert info.value.reason == "must be an iterable of items, not one string"
    assert str(info.value) == (f"invalid items {items!r}: must be an iterable of items, "
                               "not one string")
    assert sum(bulk.journal.counts().values()) == 0
    assert sent(acct) == before


def test_assign_to_a_dedicated_ip() -> None:
    acct = sandbox()
    ip = next(iter(acct.ips.list())).address
    Bulk(acct).create_domains(names(3))
    report = Bulk(acct).assign(names(3), ip=ip)
    assert report.counts == {"assigned": 3}
    for name in names(3):
        assert [(a.kind.value, a.target) for a in acct.domains.assignments(name)] == [
            ("ip", ip)]


# -- reading the input into the journal -------------------------------------------------------


def test_a_repeat_saying_the_same_is_skipped_and_the_items_after_it_are_kept() -> None:
    acct = sandbox()
    a, b, c, d = names(4)
    bulk = Bulk(acct)
    report = bulk.create_domains([a, b, a.upper(), {"name": b}, c, a, d])
    assert report.counts == {"created": 4}
    assert sum(bulk.journal.counts().values()) == 4
    assert on_server(acct) == {a, b, c, d}


def refusal(acct: espkit.Account, items: list[Any]) -> ValidationError:
    """The input's refusal, having checked that nothing was sent or journalled."""
    before = sent(acct)
    bulk = Bulk(acct)
    with pytest.raises(ValidationError) as info:
        bulk.create_domains(items)
    assert sent(acct) == before
    assert sum(bulk.journal.counts().values()) == 0  # rolled back: no row of this input
    assert info.value.field == "items"
    assert str(info.value) == f"invalid items {info.value.value!r}: {info.value.reason}"
    return info.value


HEAD = "nothing was sent; fix these and run again:\n  "


def test_one_bad_item_is_named_with_no_count_of_more() -> None:
    acct = sandbox()
    bad = "bad name.engine.example"
    error = refusal(acct, [*names(2), bad, names(3)[2]])
    assert error.value == "1 bad item(s)"
    assert error.reason == HEAD + f"item 3: {why(acct, bad)}"


def test_a_repeat_with_other_settings_is_a_bad_item() -> None:
    acct = sandbox()
    a, b = names(2)
    error = refusal(acct, [a, b, {"name": a, "dkim_key_size": 2048}])
    assert error.value == "1 bad item(s)"
    assert error.reason == HEAD + f"item 3: {a} appears twice with different settings"


def test_repeats_and_bad_items_are_counted_together() -> None:
    acct = sandbox()
    a, b = names(2)
    bad1, bad2 = "-x.engine.example", "bad name.engine.example"
    error = refusal(acct, [a, bad1, bad2, {"name": a, "dkim_key_size": 2048}, b,
                           {"name": b, "wildcard": True}])
    assert error.value == "4 bad item(s)"
    assert error.reason == HEAD + "\n  ".join([
        f"item 2: {why(acct, bad1)}",
        f"item 3: {why(acct, bad2)}",
        f"item 4: {a} appears twice with different settings",
        f"item 6: {b} appears twice with different settings",
    ])


def test_exactly_show_bad_rows_bad_items_are_all_listed() -> None:
    acct = sandbox()
    bad = [f"-{i}.engine.example" for i in range(SHOW_BAD_ROWS)]
    error = refusal(acct, bad)
    assert error.value == f"{SHOW_BAD_ROWS} bad item(s)"
    assert error.reason == HEAD + "\n  ".join(
        f"item {n}: {why(acct, item)}" for n, item in enumerate(bad, 1))


def test_past_show_bad_rows_the_rest_are_counted() -> None:
    acct = sandbox()
    bad = [f"-{i}.engine.example" for i in range(SHOW_BAD_ROWS + 2)]
    error = refusal(acct, bad)
    assert error.value == f"{SHOW_BAD_ROWS + 2} bad item(s)"
    assert error.reason == HEAD + "\n  ".join(
        f"item {n}: {why(acct, item)}" for n, item in enumerate(bad[:SHOW_BAD_ROWS], 1)
    ) + " (and 2 more)"


def test_a_repeat_past_show_bad_rows_is_counted_not_listed() -> None:
    acct = sandbox()
    a = names(1)[0]
    bad = [f"-{i}.engine.example" for i in range(SHOW_BAD_ROWS)]
    error = refusal(acct, [a, *bad, {"name": a, "dkim_key_size": 2048}])
    assert error.value == f"{SHOW_BAD_ROWS + 1} bad item(s)"
    assert error.reason == HEAD + "\n  ".join(
        f"item {n}: {why(acct, item)}" for n, item in enumerate(bad, 2)
    ) + " (and 1 more)"


# -- the module's conveniences ---------------------------------------------------------------


def journal_of(path: Path) -> tuple[str, dict[str, int]]:
    with Journal(str(path)) as journal:
        return journal.meta()["operation"], journal.outcomes()


def test_create_delete_and_verify_conveniences_pass_every_argument(tmp_path: Path) -> None:
    acct = sandbox(verify_delay=0)
    for run, op, outcome in [(create_domains, "create", "created"),
                             (verify_domains, "verify", "verified"),
                             (delete_domains, "delete", "deleted")]:
        path = tmp_path / f"{op}.db"
        seen: list[Progress] = []
        report = run(acct, names(3), journal=str(path), on_progress=seen.append)
        assert report.counts == {outcome: 3}
        assert report.journal == str(path)
        assert journal_of(path) == (op, {outcome: 3})
        assert seen
        assert (seen[-1].operation, seen[-1].total, seen[-1].done) == (op, 3, 3)
        with pytest.raises(ValidationError) as info:
            run(acct, names(3), journal=str(tmp_path / "x.db"), max_concurrency=0)
        assert info.value.field == "max_concurrency"
    assert on_server(acct) == set()


def test_assign_convenience_passes_pool_ip_and_every_argument(tmp_path: Path) -> None:
    acct = sandbox()
    pool = acct.pools.create("mkt").name
    ip = next(iter(acct.ips.list())).address
    # a domain sends from a pool or from IPs, not both: one set of domains for each
    by_pool, by_ip = names(6)[:3], names(6)[3:]
    create_domains(acct, by_pool + by_ip)
    for kind, target, domains in [("pool", pool, by_pool), ("ip", ip, by_ip)]:
        path = tmp_path / f"{kind}.db"
        seen: list[Progress] = []
        report = assign(acct, domains, journal=str(path), on_progress=seen.append,
                        **{kind: target})
        assert report.counts == {"assigned": 3}
        assert journal_of(path) == (f"assign {kind}:{target}", {"assigned": 3})
        assert (seen[-1].total, seen[-1].done) == (3, 3)
        for name in domains:
            assert [(a.kind.value, a.target) for a in acct.domains.assignments(name)] == [
                (kind, target)]
        with pytest.raises(ValidationError) as info:
            assign(acct, domains, max_outage=-1, **{kind: target})
        assert info.value.field == "max_outage"

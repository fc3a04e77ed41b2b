"""``espkit.providers.lookups``: per-run tables, read once, kept correct, gone after the run.

Every claim is counted: how many times a loader ran is the number of requests it would have
sent. Concurrency is arranged with events and barriers (generous timeouts), never timed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import espkit
from espkit.errors import ValidationError
from espkit.providers.lookups import Lookups

WAIT = 10.0  # seconds an event may take on a loaded machine; never reached when all is well


class Loader:
    """A loader that counts its calls and returns ``value()`` (a new list each time)."""

    def __init__(self, value: Callable[[], Any] = lambda: ["a"]) -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> Any:
        self.calls += 1
        return self.value()


def test_outside_a_run_every_read_loads_and_nothing_is_kept() -> None:
    lookups, load = Lookups(), Loader()
    assert not lookups.active
    first = lookups.read("t", load)
    lookups.read("t", load)
    assert load.calls == 2
    assert first.fresh
    lookups.remember("m", "k", 1)
    lookups.edit("t", lambda v: [*v, "b"])
    assert lookups.recall("m", "k") is None
    assert lookups.peek("t") is None
    assert lookups.once("o", "k", load) == ["a"]
    assert load.calls == 3


def test_inside_a_run_a_table_is_loaded_once_then_dropped_when_it_ends() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope():
        first = lookups.read("t", load)
        again = lookups.read("t", load)
        assert load.calls == 1
        assert first.fresh
        assert not again.fresh
        assert again.value is first.value
    assert not lookups.active
    with lookups.scope():
        lookups.read("t", load)
    assert load.calls == 2  # a new run reads again


def test_scopes_nest_and_only_the_outermost_end_drops_the_tables() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope(size=7):
        lookups.read("t", load)
        with lookups.scope(size=3):
            assert lookups.size == 7  # the outer hint counts
            lookups.read("t", load)
        assert lookups.active
        lookups.read("t", load)
        assert load.calls == 1
    with lookups.scope():
        with lookups.scope(size=3):
            assert lookups.size == 3  # no outer hint: the inner one
        assert lookups.size is None
        lookups.read("t", load)
    assert load.calls == 2


def test_a_subaccount_copy_has_its_own_keys_in_the_same_run() -> None:
    parent = Lookups()
    child = parent.child()
    with parent.scope(size=4):
        assert child.active
        assert child.size == 4
        child.remember("ids", "a.example.com", "child-id")
        parent.remember("ids", "a.example.com", "parent-id")
        assert child.recall("ids", "a.example.com") == "child-id"
        assert parent.recall("ids", "a.example.com") == "parent-id"
    with parent.scope():
        assert child.recall("ids", "a.example.com") is None  # the child's went too


def test_fifty_threads_missing_at_once_make_one_load() -> None:
    lookups = Lookups()
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def load() -> list[str]:
        calls.append(1)
        entered.set()
        assert release.wait(WAIT)
        return ["pool"]

    start = threading.Barrier(51)
    got: list[Any] = []

    def worker() -> None:
        start.wait(WAIT)
        got.append(lookups.table("pools", load))

    with lookups.scope(size=50):
        threads = [threading.Thread(target=worker) for _ in range(50)]
        for t in threads:
            t.start()
        start.wait(WAIT)
        assert entered.wait(WAIT)  # one thread is loading; the others queue behind it
        release.set()
        for t in threads:
            t.join(WAIT)
    assert len(calls) == 1
    assert len(got) == 50
    assert all(v == ["pool"] for v in got)


def test_a_failed_load_keeps_nothing_and_the_next_reader_loads_again() -> None:
    lookups = Lookups()
    answers: list[Any] = [espkit.ServerError("down", provider="x"), ["ok"]]

    def load() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with lookups.scope():
        with pytest.raises(espkit.ServerError):
            lookups.table("t", load)
        assert lookups.table("t", load) == ["ok"]
        assert answers == []


def test_stale_reloads_once_per_key_and_a_fresh_value_never() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope():
        fresh = lookups.read("t", load)
        assert not lookups.stale("t", fresh, "x")  # just loaded: the failure stands
        kept = lookups.read("t", load)
        assert lookups.stale("t", kept, "x")
        reloaded = lookups.read("t", load)
        assert load.calls == 2
        assert reloaded.fresh
        kept = lookups.read("t", load)
        assert not lookups.stale("t", kept, "x")  # x had its reload in this run
        assert lookups.stale("t", kept, "y")  # another key has its own
        lookups.read("t", load)
        assert load.calls == 3


def test_a_reader_behind_a_reload_looks_again_without_another() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope():
        lookups.read("t", load)
        first = lookups.read("t", load)
        second = lookups.read("t", load)  # two readers saw the same version
        assert lookups.stale("t", first, "x")
        lookups.read("t", load)
        assert lookups.stale("t", second, "x")  # newer than what it saw: look again
        lookups.read("t", load)
        assert load.calls == 2


def test_an_edit_during_a_load_is_applied_to_what_it_returns() -> None:
    lookups = Lookups()
    loading, edited = threading.Event(), threading.Event()

    def load() -> list[str]:
        loading.set()
        assert edited.wait(WAIT)
        return ["old"]

    with lookups.scope():
        reader = threading.Thread(target=lambda: lookups.table("pools", load))
        reader.start()
        assert loading.wait(WAIT)
        lookups.edit("pools", lambda v: [*v, "new"])
        edited.set()
        reader.join(WAIT)
        assert lookups.table("pools", load) == ["old", "new"]
        lookups.edit("pools", lambda v: [p for p in v if p != "old"])
        assert lookups.peek("pools") == ["new"]


def test_an_edit_to_a_table_not_loaded_does_nothing() -> None:
    lookups = Lookups()
    with lookups.scope():
        lookups.edit("pools", lambda v: [*v, "x"])
        assert lookups.peek("pools") is None
        assert lookups.table("pools", lambda: ["a"]) == ["a"]


def test_forget_makes_the_next_read_load() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope():
        lookups.read("t", load)
        lookups.forget("t")
        assert lookups.peek("t") is None
        lookups.read("t", load)
        assert load.calls == 2


def test_fresh_reads_anew_and_what_it_reads_serves_the_rest_of_the_run() -> None:
    lookups = Lookups()
    values = iter([["v1"], ["v2"], ["v3"]])
    with lookups.scope():
        assert lookups.table("t", lambda: next(values)) == ["v1"]
        lookups.remember("m", "k", 1)
        with lookups.fresh():
            assert lookups.afresh
            assert lookups.table("t", lambda: next(values)) == ["v2"]
            assert lookups.recall("m", "k") is None  # maps are not consulted
        assert not lookups.afresh
        assert lookups.table("t", lambda: next(values)) == ["v2"]
        assert lookups.recall("m", "k") == 1


def test_fresh_is_per_thread() -> None:
    lookups = Lookups()
    seen: list[bool] = []
    with lookups.scope(), lookups.fresh():
        other = threading.Thread(target=lambda: seen.append(lookups.afresh))
        other.start()
        other.join(WAIT)
        assert lookups.afresh
    assert seen == [False]


def test_maps_remember_recall_and_drop() -> None:
    lookups = Lookups()
    with lookups.scope():
        assert lookups.recall("ids", "a") is None
        lookups.remember("ids", "a", "1")
        lookups.remember("ids", "b", "2")
        lookups.drop("ids", "a")
        lookups.drop("ids", "zzz")
        assert (lookups.recall("ids", "a"), lookups.recall("ids", "b")) == (None, "2")


def test_once_computes_once_per_key_per_run() -> None:
    lookups, load = Lookups(), Loader()
    with lookups.scope():
        lookups.once("ensure", "mkt", load)
        lookups.once("ensure", "mkt", load)
        lookups.once("ensure", "txn", load)
    assert load.calls == 2


@pytest.mark.parametrize("size", [-1, 1.5, "3", True])
def test_a_bad_size_is_refused_before_the_run_opens(size: Any) -> None:
    lookups = Lookups()
    with pytest.raises(ValidationError) as info, lookups.scope(size=size):
        pass
    assert info.value.field == "size"
    assert not lookups.active
    acct = espkit.connect("sandbox", path=":memory:")
    with pytest.raises(ValidationError), acct.batch(size=size):
        pass
    assert not acct.provider.lookups.active


@pytest.mark.parametrize("size", [0, 1, 50_000, None])
def test_batch_takes_whole_sizes_and_hands_back_the_account(size: int | None) -> None:
    acct = espkit.connect("sandbox", path=":memory:")
    with acct.batch(size=size) as same:
        assert same is acct
        assert acct.provider.lookups.active
        assert acct.provider.lookups.size == size
    assert not acct.provider.lookups.active


def test_a_run_ends_even_when_its_body_raises() -> None:
    acct = espkit.connect("sandbox", path=":memory:")
    with pytest.raises(RuntimeError), acct.batch(size=2):
        raise RuntimeError("boom")
    assert not acct.provider.lookups.active


# -- a property: loads are bounded by the keys found stale ---------------------------------

ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("read"), st.sampled_from(["t", "u"])),
    st.tuples(st.just("stale"), st.sampled_from(["t", "u"]), st.sampled_from("abc")),
    st.tuples(st.just("edit"), st.sampled_from(["t", "u"])),
    st.tuples(st.just("forget"), st.sampled_from(["t", "u"])),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_loads_never_exceed_one_per_table_plus_its_stale_keys_and_forgets(actions: list[Any]
                                                                          ) -> None:
    lookups = Lookups()
    loads = {"t": Loader(), "u": Loader()}
    last: dict[str, Any] = {}
    stale_keys: dict[str, set[str]] = {"t": set(), "u": set()}
    forgets = {"t": 0, "u": 0}
    with lookups.scope():
        for action in actions:
            name = action[1]
            if action[0] == "read":
                last[name] = lookups.read(name, loads[name])
            elif action[0] == "stale" and name in last:
                if lookups.stale(name, last[name], action[2]):
                    stale_keys[name].add(action[2])
            elif action[0] == "edit":
                lookups.edit(name, lambda v: [*v, "e"])
            elif action[0] == "forget":
                lookups.forget(name)
                forgets[name] += 1
        for name, load in loads.items():
            assert load.calls <= 1 + len(stale_keys[name]) + forgets[name]
            value = lookups.peek(name)
            assert value is None or value[0] == "a"  # an edit never loses the loaded value

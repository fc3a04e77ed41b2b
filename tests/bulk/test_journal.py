"""The journal: a model-based property test (any sequence of steps, crashes included) and
the edge cases a user meets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

import espkit
from espkit.bulk import DONE, FAILED, INFLIGHT, PENDING, Journal

KEYS = st.sampled_from([f"d{i}.example.com" for i in range(12)])


class JournalModel(RuleBasedStateMachine):
    """Steps a bulk run takes, plus crashes (close without warning, reopen), checked
    against a dict of what each item's state must be."""

    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, str] = {}
        self.payloads: dict[str, dict[str, object]] = {}

    @initialize()
    def open(self) -> None:
        import tempfile

        self.dir = tempfile.mkdtemp()
        self.path = str(Path(self.dir) / "j.db")
        self.journal = Journal(self.path)

    @rule(target=keys, key=KEYS, size=st.integers(1, 3))
    def add(self, key: str, size: int) -> str:
        payload = {"name": key, "size": size}
        self.journal.add([(key, payload)])
        if key not in self.model:
            self.model[key] = PENDING
            self.payloads[key] = payload
        elif self.model[key] in (PENDING, FAILED):
            self.payloads[key] = payload  # fixed input replaces what is not finished
        return key

    @rule(key=keys)
    def start(self, key: str) -> None:
        self.journal.start(key)
        self.model[key] = INFLIGHT

    @rule(key=keys)
    def finish(self, key: str) -> None:
        self.journal.finish(key, "created")
        self.model[key] = DONE

    @rule(key=keys)
    def fail(self, key: str) -> None:
        self.journal.fail(key, espkit.ServerError("down", provider="sandbox", status=503))
        self.model[key] = FAILED

    @rule(key=consumes(keys))
    def release(self, key: str) -> None:
        self.journal.release(key)
        self.model[key] = PENDING

    @rule()
    def crash(self) -> None:
        # what a kill -9 leaves is what was committed: reopen from the file
        self.journal.close()
        self.journal = Journal(self.path)

    @rule(batch=st.integers(1, 5))
    def entries_are_in_input_order_and_state(self, batch: int) -> None:
        for state in (PENDING, INFLIGHT, DONE, FAILED):
            got = [e.key for e in self.journal.entries(state, batch=batch)]
            assert sorted(got) == sorted(k for k, s in self.model.items() if s == state)
            seqs = [e.seq for e in self.journal.entries(state, batch=batch)]
            assert seqs == sorted(seqs)

    @invariant()
    def states_match(self) -> None:
        if not hasattr(self, "journal"):
            return
        counts = self.journal.counts()
        assert sum(counts.values()) == len(self.model)
        for state in counts:
            assert counts[state] == sum(1 for s in self.model.values() if s == state)
        for key, state in self.model.items():
            entry = self.journal.get(key)
            assert entry is not None
            assert entry.state == state
            assert entry.payload == self.payloads[key]

    def teardown(self) -> None:
        if hasattr(self, "journal"):
            self.journal.close()


TestJournalModel = JournalModel.TestCase
TestJournalModel.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_a_failed_add_leaves_nothing_behind(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "j.db"))

    def rows() -> object:
        yield "a.example.com", {}
        raise ValueError("bad row 2")

    with pytest.raises(ValueError, match="bad row 2"):
        journal.add(rows())  # type: ignore[arg-type]
    assert journal.counts()[PENDING] == 0


def test_outcomes_and_error_text_are_kept(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "j.db"))
    journal.add([("a.example.com", {}), ("b.example.com", {})])
    journal.finish("a.example.com", "existed")
    journal.fail("b.example.com", espkit.Rejected("bad name", provider="mailgun", status=400))
    assert journal.outcomes() == {"existed": 1, "failed": 1}
    entry = journal.get("b.example.com")
    assert entry is not None
    assert entry.error_type == "Rejected"
    assert "bad name" in (entry.error or "")


def test_a_file_that_is_not_a_journal_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(espkit.ConfigError, match=r"notes.txt is not an espkit journal"):
        Journal(str(bogus))


def test_journal_is_durable_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    Journal(str(path)).add([("a.example.com", {})])
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

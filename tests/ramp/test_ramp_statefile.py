"""The state file: one decision a line, written atomically and only appended to; a hostile
file (bad YAML, wrong types, huge, a symbolic link, a FIFO) is a typed error with its line."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rampcase import ramp_of

from espkit.errors import UnreadableFile, ValidationError
from espkit.ramp import (
    Action,
    Decision,
    RampState,
    advance,
    dumps_state,
    hold,
    load_state,
    loads_state,
    save_state,
    state_path,
)
from espkit.ramp.statefile import MAX_DECISIONS, MAX_STATE_BYTES

_, RAMP = ramp_of()
DAY = date(2026, 3, 3)
GOOD = """\
version: 1
decisions:
- {ramp: "move", on: 2026-03-03, action: advance, step: 2, share: "5%", by: "ana", note: "ok"}
"""


def test_the_state_file_lives_beside_the_fleet_file() -> None:
    assert state_path("ops/fleet.yaml") == Path("ops/fleet.ramp-state.yaml")
    assert state_path("fleet.yml") == Path("fleet.ramp-state.yaml")
    assert state_path("fleet") == Path("fleet.ramp-state.yaml")


def test_one_decision_a_line_and_it_reads_back(tmp_path: Path) -> None:
    state = advance(RAMP, None, DAY, stats_rows=[], by="ana", note='said "go" \\ fine')
    state = hold(RAMP, state, DAY, by="Zoë", note="bounces 🙁")
    text = dumps_state(state)
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2
    assert lines[1] == ('- {ramp: "move", on: 2026-03-03, action: hold, step: 2, share: "5%", '
                        'by: "Zoë", note: "bounces 🙁"}')
    assert loads_state(text) == state
    path = tmp_path / "fleet.ramp-state.yaml"
    save_state(path, state)
    assert load_state(path) == state
    # the header's three lines, version, the decisions key, then one line each
    assert [d.line for d in load_state(path).decisions] == [6, 7]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


@settings(max_examples=30, deadline=None)
@given(by=st.text(max_size=20).filter(str.isprintable),
       note=st.text(max_size=60).filter(str.isprintable), forced=st.booleans())
def test_any_printable_note_reads_back(by: str, note: str, forced: bool) -> None:
    state = RampState((Decision("move", Action.ADVANCE, DAY, 2, 50_000, by, note, forced),))
    assert loads_state(dumps_state(state)) == state


def test_no_file_is_no_decisions(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.yaml") == RampState()
    with pytest.raises(UnreadableFile, match="does not exist"):
        load_state(tmp_path / "none.yaml", missing_ok=False)
    assert loads_state("") == RampState()
    assert loads_state("version: 1\ndecisions:\n") == RampState()
    assert loads_state("version: 1\ndecisions: []\n") == RampState()


def test_the_log_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    first = advance(RAMP, None, DAY, stats_rows=[])
    save_state(path, first)
    save_state(path, hold(RAMP, first, DAY))  # appending: fine
    with pytest.raises(ValidationError, match="append-only"):
        save_state(path, first)  # would drop the hold
    other = advance(RAMP, None, DAY, stats_rows=[], note="rewritten")
    with pytest.raises(ValidationError, match="append-only"):
        save_state(path, hold(RAMP, other, DAY))
    assert load_state(path) == hold(RAMP, first, DAY)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("version: 1\ndecisions: [\n", 3, "not readable YAML"),
    ("- 1\n", 1, "must be a mapping"),
    ("version: 2\ndecisions: []\n", 1, "must be 1"),
    ("version: '1'\n", 1, "must be 1"),
    ("decisions: []\n", 1, "must be 1"),
    ("version: 1\nextra: 1\n", 2, "version and decisions"),
    ("version: 1\ndecisions: {a: 1}\n", 2, "list of decisions"),
    ("version: 1\ndecisions:\n- 5\n", 3, "each decision is a mapping"),
    (GOOD.replace("step: 2", "step: two"), 3, "whole number"),
    (GOOD.replace("step: 2", "step: '2'"), 3, "whole number"),
    (GOOD.replace("step: 2", "step: -2"), 3, "whole number"),
    (GOOD.replace("on: 2026-03-03", "on: 2026-02-30"), 3, "YYYY-MM-DD"),
    (GOOD.replace("on: 2026-03-03", "on: tomorrow"), 3, "YYYY-MM-DD"),
    (GOOD.replace("action: advance", "action: jump"), 3, "must be one of"),
    (GOOD.replace('share: "5%"', "share: 5"), 3, "percentage"),
    (GOOD.replace('share: "5%"', 'share: "500%"'), 3, "100%"),
    (GOOD.replace('ramp: "move"', "ramp: [a]"), 3, "nests"),
    ("version: [1]\n", 1, "single value"),
    (GOOD.replace('ramp: "move"', "ramp: 12"), 3, "text"),
    (GOOD.replace('ramp: "move"', 'ramp: "no spaces"'), 3, "ramp name"),
    (GOOD.replace('note: "ok"', 'note: "a\\nb"'), 3, "printable"),
    (GOOD.replace('note: "ok"', 'note: "ok", forced: yes'), 3, "true or false"),
    (GOOD.replace('note: "ok"', 'note: "ok", forced: "true"'), 3, "true or false"),
    (GOOD.replace('note: "ok"', 'note: "ok", colour: red'), 3, "is not one of"),
    (GOOD.replace('note: "ok"', 'note: "ok", note: "again"'), 3, "twice"),
    (GOOD.replace('ramp: "move", ', ""), 3, "lacks ramp"),
    (GOOD.replace('ramp: "move"', 'ramp: !!python/object:os.system "move"'), 3, "text"),
    ("version: 1\ndecisions:\n- {a: {b: {c: 1}}}\n", 3, "nests"),
    ("version: 1\n---\nversion: 1\n", 2, "YAML"),
])
def test_a_hostile_file_is_a_typed_error_with_its_line(text: str, line: int,
                                                       reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as caught:
        loads_state(text, "s.yaml")
    assert f"s.yaml line {line}" in str(caught.value)


def test_the_good_file_of_the_hostile_cases_reads() -> None:
    (decision,) = loads_state(GOOD).decisions
    assert (decision.ramp, decision.action, decision.step, decision.share, decision.by) == (
        "move", Action.ADVANCE, 2, 50_000, "ana")


def test_size_and_count_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_STATE_BYTES + 1))
    with pytest.raises(UnreadableFile, match="bytes"):
        load_state(big)
    big.write_text("#" * MAX_STATE_BYTES)  # at the bound: read (a comment is no decisions)
    assert load_state(big) == RampState()
    many = "version: 1\ndecisions:\n" + "- {}\n" * (MAX_DECISIONS + 1)
    with pytest.raises(ValidationError, match="at most"):
        loads_state(many)
    bomb = "a: &a [" + ",".join(["x"] * 10) + "]\n" + "".join(
        f"b{n}: &b{n} [*{'a' if n == 0 else f'b{n - 1}'}]\n" for n in range(40))
    with pytest.raises(ValidationError):
        loads_state(bomb)
    over = RampState(tuple(Decision("move", Action.HOLD, DAY, 1, 10_000, note="x" * 500)
                           for _ in range(MAX_DECISIONS)))
    with pytest.raises(ValidationError, match="bytes"):
        save_state(tmp_path / "over.yaml", over)
    assert not (tmp_path / "over.yaml").exists()


def test_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(GOOD)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    with pytest.raises(UnreadableFile, match="symbolic link"):
        load_state(link)
    with pytest.raises(UnreadableFile, match="symbolic link"):
        save_state(link, loads_state(GOOD))
    assert real.read_text() == GOOD  # the link's target was not written through
    with pytest.raises(UnreadableFile, match="not a regular file"):
        load_state(tmp_path)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="not a regular file"):
        load_state(fifo)


def test_bytes_that_are_not_utf8_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"version: 1\ndecisions:\n- {by: \xff}\n")
    with pytest.raises(ValidationError, match=r"s\.yaml line 3"):
        load_state(path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    path = tmp_path / "s.yaml"
    first = advance(RAMP, None, DAY, stats_rows=[])
    save_state(path, first)
    before = path.read_text()

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, hold(RAMP, first, DAY))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


LINES = st.sampled_from([
    "version: 1", "decisions:", "- {ramp: move, on: 2026-03-03, action: hold, step: 1, "
    "share: '1%'}", "- {ramp: move}", "  - x", "&a [*a]", "- *a", "!!binary AAAA", "- {}",
    "version: [1]", "decisions: []", "on: 2026-13-40", "- {step: 99999}", "'", "\"", "{",
    "- [", "? x", "--- ", "...", "%YAML 1.1", "\t", "# note"])


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(LINES, max_size=8), noise=st.text(max_size=20))
def test_any_text_gives_a_state_or_a_validation_error(lines: list[str], noise: str) -> None:
    text = "\n".join([*lines, noise])
    refused = ""
    try:
        state = loads_state(text, "s.yaml")
    except ValidationError as exc:
        refused = str(exc)
    if refused:
        assert "s.yaml" in refused  # every refusal names the file (and its line)
    else:
        assert loads_state(dumps_state(state)) == state

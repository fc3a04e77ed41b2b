"""``parse_ramps``: the ``ramps:`` section read into ``Ramp`` values, and every problem with
its path and line, as the fleet loader will report them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rampcase import FLEET, RAMP, SALT, load, ramp_of

from espkit.ramp import PPM, Guardrails, RoutingKey, WarmupSpec, parse_ramps
from espkit.warmup import schedule

FIRST = FLEET.count("\n") + 1  # the line of "ramps:"


def problems_of(ramps_text: str, fleet_text: str = FLEET) -> list[tuple[str, str, int | None]]:
    ramps, problems = load(fleet_text, ramps_text)[1:]
    assert problems
    assert ramps == () or all(r.name != "move" for r in ramps)
    return problems


def edit(old: str, new: str, text: str = RAMP) -> str:
    assert old in text
    return text.replace(old, new)


def test_a_valid_ramp() -> None:
    _, ramp = ramp_of(edit("    daily_volume: {news: 10000}\n", """\
    daily_volume: {news: 10000}
    key: domain
    warmup: {schedule: sendgrid-hourly, started: 2026-02-27}
    guardrails: {max_bounce_rate: 1.5%, max_complaint_rate: 0.05%, min_sent: 1, window_days: 90}
    description: the EU move
"""))
    assert (ramp.name, ramp.from_connection, ramp.to_connection) == ("move", "old", "new")
    assert ramp.streams == (("news", "news-new"),)
    assert ramp.steps == (10_000, 50_000, 250_000, 500_000, PPM)
    assert (ramp.start, ramp.key, ramp.derived) == (date(2026, 3, 2), RoutingKey.DOMAIN, False)
    assert ramp.salt.reveal() == SALT
    assert SALT not in repr(ramp)
    assert ramp.warmup == WarmupSpec("sendgrid-hourly", date(2026, 2, 27))
    assert ramp.guardrails == Guardrails(15_000, 500, 1, 90)
    assert ramp.volume("news") == 10_000
    assert ramp.line == FIRST + 1


def test_no_section_is_no_ramps_and_a_bad_one_is_a_problem() -> None:
    fleet, _ = ramp_of()
    assert parse_ramps(None, lambda path: None, fleet) == ((), [])
    assert parse_ramps([1], lambda path: 7, fleet) == (
        (), [("ramps", "must be a mapping of ramp names to ramps", 7)])


@pytest.mark.parametrize(("old", "new", "path", "message", "line"), [
    ("    steps:", "    stepz:", "ramps.move.stepz", "did you mean 'steps'", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[1%, 5%, 5%, 100%]", "ramps.move.steps[2]", "rise", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[0%, 5%]", "ramps.move.steps[0]", "above 0%", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[1%, 100.0001%]", "ramps.move.steps[1]", "at most 100%", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[1, 5]", "ramps.move.steps[0]", "'5%'", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[0.00001%]", "ramps.move.steps[0]", "four decimals", 6),
    ("[1%, 5%, 25%, 50%, 100%]", "[]", "ramps.move.steps", "1 to 1000", 6),
    ("    steps: [1%, 5%, 25%, 50%, 100%]\n", "", "ramps.move", "either steps", 2),
    ("    steps: [1%, 5%, 25%, 50%, 100%]\n", "    steps: [1%]\n    schedule: warmup\n",
     "ramps.move", "either steps", 2),
    ("    steps: [1%, 5%, 25%, 50%, 100%]\n", "    schedule: fast\n", "ramps.move.schedule",
     "only schedule is warmup", 6),
    ("start: 2026-03-02", "start: '2026-13-01'", "ramps.move.start", "YYYY-MM-DD", 7),
    ("start: 2026-03-02", "start: 2026-03-02 10:00:00", "ramps.move.start", "YYYY-MM-DD", 7),
    ("    start: 2026-03-02\n", "", "ramps.move", "lacks start", 2),
    ("from: old", "from: olde", "ramps.move.from", "did you mean 'old'", 3),
    ("to: new", "to: old", "ramps.move.to", "a ramp moves between two", 4),
    ("{news: news-new}", "{news: mail}", "ramps.move.streams.news", "not the ramp's to", 5),
    ("{news: news-new}", "{news: news-new, mail: news-new}", "ramps.move.streams.mail",
     "already a stream of this ramp", 5),
    ("{news: news-new}", "{news: newz}", "ramps.move.streams.news", "unknown stream 'newz'", 5),
    ("{news: news-new}", "{news-new: news}", "ramps.move.streams.news-new", "connection", 5),
    ("{news: news-new}", "{}", "ramps.move.streams", "must map", 5),
    ("    daily_volume: {news: 10000}\n", "    daily_volume: {mail: 5}\n",
     "ramps.move.daily_volume.mail", "not one of this ramp's streams", 9),
    ("{news: 10000}", "{news: -1}", "ramps.move.daily_volume.news", "0 to", 9),
    ("    daily_volume: {news: 10000}\n", "    key: email\n", "ramps.move.key",
     "recipient, customer or domain", 9),
    ("    daily_volume: {news: 10000}\n", "    warmup: slow\n", "ramps.move.warmup",
     "unknown warmup schedule", 9),
    ("    daily_volume: {news: 10000}\n", "    warmup: {schedule: conservative, at: 1}\n",
     "ramps.move.warmup.at", "unknown key", 9),
    ("    daily_volume: {news: 10000}\n", "    guardrails: {max_bounce: 2%}\n",
     "ramps.move.guardrails.max_bounce", "did you mean 'max_bounce_rate'", 9),
    ("    daily_volume: {news: 10000}\n", "    guardrails: {max_bounce_rate: 0%}\n",
     "ramps.move.guardrails.max_bounce_rate", "above 0%", 9),
    ("    daily_volume: {news: 10000}\n", "    guardrails: {max_complaint_rate: 101%}\n",
     "ramps.move.guardrails.max_complaint_rate", "at most 100%", 9),
    ("    daily_volume: {news: 10000}\n", "    guardrails: {min_sent: 0}\n",
     "ramps.move.guardrails.min_sent", "1 to", 9),
    ("    daily_volume: {news: 10000}\n", "    guardrails: {window_days: 91}\n",
     "ramps.move.guardrails.window_days", "1 to 90", 9),
    ("    daily_volume: {news: 10000}\n", "    description: 5\n", "ramps.move.description",
     "text", 9),
])
def test_each_problem_has_its_path_and_line(old: str, new: str, path: str, message: str,
                                            line: int) -> None:
    problems = problems_of(edit(old, new))
    assert any(p == path and message in m and at == FIRST + line - 1
               for p, m, at in problems), problems


def test_the_steps_of_a_block_list_point_at_their_own_lines() -> None:
    text = edit("    steps: [1%, 5%, 25%, 50%, 100%]\n",
                "    steps:\n      - 1%\n      - 5%\n      - 4%\n")
    assert problems_of(text) == [("ramps.move.steps[2]", "'4%' does not rise above the step "
                                  "before it: steps rise strictly (hold to stay)", FIRST + 8)]


@pytest.mark.parametrize("salt", ['"short"', '"fifteen-chars-x"', '"has a space in it!!"',
                                  "123456789012345",
                                  '"caf\u00e9-caf\u00e9-caf\u00e9-caf\u00e9"'])
def test_a_bad_salt_is_a_problem_that_never_shows_it(salt: str) -> None:
    problems = problems_of(edit(f'salt: "{SALT}"', f"salt: {salt}"))
    assert [(p, at) for p, _, at in problems] == [("ramps.move.salt", FIRST + 7)]
    shown = salt.strip('"')
    assert all(shown not in m for _, m, _ in problems)
    assert "16 to 256" in problems[0][1]


def test_a_salt_of_sixteen_characters_is_enough() -> None:
    _, ramp = ramp_of(edit(f'salt: "{SALT}"', 'salt: "sixteen-chars-xx"'))
    assert ramp.salt.reveal() == "sixteen-chars-xx"


def test_names_duplicates_and_streams_taken_by_another_ramp() -> None:
    second = FIRST + RAMP.count("\n")  # the line of the second ramp's name
    again = RAMP.replace("  move:", "  Move:")[len("ramps:\n"):]
    assert ("ramps.Move", "ramp 'Move' differs from ramp 'move' only in case", second) \
        in load(FLEET, RAMP + again)[2]
    other = RAMP.replace("  move:", "  again:")[len("ramps:\n"):]
    _, ramps, problems = load(FLEET, RAMP + other)
    assert [r.name for r in ramps] == ["move"]
    assert problems == [("ramps.again.streams.news",
                         f"stream 'news' is already moved by another ramp (line {FIRST + 4})",
                         second + 3)]
    bad = problems_of(RAMP.replace("  move:", "  'bad name':"))
    assert bad[0][:2] == ("ramps.bad name", "'bad name' is not a ramp name: 1-64 letters, "
                          "digits, '.', '_' or '-', starting with a letter or digit")
    assert problems_of(RAMP.replace("  move:\n", "  move: 5\n  x:\n"))[0][0] == "ramps.move"


@pytest.mark.parametrize(("count", "named"), [
    (5, "'c0', 'c1', 'c2', 'c3', 'c4' send"),
    (7, "'c0', 'c1', 'c2', 'c3', 'c4' and 2 more send"),
])
def test_every_customer_of_the_old_stream_needs_the_twin(count: int, named: str) -> None:
    fleet_text = FLEET + "".join(f"  - {{name: c{n}, domain: c{n}.com, streams: [news]}}\n"
                                 for n in range(count))
    problems = problems_of(RAMP, fleet_text)
    ((path, message, line),) = problems
    assert path == "ramps.move.streams.news"
    assert message.startswith(f"customer(s) {named} on 'news' but have no domain of "
                              "'news-new'")
    assert line == fleet_text.count("\n") + 5


def test_a_domain_on_another_connection_than_its_side_is_a_problem() -> None:
    fleet_text = FLEET + ("  - {name: odd, domain: odd.com, connection: new, streams: [news, "
                          "news-new], overrides: {news: {pool: mkt-new}}}\n")
    # odd's news domain is on `new`, but the ramp's news side is `old`
    problems = problems_of(RAMP, fleet_text)
    assert any("'news.odd.com' (on 'new', not 'old')" in m for _, m, _ in problems), problems


DERIVED = edit("    steps: [1%, 5%, 25%, 50%, 100%]\n", "    schedule: warmup\n")


def test_steps_derived_from_the_warmup_schedule() -> None:
    _, ramp = ramp_of(DERIVED)
    sched = schedule("conservative")
    expected = []
    for day in range(1, 100):
        cap = sched.capacity(day, 2)  # the new side's two IPs
        assert cap is not None
        expected.append(min(PPM, cap * PPM // 10_000))
        if expected[-1] == PPM:
            break
    assert ramp.derived
    assert ramp.steps == tuple(expected)
    assert ramp.steps[-1] == PPM
    assert ramp.steps[-2] < PPM  # the day before, the IPs could not carry it all
    later = ramp_of(DERIVED.replace("start: 2026-03-02",
                                    "start: 2026-03-02\n    warmup: {started: 2026-02-28}"))[1]
    assert later.steps == ramp.steps[2:]  # warm for two days already: two steps ahead


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    daily_volume: {news: 10000}\n", "", "daily_volume"),
    ("{news: 10000}", "{news: 100000000}", "need 17 IPs, have 2"),
    ("{news: 10000}", "{news: 1000000000000}", "under one part per million"),
])
def test_a_warmup_that_cannot_carry_the_volume_is_a_problem(old: str, new: str,
                                                            message: str) -> None:
    problems = problems_of(edit(old, new, DERIVED))
    assert any(p == "ramps.move.schedule" and message in m for p, m, _ in problems), problems


def test_a_derived_ramp_needs_dedicated_ips_on_the_new_side() -> None:
    fleet_text = FLEET.replace("news-new: {connection: new, pool: mkt-new,",
                               "news-new: {connection: new,")
    problems = problems_of(DERIVED, fleet_text)
    assert any("no dedicated IPs" in m for _, m, _ in problems), problems


def test_the_example_in_the_model_docstring_is_a_valid_ramp() -> None:
    import textwrap

    import espkit.ramp.model

    doc = espkit.ramp.model.__doc__ or ""
    example = textwrap.dedent(doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]) + "\n"
    streams, ramps = example.split("ramps:\n")
    fleet_text = """\
version: 1
default_connection: mailgun
connections:
  mailgun: {provider: sandbox, path: ":memory:", like: mailgun}
  sendgrid: {provider: sandbox, path: ":memory:", like: sendgrid}
pools:
  mkt: {connection: mailgun, ips: [198.51.100.1]}
  sg-mkt: {connection: sendgrid, ips: [198.51.100.2]}
""" + streams + "customers:\n  - {name: acme, domain: acme.com}\n"
    _, ramp = ramp_of("ramps:\n" + ramps, fleet_text)
    assert (ramp.name, ramp.streams, len(ramp.steps)) == ("to-sendgrid", (("news", "news-sg"),),
                                                          9)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**7), st.text(max_size=12),
                    st.sampled_from(["old", "new", "news", "news-new", "mail", "5%", "100%",
                                     "2026-03-02", SALT, "warmup", "recipient"]),
                    st.dates(date(2025, 1, 1), date(2027, 1, 1)))
KEYS_ = st.sampled_from(["from", "to", "streams", "key", "steps", "schedule", "warmup",
                         "daily_volume", "start", "salt", "guardrails", "news", "min_sent",
                         "max_bounce_rate", "started", "x"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS_, inner, max_size=6)), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(section=st.one_of(VALUES, st.dictionaries(st.text(max_size=8), st.dictionaries(
    KEYS_, VALUES, max_size=10), max_size=3)))
def test_any_section_gives_ramps_or_problems_never_an_exception(section: object) -> None:
    fleet, _ = FUZZ_CASE
    ramps, problems = parse_ramps(section, lambda path: 1, fleet)
    assert all(isinstance(p, str) and isinstance(m, str) and m for p, m, _ in problems)
    assert all(SALT not in m for p, m, _ in problems if p.endswith(".salt"))
    if not isinstance(section, dict) or not section:
        assert ramps == ()


FUZZ_CASE = ramp_of()

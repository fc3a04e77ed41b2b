"""The fleet loader is bounded: a fleet file may come from anyone who can open a pull
request, and ``espkit plan`` reads it in CI. Alias bombs, deep nesting, huge numbers, device
files and hostile CSV files are typed problems with their file and line, found in a fixed
work and memory budget, and never quote a file that is not the fleet file or its customers.

Work is counted in function calls (``support.work``), not timed: a count is the same on a
loaded CI machine as on a quiet one. A bomb's budget is the work of loading the sample fleet
``full.yaml``; "not quadratic" compares the work of an input with that of one several times
larger. ``benchmarks/hostile_inputs.py`` prints the seconds these inputs take.

The fuzz tests at the end (structure and text mutations, alias bombs) hold one property:
``fleet.loads`` returns a ``Fleet`` or raises ``ConfigError`` within a work and memory budget.
Every finding they made is a named regression test above them. ``ESPKIT_FUZZ_EXAMPLES``
raises their example counts for a longer run; ``-s`` prints what ran and what came out.
"""

from __future__ import annotations

import collections
import functools
import os
import string
import sys
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.work import calls, ratio

from espkit import fleet
from espkit.errors import ConfigError, UnreadableFile
from espkit.fleet import Fleet, FleetFileError, Problem, reader
from espkit.fleet import customers as customers_module

FLEETS = Path(__file__).parents[1] / "data" / "fleets"
HEAD = 'version: 1\nconnections:\n  main: {provider: sandbox, path: ":memory:"}\n'  # 3 lines
STREAMS = "streams:\n  marketing: {domain: 'news.{domain}'}\n"  # 2 lines
EXAMPLES = int(os.environ.get("ESPKIT_FUZZ_EXAMPLES", "0"))  # 0: the bounded defaults
#: what the fuzz tests ran and what came out, printed at the end of the module (-s)
SEEN: collections.Counter[str] = collections.Counter()


def fuzz(default: int) -> settings:
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    fleet.load(FLEETS / "full.yaml")  # imports and provider entry points: not counted below
    yield
    if SEEN:
        print("\nfuzz inputs:", ", ".join(f"{k}={v}" for k, v in sorted(SEEN.items())))


@functools.cache
def sample_work() -> int:
    """The calls loading the sample fleet ``full.yaml`` (1.5 KB, every section) makes: the
    yardstick of the work budgets below (about 25,000)."""
    fleet.load(FLEETS / "full.yaml")
    return calls(lambda: fleet.load(FLEETS / "full.yaml"))[1]


def measured(text: str, base_dir: Path | str = ".", trust: fleet.Trust | None = None
             ) -> tuple[Fleet | ConfigError, int, int]:
    """What ``fleet.loads`` gave (a Fleet or the ConfigError), the calls it made and its
    peak bytes. Anything else it raises fails the test as it is."""
    def load() -> Fleet | ConfigError:
        try:
            return fleet.loads(text, base_dir=base_dir, trust=trust)
        except ConfigError as exc:
            return exc

    tracemalloc.start()
    try:
        out, work = calls(load)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, work, peak


def problems(text: str, base_dir: Path | str = ".") -> list[Problem]:
    with pytest.raises(FleetFileError) as info:
        fleet.loads(text, base_dir=base_dir)
    return info.value.problems


def one(text: str, base_dir: Path | str = ".") -> Problem:
    found = problems(text, base_dir)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def laughs(depth: int, width: int = 9, where: str = "customers:\n  - name: *a{last}\n") -> str:
    """The billion laughs: ``a0`` holds ``width`` strings, each ``a{i}`` ``width`` aliases
    of ``a{i-1}``; ``where`` uses the last one where the schema looks (line 5 + depth)."""
    lines = [f"  a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
    return HEAD + "x:\n" + "\n".join(lines) + "\n" + where.format(last=depth - 1)


# -- alias bombs, depth, size: refused before anything is built ----------------------------


def test_the_issues_600_byte_bomb_is_refused_at_its_alias_with_little_work() -> None:
    """Before: 526 bytes took 46 s and 627 MB (jsonschema formats errors from the expanded
    data); depth 9 would take gigabytes. Now less work than loading the sample fleet."""
    text = laughs(9)
    assert len(text) < 700
    out, work, peak = measured(text)
    assert isinstance(out, FleetFileError)
    [p] = out.problems
    # a3 holds 9**3 strings of 4 (27,064 in all): its third alias on line 9, in a4, passes
    # the floor of 100,000 values and characters
    assert p.line == 9, p
    assert "through YAML alias 'a3'" in p.message
    assert "values and characters" in p.message
    assert work < sample_work(), work
    assert peak < 3_000_000, peak
    assert "lol" not in str(out)


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6, 9, 12, 20])
@pytest.mark.parametrize(("where", "first_refused"), [
    ("customers:\n  - name: *a{last}\n", 5),                # the schema wants a string
    ("ownership: {{domains: *a{last}}}\n", 5),               # strings: valid at depth 2
    ("templates:\n  t: {{streams: *a{last}}}\n", 5),         # uniqueItems over the expansion
    ("y: &m {{k: *a{last}}}\nz: {{<<: [*m, *m, *m]}}\n", 4),  # merges copy what they merge
])
def test_alias_bombs_of_growing_depth_stay_within_budget(depth: int, where: str,
                                                         first_refused: int) -> None:
    """9**3 strings of 4 (27,064 values and characters) fit in the 100,000 floor, twice;
    9**4 do not, nor 9**3 four times over (once in y, three times merged into z)."""
    out, work, peak = measured(laughs(depth, where=where))
    assert isinstance(out, FleetFileError)  # x: is an unknown key, at the least
    assert work < sample_work(), (depth, work)
    assert peak < 5_000_000, (depth, peak)
    refused = any("values and characters" in p.message for p in out.problems)
    assert refused == (depth >= first_refused), str(out)


def test_a_string_aliased_thousands_of_times_is_refused() -> None:
    text = HEAD + "x:\n  s: &s " + "a" * 1000 + "\n  l: [" + ", ".join(["*s"] * 3000) + "]\n"
    p = problems(text)[0]
    assert p.line == 6
    assert "through YAML alias 's'" in p.message


def test_an_alias_chain_deeper_than_pythons_stack_is_refused_not_a_recursion_error() -> None:
    """Before: 2,000 chained one-item lists raised RecursionError from jsonschema's repr."""
    chain = "".join(f"  a{i}: &a{i} [{f'*a{i - 1}' if i else 1}]\n" for i in range(2000))
    p = problems(HEAD + "x:\n" + chain + "customers: [*a1999]\n")[0]
    # the document is level 1, x: 2, a30's list 3, holding a29's 30 levels: 33 > 32
    assert p.line == 5 + 30
    assert f"more than {reader.MAX_DEPTH} levels deep through YAML alias 'a29'" in p.message


def test_nesting_without_aliases_is_bounded_too() -> None:
    p = one(HEAD + "customers: " + "[" * 900 + "]" * 900 + "\n")
    assert p.line == 4
    assert "levels deep" in p.message


@pytest.mark.parametrize(("limit", "refused"), [(21, False), (20, True)])
def test_expansion_budget_boundary(monkeypatch: pytest.MonkeyPatch, limit: int,
                                   refused: bool) -> None:
    """Values and characters, aliases expanded: {a:[1,2], b:[*x,*x]} counts 1 + 2 + 1 + 2
    + 2 + 2 + 1 + 5 + 5 = 21."""
    monkeypatch.setattr(reader, "MAX_EXPANSION", 0)
    monkeypatch.setattr(reader, "MIN_EXPANDED", limit)
    r = reader.Reader("<t>", Path())
    assert r.measure("a: &x [1, 2]\nb: [*x, *x]\n", yaml.SafeLoader) is not refused
    assert [p.line for p in r.problems] == ([2] if refused else [])


@pytest.mark.parametrize(("limit", "refused"), [(13, False), (12, True)])
def test_node_cap_boundary(monkeypatch: pytest.MonkeyPatch, limit: int, refused: bool) -> None:
    monkeypatch.setattr(reader, "MAX_NODES", limit)  # 7 values written, 2 aliases of 3
    r = reader.Reader("<t>", Path())
    assert r.measure("a: &x [1, 2]\nb: [*x, *x]\n", yaml.SafeLoader) is not refused
    assert any("more than 12 values" in p.message for p in r.problems) is refused


@pytest.mark.parametrize(("limit", "refused"), [(4, False), (3, True)])
def test_depth_boundary_counts_what_an_alias_brings(monkeypatch: pytest.MonkeyPatch,
                                                    limit: int, refused: bool) -> None:
    monkeypatch.setattr(reader, "MAX_DEPTH", limit)  # b's list (2) holds x's two levels
    r = reader.Reader("<t>", Path())
    assert r.measure("a: &x [[1]]\nb: [*x]\n", yaml.SafeLoader) is not refused


def test_the_budget_scales_with_the_text_and_has_a_fixed_ceiling(
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = "x: [" + ", ".join(["1"] * 60_000) + "]\n"  # 180,000 characters: budget 1.8M
    text = big + "y: &b [" + "2, " * 1000 + "]\nz: [" + "*b, " * 400 + "]\n"  # 925,000
    assert reader.Reader("<t>", Path()).measure(text, yaml.CSafeLoader)
    monkeypatch.setattr(reader, "MAX_EXPANDED", 500_000)
    assert not reader.Reader("<t>", Path()).measure(text, yaml.CSafeLoader)


@pytest.mark.parametrize(("extra", "refused"), [(0, False), (1, True)])
def test_fleet_text_size_boundary(monkeypatch: pytest.MonkeyPatch, extra: int,
                                  refused: bool) -> None:
    text = HEAD
    monkeypatch.setattr(reader, "MAX_FLEET_CHARS", len(text) - extra)
    if refused:
        assert f"{len(text)} characters long" in one(text).message
    else:
        assert fleet.loads(text).connections


# -- messages: from the fleet file, bounded ---------------------------------------------------


def test_schema_errors_never_quote_the_expanded_data() -> None:
    """A sub-budget expansion in the wrong place: the message says what it is, briefly."""
    text = HEAD + "x: &l [" + ", ".join(["secret-ish-value"] * 3000) + "]\ncustomers:\n"
    text += "".join("  - {name: *l}\n" for _ in range(1))
    out = problems(text)
    assert [p.message for p in out if p.path == "customers[0].name"] == [
        "expected a string, got a list"]
    assert len(str(FleetFileError("<t>", out))) < 400


def test_long_values_are_cut_in_messages_keeping_the_reason() -> None:
    key = "k" * 100_000  # an explicit key: YAML's implicit ones stop at 1,024 characters
    p = one(HEAD + f"? {key}\n: 1\n")
    assert p.message.startswith("unknown key 'kkkk")
    assert len(p.message) < 120
    p = one(HEAD + STREAMS + "customers:\n  - {name: a, domain: " + "x" * 200_000 + ".com}\n")
    assert len(p.message) <= reader.MAX_MESSAGE
    assert len(p.path) < 50
    assert p.message.startswith("invalid domain 'xxx")
    assert " ... " in p.message


def test_shorten_keeps_short_messages_and_both_ends_of_long_ones() -> None:
    exact = "m" * reader.MAX_MESSAGE
    assert reader.shorten(exact) == exact
    cut = reader.shorten("start" + "m" * reader.MAX_MESSAGE + "end")
    assert len(cut) == reader.MAX_MESSAGE
    assert cut.startswith("start")
    assert cut.endswith("end")


def test_excerpt_bounds_every_kind_of_value() -> None:
    assert reader.excerpt("x" * 80) == repr("x" * 80)
    assert reader.excerpt("x" * 81) == repr("x" * 77 + "...")
    assert reader.excerpt(10**100) == "a number too large to show"
    assert reader.excerpt(list(range(10**5))) == "a list of 100000"
    assert len(reader.excerpt(b"\x00" * 10**5)) == 80


def test_unique_items_is_linear() -> None:
    """Before: jsonschema compared every pair of unsortable items: 4,000 mappings in a
    streams list took 14 s to load (10,000: a minute and a half). Four times the items now
    cost four times the work (pairs would cost sixteen times)."""
    from espkit.fleet.schema_errors import validator

    def streams_of(n: int) -> dict[str, Any]:
        return {"version": 1, "connections": {"m": {"provider": "sandbox"}},
                "customers": [{"name": "a", "streams": [{"a": i} for i in range(n)]}]}

    small, large = streams_of(500), streams_of(2000)
    assert ratio(lambda: list(validator().iter_errors(small)),
                 lambda: list(validator().iter_errors(large))) < 6
    data = streams_of(10_000)
    errors = list(validator().iter_errors(data))
    assert len(errors) == 10_000
    assert {e.validator for e in errors} == {"type"}
    data["customers"][0]["streams"] = [{"a": 1}, "x", {"a": 1}]
    assert "uniqueItems" not in {e.validator for e in validator().iter_errors(data)}
    data["customers"][0]["streams"] = ["x", {"a": 1}, "x"]
    assert "uniqueItems" in {e.validator for e in validator().iter_errors(data)}


def test_a_repeated_stream_is_named_and_different_types_are_not_repeats() -> None:
    p = one(HEAD + STREAMS + "customers:\n  - {name: a, domain: a.com, "
                             "streams: [marketing, marketing]}\n")
    assert p.message == "lists 'marketing' twice"
    from espkit.fleet.schema_errors import first_repeat
    assert first_repeat([1, True, "1", {}, {}]) is None
    assert first_repeat([1, "a", 1.0]) == (1.0,)


def test_problems_stop_at_the_cap_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_PROBLEMS", 5)
    found = problems(HEAD + "customers: [1, 2, 3, 4, 5, 6, 7, 8]\n")
    assert found[0].message == "stopped after 5 problems: fix these and load it again"
    assert len(found) == 6
    monkeypatch.setattr(reader, "MAX_PROBLEMS", 8)
    found = problems(HEAD + "customers: [1, 2, 3, 4, 5, 6, 7, 8]\n")
    assert len(found) == 9
    assert found[0].message.startswith("stopped after 8")
    monkeypatch.setattr(reader, "MAX_PROBLEMS", 9)
    assert len(problems(HEAD + "customers: [1, 2, 3, 4, 5, 6, 7, 8]\n")) == 8


# -- numbers ------------------------------------------------------------------------------


def test_an_integer_of_5000_digits_is_a_problem_with_its_line() -> None:
    """Before: ValueError (Python's 4,300-digit limit) out of fleet.loads."""
    p = one(HEAD + "safety: {min_existing: " + "9" * 5000 + "}\n")
    assert (p.line, p.path) == (4, "safety.min_existing")
    assert "a number of 5,000 characters" in p.message


@pytest.mark.parametrize(("digits", "ok"), [(reader.MAX_NUMBER_CHARS, True),
                                            (reader.MAX_NUMBER_CHARS + 1, False)])
def test_number_length_boundary(digits: int, ok: bool) -> None:
    text = HEAD + "safety: {min_existing: " + "0" * digits + "}\n"  # YAML 1.1 octal: 0
    if ok:
        assert fleet.loads(text).safety.min_existing == 0
    else:
        p = one(text)
        assert f"a number of {digits} characters" in p.message
        assert "quote it" in p.message


def test_base_60_numbers_are_bounded_before_they_are_computed() -> None:
    # computed, its 200,000 parts would cost an int() call each; the length check is one
    # regular expression (one call, counted as such)
    out, work, _ = measured(HEAD + "safety: {min_existing: 1" + ":59" * 200_000 + "}\n")
    assert isinstance(out, FleetFileError)
    assert work < sample_work()
    assert "a number of 600,001 characters" in out.problems[0].message


@pytest.mark.parametrize(("value", "ok"), [
    (str(reader.MAX_NUMBER), True), (str(reader.MAX_NUMBER + 1), False),
    (".inf", False), ("-.inf", False), (".nan", False), ("1.0e+16", False),
])
def test_numbers_are_finite_and_bounded(value: str, ok: bool) -> None:
    text = HEAD + f"safety: {{min_existing: {value}}}\n"
    if ok:
        assert fleet.loads(text).safety.min_existing == int(value)
    else:
        p = one(text)
        assert (p.line, p.path) == (4, "safety.min_existing")
        assert "out of range" in p.message
        assert value in p.message


@pytest.mark.parametrize(("option", "value", "ok"), [
    ("rate_limit", "10000", True), ("rate_limit", "10000.5", False),
    ("rate_limit", "0.01", True), ("rate_limit", "0.009", False),
    ("timeout", "[3, 3600]", True), ("timeout", "[3, 3600.5]", False),
])
def test_connection_numbers_are_in_sane_ranges(option: str, value: str, ok: bool) -> None:
    text = f"version: 1\nconnections:\n  m:\n    provider: mailgun\n    {option}: {value}\n"
    if ok:
        assert fleet.loads(text).connections["m"].options[option]
    else:
        p = one(text)
        assert p.line == 5
        assert p.path.startswith(f"connections.m.{option}")
        assert "must be at" in p.message


@pytest.mark.parametrize(("value", "tag"), [
    ("!!bool maybe", "!!bool"), ("!!int x", "!!int"), ("!!float x", "!!float"),
    ("!!timestamp x", "!!timestamp"), ("2024-13-45", "!!timestamp"),
])
def test_scalars_yaml_cannot_construct_are_problems_not_tracebacks(value: str, tag: str) -> None:
    """Before: KeyError, ValueError, AttributeError out of fleet.loads."""
    p = one(HEAD + STREAMS + f"customers:\n  - {{name: {value}, domain: a.com}}\n")
    assert (p.line, p.path) == (7, "customers[0].name")
    assert p.message.endswith(f"as '{tag}': quote it if it is text")


def test_customer_names_hold_no_control_characters() -> None:
    p = one(HEAD + STREAMS + 'customers:\n  - {name: "a\\e[2Jb", domain: a.com}\n')
    assert (p.line, p.path) == (7, "customers[0].name")
    assert "control" in p.message
    assert fleet.loads(HEAD + STREAMS + 'customers:\n  - {name: "Ærø AS", domain: a.com}\n')


# -- customers CSV files --------------------------------------------------------------------


def csv_fleet(name: str) -> str:
    return HEAD + STREAMS + f"customers: {name}\n"  # customers: on line 6


@pytest.mark.parametrize(("path", "kind"), [
    ("/dev/zero", "a device"), ("/dev/null", "a device"), (".", "a directory"),
])
def test_customers_must_be_a_regular_file(tmp_path: Path, path: str, kind: str) -> None:
    """Even where the caller allowed the place, a device or directory is not read."""
    if not Path(path).exists():
        pytest.skip(f"no {path} here")
    # the caller allowed /dev (a fleet file alone may not name files outside its directory)
    out, work, peak = measured(csv_fleet(path), tmp_path, fleet.Trust(paths=("/dev",)))
    assert isinstance(out, FleetFileError)
    assert work < sample_work()
    assert peak < 1_000_000  # /dev/zero was not read up to the size cap
    [p] = out.problems
    assert (p.line, p.path) == (6, "customers")
    assert f"is {kind}, not a regular file" in p.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    result: list[object] = []

    def load() -> None:
        try:
            fleet.loads(csv_fleet("pipe.csv"), base_dir=tmp_path)
        except ConfigError as exc:
            result.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(30)  # a bound on a hang: refused at once, or blocked for good
    if worker.is_alive():  # unblock the reader so the thread ends
        with open(tmp_path / "pipe.csv", "w"):
            pass
        pytest.fail("loading a fleet whose customers file is a FIFO blocked")
    assert "is a named pipe, not a regular file" in str(result[0])


def test_a_file_swapped_after_the_check_is_refused(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.csv").write_text("name,domain\nacme,acme.com\n")
    (tmp_path / "other.csv").write_text("name,domain\nevil,evil.com\n")
    real_open = os.open

    def swap_then_open(path: Any, *args: Any, **kwargs: Any) -> int:
        os.replace(tmp_path / "other.csv", tmp_path / "c.csv")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", swap_then_open)
    p = one(csv_fleet("c.csv"), tmp_path)
    assert "changed while it was opened" in p.message
    assert "evil" not in p.message


@pytest.mark.parametrize(("extra", "ok"), [(0, True), (1, False)])
def test_csv_size_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: int,
                           ok: bool) -> None:
    data = b"name,domain\nacme,acme.com\n"
    (tmp_path / "c.csv").write_bytes(data)
    monkeypatch.setattr(customers_module, "MAX_CSV_BYTES", len(data) - extra)
    if ok:
        assert len(fleet.loads(csv_fleet("c.csv"), base_dir=tmp_path).customers) == 1
    else:
        assert f"is {len(data)} bytes: at most {len(data) - 1}" in one(csv_fleet("c.csv"),
                                                                       tmp_path).message


def test_a_file_longer_than_it_says_is_read_only_to_the_cap(tmp_path: Path) -> None:
    """/proc files say they are empty: reading stops at the cap all the same."""
    data = tmp_path / "data"
    data.write_bytes(b"x" * 70_000)  # more than one chunk
    assert customers_module.read_bounded(data, 70_000, "file") == b"x" * 70_000
    data.write_bytes(b"x" * 100)
    assert customers_module.read_bounded(data, 100, "file") == b"x" * 100
    with pytest.raises(UnreadableFile, match="is 100 bytes: at most 99"):
        customers_module.read_bounded(data, 99, "file")
    environ = Path("/proc/self/environ")
    if environ.exists():
        with pytest.raises(UnreadableFile, match="is over 10 bytes"):
            customers_module.read_bounded(environ, 10, "file")


@pytest.mark.parametrize(("content", "leak"), [
    ("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/sbin/nologin\n", "/bin/bash"),
    ("sk_live_A1b2C3d4E5f6\n", "sk_live"),
    ("PATH=/usr/bin\x00ESPKIT_SECRET=s3cr3t\x00", "s3cr3t"),
    ("domain,token\nacme.com,s3cr3t\n", "s3cr3t"),
])
def test_a_file_that_is_not_a_customers_csv_is_not_quoted(tmp_path: Path, content: str,
                                                          leak: str) -> None:
    """Before: ``customers: /etc/passwd`` echoed the file's first line as a column name."""
    (tmp_path / "f").write_text(content)
    fleet.loads(HEAD, base_dir=tmp_path)  # imports: not measured
    out, _, peak = measured(csv_fleet("f"), tmp_path)
    assert peak < 1_000_000  # a 16 MB read buffer was allocated up front for every file
    assert isinstance(out, FleetFileError)
    [p] = out.problems
    assert (p.file, p.line) == (str(tmp_path / "f"), 1)
    assert "no 'name' column" in p.message
    assert "not a customers CSV file" in p.message
    assert leak not in str(p)


def test_unknown_columns_are_quoted_only_when_they_look_like_names(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("name,domain,marketng,a/b:c\nacme,acme.com,,\n")
    found = problems(csv_fleet("c.csv"), tmp_path)
    assert [(p.path, p.message.split(":")[0]) for p in found] == [
        ("marketng", "unknown column 'marketng' (did you mean 'marketing'?)"),
        ("column 4", "not a column name"),
    ]
    assert "a/b" not in str(found)


@pytest.mark.parametrize(("size", "ok"), [(reader.MAX_CSV_CELL, True),
                                          (reader.MAX_CSV_CELL + 1, False)])
def test_csv_cell_boundary(tmp_path: Path, size: int, ok: bool) -> None:
    name = "n" * size
    (tmp_path / "c.csv").write_text(f"name,domain\n{name},acme.com\n")
    if ok:
        assert fleet.loads(csv_fleet("c.csv"), base_dir=tmp_path).customers[0].name == name
    else:
        p = one(csv_fleet("c.csv"), tmp_path)
        assert (p.line, p.path) == (2, "name")
        assert f"a cell of {size:,} characters" in p.message


def test_a_field_over_the_csv_modules_limit_is_a_problem_with_its_line(tmp_path: Path) -> None:
    """Before: ``_csv.Error: field larger than field limit (131072)`` out of fleet.loads."""
    (tmp_path / "c.csv").write_text("name,domain\nacme,acme.com\nb,\"" + "x" * 140_000 + "\"\n")
    p = one(csv_fleet("c.csv"), tmp_path)
    assert (p.file, p.line) == (str(tmp_path / "c.csv"), 3)
    assert "a cell is longer than" in p.message
    assert "xxx" not in p.message


@pytest.mark.parametrize(("rows", "ok"), [(3, True), (4, False)])
def test_csv_row_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int,
                          ok: bool) -> None:
    monkeypatch.setattr(customers_module, "MAX_CSV_ROWS", 3)
    body = "".join(f"c{i},c{i}.com\n" for i in range(rows))
    (tmp_path / "c.csv").write_text("name,domain\n# a comment\n" + body)
    if ok:
        assert len(fleet.loads(csv_fleet("c.csv"), base_dir=tmp_path).customers) == 3
    else:
        p = one(csv_fleet("c.csv"), tmp_path)
        assert p.line == 6
        assert "more than 3 customers" in p.message


@pytest.mark.parametrize(("columns", "ok"), [(3, True), (4, False)])
def test_csv_column_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int,
                             ok: bool) -> None:
    monkeypatch.setattr(customers_module, "MAX_CSV_COLUMNS", 3)
    header = ",".join(["name", "domain", "marketing", "template"][:columns])
    (tmp_path / "c.csv").write_text(header + "\nacme,acme.com\n")
    if ok:
        assert fleet.loads(csv_fleet("c.csv"), base_dir=tmp_path).customers
    else:
        assert "has 4 columns: at most 3" in one(csv_fleet("c.csv"), tmp_path).message


@pytest.mark.parametrize(("path", "why"), [
    ('"a\\0b.csv"', "cannot read customers file"),   # a NUL: ValueError from os.stat
    ("~no-such-user-espkit/c.csv", "not found"),     # RuntimeError from expanduser
    ("x" * 5000, "cannot read customers file"),      # ENAMETOOLONG
])
def test_odd_csv_paths_are_problems(tmp_path: Path, path: str, why: str) -> None:
    p = one(csv_fleet(path), tmp_path)
    assert (p.line, p.path) == (6, "customers")
    assert why in p.message
    assert len(p.message) < 400


# -- what the customers expand to --------------------------------------------------------------


@pytest.mark.parametrize(("customers", "ok"), [(2, True), (3, False)])
def test_domain_cap_boundary(monkeypatch: pytest.MonkeyPatch, customers: int, ok: bool) -> None:
    monkeypatch.setattr(customers_module, "MAX_DOMAINS", 4)  # 2 streams each
    text = HEAD + "streams: {m: {}, t: {}}\ncustomers:\n" + "".join(
        f"  - {{name: c{i}, domain: c{i}.com}}\n" for i in range(customers))
    if ok:
        assert len(list(fleet.loads(text).domains())) == 4
    else:
        p = one(text)
        assert (p.line, p.path) == (8, "customers[2]")
        assert "more than 4 sending" in p.message


def test_streams_times_customers_stop_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 streams and 1,000 customers in 40 KB would be a million domains (about 30 s:
    200,000, the real cap, take 6): the expansion stops where the cap is passed, so ten
    times the customers cost little more work than the cap itself (not ten times)."""
    monkeypatch.setattr(customers_module, "MAX_DOMAINS", 20_000)

    def text_of(customers: int) -> str:
        text = HEAD + "streams:\n" + "".join(f"  s{i}: {{}}\n" for i in range(1000))
        return text + "customers:\n" + "".join(f"  - {{name: c{i}, domain: c{i}.com}}\n"
                                               for i in range(customers))

    text = text_of(1000)
    p = one(text)
    assert p.path == "customers[20]"
    assert "more than 20,000 sending domains" in p.message
    small = text_of(100)
    assert ratio(lambda: problems(small), lambda: problems(text)) < 3


class Name(str):
    """A stream name whose comparisons are Python calls (a plain str compares inside one C
    call, which ``support.work`` cannot see): a list searched for it shows in the count."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)


def test_a_long_streams_list_is_not_quadratic() -> None:
    """A template listing 20,000 streams: each was looked for in the list so far (4 s of a
    6 s load; now a set). Four times the names cost four times the work, not sixteen."""
    from espkit.fleet.loader import Loader

    def settings_of(n: int) -> Any:
        names = [Name(f"s{i}") for i in range(n)]
        return lambda: Loader("<t>", Path()).settings({"streams": names + names[:10]},
                                                      ("templates", "t"), dict.fromkeys(names))

    assert ratio(settings_of(2000), settings_of(8000)) < 6
    names = [f"s{i}" for i in range(20_000)]
    settings = Loader("<t>", Path()).settings({"streams": names + names[:10]},
                                              ("templates", "t"), dict.fromkeys(names))
    assert settings.streams == names


def misspelt(streams: int, references: int) -> str:
    text = HEAD + "streams: {" + ", ".join(f"stream{i}: {{}}" for i in range(streams)) + "}\n"
    return text + "templates:\n  t: {streams: [" + ", ".join(
        f"strem{i}x" for i in range(references)) + "]}\n"


def test_misspelt_references_among_thousands_of_names_are_cheap() -> None:
    """Before: 2,000 streams and 200 misspelt references took 16 s ("did you mean" compared
    each with every name, and each message listed all 2,000)."""
    found = problems(misspelt(2000, 200))
    assert len(found) == 200
    assert all(len(p.message) < 300 for p in found)
    assert "(did you mean 'stream0'?)" in found[0].message  # the first ones still get a hint
    assert found[0].message.endswith("stream19, ... (2,000 in all)")


def test_the_hint_budget_bounds_the_work_of_many_misspelt_references(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the budget is spent, a misspelt reference costs its message only: ten times the
    references cost about the same work (without the budget: ten times as much)."""
    monkeypatch.setattr(reader, "MAX_HINT_COMPARISONS", 1000)  # two hints among 500 names
    few, many = misspelt(500, 20), misspelt(500, 200)
    assert ratio(lambda: problems(few), lambda: problems(many)) < 2
    hinted = [p for p in problems(many) if "did you mean" in p.message]
    assert len(hinted) == 2


@pytest.mark.parametrize(("budget", "hinted"), [(3, True), (2, False)])
def test_hint_budget_boundary(monkeypatch: pytest.MonkeyPatch, budget: int,
                              hinted: bool) -> None:
    monkeypatch.setattr(reader, "MAX_HINT_COMPARISONS", budget)
    assert reader.did_you_mean("strem", ["stream", "x", "y"]) != ""  # no load: no budget
    with reader.hint_budget():
        assert (reader.did_you_mean("strem", ["stream", "x", "y"]) != "") is hinted
        # what a refused call did not spend is left for the next one
        assert (reader.did_you_mean("strem", ["stream"]) != "") is not hinted


def test_listing_names_the_first_twenty_and_counts_the_rest() -> None:
    names = [f"n{i}" for i in range(21)]
    assert reader.listing(names[:20]) == ", ".join(names[:20])
    assert reader.listing(names) == ", ".join(names[:20]) + ", ... (21 in all)"
    assert reader.listing(iter(names)) == ", ".join(names[:20]) + ", ..."


# -- fuzzing -----------------------------------------------------------------------------------

TOP_KEYS = ["version", "connections", "default_connection", "ownership", "safety", "defaults",
            "pools", "streams", "templates", "customers"]
INNER_KEYS = ["provider", "path", "credentials", "region", "rate_limit", "timeout", "ips",
              "pool", "domain", "name", "template", "streams", "subaccount", "connection",
              "domains", "overrides", "options", "dkim_key_size", "max_delete", "min_existing",
              "<<", "main", "marketing", "acme"]
ODD_STRINGS = ["sandbox", ":memory:", "/dev/zero", "/etc/passwd", ".", "~", "{domain}", "{",
               "news.{domain}", "acme.com", "192.0.2.1", "30%", "env/X", "a\x00b", "\u202e",
               "x" * 2000, "faß.de", "*", "&a", "!!bool", "- a", "0123"]


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(),
        st.integers(), st.integers(min_value=10**40, max_value=10**4000),
        st.floats(), st.sampled_from(ODD_STRINGS), st.text(max_size=30),
    )


def documents() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.one_of(st.sampled_from(INNER_KEYS), st.text(min_size=1, max_size=12))
    values = st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=5),
                                st.dictionaries(keys, inner, max_size=5)),
        max_leaves=25,
    )
    return st.dictionaries(st.sampled_from(TOP_KEYS), values, max_size=8)


def check(text: str, suite: str, base_dir: Path | str = ".", samples: int = 20,
          peak: int = 30_000_000) -> None:
    """The property: a Fleet or a ConfigError, within the work of loading the sample fleet
    ``samples`` times and ``peak`` bytes (loose bounds: the inputs are small; a bomb or a
    loop would cost millions of calls)."""
    out, work, used = measured(text, base_dir)
    SEEN[f"{suite}.ran"] += 1
    SEEN[f"{suite}.{type(out).__name__}"] += 1
    if isinstance(out, FleetFileError):
        for p in out.problems:
            assert len(p.message) <= reader.MAX_MESSAGE
    assert work < samples * sample_work(), (work, text[:300])
    assert used < peak, (used, text[:300])


@fuzz(100)
@given(doc=documents(), flow=st.booleans(), valid_head=st.booleans())
def test_fuzz_structure(tmp_path: Path, doc: dict[str, Any], flow: bool,
                        valid_head: bool) -> None:
    if valid_head:  # often enough a valid start, so the later sections get checked
        doc = {"version": 1, "connections": {"main": {"provider": "sandbox",
                                                      "path": ":memory:"}}, **doc}
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, width=10**6)
    check(text, "structure", tmp_path)


SAMPLES = {name: (FLEETS / name).read_text() for name in ("full.yaml", "csv.yaml",
                                                            "errors.yaml")}
INSERTS = ("&*!|>-:{}[],#'\"\n \t%@?<=\\\x00\x1b\u00e9\u200b\ufeff" + string.ascii_letters
           + string.digits)


#: scalars YAML reads as something else than text, or cannot read at all
RAW_VALUES = ["!!bool maybe", "!!int x", "!!float x", "!!timestamp x", "2024-13-45",
              "9" * 5000, "0x" + "f" * 60, ".nan", "-.inf", "1:" + "59:" * 60 + "1",
              "!!binary '!!!'", "!!python/name:os.system", "*nowhere", "&a [*a]", "!!set {a}",
              "!!omap [a: 1]", "[" * 40 + "]" * 40, '"a\\0b"', "/dev/zero", "~", "<<"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(sorted(SAMPLES)))
    out = SAMPLES[text]
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "swap", "alias",
                                   "value"]))
        at = draw(st.integers(0, len(out)))
        lines = out.split("\n")
        line = draw(st.integers(0, len(lines) - 1))
        if op == "insert":
            out = out[:at] + draw(st.text(INSERTS, min_size=1, max_size=4)) + out[at:]
        elif op == "delete":
            out = out[:at] + out[at + draw(st.integers(1, 20)):]
        elif op == "replace":
            out = out[:at] + draw(st.sampled_from(INSERTS)) + out[at + 1:]
        elif op == "duplicate":
            lines.insert(line, lines[line])
            out = "\n".join(lines)
        elif op == "value":  # a value replaced by one YAML reads oddly
            keyed = [i for i, text in enumerate(lines) if ": " in text] or [0]
            i = draw(st.sampled_from(keyed))
            key, _, _ = lines[i].partition(": ")
            lines[i] = f"{key}: {draw(st.sampled_from(RAW_VALUES))}"
            out = "\n".join(lines)
        elif op == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            out = "\n".join(lines)
        else:  # an anchor on one value, aliases of it elsewhere
            name = draw(st.sampled_from(["a", "b"]))
            out = out[:at] + draw(st.sampled_from([f"&{name} ", f"*{name}", f"<<: *{name}\n"])) \
                + out[at:]
    return out


@fuzz(200)
@given(text=mutated())
def test_fuzz_text_mutations_of_the_sample_fleets(text: str) -> None:
    check(text, "mutation", FLEETS)


@fuzz(60)
@given(depth=st.integers(1, 16), width=st.integers(2, 12),
       scalar=st.sampled_from(["lol", "x" * 500, "1", "{a: 1}"]),
       where=st.sampled_from(["customers:\n  - name: *a{last}\n", "customers: *a{last}\n",
                              "ownership: {{domains: *a{last}}}\n",
                              "streams: {{s: {{ips: *a{last}}}}}\n",
                              "templates:\n  t: {{streams: *a{last}, <<: *a{last}}}\n"]))
def test_fuzz_alias_bombs(depth: int, width: int, scalar: str, where: str) -> None:
    text = laughs(depth, width, where).replace("lol", scalar)
    check(text, "bomb", samples=4, peak=8_000_000)


def test_the_fuzz_property_catches_untyped_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: an exception other than ConfigError fails ``check``."""
    def broken(*_: Any, **__: Any) -> Fleet:
        raise KeyError("boom")

    monkeypatch.setattr(fleet, "loads", broken)
    with pytest.raises(KeyError):
        check(HEAD, "selftest")
    SEEN.pop("selftest.ran", None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))


def test_a_customers_file_outside_the_fleet_directory_needs_the_callers_opt_in(
        tmp_path: Path) -> None:
    """A fleet file from a pull request must not read the runner's other files: a CSV
    outside its directory (also through a link) is refused before it is read, unless the
    caller allowed the place."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = elsewhere / "customers.csv"
    secret.write_text("name,domain\nsecret-customer,secret.example\n")
    home = tmp_path / "fleet"
    home.mkdir()
    (home / "link.csv").symlink_to(secret)
    (home / "inside.csv").write_text("name,domain\nacme,acme.example\n")
    for name in (str(secret), "../elsewhere/customers.csv", "link.csv"):
        out, _, _ = measured(csv_fleet(name), home)
        assert isinstance(out, FleetFileError), name
        [p] = out.problems
        assert "is outside the fleet file's directory" in p.message
        assert "--allow-path" in p.message
        assert "secret-customer" not in str(out)
    allowed = fleet.Trust(paths=(str(elsewhere),))
    for name in (str(secret), "link.csv"):
        out, _, _ = measured(csv_fleet(name), home, allowed)
        assert isinstance(out, Fleet), out
        assert [c.name for c in out.customers] == ["secret-customer"]
    out, _, _ = measured(csv_fleet("inside.csv"), home)
    assert isinstance(out, Fleet), out

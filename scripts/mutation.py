"""Mutation testing of espkit's core modules, one module at a time, with a score per module.

    .venv/bin/python scripts/mutation.py                  # every module of the core set
    .venv/bin/python scripts/mutation.py validate retry   # some of them, by short name
    .venv/bin/python scripts/mutation.py espkit/dns/formats.py
    .venv/bin/python scripts/mutation.py --report         # scores of the last runs, no run
    .venv/bin/python scripts/mutation.py --survivors validate   # the surviving mutants' names
    .venv/bin/python scripts/mutation.py --all validate   # re-run the killed mutants too

It drives mutmut 3 (``pip install -e '.[mutation]'``; configured in ``[tool.mutmut]`` of
pyproject.toml). mutmut runs the selected tests once with every function instrumented, records
which tests reach which function, then runs each mutant only against those tests, so one module
takes minutes on two cores rather than the whole suite once per mutant. It is too slow for every
CI run; docs/mutation.md says when to run it.

Only the mutants not yet killed are run again, so a second run after adding tests is quick.
The score of a module is (killed + timed out) / (total - equivalent). A mutant is equivalent
when no test can tell it from the original (for example a codec name in another case); each one
is listed in scripts/mutation_equivalent.txt with the reason a reviewer accepted, and a name
listed there that no longer exists is reported so the list does not rot.
"""

from __future__ import annotations

import argparse
import filecmp
import fnmatch
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # mutmut depends on toml where tomllib is missing
    import toml as tomllib  # type: ignore[import-untyped,unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "scripts" / "mutation_equivalent.txt"
TARGET = 0.90  # the share of non-equivalent mutants each module's tests must kill

# short name -> (source file, mutant-name patterns). A pattern narrows a module to the
# functions that matter (the paging of each provider); "*" takes the whole module.
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "validate": ("espkit/validate.py", ("*",)),
    "retry": ("espkit/transport/retry.py", ("*",)),
    "http": ("espkit/transport/http.py", ("*",)),
    "prepare": ("espkit/transport/prepare.py", ("*",)),
    "error_mapping": ("espkit/transport/error_mapping.py", ("*",)),
    "manager": ("espkit/account/manager.py", ("*",)),
    "domains": ("espkit/account/domains.py", ("*",)),
    "paging": ("espkit/providers/paging.py", ("*",)),
    "mailgun_paging": ("espkit/providers/mailgun.py", ("*_pages_*", "*list_domains_*")),
    "sendgrid_paging": ("espkit/providers/sendgrid.py", ("*_pages_*", "*list_domains_*")),
    "sparkpost_paging": ("espkit/providers/sparkpost.py",
                         ("*list_domains_*", "*list_subaccounts_*", "*_subaccount_page_*")),
    "postmark_paging": ("espkit/providers/postmark.py", ("*_pages_*", "*list_domains_*")),
    "ses_paging": ("espkit/providers/ses.py", ("*_pages_*", "*list_domains_*")),
    "planner": ("espkit/fleet/planner.py", ("*",)),
    "applier": ("espkit/fleet/applier.py", ("*",)),
    "journal": ("espkit/bulk/journal.py", ("*",)),
    "journalfile": ("espkit/bulk/journalfile.py", ("*",)),
    "formats": ("espkit/dns/formats.py", ("*",)),
    # the limiter's modules that run without a redis-server (only_mutate lists them)
    "ratelimit": ("espkit/transport/ratelimit/*.py", ("*",)),
    "engine": ("espkit/bulk/engine.py", ("*",)),
    # not in the default set until it is added to only_mutate
    "execution": ("espkit/bulk/execution.py", ("*",)),
}
DEFAULT = [name for name in MODULES if name not in {"execution"}]

KILLED = {1, 3}  # a test failed (3: pytest's internal error, raised by the mutant)
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, -24, 24, 152, 255}
#: files mutmut keeps beside a mutated module (its mutants' verdicts and spans)
MUTMUT_RECORDS = {".meta", ".spans"}
#: caches of the tools the tests run, not copies of a source file
CACHE_DIRS = {"__pycache__", ".mypy_cache", ".hypothesis", ".pytest_cache", ".ruff_cache"}


@dataclass
class Score:
    name: str
    killed: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    timeout: list[str] = field(default_factory=list)
    no_tests: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # not run yet, skipped, suspicious
    equivalent: list[str] = field(default_factory=list)
    #: listed as equivalent yet killed: a test failed without the mutant making a difference
    #: (a flaky test), or the entry names another mutant since the function changed
    odd: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(x) for x in (self.killed, self.survived, self.timeout, self.no_tests,
                                    self.other, self.equivalent))

    @property
    def score(self) -> float | None:
        # a timeout counts as killed: the mutant made a test hang, which CI notices
        judged = self.total - len(self.equivalent)
        return (len(self.killed) + len(self.timeout)) / judged if judged else None


def mutant_prefix(path: str) -> str:
    """mutmut names a mutant ``espkit.pkg.module.x_function__mutmut_3``
    (a method: ``x\u01c1Class\u01c1method__mutmut_3``)."""
    return path.removesuffix(".py").replace("/", ".") + "."


def globs(name: str) -> list[str]:
    path, patterns = MODULES[name]
    prefix = mutant_prefix(path)
    return [prefix + pattern for pattern in patterns]


def resolve(arg: str) -> str:
    if arg in MODULES:
        return arg
    for name, (path, _) in MODULES.items():
        if arg in (path, path.removesuffix(".py").replace("/", "."), Path(path).stem):
            return name
    raise SystemExit(f"unknown module {arg!r}: one of {', '.join(MODULES)}")


def configured_files() -> list[str]:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(conf["tool"]["mutmut"]["only_mutate"])


def load_equivalent() -> dict[str, str]:
    """``mutant-name  reason`` per line; ``#`` starts a comment."""
    found: dict[str, str] = {}
    if not EQUIVALENT_FILE.exists():
        return found
    for raw in EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        mutant, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{EQUIVALENT_FILE.name}: {mutant} has no reason")
        found[mutant] = reason.strip()
    return found


def exit_codes(path: str) -> dict[str, int | None]:
    """The verdicts mutmut stored for every mutant of one source file (by its glob)."""
    codes: dict[str, int | None] = {}
    for meta in sorted((ROOT / "mutants").glob(path + ".meta")):
        codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def score(name: str, equivalent: dict[str, str]) -> Score:
    result = Score(name)
    patterns = globs(name)
    for mutant, code in exit_codes(MODULES[name][0]).items():
        if not any(fnmatch.fnmatchcase(mutant, p) for p in patterns):
            continue
        if mutant in equivalent:
            # left out of the score either way: a kill of an equivalent mutant is no credit
            result.equivalent.append(mutant)
            if code in KILLED or code in TIMEOUT:
                result.odd.append(mutant)
            continue
        bucket = (result.killed if code in KILLED else result.survived if code in SURVIVED
                  else result.timeout if code in TIMEOUT else result.no_tests if code in NO_TESTS
                  else result.other)
        bucket.append(mutant)
    return result


def refresh_copies() -> list[str]:
    """Drop the stale plain copies in mutants/ so that mutmut copies them again.

    mutmut regenerates a mutated file when its source is newer, but copies every other file of
    espkit/ and tests/ only once: after a pull, the tests would run against old code. Data
    files count too (a stale ``fleet.schema.json`` refused the new fleet keys, which failed
    mutmut's clean run); mutmut's own records beside a mutated file are kept."""
    dropped = []
    mutated = configured_files()
    for tree in ("espkit", "tests"):
        for copy in sorted((ROOT / "mutants" / tree).rglob("*")):
            rel = copy.relative_to(ROOT / "mutants").as_posix()
            if (not copy.is_file() or copy.suffix in MUTMUT_RECORDS
                    or CACHE_DIRS & set(copy.relative_to(ROOT / "mutants").parts)):
                continue
            if any(fnmatch.fnmatchcase(rel, p) for p in mutated):
                # a module just added to only_mutate is still a plain copy (no verdicts
                # beside it), which mutmut takes for an instrumented one: drop it
                if not copy.with_name(copy.name + ".meta").exists():
                    copy.unlink()
                    dropped.append(rel)
                    # mutmut knows which tests reach which function from its stats, kept
                    # from earlier runs and extended for new tests only: without a fresh
                    # collection no earlier test is known to reach the new module, and its
                    # mutants run against the new tests alone (their survivors are false)
                    stats = ROOT / "mutants" / "mutmut-stats.json"
                    if stats.exists():
                        stats.unlink()
                        dropped.append(stats.relative_to(ROOT).as_posix())
                continue
            source = ROOT / rel
            if not source.exists() or not filecmp.cmp(source, copy, shallow=False):
                copy.unlink()
                dropped.append(rel)
    return dropped


def unsettled(name: str) -> list[str] | None:
    """The mutants of a module still to run: never run, survived, timed out, no tests.
    A killed mutant stays killed until its function changes (mutmut then forgets its
    verdict). None before the first run, when mutmut has not generated them yet."""
    codes = exit_codes(MODULES[name][0])
    if not codes:
        return None
    patterns = globs(name)
    return [m for m, code in codes.items()
            if any(fnmatch.fnmatchcase(m, p) for p in patterns) and code not in KILLED]


def run(names: list[str], children: int, everything: bool) -> float:
    """One mutmut run for all the modules asked for: mutmut's setup (the copy, the listing of
    the tests, the clean run of the covering tests) then happens once, not once per module.
    mutmut re-runs every mutant it is given by name, so unless ``everything`` only the
    unsettled ones are named."""
    mutated = configured_files()
    for name in names:
        path = MODULES[name][0]
        # a module may be a glob of files (ratelimit), only_mutate may hold globs too
        if not any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(p, path)
                   for p in mutated):
            raise SystemExit(f"{path} is not in [tool.mutmut] only_mutate of pyproject.toml: "
                             "add it there first")
    started = time.monotonic()
    # the property tests draw the same examples in every run: a verdict must not depend on
    # what hypothesis happened to generate (a new failing example would fail the clean run)
    addopts = f"{os.environ.get('PYTEST_ADDOPTS', '')} --hypothesis-seed=0".strip()
    env = {**os.environ, "PYTEST_ADDOPTS": addopts}
    asked: set[str] = set()
    # The unsettled mutants are read from mutmut's records before it regenerates a changed
    # module, which forgets the verdicts of the changed functions: those mutants were not
    # named, so a second round names them (mutmut does not regenerate anything then).
    for _ in range(2):
        wanted: list[str] = []
        for name in names:
            todo = None if everything and not asked else unsettled(name)
            wanted += globs(name) if todo is None else todo
        patterns = [a for a in asked if "*" in a]  # whole modules asked for by glob
        wanted = [m for m in wanted if m not in asked
                  and not any(fnmatch.fnmatchcase(m, g) for g in patterns)]
        if not wanted:
            break
        asked.update(wanted)
        command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children),
                   *wanted]
        # mutmut exits non-zero only when it cannot run (the clean tests fail, no test
        # covers the module); the verdicts are read from its results afterwards
        subprocess.run(command, cwd=ROOT, check=True, env=env)  # noqa: S603 (our own argv)
    return time.monotonic() - started


def table(scores: list[Score]) -> str:
    head = f"{'module':<18}{'mutants':>8}{'killed':>8}{'survived':>9}{'timeout':>8}" \
           f"{'no-tests':>9}{'equiv':>6}{'score':>8}"
    rows = [head, "-" * len(head)]
    for s in scores:
        value = "-" if s.score is None else f"{s.score:.1%}"
        flag = "" if s.score is None or s.score >= TARGET else "  < target"
        rows.append(f"{s.name:<18}{s.total:>8}{len(s.killed):>8}{len(s.survived):>9}"
                    f"{len(s.timeout):>8}{len(s.no_tests):>9}{len(s.equivalent):>6}"
                    f"{value:>8}{flag}")
    return "\n".join(rows)


def markdown(scores: list[Score]) -> str:
    """The table of docs/mutation.md."""
    rows = ["| module | mutants | killed | timeout | survived | no tests | not run | equivalent "
            "| score |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        value = "-" if s.score is None else f"{s.score:.1%}"
        rows.append(f"| `{s.name}` | {s.total} | {len(s.killed)} | {len(s.timeout)} | "
                    f"{len(s.survived)} | {len(s.no_tests)} | {len(s.other)} | "
                    f"{len(s.equivalent)} | {value} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"short names or paths; default: "
                                                   f"{' '.join(DEFAULT)}")
    parser.add_argument("--report", action="store_true", help="print the last results, run "
                                                              "nothing")
    parser.add_argument("--survivors", action="store_true",
                        help="list the surviving, non-equivalent mutants (mutmut show NAME)")
    parser.add_argument("--all", action="store_true",
                        help="re-run every mutant, killed ones too (after a change to tests "
                             "only; a change to a function resets its own mutants anyway)")
    parser.add_argument("--markdown", action="store_true",
                        help="with --report: the table as Markdown, for docs/mutation.md")
    parser.add_argument("--children", type=int, default=2, help="parallel mutants (default 2)")
    args = parser.parse_args(argv)
    names = [resolve(a) for a in args.modules] or DEFAULT
    equivalent = load_equivalent()

    if not (args.report or args.survivors or args.markdown):
        for rel in refresh_copies():
            print(f"recopying {rel} (changed since the last run)")
        took = run(names, args.children, args.all)
        print(f"mutmut ran {' '.join(names)} in {took / 60:.1f} min", flush=True)

    scores = [score(name, equivalent) for name in names]
    known = {m for s in scores
             for m in s.killed + s.survived + s.timeout + s.no_tests + s.other + s.equivalent}
    stale = sorted(m for m in equivalent if m not in known
                   and any(m.startswith(mutant_prefix(MODULES[n][0])) for n in names))
    if args.survivors:
        for s in scores:
            for mutant in s.survived + s.no_tests:
                if mutant not in equivalent:
                    print(mutant)
        return 0
    print(markdown(scores) if args.markdown else table(scores))
    for mutant in stale:
        print(f"stale entry in {EQUIVALENT_FILE.name}: {mutant} (no such mutant now)")
    for mutant in (m for s in scores for m in s.odd):
        print(f"{mutant} is listed as equivalent but was killed: a flaky test, or the entry "
              "now names another mutant (mutmut show it)")
    below = [s.name for s in scores if s.score is not None and s.score < TARGET]
    return 1 if below or stale else 0


if __name__ == "__main__":
    sys.exit(main())

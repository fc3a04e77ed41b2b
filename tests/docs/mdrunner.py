"""Running the blocks of one Markdown page in order, as a reader would, on the sandbox.

Each page gets a fresh directory (the working directory of its blocks), a fresh sandbox file
(``$ESPKIT_SANDBOX_DB``), no ``$ESPKIT_PROVIDER``, and one Python namespace its ``python``
blocks share, since pages build on their earlier blocks. Shell lines run in the same
directory: ``espkit ...`` in this process through click's ``CliRunner`` (so the ESP fakes
below answer it), anything else with ``bash``; ``export`` lines set the page's environment;
lines that install (``pip install``, ``python3 -m venv``) are skipped and counted.

What would need a real account runs against the wire-level fakes of ``tests/support/fakes``
instead (``espfakes`` sets them up; ``Services`` is what a page gets of them), with their
keys in the providers' usual variables. Live DNS lookups (the system resolver, and
``192.0.2.53``, the nameserver the docs use as an example) go to a DNS server on 127.0.0.1
that serves nothing, so every record is "missing", as on a new account. A block that runs
longer than ``BLOCK_SECONDS`` (a wait nothing will end) fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner
from mdsnippets import (
    Block,
    Command,
    console_session,
    installs,
    output_matches,
    shell_commands,
    simple,
    split_and,
    unmarked,
)

#: the ESPs' own key variables, which a developer may have set for real accounts
OWN_KEYS = frozenset({"MAILGUN_API_KEY", "SENDGRID_API_KEY", "SPARKPOST_API_KEY",
                      "POSTMARK_ACCOUNT_TOKEN", "POSTMARK_SERVER_TOKEN"})
#: seconds one block may take: a wait that never ends (a domain nobody verifies) fails its
#: block instead of hanging the suite
BLOCK_SECONDS = 30
INSTALL_REASON = "installs or activates (the tests run in the checkout's environment)"
DOC_NAMESERVER = "192.0.2.53"


@dataclass
class Stats:
    """What the snippet suite did, for its summary line."""

    blocks_run: int = 0
    blocks_skipped: Counter[str] = field(default_factory=Counter)
    samples: Counter[str] = field(default_factory=Counter)
    files: int = 0
    outputs_checked: int = 0
    commands_run: int = 0
    commands_skipped: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"doc snippets: {self.blocks_run} blocks run ({self.commands_run} shell commands), "
            f"{self.outputs_checked} outputs compared, {self.files} written as files, "
            f"{sum(self.blocks_skipped.values())} skipped, {sum(self.samples.values())} samples "
            f"(not code), {sum(self.commands_skipped.values())} shell lines skipped, "
            f"{len(self.failed)} failed",
        ]
        out += [f"  skipped block ({n}): {reason}" for reason, n in self.blocks_skipped.items()]
        out += [f"  skipped line ({n}): {reason}" for reason, n in self.commands_skipped.items()]
        out += [f"  sample ({n}): {reason}" for reason, n in self.samples.items()]
        out += [f"  FAILED: {name}" for name in self.failed]
        return out


STATS = Stats()


class SnippetFailed(AssertionError):
    """A block did not do what its page says."""


class BlockTimeout(BaseException):
    """A block ran past ``BLOCK_SECONDS``."""


@dataclass
class Services:
    """What the blocks talk to instead of the world: installed around each block."""

    #: ``contextmanager`` factories entered around every block (fakes, DNS)
    around: list[Callable[[], contextlib.AbstractContextManager[Any]]]
    #: environment every block sees (keys of the fakes, the DNS server)
    env: dict[str, str]
    #: ``"127.0.0.1:PORT"`` of the local DNS server
    nameserver: str
    #: calls each ``test_*`` of a ``pytest`` block with espkit's fixtures
    call_test: Callable[[Callable[..., Any]], None]
    #: the ESP fakes by name (``mailgun``, ``mailgun-eu``, ...), ``esp_fakes`` in the page's
    #: namespace for hidden setup code: ``esp_fakes["mailgun"].publish_dns(name)`` (the
    #: customer published the records), ``esp_fakes.refuse("mailgun-eu")`` (an account
    #: that lives in one region)
    fakes: Any = None


class Page:
    """One page's blocks, run in order; ``run(i)`` runs every block up to ``i`` first."""

    def __init__(self, root: Path, path: Path, blocks: list[Block], workdir: Path,
                 services: Services, stats: Stats = STATS) -> None:
        self.root, self.path, self.blocks = root, path, blocks
        self.workdir, self.services, self.stats = workdir, services, stats
        self.namespace: dict[str, Any] = {"__name__": "__snippets__",
                                          "esp_fakes": services.fakes}
        self.env: dict[str, str] = {"ESPKIT_SANDBOX_DB": str(workdir / "sandbox.db")}
        self.last_output = ""
        self.errors: dict[int, str] = {}
        self.done = 0
        #: what a person at a terminal answers to a question (``terminal`` marker), or None
        self.answer: str | None = None

    def name(self, block: Block) -> str:
        return f"{block.path.relative_to(self.root)}:{block.line}"

    def run(self, index: int) -> None:
        """Run blocks up to ``index``; raise ``SnippetFailed`` if block ``index`` failed."""
        while self.done <= index:
            block = self.blocks[self.done]
            try:
                with self._world(), self._deadline():
                    self._block(block)
            except SnippetFailed as exc:
                self.errors[self.done] = str(exc)
                self.stats.failed.append(self.name(block))
            except (Exception, BlockTimeout):
                self.errors[self.done] = traceback.format_exc(limit=-8)
                self.stats.failed.append(self.name(block))
            self.done += 1
        if index in self.errors:
            before = [self.name(self.blocks[i]) for i in self.errors if i < index]
            note = f"\n(earlier blocks of the page failed too: {', '.join(before)})" \
                if before else ""
            raise SnippetFailed(f"{self.name(self.blocks[index])}:\n{self.errors[index]}{note}")

    def run_all(self) -> None:
        for i in range(len(self.blocks)):
            self.run(i)

    # -- the world around a block --------------------------------------------------------------

    @contextlib.contextmanager
    def _deadline(self) -> Iterator[None]:
        """``BLOCK_SECONDS`` for the block, on SIGALRM (interrupts a sleep in this thread)."""
        if not hasattr(signal, "setitimer"):  # pragma: no cover - POSIX only
            yield
            return

        def expired(_signum: int, _frame: Any) -> None:
            raise BlockTimeout(f"still running after {BLOCK_SECONDS} s: does it wait for "
                                "something nothing will do (a domain nobody verifies)?")

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, BLOCK_SECONDS)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @contextlib.contextmanager
    def _world(self) -> Iterator[None]:
        # nothing of the developer's own set-up: espkit's settings, ESP keys, AWS profiles
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ESPKIT_", "AWS_")) and k not in OWN_KEYS}
        env.update(self.services.env)
        env.update(self.env)
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.dict(os.environ, env, clear=True))
            stack.enter_context(contextlib.chdir(self.workdir))
            for make in self.services.around:
                stack.enter_context(make())
            yield

    # -- blocks ------------------------------------------------------------------------------

    def _block(self, block: Block) -> None:
        problem = unmarked(block)
        if problem:
            raise SnippetFailed(problem)
        skip = block.marker("skip")
        if skip:
            self.stats.blocks_skipped[skip.options["reason"]] += 1
            return
        sample = block.marker("sample")
        if sample:
            parse_sample(block)
            self.stats.samples[sample.options["reason"]] += 1
            return
        target = block.marker("file")
        if target:
            assert target.arg is not None
            (self.workdir / target.arg).parent.mkdir(parents=True, exist_ok=True)
            (self.workdir / target.arg).write_text(block.text, encoding="utf-8")
            self.stats.files += 1
            return
        setup = block.marker("setup")
        if setup:
            self._python(setup.body, block.line - len(setup.body.splitlines()) - 1,
                         capture=False)
        output = block.marker("output")
        if output:
            self._check_output(block, output.body)
            return
        if block.kind == "python":
            self._python(block.text, block.line, pytest_block=bool(block.marker("pytest")))
        elif block.kind == "shell":
            self._shell(block)
        elif block.kind == "console":
            self._console(block)
        self.stats.blocks_run += 1

    def _python(self, code: str, line: int, *, capture: bool = True,
                pytest_block: bool = False) -> None:
        code = code.replace(DOC_NAMESERVER, self.services.nameserver)
        # blank lines in front keep the page's line numbers in tracebacks
        compiled = compile("\n" * line + code, str(self.path), "exec")
        before = set(self.namespace)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer) if capture else contextlib.nullcontext():
            exec(compiled, self.namespace)
            if pytest_block:
                tests = [v for k, v in self.namespace.items()
                         if k.startswith("test_") and k not in before and callable(v)]
                if not tests:
                    raise SnippetFailed("a pytest block without test_ functions")
                for test in tests:
                    self.services.call_test(test)
        if capture:
            self.last_output = buffer.getvalue()

    def _shell(self, block: Block) -> None:
        allowed = block.exit_codes()
        terminal = block.marker("terminal")
        if terminal is not None:
            self.answer = terminal.options.get("answer", "y") + "\n"
        try:
            for command in shell_commands(block.text, block.line + 1):
                self._command(command, allowed)
        finally:
            self.answer = None

    def _command(self, command: Command, allowed: frozenset[int]) -> str:
        """Run one shell line (each part of an ``&&`` chain); its output."""
        output = ""
        for part in split_and(command.text):
            if installs(part):
                self.stats.commands_skipped[INSTALL_REASON] += 1
                continue
            part = part.replace(DOC_NAMESERVER, self.services.nameserver)
            if part.startswith("export "):
                self._export(part)
                continue
            code, output = self._one(part, command)
            self.stats.commands_run += 1
            self.last_output = output
            if code not in allowed:
                raise SnippetFailed(
                    f"line {command.line}: `{part}` exited {code} "
                    f"(expected {' or '.join(map(str, sorted(allowed)))}):\n{output}")
        return output

    def _export(self, part: str) -> None:
        for assignment in part.split()[1:]:
            name, _, value = assignment.partition("=")
            with mock.patch.dict(os.environ, {"PWD": str(self.workdir)}):
                self.env[name] = os.path.expandvars(value)
            os.environ[name] = self.env[name]

    def _one(self, part: str, command: Command) -> tuple[int, str]:
        cmd = simple(part)
        if cmd is not None and Path(cmd.argv[0]).name == "espkit":
            from espkit.cli import cli

            stdin = command.stdin
            if cmd.stdin_file is not None:
                stdin = Path(cmd.stdin_file).read_text(encoding="utf-8")
            with contextlib.ExitStack() as stack:
                if self.answer is not None:
                    stdin = self.answer
                    stack.enter_context(mock.patch("espkit.cli.app.stdin_is_terminal",
                                                   return_value=True))
                result = CliRunner().invoke(cli, cmd.argv[1:], input=stdin,
                                            prog_name="espkit")
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise SnippetFailed(
                    f"`{part}` raised:\n" + "".join(traceback.format_exception(
                        result.exception)) + result.output)
            if cmd.stdout is not None:
                with open(cmd.stdout, "a" if cmd.append else "w", encoding="utf-8") as f:
                    f.write(result.stdout)
                return result.exit_code, result.stderr
            return result.exit_code, result.output
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        # a here-document belongs to the one command of its line
        script = command.shell_text if part == command.text else part
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
        return done.returncode, done.stdout + done.stderr

    def _console(self, block: Block) -> None:
        for command, shown in console_session(block.text, block.line + 1):
            actual = self._command(command, block.exit_codes())
            if shown.strip():
                self._compare(shown, actual, f"line {command.line}: `{command.text}`")

    def _check_output(self, block: Block, source: str) -> None:
        if source.strip():
            if source.lstrip().startswith("$ "):
                outputs = [self._command(command, block.exit_codes())
                           for command, _ in console_session(source.strip(), block.line)]
                actual = "\n".join(outputs)
            else:
                self._python(source, block.line - len(source.splitlines()) - 1)
                actual = self.last_output
        else:
            actual = self.last_output
        self._compare(block.text, actual, "the block before it")

    def _compare(self, documented: str, actual: str, source: str) -> None:
        if not output_matches(documented, actual):
            raise SnippetFailed(f"documented output differs from what {source} printed:\n"
                                f"--- documented\n{documented}\n--- actual\n{actual}")
        self.stats.outputs_checked += 1


def parse_sample(block: Block) -> None:
    """A YAML or JSON sample must at least parse: a reader copies it."""
    lang = block.lang.lower()
    if lang in ("yaml", "yml"):
        import yaml

        list(yaml.safe_load_all(block.text))
    elif lang == "json":
        import json

        json.loads(block.text)


PROVIDERS = re.compile(r"""connect\(\s*["'](\w+)["']|-p\s+(\w+)|provider:\s*(\w+)""")


def providers_named(blocks: list[Block]) -> set[str]:
    """Every provider the blocks connect to."""
    names: set[str] = set()
    for block in blocks:
        for m in PROVIDERS.finditer(block.text):
            names.add(next(g for g in m.groups() if g))
    return names


__all__ = ["DOC_NAMESERVER", "INSTALL_REASON", "STATS", "Page", "Services", "SnippetFailed",
           "Stats", "providers_named"]

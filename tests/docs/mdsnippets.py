"""Reading the fenced code blocks of a Markdown page, the ``<!-- snippet: ... -->`` markers
that say what to do with them, the shell lines inside them, and comparing documented output
with real output. No pytest and no espkit here: ``mdrunner`` does the running.

Markers are HTML comments (invisible on the site and on GitHub) on the lines just before a
block; only blank lines and other comments may stand between a marker and its block:

``<!-- snippet: skip reason="needs a Mailgun account" -->``
    not run; counted as skipped with the reason.
``<!-- snippet: sample reason="a fragment of the format reference" -->``
    not code and not output (a fragment, a sketch); counted with the reason. A ``yaml`` or
    ``json`` sample must still parse.
``<!-- snippet: file fleet.yaml -->``
    the block's text is written to that file, for the blocks after it to read.
``<!-- snippet: output -->``
    the block is output: compared with what the block before it printed. With a body, the
    body is run instead (Python, or ``$ espkit ...`` lines) and its output is compared::

        <!-- snippet: output
        print(dns.export(domains[:1], "bind"))
        -->

    ``…`` or ``...`` in the documented output stands for any text; whitespace (rich's line
    wrapping, table padding) is not compared.
``<!-- snippet: setup`` *Python lines* ``-->``
    run in the page's namespace just before the block (what a reader already has: a file, a
    key in the environment), hidden from the reader.
``<!-- snippet: exit="0 1" -->``
    the exit codes the block's commands may end with (default: 0 only).
``<!-- snippet: terminal answer=y -->``
    the block's ``espkit`` commands run as if at a terminal, answering ``y`` to a question.
``<!-- snippet: pytest -->``
    the block is a test module: its ``test_*`` functions are called with espkit's pytest
    fixtures (``espkit_sandbox``, ``espkit_sandbox_factory``).

Blocks in ``python``, ``sh``/``bash``/``shell`` and ``console`` run; every other block needs
a marker (``file``, ``output``, ``sample`` or ``skip``), so nothing is silently left out.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = {"python": "python", "py": "python", "pycon": "python",
             "sh": "shell", "bash": "shell", "shell": "shell", "console": "console"}
KINDS = frozenset({"skip", "sample", "file", "output", "setup", "exit", "pytest", "terminal"})
#: markers that need ``reason=``
NEED_REASON = frozenset({"skip", "sample"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<head>.*?)\s*(?P<end>-->)?\s*$")
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")


class MarkdownError(ValueError):
    """A page's markers or fences cannot be read; names the file and line."""


@dataclass(frozen=True)
class Marker:
    kind: str
    line: int
    arg: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    #: the lines between the marker's first line and its ``-->`` (setup code, output source)
    body: str = ""


@dataclass(frozen=True)
class Block:
    path: Path
    #: 1-based line of the opening fence
    line: int
    lang: str
    text: str
    markers: tuple[Marker, ...] = ()

    @property
    def kind(self) -> str | None:
        """``python``, ``shell`` or ``console`` for a block that runs, else None."""
        return LANGUAGES.get(self.lang.lower())

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)

    def exit_codes(self) -> frozenset[int]:
        marker = self.marker("exit")
        if marker is None:
            return frozenset({0})
        return frozenset(int(code) for code in marker.options["exit"].replace(",", " ").split())


def _marker(lines: list[str], i: int, path: Path) -> tuple[Marker, int]:
    """The marker starting at ``lines[i]`` and the index of its last line."""
    m = _MARKER.match(lines[i])
    assert m is not None
    head, end, body = m.group("head"), i, ""
    if not m.group("end"):
        end = i + 1
        while end < len(lines) and lines[end].strip() != "-->":
            end += 1
        if end == len(lines):
            raise MarkdownError(f"{path}:{i + 1}: snippet marker without its closing -->")
        body = textwrap.dedent("\n".join(lines[i + 1:end]))
    try:
        words = shlex.split(head)
    except ValueError as exc:
        raise MarkdownError(f"{path}:{i + 1}: unreadable snippet marker: {exc}") from None
    if not words:
        raise MarkdownError(f"{path}:{i + 1}: empty snippet marker")
    # `exit="0 1"` is the marker's kind and its option at once
    kind = words[0].split("=", 1)[0]
    if kind not in KINDS:
        raise MarkdownError(f"{path}:{i + 1}: unknown snippet marker {kind!r}; "
                            f"known: {', '.join(sorted(KINDS))}")
    options, arg = {}, None
    for word in words:
        if "=" in word:
            key, value = word.split("=", 1)
            options[key] = value
        elif word != kind:
            arg = word
    if kind in NEED_REASON and not options.get("reason"):
        raise MarkdownError(f'{path}:{i + 1}: a {kind} marker needs reason="..."')
    if kind == "file" and not arg:
        raise MarkdownError(f"{path}:{i + 1}: a file marker needs the file name")
    if kind == "setup" and not body.strip():
        raise MarkdownError(f"{path}:{i + 1}: a setup marker needs its code before -->")
    return Marker(kind, i + 1, arg, options, body), end


def parse(path: Path) -> list[Block]:
    """Every fenced block of the page at ``path``, with its markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: list[Marker] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if _MARKER.match(line):
            marker, i = _marker(lines, i, path)
            pending.append(marker)
        elif fence:
            indent, mark = fence.group("indent"), fence.group("fence")
            end = i + 1
            # the closing fence: the same character, at least as many, nothing else
            while end < len(lines) and not (lines[end].strip().startswith(mark)
                                            and not lines[end].strip().strip(mark[0])):
                end += 1
            if end == len(lines):
                raise MarkdownError(f"{path}:{i + 1}: code block never closed")
            body = [text[len(indent):] if text.startswith(indent) else text.lstrip()
                    for text in lines[i + 1:end]]
            blocks.append(Block(path, i + 1, fence.group("lang"), "\n".join(body) + "\n",
                                tuple(pending)))
            pending = []
            i = end
        elif line.strip() and not _COMMENT.match(line) and pending:
            raise MarkdownError(f"{path}:{pending[0].line}: snippet marker not followed by a "
                                "code block (only blank lines and comments may come between)")
        i += 1
    if pending:
        raise MarkdownError(f"{path}:{pending[0].line}: snippet marker at the end of the page")
    return blocks


def unmarked(block: Block) -> str | None:
    """Why ``block`` cannot be accounted for, or None: a block that does not run must say
    what it is."""
    if block.kind is None and not any(m.kind in ("file", "output", "sample", "skip")
                                      for m in block.markers):
        return (f"a ```{block.lang or '(no language)'} block is not code that runs: mark it "
                'with <!-- snippet: file NAME -->, output, sample reason="..." or '
                'skip reason="..."')
    return None


# -- shell lines ------------------------------------------------------------------------------

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")


@dataclass(frozen=True)
class Command:
    """One logical shell line: continuation lines joined, its here-document apart."""

    line: int
    text: str
    stdin: str | None = None
    #: the line as a shell reads it, here-document included
    raw: str = ""

    @property
    def shell_text(self) -> str:
        return self.raw or self.text


def shell_commands(text: str, first_line: int = 1) -> list[Command]:
    """The commands of a shell block (comment and blank lines dropped)."""
    lines = text.splitlines()
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        start = i
        current = lines[i]
        while current.endswith("\\") and i + 1 < len(lines):
            i += 1
            current = current[:-1] + " " + lines[i].strip()
        i += 1
        if not current.strip() or current.lstrip().startswith("#"):
            continue
        stdin = None
        raw = ""
        heredoc = _HEREDOC.search(current)
        if heredoc:
            body = []
            while i < len(lines) and lines[i].strip() != heredoc.group("word"):
                body.append(lines[i])
                i += 1
            i += 1
            stdin = "\n".join(body) + "\n"
            raw = current.strip() + "\n" + stdin + heredoc.group("word") + "\n"
        commands.append(Command(first_line + start, current.strip(), stdin, raw))
    return commands


def console_session(text: str, first_line: int = 1) -> list[tuple[Command, str]]:
    """The ``$ command`` lines of a console transcript, each with the output shown under it."""
    session: list[tuple[Command, list[str]]] = []
    for offset, line in enumerate(text.splitlines()):
        if line.startswith("$ "):
            session.append((Command(first_line + offset, line[2:].strip()), []))
        elif session:
            session[-1][1].append(line)
        elif line.strip():
            raise MarkdownError(f"line {first_line + offset}: console output before any "
                                "$ command")
    return [(command, "\n".join(out)) for command, out in session]


def split_and(command: str) -> list[str]:
    """``a && b`` as ``[a, b]`` (outside quotes)."""
    parts, current, quote = [], [], ""
    i = 0
    while i < len(command):
        ch = command[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif command.startswith("&&", i):
            parts.append("".join(current).strip())
            current = []
            i += 2
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return [p for p in parts if p]


@dataclass(frozen=True)
class Simple:
    """A command with no shell features beyond ``> file``, ``>> file`` and ``< file``."""

    argv: list[str]
    stdout: str | None = None
    append: bool = False
    stdin_file: str | None = None


def strip_comment(command: str) -> str:
    """``command`` without its trailing ``# comment`` (a ``#`` outside quotes that starts a
    word)."""
    quote = ""
    for i, ch in enumerate(command):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or command[i - 1] in " \t"):
            return command[:i].rstrip()
    return command


def simple(command: str) -> Simple | None:
    """``command`` as a ``Simple`` one, or None when it needs a shell (pipes, substitution,
    variables, ``;``, ``2>``...)."""
    command = strip_comment(command)
    if any(s in command for s in ("|", "$", "`", ";", "2>", "&>", "<<", "*", "~")):
        return None
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars="<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
    except ValueError:
        return None
    argv: list[str] = []
    stdout = stdin = None
    append = False
    it = iter(tokens)
    for token in it:
        if token in (">", ">>"):
            stdout, append = next(it, None), token == ">>"
            if stdout is None:
                return None
        elif token == "<":
            stdin = next(it, None)
            if stdin is None:
                return None
        elif set(token) <= set("<>"):
            return None
        else:
            argv.append(token)
    return Simple(argv, stdout, append, stdin) if argv else None


INSTALL = re.compile(r"^(\S*/)?(pip3?|python3?\s+-m\s+(venv|pip))\s"
                     r"|^(\.|source)\s+\S*/activate$")


def installs(command: str) -> bool:
    """Whether the command installs something (a virtualenv, a package) or activates a
    virtualenv."""
    return bool(INSTALL.match(command.strip()))


# -- comparing output -------------------------------------------------------------------------

ELLIPSIS = re.compile(r"…|\.\.\.")


def flat(text: str) -> str:
    """``text`` with every run of whitespace (and the box-drawing of rich's tables) as one
    space, and none inside brackets (JSON indented or written on one line reads the same)."""
    text = re.sub(r"[\u2500-\u257f]", " ", text)
    return re.sub(r"\s*([\[\]{}])\s*", r"\1", " ".join(text.split()))


def output_matches(documented: str, actual: str) -> bool:
    """Whether ``actual`` is what ``documented`` shows: the same words in the same order,
    whitespace aside, where ``…`` / ``...`` in ``documented`` stands for any text."""
    # a wildcard absorbs the spaces around it: "abc … def" matches "abc def" and "abcXYZ def"
    pattern = ".*?".join(re.escape(piece.strip()) for piece in ELLIPSIS.split(flat(documented)))
    return re.fullmatch(pattern, flat(actual), flags=re.DOTALL) is not None


__all__ = ["KINDS", "LANGUAGES", "Block", "Command", "MarkdownError", "Marker", "Simple",
           "console_session", "flat", "installs", "output_matches", "parse", "shell_commands",
           "simple", "split_and", "strip_comment", "unmarked"]

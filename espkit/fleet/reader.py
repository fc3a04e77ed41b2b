"""Reading a fleet file: its YAML as plain values with the line of every one, and the
problems found on the way, with theirs; and the limits on everything a fleet file makes
espkit read (``MAX_*``: the customers CSV file is read by ``espkit.fleet.customers``).

The YAML is composed into a node tree and turned into plain values by hand, recording the
line of every key path on the way (``("customers", 3, "domain")`` -> 14), so that both the
JSON Schema errors (``error.absolute_path``) and espkit's own checks can point at a line.

Everything read is bounded before it is built (a fleet file may come from anyone who can
open a pull request, and ``espkit plan`` reads it in CI): the text's size, what YAML aliases
expand it to and how deep it nests (counted over the parser's events, before composing),
every number, and the files it names (regular files under a size cap). Problems quote the
fleet file in bounded excerpts (``excerpt``, ``shorten``, ``listing``), and stop at
``MAX_PROBLEMS``.

Internal: ``espkit.fleet.loader.Loader`` is a ``Reader`` that also checks what it read;
``fleet.loads`` imports it once PyYAML is known to be installed.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import itertools
import math
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any

import yaml

from espkit.fleet.model import Problem

#: where a value is in the file: ``("customers", 3, "domain")``
KeyPath = tuple[str | int, ...]

_TAG_STR = "tag:yaml.org,2002:str"
_TAG_MAP = "tag:yaml.org,2002:map"
_TAG_SEQ = "tag:yaml.org,2002:seq"
_TAG_MERGE = "tag:yaml.org,2002:merge"
_TAG_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

# The limits: far above any real fleet (80,000 inline customers take 3.7 MB, 400,000 values
# and 11 s), far below what exhausts a CI runner.
#: the longest fleet file read, in characters; more customers belong in a CSV file
MAX_FLEET_CHARS = 4 * 1024 * 1024
#: the values (mappings, lists, scalars) a fleet file may hold, aliases expanded: what the
#: checks walk, about 25 microseconds each
MAX_NODES = 500_000
#: YAML aliases may expand the file (its values plus the characters of its scalars, as if
#: written out without aliases) to this many times its length ...
MAX_EXPANSION = 10
#: ... or to this much, for small files ...
MIN_EXPANDED = 100_000
#: ... and never beyond this, whatever the file's length (what error messages may quote)
MAX_EXPANDED = 16 * 1024 * 1024
#: how deep mappings and lists may nest, aliases expanded (a fleet file needs 6)
MAX_DEPTH = 32
#: the largest number a fleet file may hold (and none that is not finite)
MAX_NUMBER = 10**15
#: the longest a number may be written (digits, signs, ``_``, ``:`` of YAML 1.1 base 60)
MAX_NUMBER_CHARS = 40
#: a connection's ``rate_limit`` (requests a second: below, one call would wait hours) ...
MIN_RATE_LIMIT = 0.01
MAX_RATE_LIMIT = 10_000
#: ... and each of its ``timeout`` values (seconds)
MAX_TIMEOUT = 3_600
#: a customers CSV file: its size in bytes, its rows and the characters of one cell
MAX_CSV_BYTES = 16 * 1024 * 1024
MAX_CSV_ROWS = 200_000
MAX_CSV_CELL = 1024
MAX_CSV_COLUMNS = 1000
#: the sending domains a fleet may expand to (customers times their streams)
MAX_DOMAINS = 200_000
#: a problem's message is shortened (its middle left out) beyond this many characters
MAX_MESSAGE = 600
#: problems listed; past it they are counted (50,000 bad entries need not cost gigabytes)
MAX_PROBLEMS = 10_000
#: names "did you mean" may compare words with in one load (about 40 microseconds each:
#: 2,000 streams and 200 misspelt references took 16 s, 10,000 would take 15 minutes)
MAX_HINT_COMPARISONS = 50_000

#: what is left of ``MAX_HINT_COMPARISONS`` in the load under way (None: no limit)
_HINTS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "espkit_fleet_hints", default=None
)


@contextlib.contextmanager
def hint_budget() -> Iterator[None]:
    """``did_you_mean`` within ``MAX_HINT_COMPARISONS`` until the block ends."""
    token = _HINTS.set([MAX_HINT_COMPARISONS])
    try:
        yield
    finally:
        _HINTS.reset(token)


def path_text(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    if len(word) > 64:  # no name is this long: a pasted value, not a typo
        return ""
    budget = _HINTS.get()
    if budget is not None:  # in a load: hints stop when the budget is spent
        count = len(choices) if isinstance(choices, Sized) else 100
        if count > budget[0]:
            return ""
        budget[0] -= count
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def excerpt(value: object, limit: int = 80) -> str:
    """``value`` for a message, bounded: a string quoted (cut to ``limit`` characters), other
    values by their ``repr`` under the same bound."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[: limit - 3] + "...")
    if isinstance(value, (bool, float)) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**limit else "a number too large to show"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return f"a mapping of {len(value)}"
    text = repr(value)  # bytes (!!binary), dates: short, or cut
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listing(names: Iterable[str], limit: int = 20) -> str:
    """``a, b, c``: the first ``limit`` names, and how many there are in all when more (a
    message per misspelt reference must not list 20,000 streams each time)."""
    first = list(itertools.islice(names, limit + 1))
    if len(first) <= limit:
        return ", ".join(first)
    total = f" ({len(names):,} in all)" if isinstance(names, Sized) else ""
    return ", ".join(first[:limit]) + f", ...{total}"


def shorten(message: str) -> str:
    """``message`` with its middle left out when over ``MAX_MESSAGE`` characters: the start
    says what and where, the end (a reason) is kept."""
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE * 2 // 3
    tail = MAX_MESSAGE - head - 5
    return f"{message[:head]} ... {message[-tail:]}"


class Reader:
    """Reads the YAML, remembering where each value came from (and each customer read from
    a CSV file), and collects the problems (``problems``) with their lines."""

    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir
        #: key path -> line (of the key for mapping entries, of the item in lists)
        self.lines: dict[KeyPath, int] = {(): 1}
        #: plain scalars YAML read as something else than a string (for "quote it" hints)
        self.raw: dict[KeyPath, str] = {}
        #: customers read from a CSV file: index -> (file, line)
        self.csv_rows: dict[int, tuple[str, int]] = {}
        self.problems: list[Problem] = []
        #: problems past ``MAX_PROBLEMS``, counted only
        self.dropped = 0
        #: values YAML could not give (an unsupported tag): reported, so nothing else is
        self.broken: set[KeyPath] = set()
        self._built: dict[int, Any] = {}
        self._active: set[int] = set()
        self._constructor: Any = None

    # -- problems ----------------------------------------------------------------------------
    def line_of(self, path: KeyPath) -> int | None:
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return None

    def _csv_row(self, path: KeyPath) -> tuple[str, int] | None:
        if len(path) >= 2 and path[0] == "customers" and isinstance(path[1], int):
            return self.csv_rows.get(path[1])
        return None

    def where(self, path: KeyPath, here: KeyPath = ()) -> str:
        """``line 12`` or ``customers.csv line 12``: where the value at ``path`` is (the file
        is named when it is not the one of ``here``)."""
        row = self._csv_row(path)
        if row is not None:
            same = (self._csv_row(here) or ("",))[0] == row[0]
            return f"line {row[1]}" if same else f"{row[0]} line {row[1]}"
        return f"line {self.line_of(path)}"

    @property
    def full(self) -> bool:
        """Whether ``MAX_PROBLEMS`` were found: checks may stop looking."""
        return len(self.problems) >= MAX_PROBLEMS

    def report(self, problem: Problem) -> None:
        """Keep ``problem`` (its message shortened), or count it past ``MAX_PROBLEMS``."""
        if self.full:
            self.dropped += 1
            return
        self.problems.append(Problem(shorten(problem.message), shorten(problem.path),
                                     problem.line, problem.file))

    def add(self, path: KeyPath, message: str, *, at: KeyPath | None = None,
            line: int | None = None) -> None:
        """A problem about the value at ``path``, pointing at the line of ``at`` (default:
        ``path``)."""
        target = path if at is None else at
        row = self._csv_row(target)
        if row is not None:
            rest = target[2:]
            if rest[:1] == ("domains",) and len(rest) > 1:
                column = str(rest[1])  # a stream's column
            else:
                column = str(rest[0]) if rest else ""
            self.report(Problem(message, column, row[1], row[0]))
            return
        if line is None:
            line = self.line_of(target)
        self.report(Problem(message, path_text(path), line))

    # -- YAML --------------------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        if len(text) > MAX_FLEET_CHARS:
            self.add((), f"the file is {len(text):,} characters long: a fleet file may be at "
                         f"most {MAX_FLEET_CHARS:,} (put many customers in a CSV file)")
            return None
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self._constructor = yaml.constructor.SafeConstructor()
        try:
            if not self.measure(text, loader):
                return None
            root = yaml.compose(text, Loader=loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem and exc.context_mark is not None:
                message += f" ({exc.context} on line {exc.context_mark.line + 1})"
            self.add((), f"YAML syntax error: {message}",
                     line=mark.line + 1 if mark is not None else None)
            return None
        except yaml.reader.ReaderError as exc:  # a control character, invalid UTF-8
            line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            self.add((), f"YAML syntax error: {exc.reason} (character #x{code:04x})", line=line)
            return None
        except yaml.YAMLError as exc:
            self.add((), f"YAML error: {type(exc).__name__}", line=None)
            return None
        if root is None:
            self.add((), "the file is empty; it needs at least version and connections")
            return None
        return self.build(root, ())

    def measure(self, text: str, loader: Any) -> bool:
        """Whether the document stays within ``MAX_DEPTH``, ``MAX_NODES`` and the expansion
        budget; else the problem, at the line where a limit is crossed.

        Counted over the parser's events, before anything is composed or built: an alias
        adds the values, size and depth of what its anchor holds, so ``&b [*a, *a, ...]``
        bombs are refused at their first costly alias, in time and memory linear in the
        text."""
        budget = min(MAX_EXPANDED, max(MIN_EXPANDED, MAX_EXPANSION * len(text)))
        anchors: dict[str, tuple[int, int, int]] = {}  # anchor -> (nodes, size, levels)
        frames: list[list[Any]] = []  # open collections: [anchor, nodes, size, deepest]
        nodes = size = 0
        for event in yaml.parse(text, Loader=loader):
            deepest = len(frames)
            if isinstance(event, yaml.CollectionStartEvent):
                frames.append([event.anchor, nodes, size, len(frames) + 1])
                nodes, size, deepest = nodes + 1, size + 1, deepest + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, start_nodes, start_size, deepest = frames.pop()
                if anchor is not None:
                    anchors[anchor] = (nodes - start_nodes, size - start_size,
                                       deepest - len(frames))
                if frames:
                    frames[-1][3] = max(frames[-1][3], deepest)
                continue
            elif isinstance(event, yaml.ScalarEvent):
                nodes, size = nodes + 1, size + 1 + len(event.value)
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 1 + len(event.value), 0)
            elif isinstance(event, yaml.AliasEvent):
                more_nodes, more, levels = anchors.get(event.anchor or "", (1, 1, 0))
                nodes, size, deepest = nodes + more_nodes, size + more, deepest + levels
                if frames:
                    frames[-1][3] = max(frames[-1][3], deepest)
            else:
                continue
            via = (f" through YAML alias {excerpt(event.anchor, 40)}"
                   if isinstance(event, yaml.AliasEvent) else "")
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if deepest > MAX_DEPTH:
                self.add((), f"mappings and lists nest more than {MAX_DEPTH} levels deep{via}: "
                             "a fleet file needs a handful", line=line)
                return False
            if nodes > MAX_NODES:
                self.add((), f"the file holds more than {MAX_NODES:,} values{via}: refused "
                             "before reading it (many customers belong in a CSV file)",
                         line=line)
                return False
            if size > budget:
                self.add((), f"the file expands past {budget:,} values and characters{via} "
                             f"(at most {MAX_EXPANSION} times its length, never over "
                             f"{MAX_EXPANDED:,}): refused before reading it", line=line)
                return False
        return True

    def build(self, node: Any, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        ident = id(node)
        if ident in self._built:  # an alias of a collection built already
            return self._built[ident]
        line = node.start_mark.line + 1
        if ident in self._active:
            self.add(path, "a YAML alias refers to the collection it is in", line=line)
            self.broken.add(path)
            return None
        self._active.add(ident)
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _TAG_SEQ:
                    return self.unsupported(node, path)
                items: list[Any] = []
                for i, item in enumerate(node.value):
                    self.lines.setdefault((*path, i), item.start_mark.line + 1)
                    items.append(self.build(item, (*path, i)))
                value: Any = items
            else:
                if node.tag != _TAG_MAP:
                    return self.unsupported(node, path)
                value = self.mapping(node, path)
        finally:
            self._active.discard(ident)
        self._built[ident] = value
        return value

    def mapping(self, node: Any, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        merges = []
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            if knode.tag == _TAG_MERGE:
                merges.append(vnode)
                continue
            if not isinstance(knode, yaml.ScalarNode):
                self.add(path, "a key must be a plain name, not a list or a mapping", line=kline)
                continue
            key = knode.value  # the key as written: `yes:` and `2024:` are names too
            if key in first:
                self.add(path, f"duplicate key {excerpt(key)}: first on line {first[key]}, "
                               f"again on line {kline}", line=kline)
                continue
            first[key] = kline
            at = (*path, key)
            self.lines[at] = kline
            out[key] = self.build(vnode, at)
        for merge in merges:  # YAML `<<: *anchor`: keys not set here come from the anchor
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    self.add(path, "'<<' must merge a mapping", line=src.start_mark.line + 1)
                    continue
                merged = self.build(src, path)
                if isinstance(merged, dict):
                    for key, value in merged.items():
                        out.setdefault(key, value)
        for key, kline in first.items():  # a merge built here must not move our own lines
            at = (*path, key)
            self.lines[at] = kline
        return out

    def scalar(self, node: Any, path: KeyPath) -> Any:
        if node.tag == _TAG_STR:
            return node.value
        line = node.start_mark.line + 1
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        if node.tag in _TAG_NUMBERS and len(node.value) > MAX_NUMBER_CHARS:
            # before converting: int() of 5,000 digits raises, base 60 ("1:2:...") is slow
            return self.unreadable(path, f"a number of {len(node.value):,} characters: a fleet "
                                         f"file's numbers are at most {MAX_NUMBER_CHARS} (quote "
                                         "it if it is text)", line)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            return self.unsupported(node, path)
        except (ValueError, ArithmeticError, LookupError, AttributeError, TypeError):
            # `!!bool maybe`, `!!int x`, a date that does not exist (2024-13-45)
            return self.unreadable(path, f"YAML cannot read {excerpt(node.value)} as "
                                         f"{excerpt(tag, 40)}: quote it if it is text", line)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            not math.isfinite(value) or abs(value) > MAX_NUMBER
        ):
            return self.unreadable(path, f"the number {excerpt(node.value)} is out of range: a "
                                         f"fleet file's numbers are finite and at most "
                                         f"{MAX_NUMBER:,} (quote it if it is text)", line)
        if not node.style and not isinstance(value, str) and node.value:  # plain (C: "")
            self.raw[path] = node.value
        return value

    def unreadable(self, path: KeyPath, message: str, line: int) -> None:
        """A scalar that cannot become a value: reported, so nothing else is."""
        self.add(path, message, line=line)
        self.broken.add(path)

    def unsupported(self, node: Any, path: KeyPath) -> None:
        self.add(path, f"unsupported YAML tag {excerpt(node.tag)}: a fleet file holds plain "
                       "values", line=node.start_mark.line + 1)
        self.broken.add(path)


__all__ = [
    "MAX_CSV_BYTES",
    "MAX_CSV_CELL",
    "MAX_CSV_COLUMNS",
    "MAX_CSV_ROWS",
    "MAX_DEPTH",
    "MAX_DOMAINS",
    "MAX_EXPANDED",
    "MAX_EXPANSION",
    "MAX_FLEET_CHARS",
    "MAX_HINT_COMPARISONS",
    "MAX_MESSAGE",
    "MAX_NODES",
    "MAX_NUMBER",
    "MAX_NUMBER_CHARS",
    "MAX_PROBLEMS",
    "MAX_RATE_LIMIT",
    "MAX_TIMEOUT",
    "MIN_EXPANDED",
    "MIN_RATE_LIMIT",
    "KeyPath",
    "Reader",
    "did_you_mean",
    "excerpt",
    "hint_budget",
    "listing",
    "path_text",
    "shorten",
]

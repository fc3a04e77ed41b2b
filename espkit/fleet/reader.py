"""Reading a fleet file: its YAML, and the customers CSV file it may name, as plain values
with the line of every one, and the problems found on the way, with theirs.

The YAML is composed into a node tree and turned into plain values by hand, recording the
line of every key path on the way (``("customers", 3, "domain")`` -> 14), so that both the
JSON Schema errors (``error.absolute_path``) and espkit's own checks can point at a line.

Internal: ``espkit.fleet.loader.Loader`` is a ``Reader`` that also checks what it read;
``fleet.loads`` imports it once PyYAML is known to be installed.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
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

_CSV_FIELDS = ("name", "domain", "template", "subaccount", "streams", "connection")
_CSV_SPLIT = re.compile(r"[,\s]+")


def path_text(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Reader:
    """Reads the YAML and CSV, remembering where each value came from, and collects the
    problems (``problems``) with their lines."""

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
            self.problems.append(Problem(message, column, row[1], row[0]))
            return
        if line is None:
            line = self.line_of(target)
        self.problems.append(Problem(message, path_text(path), line))

    # -- YAML --------------------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self._constructor = yaml.constructor.SafeConstructor()
        try:
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
                self.add(path, f"duplicate key {key!r}: first on line {first[key]}, "
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
        try:
            value = self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            return self.unsupported(node, path)
        if not node.style and not isinstance(value, str) and node.value:  # plain (C: "")
            self.raw[path] = node.value
        return value

    def unsupported(self, node: Any, path: KeyPath) -> None:
        self.add(path, f"unsupported YAML tag {node.tag!r}: a fleet file holds plain values",
                 line=node.start_mark.line + 1)
        self.broken.add(path)

    # -- CSV ---------------------------------------------------------------------------------
    def read_csv(self, name: str, stream_names: Iterable[str]) -> list[Any]:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        shown = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # -sig: a spreadsheet's BOM
        except FileNotFoundError:
            self.add(("customers",), f"customers file {shown!r} not found")
            return []
        except UnicodeDecodeError:
            self.add(("customers",), f"customers file {shown!r} is not UTF-8 text")
            return []
        except OSError as exc:
            self.add(("customers",), f"cannot read customers file {shown!r}: "
                                     f"{exc.strerror or type(exc).__name__}")
            return []
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            self.problems.append(Problem("the file is empty; it needs a header row "
                                        "(name, domain, ...)", "", 1, shown))
            return []
        columns = [c.strip() for c in header]
        known = set(_CSV_FIELDS) | set(stream_names)
        usable: list[str | None] = []
        for column in columns:
            if column not in known:
                if column:
                    self.problems.append(Problem(
                        f"unknown column {column!r}{did_you_mean(column, known)}: columns are "
                        f"{', '.join(_CSV_FIELDS)} and stream names", column, 1, shown))
                usable.append(None)
            elif column in usable:
                self.problems.append(Problem(f"column {column!r} appears twice", column, 1,
                                             shown))
                usable.append(None)
            else:
                usable.append(column)
        if "name" not in columns:
            self.problems.append(Problem("no 'name' column: the header row needs name "
                                         "(and usually domain)", "", 1, shown))
            return []
        rows: list[Any] = []
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if len(cells) > len(columns):
                self.problems.append(Problem(f"{len(cells)} cells, but the header has "
                                             f"{len(columns)} columns", "", line, shown))
            entry: dict[str, Any] = {}
            for field, cell in zip(usable, cells, strict=False):
                value = cell.strip()
                if field is None or not value:
                    continue
                if field == "streams":
                    entry["streams"] = [s for s in _CSV_SPLIT.split(value) if s]
                elif field in _CSV_FIELDS:
                    entry[field] = value
                else:
                    entry.setdefault("domains", {})[field] = value
            self.csv_rows[len(rows)] = (shown, line)
            rows.append(entry)
        return rows


__all__ = ["KeyPath", "Reader", "did_you_mean", "path_text"]

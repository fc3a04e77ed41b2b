"""The ramp state file: the decisions on a fleet's ramps, beside the fleet file
(``fleet.yaml`` -> ``fleet.ramp-state.yaml``) and reviewed in version control like it.

    # espkit ramp state: ...
    version: 1
    decisions:
    - {ramp: "to-sg", on: 2026-03-03, action: advance, step: 2, share: "2%", by: "ana", note: ""}
    - {ramp: "to-sg", on: 2026-03-09, action: hold, step: 6, share: "20%", by: "ops", note: "x"}

One decision a line, so that a pull request adding one shows one added line. ``save_state``
writes atomically (a temporary file renamed over the old one) and only appends: a state
whose decisions do not begin with the file's is refused, so history is never rewritten by
the tools. The file may have been edited by anyone who can open a pull request: it is read
within bounds (size, YAML depth and events, decisions), as a regular file only (a symbolic
link, FIFO or device is refused), and every problem is a typed error naming the line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from espkit.errors import ConfigError, UnreadableFile, ValidationError
from espkit.ramp.model import NAME, Action, Decision, RampState, format_share, parse_share
from espkit.ramp.state import MAX_BY, MAX_NOTE

#: the largest state file read or written (a decision takes about 120 bytes)
MAX_STATE_BYTES = 1024 * 1024
#: the decisions a state file may hold (a 21-day ramp writes a few dozen)
MAX_DECISIONS = 10_000
#: YAML events read before composing: a decision is about 20
MAX_EVENTS = 25 * MAX_DECISIONS
#: root mapping -> decisions list -> one decision
MAX_DEPTH = 3
SUFFIX = ".ramp-state.yaml"

_HEADER = """\
# espkit ramp state: the decisions on this fleet's ramps, oldest first, one a line.
# Append-only: written by `espkit ramp advance|hold|resume|rollback`; review it like the
# fleet file. The step of a day is the replay of the decisions up to that day.
"""
_FIELDS = ("ramp", "on", "action", "step", "share", "by", "note", "forced")
_REQUIRED = ("ramp", "on", "action", "step", "share")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STR = "tag:yaml.org,2002:str"


def state_path(fleet_path: str | os.PathLike[str]) -> Path:
    """Where the state file of a fleet file lives: ``ops/fleet.yaml`` ->
    ``ops/fleet.ramp-state.yaml``."""
    path = Path(fleet_path)
    stem = path.stem if path.suffix.lower() in (".yaml", ".yml", ".json") else path.name
    return path.with_name(stem + SUFFIX)


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def dumps_state(state: RampState) -> str:
    """The file's text: a header, ``version: 1`` and one flow mapping per decision."""
    lines = [_HEADER, "version: 1\n"]
    if not state.decisions:
        lines.append("decisions: []\n")
        return "".join(lines)
    lines.append("decisions:\n")
    for d in state.decisions:
        forced = ", forced: true" if d.forced else ""
        lines.append(f"- {{ramp: {_text(d.ramp)}, on: {d.on.isoformat()}, action: {d.action}, "
                     f"step: {d.step}, share: {_text(format_share(d.share))}, by: "
                     f"{_text(d.by)}, note: {_text(d.note)}{forced}}}\n")
    return "".join(lines)


def _excerpt(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


class _Reader:
    """Turns the composed YAML into a ``RampState``; every refusal names the line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def bad(self, node: Any, what: str, value: object, reason: str) -> ValidationError:
        line = node.start_mark.line + 1
        return ValidationError(f"{self.source} line {line}: {what}", value, reason)

    def scalar(self, node: Any, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise self.bad(node, what, kind, "must be a single value")
        return str(node.value)

    def text(self, node: Any, what: str, limit: int) -> str:
        value = self.scalar(node, what)
        if node.tag != _STR:
            raise self.bad(node, what, _excerpt(value), "must be text (quote it)")
        if len(value) > limit or not value.isprintable():
            raise self.bad(node, what, _excerpt(value), f"must be one line of at most {limit} "
                                                        "printable characters")
        return value

    def decision(self, node: Any) -> Decision:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.bad(node, "decision", "not a mapping", "each decision is a mapping "
                           "{ramp, on, action, step, share, by, note}")
        fields: dict[str, Any] = {}
        for key, value in node.value:
            name = self.scalar(key, "key")
            if name not in _FIELDS:
                raise self.bad(key, "key", _excerpt(name), f"is not one of {', '.join(_FIELDS)}")
            if name in fields:
                raise self.bad(key, "key", name, "is given twice")
            fields[name] = value
        missing = [f for f in _REQUIRED if f not in fields]
        if missing:
            raise self.bad(node, "decision", "incomplete", f"lacks {', '.join(missing)}")
        ramp = self.text(fields["ramp"], "ramp", 64)
        if not NAME.fullmatch(ramp):
            raise self.bad(fields["ramp"], "ramp", ramp, "is not a ramp name")
        on_text = self.scalar(fields["on"], "on")
        try:
            if not _DATE.fullmatch(on_text):
                raise ValueError(on_text)
            on = date.fromisoformat(on_text)
        except ValueError:
            raise self.bad(fields["on"], "on", _excerpt(on_text), "must be a date, YYYY-MM-DD"
                           ) from None
        action_text = self.scalar(fields["action"], "action")
        try:
            action = Action(action_text)
        except ValueError:
            raise self.bad(fields["action"], "action", _excerpt(action_text), "must be one of "
                           + ", ".join(a.value for a in Action)) from None
        step_text = self.scalar(fields["step"], "step")
        if fields["step"].tag == _STR or not re.fullmatch(r"\d{1,4}", step_text):
            raise self.bad(fields["step"], "step", _excerpt(step_text),
                           "must be a whole number, 0 to 9999")
        share_text = self.scalar(fields["share"], "share")
        try:
            share = parse_share(share_text)
        except ValidationError as exc:
            raise self.bad(fields["share"], "share", _excerpt(share_text), exc.reason) from None
        forced = False
        if "forced" in fields:
            forced_text = self.scalar(fields["forced"], "forced")
            if forced_text not in ("true", "false") or fields["forced"].tag == _STR:
                raise self.bad(fields["forced"], "forced", _excerpt(forced_text),
                               "must be true or false")
            forced = forced_text == "true"
        by = self.text(fields["by"], "by", MAX_BY) if "by" in fields else ""
        note = self.text(fields["note"], "note", MAX_NOTE) if "note" in fields else ""
        return Decision(ramp, action, on, int(step_text), share, by, note, forced,
                        line=node.start_mark.line + 1)

    def state(self, root: Any) -> RampState:
        import yaml

        if root is None:
            return RampState()
        if not isinstance(root, yaml.MappingNode):
            raise self.bad(root, "file", "not a mapping", "must be a mapping with version and "
                                                          "decisions")
        found: dict[str, Any] = {}
        for key, value in root.value:
            name = self.scalar(key, "key")
            if name not in ("version", "decisions") or name in found:
                raise self.bad(key, "key", _excerpt(name), "the file holds version and "
                                                           "decisions, once each")
            found[name] = value
        version = found.get("version")
        if version is None or self.scalar(version, "version") != "1" or version.tag == _STR:
            raise self.bad(version or root, "version", "missing" if version is None else
                           _excerpt(version.value), "must be 1")
        items = found.get("decisions")
        if items is None or (isinstance(items, yaml.ScalarNode) and items.value in ("", "~",
                                                                                    "null")):
            return RampState()
        if not isinstance(items, yaml.SequenceNode):
            raise self.bad(items, "decisions", "not a list", "must be a list of decisions")
        if len(items.value) > MAX_DECISIONS:
            raise self.bad(items, "decisions", f"{len(items.value):,} decisions",
                           f"at most {MAX_DECISIONS:,}")
        return RampState(tuple(self.decision(item) for item in items.value))


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - the fleet extra brings it
        raise ConfigError("reading a ramp state file needs PyYAML: pip install "
                          "'espkit[fleet]'") from None
    return yaml


def loads_state(text: str, source: str = "<ramp state>") -> RampState:
    """The state in ``text``; ``ValidationError`` naming the line of the first problem."""
    yaml = _yaml()
    if len(text) > MAX_STATE_BYTES:
        raise ValidationError(source, f"{len(text):,} characters",
                              f"a ramp state file is at most {MAX_STATE_BYTES:,}")
    # libyaml when PyYAML has it: the same nodes and marks, ten times faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = items = 0
        for events, event in enumerate(yaml.parse(text, Loader=loader), start=1):
            if depth == 2 and isinstance(event, yaml.NodeEvent):
                items += 1  # an entry of the decisions list (or of whatever is there)
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ValidationError(f"{source} line {event.start_mark.line + 1}",
                                          "nesting", "a ramp state file nests 3 deep at most")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if events > MAX_EVENTS or items > MAX_DECISIONS:
                raise ValidationError(f"{source} line {event.start_mark.line + 1}",
                                      "size", f"a ramp state file holds {MAX_DECISIONS:,} "
                                      "decisions at most")
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValidationError(f"{source}{where}", "YAML", f"is not readable YAML: {problem}"
                              ) from None
    return _Reader(source).state(root)


def _refuse(path: Path, why: str) -> UnreadableFile:
    return UnreadableFile(f"ramp state file {path}: {why}")


def load_state(path: str | os.PathLike[str], *, missing_ok: bool = True) -> RampState:
    """The state file at ``path`` (no file: no decisions yet, unless ``missing_ok`` is
    false). A symbolic link, directory, FIFO or device, or a file over
    ``MAX_STATE_BYTES``, is refused (``UnreadableFile``) before it is read."""
    p = Path(path)
    try:
        info = os.lstat(p)
    except FileNotFoundError:
        if missing_ok:
            return RampState()
        raise _refuse(p, "does not exist") from None
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(p, "is a symbolic link: it must be a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(p, "is not a regular file")
    if info.st_size > MAX_STATE_BYTES:
        raise _refuse(p, f"is {info.st_size:,} bytes: at most {MAX_STATE_BYTES:,}")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(p, flags)
    except OSError as exc:
        raise _refuse(p, f"cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since lstat
            raise _refuse(p, "is not a regular file")
        data = handle.read(MAX_STATE_BYTES + 1)
    if len(data) > MAX_STATE_BYTES:
        raise _refuse(p, f"is over {MAX_STATE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"{p.name} line {line}", "bytes", "is not UTF-8 text") from None
    return loads_state(text, p.name)


def save_state(path: str | os.PathLike[str], state: RampState) -> None:
    """Write ``state`` to ``path`` atomically. Refused when ``path`` is not a regular file,
    when the text would be over ``MAX_STATE_BYTES``, or when ``state`` does not begin with
    the decisions already in the file (the log is append-only)."""
    p = Path(path)
    text = dumps_state(state)
    data = text.encode("utf-8")
    if len(data) > MAX_STATE_BYTES:
        raise ValidationError("state", f"{len(state.decisions):,} decisions",
                              f"would write {len(data):,} bytes: at most {MAX_STATE_BYTES:,}")
    if loads_state(text, p.name) != state:
        raise ValidationError("state", "decisions", "would not read back as written")
    old = load_state(p)
    if state.decisions[: len(old.decisions)] != old.decisions:
        raise ValidationError("state", p.name, "does not begin with the decisions already in "
                              "the file: the ramp state is append-only")
    mode = 0o644
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.lstat(p).st_mode)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = [
    "MAX_DECISIONS",
    "MAX_STATE_BYTES",
    "SUFFIX",
    "dumps_state",
    "load_state",
    "loads_state",
    "save_state",
    "state_path",
]

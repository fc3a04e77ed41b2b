"""Bulk input: reading items from files and turning one item into a domain name or a ``DomainSpec``.

An item is a domain name, a ``DomainSpec`` or a mapping with a ``name`` (or ``domain``) key
and any ``DomainSpec`` field, which is what ``read_items`` yields for a CSV with a header.
Reading is lazy and parsing raises ``ValidationError`` per item, so the engine can check a
whole input (and name every bad row) before anything is sent.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import attrs

from espkit import validate
from espkit.bulk.report import REPORT_COLUMNS
from espkit.errors import ConfigError, ValidationError
from espkit.models import DomainSpec

_SPEC_FIELDS = tuple(f.name for f in attrs.fields(DomainSpec))


def read_items(path: str | Path, *, stdin: TextIO | None = None) -> Iterator[Any]:
    """Items from a file, read lazily: CSV with a header naming ``name`` (or ``domain``)
    and any ``DomainSpec`` fields (``pool``, ``ips`` ...); JSON (a list of names or objects);
    JSON Lines (``.jsonl``/``.ndjson``); or plain text, one name per line (``#`` starts a
    comment). ``"-"`` reads standard input as CSV or text."""
    if str(path) == "-":
        yield from _read_text_or_csv(stdin or sys.stdin, "<stdin>")
        return
    file = Path(path)
    suffix = file.suffix.lower()
    try:
        handle = file.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    with handle:
        if suffix == ".json":
            try:
                data = json.load(handle)
            except ValueError as exc:
                raise ConfigError(f"{file} is not valid JSON: {exc}") from None
            if not isinstance(data, list):
                raise ConfigError(f"{file}: expected a JSON list of names or objects")
            yield from data
        elif suffix in (".jsonl", ".ndjson"):
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise ConfigError(f"{file} line {number}: not JSON: {exc}") from None
        else:
            yield from _read_text_or_csv(handle, str(file))


def _read_text_or_csv(handle: TextIO, label: str) -> Iterator[Any]:
    lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
    first = next(lines, None)
    if first is None:
        return
    header = [c.strip().lower() for c in next(csv.reader([first]))]
    if "name" in header or "domain" in header:
        for row in csv.DictReader(lines, fieldnames=header):
            if None in row:
                raise ConfigError(f"{label}: a row has more cells than the header: "
                                  f"{row[None]!r}")
            yield {k: (v or "").strip() for k, v in row.items()}
    else:
        # no header: one name per line (a first cell of a headerless CSV is the name)
        for line in itertools.chain([first], lines):
            yield next(csv.reader([line]))[0].strip()


def name_of(item: Any) -> str:
    """The checked domain name of an item: a name, a ``DomainSpec`` or a mapping with a
    ``name`` (or ``domain``) field."""
    if isinstance(item, Mapping):
        for field in ("name", "domain"):
            if item.get(field):
                return validate.domain_name(item[field])
        raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
    if isinstance(item, DomainSpec):
        return validate.domain_name(item.name)
    return validate.domain_name(item)


def spec_of(item: Any) -> DomainSpec:
    """The ``DomainSpec`` an item describes. Mapping values come as a CSV gives them (``ips``
    space- or comma-separated, ``dkim_key_size`` and ``wildcard`` as text); empty cells and
    the ``REPORT_COLUMNS`` of a fed-back failed-items file are ignored."""
    if isinstance(item, DomainSpec):
        return item
    if isinstance(item, str):
        return DomainSpec(name=item)
    if isinstance(item, Mapping):
        data = {k: v for k, v in item.items()
                if v not in (None, "") and k not in REPORT_COLUMNS}
        if "domain" in data and "name" not in data:
            data["name"] = data.pop("domain")
        unknown = sorted(set(data) - set(_SPEC_FIELDS))
        if unknown:
            raise ValidationError("item", dict(item), f"unknown field(s) {', '.join(unknown)}; "
                                  f"known: {', '.join(_SPEC_FIELDS)}")
        if "name" not in data:
            raise ValidationError("item", dict(item), "has no 'name' (or 'domain') field")
        ips = data.get("ips", ())
        if isinstance(ips, str):  # CSV cells: "192.0.2.1 192.0.2.2" or comma-separated
            ips = ips.replace(",", " ").split()
        data["ips"] = tuple(ips)
        if isinstance(data.get("dkim_key_size"), str):
            size = data["dkim_key_size"]
            if not size.isdigit():
                raise ValidationError("dkim_key_size", size, "must be 1024 or 2048")
            data["dkim_key_size"] = int(size)
        if isinstance(data.get("wildcard"), str):
            flag = data["wildcard"].strip().lower()
            if flag not in ("true", "false", "yes", "no", "1", "0"):
                raise ValidationError("wildcard", data["wildcard"], "must be true or false")
            data["wildcard"] = flag in ("true", "yes", "1")
        return DomainSpec(**data)
    raise ValidationError("item", item, "must be a domain name, a DomainSpec or a mapping")


__all__ = [
    "name_of",
    "read_items",
    "spec_of",
]

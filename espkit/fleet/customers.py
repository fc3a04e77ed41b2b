"""Checking the ``customers`` of a fleet file (a list, or rows of a CSV file) and expanding
each one's domains: its template and own settings merged, ``{placeholders}`` filled,
names validated, and the fleet-wide rules (a domain produced once, a subaccount on one
connection, a pool on the connection of the domains that send from it, options the
provider supports).

A customers CSV file is read here too (``read_csv``), within the limits of
``espkit.fleet.reader``: a regular file (``read_bounded``, never a device or FIFO) under a
size, row, column and cell cap. Until its header row shows it is a customers file (a
``name`` column), nothing of it is quoted: ``customers: /etc/passwd`` or a token file must
not echo their first line into a CI log.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from espkit import providers, validate
from espkit.errors import ConfigError, UnreadableFile, ValidationError
from espkit.fleet.checker import as_text
from espkit.fleet.model import (
    DEFAULT_TEMPLATE,
    CustomerSpec,
    DesiredDomain,
    Problem,
    StreamSpec,
)
from espkit.fleet.placeholders import expand, needs
from espkit.fleet.reader import (
    MAX_CSV_BYTES,
    MAX_CSV_CELL,
    MAX_CSV_COLUMNS,
    MAX_CSV_ROWS,
    MAX_DOMAINS,
    KeyPath,
    did_you_mean,
    excerpt,
    listing,
)
from espkit.fleet.templates import NO_SETTINGS, Settings, TemplateChecks
from espkit.fleet.trust import is_inside

_CSV_FIELDS = ("name", "domain", "template", "subaccount", "streams", "connection")
_CSV_SPLIT = re.compile(r"[,\s]+")
#: a header cell that may be quoted back: what could be a column name (as stream names are)
_COLUMN_LIKE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
)


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, or ``UnreadableFile``
    naming ``what`` (``"customers file"``) and the path, never the contents.

    A directory, FIFO, socket or device is refused by ``os.stat`` before it is opened
    (``/dev/zero`` never ends, a FIFO blocks); the file is opened non-blocking and checked
    again in case it was swapped since, and read to ``limit + 1`` bytes at most, as
    ``/proc`` files say they are empty."""
    shown = excerpt(str(path), 300)
    try:
        before = os.stat(path)
        for test, kind in _NOT_REGULAR:
            if test(before.st_mode):
                raise UnreadableFile(f"{what} {shown} is {kind}, not a regular file")
        if before.st_size > limit:
            raise UnreadableFile(f"{what} {shown} is {before.st_size:,} bytes: at most {limit:,}")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as file:
            now = os.fstat(file.fileno())
            if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino) or not (
                stat.S_ISREG(now.st_mode)
            ):
                raise UnreadableFile(f"{what} {shown} changed while it was opened")
            chunks: list[bytes] = []  # not read(limit + 1): that allocates all of it at once
            size = 0
            while size <= limit:
                chunk = file.read(min(1 << 16, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            data = b"".join(chunks)
    except FileNotFoundError:
        raise UnreadableFile(f"{what} {shown} not found") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UnreadableFile(f"cannot read {what} {shown}: {reason}") from None
    if len(data) > limit:
        raise UnreadableFile(f"{what} {shown} is over {limit:,} bytes")
    return data


def _records(reader: Any, file: str, problems: list[Problem]) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each CSV record; a record the csv module refuses ends the file
    with a problem (its line, and what: never its text)."""
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = (f"a cell is longer than {MAX_CSV_CELL:,} characters"
                      if "field limit" in str(exc) else f"not valid CSV ({exc})")
            problems.append(Problem(reason, "", start, file))
            return
        yield start, cells
        start = reader.line_num + 1


class CustomerChecks(TemplateChecks):
    """Customers and their domains; needs everything else checked first."""

    def outside(self, path: Path) -> str | None:
        """Why the fleet file may not read ``path``, or None: a file it names must be inside
        its own directory (links resolved) unless the caller allowed the place (--allow-path,
        $ESPKIT_ALLOW_PATHS); a fleet file from a pull request must not read the runner's
        other files into error messages or plans."""
        try:
            real = os.path.realpath(path)
            homes = [os.path.realpath(os.path.expanduser(str(p))) for p in self.allowed_paths]
            own = os.path.realpath(self.base_dir)
        except (ValueError, OSError):  # a NUL in the path: read_bounded names the problem
            return None
        if any(is_inside(real, place) for place in (own, *homes)):
            return None
        return (f"customers file {excerpt(str(path), 300)} is outside the fleet file's "
                f"directory: a fleet file cannot read files elsewhere; allow it with "
                f"--allow-path {excerpt(real, 300)} or $ESPKIT_ALLOW_PATHS")

    def read_csv(self, name: str, stream_names: Iterable[str]) -> list[Any]:
        """The customers of a CSV file, as the entries of a ``customers`` list would be."""
        try:
            path = Path(name).expanduser()
        except RuntimeError:  # ~user, no such user
            path = Path(name)
        if not path.is_absolute():
            path = self.base_dir / path
        shown = str(path)
        outside = self.outside(path)
        if outside is not None:
            self.add(("customers",), outside)
            return []
        try:
            # -sig: a spreadsheet's BOM
            text = read_bounded(path, MAX_CSV_BYTES, "customers file").decode("utf-8-sig")
        except UnreadableFile as exc:
            self.add(("customers",), str(exc))
            return []
        except UnicodeDecodeError:
            self.add(("customers",), f"customers file {excerpt(shown, 300)} is not UTF-8 text")
            return []
        found: list[Problem] = []
        try:
            return self.csv_customers(text, shown, set(_CSV_FIELDS) | set(stream_names), found)
        finally:
            for problem in found:
                self.report(problem)

    def csv_customers(self, text: str, shown: str, known: set[str],
                      found: list[Problem]) -> list[Any]:
        records = _records(csv.reader(io.StringIO(text, newline="")), shown, found)
        _, header = next(records, (1, None))
        if header is None:
            if not found:
                found.append(Problem("the file is empty; it needs a header row "
                                     "(name, domain, ...)", "", 1, shown))
            return []
        columns = [c.strip() for c in header]
        if "name" not in columns:  # not a customers file: nothing of it is shown
            found.append(Problem("no 'name' column: the header row needs name (and usually "
                                 "domain); this is not a customers CSV file", "", 1, shown))
            return []
        if len(columns) > MAX_CSV_COLUMNS:
            found.append(Problem(f"the header row has {len(columns):,} columns: at most "
                                 f"{MAX_CSV_COLUMNS:,}", "", 1, shown))
            return []
        usable: list[str | None] = []
        for i, column in enumerate(columns):
            if column not in known:
                if column and _COLUMN_LIKE.fullmatch(column):
                    found.append(Problem(
                        f"unknown column {column!r}{did_you_mean(column, known)}: columns are "
                        f"{', '.join(_CSV_FIELDS)} and stream names", column, 1, shown))
                elif column:
                    found.append(Problem(f"not a column name: columns are "
                                         f"{', '.join(_CSV_FIELDS)} and stream names",
                                         f"column {i + 1}", 1, shown))
                usable.append(None)
            elif column in usable:
                found.append(Problem(f"column {column!r} appears twice", column, 1, shown))
                usable.append(None)
            else:
                usable.append(column)
        rows: list[Any] = []
        for line, cells in records:
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if len(rows) == MAX_CSV_ROWS:
                found.append(Problem(f"more than {MAX_CSV_ROWS:,} customers: a fleet holds at "
                                     "most that many", "", line, shown))
                break
            if len(cells) > len(columns):
                found.append(Problem(f"{len(cells)} cells, but the header has "
                                     f"{len(columns)} columns", "", line, shown))
            entry: dict[str, Any] = {}
            too_long = False
            for field, cell in zip(usable, cells, strict=False):
                value = cell.strip()
                if field is None or not value:
                    continue
                if len(value) > MAX_CSV_CELL:
                    found.append(Problem(f"a cell of {len(value):,} characters: at most "
                                         f"{MAX_CSV_CELL:,}", field, line, shown))
                    too_long = True  # the row is left out: its other checks would mislead
                    break
                if field == "streams":
                    entry["streams"] = [s for s in _CSV_SPLIT.split(value) if s]
                elif field in _CSV_FIELDS:
                    entry[field] = value
                else:
                    entry.setdefault("domains", {})[field] = value
            if not too_long:
                self.csv_rows[len(rows)] = (shown, line)
                rows.append(entry)
        return rows

    def customers(self, data: dict[str, Any], streams: dict[str, tuple[StreamSpec, bool]],
                  templates: dict[str, Settings]) -> tuple[CustomerSpec, ...]:
        out: list[CustomerSpec] = []
        names: dict[str, KeyPath] = {}
        # (connection, domain) -> customer, stream, where. One domain may live on two
        # connections (two ESPs during a migration ramp), never twice on one
        made: dict[tuple[str, str], tuple[str, str, KeyPath]] = {}
        subs: dict[str, tuple[str, str, KeyPath]] = {}  # subaccount -> connection, customer
        entries = data.get("customers")
        misspelt = {b[1] for b in self.bad if len(b) == 3 and b[0] == "customers"}
        pairs = 0  # (customer, stream) expanded: customers times streams is bounded too
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            if self.full:
                break  # the file fails anyway; more problems would only be counted
            if not isinstance(entry, dict):
                continue
            path: KeyPath = ("customers", i)
            name = as_text(entry.get("name"))
            if name is None:
                continue
            if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
                # printed by plan and apply: no terminal escapes, no invisible differences
                self.error((*path, "name"), f"customer name {excerpt(name)} holds a control "
                                            "or invisible formatting character")
            if name in names:
                self.error(path, f"customer {excerpt(name)} is declared twice (also on "
                                 f"{self.where(names[name], path)})", at=(*path, "name"))
            else:
                names[name] = path
            row = self.csv_rows.get(i)
            line = row[1] if row is not None else self.line_of(path)
            template: Settings | None = None
            tname = entry.get("template")
            if not isinstance(tname, str):
                tname = DEFAULT_TEMPLATE if DEFAULT_TEMPLATE in templates else None
            if tname is not None:
                template = templates.get(tname)
                if template is None:
                    self.error((*path, "template"), f"unknown template {excerpt(tname)}"
                               f"{did_you_mean(tname, templates)}; defined: "
                               f"{listing(templates) or 'none'}")
                    continue
            base = template or NO_SETTINGS
            own = self.settings(entry, path, streams)
            domain: str | None = None
            # no domain: say so once, unless it is given (invalid: reported) or misspelt
            needs_domain: list[str] = []
            quiet = "domain" in entry or i in misspelt
            if isinstance(entry.get("domain"), str):
                try:
                    domain = validate.domain_name(entry["domain"])
                except ValidationError as exc:
                    self.error((*path, "domain"), str(exc))
            used = own.streams if own.streams is not None else base.streams
            if used is None:
                used = list(streams)
            pairs += len(used)
            if pairs > MAX_DOMAINS:
                self.add(path, f"the customers expand to more than {MAX_DOMAINS:,} sending "
                               "domains (customers times their streams): at most that many "
                               "in one fleet", at=(*path, "name"))
                break
            using = set(used)
            for field, mapping in (("domains", own.domains), ("overrides", own.overrides)):
                for s in mapping:
                    if s not in using:
                        self.error((*path, field), f"stream {excerpt(s)} is not one of this "
                                   f"customer's streams ({listing(used) or 'none'})",
                                   at=(*path, field, s))
            values = {"customer": name, "domain": domain or ""}
            # the subaccount
            subaccount: str | None = None
            sub = own.subaccount or base.subaccount
            if sub is not None and sub[2]:
                text, at, _ = sub
                ours = at[:2] == path
                if needs(text, "domain") and domain is None:
                    needs_domain.append(f"its subaccount {excerpt(text)}")
                else:
                    try:
                        subaccount = validate.subaccount_name(expand(text, values))
                    except ValidationError as exc:
                        message = str(exc) if ours else f"{exc} (from template {excerpt(tname)})"
                        self.error(at if ours else path, message)
            connection = own.connection or base.connection
            domains: list[DesiredDomain] = []
            for s in used:
                if s not in streams:
                    continue
                stream, stream_ok = streams[s]
                chosen = own.domains.get(s) or base.domains.get(s)
                text, at, ok = chosen or (stream.domain, ("streams", s, "domain"), stream_ok)
                if not ok:
                    continue
                ours = at[:2] == path
                if needs(text, "domain") and domain is None:
                    needs_domain.append(f"stream {excerpt(s)} ({excerpt(text)})")
                    continue
                try:
                    fqdn = validate.domain_name(expand(text, {**values, "stream": s}))
                except ValidationError as exc:
                    message = str(exc)
                    if not ours or text != expand(text, {**values, "stream": s}):
                        message += f" (from {excerpt(text)}, stream {excerpt(s)})"
                    self.error(at if ours else path, message)
                    continue
                conn = connection or stream.connection
                # what it sends from: the most specific of stream, template, customer
                pool, ips, source = stream.pool, stream.ips, None
                for override in (base.overrides.get(s), own.overrides.get(s)):
                    if override is not None and override.sends:
                        pool, ips, source = override.pool, override.ips, override.path
                owner = self.pool_conn.get(pool or "")
                if pool and owner is not None and owner != conn and (
                    source is not None or conn != stream.connection
                ):
                    self.error(path, f"stream {s!r} sends from pool {pool!r}, which is on "
                                     f"connection {owner!r}, not {conn!r}")
                options = dict(self.defaults)
                options.update(self.stream_options.get(s, {}))
                for override in (base.overrides.get(s), own.overrides.get(s)):
                    if override is not None:
                        options.update(override.options)
                self.check_supported(conn, options, name, s)
                earlier = made.get((conn, fqdn))
                if earlier is not None:
                    self.error(at if ours else path,
                               f"domain {fqdn!r} is produced twice: by customer "
                               f"{excerpt(earlier[0])} stream {earlier[1]!r} "
                               f"({self.where(earlier[2], path)}) and by customer "
                               f"{excerpt(name)} stream {s!r}")
                    continue
                made[(conn, fqdn)] = (name, s, path)
                if subaccount is not None:
                    first = subs.setdefault(subaccount, (conn, name, path))
                    if first[0] != conn:
                        self.error(path, f"subaccount {subaccount!r} is on connection {conn!r} "
                                         f"here, but on {first[0]!r} for customer "
                                         f"{excerpt(first[1])} "
                                         f"({self.where(first[2], path)})")
                domains.append(DesiredDomain(
                    name=fqdn, customer=name, stream=s, connection=conn, subaccount=subaccount,
                    pool=pool, ips=ips, options={k: v for k, (v, _) in options.items()},
                    line=line,
                ))
            if needs_domain and not quiet:
                self.error(path, f"customer {excerpt(name)} has no domain, but {{domain}} is "
                                 "used by " + ", ".join(needs_domain))
            out.append(CustomerSpec(name, tuple(domains), subaccount, line, domain=domain))
        return tuple(out)

    def check_supported(self, connection: str, options: Mapping[str, tuple[Any, KeyPath]],
                        customer: str, stream: str) -> None:
        """Creation options the connection's provider does not honour: reported once where
        they are set (``check_spec`` would refuse every such create)."""
        conn = self.conns.get(connection)
        if conn is None or not options:
            return
        try:
            supported = providers.get(conn.provider).DOMAIN_OPTIONS
        except ConfigError:
            return
        for key, (_, at) in options.items():
            if key not in supported and (at, connection) not in self.reported_options:
                self.reported_options.add((at, connection))
                self.error(at, f"{conn.provider} does not support the domain option {excerpt(key)} "
                               f"(connection {connection!r}, e.g. customer {excerpt(customer)} "
                               f"stream {stream!r})")


__all__ = [
    "CustomerChecks",
    "read_bounded",
]

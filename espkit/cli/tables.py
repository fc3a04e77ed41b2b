"""Tables more than one command module prints: a domain's DNS records (``domains create``,
``show`` and a single ``domains verify``) and a one-line message (deletes, assignments).

Every cell is a ``Text`` made by ``cell``: what the ESP sent (a host, a record value, a
domain name) is shown as it is, never read as rich markup, its control characters visible
as ``\\x1b`` rather than acted on by the terminal.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from espkit.cli.app import clean
from espkit.models import Domain


def cell(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """``value`` as a table cell: plain text (no markup), control characters neutralised
    (``clean``; newlines and tabs kept only when ``multiline``)."""
    return Text(clean("" if value is None else str(value), multiline=multiline), style=style)


def records_table(d: Domain) -> Table:
    """The DNS records of ``d``, hosts and values folded rather than cut."""
    # fold rather than truncate: a person copies these values into their DNS
    t = Table("purpose", "type", title=cell(f"{d.name}  [{d.state}]", "table.title"))
    t.add_column("host", overflow="fold")
    t.add_column("value", overflow="fold")
    t.add_column("priority")
    t.add_column("status")
    for r in d.dns_records:
        t.add_row(cell(r.purpose), cell(r.type), cell(r.host), cell(r.value),
                  cell(r.priority), cell(r.status))
    return t


def message(text: str) -> Table:
    """One line of text as a table, for ``emit``'s table form."""
    t = Table.grid()
    t.add_row(cell(text))
    return t


__all__ = ["cell", "message", "records_table"]

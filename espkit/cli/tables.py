"""Tables more than one command module prints: a domain's DNS records (``domains create``,
``show`` and a single ``domains verify``) and a one-line message (deletes, assignments)."""

from __future__ import annotations

from rich.table import Table

from espkit.models import Domain


def records_table(d: Domain) -> Table:
    """The DNS records of ``d``, hosts and values folded rather than cut."""
    # fold rather than truncate: a person copies these values into their DNS
    t = Table("purpose", "type", title=f"{d.name}  [{d.state}]")
    t.add_column("host", overflow="fold")
    t.add_column("value", overflow="fold")
    t.add_column("priority")
    t.add_column("status")
    for r in d.dns_records:
        t.add_row(str(r.purpose), r.type, r.host, r.value,
                  "" if r.priority is None else str(r.priority), str(r.status))
    return t


def message(text: str) -> Table:
    """One line of text as a table, for ``emit``'s table form."""
    t = Table.grid()
    t.add_row(text)
    return t


__all__ = ["message", "records_table"]

"""The accounts a fleet file's ``connections`` name, opened for a command: ``plan``,
``apply``, ``domains verify --fleet`` and ``dns ... --fleet`` all open them by the same rule
(a sandbox connection without its own ``path`` uses the global ``--sandbox-db`` when given).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import attrs

from espkit import fleet as fleet_file
from espkit.account import Account
from espkit.cli.app import Ctx


def open_connection(ctx: Ctx, conn: fleet_file.Connection) -> Account:
    """A fleet connection's account; a sandbox one without its own ``path`` uses the global
    ``--sandbox-db`` when given (every fleet command follows this rule)."""
    if (conn.provider == "sandbox" and "path" not in conn.options
            and ctx.provider == "sandbox" and "path" in ctx.options):
        conn = attrs.evolve(conn, options={**conn.options, "path": ctx.options["path"]})
    return conn.connect()


@contextlib.contextmanager
def open_accounts(ctx: Ctx, fleet: fleet_file.Fleet) -> Iterator[dict[str, Account]]:
    """Every connection of ``fleet`` opened (connection name -> account), closed on exit."""
    opened: dict[str, Account] = {}
    try:
        for name, conn in fleet.connections.items():
            opened[name] = open_connection(ctx, conn)
        yield opened
    finally:
        for acct in opened.values():
            acct.close()


__all__ = ["open_accounts", "open_connection"]

"""The accounts a fleet file's ``connections`` name, opened for a command: ``plan``,
``apply``, ``domains verify --fleet`` and ``dns ... --fleet`` all open them by the same rule
(a sandbox connection without its own ``path`` uses the global ``--sandbox-db`` when given).

What a fleet file's connections may reach is checked when the file is loaded
(``espkit.fleet.trust``); ``trust_options`` are the opt-ins a fleet command takes, added to
``$ESPKIT_ALLOW_*`` by ``fleet_trust``. They are the caller's, never the file's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
import click

from espkit import fleet as fleet_file
from espkit.account import Account
from espkit.cli.app import Ctx
from espkit.fleet.trust import (
    ENV_ALLOW_ENV,
    ENV_ALLOW_HOSTS,
    ENV_ALLOW_KEYRING_SERVICES,
    ENV_ALLOW_PATHS,
    Trust,
)

F = TypeVar("F", bound=Callable[..., Any])

_TRUST_OPTIONS = (
    click.option("--allow-host", "allow_host", metavar="HOST", multiple=True,
                 help="Let the fleet file's connections send their key to HOST (or "
                      "HOST:PORT; http://HOST[:PORT] also allows plain http), besides their "
                      "provider's own API hosts; loopback hosts too need it. Repeatable; "
                      f"adds to ${ENV_ALLOW_HOSTS}."),
    click.option("--allow-env", "allow_env", metavar="VAR", multiple=True,
                 help="Let credentials: env/VAR read VAR although it is not the provider's "
                      f"own or an ESPKIT_* variable. Repeatable; adds to ${ENV_ALLOW_ENV}."),
    click.option("--allow-keyring-service", "allow_keyring_service", metavar="SERVICE",
                 multiple=True,
                 help="Let credentials: keyring/SERVICE/USER read that keyring service. "
                      f"Repeatable; adds to ${ENV_ALLOW_KEYRING_SERVICES}."),
    click.option("--allow-path", "allow_path", metavar="PATH", multiple=True,
                 help="Let a sandbox connection's path be PATH (a file, or a directory for "
                      "the files under it) outside the fleet file's directory. Repeatable; "
                      f"adds to ${ENV_ALLOW_PATHS}."),
)


def trust_options(fn: F) -> F:
    """The ``--allow-*`` options of a command that loads a fleet file."""
    for option in reversed(_TRUST_OPTIONS):
        fn = option(fn)
    return fn


def fleet_trust(allow_host: Sequence[str] = (), allow_env: Sequence[str] = (),
                allow_keyring_service: Sequence[str] = (),
                allow_path: Sequence[str] = ()) -> Trust:
    """``$ESPKIT_ALLOW_*`` and the command's ``--allow-*`` options together (a malformed
    host in either is a ``ConfigError``)."""
    return Trust.from_env().allowing(hosts=allow_host, env=allow_env,
                                     keyring_services=allow_keyring_service, paths=allow_path)


def open_connection(ctx: Ctx, conn: fleet_file.Connection) -> Account:
    """A fleet connection's account; a sandbox one without its own ``path`` uses the global
    ``--sandbox-db`` when given (every fleet command follows this rule: that path is the
    caller's argument, not the file's)."""
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


__all__ = ["fleet_trust", "open_accounts", "open_connection", "trust_options"]

"""``espkit sandbox path`` and ``espkit sandbox reset``: where the sandbox keeps its state,
and a fresh start.

    espkit sandbox path                  # the file every sandbox command uses
    espkit sandbox reset --yes           # delete it: the next command starts empty
    espkit --sandbox-db demo.db sandbox reset --yes

The state file is the one ``espkit.connect("sandbox")`` opens: ``--sandbox-db``, else
``$ESPKIT_SANDBOX_DB``, else ``sandbox.db`` in the user data directory. It outlives every
command (that is what lets ``espkit demo`` and the next command share a fleet), so a
newcomer's second run of a snippet meets what the first one created; ``reset`` is the one
command that starts afresh. It deletes only a file that is an espkit sandbox database: a
mistyped path (a fleet file, another application's database) is refused and left as it
was, since deleting is not undone.
"""

from __future__ import annotations

import os
import shlex

import click

from espkit.cli.app import Ctx, cli, confirm, emit, handled, out, pass_ctx, yes_option
from espkit.providers.sandbox import default_path
from espkit.sandbox.database import MEMORY, check

#: what SQLite keeps beside a database in WAL mode; deleted with it, or the next sandbox at
#: the path would replay the old one's log
SIDECARS = ("-wal", "-shm")


def state_path() -> str:
    """The sandbox file the command line uses: ``--sandbox-db``, else the default (which
    reads ``$ESPKIT_SANDBOX_DB``). Read from the root's own option, so it holds whichever
    provider is selected."""
    given = click.get_current_context().find_root().params.get("sandbox_db")
    return str(given) if given else default_path()


def reset_hint(path: str) -> str:
    """The command that empties the sandbox at ``path``, as the user would type it."""
    if path == default_path():  # which reads $ESPKIT_SANDBOX_DB
        return "espkit sandbox reset"
    return f"espkit --sandbox-db {shlex.quote(path)} sandbox reset"


@cli.group("sandbox")
def sandbox() -> None:
    """Where the sandbox keeps its state, and starting afresh."""


@sandbox.command("path")
@pass_ctx
@handled
def sandbox_path(ctx: Ctx) -> None:
    """Print the sandbox state file (--sandbox-db, $ESPKIT_SANDBOX_DB or the default)."""
    path = state_path()
    exists = path != MEMORY and os.path.lexists(path)
    if ctx.output == "json":
        emit(ctx, {"path": path, "exists": exists, "memory": path == MEMORY})
    else:
        click.echo(path)


@sandbox.command("reset")
@yes_option
@pass_ctx
@handled
def sandbox_reset(ctx: Ctx, yes: bool) -> None:
    """Delete the sandbox state file: the next command starts on an empty sandbox."""
    path = state_path()
    if path == MEMORY or not os.path.lexists(path):
        why = "the sandbox is in memory" if path == MEMORY else f"{path} does not exist"
        if ctx.output == "json":
            emit(ctx, {"path": path, "deleted": False})
        else:
            out.print(f"nothing to reset: {why}", markup=False, highlight=False)
        return
    check(path)  # a ConfigError (exit 2) for anything that is not a sandbox: left untouched
    confirm(yes, f"delete the sandbox state {path} (every domain, pool and subaccount in it)")
    os.remove(path)
    for suffix in SIDECARS:
        if os.path.lexists(path + suffix):
            os.remove(path + suffix)
    if ctx.output == "json":
        emit(ctx, {"path": path, "deleted": True})
    else:
        out.print(f"deleted {path}: the next command starts on an empty sandbox",
                  markup=False, highlight=False, soft_wrap=True)


__all__ = ["SIDECARS", "reset_hint", "sandbox", "sandbox_path", "sandbox_reset", "state_path"]

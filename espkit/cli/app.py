"""The ``espkit`` command line's shared layer: the group ``cli`` every command module adds
to, the context its global options make (``Ctx``, ``pass_ctx``), output (``out`` and ``err``
consoles, ``emit``, ``to_plain``, ``escape``), exit codes and error handling (``handled``,
``fail``). No command is defined here.

Tables for people, ``--output json`` for scripts. Errors print as one line on stderr (a
traceback only with ``--debug``). Exit codes: 0 ok, 1 the ESP refused or failed, 2 bad input
or configuration, 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

try:
    import click
    from rich.console import Console
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise SystemExit(
        "the espkit command line needs its extra: pip install 'espkit[cli]'"
    ) from exc

import attrs

from espkit import providers as registry
from espkit.account import Account, connect
from espkit.errors import EspError, EspkitError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ESP = 1
EXIT_CONFIG = 2

out = Console()
err = Console(stderr=True)


class Ctx:
    """What the global options say; the account is opened on first use."""

    def __init__(self, provider: str, options: dict[str, Any], output: str,
                 subaccount: str | None, debug: bool) -> None:
        self.provider = provider
        self.options = options
        self.output = output
        self.subaccount = subaccount
        self.debug = debug
        self._account: Account | None = None

    @property
    def account(self) -> Account:
        if self._account is None:
            acct = connect(self.provider, **self.options)
            self._account = acct.on_behalf_of(self.subaccount) if self.subaccount else acct
        return self._account


def to_plain(value: Any) -> Any:
    """Models -> JSON-ready data (``raw`` payloads left out)."""
    if attrs.has(type(value)):
        return {
            f.name: to_plain(getattr(value, f.name))
            for f in attrs.fields(type(value)) if f.name != "raw"
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def emit(ctx: Ctx, data: Any, table: Callable[[], Table] | None = None) -> None:
    """``data`` as JSON with ``--output json`` (or when there is no table), else the table."""
    if ctx.output == "json" or table is None:
        click.echo(json.dumps(to_plain(data), indent=2))
    else:
        out.print(table())


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    sys.exit(code)


def handled(fn: F) -> F:
    """Turn espkit errors into one readable line and an exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Ctx)
        try:
            return fn(*args, **kwargs)
        except EspkitError as exc:
            if ctx is not None and ctx.debug:
                raise
            fail(escape(str(exc)), EXIT_ESP if isinstance(exc, EspError) else EXIT_CONFIG)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


def escape(text: str) -> str:
    """``text`` safe to print with rich markup on (``[`` escaped)."""
    return text.replace("[", r"\[")


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--provider", envvar="ESPKIT_PROVIDER", default="sandbox", show_default=True,
              help="ESP to talk to: " + ", ".join(registry.names()) + ".")
@click.option("--region", envvar="ESPKIT_REGION", help="ESP region, e.g. us or eu.")
@click.option("--base-url", help="Override the API base URL (proxy or local mock).")
@click.option("--sandbox-db", type=click.Path(dir_okay=False),
              help="Sandbox state file (':memory:' for none).")
@click.option("--subaccount", help="Act on behalf of this subaccount id.")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP debug logs.")
@click.version_option(package_name="espkit")
@click.pass_context
def cli(click_ctx: click.Context, provider: str, region: str | None, base_url: str | None,
        sandbox_db: str | None, subaccount: str | None, output: str, debug: bool) -> None:
    """Manage sending domains, DNS records, dedicated IPs, pools and subaccounts on any ESP."""
    options: dict[str, Any] = {}
    if provider == "sandbox":
        if sandbox_db:
            options["path"] = sandbox_db
    else:
        if region:
            options["region"] = region
        if base_url:
            options["base_url"] = base_url
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
    click_ctx.obj = Ctx(provider, options, output, subaccount, debug)


__all__ = ["EXIT_CONFIG", "EXIT_ESP", "Ctx", "cli", "emit", "err", "escape", "fail", "handled",
           "out", "pass_ctx", "to_plain"]

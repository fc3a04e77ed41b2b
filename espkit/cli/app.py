"""The ``espkit`` command line's shared layer: the group ``cli`` every command module adds
to, the context its global options make (``Ctx``, ``pass_ctx``), output (``out`` and ``err``
consoles, ``emit``, ``to_plain``, ``escape``), exit codes and error handling (``handled``,
``fail``). No command is defined here.

Tables for people, ``--output json`` for scripts. Errors print as one line on stderr (a
traceback only with ``--debug``). Exit codes: 0 ok, 1 the ESP refused or failed, 2 bad input
or configuration, 130 interrupted.

Text from an ESP (names, record values, error messages) or from a fleet file is data, never
terminal commands or rich markup (docs/security.md). Three layers see to it: ``escape``
(markup and control characters, for text put into markup), ``clean`` (control characters, for
``Text`` and table cells), and the ``out``/``err`` consoles themselves, which drop any control
character or escape sequence still in the text they print, whoever built it. ``emit`` prints
tables with markup off, so a cell is shown as it is. JSON output is ``json.dumps`` with its
default ``ensure_ascii``: every control and non-ASCII character comes out as ``\\uXXXX``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

try:
    import click
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.markup import escape as escape_markup
    from rich.segment import Segment
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

# -- text that cannot drive the terminal --------------------------------------------------------

# ECMA-48 sequences, whole: CSI (colours, cursor moves, screen erase), the string commands
# OSC/DCS/SOS/PM/APC with their payload (OSC 52 writes the clipboard, OSC 8 makes links) up to
# their terminator, the next ESC or the end (a terminal would swallow an unterminated payload
# too), and the two-character escapes; 7-bit and 8-bit (C1) introducers alike.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)
# the common case, printable ASCII, needs no look at each character
_ALL_SAFE = re.compile(r"[\x20-\x7e]*")
_ALL_SAFE_LINES = re.compile(r"[\t\n\x20-\x7e]*")
# control (C0, DEL, C1), format (bidi overrides and isolates, zero-width characters), line and
# paragraph separators, lone surrogates
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_SHOWN = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _shown(ch: str) -> str:
    code = ord(ch)
    if ch in _SHOWN:
        return _SHOWN[ch]
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def clean(text: str, *, multiline: bool = False, visible: bool = True) -> str:
    """``text`` safe for a terminal: escape sequences removed whole, every other control or
    format character (C0, DEL, C1, bidi overrides such as U+202E, zero-width characters, line
    separators) shown as a visible ``\\x1b`` / ``\\u202e``, so a name that holds one is
    seen to differ from the name it imitates. ``multiline`` keeps newline and tab as they
    are; ``visible=False`` drops the characters instead (the consoles' last line of defence,
    which must not change the width of what rich has laid out)."""
    if (_ALL_SAFE_LINES if multiline else _ALL_SAFE).fullmatch(text):
        return text
    text = _SEQUENCE.sub("", text)
    kept = []
    for ch in text:
        if multiline and ch in "\n\t":
            kept.append(ch)
        elif ch in "\n\t" or unicodedata.category(ch) in _UNSAFE:
            if visible:
                kept.append(_shown(ch))
        else:
            kept.append(ch)
    return "".join(kept)


def escape(text: str) -> str:
    """``text`` safe to print with rich markup on: control characters neutralised
    (``clean``, newlines and tabs kept) and markup escaped, so ``[link=...]`` or ``[/]``
    from an ESP shows as it is."""
    return escape_markup(clean(text, multiline=True))


class SafeConsole(Console):
    """A rich console that never writes a control character or escape sequence that came in
    the text it prints: whatever a command forgot to ``clean``, the terminal only sees rich's
    own styling. Control segments rich makes itself (cursor moves of a live display) pass."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None
               ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or _ALL_SAFE_LINES.fullmatch(segment.text):
                yield segment
            else:
                yield Segment(clean(segment.text, multiline=True, visible=False),
                              segment.style)


out = SafeConsole()
err = SafeConsole(stderr=True)


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
    """``data`` as JSON with ``--output json`` (or when there is no table), else the table,
    its cells shown as they are (markup off: a name like ``[blink]x`` is not styled)."""
    if ctx.output == "json" or table is None:
        # ensure_ascii (the default) is what keeps control characters out of the output
        click.echo(json.dumps(to_plain(data), indent=2, ensure_ascii=True))
    else:
        out.print(table(), markup=False)


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


__all__ = ["EXIT_CONFIG", "EXIT_ESP", "Ctx", "SafeConsole", "clean", "cli", "emit", "err",
           "escape", "fail", "handled", "out", "pass_ctx", "to_plain"]

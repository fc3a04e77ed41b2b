"""The ``espkit`` command line's shared layer: the group ``cli`` every command module adds
to, the context its global options make (``Ctx``, ``pass_ctx``), output (``out`` and ``err``
consoles, ``emit``, ``to_plain``, ``escape``), exit codes and error handling (``handled``,
``fail``). No command is defined here.

Tables for people, ``--output json`` for scripts. Errors print as one line on stderr (a
traceback only with ``--debug``). Exit codes: 0 ok, 1 the ESP refused or failed, 2 bad input
or configuration, 130 interrupted.

The command line's conventions (docs/cli.md, held by tests/cli/test_cli_convention.py) live
here where code can carry them: every command and group is made by ``Group``, which gives
each one ``-o/--output``, so it works before or after the subcommand; ``yes_option`` with
``confirm`` is the one confirmation behaviour (off a terminal without ``--yes``: exit 2, "pass
--yes"; prompts on stderr); ``progress_option`` is the one ``--no-progress``; a
``--subaccount`` is a name or an id (``resolve_subaccount``). Off a terminal, and without
``$COLUMNS``, the consoles are ``PIPED_WIDTH`` wide, so a piped table is not folded at 80.

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn, TypeVar

try:
    import click
    from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderableType
    from rich.markup import escape as escape_markup
    from rich.segment import Segment
    from rich.table import Table
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise SystemExit(
        "the espkit command line needs its extra: pip install -e '.[cli]'"
    ) from exc

import attrs

from espkit import providers as registry
from espkit.account import Account, connect
from espkit.errors import ConfigError, EspError, EspkitError, Unsupported

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

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; off a terminal (piped, redirected) ``PIPED_WIDTH`` columns
        unless ``$COLUMNS`` says otherwise, so a table someone greps or saves keeps one row
        a line instead of folding at rich's default of 80."""
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        assert isinstance(size, ConsoleDimensions)
        if (self._width is None and not self.is_terminal
                and not self._environ.get("COLUMNS", "").isdigit()):
            return ConsoleDimensions(PIPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


#: columns of a table printed off a terminal: wide enough for a 4096-bit DKIM key on one line
PIPED_WIDTH = 1024

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
            if self.subaccount:
                acct = acct.on_behalf_of(resolve_subaccount(acct, self.subaccount))
            self._account = acct
        return self._account


def resolve_subaccount(acct: Account, given: str) -> str:
    """The id of the subaccount ``given`` names: its id, or its name (the fleet file and
    ``subaccounts create`` know subaccounts by name, ESPs by id). One listing; an id wins
    over another subaccount's equal name, as it did when only ids were taken. Neither is a
    ``ConfigError`` saying so; an ESP without subaccounts is left to say that itself."""
    try:
        ids = acct.subaccounts.ids_by_name()
    except Unsupported:
        return given
    if given in ids.values():
        return given
    if given in ids:
        return ids[given]
    raise ConfigError(f"no subaccount {given!r} in the {acct.name} account: it is neither the "
                      "name nor the id of one (`espkit subaccounts list` shows them)")


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
    if isinstance(value, Mapping):  # a read-only mapping (MappingProxyType) too
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (dt.datetime, dt.date)):
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

# -- the shared options ------------------------------------------------------------------------

OUTPUTS = ("table", "json")
OUTPUT_HELP = "table for people, json for scripts; before or after the command."


def _set_output(click_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # the root group has made the Ctx by the time a subcommand's options are parsed
    ctx = click_ctx.find_object(Ctx)
    if value is not None and ctx is not None:
        ctx.output = value


def output_option() -> click.Option:
    """``-o/--output`` of a command or group below the root: given, it replaces the root's."""
    return click.Option(["-o", "--output"], type=click.Choice(OUTPUTS), default=None,
                        expose_value=False, callback=_set_output, help=OUTPUT_HELP)


class Group(click.Group):
    """The class of ``cli`` and of every group below it (``group_class = type``): a command
    or group added to one gets ``-o/--output`` (``output_option``), so ``espkit domains list
    -o json`` works as ``espkit -o json domains list`` does, on every command, including
    those a module adds later."""

    group_class = type

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "output" for p in cmd.params):
            cmd.params.append(output_option())
        super().add_command(cmd, name)


def yes_option(fn: F) -> F:
    """``-y/--yes`` of a command that deletes or applies; its body calls ``confirm``."""
    return click.option("-y", "--yes", is_flag=True,
                        help="Do not ask for confirmation (needed when not run from a "
                             "terminal).")(fn)


def progress_option(fn: F) -> F:
    """``--no-progress`` of a command that shows progress on stderr."""
    return click.option("--no-progress", "no_progress", is_flag=True,
                        help="No progress display on stderr.")(fn)


def stdin_is_terminal() -> bool:
    """Whether someone can answer a prompt (tests replace it to answer one)."""
    return sys.stdin.isatty()


def confirm(yes: bool, action: str) -> None:
    """The one confirmation of a command that deletes or applies, ``action`` saying what it
    is about to do ("delete pool marketing from mailgun"): nothing to ask with ``--yes``;
    off a terminal, a usage error (exit 2) saying to pass ``--yes`` (a prompt there would
    take piped input for the answer); on one, the question on stderr, and "no" exits 1
    with nothing changed."""
    if yes:
        return
    action = clean(action)  # names typed or read from a file: shown, never acted on
    if not stdin_is_terminal():
        raise click.UsageError(f"not run from a terminal, so nobody can confirm: pass --yes "
                               f"to {action}")
    if not click.confirm(action[:1].upper() + action[1:] + "?", default=False, err=True):
        fail("not confirmed: nothing was changed", EXIT_ESP)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "--provider", envvar="ESPKIT_PROVIDER", default="sandbox", show_default=True,
              help="ESP to talk to: " + ", ".join(registry.names()) + ".")
@click.option("--region", envvar="ESPKIT_REGION", help="ESP region, e.g. us or eu.")
@click.option("--base-url", help="Override the API base URL (proxy or local mock).")
@click.option("--sandbox-db", type=click.Path(dir_okay=False),
              help="Sandbox state file (':memory:' for none).")
@click.option("--subaccount", help="Act on behalf of this subaccount (its name or id).")
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="table",
              show_default=True, help=OUTPUT_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP debug logs.")
@click.version_option(package_name="espkit")
@click.pass_context
def cli(click_ctx: click.Context, provider: str, region: str | None, base_url: str | None,
        sandbox_db: str | None, subaccount: str | None, output: str, debug: bool) -> None:
    """Manage sending domains, DNS records, dedicated IPs, pools and subaccounts on any ESP."""
    options: dict[str, Any] = {}
    if provider == "sandbox":
        # $ESPKIT_REGION is a default for whichever ESP it fits: only a --region typed for
        # the sandbox is worth a warning
        typed = click_ctx.get_parameter_source("region") is click.core.ParameterSource.COMMANDLINE
        ignored = [f"--region {region}" if region and typed else "",
                   "--base-url" if base_url else ""]
        if sandbox_db:
            options["path"] = sandbox_db
    else:
        # `espkit sandbox ...` works on the sandbox file whatever the provider
        used = click_ctx.invoked_subcommand == "sandbox"
        ignored = ["--sandbox-db" if sandbox_db and not used else ""]
        if region:
            options["region"] = region
        if base_url:
            options["base_url"] = base_url
    for option in filter(None, ignored):  # said, never silently dropped
        applies = "the sandbox only" if option == "--sandbox-db" else "real ESPs, not the sandbox"
        err.print(clean(f"warning: {option} applies to {applies}: ignored"), style="yellow",
                  highlight=False, markup=False)
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
    click_ctx.obj = Ctx(provider, options, output, subaccount, debug)


__all__ = ["EXIT_CONFIG", "EXIT_ESP", "OUTPUTS", "PIPED_WIDTH", "Ctx", "Group", "SafeConsole",
           "clean", "cli", "confirm", "emit", "err", "escape", "fail", "handled", "out",
           "output_option", "pass_ctx", "progress_option", "resolve_subaccount",
           "stdin_is_terminal", "to_plain", "yes_option"]

"""What the command line prints cannot drive the terminal: text from an ESP (names, record
values, error messages) reaches it without escape sequences, control characters or rich
markup; JSON output escapes them."""

from __future__ import annotations

import io
import json
import unicodedata

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from support import mailgun_mocks as mg

from espkit.cli.app import SafeConsole, clean, escape
from espkit.cli.tables import cell, message

CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"          # OSC 52: write "evil" to the clipboard
CLIPBOARD_ST = "\x1b]52;c;ZXZpbA==\x1b\\"     # the same, ended by ST
HOSTILE = f"a\x1b[2J\x1b[31mb{CLIPBOARD}c{CLIPBOARD_ST}d\x9b2Je\u202ef\rg\x07h\x00i"
#: what a terminal acts on: C0 but newline, DEL, C1, bidi overrides and isolates
ACTING = {chr(c) for c in range(0x20) if c != 0x0A} | {chr(c) for c in range(0x7F, 0xA0)} \
    | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def acting(text: str) -> set[str]:
    return {ch for ch in text if ch in ACTING}


# -- clean and escape -------------------------------------------------------------------------


def test_clean_removes_sequences_and_shows_other_controls() -> None:
    assert clean(HOSTILE) == "abcde\\u202ef\\rg\\x07h\\x00i"
    assert clean("plain ASCII [x] stays") == "plain ASCII [x] stays"
    assert clean("café 漢字 😀") == "café 漢字 😀"            # printable Unicode is not control
    assert clean("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert clean("one\ntwo\tthree", multiline=True) == "one\ntwo\tthree"
    assert clean("x\x1b") == "x\\x1b"                          # a lone ESC: shown, not acting
    assert clean("x\x1by") == "x"                                 # ESC y: a sequence, dropped
    assert clean("x\x1b]52;c;ZXZpbA==") == "x"                    # unterminated: to the end
    assert clean("x\u200by") == "x\\u200by"                    # zero width: shown
    assert clean(HOSTILE, visible=False) == "abcdefghi"
    assert clean("\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\") == "link"


PIECES = st.lists(st.one_of(
    st.sampled_from([*sorted(ACTING), "\x1b[", "\x1b]52;c;", "[b]", "[/]", "\\", "\u200b"]),
    st.text(max_size=5)), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(PIECES, st.booleans(), st.booleans())
def test_clean_never_leaves_a_character_that_acts(text: str, multiline: bool,
                                                   visible: bool) -> None:
    cleaned = clean(text, multiline=multiline, visible=visible)
    assert not acting(cleaned) - ({"\t"} if multiline else set())
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cleaned
                   if ch not in "\n\t")
    assert clean(cleaned, multiline=multiline, visible=visible) == cleaned   # idempotent


def render(*objects: object, terminal: bool = True, **kwargs: object) -> str:
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=terminal, width=100,
                          color_system="standard" if terminal else None)
    console.print(*objects, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_escape_neutralises_markup_and_controls() -> None:
    for hostile in ("[link=https://evil.example]click[/link]", "[/]", "[bold red]x",
                    "ends with a backslash \\", "\\[bold]not bold\\[/bold]"):
        shown = render(f"[red]error:[/] {escape(hostile)}[red]![/]", markup=True,
                       highlight=False)
        assert shown.split("error:\x1b[0m ", 1)[1] == hostile + "\x1b[31m!\x1b[0m\n"
        assert "\x1b]8;" not in shown                            # no hyperlink
    assert escape("[1] and [x]") == "[1] and \\[x]"   # only what rich would read as a tag
    shown = render(escape(HOSTILE), markup=True, highlight=False)
    assert "]52;" not in shown
    assert "\x1b[2J" not in shown
    assert not acting(shown) - {"\x1b"}


def test_the_consoles_drop_what_a_command_forgot_to_clean() -> None:
    shown = render(Text(HOSTILE), Text("styled", style="bold"))
    assert "\x1b[1mstyled" in shown                 # rich's own styling still works
    assert "]52;" not in shown
    assert "\x1b[2J" not in shown
    assert "\x1b[31m" not in shown
    assert shown.count("\x1b") == shown.count("\x1b[1m") + shown.count("\x1b[0m")
    assert not acting(shown) - {"\x1b"}
    assert "ZXZpbA" not in shown     # rich drops the BEL, the payload goes with its OSC
    assert shown.startswith("ab")
    assert "defghi" in shown
    plain = render(HOSTILE, Text(HOSTILE), terminal=False, markup=False)
    assert not acting(plain)


@settings(max_examples=150, deadline=None)
@given(PIECES)
def test_nothing_printed_acts_on_the_terminal(text: str) -> None:
    from rich.table import Table

    table = Table("a", "b")
    table.add_row(text, Text(text))
    shown = render(text, Text(text), table, message(text), cell(text), terminal=False,
                   markup=False)
    assert not acting(shown)


def test_table_cells_are_plain_text_with_controls_shown() -> None:
    t = cell("[bold]x[/bold]\x1b[2J\n")
    assert t.plain == "[bold]x[/bold]\\n"
    assert cell("a\nb", multiline=True).plain == "a\nb"
    assert cell(None).plain == ""
    shown = render(message("[blink]deleted[/] \x1b]52;c;eA==\x07x"), terminal=False)
    assert shown.strip() == "[blink]deleted[/] x"


# -- the command line, against an ESP that sends escape sequences -------------------------------

NAME = "mg.example.com"


@pytest.fixture
def mailgun(monkeypatch: pytest.MonkeyPatch) -> responses.RequestsMock:
    monkeypatch.setenv("MAILGUN_API_KEY", mg.KEY)
    monkeypatch.delenv("ESPKIT_MAILGUN_API_KEY", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def assert_terminal_safe(result: object) -> None:
    for stream in (result.stdout, result.stderr):  # type: ignore[attr-defined]
        assert "\x1b" not in stream
        assert not acting(stream), sorted(acting(stream))
        assert mg.KEY not in stream


def test_record_values_from_the_esp_reach_the_table_without_escapes(
        run, mailgun: responses.RequestsMock) -> None:
    body = mg.domain_body()
    body["sending_dns_records"][0]["value"] = f"v=spf1 {CLIPBOARD}include:mailgun.org ~all"
    body["sending_dns_records"][2]["value"] = "mailgun.org\x1b[2J[link=https://evil]x[/link]"
    mailgun.get(f"{mg.US}/v4/domains/{NAME}", json=body)
    result = run("-p", "mailgun", "domains", "show", NAME, columns=200)
    assert_terminal_safe(result)
    assert result.exit_code in (0, 1), result.output
    shown = " ".join(result.output.split())
    assert "ZXZpbA==" not in shown
    assert "]52;" not in shown
    if result.exit_code == 0:   # shown as data: the markup as it is, the escape gone
        assert "include:mailgun.org" in shown
        assert "[link=https://evil]x[/link]" in shown.replace(" ", "")
    as_json = run("-o", "json", "-p", "mailgun", "domains", "show", NAME)
    assert_terminal_safe(as_json)
    if as_json.exit_code == 0:  # JSON keeps the value exact, escaped
        values = {r["value"] for r in json.loads(as_json.stdout)["dns_records"]}
        assert f"v=spf1 {CLIPBOARD}include:mailgun.org ~all" in values


def test_an_error_message_with_escapes_is_one_clean_line(
        run, mailgun: responses.RequestsMock) -> None:
    message_text = (f"Domain not found{CLIPBOARD}\x1b[2J\x1b[1A\r\u202eafter[/] "
                    f"[link=https://evil.example]here[/link]")
    mailgun.get(f"{mg.US}/v4/domains/{NAME}", status=404, json={"message": message_text})
    result = run("-p", "mailgun", "domains", "show", NAME, columns=300)
    assert result.exit_code == 1, result.output
    assert_terminal_safe(result)
    assert "Domain not found" in result.stderr
    assert "after[/]" in result.stderr                   # shown, not acting and not markup
    assert "[link=https://evil.example]here[/link]" in result.stderr


def test_a_domain_name_with_escapes_in_a_list(run, mailgun: responses.RequestsMock) -> None:
    hostile = f"evil{CLIPBOARD}\x1b[8m.example.com"
    mailgun.get(f"{mg.US}/v4/domains", json=mg.domain_page([NAME, hostile], 2))
    result = run("-p", "mailgun", "domains", "list", columns=200)
    assert_terminal_safe(result)
    assert NAME in result.output or "error:" in result.stderr
    as_json = run("-o", "json", "-p", "mailgun", "domains", "list")
    assert_terminal_safe(as_json)
    if as_json.exit_code == 0:
        assert hostile in {d["name"] for d in json.loads(as_json.stdout)}


def test_emit_prints_table_cells_without_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """Tables other modules build with plain strings: ESP text in them is not markup."""
    from rich.table import Table

    from espkit.cli.app import Ctx, emit

    def table() -> Table:
        t = Table("name")
        t.add_row("[blink]evil[/blink] [link=https://evil.example]x[/link]\x1b]52;c;eA==\x07")
        return t

    emit(Ctx("sandbox", {}, "table", None, False), [{"name": "n"}], table)
    shown = capsys.readouterr().out
    assert "[blink]evil[/blink] [link=https://evil.example]x[/link]" in shown
    assert not acting(shown)
    emit(Ctx("sandbox", {}, "json", None, False), [{"name": "a\x1b[2J\u202e\x9b"}], table)
    text = capsys.readouterr().out
    assert not acting(text)
    assert "\\u001b[2J\\u202e\\u009b" in text
    assert json.loads(text) == [{"name": "a\x1b[2J\u202e\x9b"}]

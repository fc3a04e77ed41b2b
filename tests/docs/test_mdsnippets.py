"""The snippet suite's own machinery: reading blocks and markers, shell lines, comparing
output, and running a page (on small pages written here)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import mdrunner
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mdsnippets import (
    MarkdownError,
    console_session,
    flat,
    installs,
    output_matches,
    parse,
    shell_commands,
    simple,
    split_and,
    strip_comment,
    unmarked,
)


def page(tmp_path: Path, text: str, name: str = "page.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- reading a page --------------------------------------------------------------------------


def test_blocks_with_their_language_line_and_markers(tmp_path: Path) -> None:
    blocks = parse(page(tmp_path, """\
# Title

```python
x = 1
```

<!-- snippet: skip reason="needs a Mailgun account" -->

<!-- other comment -->
```sh
espkit -p mailgun domains list
```

~~~yaml
a: 1
~~~
"""))
    assert [(b.line, b.lang, b.kind) for b in blocks] == [
        (3, "python", "python"), (10, "sh", "shell"), (14, "yaml", None)]
    assert blocks[0].text == "x = 1\n"
    assert blocks[0].markers == ()
    [skip] = blocks[1].markers
    assert (skip.kind, skip.line) == ("skip", 7)
    assert skip.options == {"reason": "needs a Mailgun account"}
    assert unmarked(blocks[0]) is None
    assert "not code that runs" in (unmarked(blocks[2]) or "")


def test_indented_blocks_and_setup_bodies_are_dedented(tmp_path: Path) -> None:
    [block] = parse(page(tmp_path, """\
1. A step:

   <!-- snippet: setup
   import os
   value = 1
   -->
   ```python
   if value:
       print(value)
   ```
"""))
    assert block.text == "if value:\n    print(value)\n"
    setup = block.marker("setup")
    assert setup is not None
    assert setup.body == "import os\nvalue = 1"


@pytest.mark.parametrize(("text", "message"), [
    ("<!-- snippet: skip -->\n```sh\nx\n```\n", "needs reason"),
    ("<!-- snippet: sample -->\n```text\nx\n```\n", "needs reason"),
    ("<!-- snippet: file -->\n```text\nx\n```\n", "needs the file name"),
    ("<!-- snippet: frobnicate -->\n```sh\nx\n```\n", "unknown snippet marker 'frobnicate'"),
    ("<!-- snippet: exit=\"1\" -->\nsome prose\n\n```sh\nx\n```\n", "not followed by a code"),
    ("text\n<!-- snippet: exit=\"1\" -->\n", "at the end of the page"),
    ("<!-- snippet: setup\nx = 1\n", "without its closing -->"),
    ("<!-- snippet: setup\n-->\n```python\nx\n```\n", "needs its code"),
    ("```python\nx = 1\n", "never closed"),
])
def test_unreadable_markers_are_errors_naming_the_line(tmp_path: Path, text: str,
                                                      message: str) -> None:
    with pytest.raises(MarkdownError, match=message) as info:
        parse(page(tmp_path, text))
    assert f"{tmp_path / 'page.md'}:" in str(info.value)


def test_exit_codes(tmp_path: Path) -> None:
    blocks = parse(page(tmp_path, '<!-- snippet: exit="0 2" -->\n```sh\nx\n```\n'
                                  "```sh\ny\n```\n"))
    assert blocks[0].exit_codes() == {0, 2}
    assert blocks[1].exit_codes() == {0}


# -- shell lines -----------------------------------------------------------------------------


def test_shell_commands_join_continuations_and_keep_here_documents() -> None:
    commands = shell_commands("""\
# a comment

espkit domains list \\
  --limit 5
python3 - <<'EOF'
print("hi")
EOF
espkit capabilities   # trailing comment
""", first_line=10)
    assert [(c.line, c.text) for c in commands] == [
        (12, "espkit domains list  --limit 5"),
        (14, "python3 - <<'EOF'"),
        (17, "espkit capabilities   # trailing comment"),
    ]
    assert commands[1].stdin == 'print("hi")\n'
    assert commands[1].shell_text == "python3 - <<'EOF'\nprint(\"hi\")\nEOF\n"
    assert commands[0].shell_text == commands[0].text


def test_console_sessions_pair_commands_with_their_output() -> None:
    session = console_session("$ espkit a\nout 1\nout 2\n$ espkit b\n", first_line=5)
    assert [(c.line, c.text, shown) for c, shown in session] == [
        (5, "espkit a", "out 1\nout 2"), (8, "espkit b", "")]
    with pytest.raises(MarkdownError):
        console_session("output first\n$ espkit a\n")


def test_split_and_keeps_quoted_ampersands() -> None:
    assert split_and("a && b 'c && d' && e") == ["a", "b 'c && d'", "e"]
    assert split_and("single") == ["single"]


def test_simple_commands_and_what_needs_a_shell() -> None:
    cmd = simple("espkit -o json plan fleet.yaml > plan.json   # the plan")
    assert cmd is not None
    assert (cmd.argv, cmd.stdout, cmd.append) == (["espkit", "-o", "json", "plan",
                                                   "fleet.yaml"], "plan.json", False)
    appended = simple("espkit capabilities >> out.txt")
    assert appended is not None
    assert appended.append
    read = simple("espkit bulk create - < names.txt")
    assert read is not None
    assert read.stdin_file == "names.txt"
    quoted = simple("espkit domains create 'a b'")
    assert quoted is not None
    assert quoted.argv[-1] == "a b"
    for shell in ("jq . x | head", "echo $HOME", "a; b", "ls 2>/dev/null", "cat <<EOF",
                  "ls *.db", "espkit >", ""):
        assert simple(shell) is None, shell


def test_strip_comment_only_outside_quotes_and_at_a_word() -> None:
    assert strip_comment("espkit x   # note") == "espkit x"
    assert strip_comment("espkit x '# kept'") == "espkit x '# kept'"
    assert strip_comment("espkit a#b") == "espkit a#b"


@pytest.mark.parametrize(("command", "expected"), [
    ("pip install -e '.[cli]'", True),
    (".venv/bin/pip install -q -e '.[dev]'", True),
    ("pip3 install x", True),
    ("python3 -m venv .venv", True),
    ("python -m pip install x", True),
    (". .venv/bin/activate", True),
    ("source .venv/bin/activate", True),
    ("espkit demo", False),
    ("pipenv run espkit", False),
    ("python3 - <<'EOF'", False),
    ("python3 -m espkit", False),
])
def test_installs(command: str, expected: bool) -> None:
    assert installs(command) is expected


# -- comparing output ------------------------------------------------------------------------


def test_output_matches_words_in_order_whitespace_aside() -> None:
    assert output_matches("a  b\nc", "a b c\n")
    assert not output_matches("a b c", "a b c d")   # more than shown
    assert not output_matches("a b c d", "a b c")   # less than shown
    assert not output_matches("a c b", "a b c")


def test_ellipsis_stands_for_any_text() -> None:
    assert output_matches("id 9b…", "id 9b1c2d")
    assert output_matches("start ...\nend", "start lots of lines\nin between\nend")
    assert output_matches("…", "anything at all")
    assert not output_matches("id 9b…", "id 8a1c")
    assert not output_matches("start … end", "start middle")


def test_box_drawing_and_json_layout_are_not_compared() -> None:
    assert flat("┃ a ┃ b ┃") == "a b"
    assert output_matches('[{"a": 1, "b": [2]}]', '[\n  {\n    "a": 1,\n    "b": [\n 2\n ]\n  }\n]')
    assert not output_matches('[{"a": 1}]', '[{"a": 2}]')


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="…."), max_size=40),
       st.text(alphabet=st.characters(blacklist_characters="…."), max_size=40))
def test_output_matches_itself_and_a_wildcard_covers_any_tail(head: str, tail: str) -> None:
    assert output_matches(head, head)
    assert output_matches(head + " …", head + " " + tail)
    if flat(tail):
        assert not output_matches(head, head + " " + tail)


# -- running a page --------------------------------------------------------------------------


def services() -> mdrunner.Services:
    return mdrunner.Services(around=[], env={}, nameserver="127.0.0.1:53",
                             call_test=lambda fn: fn())


def run_page(tmp_path: Path, text: str) -> tuple[mdrunner.Page, mdrunner.Stats]:
    path = page(tmp_path, text)
    work = tmp_path / "work"
    work.mkdir()
    stats = mdrunner.Stats()
    run = mdrunner.Page(tmp_path, path, parse(path), work, services(), stats)
    for i in range(len(run.blocks)):
        with contextlib.suppress(mdrunner.SnippetFailed):
            run.run(i)
    return run, stats


def test_a_page_runs_in_order_in_one_namespace_and_directory(tmp_path: Path) -> None:
    run, stats = run_page(tmp_path, """\
<!-- snippet: file names.txt -->
```text
a.example
```

```python
import os
names = open("names.txt").read().split()
print(names, os.environ["ESPKIT_SANDBOX_DB"].endswith("sandbox.db"))
```

<!-- snippet: output -->
```text
['a.example'] True
```

<!-- snippet: skip reason="needs a Mailgun account" -->
```sh
espkit -p mailgun domains list
```

```sh
pip install -e '.[cli]'
echo done > done.txt
```
""")
    assert run.errors == {}
    assert (run.workdir / "done.txt").read_text() == "done\n"
    assert (stats.blocks_run, stats.outputs_checked, stats.files) == (2, 1, 1)
    assert stats.blocks_skipped == {"needs a Mailgun account": 1}
    assert sum(stats.commands_skipped.values()) == 1
    assert stats.commands_run == 1


def test_wrong_output_a_wrong_exit_code_and_an_unmarked_block_fail(tmp_path: Path) -> None:
    run, stats = run_page(tmp_path, """\
```python
print("actual")
```

<!-- snippet: output -->
```text
documented
```

```sh
false
```

<!-- snippet: exit="1" -->
```sh
false
```

```yaml
a: 1
```
""")
    assert sorted(run.errors) == [1, 2, 4]
    assert "documented output differs" in run.errors[1]
    assert "exited 1 (expected 0)" in run.errors[2]
    assert "not code that runs" in run.errors[4]
    assert len(stats.failed) == 3


def test_a_failing_block_raises_for_its_own_test_and_names_earlier_failures(
        tmp_path: Path) -> None:
    path = page(tmp_path, "```python\nraise ValueError('boom')\n```\n\n"
                          "```python\nx = 1\n```\n\n```python\nundefined_name\n```\n")
    (tmp_path / "w").mkdir()
    run = mdrunner.Page(tmp_path, path, parse(path), tmp_path / "w", services(),
                        mdrunner.Stats())
    with pytest.raises(mdrunner.SnippetFailed, match="boom"):
        run.run(0)
    run.run(1)  # runs, although the page had a failure before it
    with pytest.raises(mdrunner.SnippetFailed, match="earlier blocks of the page failed too"):
        run.run(2)


def test_a_block_that_never_ends_fails_instead_of_hanging(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    # the block would sleep a minute: it fails after 0.2 s instead (had the guard not cut
    # it, the block would end without an error and the test fail on that, not on a timer)
    monkeypatch.setattr(mdrunner, "BLOCK_SECONDS", 0.2)
    run, _ = run_page(tmp_path, """\
```python
import time
try:
    time.sleep(60)
except Exception:      # the guard is not an Exception: code under test cannot swallow it
    pass
```
""")
    assert "still running after" in run.errors[0]


def test_the_page_environment_is_its_own_and_restored_after_each_block(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESPKIT_PROVIDER", "mailgun")   # a developer's own settings
    monkeypatch.setenv("MAILGUN_API_KEY", "key-real")
    before = dict(os.environ)
    run, _ = run_page(tmp_path, "```sh\nexport ESPKIT_X=$PWD/x\n```\n\n"
                                "```python\nimport os\nprint(os.environ['ESPKIT_X'], "
                                "os.environ.get('ESPKIT_PROVIDER'), "
                                "os.environ.get('MAILGUN_API_KEY'), os.getcwd())\n```\n")
    assert run.errors == {}
    assert run.last_output == f"{run.workdir}/x None None {run.workdir}\n"
    assert dict(os.environ) == before

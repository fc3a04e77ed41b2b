"""The bulk package's surface: what it re-exports, and what importing it loads."""

from __future__ import annotations

import subprocess
import sys

import espkit.bulk


def test_every_exported_name_is_there() -> None:
    for name in espkit.bulk.__all__:
        assert getattr(espkit.bulk, name) is not None, name


def test_import_does_not_load_sqlite_until_a_journal_is_opened() -> None:
    code = ("import sys, espkit.bulk\n"
            "print('sqlite3' in sys.modules)\n"
            "espkit.bulk.Journal()\n"
            "print('sqlite3' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]

"""Shared by the journal tests: a journal file changed behind espkit's back."""

from __future__ import annotations

import sqlite3


def edit(path: str, sql: str, *args: object) -> None:
    """Change the file as someone with a SQLite shell would."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(sql, args)
    finally:
        db.close()

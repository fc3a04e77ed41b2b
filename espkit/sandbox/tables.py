"""The sandbox tables of schema version 2: message streams, and subaccounts bound to pools.

Kept apart from ``store`` (which wraps each function here in its transaction) so that each
module stays readable. The functions take an open connection inside the caller's
transaction and return API-shaped dicts; they do not import ``store`` (no import cycle), so
where a request must be refused they return None or the reason, and ``store`` raises.

Streams are Postmark's: each belongs to an account (the main account or a subaccount, as
Postmark's belong to a server), with an id unique in that account and a kind. A subaccount
bound to a pool sends everything from it (SendGrid's subuser IPs, SparkPost's subaccount
``ip_pool``); the pool cannot be deleted from under it without a replacement.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

STREAM_KINDS = ("transactional", "broadcast", "inbound")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _stream_out(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "kind": row["kind"],
            "subaccount": row["account"] or None, "created_at": _iso(row["created_at"])}


def stream(db: sqlite3.Connection, account: str, sid: str) -> dict[str, Any] | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM streams WHERE account = ? AND id = ?", (account, sid)).fetchone()
    return None if row is None else _stream_out(row)


def create_stream(db: sqlite3.Connection, account: str, sid: str, name: str, kind: str,
                  now: float) -> dict[str, Any] | None:
    """The new stream, or None when the account has one with that id already. ``kind`` is
    one of ``STREAM_KINDS`` (checked by the app; the table's CHECK holds it too)."""
    try:
        db.execute("INSERT INTO streams (account, id, name, kind, created_at) "
                   "VALUES (?, ?, ?, ?, ?)", (account, sid, name, kind, now))
    except sqlite3.IntegrityError:  # UNIQUE (account, id)
        return None
    return stream(db, account, sid)


def list_streams(db: sqlite3.Connection, account: str, after: int, limit: int
                 ) -> tuple[list[dict[str, Any]], int | None]:
    rows = db.execute(
        "SELECT * FROM streams WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?",
        (account, after, limit + 1)).fetchall()
    if len(rows) > limit:
        return [_stream_out(r) for r in rows[:limit]], int(rows[limit - 1]["seq"])
    return [_stream_out(r) for r in rows], None


def sub_pool(db: sqlite3.Connection, sub_seq: int) -> str | None:
    """The name of the pool the subaccount sends from, or None (the shared IPs)."""
    row = db.execute(
        "SELECT pools.name FROM subaccount_pools JOIN pools ON pools.seq = pool_seq "
        "WHERE sub_seq = ?", (sub_seq,)).fetchone()
    return None if row is None else str(row[0])


def bind_pool(db: sqlite3.Connection, sub: sqlite3.Row, pool: sqlite3.Row
              ) -> dict[str, Any] | str:
    """Make the subaccount send from ``pool`` (replacing any pool it had), or say why not:
    a pool with no IPs is refused, as SendGrid refuses to leave a subuser nothing to send
    from."""
    if db.execute("SELECT 1 FROM ips WHERE pool_seq = ?", (pool["seq"],)).fetchone() is None:
        return f"pool {pool['name']} has no IPs; add some before assigning it"
    db.execute("INSERT INTO subaccount_pools (sub_seq, pool_seq) VALUES (?, ?) "
               "ON CONFLICT (sub_seq) DO UPDATE SET pool_seq = excluded.pool_seq",
               (sub["seq"], pool["seq"]))
    return {"subaccount": sub["id"], "kind": "pool", "target": pool["name"]}


def release_pool(db: sqlite3.Connection, pool: sqlite3.Row,
                 replacement: tuple[str, str] | None, given: bool) -> str | None:
    """Before ``pool`` is deleted: move the subaccounts bound to it to the replacement pool
    (``("pool", name)``), or back to the shared IPs (``None`` given as ``"shared"``). Without
    a replacement, or with an IP (subaccounts send from pools), nothing moves and the reason
    is returned (a 409)."""
    users = db.execute("SELECT COUNT(*) FROM subaccount_pools WHERE pool_seq = ?",
                       (pool["seq"],)).fetchone()[0]
    if not users:
        return None
    if not given:
        return (f"pool {pool['name']} is used by {users} subaccount(s); give a replacement "
                "(another pool, or 'shared')")
    if replacement is None:
        db.execute("DELETE FROM subaccount_pools WHERE pool_seq = ?", (pool["seq"],))
        return None
    kind, name = replacement
    if kind != "pool":
        return (f"pool {pool['name']} is used by {users} subaccount(s), which send from "
                "pools: replace it with another pool or 'shared'")
    new_seq = db.execute("SELECT seq FROM pools WHERE name = ?", (name,)).fetchone()[0]
    db.execute("UPDATE subaccount_pools SET pool_seq = ? WHERE pool_seq = ?",
               (new_seq, pool["seq"]))
    return None

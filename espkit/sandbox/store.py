"""The sandbox ESP's state, in SQLite, and the account rules that go with it.

One connection guarded by one lock (the bulk engine calls in from many threads; SQLite
serialises writers anyway, so a lock is both the simplest and the fastest). Every write runs
in one ``BEGIN IMMEDIATE`` transaction, so a failed check leaves nothing half-done.

Scoping: domains and their assignments belong to an *account*: ``""`` for the main account or
a subaccount id. Dedicated IPs and pools are the main account's and usable from every scope
(the way an ESP delegates its pools). Domain names are unique across the whole ESP, as at real
ESPs, so a name taken by another account is a 409 even though that account's domain is
invisible. Methods return API-shaped dicts and raise ``ApiError`` with the HTTP status.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from espkit.sandbox import database, records, tables

#: the account's dedicated IPs (documentation ranges, RFC 5737 / RFC 3849)
SEED_IPS = (*(f"198.51.100.{n}" for n in range(1, 17)), "2001:db8::10", "2001:db8::11")
#: recently added IPs, still warming up
WARMING_IPS = frozenset({"198.51.100.15", "198.51.100.16", "2001:db8::11"})
SHARED = "shared"


class ApiError(Exception):
    """An error the API answers with: HTTP ``status``, machine ``code``, human ``message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _stable_id(prefix: str, name: str) -> str:
    # derived from the name, not a counter, so ids are the same whatever order threads run in
    return f"{prefix}_{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _page(rows: list[sqlite3.Row], limit: int) -> tuple[list[sqlite3.Row], int | None]:
    """Rows fetched with ``LIMIT limit + 1``: the page and the cursor after it (or None)."""
    if len(rows) > limit:
        return rows[:limit], int(rows[limit - 1]["seq"])
    return rows, None


def _seed(db: sqlite3.Connection) -> None:
    """The rows a new sandbox starts with: the account's dedicated IPs."""
    db.executemany(
        "INSERT INTO ips (seq, address, rdns, warming_up) VALUES (?, ?, ?, ?)",
        [(n, ip, f"o{n}.mta.{records.ESP_HOST}", ip in WARMING_IPS)
         for n, ip in enumerate(SEED_IPS, 1)],
    )


def canonical_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ApiError(400, "invalid_request", f"{value!r} is not an IP address") from None


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        """``path``: a SQLite file, created if it does not exist, or ``":memory:"``. A file
        that is not an espkit sandbox database is a ``ConfigError`` and left as it was
        (``database``)."""
        self.path = path
        self._lock = threading.Lock()
        self._db = database.open_database(path, _seed)
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    #: the same, for the modules that keep the sandbox's other tables (``warmup``, ``sends``)
    transaction = _tx
    reading = _read

    # -- domains -----------------------------------------------------------------------------

    def create_domain(self, account: str, name: str, settings: dict[str, Any],
                      ips: Sequence[str], pool: str | None, now: float) -> dict[str, Any]:
        recs = records.generate(name, selector=settings["dkim_selector"],
                                key_size=settings["dkim_key_size"],
                                web_prefix=settings["web_prefix"])
        row = {"id": _stable_id("dom", name), "name": name, "account": account,
               "state": "unverified", "created_at": now}
        with self._tx() as db:
            targets = [("pool", self._pool(db, pool)["name"])] if pool else []
            targets += [("ip", self._ip(db, ip)["address"]) for ip in ips]
            try:
                cur = db.execute(
                    "INSERT INTO domains (id, name, account, state, created_at, settings,"
                    " records) VALUES (:id, :name, :account, :state, :created_at, :settings,"
                    " :records)",
                    {**row, "settings": json.dumps(settings), "records": json.dumps(recs)},
                )
            except sqlite3.IntegrityError:  # UNIQUE (name): this account's or another's
                raise ApiError(409, "already_exists", f"domain {name} already exists") from None
            if targets:
                db.executemany(
                    "INSERT INTO assignments (domain_seq, kind, target) VALUES (?, ?, ?)",
                    [(cur.lastrowid, kind, target) for kind, target in targets],
                )
        return _domain_out(row, settings, recs)

    def _domain(self, db: sqlite3.Connection, account: str, name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM domains WHERE name = ? AND account = ?", (name, account)
        ).fetchone()
        if row is None:
            raise not_found(f"domain {name}")
        return row

    def get_domain(self, account: str, name: str) -> dict[str, Any]:
        with self._read() as db:
            return _domain_row_out(self._domain(db, account, name))

    def list_domains(self, account: str, after: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int | None]:
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM domains WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?",
                (account, after, limit + 1),
            ).fetchall()
        page, cursor = _page(rows, limit)
        return [_domain_row_out(r) for r in page], cursor

    def verify_domain(self, account: str, name: str, now: float, delay: float
                      ) -> dict[str, Any]:
        """Check the records: valid once ``delay`` seconds have passed since creation (DNS
        propagation); before that the check is under way and the domain ``pending``."""
        with self._tx() as db:
            row = self._domain(db, account, name)
            if row["state"] == "verified":
                return _domain_row_out(row)
            ready = now - row["created_at"] >= delay
            status = "valid" if ready else "pending"
            recs = [{**r, "status": status} for r in json.loads(row["records"])]
            state = "verified" if ready else "pending"
            db.execute("UPDATE domains SET state = ?, records = ? WHERE seq = ?",
                       (state, json.dumps(recs), row["seq"]))
        return _domain_out({**dict(row), "state": state}, json.loads(row["settings"]), recs)

    def record_dns_check(self, account: str, name: str, valid: list[bool]) -> dict[str, Any]:
        """Store the outcome of looking the records up in DNS (one flag per record, in
        order): verified once every record is there, like a real ESP."""
        with self._tx() as db:
            row = self._domain(db, account, name)
            if row["state"] == "verified":
                return _domain_row_out(row)
            old = json.loads(row["records"])
            recs = [{**r, "status": "valid" if ok else "invalid"}
                    for r, ok in zip(old, valid, strict=True)]
            state = "verified" if recs and all(valid) else "pending"
            db.execute("UPDATE domains SET state = ?, records = ? WHERE seq = ?",
                       (state, json.dumps(recs), row["seq"]))
        return _domain_out({**dict(row), "state": state}, json.loads(row["settings"]), recs)

    def delete_domain(self, account: str, name: str) -> None:
        with self._tx() as db:
            # assignments go with it (ON DELETE CASCADE)
            db.execute("DELETE FROM domains WHERE seq = ?",
                       (self._domain(db, account, name)["seq"],))

    # -- dedicated IPs -----------------------------------------------------------------------

    _IP_SELECT = ("SELECT ips.*, pools.name AS pool FROM ips "
                  "LEFT JOIN pools ON ips.pool_seq = pools.seq")

    def _ip(self, db: sqlite3.Connection, address: str) -> sqlite3.Row:
        address = canonical_ip(address)
        row: sqlite3.Row | None = db.execute(
            f"{self._IP_SELECT} WHERE address = ?", (address,)
        ).fetchone()
        if row is None:
            raise not_found(f"dedicated IP {address}")
        return row

    def get_ip(self, address: str) -> dict[str, Any]:
        with self._read() as db:
            return _ip_out(self._ip(db, address))

    def list_ips(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        with self._read() as db:
            rows = db.execute(
                f"{self._IP_SELECT} WHERE ips.seq > ? ORDER BY ips.seq LIMIT ?",
                (after, limit + 1),
            ).fetchall()
        page, cursor = _page(rows, limit)
        return [_ip_out(r) for r in page], cursor

    # -- pools -------------------------------------------------------------------------------

    def _pool(self, db: sqlite3.Connection, name: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM pools WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise not_found(f"pool {name}")
        return row

    def _pool_out(self, db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        ips = [r[0] for r in db.execute(
            "SELECT address FROM ips WHERE pool_seq = ? ORDER BY seq", (row["seq"],))]
        return {"id": row["id"], "name": row["name"], "description": row["description"],
                "ips": ips}

    def create_pool(self, name: str, ips: Sequence[str], description: str | None
                    ) -> dict[str, Any]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM pools WHERE name = ?", (name,)).fetchone():
                raise ApiError(409, "already_exists", f"pool {name} already exists")
            members = [self._ip(db, ip)["seq"] for ip in ips]
            cur = db.execute("INSERT INTO pools (id, name, description) VALUES (?, ?, ?)",
                             (_stable_id("pool", name), name, description))
            db.executemany("UPDATE ips SET pool_seq = ? WHERE seq = ?",
                           [(cur.lastrowid, seq) for seq in members])
            return self._pool_out(db, self._pool(db, name))

    def get_pool(self, name: str) -> dict[str, Any]:
        with self._read() as db:
            return self._pool_out(db, self._pool(db, name))

    def list_pools(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM pools WHERE seq > ? ORDER BY seq LIMIT ?",
                              (after, limit + 1)).fetchall()
            page, cursor = _page(rows, limit)
            return [self._pool_out(db, r) for r in page], cursor

    def add_ip_to_pool(self, name: str, address: str) -> dict[str, Any]:
        """Put the IP in the pool, taking it out of any other (an IP is in one pool)."""
        with self._tx() as db:
            pool = self._pool(db, name)
            db.execute("UPDATE ips SET pool_seq = ? WHERE seq = ?",
                       (pool["seq"], self._ip(db, address)["seq"]))
            return self._pool_out(db, pool)

    def remove_ip_from_pool(self, name: str, address: str) -> dict[str, Any]:
        with self._tx() as db:
            pool = self._pool(db, name)
            ip = self._ip(db, address)
            if ip["pool_seq"] != pool["seq"]:
                raise not_found(f"dedicated IP {ip['address']} in pool {name}")
            db.execute("UPDATE ips SET pool_seq = NULL WHERE seq = ?", (ip["seq"],))
            return self._pool_out(db, pool)

    def delete_pool(self, name: str, replacement: str | None) -> None:
        """Delete a pool. Domains sending from it need a ``replacement``: an IP, another pool,
        or ``"shared"`` (the ESP's shared IPs: no assignment)."""
        with self._tx() as db:
            pool = self._pool(db, name)
            users = [r[0] for r in db.execute(
                "SELECT domain_seq FROM assignments WHERE kind = 'pool' AND target = ?",
                (name,))]
            if users and replacement is None:
                raise ApiError(
                    409, "conflict",
                    f"pool {name} is used by {len(users)} domain(s); give a replacement "
                    "(an IP, another pool, or 'shared')",
                )
            target = None if replacement is None else self._target(db, replacement)
            if target == ("pool", name):
                raise ApiError(400, "invalid_request", "a pool cannot replace itself")
            refused = tables.release_pool(db, pool, target, replacement is not None)
            if refused is not None:
                raise ApiError(409, "conflict", refused)
            if users and replacement is not None:
                db.execute("DELETE FROM assignments WHERE kind = 'pool' AND target = ?",
                           (name,))
                for seq in users:
                    self._assign(db, seq, target)
            # members return to no pool (ON DELETE SET NULL)
            db.execute("DELETE FROM pools WHERE seq = ?", (pool["seq"],))

    # -- assignments -------------------------------------------------------------------------

    def _target(self, db: sqlite3.Connection, value: str) -> tuple[str, str] | None:
        """``shared`` -> None, an IP address -> ("ip", ip), else ("pool", name); checked."""
        if value == SHARED:
            return None
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return ("pool", self._pool(db, value)["name"])
        return ("ip", self._ip(db, value)["address"])

    def _assign(self, db: sqlite3.Connection, domain_seq: int,
                target: tuple[str, str] | None) -> None:
        """A domain sends from one pool or from a set of IPs: a new pool replaces the old
        one; mixing kinds is refused rather than silently dropping what was there."""
        if target is None:
            return
        kind, value = target
        other = "ip" if kind == "pool" else "pool"
        clash = db.execute(
            "SELECT target FROM assignments WHERE domain_seq = ? AND kind = ?",
            (domain_seq, other),
        ).fetchall()
        if clash:
            raise ApiError(
                409, "conflict",
                f"the domain sends from {other} {', '.join(r[0] for r in clash)}; "
                f"unassign it before assigning a {kind}",
            )
        if kind == "pool":
            db.execute("DELETE FROM assignments WHERE domain_seq = ? AND kind = 'pool'",
                       (domain_seq,))
        db.execute("INSERT OR IGNORE INTO assignments (domain_seq, kind, target) "
                   "VALUES (?, ?, ?)", (domain_seq, kind, value))

    def assign(self, account: str, domain: str, kind: str, target: str) -> dict[str, Any]:
        with self._tx() as db:
            row = self._domain(db, account, domain)
            checked = (("pool", self._pool(db, target)["name"]) if kind == "pool"
                       else ("ip", self._ip(db, target)["address"]))
            self._assign(db, row["seq"], checked)
        return {"domain": domain, "kind": checked[0], "target": checked[1]}

    def unassign(self, account: str, domain: str, kind: str, target: str,
                 replacement: str | None) -> None:
        with self._tx() as db:
            row = self._domain(db, account, domain)
            if kind == "ip":
                target = canonical_ip(target)
            cur = db.execute(
                "DELETE FROM assignments WHERE domain_seq = ? AND kind = ? AND target = ?",
                (row["seq"], kind, target),
            )
            if cur.rowcount == 0:
                raise not_found(f"assignment of {kind} {target} to {domain}")
            if replacement is not None:
                self._assign(db, row["seq"], self._target(db, replacement))

    def assignments(self, account: str, domain: str) -> list[dict[str, Any]]:
        with self._read() as db:
            row = self._domain(db, account, domain)
            return [{"domain": domain, "kind": r["kind"], "target": r["target"]}
                    for r in db.execute("SELECT kind, target FROM assignments "
                                        "WHERE domain_seq = ? ORDER BY rowid", (row["seq"],))]

    # -- subaccounts -------------------------------------------------------------------------

    def _sub(self, db: sqlite3.Connection, sub_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM subaccounts WHERE id = ?", (sub_id,)
        ).fetchone()
        if row is None:
            raise not_found(f"subaccount {sub_id}")
        return row

    def create_subaccount(self, name: str, now: float) -> dict[str, Any]:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM subaccounts WHERE name = ?", (name,)).fetchone():
                raise ApiError(409, "already_exists", f"subaccount {name} already exists")
            db.execute("INSERT INTO subaccounts (id, name, created_at) VALUES (?, ?, ?)",
                       (_stable_id("sub", name), name, now))
            return self._sub_out(db, db.execute("SELECT * FROM subaccounts WHERE name = ?",
                                                (name,)).fetchone())

    def get_subaccount(self, sub_id: str) -> dict[str, Any]:
        with self._read() as db:
            return self._sub_out(db, self._sub(db, sub_id))

    def list_subaccounts(self, after: int, limit: int
                         ) -> tuple[list[dict[str, Any]], int | None]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM subaccounts WHERE seq > ? ORDER BY seq LIMIT ?",
                              (after, limit + 1)).fetchall()
            page, cursor = _page(rows, limit)
            return [self._sub_out(db, r) for r in page], cursor

    @staticmethod
    def _sub_out(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        return {"id": row["id"], "name": row["name"], "enabled": bool(row["enabled"]),
                "pool": tables.sub_pool(db, row["seq"]), "created_at": _iso(row["created_at"])}

    def set_subaccount_enabled(self, sub_id: str, enabled: bool) -> dict[str, Any]:
        with self._tx() as db:
            seq = self._sub(db, sub_id)["seq"]
            db.execute("UPDATE subaccounts SET enabled = ? WHERE seq = ?", (enabled, seq))
            return self._sub_out(db, self._sub(db, sub_id))

    def assign_subaccount_pool(self, sub_id: str, pool: str) -> dict[str, Any]:
        with self._tx() as db:
            bound = tables.bind_pool(db, self._sub(db, sub_id), self._pool(db, pool))
        if isinstance(bound, str):
            raise ApiError(409, "conflict", bound)
        return bound

    # -- message streams (``tables``) --------------------------------------------------------

    def create_stream(self, account: str, sid: str, name: str, kind: str, now: float
                      ) -> dict[str, Any]:
        with self._tx() as db:
            made = tables.create_stream(db, account, sid, name, kind, now)
        if made is None:
            raise ApiError(409, "already_exists", f"stream {sid} already exists")
        return made

    def get_stream(self, account: str, sid: str) -> dict[str, Any]:
        with self._read() as db:
            found = tables.stream(db, account, sid)
        if found is None:
            raise not_found(f"stream {sid}")
        return found

    def list_streams(self, account: str, after: int, limit: int
                     ) -> tuple[list[dict[str, Any]], int | None]:
        with self._read() as db:
            return tables.list_streams(db, account, after, limit)


def _domain_out(row: dict[str, Any], settings: dict[str, Any],
                recs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "state": row["state"],
            "subaccount": row["account"] or None, "created_at": _iso(row["created_at"]),
            "settings": settings, "records": recs}


def _domain_row_out(row: sqlite3.Row) -> dict[str, Any]:
    return _domain_out(dict(row), json.loads(row["settings"]), json.loads(row["records"]))


def _ip_out(row: sqlite3.Row) -> dict[str, Any]:
    return {"address": row["address"], "pool": row["pool"], "rdns": row["rdns"],
            "warming_up": bool(row["warming_up"]), "enabled": True}


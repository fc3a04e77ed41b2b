"""The sandbox tells the truth: it emulates every capability (streams, subaccount pools), its
``like=`` switch narrows it to one provider's set, and sandboxes of schema version 1 are
upgraded in place while unknown versions are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import espkit
from espkit import Capability, StreamKind, capabilities, providers
from espkit.errors import (
    AlreadyExists,
    ConfigError,
    ConflictingState,
    NotFound,
    Unsupported,
    ValidationError,
)
from espkit.sandbox import database

IP1, IP2 = "198.51.100.1", "198.51.100.2"


@pytest.fixture
def acct() -> espkit.Account:
    return espkit.connect("sandbox", path=":memory:")


def sent(a: espkit.Account) -> int:
    return len(a.provider.emulator.history)  # type: ignore[attr-defined]


# -- every capability, emulated ------------------------------------------------------------


def test_the_plain_sandbox_declares_every_capability(acct: espkit.Account) -> None:
    assert acct.capabilities == frozenset(Capability)
    assert capabilities.of("sandbox").supports == frozenset(Capability)


def test_streams_are_created_read_and_listed_per_account(acct: espkit.Account) -> None:
    made = acct.streams.create("news", name="Newsletters", kind="broadcast")
    assert (made.id, made.name, made.kind, made.subaccount) == (
        "news", "Newsletters", StreamKind.BROADCAST, None)
    assert acct.streams.get("news") == made
    with pytest.raises(AlreadyExists):
        acct.streams.create("news", kind="broadcast")
    sub = acct.subaccounts.create("customer-1")
    scoped = acct.on_behalf_of(sub)
    assert list(scoped.streams.list()) == []  # the main account's streams are not its own
    with pytest.raises(NotFound):
        scoped.streams.get("news")
    tx = scoped.streams.create("news", kind=StreamKind.TRANSACTIONAL)  # same id, other owner
    assert (tx.kind, tx.subaccount) == (StreamKind.TRANSACTIONAL, sub.id)
    assert [s.id for s in acct.streams.list()] == ["news"]
    assert acct.streams.get("news").kind is StreamKind.BROADCAST


def test_streams_list_walks_pages(acct: espkit.Account) -> None:
    ids = [f"s{i:03d}" for i in range(105)]  # more than one page of MAX_PAGE (100)
    for sid in ids:
        acct.streams.create(sid)
    assert [s.id for s in acct.streams.list()] == ids


def test_the_emulator_checks_a_stream_itself(acct: espkit.Account) -> None:
    app = acct.provider.emulator.app  # type: ignore[attr-defined]
    auth = {"Authorization": "Bearer k"}
    for body in (b'{"id": "a", "kind": "bulk"}', b'{"id": "a"}',
                 b'{"id": "a", "kind": "broadcast", "name": "two\\nlines"}',
                 b'{"id": "a b", "kind": "broadcast"}',
                 b'{"id": "a", "kind": "broadcast", "extra": 1}'):
        assert app.handle("POST", "/v1/streams", "", auth, body).status == 400, body
    ok = app.handle("POST", "/v1/streams", "", auth, b'{"id": "a", "kind": "inbound"}')
    assert ok.status == 201


def test_a_subaccount_is_bound_to_a_pool(acct: espkit.Account) -> None:
    acct.pools.create("mkt", ips=[IP1])
    acct.pools.create("tx", ips=[IP2])
    sub = acct.subaccounts.create("customer-1")
    assert acct.subaccounts.get(sub).raw["pool"] is None
    bound = acct.subaccounts.assign(sub, pool="mkt")
    assert (bound.domain, bound.target, bound.raw["subaccount"]) == ("", "mkt", sub.id)
    assert acct.subaccounts.get(sub).raw["pool"] == "mkt"
    acct.subaccounts.assign(sub, pool="tx")  # replaces, one pool per subaccount
    assert acct.subaccounts.get(sub).raw["pool"] == "tx"
    with pytest.raises(NotFound):
        acct.subaccounts.assign(sub, pool="nope")
    with pytest.raises(NotFound):
        acct.subaccounts.assign("sub_0000000000000000", pool="mkt")
    with pytest.raises(ValidationError):  # refused before sending
        acct.subaccounts.assign(sub, pool="bad name")
    with pytest.raises(espkit.EspError, match="403"):  # a subaccount cannot rebind itself
        acct.on_behalf_of(sub).subaccounts.assign(sub, pool="mkt")


def test_an_empty_pool_cannot_be_bound(acct: espkit.Account) -> None:
    acct.pools.create("empty", ips=[])
    sub = acct.subaccounts.create("customer-1")
    with pytest.raises(ConflictingState, match="no IPs"):
        acct.subaccounts.assign(sub, pool="empty")
    acct.pools.add_ip("empty", IP1)
    assert acct.subaccounts.assign(sub, pool="empty").target == "empty"


def test_a_bound_pool_needs_a_pool_or_shared_to_be_deleted(acct: espkit.Account) -> None:
    acct.pools.create("mkt", ips=[IP1])
    acct.pools.create("tx", ips=[IP2])
    sub = acct.subaccounts.create("customer-1")
    acct.subaccounts.assign(sub, pool="mkt")
    with pytest.raises(ConflictingState, match="1 subaccount"):
        acct.pools.delete("mkt")
    with pytest.raises(ConflictingState, match="send from pools"):
        acct.pools.delete("mkt", replacement=IP2)
    assert acct.pools.get("mkt").ips == (IP1,)  # refused: nothing changed
    acct.pools.delete("mkt", replacement="tx")
    assert acct.subaccounts.get(sub).raw["pool"] == "tx"
    acct.pools.delete("tx", replacement="shared")
    assert acct.subaccounts.get(sub).raw["pool"] is None


def test_an_unused_pool_still_deletes_without_a_replacement(acct: espkit.Account) -> None:
    acct.pools.create("mkt", ips=[IP1])
    acct.subaccounts.create("customer-1")
    acct.pools.delete("mkt")
    assert [p.name for p in acct.pools.list()] == []


# -- like= ----------------------------------------------------------------------------------


@pytest.mark.parametrize("like", ["mailgun", "sendgrid", "sparkpost", "postmark", "ses"])
def test_like_takes_exactly_the_model_s_capabilities(like: str) -> None:
    model = providers.get(like)
    with espkit.connect("sandbox", path=":memory:", like=like) as a:
        assert a.capabilities == model.SUPPORTS
        assert all(a.supports(c) == (c in model.SUPPORTS) for c in Capability)
        assert a.provider.HINTS == model.HINTS
        assert a.provider.DOMAIN_OPTIONS == model.DOMAIN_OPTIONS
        assert a.name == "sandbox"
        assert f"like={like!r}" in repr(a.provider)
    row = capabilities.of("sandbox", like=like)
    assert (row.name, row.supports, row.hints) == (
        f"sandbox (like {like})", model.SUPPORTS, dict(model.HINTS))


def test_like_raises_the_model_s_unsupported_before_sending() -> None:
    a = espkit.connect("sandbox", path=":memory:", like="SendGrid")  # any case
    before = sent(a)
    with pytest.raises(Unsupported) as info:
        list(a.streams.list())
    assert info.value.hint == providers.get("sendgrid").HINTS[Capability.STREAMS]
    with pytest.raises(Unsupported):
        a.domains.create("news.acme.example", dkim_key_size=1024)  # not a SendGrid option
    with pytest.raises(Unsupported):
        a.domains.assign("news.acme.example", pool="mkt")
    assert sent(a) == before
    # what SendGrid can do, it does
    a.pools.create("mkt", ips=[IP1])
    sub = a.subaccounts.create("customer-1")
    assert a.subaccounts.assign(sub, pool="mkt").target == "mkt"
    assert sent(a) > before


def test_a_scoped_like_sandbox_stays_narrowed() -> None:
    a = espkit.connect("sandbox", path=":memory:", like="sparkpost")
    scoped = a.on_behalf_of(a.subaccounts.create("customer-1"))
    assert scoped.capabilities == providers.get("sparkpost").SUPPORTS
    with pytest.raises(Unsupported):
        scoped.streams.create("news")


def test_like_postmark_keeps_streams_and_drops_pools() -> None:
    a = espkit.connect("sandbox", path=":memory:", like="postmark")
    server = a.subaccounts.create("server-1")
    assert a.on_behalf_of(server).streams.create("news").id == "news"
    with pytest.raises(Unsupported, match="Postmark"):
        a.pools.create("mkt", ips=[IP1])


@pytest.mark.parametrize("like", ["sendgird", "sandbox", "", 3])
def test_an_unknown_like_is_a_config_error_naming_the_choices(like: object) -> None:
    with pytest.raises(ConfigError) as info:
        espkit.connect("sandbox", path=":memory:", like=like)
    for name in ("mailgun", "postmark", "sendgrid", "ses", "sparkpost"):
        assert repr(name) in str(info.value)
    with pytest.raises(ConfigError, match="choose one of"):
        capabilities.of("sandbox", like=like)  # type: ignore[arg-type]


def test_like_applies_to_the_sandbox_only() -> None:
    with pytest.raises(ConfigError, match="applies to the sandbox"):
        capabilities.of("mailgun", like="sendgrid")
    with pytest.raises(ConfigError, match="unknown option"):
        espkit.connect("mailgun", api_key="k", like="sendgrid")


# -- schema upgrade ---------------------------------------------------------------------------

V1_SCHEMA = database.SCHEMA[:database.SCHEMA.index("CREATE TABLE IF NOT EXISTS streams")]


def _v1_file(path: Path, version: int = 1) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO pools (id, name, description) VALUES ('pool_1', 'mkt', NULL)")
    conn.execute("INSERT INTO ips (seq, address, rdns, warming_up, pool_seq) "
                 f"VALUES (1, '{IP1}', 'o1.mta.example', 0, 1)")
    conn.execute(f"PRAGMA application_id = {database.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_a_version_1_sandbox_is_upgraded_in_place_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _v1_file(path)
    with espkit.connect("sandbox", path=str(path)) as a:
        assert a.pools.get("mkt").ips == (IP1,)  # kept
        a.streams.create("news")
        sub = a.subaccounts.create("customer-1")
        a.subaccounts.assign(sub, pool="mkt")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == database.SCHEMA_VERSION == 2
    conn.close()
    with espkit.connect("sandbox", path=str(path)) as again:  # and opens as a v2 file
        assert again.streams.get("news").id == "news"


@pytest.mark.parametrize("version", [0, 3])
def test_a_version_it_cannot_upgrade_is_refused_and_unchanged(tmp_path: Path,
                                                             version: int) -> None:
    path = tmp_path / "other.db"
    _v1_file(path, version)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=f"schema version {version}.*understands 2"):
        espkit.connect("sandbox", path=str(path))
    assert path.read_bytes() == before

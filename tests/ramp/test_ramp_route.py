"""``route`` and ``router``: the side decision (keys, shares, monotone on advance and on
rollback, the same in every process), and the complete route each side gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from datetime import date
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rampcase import SALT, ramp_of

from espkit.errors import ValidationError
from espkit.fleet import Fleet
from espkit.providers.ses import SesProvider
from espkit.ramp import (
    PPM,
    Ramp,
    RampState,
    RoutingKey,
    SendingRoute,
    advance,
    bucket,
    normalise_key,
    rollback,
    route,
    router,
    send_options,
)

DAY = date(2026, 3, 2)  # the start: step 1, 1 %
KEYS = [f"user{n}@example{n % 7}.com" for n in range(1000)]


Case = tuple[Fleet, Ramp]


@pytest.fixture(scope="module")
def case() -> Case:
    return ramp_of()


def with_share(ramp: Ramp, share: int) -> Ramp:
    """The ramp with one step of ``share``: the start date routes at exactly that share."""
    return attrs.evolve(ramp, steps=(share,))


def test_a_stream_no_ramp_covers_has_its_one_route(case: Case) -> None:
    fleet, ramp = case
    got = route(fleet, "acme", "mail", "ana@example.com", DAY, ramps=[ramp])
    assert got == SendingRoute(connection="old", provider="sandbox", from_domain="mail.acme.com",
                               stream="mail", pool=None, options={}, side="only", ramp=None)
    # no ramp reads no key: an empty one is not refused there
    assert route(fleet, "acme", "mail", "", DAY, ramps=[ramp]).side == "only"


def test_each_side_is_a_complete_route(case: Case) -> None:
    fleet, ramp = case
    old = route(fleet, "acme", "news", "ana@example.com", DAY, ramps=[with_share(ramp, 0)])
    new = route(fleet, "acme", "news", "ana@example.com", DAY, ramps=[with_share(ramp, PPM)])
    assert (old.connection, old.from_domain, old.stream, old.pool, old.side, old.ramp) == (
        "old", "news.acme.com", "news", "mkt-old", "old", "move")
    # the old side is like Mailgun: no pool id known, so no o:sending-ip-pool
    assert dict(old.options) == {}
    assert (new.connection, new.from_domain, new.stream, new.pool, new.side) == (
        "new", "news2.acme.com", "news-new", "mkt-new", "new")
    assert dict(new.options) == {"ip_pool_name": "mkt-new"}  # like SendGrid
    with_id = route(fleet, "acme", "news", "ana@example.com", DAY, ramps=[with_share(ramp, 0)],
                    pool_ids={"old": {"mkt-old": "pool-1234"}})
    assert dict(with_id.options) == {"o:sending-ip-pool": "pool-1234"}


def test_unknown_customers_and_streams_are_refused(case: Case) -> None:
    fleet, ramp = case
    with pytest.raises(ValidationError, match="customer 'nobody'"):
        route(fleet, "nobody", "news", "a@b.c", DAY, ramps=[ramp])
    with pytest.raises(ValidationError, match="stream 'nope'"):
        route(fleet, "acme", "nope", "a@b.c", DAY, ramps=[ramp])
    hot = router(fleet, DAY, ramps=[ramp])
    with pytest.raises(ValidationError, match="customer 'nobody'"):
        hot("nobody", "news", "a@b.c")
    with pytest.raises(ValidationError, match="must be text"):
        hot(None, "news", "a@b.c")  # type: ignore[arg-type]
    for bad in (["acme"], None):
        with pytest.raises(ValidationError, match="customer"):
            hot(bad, "news", "a@b.c")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="customer"):
            route(fleet, bad, "news", "a@b.c", DAY, ramps=[ramp])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="stream"):
        hot("acme", ["news"], "a@b.c")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="RampState"):
        route(fleet, "acme", "news", "a@b.c", DAY, {}, ramps=[ramp])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="date"):
        router(fleet, "2026-03-02", ramps=[ramp])  # type: ignore[arg-type]


@pytest.mark.parametrize(("provider", "options", "expected"), [
    ("mailgun", {}, {"o:sending-ip-pool": "ID"}),
    ("sendgrid", {}, {"ip_pool_name": "mkt.eu"}),
    ("sparkpost", {}, {"options.ip_pool": "ID"}),
    ("ses", {}, {"ConfigurationSetName": "espkit-mkt_eu"}),
    ("ses", {"configuration_set_prefix": "acme-"}, {"ConfigurationSetName": "acme-mkt_eu"}),
    ("postmark", {}, {"MessageStream": "news"}),
    ("sandbox", {}, {"ip_pool": "mkt.eu"}),
    ("sandbox", {"like": "ses"}, {"ConfigurationSetName": "espkit-mkt_eu"}),
    ("someone-elses", {}, {}),
])
def test_per_message_options_name_the_pool_as_each_esp_does(
        provider: str, options: dict[str, str], expected: dict[str, str]) -> None:
    assert send_options(provider, options, "news", "mkt.eu", "ID") == expected


def test_without_a_pool_only_postmark_gets_an_option() -> None:
    for provider in ("mailgun", "sendgrid", "sparkpost", "ses", "sandbox"):
        assert send_options(provider, {}, "news", None) == {}
    assert send_options("postmark", {}, "news", None) == {"MessageStream": "news"}
    # Mailgun needs the DIPP's id; SparkPost falls back on the name it derives the id from
    assert send_options("mailgun", {}, "news", "mkt") == {}
    assert send_options("sparkpost", {}, "news", "mkt") == {"options.ip_pool": "mkt"}


def test_the_ses_configuration_set_is_the_one_the_provider_binds() -> None:
    provider = types.SimpleNamespace(prefix="espkit-")
    for pool in ("mkt", "mkt.eu", "a.b.c"):
        expected = SesProvider.config_set_name(provider, pool)  # type: ignore[arg-type]
        assert send_options("ses", {}, "news", pool) == {"ConfigurationSetName": expected}


def test_payload_nests_dotted_options() -> None:
    r = SendingRoute("c", "sparkpost", "d.example", "news", "p", {"options.ip_pool": "p"})
    assert r.payload() == {"options": {"ip_pool": "p"}}
    r.payload()["options"]["ip_pool"] = "changed"  # a fresh mapping each time
    assert dict(r.options) == {"options.ip_pool": "p"}
    assert hash(r) == hash(attrs.evolve(r))


def test_keys_are_normalised_before_hashing() -> None:
    same = ["alice@example.com", "  ALICE@Example.COM\t\n", "Alice@example.com"]
    assert {normalise_key(k) for k in same} == {"alice@example.com"}
    assert len({bucket(SALT, "move", "news", k) for k in same}) == 1
    # NFC: a decomposed é is the composed one; only ASCII letters change case
    assert normalise_key("Jose\u0301@EXAMPLE.com") == "jos\u00e9@example.com"
    assert normalise_key("\u00c4LICE@x.com") == "\u00c4lice@x.com"
    assert normalise_key("bob@Example.COM.", RoutingKey.DOMAIN) == "example.com"
    assert normalise_key("a@b@C.org", "domain") == "c.org"
    assert normalise_key("Example.org", "domain") == "example.org"


@pytest.mark.parametrize("key", ["", "   ", "\t\r\n", "\u00a0", "\u3000 \u200b", "\ufeff",
                                 "\ud800", "x" * 1025])
def test_empty_looking_and_unusable_keys_are_refused(case: Case, key: str) -> None:
    fleet, ramp = case
    with pytest.raises(ValidationError):
        normalise_key(key)
    with pytest.raises(ValidationError):
        route(fleet, "acme", "news", key, DAY, ramps=[ramp])
    with pytest.raises(ValidationError):
        router(fleet, DAY, ramps=[ramp])("acme", "news", key)


def test_keys_just_inside_the_limits_are_routed(case: Case) -> None:
    fleet, ramp = case
    hot = router(fleet, DAY, ramps=[ramp])
    for key in ("x" * 1024, " x ", "\u3000x", "\u00e9"):
        assert hot("acme", "news", key) == route(fleet, "acme", "news", key, DAY, ramps=[ramp])
    for key in ("@", "ana@", "ana@ . "):
        with pytest.raises(ValidationError):
            normalise_key(key, "domain")


def test_share_zero_and_full_and_the_threshold(case: Case) -> None:
    fleet, ramp = case
    key = "ana@example.com"
    b = bucket(SALT, "move", "news", key)
    for share, side in ((0, "old"), (PPM, "new"), (b, "old"), (b + 1, "new")):
        ramps = [with_share(ramp, share)]
        assert route(fleet, "acme", "news", key, DAY, ramps=ramps).side == side, (share, b)
        assert router(fleet, DAY, ramps=ramps)("acme", "news", key).side == side, (share, b)


@pytest.mark.parametrize(("kind", "key", "value"), [
    ("recipient", "  MiXeD@Case.ORG ", "  MiXeD@Case.ORG "),
    ("recipient", "\x1ca@b.c\x1f", "\x1ca@b.c\x1f"),  # separators: not whitespace here
    ("recipient", "Jose\u0301@x.com", "Jose\u0301@x.com"),
    ("domain", "ana@Example.COM.", "ana@Example.COM."),
    ("customer", "anything", "acme"),
])
def test_both_forms_put_the_threshold_at_the_bucket(case: Case, kind: str, key: str,
                                                    value: str) -> None:
    fleet, ramp = case
    b = bucket(SALT, "move", "news", value, kind)
    for share, side in ((b, "old"), (b + 1, "new")):
        ramps = [attrs.evolve(ramp, key=RoutingKey(kind), steps=(share,))]
        assert route(fleet, "acme", "news", key, DAY, ramps=ramps).side == side
        assert router(fleet, DAY, ramps=ramps)("acme", "news", key).side == side


def test_the_hot_path_answers_as_route_does(case: Case) -> None:
    fleet, ramp = case
    half = with_share(ramp, PPM // 2)
    hot = router(fleet, DAY, ramps=[half])
    sides = []
    for key in KEYS:
        expected = route(fleet, "acme", "news", key, DAY, ramps=[half])
        assert hot("acme", "news", key) == expected
        sides.append(expected.side)
    assert 400 < sides.count("new") < 600  # half, give or take
    # str.strip() would also strip ASCII separators \x1c-\x1f: the hot path must not
    for key in ("Jos\u00e9@x.com", "  MiXeD@Case.ORG ", "\x1ca@b.c\x1f", "\x1f"):
        assert hot("globex", "news", key) == route(fleet, "globex", "news", key, DAY,
                                                   ramps=[half])


def test_customer_and_domain_keys_keep_their_groups_together(case: Case) -> None:
    fleet, ramp = case
    by_customer = attrs.evolve(ramp, key=RoutingKey.CUSTOMER, steps=(PPM // 2,))
    by_domain = attrs.evolve(ramp, key=RoutingKey.DOMAIN, steps=(PPM // 2,))
    groups: list[tuple[Ramp, Callable[[str], str]]] = [
        (by_customer, lambda k: "acme"), (by_domain, lambda k: k.split("@")[1])]
    for r, group in groups:
        hot = router(fleet, DAY, ramps=[r])
        seen: dict[str, str] = {}
        for key in KEYS:
            side = hot("acme", "news", key).side
            assert seen.setdefault(group(key), side) == side
            assert route(fleet, "acme", "news", key, DAY, ramps=[r]).side == side
        b = bucket(SALT, "move", "news", "acme", "customer")
        if r is by_customer:
            assert seen["acme"] == ("new" if b < PPM // 2 else "old")


@settings(max_examples=40, deadline=None)
@given(shares=st.lists(st.integers(0, PPM), min_size=2, max_size=6))
def test_raising_the_share_only_moves_keys_old_to_new(shares: list[int]) -> None:
    buckets = [bucket(SALT, "move", "news", k) for k in KEYS[:200]]
    shares.sort()
    previous: set[int] = set()
    for share in shares:
        new = {i for i, b in enumerate(buckets) if b < share}
        assert previous <= new
        previous = new


@settings(max_examples=15, deadline=None)
@given(advances=st.integers(1, 4), back=st.integers(0, 4))
def test_advance_and_rollback_are_monotone_through_the_state(advances: int, back: int) -> None:
    fleet, ramp = ramp_of()
    state = RampState()
    history: list[set[str]] = []

    def new_keys(day: date) -> set[str]:
        hot = router(fleet, day, state, ramps=[ramp])
        return {k for k in KEYS[:300] if hot("acme", "news", k).side == "new"}

    history.append(new_keys(DAY))
    for n in range(advances):
        day = date(2026, 3, 3 + n)
        state = advance(ramp, state, day, stats_rows=[])
        history.append(new_keys(day))
        assert history[-2] <= history[-1]  # an advance only moves keys to the new side
    target = max(0, advances + 1 - back - 1)
    day = date(2026, 3, 3 + advances)
    state = rollback(ramp, state, day, to_step=target)
    after = new_keys(day)
    # back exactly where that step was: the keys that moved last moved back
    assert after == (history[target - 1] if target >= 1 else set())
    assert after <= history[-1]


def test_route_on_a_past_day_replays_the_state(case: Case) -> None:
    fleet, ramp = case
    state = advance(ramp, RampState(), date(2026, 3, 5), stats_rows=[])
    for day, share in ((date(2026, 3, 1), 0), (date(2026, 3, 4), ramp.steps[0]),
                       (date(2026, 3, 5), ramp.steps[1]), (date(2027, 1, 1), ramp.steps[1])):
        hot = router(fleet, day, state, ramps=[ramp])
        assert hot.positions["move"].share == share
        for key in KEYS[:50]:
            b = bucket(SALT, "move", "news", key)
            assert hot("acme", "news", key).side == ("new" if b < share else "old")


def test_the_fleet_ramps_are_used_when_none_are_given(case: Case) -> None:
    fleet, ramp = case
    full = attrs.evolve(fleet, ramps=(with_share(ramp, PPM),))
    got = route(full, "acme", "news", "a@b.c", DAY)
    assert got.side == "new"
    assert route(fleet, "acme", "news", "a@b.c", DAY).side == "only"  # no ramps: as declared


CHILD = """
import json, sys
from datetime import date
sys.path.insert(0, sys.argv[1])
from rampcase import ramp_of
from espkit.ramp import router
fleet, ramp = ramp_of()
import attrs
ramp = attrs.evolve(ramp, steps=(500000,))
hot = router(fleet, date(2026, 3, 2), ramps=[ramp])
keys = [f"user{n}@example{n % 7}.com" for n in range(1000)]
print(json.dumps([hot("acme", "news", k).side for k in keys]))
"""


def test_the_same_routes_in_another_process_with_another_hash_seed(case: Case) -> None:
    fleet, ramp = case
    half = with_share(ramp, PPM // 2)
    hot = router(fleet, DAY, ramps=[half])
    mine = [hot("acme", "news", k).side for k in KEYS]
    here = str(Path(__file__).parent)
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", CHILD, here], capture_output=True, text=True,
                             env=env, check=True, timeout=120).stdout
        assert json.loads(out) == mine


def test_two_ramps_on_one_stream_are_refused(case: Case) -> None:
    fleet, ramp = case
    other = attrs.evolve(ramp, name="again")
    with pytest.raises(ValidationError, match="more than one ramp"):
        route(fleet, "acme", "news", "a@b.c", DAY, ramps=[ramp, other])

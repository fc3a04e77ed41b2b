"""``export``: canonical JSON whose checksum ``load_export`` verifies, refusing any change;
the definition read back routes every key to the side ``route`` does, on every day."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rampcase import SALT, ramp_of

from espkit.errors import ValidationError
from espkit.ramp import (
    RampState,
    RoutingKey,
    advance,
    export,
    hold,
    load_export,
    rollback,
    route,
)
from espkit.ramp.export import timeline

FLEET, RAMP = ramp_of()
START = RAMP.start


def decided() -> RampState:
    state = advance(RAMP, RampState(), date(2026, 3, 4), stats_rows=[])
    state = advance(RAMP, state, date(2026, 3, 5), stats_rows=[])
    state = hold(RAMP, state, date(2026, 3, 6), note="bounces")  # no share change
    return rollback(RAMP, state, date(2026, 3, 8))


def test_the_export_is_canonical_json_with_its_checksum() -> None:
    text = export(RAMP, decided())
    assert text.endswith("\n")
    assert text.count("\n") == 1
    data = json.loads(text)
    given_sum = data.pop("checksum")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert given_sum == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert text == json.dumps({**data, "checksum": given_sum}, sort_keys=True,
                              separators=(",", ":"), ensure_ascii=True) + "\n"
    assert data["salt"] == SALT  # the one place the salt is written: a sender needs it
    assert data["shares"] == [{"from": "2026-03-02", "share_ppm": 10_000},
                              {"from": "2026-03-04", "share_ppm": 50_000},
                              {"from": "2026-03-05", "share_ppm": 250_000},
                              {"from": "2026-03-08", "share_ppm": 50_000}]
    assert (data["ramp"], data["from"], data["to"], data["key"], data["streams"]) == (
        "move", "old", "new", "recipient", {"news": "news-new"})


def test_the_same_ramp_and_state_export_the_same_bytes() -> None:
    assert export(RAMP, decided()) == export(RAMP, decided())
    assert export(RAMP) != export(RAMP, decided())
    assert timeline(RAMP, None) == ((START, 10_000),)


def test_load_export_reads_back_what_was_written() -> None:
    definition = load_export(export(RAMP, decided()))
    assert (definition.ramp, definition.key, definition.streams) == (
        "move", RoutingKey.RECIPIENT, (("news", "news-new"),))
    assert definition.salt.reveal() == SALT
    assert SALT not in repr(definition)
    assert definition.share_on(date(2026, 3, 1)) == 0
    assert definition.share_on(date(2026, 3, 2)) == 10_000
    assert definition.share_on(date(2026, 3, 7)) == 250_000
    assert definition.share_on(date(2026, 3, 8)) == 50_000


@settings(max_examples=25, deadline=None)
@given(key=st.text(min_size=1, max_size=30).filter(lambda k: k.strip() != ""),
       days=st.integers(-1, 10))
def test_the_definition_routes_as_route_does(key: str, days: int) -> None:
    state = decided()
    definition = load_export(export(RAMP, state))
    on = START + timedelta(days=days)
    try:
        expected = route(FLEET, "acme", "news", key, on, state, ramps=[RAMP]).side
    except ValidationError:
        with pytest.raises(ValidationError):
            definition.new_side("news", key, on)
        return
    assert definition.new_side("news", key, on) == (expected == "new")


def tampered(text: str, change: dict[str, object]) -> str:
    data = json.loads(text)
    data.update(change)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("change", [
    {"salt": SALT + "x"},
    {"shares": [{"from": "2026-03-02", "share_ppm": 10_001}]},
    {"streams": {"news": "mail"}},
    {"key": "customer"},
    {"ramp": "move2"},
    {"checksum": "sha256:" + "0" * 64},
])
def test_any_change_fails_the_checksum(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="checksum"):
        load_export(tampered(export(RAMP, decided()), change))


def test_a_one_character_change_is_caught() -> None:
    text = export(RAMP, decided())
    at = text.index('"share_ppm":50000') + len('"share_ppm":5')
    with pytest.raises(ValidationError, match="checksum"):
        load_export(text[:at] + "1" + text[at + 1:])
    assert load_export(text).checksum == json.loads(text)["checksum"]


@pytest.mark.parametrize("text", ["", "[]", "{", '{"checksum": 1}', '{"a": NaN}',
                                  '{"a": 1, "a": 2}', "[" * 100_000, "x" * 2_000_000])
def test_what_is_not_an_export_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        load_export(text)


def test_a_consistent_definition_with_bad_fields_is_refused() -> None:
    """A checksum recomputed over bad fields passes the checksum, not the field checks."""
    from espkit.ramp.export import FORMAT

    good = json.loads(export(RAMP))
    del good["checksum"]
    for change in ({"format": "other/1"}, {"algorithm": {}}, {"key": "nope"},
                   {"shares": [{"from": "2026-03-02", "share_ppm": 2_000_000}]},
                   {"shares": [{"from": "2026-03-03", "share_ppm": 1},
                               {"from": "2026-03-02", "share_ppm": 2}]},
                   {"salt": "short"}, {"streams": {}}, {"ramp": "bad name"}):
        body = {**good, **change}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        body["checksum"] = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
        with pytest.raises(ValidationError):
            load_export(json.dumps(body))
    assert good["format"] == FORMAT


def test_a_customer_keyed_definition_needs_the_customer() -> None:
    by_customer = attrs.evolve(RAMP, key=RoutingKey.CUSTOMER)
    definition = load_export(export(by_customer))
    with pytest.raises(ValidationError, match="customer"):
        definition.new_side("news", "a@b.c", START)
    side = route(FLEET, "acme", "news", "a@b.c", START, ramps=[by_customer]).side
    assert definition.new_side("news", "ignored", START, customer="acme") == (side == "new")
    with pytest.raises(ValidationError, match="not moved"):
        definition.new_side("mail", "a@b.c", START)

"""A ProtocolError's own message may quote the answer it refuses (a key espkit did not
expect): what reaches the message is scrubbed of control characters and of the request's
credentials, and bounded, like the excerpt beside it."""

from __future__ import annotations

from typing import Any

import pytest
import responses

import espkit

G = "https://api.sendgrid.com"
KEY = "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789abcdefghijklmnopqrstuvwxyzAB"
NAME = "mail.example.com"


def answer_with_dns_key(key: str) -> dict[str, Any]:
    return {"id": 1, "domain": NAME, "valid": False, "dns": {key: True}}


@pytest.mark.parametrize("key", ["\x1f", "\x1b[31mred\x1b[0m", "\u202eevil", KEY, "k" * 5000])
@responses.activate
def test_a_hostile_key_in_the_answer_does_not_reach_the_message_raw(
        sleeps: list[float], key: str) -> None:
    responses.add("GET", f"{G}/v3/whitelabel/domains", json=[answer_with_dns_key(key)])
    acct = espkit.connect("sendgrid", api_key=KEY)
    with pytest.raises(espkit.ProtocolError) as info:
        acct.domains.get(NAME)
    text = str(info.value)
    assert "dns." in text                                # it still says where
    assert all(c.isprintable() for c in text)
    assert KEY not in text
    assert len(text) < 2000

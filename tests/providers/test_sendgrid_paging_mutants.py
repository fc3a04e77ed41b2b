"""SendGrid's limit/offset listing (``SendGridProvider._pages``) pinned where mutation testing
found it loose: a listing answer that is not an array is refused (never read as an empty,
finished listing) with an error naming the answer and the request, and a listing page that
fails with a 5xx is retried as the GET it is."""

from __future__ import annotations

import pytest
import responses

import espkit
from espkit.errors import ProtocolError

KEY = "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789abcdefghijklmnopqrstuvwxyzAB"
DOMAINS = "https://api.sendgrid.com/v3/whitelabel/domains"


pytestmark = pytest.mark.usefixtures("wire")


@pytest.fixture
def acct(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("sendgrid", api_key=KEY, region="global")


@pytest.mark.parametrize(("body", "kind"), [({}, "an object"), ({"result": []}, "an object"),
                                            ("domains", "a string"), (7, "a number"),
                                            (None, "missing")])
def test_a_listing_that_is_not_an_array_is_refused_naming_the_answer_and_the_request(
        acct: espkit.Account, body: object, kind: str) -> None:
    if body is None:
        responses.add("GET", DOMAINS, body="null", content_type="application/json")
    else:
        responses.add("GET", DOMAINS, json=body)
    with pytest.raises(ProtocolError) as info:
        list(acct.domains.list())
    text = str(info.value)
    assert "unreadable answer: the answer " in text
    assert kind in text.split("unreadable answer: the answer ")[1].split(" (GET")[0] or \
        kind == "missing"
    assert f"(GET {DOMAINS}" in text
    assert len(responses.calls) == 1


def test_a_listing_page_that_fails_with_a_5xx_is_retried(acct: espkit.Account) -> None:
    responses.add("GET", DOMAINS, status=503, json={"errors": [{"message": "busy"}]})
    responses.add("GET", DOMAINS, json=[])
    assert list(acct.domains.list()) == []
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]

"""SparkPost's listings pinned where mutation testing found them loose.

``GET /subaccounts`` pages by cursor (``links.next``): a page that is not an object, has no
``results`` list, or carries a ``links``/``links.next`` of the wrong type is refused (never
read as an empty, finished listing) with an error that names the part at fault and the request
it answered, and a cursor that comes back twice is refused naming the listing. A listing page
that fails with a 5xx is retried as the GET it is, and the listing completes. Requests are
counted, so a listing that quietly stops early or re-sends fails."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import responses

import espkit
from espkit.errors import ProtocolError

KEY = "14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf"
US = "https://api.sparkpost.com/api/v1"
SUBS = f"{US}/subaccounts"
DOMAINS = f"{US}/sending-domains"


pytestmark = pytest.mark.usefixtures("wire")


@pytest.fixture
def acct(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("sparkpost", api_key=KEY, region="us")


def sub(n: int) -> dict[str, Any]:
    return {"id": n, "name": f"customer-{n}", "status": "active"}


def page(*ids: int, cursor: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"results": [sub(n) for n in ids], **extra}
    if cursor is not None:
        body["links"] = {"next": f"/api/v1/subaccounts?cursor={cursor}&per_page=100"}
    return body


def query(call: Any) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(call.request.url).query))


def cursors() -> list[str | None]:
    """The ``cursor`` query parameter of each request sent, in order."""
    return [query(c).get("cursor") for c in responses.calls]


def refused(acct: espkit.Account) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        list(acct.subaccounts.list())
    return info.value


def assert_names_the_page_request(err: ProtocolError) -> None:
    """The error names the GET it answered (a read: nothing may have been applied)."""
    assert err.provider == "sparkpost"
    assert err.method == "GET"
    assert err.url == SUBS
    assert err.status == 200
    assert err.maybe_applied is False


# -- the page itself -----------------------------------------------------------------------


@pytest.mark.parametrize(("body", "kind"), [
    ([], "a list"), ([sub(1)], "a list"), ("results", "a string"), (7, "a number"),
    (True, "a boolean"), (None, "null"),
])
def test_a_page_that_is_not_an_object_is_refused_naming_the_answer(
        acct: espkit.Account, body: object, kind: str) -> None:
    if body is None:
        responses.add("GET", SUBS, body="null", content_type="application/json")
    else:
        responses.add("GET", SUBS, json=body)
    err = refused(acct)
    assert err.message == f"the answer is {kind}, not an object"
    assert_names_the_page_request(err)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("body", "kind"), [
    ({}, "null"), ({"results": None}, "null"), ({"links": {}}, "null"),
    ({"results": {}}, "an object"), ({"results": "[]"}, "a string"),
    ({"results": 0}, "a number"),
])
def test_a_page_without_a_results_list_is_refused_not_read_as_the_end(
        acct: espkit.Account, body: dict[str, Any], kind: str) -> None:
    # a missing or null "results" is no listing: read as [] it would end every listing early
    responses.add("GET", SUBS, json=body)
    err = refused(acct)
    assert err.message == f"results is {kind}, not a list"
    assert_names_the_page_request(err)
    assert len(responses.calls) == 1


def test_a_results_item_that_is_not_an_object_is_refused_naming_its_index(
        acct: espkit.Account) -> None:
    responses.add("GET", SUBS, json={"results": [sub(1), "2"]})
    err = refused(acct)
    assert err.message == "results[1] is a string, not an object"
    assert_names_the_page_request(err)


def test_an_empty_results_list_is_an_empty_listing(acct: espkit.Account) -> None:
    # the other side of the boundary: [] (and no links) is a listing that is over
    responses.add("GET", SUBS, json={"results": []})
    assert list(acct.subaccounts.list()) == []
    assert cursors() == ["initial"]


@pytest.mark.parametrize(("links", "kind"), [
    ([], "a list"), ("/api/v1/subaccounts?cursor=x", "a string"), (1, "a number"),
    (False, "a boolean"),
])
def test_links_that_are_not_an_object_are_refused_naming_links(
        acct: espkit.Account, links: object, kind: str) -> None:
    responses.add("GET", SUBS, json=page(1, links=links))
    err = refused(acct)
    assert err.message == f"links is {kind}, not an object"
    assert_names_the_page_request(err)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(("nxt", "kind"), [
    (5, "a number"), ({"cursor": "x"}, "an object"), (["x"], "a list"), (True, "a boolean"),
])
def test_a_next_link_that_is_not_a_string_is_refused_naming_links_next(
        acct: espkit.Account, nxt: object, kind: str) -> None:
    responses.add("GET", SUBS, json=page(1, links={"next": nxt}))
    err = refused(acct)
    assert err.message == f"links.next is {kind}, not a string"
    assert_names_the_page_request(err)
    assert len(responses.calls) == 1


@pytest.mark.parametrize("links", [None, {}, {"next": None}, {"next": ""}])
def test_no_next_link_ends_the_listing(acct: espkit.Account, links: object) -> None:
    # missing or null links / next are the documented last page, not an error
    responses.add("GET", SUBS, json=page(1, 2, links=links))
    assert [s.id for s in acct.subaccounts.list()] == ["1", "2"]
    assert len(responses.calls) == 1


# -- following the cursor ------------------------------------------------------------------


def test_the_cursor_is_followed_until_a_page_names_no_next(acct: espkit.Account) -> None:
    responses.add("GET", SUBS, json=page(1, 2, cursor="c2"))
    responses.add("GET", SUBS, json=page(3, cursor="c3"))
    responses.add("GET", SUBS, json=page(4))
    assert [s.id for s in acct.subaccounts.list()] == ["1", "2", "3", "4"]
    assert cursors() == ["initial", "c2", "c3"]
    assert [query(c).get("per_page") for c in responses.calls] == ["100"] * 3


def test_a_cursor_named_twice_is_refused_naming_the_listing(acct: espkit.Account) -> None:
    responses.add("GET", SUBS, json=page(1, cursor="c2"))
    responses.add("GET", SUBS, json=page(2, cursor="c2"))
    listed = acct.subaccounts.list()
    got: list[str] = []
    with pytest.raises(ProtocolError) as info:
        got.extend(s.id for s in listed)
    assert got == ["1", "2"]  # what came before the loop was still delivered
    err = info.value
    assert err.message == ("page 2 named a next cursor already followed: the listing "
                           "would loop")
    assert err.provider == "sparkpost"
    assert err.method == "GET"
    assert err.url == SUBS
    assert err.maybe_applied is False
    assert cursors() == ["initial", "c2"]  # the repeated cursor is not requested again


def test_a_5xx_on_a_later_page_is_retried_and_the_listing_completes(
        acct: espkit.Account, sleeps: list[float]) -> None:
    responses.add("GET", SUBS, json=page(1, cursor="c2"))
    responses.add("GET", SUBS, status=503, json={"errors": [{"message": "busy"}]})
    responses.add("GET", SUBS, json=page(2))
    assert [s.id for s in acct.subaccounts.list()] == ["1", "2"]
    assert [c.request.method for c in responses.calls] == ["GET"] * 3
    assert cursors() == ["initial", "c2", "c2"]  # the failed page, asked for again
    assert sleeps  # after a backoff


# -- sending domains (one unpaginated GET) ---------------------------------------------------


def test_the_domain_listing_is_one_get_retried_on_a_5xx_and_carries_no_records(
        acct: espkit.Account, sleeps: list[float]) -> None:
    responses.add("GET", DOMAINS, status=502, json={"errors": [{"message": "bad gateway"}]})
    responses.add("GET", DOMAINS, json={"results": [
        {"domain": "mail.example1.com", "status": {"ownership_verified": True},
         "dkim": {"public": "MIGfMA0", "selector": "s1"}}]})
    listed = list(acct.domains.list())
    assert [(d.name, d.verified, d.dns_records) for d in listed] == [
        ("mail.example1.com", True, ())]
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]

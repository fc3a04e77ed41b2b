"""Every listing ends: at the right request when the ESP is honest, with a ``ProtocolError``
when it is not (a page that brings nothing new, a cursor seen before, no end in sight).

Both sides of each stop are pinned by counting requests: a listing of exactly N full pages
takes N requests when the ESP reports a total and N + 1 when it does not (the last one empty);
one more item takes one more request (a short page); a server that ignores the offset is
caught on its second page, a repeated cursor at its repetition, and ``MAX_PAGES`` pages is
allowed while one more is not.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
import responses
from botocore.stub import ANY, Stubber
from support.mailgun_mocks import domain_info, subaccount

import espkit
from espkit.errors import ProtocolError
from espkit.providers import paging
from espkit.providers.paging import Page, cursor_pages, offset_pages
from espkit.providers.payload import Source
from espkit.sandbox import BASE_URL as SANDBOX_URL

MG = "https://api.mailgun.net"
SG = "https://api.sendgrid.com"
PM = "https://api.postmarkapp.com"
SP = "https://api.sparkpost.com/api/v1"
SOURCE = Source("test", "GET", "https://esp.example/list")


pytestmark = pytest.mark.usefixtures("wire")


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url or "").query))


def names(count: int) -> list[str]:
    return [f"d{n}.example.com" for n in range(count)]


# -- the loops themselves ----------------------------------------------------------------------


class Server:
    """An offset-paged listing of ``items`` that counts its requests."""

    def __init__(self, items: list[int], *, total: int | None = None,
                 ignore_offset: bool = False) -> None:
        self.items, self.total, self.ignore_offset = items, total, ignore_offset
        self.requests = 0

    def __call__(self, limit: int, offset: int) -> Page[int]:
        self.requests += 1
        start = 0 if self.ignore_offset else offset
        return Page(self.items[start:start + limit], self.total)


@pytest.mark.parametrize(("count", "total", "requests"), [
    (6, 6, 3),       # three full pages and the total reached: no fourth request
    (6, None, 4),    # no total: the fourth, empty page ends it
    (7, None, 4),    # a short fourth page ends it
    (7, 7, 4),
    (5, 5, 3),
    (0, None, 1),
    (0, 0, 1),
    (6, 99, 4),      # a total never reached: the empty page still ends it
    (6, 2, 1),       # a total reached early ends it there
])
def test_offset_pages_stop_at_a_short_page_or_the_total(count: int, total: int | None,
                                                        requests: int) -> None:
    server = Server(list(range(count)), total=total)
    got = list(offset_pages(server, 2, lambda i: i, SOURCE))
    assert got == list(range(min(count, total if total is not None else count)))
    assert server.requests == requests


def test_a_server_ignoring_the_offset_is_caught_on_its_second_page(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)  # without the check: a failure, not a hang
    server = Server(list(range(10)), ignore_offset=True)
    items = offset_pages(server, 2, lambda i: i, SOURCE)
    assert [next(items), next(items)] == [0, 1]
    with pytest.raises(ProtocolError, match="brought nothing new") as caught:
        next(items)
    assert server.requests == 2
    assert caught.value.provider == "test"
    assert caught.value.url == SOURCE.url


def test_a_short_page_of_repeats_is_a_delete_at_the_end_not_a_loop() -> None:
    pages = iter([Page([1, 2]), Page([2])])  # a delete shifted the last item back
    assert list(offset_pages(lambda _l, _o: next(pages), 2, lambda i: i, SOURCE)) == [1, 2]


def test_a_page_with_one_new_item_goes_on() -> None:
    pages = iter([Page([1, 2]), Page([2, 3]), Page([])])  # a create shifted the list
    assert list(offset_pages(lambda _l, _o: next(pages), 2, lambda i: i, SOURCE)) == [1, 2, 3]


def test_only_the_last_two_pages_are_remembered() -> None:
    """Repeats come from just before: an item of three pages back is new again (memory stays
    flat however long the listing)."""
    pages = iter([Page([1, 2]), Page([3, 4]), Page([5, 6]), Page([1])])
    got = list(offset_pages(lambda _l, _o: next(pages), 2, lambda i: i, SOURCE))
    assert got == [1, 2, 3, 4, 5, 6, 1]


@pytest.mark.parametrize(("cap", "fails"), [(4, False), (3, True)])
def test_offset_pages_allow_max_pages_and_no_more(cap: int, fails: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", cap)
    server = Server(list(range(6)))  # 3 full pages and the empty one: 4 requests
    if fails:
        with pytest.raises(ProtocolError, match="after 3 pages"):
            list(offset_pages(server, 2, lambda i: i, SOURCE))
        assert server.requests == 3
    else:
        assert len(list(offset_pages(server, 2, lambda i: i, SOURCE))) == 6
        assert server.requests == 4


def cursors(*pages: tuple[list[int], str | None]) -> tuple[Callable[[str | None], Page[int]],
                                                           list[str | None]]:
    asked: list[str | None] = []
    it = iter(pages)

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        items, nxt = next(it)
        return Page(items, cursor=nxt)

    return fetch, asked


def test_cursor_pages_follow_the_cursor_until_there_is_none() -> None:
    fetch, asked = cursors(([1], "a"), ([2], "b"), ([], "c"), ([3], None))
    assert list(cursor_pages(fetch, SOURCE)) == [1, 2, 3]
    assert asked == [None, "a", "b", "c"]  # an empty page with a cursor is not the end


@pytest.mark.parametrize("pages", [
    [([1], "a"), ([2], "a")],               # the same cursor again
    [([1], "a"), ([2], "b"), ([3], "a")],   # a cycle
])
def test_a_cursor_seen_before_is_a_protocol_error(pages: list[tuple[list[int], str]]) -> None:
    fetch, asked = cursors(*pages)
    with pytest.raises(ProtocolError, match="already followed"):
        list(cursor_pages(fetch, SOURCE))
    assert len(asked) == len(pages)


@pytest.mark.parametrize(("cap", "fails"), [(3, False), (2, True)])
def test_cursor_pages_allow_max_pages_and_no_more(cap: int, fails: bool,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", cap)
    fetch, asked = cursors(([1], "a"), ([2], "b"), ([3], None))
    if fails:
        with pytest.raises(ProtocolError, match="after 2 pages"):
            list(cursor_pages(fetch, SOURCE))
        assert asked == [None, "a"]
    else:
        assert list(cursor_pages(fetch, SOURCE)) == [1, 2, 3]


# -- each provider's listings, counted on the wire -------------------------------------------------


def offset_server(url: str, items: list[Any], *, limit: str, offset: str,
                  wrap: Callable[[list[Any], int], Any], ignore_offset: bool = False) -> None:
    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        q = query(request)
        size, start = int(q[limit]), 0 if ignore_offset else int(q[offset])
        return 200, {}, json.dumps(wrap(items[start:start + size], len(items)))

    responses.add_callback("GET", url, callback=callback)


def sent(url: str) -> int:
    return sum(c.request.url is not None and c.request.url.split("?")[0] == url
               for c in responses.calls)


def mailgun(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("mailgun", api_key="key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
                          region="us")


@pytest.mark.parametrize(("count", "with_total", "requests"), [
    (6, True, 3), (6, False, 4), (7, True, 4), (7, False, 4), (1, True, 1), (0, False, 1),
])
def test_mailgun_domains_page_by_skip_and_limit(count: int, with_total: bool, requests: int,
                                                sleeps: list[float]) -> None:
    def page(items: list[str], total: int) -> Any:
        body: dict[str, Any] = {"items": [domain_info(n) for n in items]}
        if with_total:
            body["total_count"] = total
        return body

    offset_server(f"{MG}/v4/domains", names(count), limit="limit", offset="skip", wrap=page)
    listed = [d.name for d in mailgun(sleeps).domains.list(page_size=2)]
    assert listed == names(count)
    assert sent(f"{MG}/v4/domains") == requests


def test_mailgun_ignoring_skip_is_caught_on_the_second_page(
        sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)
    offset_server(f"{MG}/v4/domains", names(9), limit="limit", offset="skip",
                  wrap=lambda items, total: {"items": [domain_info(n) for n in items],
                                             "total_count": 10**6}, ignore_offset=True)
    with pytest.raises(ProtocolError, match="brought nothing new"):
        list(mailgun(sleeps).domains.list(page_size=2))
    assert sent(f"{MG}/v4/domains") == 2


def test_mailgun_subaccounts_page_by_a_thousand(sleeps: list[float]) -> None:
    subs = [subaccount(f"s{n}", f"customer-{n}") for n in range(2000)]
    offset_server(f"{MG}/v5/accounts/subaccounts", subs, limit="limit", offset="skip",
                  wrap=lambda items, total: {"subaccounts": items, "total": total})
    assert len(list(mailgun(sleeps).subaccounts.list())) == 2000
    assert sent(f"{MG}/v5/accounts/subaccounts") == 2  # the total ends it, no third request


def sg_domain(name: str, ident: int) -> dict[str, Any]:
    return {"domain": name, "id": ident, "valid": False, "dns": {}}


@pytest.mark.parametrize(("count", "requests"), [(6, 4), (7, 4), (5, 3), (0, 1)])
def test_sendgrid_pages_by_limit_and_offset_until_a_short_page(
        count: int, requests: int, sleeps: list[float]) -> None:
    items = [sg_domain(n, i + 1) for i, n in enumerate(names(count))]
    offset_server(f"{SG}/v3/whitelabel/domains", items, limit="limit", offset="offset",
                  wrap=lambda page, total: page)
    acct = espkit.connect("sendgrid", api_key="SG.test.0123456789abcdefghijklmnop")
    assert [d.name for d in acct.domains.list(page_size=2)] == names(count)
    assert sent(f"{SG}/v3/whitelabel/domains") == requests


def test_sendgrid_ignoring_offset_is_caught_on_the_second_page(
        sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)
    items = [sg_domain(n, i + 1) for i, n in enumerate(names(9))]
    offset_server(f"{SG}/v3/whitelabel/domains", items, limit="limit", offset="offset",
                  wrap=lambda page, total: page, ignore_offset=True)
    acct = espkit.connect("sendgrid", api_key="SG.test.0123456789abcdefghijklmnop")
    with pytest.raises(ProtocolError, match="brought nothing new"):
        list(acct.domains.list(page_size=2))
    assert sent(f"{SG}/v3/whitelabel/domains") == 2


@pytest.mark.parametrize(("count", "with_total", "requests"), [
    (6, True, 3), (6, False, 4), (7, True, 4), (0, True, 1),
])
def test_postmark_pages_by_count_and_offset(count: int, with_total: bool, requests: int,
                                            sleeps: list[float]) -> None:
    def page(items: list[dict[str, Any]], total: int) -> Any:
        return {"Domains": items, **({"TotalCount": total} if with_total else {})}

    items = [{"ID": i + 1, "Name": n} for i, n in enumerate(names(count))]
    offset_server(f"{PM}/domains", items, limit="count", offset="offset", wrap=page)
    acct = espkit.connect("postmark", api_key="b7c1a2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d")
    assert [d.name for d in acct.domains.list(page_size=2)] == names(count)
    assert sent(f"{PM}/domains") == requests


def test_postmark_ignoring_offset_is_caught_on_the_second_page(
        sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", 50)
    items = [{"ID": i + 1, "Name": n} for i, n in enumerate(names(9))]
    offset_server(f"{PM}/domains", items, limit="count", offset="offset",
                  wrap=lambda page, total: {"Domains": page, "TotalCount": 10**6},
                  ignore_offset=True)
    acct = espkit.connect("postmark", api_key="b7c1a2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d")
    with pytest.raises(ProtocolError, match="brought nothing new"):
        list(acct.domains.list(page_size=2))
    assert sent(f"{PM}/domains") == 2


def sparkpost_pages(*pages: tuple[list[int], str | None]) -> None:
    """GET /subaccounts answering ``pages`` in turn (each: ids, the next cursor)."""
    it = iter(pages)

    def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        ids, nxt = next(it)
        links = {"next": f"/api/v1/subaccounts?cursor={nxt}&per_page=100"} if nxt else {}
        return 200, {}, json.dumps({"results": [{"id": i, "name": f"s{i}", "status": "active"}
                                                for i in ids], "links": links})

    responses.add_callback("GET", f"{SP}/subaccounts", callback=callback)


def sparkpost() -> espkit.Account:
    return espkit.connect("sparkpost", api_key="14ac5499cfdd2bb2859e4476d2e5b1d2bad079bf",
                          region="us")


def test_sparkpost_follows_links_next_until_there_is_none(sleeps: list[float]) -> None:
    sparkpost_pages(([1, 2], "c2"), ([3], "c3"), ([4], None))
    assert [s.id for s in sparkpost().subaccounts.list()] == ["1", "2", "3", "4"]
    cursors_sent = [query(c.request)["cursor"] for c in responses.calls]
    assert cursors_sent == ["initial", "c2", "c3"]


@pytest.mark.parametrize("pages", [
    [([1], "c2"), ([2], "c2")],                 # the same cursor again
    [([1], "c2"), ([2], "c3"), ([3], "c2")],    # a cycle
])
def test_sparkpost_repeated_cursor_is_a_protocol_error(pages: list[tuple[list[int], str]],
                                                       sleeps: list[float]) -> None:
    sparkpost_pages(*pages, ([99], None))
    with pytest.raises(ProtocolError, match="already followed"):
        list(sparkpost().subaccounts.list())
    assert len(responses.calls) == len(pages)


@pytest.fixture
def ses() -> Iterator[tuple[espkit.Account, Stubber]]:
    session = boto3.Session(aws_access_key_id="AKIAPAGING0000000000",
                            aws_secret_access_key="paging-secret", region_name="eu-west-1")
    acct = espkit.connect("ses", session=session)
    with Stubber(acct.provider.client) as stub:  # type: ignore[attr-defined]
        yield acct, stub


def ses_page(stub: Stubber, ips: list[str], token: str | None, asked: str | None) -> None:
    body: dict[str, Any] = {"DedicatedIps": [{"Ip": ip, "WarmupStatus": "DONE",
                                              "WarmupPercentage": 100} for ip in ips]}
    if token:
        body["NextToken"] = token
    params: dict[str, Any] = {"PageSize": ANY}
    if asked:
        params["NextToken"] = asked
    stub.add_response("get_dedicated_ips", body, params)


def test_ses_follows_next_token_until_there_is_none(
        ses: tuple[espkit.Account, Stubber]) -> None:
    acct, stub = ses
    ses_page(stub, ["198.51.100.1"], "t1", None)
    ses_page(stub, [], "t2", "t1")
    ses_page(stub, ["198.51.100.2"], None, "t2")
    assert [i.address for i in acct.ips.list()] == ["198.51.100.1", "198.51.100.2"]
    stub.assert_no_pending_responses()


def test_ses_repeated_next_token_is_a_protocol_error(
        ses: tuple[espkit.Account, Stubber]) -> None:
    acct, stub = ses
    ses_page(stub, ["198.51.100.1"], "t1", None)
    ses_page(stub, ["198.51.100.2"], "t1", "t1")
    with pytest.raises(ProtocolError, match="already followed"):
        list(acct.ips.list())
    stub.assert_no_pending_responses()  # exactly the two pages were asked for


class SandboxPages(requests.adapters.BaseAdapter):
    """Answers the sandbox's ``GET /v1/domains`` with ``pages`` in turn."""

    def __init__(self, pages: list[tuple[list[str], str | None]]) -> None:
        super().__init__()
        self.pages, self.cursors = iter(pages), []  # type: ignore[var-annotated]

    def send(self, request: requests.PreparedRequest, *_: Any, **__: Any) -> requests.Response:
        self.cursors.append(query(request).get("cursor"))
        items, nxt = next(self.pages)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"items": [
            {"name": n, "state": "unverified", "records": []} for n in items],
            "next_cursor": nxt}).encode()
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("pages", "fails"), [
    ([(["a.example.com"], "x"), (["b.example.com"], None)], False),
    ([(["a.example.com"], "x"), (["b.example.com"], "x")], True),
])
def test_sandbox_listing_follows_next_cursor_and_refuses_a_repeat(
        pages: list[tuple[list[str], str | None]], fails: bool) -> None:
    acct = espkit.connect("sandbox", path=":memory:")
    adapter = SandboxPages(pages)
    acct.provider.transport.session.mount(SANDBOX_URL, adapter)  # type: ignore[attr-defined]
    if fails:
        with pytest.raises(ProtocolError, match="already followed"):
            list(acct.domains.list())
    else:
        assert [d.name for d in acct.domains.list()] == ["a.example.com", "b.example.com"]
    assert adapter.cursors == [None, "x"]

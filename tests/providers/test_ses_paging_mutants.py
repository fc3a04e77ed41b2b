"""SES's NextToken listing (``SesProvider._pages``, ``list_domains``) pinned where mutation
testing found it loose.

A page whose ``EmailIdentities`` is not a list, whose ``NextToken`` is not a string, or whose
items are not objects or name no domain, is refused with an error naming the key at fault (and
what it was); a token that comes back twice is refused naming the provider, the operation and
the endpoint; a page that fails with a 5xx is retried as the read it is and the listing
completes; list items keep their verification status and raw answer; ``page_size`` is capped
at SES's 1000. Answers are served by ``SesFake.answer_next`` (as botocore would have parsed
them: the provider sees the values as given); requests are counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.fakes.ses import REGION, SesFake

import espkit
from espkit.errors import ProtocolError
from espkit.models import DomainState

OP = "ListEmailIdentities"
ENDPOINT = f"https://email.{REGION}.amazonaws.com"


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SesFake]:
    with SesFake() as f:
        yield f


@pytest.fixture
def acct(fake: SesFake) -> espkit.Account:
    account: espkit.Account = fake.connect()
    return account


def ident(name: str, status: str = "PENDING", kind: str = "DOMAIN") -> dict[str, Any]:
    return {"IdentityType": kind, "IdentityName": name, "SendingEnabled": True,
            "VerificationStatus": status}


def listed(fake: SesFake) -> list[dict[str, Any]]:
    """The parameters of each ListEmailIdentities request that reached the fake."""
    return [p for op, p in fake.params if op == OP]


def refused(acct: espkit.Account, page_size: int | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        list(acct.domains.list(page_size=page_size))
    return info.value


def assert_a_read(err: ProtocolError) -> None:
    """The error names the listing call, a read: nothing may have been applied."""
    assert err.provider == "ses"
    assert err.method == OP
    assert err.url == ENDPOINT
    assert err.maybe_applied is False


# -- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "kind"), [
    ({"EmailIdentities": {"IdentityName": "a.example"}}, "an object"),
    ({"EmailIdentities": "a.example"}, "a string"),
    ({"EmailIdentities": 3}, "a number"),
    ({"EmailIdentities": False}, "a boolean"),
    ({"EmailIdentities": None}, "null"),
    ({}, "null"),
    ({"NextToken": "t2"}, "null"),
])
def test_identities_that_are_not_a_list_are_refused_saying_what_they_are(
        fake: SesFake, acct: espkit.Account, body: dict[str, Any], kind: str) -> None:
    fake.answer_next(OP, body)
    err = refused(acct)
    assert err.message == f"EmailIdentities is {kind}, not a list"
    assert_a_read(err)
    assert fake.sent("*", OP) == 1  # refused, not followed to a next page


@pytest.mark.parametrize(("token", "kind"), [
    (5, "a number"), (["t2"], "a list"), ({"t": 2}, "an object"), (True, "a boolean"),
])
def test_a_next_token_that_is_not_a_string_is_refused_naming_next_token(
        fake: SesFake, acct: espkit.Account, token: object, kind: str) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": token})
    err = refused(acct)
    assert err.message == f"NextToken is {kind}, not a string"
    assert_a_read(err)
    assert fake.sent("*", OP) == 1


@pytest.mark.parametrize("token", [None, ""])
def test_no_next_token_ends_the_listing(fake: SesFake, acct: espkit.Account,
                                        token: str | None) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": token})
    assert [d.name for d in acct.domains.list()] == ["a.example"]
    assert fake.sent("*", OP) == 1


def test_the_token_is_followed_until_a_page_names_none(fake: SesFake,
                                                      acct: espkit.Account) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": "t2"})
    fake.answer_next(OP, {"EmailIdentities": [], "NextToken": "t3"})
    fake.answer_next(OP, {"EmailIdentities": [ident("b.example")]})
    assert [d.name for d in acct.domains.list()] == ["a.example", "b.example"]
    assert [p.get("NextToken") for p in listed(fake)] == [None, "t2", "t3"]


def test_a_token_named_twice_is_refused_naming_the_listing(fake: SesFake,
                                                           acct: espkit.Account) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": "t2"})
    fake.answer_next(OP, {"EmailIdentities": [ident("b.example")], "NextToken": "t2"})
    got: list[str] = []
    with pytest.raises(ProtocolError) as info:
        got.extend(d.name for d in acct.domains.list())
    assert got == ["a.example", "b.example"]
    err = info.value
    assert err.message == ("page 2 named a next cursor already followed: the listing "
                           "would loop")
    assert_a_read(err)
    assert err.status is None  # the loop is the listing's, not one answer's
    assert [p.get("NextToken") for p in listed(fake)] == [None, "t2"]


def test_a_5xx_on_a_later_page_is_retried_and_the_listing_completes(
        fake: SesFake, acct: espkit.Account, sleeps: list[float]) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": "t2"})
    fake.answer_next(OP, {"EmailIdentities": [ident("b.example")]})
    listing = acct.domains.list()
    assert next(listing).name == "a.example"
    fake.fail_next("503", "*", OP)
    assert [d.name for d in listing] == ["b.example"]
    assert fake.sent("*", OP) == 3  # page 1, page 2 failed, page 2 again
    assert [p.get("NextToken") for p in listed(fake)] == [None, "t2"]  # the 503 had none
    assert sleeps  # after a backoff


# -- the items -----------------------------------------------------------------------------


@pytest.mark.parametrize(("item", "kind"), [
    ("a.example", "a string"), (["a.example"], "a list"), (7, "a number"),
])
def test_an_item_that_is_not_an_object_is_refused_naming_the_items(
        fake: SesFake, acct: espkit.Account, item: object, kind: str) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example"), item]})
    err = refused(acct)
    assert err.message == f"EmailIdentities[] is {kind}, not an object"
    assert_a_read(err)


def test_null_items_and_address_identities_are_skipped(fake: SesFake,
                                                       acct: espkit.Account) -> None:
    fake.answer_next(OP, {"EmailIdentities": [
        None, ident("ops@a.example", kind="EMAIL_ADDRESS"), ident("b.example")]})
    assert [d.name for d in acct.domains.list()] == ["b.example"]


@pytest.mark.parametrize(("name", "message"), [
    (None, "IdentityName is null, not a non-empty string"),
    ("", "IdentityName is an empty string, not a non-empty string"),
    (42, "IdentityName is a number, not a non-empty string"),
    ("bad name.example", "IdentityName is not a domain name"),
    ("../x.example", "IdentityName is not a domain name"),
])
def test_a_domain_item_without_a_domain_name_is_refused_naming_identity_name(
        fake: SesFake, acct: espkit.Account, name: object, message: str) -> None:
    item = ident("placeholder.example")
    item["IdentityName"] = name
    fake.answer_next(OP, {"EmailIdentities": [item]})
    err = refused(acct)
    assert err.message == message
    assert_a_read(err)


@pytest.mark.parametrize(("status", "state"), [
    ("SUCCESS", DomainState.VERIFIED), ("FAILED", DomainState.FAILED),
    ("PENDING", DomainState.PENDING), ("TEMPORARY_FAILURE", DomainState.PENDING),
    ("NOT_STARTED", DomainState.PENDING), ("SOMETHING_NEW", DomainState.UNVERIFIED),
])
def test_a_listed_domain_keeps_its_verification_status_and_raw_answer(
        fake: SesFake, acct: espkit.Account, status: str, state: DomainState) -> None:
    item = ident("News.Acme.Example.", status)
    fake.answer_next(OP, {"EmailIdentities": [item]})
    [domain] = acct.domains.list()
    assert domain.name == "news.acme.example"
    assert domain.provider == "ses"
    assert domain.state is state
    assert domain.dns_records == ()  # list items carry no DKIM tokens
    assert dict(domain.raw) == item


# -- page size -----------------------------------------------------------------------------


@pytest.mark.parametrize(("asked", "sent"), [
    (None, None), (1, 1), (999, 999), (1000, 1000), (1001, 1000), (50_000, 1000),
])
def test_page_size_is_sent_capped_at_ses_maximum(fake: SesFake, acct: espkit.Account,
                                                 asked: int | None, sent: int | None) -> None:
    fake.answer_next(OP, {"EmailIdentities": [ident("a.example")], "NextToken": "t2"})
    fake.answer_next(OP, {"EmailIdentities": []})
    assert [d.name for d in acct.domains.list(page_size=asked)] == ["a.example"]
    assert [p.get("PageSize") for p in listed(fake)] == [sent, sent]  # on every page
    assert ("PageSize" in listed(fake)[0]) is (sent is not None)

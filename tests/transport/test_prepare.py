"""espkit's own request building (``transport.prepare``) against ``Session.prepare_request``:
the same method, URL, headers, body and auth for every shape of call the providers make,
and the usual way for a session that has cookies or default params."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from espkit.credentials import BasicAuth, HeaderAuth, Secret
from espkit.transport.prepare import prepare

URL = "https://api.example.test/v3/domains/news.acme.example"
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 =/+", max_size=20)
scalars = st.one_of(values, st.integers(-5, 5), st.booleans(), st.none())
json_bodies = st.one_of(st.none(), st.dictionaries(names, scalars, max_size=4),
                        st.lists(scalars, max_size=3))
forms = st.one_of(st.none(), st.lists(st.tuples(names, values), max_size=4),
                  st.dictionaries(names, values, max_size=4))
params = st.one_of(st.none(), st.dictionaries(names, values, max_size=3),
                   st.lists(st.tuples(names, values), max_size=3))
headers = st.one_of(st.none(), st.dictionaries(
    st.sampled_from(["X-Mailgun-On-Behalf-Of", "on-behalf-of", "Content-Type", "user-agent",
                     "Accept", "X-MSYS-SUBACCOUNT"]),
    st.one_of(values.filter(lambda v: v.strip() == v and v), st.none()), max_size=3))
auths = st.sampled_from([None, BasicAuth("api", Secret("key-123")),
                         HeaderAuth("Authorization", Secret("Bearer SG.xyz"))])


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "espkit/0.1"
    session.trust_env = False
    return session


def _same(a: requests.PreparedRequest, b: requests.PreparedRequest) -> None:
    assert a.method == b.method
    assert a.url == b.url
    assert dict(a.headers) == dict(b.headers)
    assert a.body == b.body
    assert a.hooks == b.hooks


@settings(max_examples=150, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), p=params,
       data=forms, body=json_bodies, h=headers, auth=auths)
def test_the_same_request_as_prepare_request(method: str, p: Any, data: Any, body: Any,
                                             h: Any, auth: Any) -> None:
    if data is not None and body is not None:
        body = None  # providers send one or the other
    session = _session()
    want = session.prepare_request(requests.Request(
        method, URL, params=p, data=data, json=body, headers=h, auth=auth))
    _same(prepare(session, method, URL, p, data, body, h, auth), want)


def test_a_header_set_to_none_is_dropped_and_the_request_wins_over_the_session() -> None:
    session = _session()
    session.headers["X-Default"] = "1"
    got = prepare(session, "GET", URL, None, None, None,
                  {"x-default": None, "USER-AGENT": "mine"}, None)  # type: ignore[dict-item]
    assert "X-Default" not in got.headers
    assert got.headers["User-Agent"] == "mine"
    assert list(got.headers).count("User-Agent") + list(got.headers).count("USER-AGENT") == 1


def test_the_sessions_auth_applies_when_the_call_gives_none() -> None:
    session = _session()
    session.auth = ("api", "key-9")
    got = prepare(session, "GET", URL, None, None, None, None, None)
    want = session.prepare_request(requests.Request("GET", URL))
    assert got.headers["Authorization"] == want.headers["Authorization"]


@pytest.mark.parametrize("setting", ["cookies", "params"])
def test_a_session_with_cookies_or_params_is_prepared_the_usual_way(setting: str) -> None:
    session = _session()
    if setting == "cookies":
        session.cookies.set("sticky", "1", domain="api.example.test")
    else:
        session.params = {"api_version": "2"}
    got = prepare(session, "GET", URL, None, None, None, None, None)
    if setting == "cookies":
        assert got.headers["Cookie"] == "sticky=1"
    else:
        assert got.url.endswith("?api_version=2")


def test_a_hook_on_the_session_still_runs() -> None:
    session = _session()
    seen: list[str] = []
    session.hooks["response"].append(lambda r, **kw: seen.append("x"))
    got = prepare(session, "GET", URL, None, None, None, None, None)
    assert got.hooks["response"] == session.hooks["response"]

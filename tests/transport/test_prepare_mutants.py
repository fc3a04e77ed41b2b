"""``transport.prepare`` for a session with cookies or default params (a caller's session):
prepared the usual way, every part of the call passed on (scripts/mutation.py prepare)."""

from __future__ import annotations

import requests

from espkit.credentials import BasicAuth, Secret
from espkit.transport.prepare import prepare

URL = "https://api.example.test/v3/domains/news.acme.example"


def _session(setting: str) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "espkit/0.1"
    session.trust_env = False
    if setting == "cookies":
        session.cookies.set("sticky", "1", domain="api.example.test")
    else:
        session.params = {"api_version": "2"}
    return session


def test_every_part_of_the_call_reaches_the_usual_way() -> None:
    for setting in ("cookies", "params"):
        session = _session(setting)
        auth = BasicAuth("api", Secret("key-123"))
        form = prepare(session, "PUT", URL, {"limit": "5"}, {"name": "x"}, None,
                       {"X-Mailgun-On-Behalf-Of": "sub-1"}, auth)
        want = session.prepare_request(requests.Request(
            "PUT", URL, params={"limit": "5"}, data={"name": "x"},
            headers={"X-Mailgun-On-Behalf-Of": "sub-1"}, auth=auth))
        assert form.method == "PUT"
        assert form.url == want.url
        assert "limit=5" in (form.url or "")
        assert form.body == want.body == "name=x"
        assert form.headers["X-Mailgun-On-Behalf-Of"] == "sub-1"
        assert form.headers["Authorization"] == want.headers["Authorization"]
        assert dict(form.headers) == dict(want.headers)
        body = prepare(session, "POST", URL, None, None, {"a": 1}, None, None)
        assert body.method == "POST"
        assert body.body == b'{"a": 1}'
        assert body.headers["Content-Type"] == "application/json"

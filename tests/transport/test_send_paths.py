"""Both ways a request leaves the transport reach the same place: espkit's own session (the
environment's proxies read once, when it was made) and a session the caller passes (requests
reads the environment itself, per call). A plain-HTTP proxy on loopback sees each request in
absolute form, so it shows the proxy was used, with the headers, auth and body unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from support.loopback import Quiet, serving

from espkit.credentials import HeaderAuth, Secret
from espkit.transport import RetryPolicy, Transport
from espkit.transport.ratelimit import RateLimiter

KEY = "sk-send-paths-0123456789"
seen: list[dict[str, str]] = []


class Proxy(Quiet):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        seen.append({"target": self.path, "auth": self.headers.get("Authorization", ""),
                     "agent": self.headers.get("User-Agent", ""), "body": body})
        self.reply(200)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    seen.clear()
    with serving(Proxy) as url:
        monkeypatch.setenv("HTTP_PROXY", url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield url


def transport(session: requests.Session | None = None) -> Transport:
    # esp.invalid never resolves: only the proxy can answer
    return Transport("pathesp", "http://esp.invalid", session=session,
                     auth=HeaderAuth("Authorization", Secret(KEY), "Bearer"),
                     retry=RetryPolicy(max_attempts=1), limiter=RateLimiter(None),
                     allow_insecure=True)


@pytest.mark.parametrize("own", [True, False], ids=["espkit's session", "caller's session"])
def test_each_session_goes_through_the_environments_proxy_unchanged(
        proxy: str, own: bool) -> None:
    caller = None if own else requests.Session()
    t = transport(caller)
    assert t.session.trust_env is (not own)
    answer = t.request("POST", "/v1/things", json={"name": "a"})
    assert answer.status == 200
    assert seen == [{"target": "http://esp.invalid/v1/things", "auth": f"Bearer {KEY}",
                     "agent": "espkit/0.1" if own else seen[0]["agent"],
                     "body": json.dumps({"name": "a"})}]

"""espkit's own sessions hand a request straight to the session's adapter (``prepare.send``):
what ``Session.send`` would add is checked here to be either kept or not wanted. A loopback
server answers with a cookie and a redirect; a session with a response hook (a caller's) still
goes through ``Session.send``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import requests.adapters
from support.loopback import Quiet, serving

from espkit.credentials import HeaderAuth, Secret
from espkit.errors import EspError
from espkit.transport import RetryPolicy, Transport
from espkit.transport.prepare import send
from espkit.transport.ratelimit import RateLimiter

KEY = "sk-send-direct-0123456789"
seen: list[dict[str, str]] = []


class Esp(Quiet):
    def do_GET(self) -> None:
        seen.append({"path": self.path, "cookie": self.headers.get("Cookie", ""),
                     "auth": self.headers.get("Authorization", "")})
        if self.path.startswith("/moved"):
            self.reply(302, headers=[("Location", "/elsewhere")])
        else:
            self.reply(200, headers=[("Set-Cookie", "lb=node-7; Path=/")])


@pytest.fixture
def esp() -> Iterator[str]:
    seen.clear()
    with serving(Esp) as url:
        yield url


def transport(base: str, session: requests.Session | None = None) -> Transport:
    return Transport("direct", base, auth=HeaderAuth("Authorization", Secret(KEY), "Bearer"),
                     session=session, limiter=RateLimiter(None), retry=RetryPolicy(max_attempts=1))


def test_a_cookie_an_esp_sets_is_never_sent_back(esp: str) -> None:
    t = transport(esp)
    t.request("GET", "/a")
    t.request("GET", "/b")
    assert [s["path"] for s in seen] == ["/a", "/b"]
    assert [s["cookie"] for s in seen] == ["", ""]
    assert [s["auth"] for s in seen] == [f"Bearer {KEY}"] * 2
    assert not t.session.cookies


def test_a_redirect_is_an_error_and_is_not_followed(esp: str) -> None:
    t = transport(esp)
    with pytest.raises(EspError) as caught:
        t.request("GET", "/moved")
    assert caught.value.status == 302
    assert [s["path"] for s in seen] == ["/moved"]  # /elsewhere never asked for


def test_a_session_with_a_response_hook_goes_through_session_send(esp: str) -> None:
    session = requests.Session()
    session.trust_env = False
    hooked: list[int] = []
    session.hooks["response"].append(lambda r, *a, **k: hooked.append(r.status_code))
    t = transport(esp, session)
    t.request("GET", "/a")
    assert hooked == [200]
    assert [s["path"] for s in seen] == ["/a"]


class Recording(requests.adapters.HTTPAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append(kw)  # the certificate files are made up: send without them
        return super().send(request, stream=kw["stream"], timeout=kw["timeout"])


@pytest.mark.parametrize(("verify", "sent"), [(None, True), (True, True), (False, False),
                                              ("/etc/ca.pem", "/etc/ca.pem")])
def test_the_adapter_gets_the_sessions_settings_and_verifies_unless_told_not_to(
    esp: str, verify: Any, sent: Any
) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    session.cert = ("c.pem", "k.pem")
    session.proxies = {"https": "http://127.0.0.1:9"}
    adapter = Recording()
    session.mount("http://", adapter)
    prepared = requests.Request("GET", f"{esp}/a").prepare()
    response = send(session, prepared, (3.0, 7.0))
    assert response.status_code == 200
    assert adapter.calls == [{"stream": True, "timeout": (3.0, 7.0), "verify": sent,
                              "cert": ("c.pem", "k.pem"),
                              "proxies": {"https": "http://127.0.0.1:9"}}]
    assert [s["path"] for s in seen] == ["/a"]

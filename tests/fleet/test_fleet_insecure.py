"""Plain http is the caller's choice: ``connect`` refuses a non-loopback ``http://`` base URL
unless ``allow_insecure`` (or ``$ESPKIT_ALLOW_INSECURE_HTTP``), a fleet file cannot set that
option, and a fleet connection the caller allowed (``--allow-host http://HOST``) connects."""

from __future__ import annotations

import base64
import textwrap

import pytest
import responses

import espkit
from espkit import fleet
from espkit.errors import ConfigError, FleetFileError
from espkit.fleet import Trust

KEY = "key-insecure-test-0123456789"
PLAIN = "http://esp-proxy.example"


@pytest.fixture(autouse=True)
def _no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESPKIT_ALLOW_INSECURE_HTTP", raising=False)


def domains_page() -> dict[str, object]:
    return {"items": [], "total_count": 0}


@responses.activate
def test_connect_refuses_plain_http_to_a_remote_host_before_any_request() -> None:
    with pytest.raises(ConfigError) as info:
        espkit.connect("mailgun", api_key=KEY, base_url=PLAIN)
    assert KEY not in str(info.value)
    assert len(responses.calls) == 0


@responses.activate
def test_connect_sends_over_plain_http_when_the_caller_allows_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    responses.add("GET", f"{PLAIN}/v4/domains", json=domains_page())
    with espkit.connect("mailgun", api_key=KEY, base_url=PLAIN, allow_insecure=True) as acct:
        assert list(acct.domains.list()) == []
    monkeypatch.setenv("ESPKIT_ALLOW_INSECURE_HTTP", "1")
    with espkit.connect("mailgun", api_key=KEY, base_url=PLAIN) as acct:
        assert list(acct.domains.list()) == []
    assert len(responses.calls) == 2


def fleet_text(extra: str = "") -> str:
    return textwrap.dedent(f"""\
        version: 1
        connections:
          main:
            provider: mailgun
            credentials: env/ESPKIT_ACME_KEY
            base_url: {PLAIN}
        """) + extra


def test_a_fleet_file_cannot_set_allow_insecure() -> None:
    text = fleet_text("    allow_insecure: true\n")
    with pytest.raises(FleetFileError) as info:
        fleet.loads(text, trust=Trust(hosts=[f"http://{PLAIN[7:]}"]))
    assert any("'allow_insecure' is the caller's choice" in p.message
               for p in info.value.problems)


@responses.activate
def test_a_fleet_connection_the_caller_allowed_connects_over_plain_http(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a variable only the fleet file names: the provider would not find it on its own
    monkeypatch.setenv("ESPKIT_ACME_KEY", KEY)
    for name in ("MAILGUN_API_KEY", "ESPKIT_MAILGUN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    responses.add("GET", f"{PLAIN}/v4/domains", json=domains_page())
    with pytest.raises(FleetFileError):
        fleet.loads(fleet_text(), trust=Trust(hosts=[PLAIN[7:]]))  # https form only
    f = fleet.loads(fleet_text(), trust=Trust(hosts=[f"http://{PLAIN[7:]}"]))
    with f.connections["main"].connect() as acct:
        assert list(acct.domains.list()) == []
    [call] = responses.calls
    # the key the credentials reference names is the one sent (not a default, not none)
    scheme, _, token = call.request.headers["Authorization"].partition(" ")
    assert (scheme, base64.b64decode(token).decode()) == ("Basic", f"api:{KEY}")

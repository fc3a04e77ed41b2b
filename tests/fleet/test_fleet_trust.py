"""Where a fleet file's connections may send a key (``espkit.fleet.trust``): each channel
(base URL, environment variable, keyring service, sandbox path) refused without the
caller's opt-in, allowed with it, the provider's own allowed with none; nothing is read or
sent before the refusal, and the key is in no message."""

from __future__ import annotations

import base64
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
import urllib3
from hypothesis import event, given, settings
from hypothesis import strategies as st
from support.keyrings import MemoryKeyring, memory_keyring

from espkit import fleet
from espkit.errors import ConfigError, FleetFileError
from espkit.fleet import Connection, Fleet, Problem, Trust
from espkit.fleet.trust import Endpoint, official_hosts, own_env_names

SECRET = "key-trust-0123456789abcdefSECRET"
ALLOW_VARS = ("ESPKIT_ALLOW_HOSTS", "ESPKIT_ALLOW_ENV", "ESPKIT_ALLOW_KEYRING_SERVICES",
              "ESPKIT_ALLOW_PATHS")


@pytest.fixture(autouse=True)
def _no_opt_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported opt-ins must not decide these tests."""
    for name in ALLOW_VARS:
        monkeypatch.delenv(name, raising=False)


def conn_text(body: str) -> str:
    """A fleet file with one connection ``main`` whose keys are ``body`` (YAML, one key a
    line): ``provider`` is on line 4, the first key of ``body`` on line 5."""
    lines = "".join(f"    {line}\n" for line in textwrap.dedent(body).strip().splitlines())
    return f"version: 1\nconnections:\n  main:\n{lines}"


def load(body: str, trust: Trust | None = None, base_dir: Path | None = None) -> Fleet:
    return fleet.loads(conn_text(body), base_dir=base_dir, trust=trust)


def refused(body: str, trust: Trust | None = None, base_dir: Path | None = None) -> Problem:
    with pytest.raises(FleetFileError) as info:
        load(body, trust, base_dir)
    assert len(info.value.problems) == 1, info.value.problems
    assert SECRET not in str(info.value)
    return info.value.problems[0]


# -- base_url and the other URLs ---------------------------------------------------------------


def test_a_foreign_base_url_is_refused_naming_host_line_and_opt_in() -> None:
    p = refused("provider: mailgun\nbase_url: http://some.host\ncredentials: env/MAILGUN_API_KEY")
    assert (p.line, p.path) == (5, "connections.main.base_url")
    assert "'some.host' is not mailgun's own API host (api.mailgun.net, api.eu.mailgun.net)" \
        in p.message
    assert "--allow-host http://some.host " in p.message  # http to a remote host: the http form
    assert "$ESPKIT_ALLOW_HOSTS" in p.message
    # the hint is enough on its own: following it loads the file
    assert "main" in load("provider: mailgun\nbase_url: http://some.host",
                          Trust(hosts=["http://some.host"])).connections
    https = refused("provider: mailgun\nbase_url: https://some.host:8443/v3")
    assert "--allow-host some.host:8443 " in https.message


def test_a_foreign_base_url_is_allowed_by_the_callers_opt_in(
        monkeypatch: pytest.MonkeyPatch) -> None:
    body = "provider: mailgun\nbase_url: https://mail-proxy.example:8443/v3"
    refused(body)
    refused(body, Trust(hosts=["mail-proxy.example:9443"]))  # another port
    refused(body, Trust(hosts=["proxy.example"]))  # another host
    for trust in (Trust(hosts=["mail-proxy.example"]), Trust(hosts=["MAIL-PROXY.example:8443"]),
                  Trust().allowing(hosts=["mail-proxy.example:8443"])):
        assert load(body, trust).connections["main"].options["base_url"].endswith(":8443/v3")
    monkeypatch.setenv("ESPKIT_ALLOW_HOSTS", "other.example, mail-proxy.example")
    assert "main" in load(body).connections  # the environment is the default trust


def test_plain_http_to_an_allowed_host_needs_its_own_opt_in() -> None:
    body = "provider: mailgun\nbase_url: http://mail-proxy.example"
    p = refused(body, Trust(hosts=["mail-proxy.example"]))
    assert "would send the key in clear text" in p.message
    assert "--allow-host http://mail-proxy.example" in p.message
    assert "main" in load(body, Trust(hosts=["http://mail-proxy.example"])).connections
    # and http:// is no way to reach a host that is not allowed at all
    refused(body, Trust(hosts=["http://other.example"]))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080",
                                 "http://[::1]:8080", "http://127.9.9.9:8080"])
def test_loopback_needs_the_opt_in_too_then_plain_http_is_fine(url: str) -> None:
    body = f"provider: mailgun\nbase_url: '{url}'"
    host = Endpoint.parse(url)
    assert host is not None
    assert host.loopback
    assert str(host) in refused(body).message
    assert "main" in load(body, Trust(hosts=[str(host)])).connections
    refused(body, Trust(hosts=[f"{str(host).rsplit(':', 1)[0]}:9090"]))


@pytest.mark.parametrize(("provider", "option", "url"), [
    ("mailgun", "base_url", "https://api.mailgun.net"),
    ("mailgun", "base_url", "https://api.eu.mailgun.net/"),
    ("mailgun", "base_url", "https://API.EU.mailgun.net:443/v3"),
    ("sendgrid", "base_url", "https://api.sendgrid.com"),
    ("sparkpost", "base_url", "https://api.eu.sparkpost.com/api/v1"),
    ("sparkpost", "base_url", "https://acme-corp.api.e.sparkpost.com/api/v1"),
    ("postmark", "base_url", "https://api.postmarkapp.com"),
    ("ses", "endpoint_url", "https://email.eu-west-1.amazonaws.com"),
    ("ses", "endpoint_url", "https://email-fips.us-gov-west-1.amazonaws.com"),
])
def test_the_providers_own_hosts_need_no_opt_in(provider: str, option: str, url: str) -> None:
    f = load(f"provider: {provider}\n{option}: '{url}'", Trust())
    assert f.connections["main"].options[option] == url


@pytest.mark.parametrize(("provider", "option", "url"), [
    ("mailgun", "base_url", "https://api.sendgrid.com"),  # another provider's host
    ("mailgun", "base_url", "http://api.mailgun.net"),  # the own host in clear
    ("mailgun", "base_url", "https://api.mailgun.net:8443"),
    ("mailgun", "base_url", "https://api.mailgun.net."),
    ("mailgun", "base_url", "https://api.mailgun.net.evil.example"),
    ("sparkpost", "base_url", "https://evil.example/.api.e.sparkpost.com"),
    ("sparkpost", "base_url", "https://a.b.api.e.sparkpost.com.evil.example"),
    ("ses", "endpoint_url", "https://email.eu-west-1.amazonaws.com.evil.example"),
    ("ses", "endpoint_url", "http://localhost:4566"),
])
def test_near_misses_of_the_own_hosts_are_refused(provider: str, option: str, url: str) -> None:
    assert refused(f"provider: {provider}\n{option}: '{url}'", Trust()).path == \
        f"connections.main.{option}"


def test_limiter_url_reaches_only_allowed_hosts() -> None:
    body = "provider: mailgun\nlimiter_url: redis://redis.internal:6379/0"
    p = refused(body)
    assert "limiter_url names the host 'redis.internal:6379'" in p.message
    assert "main" in load(body, Trust(hosts=["redis.internal"])).connections
    assert "main" in load("provider: mailgun\nlimiter_url: memory://").connections


def test_a_malformed_opt_in_is_a_config_error_naming_where(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="'https://h/path' is not a host"):
        Trust(hosts=["https://h/path"])
    monkeypatch.setenv("ESPKIT_ALLOW_HOSTS", "ok.example user@evil.example")
    with pytest.raises(ConfigError, match=r"\$ESPKIT_ALLOW_HOSTS: 'user@evil.example'"):
        Trust.from_env()


@responses.activate(assert_all_requests_are_fired=False)
def test_no_request_reaches_a_refused_host_and_the_opt_in_is_what_lets_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides on the wire: refused, nothing is sent anywhere; allowed, the key goes to
    the allowed host (so the count above is not empty by accident)."""
    monkeypatch.setenv("CI_DEPLOY_TOKEN", SECRET)
    seen: list[requests.PreparedRequest] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen.append(request)
        return 200, {"Content-Type": "application/json"}, '{"total_count": 0, "items": []}'

    for host in ("https://evil.example", "https://api.mailgun.net", "https://api.eu.mailgun.net"):
        responses.add_callback(responses.GET, re.compile(re.escape(host) + r"/.*"), answer)
    body = "provider: mailgun\nbase_url: https://evil.example\ncredentials: env/CI_DEPLOY_TOKEN"
    with pytest.raises(FleetFileError) as info:
        load(body)
    assert seen == []
    assert len(responses.calls) == 0
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)

    allowed = load(body, Trust(hosts=["evil.example"], env=["CI_DEPLOY_TOKEN"]))
    with allowed.connections["main"].connect() as acct:
        assert list(acct.domains.list()) == []
    assert seen
    assert {urllib3.util.parse_url(r.url).host for r in seen} == {"evil.example"}
    sent = base64.b64decode(seen[0].headers["Authorization"].split()[1]).decode()
    assert sent == f"api:{SECRET}"


# -- env/VAR -----------------------------------------------------------------------------------


@pytest.mark.parametrize("var", ["MAILGUN_API_KEY", "ESPKIT_MAILGUN_API_KEY", "ESPKIT_MG_EU_KEY",
                                 "ESPKIT_MAILGUN_EU_API_KEY"])
def test_the_providers_own_and_espkit_variables_need_no_opt_in(var: str) -> None:
    f = load(f"provider: mailgun\ncredentials: env/{var}", Trust())
    assert str(f.connections["main"].credentials) == f"env/{var}"


@pytest.mark.parametrize(("var", "why"), [
    ("AWS_SECRET_ACCESS_KEY", "is not a mailgun key variable (ESPKIT_MAILGUN_API_KEY, "
                              "MAILGUN_API_KEY, or another ESPKIT_* one)"),
    ("GITHUB_TOKEN", "is not a mailgun key variable"),
    ("SENDGRID_API_KEY", "is not a mailgun key variable"),
    ("ESPKIT_SENDGRID_API_KEY", "is sendgrid's key"),
    ("ESPKIT_LIMITER_URL", "is an espkit setting, not a key"),
    ("ESPKIT_ALLOW_HOSTS", "is an espkit setting, not a key"),
])
def test_other_variables_are_refused_until_allowed_by_name(
        var: str, why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, SECRET)
    body = f"provider: mailgun\ncredentials: env/{var}"
    p = refused(body)
    assert (p.line, p.path) == (5, "connections.main.credentials")
    assert f"env/{var}: ${var} {why}" in p.message
    assert f"--allow-env {var}" in p.message
    assert "$ESPKIT_ALLOW_ENV" in p.message
    refused(body, Trust(env=[var + "_X"]))  # by exact name only
    assert "main" in load(body, Trust(env=[var])).connections
    monkeypatch.setenv("ESPKIT_ALLOW_ENV", f"OTHER,{var}")
    assert "main" in load(body).connections


def test_own_env_names_are_what_credentials_looks_up() -> None:
    assert own_env_names("mailgun") == ("ESPKIT_MAILGUN_API_KEY", "MAILGUN_API_KEY")
    assert own_env_names("postmark") == ("ESPKIT_POSTMARK_API_KEY", "POSTMARK_ACCOUNT_TOKEN")
    assert official_hosts("sendgrid") == ("api.sendgrid.com", "api.eu.sendgrid.com")


# -- keyring/SERVICE/USER ----------------------------------------------------------------------





@pytest.fixture
def counting_keyring() -> Iterator[MemoryKeyring]:
    with memory_keyring() as fake:
        yield fake


def test_a_foreign_keyring_service_is_refused_before_it_is_read(
        counting_keyring: MemoryKeyring) -> None:
    counting_keyring.set_password("login", "ci", SECRET)
    body = "provider: sandbox\npath: ':memory:'\ncredentials: keyring/login/ci"
    p = refused(body)
    assert p.path == "connections.main.credentials"
    assert "the keyring service 'login' is not espkit's ('espkit')" in p.message
    assert "--allow-keyring-service login" in p.message
    assert counting_keyring.reads == 0
    refused(body, Trust(keyring_services=["espkit"]))
    allowed = load(body, Trust(keyring_services=["login"]))
    with allowed.connections["main"].connect() as acct:
        assert list(acct.domains.list()) == []
    assert counting_keyring.reads == 1


@pytest.mark.parametrize("ref", ["keyring/mailgun", "keyring/mailgun:eu", "keyring/ops",
                                 "keyring/espkit/mailgun"])
def test_espkits_own_entries_for_the_provider_need_no_opt_in(ref: str) -> None:
    assert load(f"provider: mailgun\ncredentials: {ref}", Trust()).connections["main"]


def test_another_providers_entry_in_espkits_service_is_refused() -> None:
    body = "provider: mailgun\ncredentials: keyring/sendgrid:eu"
    assert "espkit's keyring entry 'sendgrid:eu' is sendgrid's key" in refused(body).message
    assert load(body, Trust(keyring_services=["espkit"])).connections["main"]


# -- the sandbox's path ------------------------------------------------------------------------


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    here = tmp_path / "repo"
    (here / "state").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return here


@pytest.mark.parametrize("path", ["s.db", "state/s.db", "./state/../s.db", "':memory:'"])
def test_sandbox_paths_inside_the_fleet_directory_need_no_opt_in(
        fleet_dir: Path, path: str) -> None:
    load(f"provider: sandbox\npath: {path}", Trust(), fleet_dir)


def test_an_absolute_path_inside_the_fleet_directory_is_inside(fleet_dir: Path) -> None:
    load(f"provider: sandbox\npath: '{fleet_dir / 'state' / 's.db'}'", Trust(), fleet_dir)


@pytest.mark.parametrize("path", ["../outside/s.db", "state/../../outside/s.db", "ABSOLUTE",
                                  "'~/espkit-trust-test.db'", "'.'"])
def test_sandbox_paths_outside_the_fleet_directory_are_refused(
        fleet_dir: Path, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = fleet_dir.parent / "outside"
    monkeypatch.setenv("HOME", str(outside))
    path = path.replace("ABSOLUTE", f"'{outside / 's.db'}'")
    p = refused(f"provider: sandbox\npath: {path}", Trust(), fleet_dir)
    assert (p.line, p.path) == (5, "connections.main.path")
    assert f"is outside the fleet file's directory {str(fleet_dir)!r}" in p.message
    assert "--allow-path" in p.message
    assert "$ESPKIT_ALLOW_PATHS" in p.message
    assert not (outside / "s.db").exists()


def test_a_symlink_out_of_the_fleet_directory_is_refused(fleet_dir: Path) -> None:
    outside = fleet_dir.parent / "outside"
    (fleet_dir / "link.db").symlink_to(outside / "s.db")
    (fleet_dir / "linked").symlink_to(outside, target_is_directory=True)
    for path in ("link.db", "linked/s.db"):
        p = refused(f"provider: sandbox\npath: {path}", Trust(), fleet_dir)
        assert repr(str(outside / "s.db")) in p.message


def test_an_outside_path_is_allowed_by_the_callers_opt_in(
        fleet_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = fleet_dir.parent / "outside"
    body = "provider: sandbox\npath: ../outside/s.db"
    refused(body, Trust(paths=[str(outside / "other.db")]), fleet_dir)
    for allowed in (outside, outside / "s.db"):
        f = load(body, Trust(paths=[str(allowed)]), fleet_dir)
        with f.connections["main"].connect() as acct:
            assert list(acct.domains.list()) == []
    assert (outside / "s.db").exists()
    monkeypatch.setenv("ESPKIT_ALLOW_PATHS", os.pathsep.join(["/nowhere", str(outside)]))
    load(body, base_dir=fleet_dir)


def test_every_refusal_of_a_file_is_listed_at_its_line(fleet_dir: Path) -> None:
    text = textwrap.dedent("""\
        version: 1
        connections:
          a: {provider: mailgun, base_url: "https://evil.example", credentials: env/HOME}
          b:
            provider: sandbox
            path: /etc/espkit.db
            credentials: keyring/pass/root
        default_connection: a
        """)
    with pytest.raises(FleetFileError) as info:
        fleet.loads(text, base_dir=fleet_dir, trust=Trust())
    found = [(p.line, p.path) for p in info.value.problems]
    assert found == [(3, "connections.a.base_url"), (3, "connections.a.credentials"),
                     (6, "connections.b.path"), (7, "connections.b.credentials")]


def test_a_provider_that_takes_no_key_takes_no_credentials() -> None:
    p = refused("provider: ses\nregion: eu-west-1\ncredentials: env/ESPKIT_SES_API_KEY", Trust())
    assert p.line == 6
    assert "ses takes no API key" in p.message


# -- generated base URLs -----------------------------------------------------------------------

OFFICIAL = ("api.mailgun.net", "api.eu.mailgun.net")


def _mostly(clean: str, *tricky: str) -> st.SearchStrategy[str]:
    """``clean`` three times in four, else one of ``tricky``: so that most examples differ
    from a working URL in one or two parts only, where a near miss hides."""
    return st.one_of(st.just(clean), st.just(clean), st.just(clean), st.sampled_from(tricky))


_schemes = _mostly("https", "HTTPS", "hTTps", "http", "ftp", "", "https:", "javascript")
_userinfo = _mostly("", "user@", "api.mailgun.net@", "a:b@", "@", "api.mailgun.net%40")
_hosts = st.sampled_from([
    "api.mailgun.net", "API.MAILGUN.NET", "Api.Eu.Mailgun.Net", "api.mailgun.net.",
    "api.mailgun.net..", "api.mailgün.net", "\u0430pi.mailgun.net", "api.mailgun\uff0enet",
    "api.mailgun.net\u200b", "xn--api-mailgun.net", "api.mailgun.net.evil.example",
    "evil.example", "api-mailgun.net", "127.0.0.1", "[::1]", "api.mailgun.net\\",
    "api.mailgun.net%2F", "api.eu.mailgun.net", "mailgun.net", "", "api.mailgun.net\t",
])
_ports = _mostly("", ":443", ":0443", ":80", ":", ":8443", ":99999", ":-1", ": 443")
_tails = _mostly("/v3", "", "/", "?x=1", "#frag", "\\@evil.example/", "@evil.example/",
                 "/@evil.example", " /", "\t", "\n", "/..", ";evil.example", "%00")


def _accepted(url: str) -> bool:
    accepted = not list(Trust().refusals(Connection("main", "mailgun", {"base_url": url})))
    event("accepted" if accepted else "refused")  # --hypothesis-show-statistics
    return accepted


def _really_official(url: str) -> bool:
    """Where the transport would connect for ``url`` (base URL + a request path, as
    ``Transport`` joins them), as urllib3 and requests read it."""
    full = url.rstrip("/") + "/v4/domains"
    parsed = urllib3.util.parse_url(full)
    prepared = requests.Request("GET", full).prepare()
    again = urllib3.util.parse_url(prepared.url)
    return all(p.scheme == "https" and p.host in OFFICIAL and p.port in (None, 443)
               and p.auth is None for p in (parsed, again))


@settings(max_examples=400, deadline=None)
@given(_schemes, _userinfo, _hosts, _ports, _tails)
def test_generated_base_urls_are_the_official_host_exactly_or_refused(
        scheme: str, userinfo: str, host: str, port: str, tail: str) -> None:
    url = f"{scheme}://{userinfo}{host}{port}{tail}"
    if _accepted(url):
        assert _really_official(url), url
        assert "@" not in url.split("/")[2], url
        assert "\\" not in url, url
        assert url.isascii(), url


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["https://api.mailgun.net", "https://api.eu.mailgun.net:443", "https://"]),
       st.one_of(st.text(alphabet=st.sampled_from("/?#@:.\\%[]aZ09-_~;= "), max_size=30),
                 st.text(max_size=30)))
def test_anything_after_an_official_prefix_is_official_or_refused(prefix: str, rest: str) -> None:
    url = prefix + rest
    if _accepted(url):
        assert _really_official(url), url


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["http://127.0.0.1:8080", "http://localhost:8080", "https://[::1]:8080"]),
       st.text(alphabet=st.sampled_from("@:/\\.[]%#?1a80 "), max_size=12))
def test_an_allowed_loopback_port_is_exactly_that_port(prefix: str, rest: str) -> None:
    trust = Trust(hosts=["127.0.0.1:8080", "localhost:8080", "[::1]:8080"])
    url = prefix + rest
    accepted = not list(trust.refusals(Connection("main", "mailgun", {"base_url": url})))
    event("accepted" if accepted else "refused")
    if accepted:
        parsed = urllib3.util.parse_url(url.rstrip("/") + "/v4/domains")
        assert (parsed.host or "").strip("[]") in ("127.0.0.1", "localhost", "::1"), url
        assert parsed.port == 8080, url
        assert parsed.auth is None, url

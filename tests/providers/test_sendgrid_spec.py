"""The SendGrid provider against Twilio's official OpenAPI files, offline.

Every request the provider sends while a tour runs every operation (against the stateful fake
in ``tests/support/fakes/sendgrid.py``, and on the EU host against ``responses``) is validated with
openapi-core against the spec file that describes its path. The files reuse component names
with different meanings, so each is loaded as its own spec. ``GET /v3/stats`` is in a file not
stored in ``../shared/specs`` (``tsg_stats_v3.yaml``): its operation is transcribed below
(``STATS_SPEC``) and validated the same way. The specs' own example responses are then fed
through the provider into espkit models.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.datatypes import RequestParameters
from support.fakes.sendgrid import SendGridFake
from werkzeug.datastructures import Headers, ImmutableMultiDict

import espkit
from espkit import AssignmentKind, DomainState, RecordPurpose, RecordStatus, WarmupState

pytestmark = pytest.mark.spec

G = "https://api.sendgrid.com"
EU = "https://api.eu.sendgrid.com"
KEY = "SG.spec-key.0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
FILES = ("tsg_domain_authentication_v3.yaml", "tsg_ips_v3.yaml", "tsg_ip_warmup_v3.yaml",
         "tsg_subusers_v3.yaml")

# Every operation the provider uses; the tour must send each at least once.
OPERATIONS = {
    ("GET", "/v3/whitelabel/domains"), ("POST", "/v3/whitelabel/domains"),
    ("GET", "/v3/whitelabel/domains/{domain_id}"),
    ("DELETE", "/v3/whitelabel/domains/{domain_id}"),
    ("POST", "/v3/whitelabel/domains/{id}/validate"),
    ("GET", "/v3/ips"), ("GET", "/v3/ips/{ip_address}"),
    ("GET", "/v3/ips/pools"), ("POST", "/v3/ips/pools"), ("GET", "/v3/ips/pools/{pool_name}"),
    ("DELETE", "/v3/ips/pools/{pool_name}"), ("POST", "/v3/ips/pools/{pool_name}/ips"),
    ("DELETE", "/v3/ips/pools/{pool_name}/ips/{ip}"),
    # the warmup list (GET /v3/ips/warmup) lists warming IPs only: acct.ips.warmups() reads
    # GET /v3/ips, which has every IP's warmup flag
    ("POST", "/v3/ips/warmup"),
    ("GET", "/v3/ips/warmup/{ip_address}"), ("DELETE", "/v3/ips/warmup/{ip_address}"),
    ("GET", "/v3/subusers"), ("POST", "/v3/subusers"), ("PATCH", "/v3/subusers/{subuser_name}"),
    ("PUT", "/v3/subusers/{subuser_name}/ips"),
    ("GET", "/v3/stats"), ("GET", "/v3/subusers/stats"),
}

#: ``GET /v3/stats`` as https://github.com/twilio/sendgrid-oai/blob/
#: dbe0e0d2e67a0c3c55b222d54df2acda2b9027a7/spec/yaml/tsg_stats_v3.yaml declares it (operation
#: ``ListStat``: its parameters, ``components/parameters/StatsAdvancedQueryStringsLimitOffset*``
#: and ``OnBehalfOf``, and the answer's schema), transcribed: the file is not stored here
STATS_SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "tsg_stats_v3.yaml, GET /v3/stats (transcribed)", "version": "1.0.0"},
    "security": [{"BearerAuth": []}],
    "servers": [{"url": "https://api.sendgrid.com"}, {"url": "https://api.eu.sendgrid.com"}],
    "paths": {"/v3/stats": {"get": {
        "operationId": "ListStat",
        "parameters": [
            {"name": "on-behalf-of", "in": "header", "required": False,
             "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
            {"name": "offset", "in": "query", "required": False,
             "schema": {"type": "integer"}},
            {"name": "aggregated_by", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["day", "week", "month"]}},
            # "Must follow format YYYY-MM-DD" (prose; check_request checks it)
            {"name": "start_date", "in": "query", "required": True,
             "schema": {"type": "string"}},
            {"name": "end_date", "in": "query", "required": False,
             "schema": {"type": "string"}},
        ],
        "responses": {"200": {"description": "", "content": {"application/json": {
            "schema": {"type": "array", "items": {
                "type": "object", "required": ["date", "stats"],
                "properties": {"date": {"type": "string"}, "stats": {"type": "array", "items": {
                    "type": "object", "properties": {"metrics": {
                        "$ref": "#/components/schemas/StatsAdvancedGlobalStats"}}}}}}},
            # the example's first row
            "examples": {"response": {"value": [{"date": "2015-11-03", "stats": [{"metrics": {
                "blocks": 0, "bounce_drops": 0, "bounces": 0, "clicks": 0, "deferred": 0,
                "delivered": 0, "invalid_emails": 0, "opens": 0, "processed": 0,
                "requests": 0, "spam_report_drops": 0, "spam_reports": 0,
                "unique_clicks": 0, "unique_opens": 0, "unsubscribe_drops": 0,
                "unsubscribes": 0}}]}]}}}}}},
    }}},
    "components": {
        "schemas": {"StatsAdvancedGlobalStats": {"type": "object", "properties": {
            m: {"type": "integer"} for m in (
                "clicks", "unique_clicks", "opens", "unique_opens", "blocks", "bounce_drops",
                "bounces", "deferred", "delivered", "invalid_emails", "processed", "requests",
                "spam_report_drops", "spam_reports", "unsubscribe_drops", "unsubscribes")}}},
        "securitySchemes": {"BearerAuth": {"type": "http", "scheme": "bearer"}},
    },
}
#: the query parameters whose values the specs describe only in prose: YYYY-MM-DD
DATE_PARAMETERS = ("start_date", "end_date")


@functools.cache
def load(path: Path) -> tuple[dict[str, Any], OpenAPI]:
    with path.open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    # the specs are Twilio's to validate; we check our requests against them
    return raw, OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))


@pytest.fixture
def specs(spec_dir: Path) -> list[tuple[dict[str, Any], OpenAPI]]:
    stats = (STATS_SPEC, OpenAPI.from_dict(STATS_SPEC, config=Config(spec_validator_cls=None)))
    return [*(load(spec_dir / "sendgrid" / name) for name in FILES), stats]


def template_of(raw: dict[str, Any], path: str) -> str | None:
    """The spec path template a concrete path matches (literal segments win)."""
    best: tuple[int, str] | None = None
    for template in raw["paths"]:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            params = template.count("{")
            if best is None or params < best[0]:
                best = (params, template)
    return None if best is None else best[1]


def locate(specs: list[tuple[dict[str, Any], OpenAPI]], method: str,
           path: str) -> tuple[dict[str, Any], OpenAPI, str] | None:
    """The spec file (and template) that has ``method`` on ``path``; across files, too,
    literal segments win (``/v3/ips/warmup`` is the warmup file's, not ``/v3/ips/{ip}``)."""
    found = []
    for raw, api in specs:
        template = template_of(raw, path)
        if template is not None and method.lower() in raw["paths"][template]:
            found.append((template.count("{"), raw, api, template))
    if not found:
        return None
    _, raw, api, template = min(found, key=lambda f: f[0])
    return raw, api, template


class SpecRequest:
    """openapi-core's ``Request`` protocol over a request ``responses`` recorded."""

    def __init__(self, request: requests.PreparedRequest) -> None:
        parts = urllib.parse.urlsplit(request.url or "")
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = urllib.parse.unquote(parts.path)
        self.method = (request.method or "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(urllib.parse.parse_qsl(parts.query,
                                                            keep_blank_values=True)),
            header=Headers(dict(request.headers)),
        )
        body = request.body
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type = request.headers.get("Content-Type", "") if body else ""


def check_request(specs: list[tuple[dict[str, Any], OpenAPI]], request: Any) -> list[str]:
    """Why a recorded request does not match the spec (empty if it does)."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path)
    where = f"{request.method} {request.url}"
    found = locate(specs, request.method, path)
    if found is None:
        return [f"{where}: no such operation in the SendGrid specs"]
    raw, api, template = found
    operation = raw["paths"][template][request.method.lower()]
    problems = []
    if request.body and "requestBody" not in operation:
        problems.append(f"{where}: sent a body, the spec takes none")
    if request.body and request.headers.get("Content-Type") != "application/json":
        problems.append(f"{where}: body is not JSON")
    for error in api.request_validator.iter_errors(SpecRequest(request)):
        detail = "; ".join(str(e) for e in getattr(error, "schema_errors", ()) or ())
        problems.append(f"{where}: {error}{' (' + detail + ')' if detail else ''}")
    # openapi-core ignores query parameters and properties a schema does not list: catch
    # typos ourselves
    declared = {p.get("name") for p in (*raw["paths"][template].get("parameters", ()),
                                        *operation.get("parameters", ())) if "$ref" not in p}
    declared |= {raw["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                 for p in (*raw["paths"][template].get("parameters", ()),
                           *operation.get("parameters", ())) if "$ref" in p}
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query,
                                   keep_blank_values=True)
    problems += [f"{where}: query parameter {k!r} is not in the spec"
                 for k in sorted({k for k, _ in query} - declared)]
    problems += [f"{where}: {k}={v!r} is not YYYY-MM-DD" for k, v in query
                 if k in DATE_PARAMETERS and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)]
    schema = (operation.get("requestBody", {}).get("content", {})
              .get("application/json", {}).get("schema", {}))
    if request.body and schema.get("type") == "object":
        sent = json.loads(request.body)
        extra = set(sent) - set(schema.get("properties", {}))
        problems += [f"{where}: field {k!r} is not in the spec" for k in sorted(extra)]
    return problems


def tour(acct: espkit.Account, fake: SendGridFake) -> None:
    """Every operation of the provider once, through the public API."""
    d = "news.acme.example"
    acct.domains.create(d, dkim_selector="abc", ips=[fake.ips[0]])
    acct.domains.get(d)
    list(acct.domains.list())
    fake.publish_dns(d)
    acct.domains.verify(d)
    list(acct.ips.list())
    acct.ips.get(fake.ips[0])
    acct.ips.start_warmup(fake.ips[0])
    acct.ips.warmup_status(fake.ips[0])
    list(acct.ips.warmups())
    acct.ips.stop_warmup(fake.ips[0])
    acct.ips.warmup_status(fake.ips[0])  # 404 on the warmup read, then the IP read
    acct.ips.stop_warmup(fake.ips[0])  # 404 on the DELETE, then the IP read
    acct.stats.delivery("2026-11-28", "2026-12-03")
    acct.stats.delivery("2026-10-15", "2026-12-03", resolution="month")
    acct.pools.create("marketing", ips=fake.ips[:2])
    list(acct.pools.list())
    acct.pools.get("marketing")
    acct.pools.add_ip("marketing", fake.ips[2])
    acct.pools.remove_ip("marketing", fake.ips[0])
    sub = acct.subaccounts.create("cust-1")
    list(acct.subaccounts.list())
    acct.subaccounts.get(sub)
    acct.subaccounts.disable(sub)
    acct.subaccounts.enable(sub)
    acct.subaccounts.assign(sub, pool="marketing")
    acct.on_behalf_of(sub).domains.create(f"t.{d}")
    acct.stats.delivery("2026-12-01", "2026-12-03", subaccount=sub)
    acct.on_behalf_of(sub).stats.delivery("2026-12-01", "2026-12-03")
    acct.domains.delete(d)
    acct.pools.delete("marketing")


@pytest.fixture
def recorded(sleeps: list[float]) -> list[Any]:
    with SendGridFake(KEY) as fake:
        tour(fake.connect(), fake)
        got = list(fake.requests)
    # the EU host, with the region field the provider adds there
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", f"{EU}/v3/whitelabel/domains", json=[])
        mock.add("POST", f"{EU}/v3/whitelabel/domains", status=201,
                 json={"domain": "eu.example.com", "id": 5, "valid": False, "dns": {}})
        mock.add("POST", f"{EU}/v3/subusers", json={"username": "eu-1", "user_id": 6})
        eu = espkit.connect("sendgrid", api_key=KEY, region="eu")
        eu.domains.create("eu.example.com")
        eu.subaccounts.create("eu-1")
        got += [c.request for c in mock.calls]
    return got


def test_every_request_matches_the_spec(
    specs: list[tuple[dict[str, Any], OpenAPI]], recorded: list[Any]
) -> None:
    problems = [p for request in recorded for p in check_request(specs, request)]
    assert problems == []


def test_the_tour_sends_every_operation(
    specs: list[tuple[dict[str, Any], OpenAPI]], recorded: list[Any]
) -> None:
    sent = set()
    for r in recorded:
        path = urllib.parse.unquote(urllib.parse.urlsplit(r.url).path)
        found = locate(specs, r.method, path)
        sent.add((r.method, found[2] if found else path))
    assert sent == OPERATIONS
    hosts = {urllib.parse.urlsplit(r.url).netloc for r in recorded}
    assert hosts == {"api.sendgrid.com", "api.eu.sendgrid.com"}


@pytest.mark.parametrize(("method", "url", "body", "wanted"), [
    ("POST", f"{G}/v3/whitelabel/domains", {"domain": "a.com"}, []),
    ("POST", f"{G}/v3/whitelabel/domains", {"automatic_security": True},
     ["'domain' is a required property"]),
    ("POST", f"{G}/v3/whitelabel/domains", {"domain": "a.com", "automatic_security": "yes"},
     ["is not of type 'boolean'"]),
    ("POST", f"{G}/v3/whitelabel/domains", {"domain": "a.com", "colour": "red"},
     ["field 'colour' is not in the spec"]),
    ("POST", f"{G}/v3/subusers", {"username": "a", "email": "a@b.example", "password": "x"},
     ["'ips' is a required property"]),
    ("PUT", f"{G}/v3/whitelabel/domains/1", {"default": True}, ["no such operation"]),
    ("GET", f"{G}/v3/stats?start_date=2026-12-01&aggregated_by=day", None, []),
    ("GET", f"{G}/v3/stats?end_date=2026-12-01", None, ["start_date"]),
    ("GET", f"{G}/v3/stats?start_date=2026-12-01&aggregated_by=hour", None, ["hour"]),
    ("GET", f"{G}/v3/stats?start_date=2026-12-01&limit=ten", None, ["limit"]),
    ("GET", f"{G}/v3/stats?start_date=2026-12-01&subusers=x", None,
     ["query parameter 'subusers' is not in the spec"]),
    ("GET", f"{G}/v3/stats?start_date=12/01/2026", None, ["is not YYYY-MM-DD"]),
    ("GET", f"{G}/v3/subusers/stats?start_date=2026-12-01", None, ["subusers"]),
    ("GET", f"{G}/v3/subusers/stats?start_date=2026-12-01&subusers=a&aggregated_by=hour",
     None, ["hour"]),
])
def test_the_checker_catches_bad_requests(
    specs: list[tuple[dict[str, Any], OpenAPI]], method: str, url: str, body: Any,
    wanted: list[str],
) -> None:
    """The validation above is only worth something if it fails on a bad request."""
    prepared = requests.PreparedRequest()
    prepared.prepare(method=method, url=url, json=body,
                     headers={"Authorization": f"Bearer {KEY}"})
    problems = check_request(specs, prepared)
    for text in wanted:
        assert any(text in p for p in problems), problems
    if not wanted:
        assert problems == []


# -- the spec's example responses through the provider ---------------------------------------


def example(raw: dict[str, Any], path: str, method: str, status: str = "200") -> Any:
    response = raw["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = raw["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response["content"]["application/json"]
    return next(iter(content["examples"].values()))["value"]


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def acct(sleeps: list[float]) -> espkit.Account:
    return espkit.connect("sendgrid", api_key=KEY)


def test_domain_examples_parse(
    specs: list[tuple[dict[str, Any], OpenAPI]], mocked: responses.RequestsMock,
    acct: espkit.Account,
) -> None:
    raw = specs[0][0]
    listed = example(raw, "/v3/whitelabel/domains", "get")
    mocked.add("GET", f"{G}/v3/whitelabel/domains", json=listed)
    first, second = acct.domains.list()
    assert (first.name, first.id, first.state) == ("example.com", "1", DomainState.VERIFIED)
    # records keep SendGrid's order (that of its ``dns`` map)
    assert sorted((r.purpose, r.type, r.host, r.status) for r in first.dns_records) == [
        (RecordPurpose.DKIM, "CNAME", "s1._domainkey.example.com", RecordStatus.VALID),
        (RecordPurpose.DKIM, "CNAME", "s2._domainkey.example.com", RecordStatus.VALID),
        (RecordPurpose.RETURN_PATH, "CNAME", "mail.example.com", RecordStatus.VALID),
    ]
    # the second example has TXT DKIM keys and an MX return path
    assert sorted((r.purpose, r.type) for r in second.dns_records) == [
        (RecordPurpose.DKIM, "TXT"), (RecordPurpose.DKIM, "TXT"),
        (RecordPurpose.RETURN_PATH, "MX"),
    ]
    assert second.state is DomainState.UNVERIFIED

    created = example(raw, "/v3/whitelabel/domains", "post", "201")
    mocked.replace("GET", f"{G}/v3/whitelabel/domains", json=[])
    mocked.add("POST", f"{G}/v3/whitelabel/domains", status=201, json=created)
    d = acct.domains.create("example.com")
    assert (d.id, len(d.dns_records)) == ("302183", 3)
    assert d.records("return_path")[0].host == "example.example.com"

    got = example(raw, "/v3/whitelabel/domains/{domain_id}", "get")
    validated = example(raw, "/v3/whitelabel/domains/{id}/validate", "post")
    mocked.replace("GET", f"{G}/v3/whitelabel/domains", json=[got])
    mocked.add("POST", f"{G}/v3/whitelabel/domains/45373692/validate", json=validated)
    mocked.add("GET", f"{G}/v3/whitelabel/domains/45373692", json=got)
    v = acct.domains.verify("example.com")
    assert v.id == "45373692"
    # the validation example says the mail CNAME failed, with a reason
    (rp,) = v.records("return_path")
    assert rp.status is RecordStatus.INVALID
    assert "mx.sendgrid.net" in rp.raw["reason"]


def test_ip_pool_and_warmup_examples_parse(
    specs: list[tuple[dict[str, Any], OpenAPI]], mocked: responses.RequestsMock,
    acct: espkit.Account,
) -> None:
    ips_raw, warm_raw = specs[1][0], specs[2][0]
    mocked.add("GET", f"{G}/v3/ips", json=example(ips_raw, "/v3/ips", "get"))
    ips = list(acct.ips.list())
    assert [(i.address, i.pool, i.warming_up) for i in ips] == [
        ("192.168.1.1", "pool1", False), ("208.115.214.22", None, False)]
    # The example's address is a placeholder ("000.00.00.0"); an answer about another IP
    # than the one asked is refused (test_get_ip_answer_about_another_ip_is_refused), so
    # the example is served with the address asked for.
    one_ip = {**example(ips_raw, "/v3/ips/{ip_address}", "get"), "ip": "1.2.3.4"}
    mocked.add("GET", f"{G}/v3/ips/1.2.3.4", json=one_ip)
    one = acct.ips.get("1.2.3.4")
    assert (one.pool, one.rdns) == ("test1", "o1.em.example.com")

    mocked.add("GET", f"{G}/v3/ips/pools", json=example(ips_raw, "/v3/ips/pools", "get"))
    assert [p.name for p in acct.pools.list()] == ["marketing", "transactional"]
    mocked.add("GET", f"{G}/v3/ips/pools/Sample",
               json=example(ips_raw, "/v3/ips/pools/{pool_name}", "get"))
    pool = acct.pools.get("Sample")
    assert (pool.name, len(pool.ips)) == ("Sample", 3)
    mocked.add("DELETE", f"{G}/v3/ips/pools/gone", status=404,
               json=example(ips_raw, "/v3/ips/pools/{pool_name}", "delete", "404"))
    with pytest.raises(espkit.NotFound, match="Unable to locate specified IPs Pool"):
        acct.pools.delete("gone")

    mocked.add("POST", f"{G}/v3/ips/warmup", json=example(warm_raw, "/v3/ips/warmup", "post"))
    assert acct.ips.start_warmup("0.0.0.0").state is WarmupState.WARMING
    mocked.add("GET", f"{G}/v3/ips/warmup/9.9.9.9", status=404,
               json=example(warm_raw, "/v3/ips/warmup/{ip_address}", "get", "404"))
    mocked.add("GET", f"{G}/v3/ips/9.9.9.9", status=404,
               json=example(warm_raw, "/v3/ips/warmup/{ip_address}", "get", "404"))
    with pytest.raises(espkit.NotFound, match="resource not found"):
        acct.ips.warmup_status("9.9.9.9")
    # the IP listing's example: both IPs have a start date but are not warming (a warmup
    # that ended or was stopped reads as not started: SendGrid does not say which)
    assert [(w.ip, w.state) for w in acct.ips.warmups()] == [
        ("192.168.1.1", WarmupState.NOT_STARTED), ("208.115.214.22", WarmupState.NOT_STARTED)]


def test_stats_examples_parse(
    specs: list[tuple[dict[str, Any], OpenAPI]], mocked: responses.RequestsMock,
    acct: espkit.Account,
) -> None:
    """The examples' figures are all 0: reported, so 0, never None."""
    mocked.add("GET", f"{G}/v3/stats", json=example(STATS_SPEC, "/v3/stats", "get"))
    (row,) = acct.stats.delivery("2015-11-03", "2015-11-03")
    assert (row.period.isoformat(), row.sent, row.delivered, row.bounced_hard, row.bounced_soft,
            row.complained, row.deferred) == ("2015-11-03T00:00:00+00:00", 0, 0, 0, 0, 0, 0)
    assert row.bounce_rate is None  # nothing sent
    mocked.add("GET", f"{G}/v3/subusers/stats",
               json=example(specs[3][0], "/v3/subusers/stats", "get"))
    rows = acct.stats.delivery("2015-10-01", "2015-10-10", subaccount="Matt_subuser")
    assert [r.period.day for r in rows] == list(range(1, 11))
    assert {(r.sent, r.bounced, r.target) for r in rows} == {(0, 0, "Matt_subuser")}


def test_subuser_examples_parse(
    specs: list[tuple[dict[str, Any], OpenAPI]], mocked: responses.RequestsMock,
    acct: espkit.Account,
) -> None:
    raw = specs[3][0]
    mocked.add("GET", f"{G}/v3/subusers", json=example(raw, "/v3/subusers", "get"))
    subs = list(acct.subaccounts.list())
    assert [(s.id, s.enabled) for s in subs] == [("example_subuser", True),
                                                 ("example_subuser2", True)]
    mocked.add("POST", f"{G}/v3/subusers", json=example(raw, "/v3/subusers", "post"))
    created = acct.subaccounts.create("example_subuser")
    assert (created.id, created.raw["user_id"]) == ("example_subuser", 1234)
    mocked.add("GET", f"{G}/v3/ips/pools/p", json={"pool_name": "p", "ips": ["127.0.0.1"]})
    mocked.add("PUT", f"{G}/v3/subusers/example_subuser/ips",
               json=example(raw, "/v3/subusers/{subuser_name}/ips", "put"))
    a = acct.subaccounts.assign("example_subuser", pool="p")
    assert (a.kind, a.raw["ips"]) == (AssignmentKind.POOL, ["127.0.0.1"])


@pytest.mark.parametrize(("path", "method", "status", "error"), [
    ("/v3/subusers", "post", "400", espkit.AlreadyExists),  # "username exists; ..."
    ("/v3/subusers", "post", "401", espkit.AuthError),
    ("/v3/subusers", "post", "403", espkit.AuthError),
])
def test_error_examples_map_to_typed_errors(
    specs: list[tuple[dict[str, Any], OpenAPI]], mocked: responses.RequestsMock,
    acct: espkit.Account, path: str, method: str, status: str, error: type[Exception],
) -> None:
    body = example(specs[3][0], path, method, status)
    mocked.add(method.upper(), G + path, status=int(status), json=body)
    with pytest.raises(error) as err:
        acct.subaccounts.create("cust-1")
    assert err.value.message.startswith(body["errors"][0]["message"])  # type: ignore[attr-defined]

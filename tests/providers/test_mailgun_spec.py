"""The Mailgun provider against Mailgun's official OpenAPI description, offline.

Every request the provider sends (recorded by ``responses`` while ``mailgun_mocks.tour`` runs
every operation) is validated with openapi-core against ``../shared/specs/mailgun/openapi.yaml``,
and the spec's own example responses are fed through the provider into espkit models.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import time
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
from openapi_core.validation.request.exceptions import MissingRequiredParameter
from support.fakes.base import Call
from support.fakes.mailgun import MailgunFake
from support.mailgun_mocks import EU, US, VirtualTime, connect, register_tour, tour
from werkzeug.datastructures import Headers, ImmutableMultiDict

import espkit
from espkit import AssignmentKind, DomainState, RecordPurpose, RecordStatus, WarmupState

pytestmark = pytest.mark.spec

# The two legacy calls the spec lacks (Mailgun's docs and SDKs still document them).
NOT_IN_SPEC = {("GET", "/v3/domains/{name}/ips"), ("POST", "/v3/domains/{name}/ips")}

# Every operation the provider uses; the tour must send each at least once.
OPERATIONS = {
    ("GET", "/v4/domains"), ("POST", "/v4/domains"), ("GET", "/v4/domains/{name}"),
    ("PUT", "/v4/domains/{name}/verify"), ("DELETE", "/v3/domains/{name}"),
    ("GET", "/v3/ips"), ("GET", "/v3/ips/{ip}"),
    ("GET", "/v3/ip_pools"), ("POST", "/v3/ip_pools"), ("GET", "/v3/ip_pools/{pool_id}"),
    ("PATCH", "/v3/ip_pools/{pool_id}"), ("DELETE", "/v3/ip_pools/{pool_id}"),
    ("DELETE", "/v3/domains/{name}/ips/{ip}"),
    ("GET", "/v5/accounts/subaccounts"), ("POST", "/v5/accounts/subaccounts"),
    ("GET", "/v5/accounts/subaccounts/{subaccount_id}"),
    ("POST", "/v5/accounts/subaccounts/{subaccount_id}/disable"),
    ("POST", "/v5/accounts/subaccounts/{subaccount_id}/enable"),
    *NOT_IN_SPEC,
}


# -- loading the spec (once per session: it is 688 KB) ----------------------------------------


@functools.cache
def load(path: Path) -> tuple[dict[str, Any], OpenAPI]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:
        raw = yaml.load(f, Loader=loader)
    config = Config(
        # the spec itself is Mailgun's to validate; we check our requests against it
        spec_validator_cls=None,
        # Bodies arrive here already parsed and typed by ``typed_bodies`` (below), as JSON.
        extra_media_type_deserializers={"multipart/form-data": lambda body, **_: json.loads(body)},
    )
    return raw, OpenAPI.from_dict(raw, config=config)


@pytest.fixture
def spec(spec_dir: Path) -> tuple[dict[str, Any], OpenAPI]:
    return load(spec_dir / "mailgun" / "openapi.yaml")


def deref(raw: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a real node."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = raw
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def template_of(raw: dict[str, Any], path: str) -> str | None:
    """The spec path template a concrete path matches (literal segments win)."""
    best: tuple[int, str] | None = None
    for template in raw["paths"]:
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            params = template.count("{")
            if best is None or params < best[0]:
                best = (params, template)
    if best is None:
        # the two legacy calls, absent from the spec
        legacy = re.sub(r"^/v3/domains/[^/]+/ips$", "/v3/domains/{name}/ips", path)
        return legacy if legacy != path else None
    return best[1]


# -- turning a recorded request into an openapi-core request ----------------------------------


class SpecRequest:
    """openapi-core's ``Request`` protocol over a request ``responses`` recorded."""

    def __init__(self, url: str, method: str, headers: Headers, body: bytes | None,
                 content_type: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.method = method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
            header=headers,
        )
        self.body = body
        self.content_type = content_type


def typed(value: str, schema: dict[str, Any]) -> Any:
    """A form string as the type the spec's schema declares for the field."""
    kind = schema.get("type")
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def typed_bodies(
    fields: dict[str, list[str]], schema: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Form fields as the typed objects the spec's multipart schema describes.

    Booleans and integers are converted; a repeated key becomes an array where the schema
    says array. The spec declares repeatable fields (``ip``, ``add_ip``, ``link_domain``...)
    as a single string "(may be specified multiple times)": those give one body per value.
    Also returns the problems the schema alone cannot see (unknown or wrongly repeated
    fields: openapi-core ignores properties a form schema does not list).
    """
    props: dict[str, Any] = schema.get("properties", {})
    problems = [f"field {k!r} is not in the spec" for k in fields if k not in props]
    for k, values in fields.items():
        prop = props.get(k, {})
        if (len(values) > 1 and prop.get("type") != "array"
                and "multiple times" not in prop.get("description", "")):
            problems.append(f"field {k!r} sent {len(values)} times; the spec allows one")
    variants = max((len(v) for v in fields.values()), default=1)
    bodies = []
    for i in range(variants):
        body: dict[str, Any] = {}
        for k, values in fields.items():
            prop = props.get(k, {})
            if prop.get("type") == "array":
                body[k] = [typed(v, prop.get("items", {})) for v in values]
            else:
                body[k] = typed(values[min(i, len(values) - 1)], prop)
        bodies.append(body)
    return bodies, problems


#: JSON fields a request may send beyond its spec schema, and why
JSON_EXTRAS = {
    # the request schema omits it, yet the spec's Pagination schema says how to use it ("to
    # get the first page of data set skip to zero. Then increment the skip by the limit")
    # and Mailgun's SDKs send it (mailgun-go mtypes.MetricsRequest.Pagination)
    ("POST", "/v1/analytics/metrics"): {"pagination"},
}


def json_problems(raw: dict[str, Any], method: str, template: str, request: Any,
                  body: bytes) -> list[str]:
    """What openapi-core does not see in a JSON body: its Content-Type, and fields the
    schema does not list (it allows additional properties)."""
    where = f"{method} {request.url}"
    problems = []
    if request.headers.get("Content-Type", "") != "application/json":
        problems.append(f"{where}: unexpected Content-Type "
                        f"{request.headers.get('Content-Type')!r}")
    content = deref(raw, raw["paths"][template][method.lower()]["requestBody"])["content"]
    props = deref(raw, content["application/json"]["schema"]).get("properties", {})
    extras = JSON_EXTRAS.get((method, template), set())
    problems += [f"{where}: field {k!r} is not in the spec" for k in json.loads(body)
                 if k not in props and k not in extras]
    return problems


def check_request(raw: dict[str, Any], api: OpenAPI, request: Any) -> list[str]:
    """Why a recorded request does not match the spec (empty if it does)."""
    method = request.method
    url = request.url
    path = urllib.parse.urlsplit(url).path
    template = template_of(raw, path)
    where = f"{method} {url}"
    if template is None:
        return [f"{where}: no such path in the spec"]
    if (method, template) in NOT_IN_SPEC:
        return []  # legacy endpoint the spec lacks; see NOT_IN_SPEC
    operation = raw["paths"][template].get(method.lower())
    if operation is None:
        return [f"{where}: the spec has no {method} for {template}"]

    headers = Headers(dict(request.headers))
    body = request.body.encode() if isinstance(request.body, str) else request.body
    requests_to_check: list[SpecRequest] = []
    problems: list[str] = []
    if body and "application/json" in deref(raw, operation.get("requestBody", {})).get(
            "content", {}):
        problems += json_problems(raw, method, template, request, body)
        requests_to_check.append(SpecRequest(url, method, headers, body, "application/json"))
    elif body:
        sent_type = request.headers.get("Content-Type", "")
        content = deref(raw, operation.get("requestBody", {})).get("content", {})
        if "multipart/form-data" not in content:
            return [f"{where}: sent a body, the spec takes none"]
        # Mailgun takes application/x-www-form-urlencoded wherever it takes multipart (its
        # SDKs send urlencoded); the spec lists only multipart. Compare the fields instead.
        if sent_type != "application/x-www-form-urlencoded":
            problems.append(f"{where}: unexpected Content-Type {sent_type!r}")
        fields = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        schema = deref(raw, content["multipart/form-data"]["schema"])
        bodies, field_problems = typed_bodies(fields, schema)
        problems += [f"{where}: {p}" for p in field_problems]
        requests_to_check += [
            SpecRequest(url, method, headers, json.dumps(b).encode(), "multipart/form-data")
            for b in bodies
        ]
    else:
        requests_to_check.append(SpecRequest(url, method, headers, None, ""))

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for spec_request in requests_to_check:
        for error in api.request_validator.iter_errors(spec_request):
            if (method, template) == ("DELETE", "/v3/ip_pools/{pool_id}") and isinstance(
                    error, MissingRequiredParameter) and error.name in ("ip", "pool_id"):
                # The spec marks both replacement parameters required, yet its description
                # says "omitting both ... is allowed only if the DIPP contains no IPs" and
                # means one or the other; checked below instead.
                continue
            detail = "; ".join(str(e) for e in getattr(error, "schema_errors", ()) or ())
            problems.append(f"{where}: {error}{' (' + detail + ')' if detail else ''}")
    replaces = {("DELETE", "/v3/ip_pools/{pool_id}"), ("DELETE", "/v3/domains/{name}/ips/{ip}")}
    if (method, template) in replaces and "ip" in query and "pool_id" in query:
        problems.append(f"{where}: replacement ip and pool_id are mutually exclusive")
    return problems


# -- the tests ----------------------------------------------------------------------------------


@pytest.fixture
def vtime(sleeps: list[float], monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    vt = VirtualTime(sleeps)
    monkeypatch.setattr(time, "sleep", vt.sleep)
    return vt


@pytest.fixture
def recorded(vtime: VirtualTime) -> Iterator[list[Any]]:
    """Requests from a tour of every operation in both regions, plus a wrong-region probe."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for base, region in ((US, "us"), (EU, "eu")):
            register_tour(base, mock)
            tour(connect(vtime, region))
        mock.add("GET", f"{US}/v3/ips/9.9.9.9", status=401, json={"message": "Invalid key"})
        with pytest.raises(espkit.RegionMismatch):
            connect(vtime, "us").ips.get("9.9.9.9")  # probes GET /v4/domains?limit=1 on EU
        yield [c.request for c in mock.calls]


def test_every_request_matches_the_spec(
    spec: tuple[dict[str, Any], OpenAPI], recorded: list[Any]
) -> None:
    raw, api = spec
    problems = [p for request in recorded for p in check_request(raw, api, request)]
    assert problems == []


def test_the_tour_sends_every_operation(
    spec: tuple[dict[str, Any], OpenAPI], recorded: list[Any]
) -> None:
    raw, _ = spec
    sent = {(r.method, template_of(raw, urllib.parse.urlsplit(r.url).path)) for r in recorded}
    assert sent == OPERATIONS
    hosts = {urllib.parse.urlsplit(r.url).netloc for r in recorded}
    assert hosts == {"api.mailgun.net", "api.eu.mailgun.net"}


@pytest.mark.parametrize(("fields", "wanted"), [
    ({"name": ["a.com"], "wildcard": ["true"]}, []),
    ({"name": ["a.com"], "wildcard": ["yes"]}, ["'yes' is not of type 'boolean'"]),
    ({"wildcard": ["true"]}, ["'name' is a required property"]),
    ({"name": ["a.com"], "colour": ["red"]}, ["field 'colour' is not in the spec"]),
    ({"name": ["a.com", "b.com"]}, ["field 'name' sent 2 times"]),
])
def test_the_checker_catches_bad_requests(
    spec: tuple[dict[str, Any], OpenAPI], fields: dict[str, list[str]], wanted: list[str]
) -> None:
    """The validation above is only worth something if it fails on a bad request."""
    raw, api = spec
    prepared = requests.PreparedRequest()
    prepared.prepare(method="POST", url=f"{US}/v4/domains", auth=("api", "key"),
                     data=[(k, v) for k, vs in fields.items() for v in vs])
    problems = check_request(raw, api, prepared)
    for text in wanted:
        assert any(text in p for p in problems), problems
    if not wanted:
        assert problems == []


def test_delete_pool_with_both_replacements_is_caught(
    spec: tuple[dict[str, Any], OpenAPI],
) -> None:
    raw, api = spec
    prepared = requests.PreparedRequest()
    prepared.prepare(method="DELETE", url=f"{US}/v3/ip_pools/p1?ip=shared&pool_id=p2",
                     auth=("api", "key"))
    assert any("mutually exclusive" in p for p in check_request(raw, api, prepared))


# -- the spec's example responses through the provider ---------------------------------------


def example(raw: dict[str, Any], path: str, method: str, status: str = "200",
            index: int = 0) -> Any:
    content = raw["paths"][path][method]["responses"][status]["content"]["application/json"]
    return list(content["examples"].values())[index]["value"]


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_domain_examples_parse(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    d = "example.com"
    mocked.add("GET", f"{US}/v4/domains/{d}", json=example(raw, "/v4/domains/{name}", "get"))
    mocked.add("POST", f"{US}/v4/domains", json=example(raw, "/v4/domains", "post"))
    mocked.add("PUT", f"{US}/v4/domains/{d}/verify",
               json=example(raw, "/v4/domains/{name}/verify", "put"))
    acct = connect(vtime)

    got = acct.domains.get(d)
    assert got.name == d
    assert got.id == "123456789012345678901234"
    assert got.state is DomainState.VERIFIED
    assert got.created_at is not None
    assert [(r.purpose, r.type, r.host) for r in got.dns_records] == [
        (RecordPurpose.SPF, "TXT", "mg.example.com"),
        (RecordPurpose.DKIM, "TXT", "mx._domainkey.mg.example.com"),
        (RecordPurpose.TRACKING, "CNAME", "email.mg.example.com"),
        (RecordPurpose.MX, "MX", d),  # the example's MX records have no name
        (RecordPurpose.MX, "MX", d),
    ]
    assert all(r.status is RecordStatus.VALID for r in got.dns_records)
    assert {r.priority for r in got.records("mx")} == {10}

    created = acct.domains.create(d)
    assert created.name == d
    assert created.dns_records[0].value == "1.2.3.4"
    assert created.records("mx")[0].status is RecordStatus.UNKNOWN

    verified = acct.domains.verify(d)
    assert verified.state is DomainState.UNVERIFIED
    # the example's "Mon, 02 Jan 2006 15:04:05 MST" is parsed, zone and all
    assert verified.created_at is not None
    assert verified.created_at.utcoffset() is not None


@pytest.mark.parametrize("index", [0, 1])
def test_domain_list_examples_parse(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime,
    index: int,
) -> None:
    raw, _ = spec
    body = example(raw, "/v4/domains", "get", index=index)
    mocked.add("GET", f"{US}/v4/domains", json=body)
    (d,) = connect(vtime).domains.list()
    assert (d.name, d.id, d.state) == ("example.com", "1", DomainState.UNVERIFIED)
    assert d.subaccount == body["items"][0].get("subaccount_id")


def test_ip_and_pool_examples_parse(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    pools = example(raw, "/v3/ip_pools", "get")
    details = example(raw, "/v3/ip_pools/{pool_id}", "get")
    mocked.add("GET", f"{US}/v3/ips", json=example(raw, "/v3/ips", "get"))
    mocked.add("GET", f"{US}/v3/ips/1.2.3.4", json=example(raw, "/v3/ips/{ip}", "get"))
    mocked.add("GET", f"{US}/v3/ip_pools", json=pools)
    acct = connect(vtime)

    ips = list(acct.ips.list())
    assert [(i.address, i.warming_up) for i in ips] == [("1.2.3.4", True), ("5.6.7.8", False)]
    ip = acct.ips.get("1.2.3.4")
    assert (ip.address, ip.rdns) == ("1.2.3.4", "ip1-2-3-4.mailgun.net")

    (listed,) = acct.pools.list()
    assert listed.name == "short name of the dedicated IP pool"
    assert listed.ips == ("1.0.0.1", "1.0.0.2")
    assert listed.id == "the id of the dedicated IP pool"

    # the details example is for another pool: list it so its id can be resolved
    mocked.replace("GET", f"{US}/v3/ip_pools", json={"ip_pools": [details["details"]]})
    mocked.add("GET", f"{US}/v3/ip_pools/658041ae44842b99ee2eaa1b", json=details)
    got = acct.pools.get("658041ae44842b99ee2eaa1b")
    assert (got.name, got.ips) == ("DIPP's short name", ("1.2.3.4", "5.6.7.8"))
    mocked.add("GET", f"{US}/v3/domains/a.example.com/ips", json={"items": [], "total_count": 0})
    (assignment,) = acct.domains.assignments("a.example.com")
    assert (assignment.kind, assignment.target) == (AssignmentKind.POOL, "DIPP's short name")

    mocked.add("POST", f"{US}/v3/ip_pools", json=example(raw, "/v3/ip_pools", "post"))
    assert acct.pools.create("fresh").id == "658041ae44842b99ee2eaa1b"


def test_subaccount_examples_parse(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    base = f"{US}/v5/accounts/subaccounts"
    one = "/v5/accounts/subaccounts/{subaccount_id}"
    mocked.add("GET", base, json=example(raw, "/v5/accounts/subaccounts", "get"))
    mocked.add("POST", base, json=example(raw, "/v5/accounts/subaccounts", "post"))
    mocked.add("GET", f"{base}/123", json=example(raw, one, "get"))
    mocked.add("POST", f"{base}/123/disable", json=example(raw, f"{one}/disable", "post"))
    mocked.add("POST", f"{base}/123/enable", json=example(raw, f"{one}/enable", "post"))
    acct = connect(vtime)

    (listed,) = acct.subaccounts.list()
    assert (listed.id, listed.name, listed.enabled) == ("123", "My subaccount", True)
    assert listed.created_at is not None
    assert acct.subaccounts.get("123") == listed
    assert not acct.subaccounts.disable("123").enabled
    assert acct.subaccounts.enable("123").enabled
    # the spec's example name has a space, which espkit's names do not allow
    with pytest.raises(espkit.ValidationError):
        acct.subaccounts.create("My subaccount")


@pytest.mark.parametrize(("path", "method", "status", "error"), [
    ("/v4/domains", "post", "400", espkit.Rejected),
    ("/v4/domains/{name}", "get", "404", espkit.NotFound),
    ("/v5/accounts/subaccounts/{subaccount_id}/enable", "post", "400", espkit.Rejected),
])
def test_error_examples_map_to_typed_errors(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime,
    path: str, method: str, status: str, error: type[Exception],
) -> None:
    raw, _ = spec
    body = example(raw, path, method, status)
    url = US + path.replace("{name}", "example.com").replace("{subaccount_id}", "123")
    mocked.add(method.upper(), url, status=int(status), json=body)
    mocked.add("GET", f"{EU}/v4/domains", status=401,
               json=example(raw, "/v4/domains", "get", "401"))  # region probe: not EU's key
    acct = connect(vtime)
    call = {
        "/v4/domains": lambda: acct.domains.create("example.com"),
        "/v4/domains/{name}": lambda: acct.domains.get("example.com"),
        "/v5/accounts/subaccounts/{subaccount_id}/enable": lambda: acct.subaccounts.enable("123"),
    }[path]
    with pytest.raises(error) as err:
        call()
    assert err.value.message == body["message"]  # type: ignore[attr-defined]


def test_401_example_is_an_auth_error(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    body = example(raw, "/v4/domains", "get", "401")
    mocked.add("GET", f"{US}/v4/domains", status=401, json=body)
    mocked.add("GET", f"{EU}/v4/domains", status=401, json=body)
    with pytest.raises(espkit.AuthError) as err:
        list(connect(vtime).domains.list())
    assert type(err.value) is espkit.AuthError
    assert err.value.message == "Invalid private key"


# -- warmup and delivery figures (tests/providers/test_mailgun_warmup_stats.py) ---------------

WARMUP_STATS_OPERATIONS = {
    ("GET", "/v3/ip_warmups"), ("GET", "/v3/ip_warmups/{addr}"),
    ("POST", "/v3/ip_warmups/{addr}"), ("DELETE", "/v3/ip_warmups/{addr}"),
    ("GET", "/v3/ips"), ("GET", "/v3/ips/{ip}"), ("GET", "/v3/ip_pools"),
    ("POST", "/v3/ip_pools"), ("POST", "/v5/accounts/subaccounts"),
    ("POST", "/v1/analytics/metrics"),
}


class KeepingFake(MailgunFake):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[requests.PreparedRequest] = []

    def _keep(self, call: Call) -> None:
        self.requests.append(call.request)


@pytest.fixture
def warmup_stats_requests(sleeps: list[float]) -> Iterator[list[requests.PreparedRequest]]:
    """Every warmup and stats request the provider makes: start, status (warming and not),
    stop (warming and not), a paged listing, figures by every scope and resolution, and
    paged figures."""
    with KeepingFake() as fake:
        fake.warmup_page_max = 2
        fake.metrics_page_max = 10
        acct = fake.connect()
        ip, other = fake.ips[0], fake.ips[1]
        for extra in fake.ips[2:]:
            fake.start_plan(extra)
        acct.ips.start_warmup(ip)
        acct.ips.start_warmup(ip)  # refused: already warming
        acct.ips.warmup_status(ip)
        acct.ips.warmup_status(other)
        list(acct.ips.warmups())
        acct.ips.stop_warmup(ip)
        acct.ips.stop_warmup(ip)
        acct.pools.create("warming", ips=[ip])
        sub = acct.subaccounts.create("customer-1").id
        day = datetime.date(2026, 12, 1)
        for res in ("hour", "day", "month"):
            acct.stats.delivery(day, day, resolution=res)
        acct.stats.delivery(day, day + datetime.timedelta(days=30))  # 4 pages
        for where in ({"domain": "a.example.com"}, {"ip": ip}, {"pool": "warming"},
                      {"subaccount": sub}):
            acct.stats.delivery(day, day, **where)
        acct.on_behalf_of(sub).stats.delivery(day, day)
        yield fake.requests


def test_every_warmup_and_stats_request_matches_the_spec(
    spec: tuple[dict[str, Any], OpenAPI], warmup_stats_requests: list[Any]
) -> None:
    raw, api = spec
    problems = [p for r in warmup_stats_requests for p in check_request(raw, api, r)]
    assert problems == []
    sent = {(r.method, template_of(raw, urllib.parse.urlsplit(r.url).path))
            for r in warmup_stats_requests}
    assert sent == WARMUP_STATS_OPERATIONS
    pages = [r for r in warmup_stats_requests if r.method == "GET"
             and urllib.parse.urlsplit(r.url).path == "/v3/ip_warmups"]
    assert any("page=" in r.url for r in pages)  # paging.next was followed and checked


def metrics_request(body: dict[str, Any], content_type: str = "application/json"
                    ) -> requests.PreparedRequest:
    prepared = requests.PreparedRequest()
    prepared.prepare(method="POST", url=f"{US}/v1/analytics/metrics", auth=("api", "key"),
                     data=json.dumps(body), headers={"Content-Type": content_type})
    return prepared


GOOD_METRICS = {"start": "Tue, 01 Dec 2026 00:00:00 +0000", "resolution": "day",
                "dimensions": ["time"], "metrics": ["sent_count"],
                "filter": {"AND": [{"attribute": "ip_pool", "comparator": "=",
                                    "values": [{"label": "a", "value": "b"}]}]},
                "include_subaccounts": True, "pagination": {"skip": 0, "limit": 31}}


@pytest.mark.parametrize(("change", "wanted"), [
    ({}, []),
    ({"metrics": ["sent"]}, ["'sent' is not one of"]),
    ({"dimensions": ["week"]}, ["'week' is not one of"]),
    ({"include_subaccounts": "true"}, ["is not of type 'boolean'"]),
    ({"filter": {"AND": [{"attribute": "pool", "comparator": "="}]}}, ["'pool' is not one of"]),
    ({"filter": {"OR": []}}, ["'AND' is a required property"]),
    ({"colour": "red"}, ["field 'colour' is not in the spec"]),
])
def test_the_checker_catches_bad_metrics_queries(
    spec: tuple[dict[str, Any], OpenAPI], change: dict[str, Any], wanted: list[str]
) -> None:
    raw, api = spec
    problems = check_request(raw, api, metrics_request({**GOOD_METRICS, **change}))
    for text in wanted:
        assert any(text in p for p in problems), problems
    if not wanted:
        assert problems == []


def test_the_checker_wants_json_sent_as_json(spec: tuple[dict[str, Any], OpenAPI]) -> None:
    raw, api = spec
    problems = check_request(raw, api, metrics_request(GOOD_METRICS, "text/plain"))
    assert any("unexpected Content-Type" in p for p in problems)


def test_warmup_examples_parse(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    mocked.add("GET", f"{US}/v3/ips", json={"items": ["1.0.0.1", "1.0.0.2", "1.0.0.3"]})
    mocked.add("GET", f"{US}/v3/ip_warmups", json=example(raw, "/v3/ip_warmups", "get"))
    acct = connect(vtime)
    got = {w.ip: w for w in acct.ips.warmups()}
    # the example's paging.next is the placeholder "next", which names no page: the end
    assert len(mocked.calls) == 2
    assert [(w.state, w.stage, w.daily_cap) for w in got.values()] == [
        (WarmupState.WARMING, 3, 4000), (WarmupState.WARMING, 4, 8000),
        (WarmupState.NOT_STARTED, None, None)]

    one = "/v3/ip_warmups/{addr}"
    mocked.add("GET", f"{US}/v3/ip_warmups/1.0.0.1", json=example(raw, one, "get"))
    mocked.add("POST", f"{US}/v3/ip_warmups/1.0.0.1", json=example(raw, one, "post"))
    mocked.add("DELETE", f"{US}/v3/ip_warmups/1.0.0.1", json=example(raw, one, "delete"))
    w = acct.ips.start_warmup("1.0.0.1")
    assert (w.state, w.stage, w.stages, w.daily_cap, w.hourly_cap) == (
        WarmupState.WARMING, 2, 15, 4000, 100)
    assert w.started == datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    assert acct.ips.stop_warmup("1.0.0.1").state is WarmupState.NOT_STARTED


def test_metrics_example_parses(
    spec: tuple[dict[str, Any], OpenAPI], mocked: responses.RequestsMock, vtime: VirtualTime
) -> None:
    raw, _ = spec
    mocked.add("POST", f"{US}/v1/analytics/metrics",
               json=example(raw, "/v1/analytics/metrics", "post"))
    rows = connect(vtime).stats.delivery("2023-11-13", "2023-12-20", resolution="month")
    assert [(r.period.month, r.sent, r.delivered) for r in rows] == [(11, None, 60),
                                                                      (12, None, 60)]
    assert len(mocked.calls) == 1  # its last row is the last month asked for

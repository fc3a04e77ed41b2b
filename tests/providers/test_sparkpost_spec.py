"""The SparkPost provider against SparkPost's API Blueprint files, offline.

SparkPost publishes no OpenAPI description; its docs are API Blueprint
(``../shared/specs/sparkpost/*.apib``). A small parser reads the ``### Name [METHOD /path]``
actions, their ``+ Parameters``, their ``+ Data Structure`` attributes and their JSON request
and response examples. Then:

* every request espkit sends during a tour of every operation (served by the stateful fake)
  must use a documented method + path, only documented query parameters, and only documented
  body fields (nested ones too);
* the blueprint's own example responses, served as-is, must parse into espkit models.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import responses
from support.fakes.sparkpost import KEY, SparkPostFake

import espkit
from espkit import AssignmentKind, DomainState, RecordPurpose, RecordStatus

pytestmark = pytest.mark.spec

FILES = ("sending-domains.apib", "ip-pools.apib", "sending-ips.apib", "subaccounts.apib")
US = "https://api.sparkpost.com/api/v1"

#: every (method, blueprint path) the provider uses; the tour must send each at least once
OPERATIONS = {
    ("POST", "/v1/sending-domains"), ("GET", "/v1/sending-domains"),
    ("GET", "/v1/sending-domains/{domain}"), ("DELETE", "/v1/sending-domains/{domain}"),
    ("POST", "/v1/sending-domains/{domain}/verify"),
    ("GET", "/v1/sending-ips"), ("GET", "/v1/sending-ips/{external_ip}"),
    ("PUT", "/v1/sending-ips/{external_ip}"),
    ("POST", "/v1/ip-pools"), ("GET", "/v1/ip-pools"), ("GET", "/v1/ip-pools/{id}"),
    ("PUT", "/v1/ip-pools/{id}"), ("DELETE", "/v1/ip-pools/{id}"),
    ("POST", "/v1/subaccounts"), ("GET", "/v1/subaccounts"), ("GET", "/v1/subaccounts/{id}"),
    ("PUT", "/v1/subaccounts/{id}"),
}


# -- a small API Blueprint parser ---------------------------------------------------------------


@attrs.define
class Action:
    name: str
    method: str
    path: str  # "/v1/sending-domains/{domain}", query template removed
    params: set[str] = attrs.field(factory=set)
    fields: set[str] = attrs.field(factory=set)  # "domain", "dkim", "dkim.public", ...
    responses: list[tuple[int, Any]] = attrs.field(factory=list)

    @property
    def pattern(self) -> re.Pattern[str]:
        rx = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(self.path.removeprefix("/v1")))
        return re.compile(rx + "/?")


_ACTION = re.compile(r"^#{2,3} (.+?) \[(GET|POST|PUT|PATCH|DELETE) (/[^\]]*?)(\{\?([^}]*)\})?\]")
_ATTR = re.compile(r"^(\s*)\+ `?([A-Za-z_][A-Za-z0-9_]*)`?\s*[(:\-]")
_SECTION = re.compile(r"^\s*\+ (Data Structure|Parameters|Request|Response|Body|Headers)"
                      r"(?:\s*(\d{3}))?(.*)$")


def _json_block(lines: list[str], start: int) -> tuple[Any, int]:
    """The JSON example whose first line is at or after ``start`` (indented code block)."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not lines[i].lstrip().startswith(("{", "[")):
        return None, start
    block: list[str] = []
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
        if _SECTION.match(lines[i]) or _ACTION.match(lines[i]):
            break
        block.append(lines[i])
        i += 1
    text = "\n".join(block).strip()
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None, i
    return value, i


def _keys(value: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(prefix + k)
            out |= _keys(v, f"{prefix}{k}.")
    return out


@functools.cache
def parse(path: Path) -> tuple[Action, ...]:
    lines = path.read_text(encoding="utf-8").splitlines()
    actions: list[Action] = []
    current: Action | None = None
    section = ""
    stack: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _ACTION.match(line)
        if m:
            current = Action(m.group(1), m.group(2), m.group(3).rstrip())
            if m.group(5):
                current.params |= {p.strip() for p in m.group(5).split(",")}
            actions.append(current)
            section, stack = "", []
            i += 1
            continue
        if current is None:
            i += 1
            continue
        if line.startswith("#"):
            section = ""
            i += 1
            continue
        s = _SECTION.match(line)
        if s:
            kind = s.group(1)
            if kind == "Data Structure" and ":" not in (s.group(3) or ""):
                section, stack = "data", []
            elif kind == "Parameters":
                section = "params"
            elif kind == "Response":
                section = "response"
                body, _ = _json_block(lines, i + 1)
                if body is None:  # "+ Body" / "+ Headers" come first
                    j = i + 1
                    while j < len(lines) and not _ACTION.match(lines[j]) and not re.match(
                            r"^\+ (Response|Request)", lines[j]):
                        if re.match(r"^\s+\+ Body", lines[j]):
                            body, _ = _json_block(lines, j + 1)
                            break
                        j += 1
                current.responses.append((int(s.group(2) or 200), body))
            elif kind == "Request":
                section = "request"
            elif kind == "Body" and section == "request":
                body, _ = _json_block(lines, i + 1)
                current.fields |= _keys(body)
            i += 1
            continue
        a = _ATTR.match(line)
        if a and section == "params" and line.startswith(" "):
            current.params.add(a.group(2))
        elif a and section == "data":
            indent, name = len(a.group(1)), a.group(2)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            # enum members ("+ active") are values, not fields: skip lines without a type
            if "(" in line or " - " in line or stack == []:
                full = ".".join([*(n for _, n in stack), name])
                current.fields.add(full)
                stack.append((indent, name))
        i += 1
    return tuple(actions)


@pytest.fixture
def actions(spec_dir: Path) -> list[Action]:
    found: list[Action] = []
    for name in FILES:
        found += parse(spec_dir / "sparkpost" / name)
    return found


def find(actions: list[Action], method: str, path: str) -> Action:
    hits = [a for a in actions if a.method == method and a.pattern.fullmatch(path)]
    assert hits, f"{method} {path} is not a documented SparkPost operation"
    # the most specific pattern wins (fewest placeholders)
    return min(hits, key=lambda a: a.path.count("{"))


# -- the parser itself ----------------------------------------------------------------------------


def test_parser_reads_the_blueprints(actions: list[Action]) -> None:
    ops = {(a.method, a.path) for a in actions}
    assert ops >= OPERATIONS
    create = find(actions, "POST", "/sending-domains")
    assert {"domain", "generate_dkim", "dkim_key_length", "dkim", "dkim.public"} <= create.fields
    assert "ownership_verified" in find(actions, "GET", "/sending-domains").params
    subs = find(actions, "GET", "/subaccounts")
    assert {"cursor", "per_page"} <= subs.params
    assert {"ip_pool", "auto_warmup_enabled", "auto_warmup_stage"} == find(
        actions, "PUT", "/sending-ips/1.2.3.4").fields
    assert "active" not in find(actions, "PUT", "/subaccounts/1").fields  # enum member
    assert any(status == 200 and body for status, body in create.responses)


# -- every request espkit sends is documented --------------------------------------------------


def tour(fake: SparkPostFake) -> None:
    acct = fake.connect()
    a, b, c = fake.ips[:3]
    acct.domains.create("news.example.com", dkim_key_size=2048)
    acct.domains.get("news.example.com")
    list(acct.domains.list())
    fake.publish_dns("news.example.com")
    acct.domains.verify("news.example.com")
    list(acct.ips.list())
    acct.ips.get(a)
    acct.ips.start_warmup(a, stage=1)
    acct.ips.warmup_status(a)
    list(acct.ips.warmups())
    acct.ips.stop_warmup(a)
    acct.pools.create("overflow")
    acct.pools.create("marketing", ips=[a, b])
    acct.provider.update_pool(  # type: ignore[attr-defined]
        "marketing", signing_domain="news.example.com", fbl_signing_domain="",
        auto_warmup_overflow_pool="overflow")
    list(acct.pools.list())
    acct.pools.get("marketing")
    acct.pools.add_ip("marketing", c)
    acct.pools.remove_ip("marketing", a)
    sub = acct.subaccounts.create("customer-1")
    list(acct.subaccounts.list())
    acct.subaccounts.get(sub)
    acct.subaccounts.disable(sub)
    acct.subaccounts.enable(sub)
    acct.subaccounts.assign(sub, pool="marketing")
    acct.on_behalf_of(sub).domains.create("cust.example.com")
    acct.pools.delete("marketing", replacement="overflow")
    acct.pools.delete("overflow")
    acct.domains.delete("news.example.com")


def test_every_request_is_a_documented_operation_with_documented_fields(
    actions: list[Action], sleeps: list[float]
) -> None:
    with SparkPostFake() as fake:
        tour(fake)
    used: set[tuple[str, str]] = set()
    for method, path, body, _headers in fake.requests:
        action = find(actions, method, path)
        used.add((action.method, action.path))
        if body is not None:
            extra = _keys(body) - action.fields
            assert not extra, f"{method} {path}: undocumented body fields {sorted(extra)}"
    assert fake.queries, "the tour pages subaccounts with a query"
    for method, path, params in fake.queries:
        action = find(actions, method, path)
        assert set(params) <= action.params, f"{method} {path}: undocumented {params}"
    assert used == OPERATIONS


# -- the blueprint's example responses parse into espkit models -------------------------------


def example(actions: list[Action], method: str, path: str, status: int = 200,
            index: int = 0) -> Any:
    bodies = [b for s, b in find(actions, method, path).responses if s == status and b]
    return bodies[index]


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def connect() -> espkit.Account:
    return espkit.connect("sparkpost", api_key=KEY, region="us")


def test_domain_examples(actions: list[Action], http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/sending-domains",
             json=example(actions, "POST", "/sending-domains"))
    http.add("GET", f"{US}/sending-domains/example1.com",
             json=example(actions, "GET", "/sending-domains/example1.com"))
    http.add("GET", f"{US}/sending-domains",
             json=example(actions, "GET", "/sending-domains"))
    http.add("POST", f"{US}/sending-domains/example1.com/verify",
             json=example(actions, "POST", "/sending-domains/example1.com/verify"))
    acct = connect()
    created = acct.domains.create("example1.com")
    (dkim,) = created.records(RecordPurpose.DKIM)
    assert dkim.host == "scph0316._domainkey.example1.com"
    assert dkim.value.startswith("v=DKIM1; k=rsa; h=sha256; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNAD")
    got = acct.domains.get("example1.com")
    assert got.state is DomainState.UNVERIFIED
    assert got.records("dkim")[0].host == "hello_selector._domainkey.example1.com"
    listed = list(acct.domains.list())
    assert [d.name for d in listed] == ["example1.com", "example2.com"]
    assert all(d.verified for d in listed)
    verified = acct.domains.verify("example1.com")
    assert verified.verified
    assert verified.records("dkim")[0].status is RecordStatus.VALID


@pytest.mark.parametrize(("status", "index", "cls"), [
    (400, 0, espkit.Rejected), (400, 1, espkit.Rejected), (400, 2, espkit.Rejected)])
def test_domain_error_examples(actions: list[Action], http: responses.RequestsMock,
                               status: int, index: int, cls: type) -> None:
    body = example(actions, "POST", "/sending-domains", status, index)
    http.add("POST", f"{US}/sending-domains", status=status, json=body)
    with pytest.raises(cls) as info:
        connect().domains.create("example1.com")
    assert body["errors"][0]["description"] in str(info.value)
    assert info.value.code == body["errors"][0]["code"]


def test_delete_domain_404_example(actions: list[Action], http: responses.RequestsMock) -> None:
    http.add("DELETE", f"{US}/sending-domains/wrong.domain", status=404,
             json=example(actions, "DELETE", "/sending-domains/wrong.domain", 404))
    with pytest.raises(espkit.NotFound, match="does not exist"):
        connect().domains.delete("wrong.domain")


def test_ip_and_pool_examples(actions: list[Action], http: responses.RequestsMock) -> None:
    pools = example(actions, "GET", "/ip-pools")
    http.add("GET", f"{US}/ip-pools", json=pools)
    http.add("GET", f"{US}/sending-ips", json=example(actions, "GET", "/sending-ips"))
    http.add("GET", f"{US}/sending-ips/123.45.67.89",
             json=example(actions, "GET", "/sending-ips/123.45.67.89"))
    acct = connect()
    ips = list(acct.ips.list())
    assert [(i.address, i.pool, i.warming_up) for i in ips] == [
        ("123.45.67.89", "marketing", True), ("123.45.67.80", "Default", False)]
    assert ips[0].rdns == "mta472a.sparkpostmail.com"
    one = acct.ips.get("123.45.67.89")
    assert (one.pool, one.raw["auto_warmup_stage"]) == ("cool_kids", 5)
    listed = {p.name: p for p in acct.pools.list()}
    assert set(listed) == {"Marketing IP Pool", "Default"}
    assert listed["Default"].ips == ("54.244.54.135",)
    assert acct.pools.get("marketing_ip_pool").id == "marketing_ip_pool"
    http.add("GET", f"{US}/ip-pools/marketing_ip_pool",
             json=example(actions, "GET", "/ip-pools/marketing_ip_pool"))
    http.add("PUT", f"{US}/sending-ips/54.244.54.137",
             json=example(actions, "PUT", "/sending-ips/54.244.54.137"))
    moved = acct.pools.add_ip("marketing_ip_pool", "54.244.54.137")
    assert moved.ips == ("54.244.54.135", "54.244.54.137")


def test_pool_error_examples(actions: list[Action], http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}/ip-pools", json=example(actions, "GET", "/ip-pools"))
    http.add("DELETE", f"{US}/ip-pools/default", status=400,
             json=example(actions, "DELETE", "/ip-pools/default", 400))
    with pytest.raises(espkit.Rejected, match="reserved"):
        connect().pools.delete("default")


def test_subaccount_examples(actions: list[Action], http: responses.RequestsMock) -> None:
    http.add("POST", f"{US}/subaccounts", json=example(actions, "POST", "/subaccounts"))
    http.add("GET", f"{US}/subaccounts/123", json=example(actions, "GET", "/subaccounts/123"))
    http.add("GET", f"{US}/subaccounts", json=example(actions, "GET", "/subaccounts"))
    http.add("GET", f"{US}/ip-pools", json={"results": [
        {"id": "assigned_ip_pool", "name": "assigned_ip_pool", "ips": []}]})
    http.add("PUT", f"{US}/subaccounts/123", json=example(actions, "PUT", "/subaccounts/123"))
    acct = connect()
    created = acct.subaccounts.create("Sparkle-Ponies")
    assert (created.id, created.name) == ("888", "Sparkle-Ponies")
    got = acct.subaccounts.get("123")
    assert (got.name, got.enabled, got.raw["ip_pool"]) == ("Joes Garage", True,
                                                           "assigned_ip_pool")
    listed = list(acct.subaccounts.list())
    assert [(s.id, s.enabled) for s in listed] == [("123", True), ("456", True),
                                                   ("789", False)]
    a = acct.subaccounts.assign("123", pool="assigned_ip_pool")
    assert (a.kind, a.target) == (AssignmentKind.POOL, "assigned_ip_pool")


# -- the Metrics API's time series (warmup and delivery figures, issue 15) -----------------------

#: "Time-Series Metrics [GET /v1/metrics/deliverability/time-series{?...}]" in
#: content/api/metrics.apib of github.com/SparkPost/developers.sparkpost.com at 88f24dc (the
#: commit ../shared/specs/sparkpost was copied from), published at
#: https://developers.sparkpost.com/api/metrics/#metrics-get-time-series-metrics. metrics.apib
#: is not in ../shared/specs, so what the checks need is transcribed here from its "+ Parameters".
TIME_SERIES_PATH = "/metrics/deliverability/time-series"
TIME_SERIES_PARAMS = {
    "from", "to", "delimiter", "query_filters", "domains", "campaigns", "subject_campaigns",
    "mailbox_providers", "mailbox_provider_regions", "templates", "sending_ips", "ip_pools",
    "sending_domains", "subaccounts", "precision", "metrics", "timezone",
}
TIME_SERIES_REQUIRED = {"from", "metrics"}
TIME_SERIES_PRECISIONS = {"1min", "5min", "15min", "hour", "12hr", "day", "week", "month"}
TIME_SERIES_METRICS = {
    "count_injected", "count_bounce", "count_rejected", "count_delivered",
    "count_delivered_first", "count_delivered_subsequent", "total_delivery_time_first",
    "total_delivery_time_subsequent", "total_msg_volume", "count_policy_rejection",
    "count_generation_rejection", "count_generation_failed", "count_inband_bounce",
    "count_initial_rendered", "count_nonprefetched_initial_rendered", "count_outofband_bounce",
    "count_soft_bounce", "count_hard_bounce", "count_block_bounce", "count_admin_bounce",
    "count_undetermined_bounce", "count_delayed", "count_delayed_first", "count_rendered",
    "count_nonprefetched_rendered", "count_unique_rendered",
    "count_nonprefetched_unique_rendered", "count_unique_confirmed_opened",
    "count_nonprefetched_unique_confirmed_opened", "count_unique_initial_rendered",
    "count_nonprefetched_unique_initial_rendered", "count_clicked", "count_unique_clicked",
    "count_targeted", "count_sent", "count_accepted", "count_spam_complaint",
    "count_inbox_panel", "count_spam_panel", "count_inbox_seed", "count_spam_seed",
    "count_inbox_seed_private", "count_spam_seed_private", "count_inbox_seed_virtual",
    "count_spam_seed_virtual", "count_moved_to_inbox", "count_moved_to_spam",
}
#: "Datetime in format of YYYY-MM-DDTHH:MM"
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def test_every_metrics_request_uses_documented_parameters_and_values(
        sleeps: list[float]) -> None:
    with SparkPostFake() as fake:
        acct = fake.connect()
        acct.pools.create("warm-pool", ips=[fake.ips[0]])
        for resolution in ("hour", "day", "month"):
            acct.stats.delivery("2026-12-01", "2026-12-02", resolution=resolution)
        for scope, target in (("domain", "news.example.com"), ("ip", fake.ips[0]),
                              ("pool", "warm-pool"), ("subaccount", "0")):
            acct.stats.delivery("2026-12-01", "2026-12-02", **{scope: target})
        acct.on_behalf_of("101").stats.delivery("2026-12-01", "2026-12-02")
    sent = [(m, q) for m, path, q in fake.query_values if path == TIME_SERIES_PATH]
    assert len(sent) == 8
    for method, query in sent:
        assert method == "GET"
        assert TIME_SERIES_REQUIRED <= set(query) <= TIME_SERIES_PARAMS
        assert query["precision"] in TIME_SERIES_PRECISIONS
        assert set(query["metrics"].split(",")) <= TIME_SERIES_METRICS
        assert _DATETIME.fullmatch(query["from"])
        assert _DATETIME.fullmatch(query["to"])
        assert "domains" not in query  # recipient domains; a sending domain is sending_domains
    assert [q["precision"] for _, q in sent[:3]] == ["hour", "day", "month"]


#: the example answer of "Time-Series Metrics" (its two rows, the fields espkit reads and ts)
TIME_SERIES_EXAMPLE = {"results": [
    {"count_bounce": 24176, "count_delayed": 61224, "count_delivered": 219916,
     "count_hard_bounce": 4296, "count_sent": 241693, "count_soft_bounce": 1961,
     "count_spam_complaint": 3, "count_block_bounce": 16789,
     "ts": "2020-10-04T00:00:00-04:00"},
    {"count_bounce": 16120, "count_delayed": 40527, "count_delivered": 145617,
     "count_hard_bounce": 2817, "count_sent": 160118, "count_soft_bounce": 1357,
     "count_spam_complaint": 2, "count_block_bounce": 11176,
     "ts": "2020-10-05T00:00:00-04:00"},
]}


def test_the_time_series_example_parses(http: responses.RequestsMock) -> None:
    http.add("GET", f"{US}{TIME_SERIES_PATH}", json=TIME_SERIES_EXAMPLE)
    rows = connect().stats.delivery("2020-10-04", "2020-10-05")
    assert [(r.period.day, r.sent, r.delivered, r.bounced_hard, r.bounced_soft,
             r.complained, r.deferred) for r in rows] == [
        (4, 241693, 219916, 4296, 1961, 3, 61224), (5, 160118, 145617, 2817, 1357, 2, 40527)]
    assert rows[0].raw["count_block_bounce"] == 16789  # kept: hard + soft is not every bounce

"""Whatever an ESP answers, a public call returns a well-formed model or raises an
``espkit.EspError``: never a ``KeyError``, ``TypeError``, ``ValueError``, ``RecursionError``...

Every provider's read and write paths (``response_cases.py``: domains, IPs, pools,
assignments, subaccounts, streams) are served generated bodies, through the real transport
(or botocore's parser for SES):

* from the official response schemas (Mailgun's OpenAPI 3.1, SendGrid's OpenAPI files in
  ``../shared/specs``), with hypothesis-jsonschema's ``from_schema``; half of them are aimed
  at the object asked for, so decoding goes past the name check;
* from mutations of good answers (keys dropped, values of the wrong type, nulls, huge and
  non-finite numbers, deep nesting, hostile strings: dot segments, control characters, the
  API key itself) and from bodies that are not the answer at all (not JSON, empty, truncated,
  nested deeper than Python's parser goes), with the statuses an ESP sends.

A ``ProtocolError`` must come from a reader's refusal, not from the safety net in
``payload.decoded`` catching a decoder's own slip (its ``__cause__`` tells). No error may show
an API key. The tally of inputs and outcomes is written to ``$ESPKIT_FUZZ_TALLY`` when set.
"""

from __future__ import annotations

import collections
import copy
import functools
import ipaddress
import json
import os
import re
import types
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture_utils
from response_cases import KEYS, WORLDS, Answer, Case, Raw, World, serve

import espkit
from espkit.errors import EspError, ProtocolError
from espkit.models import (
    Assignment,
    AssignmentKind,
    DedicatedIp,
    DeliveryStats,
    DnsRecord,
    Domain,
    DomainState,
    IpPool,
    RecordPurpose,
    RecordStatus,
    Stream,
    StreamKind,
    Subaccount,
    Warmup,
    WarmupState,
)
from espkit.providers.payload import EXCERPT_CHARS

#: generated inputs per test (the file runs in about 12 s on one core);
#: ``ESPKIT_FUZZ_SCALE=20`` runs twenty times as many (a longer hunt, e.g. nightly)
_SCALE = max(1, int(os.environ.get("ESPKIT_FUZZ_SCALE", "1")))
SPEC_EXAMPLES = 100 * _SCALE
MUTATION_EXAMPLES = 180 * _SCALE
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
           HealthCheck.filter_too_much, HealthCheck.large_base_example]

#: (provider, source, outcome) -> count, for the report
TALLY: collections.Counter[tuple[str, str, str]] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    where = os.environ.get("ESPKIT_FUZZ_TALLY")
    if where:
        rows = [{"provider": p, "source": s, "outcome": o, "count": n}
                for (p, s, o), n in sorted(TALLY.items())]
        Path(where).write_text(json.dumps(rows, indent=1))


# -- hypothesis-jsonschema on current hypothesis -------------------------------------------------
#
# hypothesis-jsonschema 0.23 draws object properties with the ``many(...).more()`` protocol
# of hypothesis' internals, which hypothesis has since replaced (``for _ in many(...)``). Until
# it catches up, its module gets the old protocol, built on the public draw of a boolean; with
# a hypothesis that still has ``more()``, nothing is changed.

class _OldMany:
    def __init__(self, data: Any, min_size: int, max_size: float, average_size: float) -> None:
        self.data, self.min_size, self.max_size = data, min_size, max_size
        self.p_continue = conjecture_utils._calc_p_continue(average_size - min_size,
                                                            max_size - min_size)
        self.count = self.rejections = 0
        self.force_stop = False

    def more(self) -> bool:
        if self.min_size == self.max_size:
            go = self.count < self.min_size
        else:
            forced = (False if self.force_stop or self.count >= self.max_size
                      else True if self.count < self.min_size else None)
            go = self.data.draw_boolean(self.p_continue, forced=forced)
        self.count += go
        return bool(go)

    def reject(self, why: str | None = None) -> None:
        self.count -= 1
        self.rejections += 1
        if self.rejections > max(3, 2 * self.count):
            if self.count < self.min_size:
                self.data.mark_invalid(why)
            self.force_stop = True


def _from_schema() -> Callable[[Any], st.SearchStrategy[Any]]:
    import hypothesis_jsonschema
    import hypothesis_jsonschema._from_schema as generator

    if not hasattr(conjecture_utils.many, "more"):
        compat = types.ModuleType("conjecture_utils_compat")
        compat.__getattr__ = lambda name: getattr(conjecture_utils, name)  # type: ignore[method-assign]
        compat.many = _OldMany  # type: ignore[attr-defined]
        generator.cu = compat  # type: ignore[attr-defined]
    return hypothesis_jsonschema.from_schema  # type: ignore[no-any-return]


# -- the official response schemas ---------------------------------------------------------------

#: keywords that only document (or that OpenAPI adds to JSON Schema)
_DOC_ONLY = {"example", "examples", "description", "title", "format", "deprecated",
             "readOnly", "writeOnly", "discriminator", "xml", "externalDocs", "default"}


@functools.cache
def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _inline(raw: Any, node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with its local ``$ref``s inlined (a recursive one becomes "anything") and
    documentation keywords dropped. Objects get ``additionalProperties: false`` and lists
    and strings a small size, so generation spends its time on the documented fields."""
    if isinstance(node, list):
        return [_inline(raw, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            return {}
        target = raw
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return _inline(raw, target, (*seen, ref))
    out = {k: _inline(raw, v, seen) for k, v in node.items() if k not in _DOC_ONLY}
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("additionalProperties", False)
    if out.get("type") == "array":
        out.setdefault("maxItems", 3)
    if out.get("type") == "string":
        out.setdefault("maxLength", 40)
    return out


@functools.cache
def spec_strategy(spec_dir: Path, ref: tuple[str, str, str, str]) -> st.SearchStrategy[Any]:
    file, path, method, status = ref
    raw = _load(spec_dir / file)
    response = raw["paths"][path][method]["responses"][status]
    if "$ref" in response:
        response = _inline(raw, response)
    schema = response["content"]["application/json"]["schema"]
    return _from_schema()(_inline(raw, schema))


# -- hostile answers -------------------------------------------------------------------------------

_STRINGS = ["", " ", ".", "..", "../../etc/passwd", "a" * 3000, "\x00\x1b[2J\x07", "\u202e",
            "\ud800", "\n$INCLUDE /etc/passwd", "mg.example.com.", "MG.EXAMPLE.COM",
            "other.example.com", "x\u200b.example.com", "not an ip", "999.1.1.1", "::1",
            "01.2.3.4", "²", "١٢", "10²", "Transactional", "DOMAIN", "active", "true", "null",
            "NaN", "1e999", "Basic YXBpOmtleS0zYXg2eG5qcDI5amQ2ZmRzNGdjMzczc2d2anh0ZW9sMA==",
            *KEYS, *(f"Bearer {k}" for k in KEYS), *(f"api:{k}" for k in KEYS)]
_NUMBERS = [0, -1, 1, 65536, 2**63, -(2**63) - 1, 10**30, 10**300, 1.5, -0.0, 1e308,
            float("inf"), float("-inf"), float("nan")]
scalars = st.one_of(st.sampled_from([None, True, False, *_NUMBERS, *_STRINGS]),
                    st.integers(), st.floats(), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10)

_DEEP = 100_000
raw_bodies = st.sampled_from([
    Raw(b""), Raw(b" "), Raw(b"not json"), Raw(b"<html><body>502 Bad Gateway</body></html>"),
    Raw(b'{"items": ['), Raw(b"null"), Raw(b"true"), Raw(b"[]"), Raw(b"{}"), Raw(b'""'),
    Raw(b"[" * _DEEP + b"]" * _DEEP), Raw(b'{"a":' * 5000 + b"1" + b"}" * 5000),
    Raw(b"1" * 5000), Raw(b'{"total_count": ' + b"9" * 5000 + b', "items": []}'),
    Raw(b"\xff\xfe\x00{"), Raw(b"NaN"), Raw(b"Infinity"), Raw(json.dumps(KEYS).encode()),
    Raw(b'{"message": "Authorization: Basic YXBpOmtleQ==", "key": "' + KEYS[0].encode() + b'"}'),
])


def nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def _paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:6]):
            yield from _paths(value, (*here, index))


def _replace(body: Any, path: tuple[Any, ...], value: Any, *, drop: bool = False) -> Any:
    if not path:
        return value
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` with one to three things broken."""
    body = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(body))))
        current: Any = body
        for key in path:
            current = current[key]
        how = draw(st.sampled_from(["replace", "replace", "drop", "nest", "wrap", "empty"]))
        if how == "drop" and path:
            body = _replace(body, path, None, drop=True)
        elif how == "nest":
            body = _replace(body, path, nested(current, draw(st.integers(1, 400))))
        elif how == "wrap":
            body = _replace(body, path, draw(st.sampled_from([[current], {"x": current}])))
        elif how == "empty":
            body = _replace(body, path, type(current)() if isinstance(
                current, (dict, list, str)) else None)
        else:
            body = _replace(body, path, draw(json_values))
    return body


statuses = st.sampled_from([200] * 12 + [201, 204, 400, 401, 403, 404, 409, 422])


def mutation_answers(case: Case) -> st.SearchStrategy[Answer]:
    bodies = st.one_of(mutated(case.seed), mutated(case.seed), mutated(case.seed),
                       st.just(case.seed), raw_bodies, json_values)
    return st.builds(Answer, statuses, bodies)


# -- what a call may return ------------------------------------------------------------------------


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _opt_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _an_ip(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(ipaddress.ip_address(value)) == value
    except ValueError:
        return False


_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def check_model(value: Any, case: Case, world: World) -> None:
    """``value`` is what the call documents: models with the fields of their types."""
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            check_model(item, case, world)
        return
    if isinstance(value, dict):  # pool_links: domain -> pool
        assert all(_NAME.fullmatch(k) and _text(v) for k, v in value.items()), value
        return
    if isinstance(value, Domain):
        assert _NAME.fullmatch(value.name), value
        assert case.asked is None or value.name == case.asked, (value.name, case.asked)
        assert value.provider == world.provider
        assert isinstance(value.state, DomainState)
        assert _opt_text(value.id)
        assert _opt_text(value.subaccount)
        assert value.created_at is None or isinstance(value.created_at, datetime)
        for record in value.dns_records:
            assert isinstance(record, DnsRecord)
            assert isinstance(record.purpose, RecordPurpose)
            assert _text(record.type)
            assert _text(record.host)
            assert _text(record.value)
            assert record.priority is None or (isinstance(record.priority, int)
                                               and 0 <= record.priority <= 65535)
            assert isinstance(record.status, RecordStatus)
    elif isinstance(value, DedicatedIp):
        assert _an_ip(value.address), value
        assert _opt_text(value.pool)
        assert _opt_text(value.rdns)
        assert value.warming_up in (None, True, False)
        assert isinstance(value.enabled, bool)
    elif isinstance(value, IpPool):
        assert _text(value.name), value
        assert value.name
        assert _opt_text(value.id)
        assert all(_an_ip(ip) for ip in value.ips), value
        assert _opt_text(value.description)
    elif isinstance(value, Subaccount):
        assert _text(value.id), value
        assert value.id
        assert _text(value.name)
        assert isinstance(value.enabled, bool)
    elif isinstance(value, Stream):
        assert _text(value.id), value
        assert value.id
        assert _text(value.name)
        assert isinstance(value.kind, StreamKind)
        assert _opt_text(value.subaccount)
    elif isinstance(value, Assignment):
        assert _text(value.domain), value
        assert isinstance(value.kind, AssignmentKind)
        assert _text(value.target)
        assert value.target
    elif isinstance(value, Warmup):
        assert _an_ip(value.ip), value
        assert value.provider == world.provider
        assert isinstance(value.state, WarmupState)
        for figure in (value.stage, value.stages, value.daily_cap, value.hourly_cap):
            assert figure is None or (type(figure) is int and figure >= 0), value
        assert value.progress is None or 0.0 <= value.progress <= 1.0, value
        assert _opt_text(value.overflow)
        assert value.started is None or isinstance(value.started, datetime)
    elif isinstance(value, DeliveryStats):
        assert isinstance(value.period, datetime), value
        assert value.period.tzinfo is not None
        for figure in (value.sent, value.delivered, value.bounced_hard, value.bounced_soft,
                       value.complained, value.deferred):
            assert figure is None or (type(figure) is int and figure >= 0), value
    else:
        raise AssertionError(f"{case.name} returned a {type(value).__name__}: {value!r}")
    repr(value)


def check_error(exc: EspError, world: World, case: Case) -> None:
    """No error shows the credentials its request carried; a ProtocolError (espkit's own
    reading) shows none of the account's. The error is well formed and printable."""
    text = f"{exc}\n{exc!r}"
    shown = (*world.secrets, *case.sent) if isinstance(exc, ProtocolError) \
        else case.sent or world.secrets
    for key in shown:
        assert key not in text, f"the key shows in {type(exc).__name__}: {text[:300]}"
    if isinstance(exc, ProtocolError):
        # a reader refused the answer; a decoder that slipped would leave its error here
        assert exc.__cause__ is None, f"decoder slip: {exc.__cause__!r}"
        assert len(exc.excerpt) <= EXCERPT_CHARS
        assert exc.excerpt.isprintable()
        assert str(exc).isprintable(), str(exc)
        assert exc.body is None


def attempt(world: World, case: Case, answer: Answer, source: str,
            acct: espkit.Account | None = None) -> str:
    """Run the case's call against ``answer``; check and tally what came out."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        acct = acct or world.connect()
        serve(world, case, answer, mock, acct)
        try:
            result = case.call(acct)
        except ProtocolError as exc:
            check_error(exc, world, case)
            outcome = "ProtocolError"
        except EspError as exc:
            check_error(exc, world, case)
            outcome = type(exc).__name__
        else:
            check_model(result, case, world)
            outcome = "model"
    TALLY[(world.provider, source, outcome)] += 1
    return outcome


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.spec
@pytest.mark.parametrize("provider", ["mailgun", "sendgrid"])
@settings(max_examples=SPEC_EXAMPLES, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_answers_generated_from_the_official_schema(
    provider: str, spec_dir: Path, sleeps: list[float], data: st.DataObject,
) -> None:
    world = WORLDS[provider]()
    case = data.draw(st.sampled_from([c for c in world.cases if c.spec]), label="case")
    assert case.spec is not None
    body = data.draw(spec_strategy(spec_dir, case.spec), label="body")
    if case.aim is not None and data.draw(st.booleans(), label="aimed"):
        body = case.aim(body)
    attempt(world, case, Answer(200, body), "spec")


@pytest.mark.parametrize("provider", sorted(WORLDS))
@settings(max_examples=MUTATION_EXAMPLES, deadline=None, suppress_health_check=_HEALTH)
@given(data=st.data())
def test_mutated_and_hostile_answers(provider: str, sleeps: list[float],
                                     data: st.DataObject) -> None:
    world = WORLDS[provider]()
    case = data.draw(st.sampled_from(world.cases), label="case")
    answer = data.draw(mutation_answers(case), label="answer")
    attempt(world, case, answer, "mutation", _ses_account() if provider == "ses" else None)


@functools.cache
def _ses_account() -> espkit.Account:
    """One SES account for every example (a botocore client takes a while to build); each
    example's ``before-send`` hook replaces the last one's."""
    return WORLDS["ses"]().connect()


@pytest.mark.parametrize("provider", sorted(WORLDS))
def test_every_case_reads_its_good_answer(provider: str, sleeps: list[float]) -> None:
    """The fuzzing's baseline: each case's seed is a good answer, read into models. (Without
    this, a case whose call never reaches its fuzzed request would pass vacuously.)"""
    world = WORLDS[provider]()
    for case in world.cases:
        world.requests.clear()
        outcome = attempt(world, case, Answer(200, case.seed), "seed",
                          _ses_account() if provider == "ses" else None)
        assert outcome == "model", (case.name, outcome)
        assert any(m == case.method and re.fullmatch(case.path, p)
                   for m, p in world.requests), (case.name, world.requests)

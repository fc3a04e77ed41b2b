"""A fake SES v2 account: moto (``mock_aws``) plus botocore event hooks.

moto keeps identities, pools and configuration sets. Hooks on the session's event emitter
(which every client made from it copies) fill in what moto lacks or gets wrong, as SES does it:

* ``before-parameter-build`` remembers each call's API parameters;
* ``before-call`` counts calls, injects faults (a response here short-circuits the wire),
  answers the operations moto does not implement (dedicated IPs, MAIL FROM, an identity's
  default configuration set) and the errors it does not raise (duplicate identity or pool,
  missing pool);
* ``after-call`` overwrites moto's identity answers with SES's shape: three DKIM tokens,
  PENDING until ``publish_dns``, and raises the read timeout of ``timeout_after_commit``.

moto implements none of the warm-up or metrics operations, so the fake answers them, in the
shapes of the botocore model: ``GetDedicatedIp(s)`` from a warm-up percentage per IP
(``warmup``; 100 is ``DONE``, below is ``IN_PROGRESS``, an IP of a MANAGED pool is
``NOT_APPLICABLE`` at -1), ``PutDedicatedIpWarmupAttributes`` sets it,
``GetAccount`` / ``PutAccountDedicatedIpWarmupAttributes`` read and set the account-wide
switch (``auto_warmup``), and ``BatchGetMetricData`` sums what ``record_sends`` recorded per
UTC day, email identity and configuration set, one timestamp per day with traffic.
``answer_next`` serves a body as botocore would have parsed it (no parsing: the values reach
the provider as given, as botocore's JSON parser passes numbers through).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timezone
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import espkit
from espkit.providers.ses import DEFAULT_POOL

from .base import WireFake

T = TypeVar("T")

REGION = "eu-west-1"
ACCESS_KEY = "AKIAFAKESES000000000"
SECRET_KEY = "fake-ses-secret-0123456789-DO-NOT-LOG"

Json = dict[str, Any]
Answer = tuple[AWSResponse, Json]


def _answer(status: int, body: Json | None = None, headers: dict[str, str] | None = None
            ) -> Answer:
    meta = {"HTTPStatusCode": status, "HTTPHeaders": headers or {},
            "RequestId": f"fake-{secrets.token_hex(4)}"}
    return AWSResponse(None, status, headers or {}, None), {**(body or {}),
                                                            "ResponseMetadata": meta}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None
           ) -> Answer:
    return _answer(status, {"Error": {"Code": code, "Message": message}}, headers)


class SesFake(WireFake):
    provider = "ses"
    ips = ("198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13")
    create_domain_path = "CreateEmailIdentity"
    get_domain_path = "GetEmailIdentity"

    def __init__(self) -> None:
        super().__init__()
        #: name -> {"tokens", "mail_from", "config_set"}; verified once its name is published
        self.domains: dict[str, Json] = {}
        self.ip_pool: dict[str, str] = dict.fromkeys(self.ips, DEFAULT_POOL)
        self.pools: set[str] = {DEFAULT_POOL}
        # per thread: the bulk engine's workers call at once, each suffers its own fault
        self._pending = threading.local()
        self._serial = threading.RLock()
        #: (operation, API parameters) per call, as the caller passed them
        self.params: list[tuple[str, Json]] = []
        #: warm-up percentage per standard IP (missing: 100, warmed up)
        self.warmup: dict[str, int] = {}
        #: pools whose IPs SES manages (and warms) itself
        self.managed: set[str] = set()
        #: the account-wide automatic warm-up switch
        self.auto_warmup = True
        #: (day, email identity, configuration set, counts by VDM metric)
        self.sends: list[tuple[date, str | None, str | None, Counter[str]]] = []
        #: operation -> bodies to answer its next calls with, first first
        self.canned: dict[str, list[Json]] = {}

    @property
    def calls(self) -> list[tuple[str, str]]:
        """The log under its SES name: (HTTP method, operation) per call."""
        return self.log

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> SesFake:
        self._mock = mock_aws()
        self._mock.start()
        self.session = boto3.Session(aws_access_key_id=ACCESS_KEY,
                                     aws_secret_access_key=SECRET_KEY, region_name=REGION)
        events = self.session.events
        events.register("before-parameter-build.sesv2", self._remember_params)
        events.register("before-call.sesv2", self._serially(self._before_call))
        events.register("after-call.sesv2", self._serially(self._after_call))
        return self

    def _serially(self, hook: Callable[..., T]) -> Callable[..., T]:
        """``hook``, one call at a time: SES applies one request at a time to its state,
        and the bulk engine's workers call from many threads."""
        def serial(*args: Any, **kwargs: Any) -> T:
            with self._serial:
                return hook(*args, **kwargs)
        return serial

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("ses", region=REGION, session=self.session, **options)

    # -- what tests set up ------------------------------------------------------------------

    def lease_managed_ip(self, ip: str, pool: str) -> None:
        """SES leased ``ip`` into MANAGED pool ``pool`` (made if new)."""
        self.pools.add(pool)
        self.managed.add(pool)
        self.ip_pool[ip] = pool

    def record_sends(self, day: date, *, identity: str | None = None,
                     config_set: str | None = None, **counts: int) -> None:
        """Record VDM counts (``SEND=10, DELIVERY=9``...) for ``day``, sent from
        ``identity`` through ``config_set``."""
        self.sends.append((day, identity, config_set, Counter(counts)))

    def answer_next(self, operation: str, body: Json) -> None:
        """The next call of ``operation`` gets ``body`` as its parsed answer."""
        self.canned.setdefault(operation, []).append(body)

    # -- hooks --------------------------------------------------------------------------------

    @staticmethod
    def _remember_params(params: Json, context: Json, **_: Any) -> None:
        context["fake_params"] = dict(params)

    def _before_call(self, model: Any, context: Json, **_: Any) -> Answer | None:
        op = model.name
        fault = self._arrive(model.http["method"], op)
        if fault == "429":
            return _error(429, "TooManyRequestsException", "Too many requests",
                          {"retry-after": "1"})
        if fault == "429-date":
            return _error(429, "TooManyRequestsException", "Too many requests")
        if fault == "503":
            return _error(503, "ServiceUnavailable", "Service unavailable")
        self._pending.timeout = fault == "timeout_after_commit"
        params = context.get("fake_params") or {}
        self.params.append((op, dict(params)))
        if self.canned.get(op):
            return _answer(200, self.canned[op].pop(0))
        return self._warmups(op, params) or self._emulate(op, params)

    def _emulate(self, op: str, p: Json) -> Answer | None:
        name = str(p.get("EmailIdentity", "")).lower()
        if op == "CreateEmailIdentity" and name in self.domains:
            return _error(400, "AlreadyExistsException", f"{name} already exists")
        if op in ("DeleteEmailIdentity", "PutEmailIdentityMailFromAttributes",
                  "PutEmailIdentityConfigurationSetAttributes", "GetEmailIdentity") \
                and name not in self.domains:
            return _error(404, "NotFoundException", f"Email identity {name} does not exist.")
        if op == "PutEmailIdentityMailFromAttributes":
            self.domains[name]["mail_from"] = p.get("MailFromDomain")
            return _answer(200)
        if op == "PutEmailIdentityConfigurationSetAttributes":
            self.domains[name]["config_set"] = p.get("ConfigurationSetName")
            return _answer(200)
        pool = p.get("PoolName") or p.get("DestinationPoolName")
        if op == "CreateDedicatedIpPool" and pool in self.pools:
            return _error(400, "AlreadyExistsException", f"Pool {pool} already exists")
        if op in ("GetDedicatedIpPool", "DeleteDedicatedIpPool", "PutDedicatedIpInPool") \
                and pool not in self.pools:
            return _error(404, "NotFoundException", f"Pool {pool} does not exist")
        ip = p.get("Ip")
        if op in ("GetDedicatedIp", "PutDedicatedIpInPool") and ip not in self.ip_pool:
            return _error(404, "NotFoundException", f"Dedicated IP {ip} does not exist")
        if op == "PutDedicatedIpInPool":
            self.ip_pool[str(ip)] = str(pool)
            return _answer(200)
        if op == "GetDedicatedIp":
            return _answer(200, {"DedicatedIp": self._ip(str(ip))})
        if op == "GetDedicatedIps":
            return _answer(200, {"DedicatedIps": [
                self._ip(a) for a, where in self.ip_pool.items()
                if pool is None or where == pool]})
        return None

    def _ip(self, address: str) -> Json:
        pool = self.ip_pool[address]
        if pool in self.managed:
            return {"Ip": address, "WarmupStatus": "NOT_APPLICABLE", "WarmupPercentage": -1,
                    "PoolName": pool}
        share = self.warmup.get(address, 100)
        return {"Ip": address, "WarmupStatus": "DONE" if share >= 100 else "IN_PROGRESS",
                "WarmupPercentage": share, "PoolName": pool}

    def _warmups(self, op: str, p: Json) -> Answer | None:
        """The warm-up and metrics operations moto lacks."""
        if op == "GetAccount":
            return _answer(200, {"DedicatedIpAutoWarmupEnabled": self.auto_warmup,
                                 "EnforcementStatus": "HEALTHY", "SendingEnabled": True,
                                 "ProductionAccessEnabled": True})
        if op == "PutAccountDedicatedIpWarmupAttributes":
            self.auto_warmup = bool(p.get("AutoWarmupEnabled"))
            return _answer(200)
        if op == "PutDedicatedIpWarmupAttributes":
            ip = str(p.get("Ip"))
            if ip not in self.ip_pool:
                return _error(404, "NotFoundException", f"Dedicated IP {ip} does not exist")
            if self.ip_pool[ip] in self.managed:  # the fake's guess at SES's refusal
                return _error(400, "BadRequestException",
                              f"{ip} is in a managed pool: its warm-up is SES's")
            self.warmup[ip] = int(p["WarmupPercentage"])
            return _answer(200)
        if op == "BatchGetMetricData":
            return _answer(200, {"Results": [self._metric(q) for q in p["Queries"]],
                                 "Errors": []})
        return None

    def _metric(self, query: Json) -> Json:
        first, last = query["StartDate"].date(), query["EndDate"].date()
        dims = query.get("Dimensions") or {}
        totals: Counter[date] = Counter()
        for day, identity, config_set, counts in self.sends:
            seen = {"EMAIL_IDENTITY": identity, "CONFIGURATION_SET": config_set}
            if first <= day <= last and all(seen.get(k) == v for k, v in dims.items()):
                totals[day] += counts[query["Metric"]]
        days = sorted(totals)
        return {"Id": query["Id"],
                "Timestamps": [datetime.combine(d, time(), timezone.utc) for d in days],
                "Values": [totals[d] for d in days]}

    def _after_call(self, model: Any, parsed: Json, context: Json, http_response: Any,
                    **_: Any) -> None:
        op = model.name
        p = context.get("fake_params") or {}
        ok = http_response is not None and http_response.status_code < 300
        if ok:
            name = str(p.get("EmailIdentity", "")).lower()
            if op == "CreateEmailIdentity":
                self.domains[name] = {
                    "tokens": [secrets.token_hex(16) for _ in range(3)],
                    "mail_from": None, "config_set": p.get("ConfigurationSetName")}
            if op in ("CreateEmailIdentity", "GetEmailIdentity") and name in self.domains:
                self._identity(name, parsed)
            if op == "DeleteEmailIdentity":
                self.domains.pop(name, None)
                self.published.discard(name)  # a new identity gets new tokens to publish
            if op == "CreateDedicatedIpPool":
                self.pools.add(str(p["PoolName"]))
                if p.get("ScalingMode") == "MANAGED":
                    self.managed.add(str(p["PoolName"]))
            if op == "DeleteDedicatedIpPool":
                self.pools.discard(str(p["PoolName"]))
                for a, where in self.ip_pool.items():
                    if where == p["PoolName"]:
                        self.ip_pool[a] = DEFAULT_POOL
        if getattr(self._pending, "timeout", False):
            self._pending.timeout = False
            raise botocore.exceptions.ReadTimeoutError(
                endpoint_url=f"https://email.{REGION}.amazonaws.com")

    def _identity(self, name: str, parsed: Json) -> None:
        """SES's answer, not moto's: tokens, and nothing verified before DNS is published."""
        state = self.domains[name]
        verified = name in self.published
        status = "SUCCESS" if verified else "PENDING"
        parsed["DkimAttributes"] = {**parsed.get("DkimAttributes", {}),
                                    "Tokens": list(state["tokens"]), "Status": status,
                                    "SigningAttributesOrigin": "AWS_SES"}
        parsed["VerifiedForSendingStatus"] = verified
        if "VerificationStatus" in parsed:
            parsed["VerificationStatus"] = status
        if state["mail_from"]:
            parsed["MailFromAttributes"] = {
                "MailFromDomain": state["mail_from"], "MailFromDomainStatus": status,
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
        if state["config_set"]:
            parsed["ConfigurationSetName"] = state["config_set"]
        else:
            parsed.pop("ConfigurationSetName", None)


FAKE = SesFake

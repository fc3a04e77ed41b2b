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
"""

from __future__ import annotations

import secrets
from typing import Any

import boto3
import botocore.exceptions
from botocore.awsrequest import AWSResponse
from moto import mock_aws

import espkit
from espkit.providers.ses import DEFAULT_POOL

from .base import WireFake

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
        self._commit_then_timeout = False

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
        events.register("before-call.sesv2", self._before_call)
        events.register("after-call.sesv2", self._after_call)
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    def connect(self, **options: Any) -> espkit.Account:
        return espkit.connect("ses", region=REGION, session=self.session, **options)

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
        self._commit_then_timeout = fault == "timeout_after_commit"
        return self._emulate(op, context.get("fake_params") or {})

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
        return {"Ip": address, "WarmupStatus": "DONE", "WarmupPercentage": 100,
                "PoolName": self.ip_pool[address]}

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
            if op == "DeleteDedicatedIpPool":
                self.pools.discard(str(p["PoolName"]))
                for a, where in self.ip_pool.items():
                    if where == p["PoolName"]:
                        self.ip_pool[a] = DEFAULT_POOL
        if self._commit_then_timeout:
            self._commit_then_timeout = False
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

"""The world a documentation page's blocks run in (``PageWorld``): the wire-level ESP fakes
of ``tests/support/fakes`` behind every provider's real hosts, their keys in the providers'
usual variables, "live DNS" on a server at 127.0.0.1 (``system_resolver``), and espkit's
pytest fixtures for documented tests (``call_test``).

The fakes are made per page (a page's blocks build on each other's state) and answer only
while one of its blocks runs. HTTP fakes share one ``responses`` mock, so that several ESPs
(and both regions of one) can be reached from one block; any other URL is refused, so
nothing leaves the machine. SES runs on moto for the whole page (moto's state lives as long
as its mock), with every ``boto3.Session`` espkit makes hooked to the fake.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import dns.nameserver
import dns.resolver
import mdrunner
import mdsnippets
import responses
from support.dnsserver import LocalDns
from support.fakes import mailgun, postmark, sendgrid, sparkpost
from support.fakes.base import HttpFake

from espkit.testing import SandboxFactory

#: the variables each provider reads its key from, set to what the fakes accept
KEYS = {
    "MAILGUN_API_KEY": mailgun.KEY,
    "SENDGRID_API_KEY": sendgrid.KEY,
    "SPARKPOST_API_KEY": sparkpost.KEY,
    "POSTMARK_ACCOUNT_TOKEN": postmark.ACCOUNT_TOKEN,
    # a keyring lookup must not reach the developer's real keyring
    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
}
SPARKPOST_EU = "https://api.eu.sparkpost.com/api/v1"


def _at(fake: HttpFake, base: str) -> HttpFake:
    fake.base = base
    fake.foreign_hosts = ()
    return fake


class HttpFakes:
    """One ``responses`` mock in front of a fake per ESP host."""

    def __init__(self) -> None:
        #: by provider and region, for a page's hidden setup (``publish_dns``)
        self.fakes: dict[str, HttpFake] = {
            "mailgun": _at(mailgun.MailgunFake(), mailgun.US),
            "mailgun-eu": _at(mailgun.MailgunFake(), mailgun.EU),
            "sendgrid": _at(sendgrid.SendGridFake(), sendgrid.GLOBAL),
            "sendgrid-eu": _at(sendgrid.SendGridFake(), sendgrid.EU),
            "sparkpost": _at(sparkpost.SparkPostFake(), sparkpost.BASE),
            "sparkpost-eu": _at(sparkpost.SparkPostFake(base=SPARKPOST_EU), SPARKPOST_EU),
            "postmark": postmark.PostmarkFake(),
            # a company's forwarding proxy in front of Mailgun (docs/security.md)
            "mailgun-proxy": _at(mailgun.MailgunFake(), "https://mail-proxy.internal"),
        }
        #: fakes whose host answers every request as a key it does not know (``refuse``)
        self.refused: set[str] = set()
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        for name, fake in self.fakes.items():
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                self.mock.add_callback(method, _under(fake.base),
                                       callback=self._callback(name, fake))

    def _callback(self, name: str, fake: HttpFake) -> Any:
        def answer(request: Any) -> Any:
            if name in self.refused:
                status, headers, body = fake._unauthorized()
            else:  # HttpFake's wire step: log, fault, route
                status, headers, body = fake._handle(request)
            # every answer carries a request id, as the ESPs' own do
            return status, {"X-Request-Id": uuid.uuid4().hex, **headers}, body

        return answer

    def refuse(self, name: str) -> None:
        """Make the host of fake ``name`` refuse the key, as an ESP's other region does
        (both regions accept the key otherwise, so that a page can use either)."""
        self.fakes[name]  # a KeyError names a fake that does not exist
        self.refused.add(name)

    def __getitem__(self, name: str) -> HttpFake:
        return self.fakes[name]

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self.mock.start()
        try:
            yield
        finally:
            self.mock.stop(allow_assert=False)


def _under(url: str) -> Any:
    import re

    return re.compile(re.escape(url) + r"/.*")


@contextlib.contextmanager
def ses_fake(workdir: Path) -> Iterator[dict[str, str]]:
    """moto and the SES fake's hooks for the whole page; yields the environment that gives
    boto3 credentials, a region and the profile ``mail-prod`` the SES page names."""
    import boto3
    from support.fakes import ses

    fake = ses.SesFake()
    real_session = boto3.Session

    class HookedSession(real_session):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            events = self.events
            events.register("before-parameter-build.sesv2", fake._remember_params)
            events.register("before-call.sesv2", fake._before_call)
            events.register("after-call.sesv2", fake._after_call)

    config = workdir / ".aws-config"
    config.write_text(f"[default]\nregion = {ses.REGION}\n\n[profile mail-prod]\n"
                      f"region = {ses.REGION}\naws_access_key_id = {ses.ACCESS_KEY}\n"
                      f"aws_secret_access_key = {ses.SECRET_KEY}\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(config),
           "AWS_ACCESS_KEY_ID": ses.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": ses.SECRET_KEY}
    with fake, mock.patch.object(boto3, "Session", HookedSession):
        yield env


def call_test(fn: Callable[..., Any]) -> None:
    """A documented test function, called as pytest would, with espkit's fixtures."""
    factory = SandboxFactory()
    try:
        kwargs: dict[str, Any] = {}
        for name in inspect.signature(fn).parameters:
            if name == "espkit_sandbox_factory":
                kwargs[name] = factory
            elif name == "espkit_sandbox":
                kwargs[name] = factory()
            else:
                raise mdrunner.SnippetFailed(f"{fn.__name__} asks for fixture {name!r}")
        fn(**kwargs)
    finally:
        factory.close()


class PageWorld:
    """The per-page services: HTTP fakes for every page, SES (moto) for pages naming it."""

    def __init__(self, blocks: list[mdsnippets.Block], workdir: Path, server: LocalDns) -> None:
        self.http = HttpFakes()
        self.stack = contextlib.ExitStack()
        env = dict(KEYS)
        if "ses" in mdrunner.providers_named(blocks):
            env.update(self.stack.enter_context(ses_fake(workdir)))
        self.services = mdrunner.Services(
            around=[self.http.active, lambda: system_resolver(server)],
            env=env, nameserver=server.nameserver, call_test=call_test,
            fakes=self.http)


@contextlib.contextmanager
def system_resolver(server: LocalDns) -> Iterator[None]:
    """``dns.resolver.Resolver()`` (the system's resolver) asks the local server."""
    host, port = server.nameserver.rsplit(":", 1)

    def read_resolv_conf(self: dns.resolver.Resolver, _: Any = None) -> None:
        self.nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]

    with mock.patch.object(dns.resolver.Resolver, "read_resolv_conf", read_resolv_conf):
        yield


__all__ = ["KEYS", "HttpFakes", "PageWorld", "call_test", "ses_fake", "system_resolver"]

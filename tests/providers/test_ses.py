"""SES v2 provider. moto (``mock_aws``) where it implements the operation; botocore's
``Stubber`` for what it does not (dedicated IPs, MAIL FROM, DKIM tokens, an identity's default
configuration set). No test relies on moto's quirks (no DKIM tokens, instant verification)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from support.fakes.ses import ACCESS_KEY, REGION, SECRET_KEY, SesFake

import espkit
from espkit.errors import (
    AlreadyExists,
    AuthError,
    ConfigError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    Unsupported,
    ValidationError,
)
from espkit.models import AssignmentKind, Capability, DomainState, RecordPurpose, RecordStatus
from espkit.providers.ses import SesProvider

TOKENS = ["a" * 32, "b" * 32, "c" * 32]
DOMAIN = "news.acme.example"


def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                         region_name=REGION)


@pytest.fixture
def stubbed(sleeps: list[float]) -> Iterator[tuple[espkit.Account, Stubber]]:
    acct = espkit.connect("ses", session=session())
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    with Stubber(provider.client) as stub:
        yield acct, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def fake(sleeps: list[float]) -> Iterator[SesFake]:
    with SesFake() as f:
        yield f


def identity(verified: bool = False, mail_from: bool = True, **extra: Any) -> dict[str, Any]:
    status = "SUCCESS" if verified else "PENDING"
    body: dict[str, Any] = {
        "IdentityType": "DOMAIN", "VerifiedForSendingStatus": verified,
        "VerificationStatus": status,
        "DkimAttributes": {"SigningEnabled": True, "Status": status, "Tokens": TOKENS},
        **extra,
    }
    if mail_from:
        body["MailFromAttributes"] = {"MailFromDomain": f"mail.{DOMAIN}",
                                      "MailFromDomainStatus": status,
                                      "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    return body


# -- configuration ------------------------------------------------------------------------


def test_botocore_makes_one_attempt_and_espkit_does_the_retrying() -> None:
    acct = espkit.connect("ses", session=session())
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    assert provider.client.meta.config.retries["total_max_attempts"] == 1
    assert provider.region == REGION
    assert provider.runner.retry.max_attempts > 1


def test_region_is_required_and_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="region"):
        espkit.connect("ses", session=boto3.Session(aws_access_key_id="x",
                                                    aws_secret_access_key="y"))
    with pytest.raises(ConfigError, match="profile"):
        espkit.connect("ses", profile="no-such-profile", region="us-east-1")
    with pytest.raises(ValidationError):
        espkit.connect("ses", session=session(), configuration_set_prefix="bad prefix")
    with pytest.raises(ConfigError):
        espkit.connect("ses", session=session(), profile="p")


def test_unsupported_capabilities_say_what_ses_offers(fake: SesFake) -> None:
    acct = fake.connect()
    for call, cap in (
        (lambda: acct.subaccounts.create("tenant-a"), Capability.SUBACCOUNTS),
        (lambda: acct.on_behalf_of("123"), Capability.SUBACCOUNT_SCOPE),
        (lambda: acct.domains.assign(DOMAIN, ip="198.51.100.10"), Capability.ASSIGN_DOMAIN_IP),
        (lambda: acct.streams.list(), Capability.STREAMS),
    ):
        with pytest.raises(Unsupported) as info:
            call()
        assert info.value.capability == str(cap)
        assert info.value.hint
    assert fake.calls == []


def test_bad_names_are_refused_before_anything_is_sent(fake: SesFake) -> None:
    acct = fake.connect()
    with pytest.raises(ValidationError):
        acct.domains.create("bad/name.example")
    with pytest.raises(ValidationError):
        acct.pools.create("bad pool")
    with pytest.raises(ValidationError):
        acct.domains.assign(DOMAIN, pool="p" * 64)  # its configuration set name is too long
    with pytest.raises(Unsupported):
        acct.domains.create(DOMAIN, spam_action="tag")
    assert fake.calls == []


# -- identities with moto (through the fake's hooks) ---------------------------------------


def test_create_builds_dkim_cnames_and_mail_from_records(fake: SesFake) -> None:
    d = fake.connect().domains.create(DOMAIN, dkim_key_size=2048)
    tokens = fake.domains[DOMAIN]["tokens"]
    assert {(r.type, r.host, r.value) for r in d.records(RecordPurpose.DKIM)} == {
        ("CNAME", f"{t}._domainkey.{DOMAIN}", f"{t}.dkim.amazonses.com") for t in tokens}
    (mx,) = d.records("mx")
    assert (mx.host, mx.value, mx.priority) == (
        f"mail.{DOMAIN}", f"feedback-smtp.{REGION}.amazonses.com", 10)
    (spf,) = d.records("spf")
    assert (spf.type, spf.host, spf.value) == (
        "TXT", f"mail.{DOMAIN}", "v=spf1 include:amazonses.com ~all")
    assert d.state is DomainState.PENDING
    assert {r.status for r in d.dns_records} == {RecordStatus.PENDING}
    assert fake.domains[DOMAIN]["mail_from"] == f"mail.{DOMAIN}"


def test_duplicate_create_is_already_exists(fake: SesFake) -> None:
    acct = fake.connect()
    acct.domains.create(DOMAIN)
    with pytest.raises(AlreadyExists):
        acct.domains.create(DOMAIN)


def test_verify_rereads_the_status_ses_sets_on_its_own(fake: SesFake) -> None:
    acct = fake.connect()
    acct.domains.create(DOMAIN)
    assert not acct.domains.verify(DOMAIN).verified
    fake.publish_dns(DOMAIN)
    d = acct.domains.verify(DOMAIN)
    assert d.verified
    assert all(r.valid for r in d.dns_records)
    assert fake.sent("*", "Verify") == 0  # SES has no verify call


def test_list_pages_lazily_with_next_token(fake: SesFake) -> None:
    acct = fake.connect()
    names = [f"s{i:02d}.fleet.example" for i in range(7)]
    for name in names:
        acct.domains.create(name)
    before = fake.sent("*", "ListEmailIdentities")
    listed = acct.domains.list(page_size=3)
    assert fake.sent("*", "ListEmailIdentities") == before  # nothing fetched yet
    first = next(listed)
    assert first.name in names
    assert fake.sent("*", "ListEmailIdentities") == before + 1
    assert sorted([first.name, *(d.name for d in listed)]) == names
    assert fake.sent("*", "ListEmailIdentities") == before + 3


def test_delete_and_not_found(fake: SesFake) -> None:
    acct = fake.connect()
    acct.domains.create(DOMAIN)
    acct.domains.delete(DOMAIN)
    with pytest.raises(NotFound):
        acct.domains.get(DOMAIN)
    with pytest.raises(NotFound):
        acct.domains.delete(DOMAIN)


def test_throttled_create_is_retried_and_applied_once(fake: SesFake, sleeps: list[float]
                                                     ) -> None:
    acct = fake.connect()
    fake.fail_next("429", "POST", "CreateEmailIdentity")
    assert acct.domains.create(DOMAIN).name == DOMAIN
    assert fake.sent("POST", "CreateEmailIdentity") == 2
    assert 1.0 in sleeps  # the retry-after hint was honoured
    assert acct.provider.runner.stats["throttled"] == 1  # type: ignore[attr-defined]


def test_ambiguous_create_is_read_back_not_resent(fake: SesFake) -> None:
    acct = fake.connect()
    fake.fail_next("timeout_after_commit", "POST", "CreateEmailIdentity")
    d = acct.domains.create(DOMAIN)
    assert d.name == DOMAIN
    assert fake.sent("POST", "CreateEmailIdentity") == 1
    assert fake.domain_count() == 1


def test_server_error_on_a_create_is_maybe_applied_and_not_retried(fake: SesFake) -> None:
    provider: SesProvider = fake.connect().provider  # type: ignore[assignment]
    fake.fail_next("503", "POST", "CreateDedicatedIpPool")
    with pytest.raises(ServerError) as info:
        provider.create_pool("marketing", ())
    assert info.value.maybe_applied
    assert fake.sent("POST", "CreateDedicatedIpPool") == 1


def test_pools_assignment_and_unassignment(fake: SesFake) -> None:
    acct = fake.connect()
    acct.domains.create(DOMAIN)
    pool = acct.pools.create("marketing", ips=list(fake.ips[:2]), description="bulk")
    assert set(pool.ips) == set(fake.ips[:2])
    assert {p.name: set(p.ips) for p in acct.pools.list()}["marketing"] == set(fake.ips[:2])
    moved = acct.pools.create("transactional", ips=[fake.ips[1]])
    assert moved.ips == (fake.ips[1],)
    assert acct.pools.get("marketing").ips == (fake.ips[0],)  # exclusive: it moved
    assert acct.ips.get(fake.ips[1]).pool == "transactional"

    a = acct.domains.assign(DOMAIN, pool="marketing")
    assert (a.kind, a.target) == (AssignmentKind.POOL, "marketing")
    assert fake.domains[DOMAIN]["config_set"] == "espkit-marketing"
    assert [(x.kind, x.target) for x in acct.domains.assignments(DOMAIN)] == [
        (AssignmentKind.POOL, "marketing")]
    acct.domains.assign(DOMAIN, pool="marketing")  # re-running changes nothing
    acct.domains.unassign(DOMAIN, pool="marketing", replacement="transactional")
    assert [x.target for x in acct.domains.assignments(DOMAIN)] == ["transactional"]
    acct.domains.unassign(DOMAIN, pool="transactional")
    assert acct.domains.assignments(DOMAIN) == []
    with pytest.raises(NotFound):
        acct.domains.unassign(DOMAIN, pool="transactional")


def test_remove_ip_moves_it_to_the_default_pool_and_delete(fake: SesFake) -> None:
    acct = fake.connect()
    acct.pools.create("marketing", ips=list(fake.ips[:2]))
    assert acct.pools.remove_ip("marketing", fake.ips[0]).ips == (fake.ips[1],)
    assert acct.ips.get(fake.ips[0]).pool is None
    acct.pools.delete("marketing")
    with pytest.raises(NotFound):
        acct.pools.get("marketing")
    with pytest.raises(NotFound):
        acct.pools.add_ip("marketing", fake.ips[0])


def test_credentials_never_in_logs_reprs_or_errors(
    fake: SesFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="espkit")
    acct = fake.connect()
    fake.fail_next("429", "POST", "CreateEmailIdentity")
    acct.domains.create(DOMAIN)
    fake.fail_next("503", "POST", "CreateDedicatedIpPool")
    with pytest.raises(ServerError) as info:
        acct.provider.create_pool("x", ())
    texts = [caplog.text, repr(acct), repr(acct.provider), str(info.value),
             repr(info.value), repr(info.value.body)]
    for text in texts:
        assert SECRET_KEY not in text
        assert ACCESS_KEY not in text


# -- what moto does not implement, with botocore's Stubber -----------------------------------


def test_get_maps_statuses_from_dkim_and_mail_from(stubbed: Any) -> None:
    acct, stub = stubbed
    body = identity()
    body["MailFromAttributes"]["MailFromDomainStatus"] = "FAILED"
    stub.add_response("get_email_identity", body, {"EmailIdentity": DOMAIN})
    d = acct.domains.get(DOMAIN)
    assert {r.status for r in d.records("dkim")} == {RecordStatus.PENDING}
    assert {r.status for r in d.records("mx") + d.records("spf")} == {RecordStatus.INVALID}
    stub.add_response("get_email_identity", identity(verified=True), {"EmailIdentity": DOMAIN})
    assert acct.domains.verify(DOMAIN).verified


def test_dedicated_ips_and_warmup(stubbed: Any) -> None:
    acct, stub = stubbed
    stub.add_response("get_dedicated_ips", {
        "DedicatedIps": [{"Ip": "198.51.100.1", "WarmupStatus": "IN_PROGRESS",
                          "WarmupPercentage": 40, "PoolName": "marketing"}],
        "NextToken": "t2"}, {"PageSize": ANY})
    stub.add_response("get_dedicated_ips", {
        "DedicatedIps": [{"Ip": "198.51.100.2", "WarmupStatus": "DONE",
                          "WarmupPercentage": 100, "PoolName": "ses-default-dedicated-pool"}]},
        {"PageSize": ANY, "NextToken": "t2"})
    ips = list(acct.ips.list())
    assert [(i.address, i.pool, i.warming_up) for i in ips] == [
        ("198.51.100.1", "marketing", True), ("198.51.100.2", None, False)]
    stub.add_response("get_dedicated_ip", {"DedicatedIp": {
        "Ip": "198.51.100.1", "WarmupStatus": "IN_PROGRESS", "WarmupPercentage": 5}},
        {"Ip": "198.51.100.1"})
    assert acct.ips.get("198.51.100.1").warming_up is True


def test_error_codes_map_to_the_tree(stubbed: Any) -> None:
    acct, stub = stubbed
    cases = [
        ("LimitExceededException", 400, Rejected),  # a quota, not a throttle: not retried
        ("NotFoundException", 404, NotFound),
        ("AccessDeniedException", 403, AuthError),
        ("UnrecognizedClientException", 403, AuthError),
        ("BadRequestException", 400, Rejected),
    ]
    for code, status, cls in cases:
        stub.add_client_error("get_email_identity", code, "msg", status)
        with pytest.raises(cls) as info:
            acct.domains.get(DOMAIN)
        assert type(info.value) is cls
        assert info.value.code == code
        assert info.value.method == "GetEmailIdentity"


def test_throttling_on_reads_is_retried_then_surfaces(stubbed: Any, sleeps: list[float]
                                                     ) -> None:
    acct, stub = stubbed
    for _ in range(5):
        stub.add_client_error("get_email_identity", "TooManyRequestsException", "slow", 429)
    with pytest.raises(RateLimited):
        acct.domains.get(DOMAIN)
    assert len(sleeps) >= 4  # backoff between the five attempts (and limiter waits)


def test_connection_failures(monkeypatch: pytest.MonkeyPatch, sleeps: list[float]) -> None:
    import botocore.exceptions as bx

    acct = espkit.connect("ses", session=session())
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    calls: list[str] = []

    def refuse(**kw: Any) -> None:
        calls.append("x")
        raise bx.EndpointConnectionError(endpoint_url="https://email.test")

    monkeypatch.setattr(provider.client, "create_dedicated_ip_pool", refuse)
    with pytest.raises(TransportError) as info:
        provider.create_pool("p", ())
    assert not info.value.maybe_applied
    assert len(calls) == 5  # never sent, so safe to retry even a create

    def read_timeout(**kw: Any) -> None:
        calls.append("y")
        raise bx.ReadTimeoutError(endpoint_url="https://email.test")

    calls.clear()
    monkeypatch.setattr(provider.client, "create_dedicated_ip_pool", read_timeout)
    with pytest.raises(TransportError) as info:
        provider.create_pool("p", ())
    assert info.value.maybe_applied
    assert calls == ["y"]


def test_missing_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.exceptions as bx

    acct = espkit.connect("ses", session=session())
    provider: SesProvider = acct.provider  # type: ignore[assignment]

    def no_creds(**kw: Any) -> None:
        raise bx.NoCredentialsError()

    monkeypatch.setattr(provider.client, "get_email_identity", no_creds)
    with pytest.raises(ConfigError, match="credentials"):
        acct.domains.get(DOMAIN)


def test_assign_leaves_a_foreign_default_configuration_set_alone(stubbed: Any) -> None:
    acct, stub = stubbed
    stub.add_response("get_email_identity", identity(ConfigurationSetName="events-prod"),
                      {"EmailIdentity": DOMAIN})
    with pytest.raises(espkit.ConflictingState, match="events-prod"):
        acct.domains.assign(DOMAIN, pool="marketing")


def test_assign_with_stubber_sets_the_default_configuration_set(stubbed: Any) -> None:
    acct, stub = stubbed
    stub.add_response("get_email_identity", identity(), {"EmailIdentity": DOMAIN})
    stub.add_response("get_dedicated_ip_pool", {"DedicatedIpPool": {
        "PoolName": "marketing", "ScalingMode": "STANDARD"}}, {"PoolName": "marketing"})
    stub.add_client_error("get_configuration_set", "NotFoundException", "no", 404)
    stub.add_response("create_configuration_set", {}, {
        "ConfigurationSetName": "espkit-marketing",
        "DeliveryOptions": {"SendingPoolName": "marketing"}})
    stub.add_response("put_email_identity_configuration_set_attributes", {}, {
        "EmailIdentity": DOMAIN, "ConfigurationSetName": "espkit-marketing"})
    a = acct.domains.assign(DOMAIN, pool="marketing")
    assert a.raw["ConfigurationSetName"] == "espkit-marketing"


def test_moto_is_really_underneath() -> None:
    """Guard: the fake's identities live in moto, so a plain moto client sees them."""
    with SesFake() as fake:
        fake.connect().domains.create(DOMAIN)
        raw = boto3.client("sesv2", region_name=REGION, aws_access_key_id="a",
                           aws_secret_access_key="b")
        assert DOMAIN in [i["IdentityName"] for i in
                          raw.list_email_identities()["EmailIdentities"]]


@mock_aws
def test_plain_moto_pools_and_configuration_sets() -> None:
    acct = espkit.connect("ses", session=session())
    provider: SesProvider = acct.provider  # type: ignore[assignment]
    provider.create_pool("managed", (), scaling_mode="MANAGED")
    pool = provider.client.get_dedicated_ip_pool(PoolName="managed")["DedicatedIpPool"]
    assert pool["ScalingMode"] == "MANAGED"
    # the pool's configuration set: created once, then found
    assert provider.pools.ensure_config_set("managed") == "espkit-managed"
    assert provider.pools.ensure_config_set("managed") == "espkit-managed"
    config = provider.client.get_configuration_set(ConfigurationSetName="espkit-managed")
    assert config["DeliveryOptions"]["SendingPoolName"] == "managed"
    with pytest.raises(ValidationError):
        provider.create_pool("m2", ("198.51.100.1",), scaling_mode="MANAGED")

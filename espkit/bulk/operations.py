"""The kinds of item work the bulk engine runs: the ``Operation`` value and its catalogue.

An operation turns an input item into (journal key, payload) before anything is sent, and
runs one item; ``resumed`` is true when the item was in flight when an earlier run died, so
the operation looks before re-sending. The catalogue holds create, delete and verify, and
builds assign operations for a pool or an IP; ``operation_named`` finds the one a journal's
job was started with, which is how a resume needs no input. Custom operations (the fleet
applier's) are built from the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from espkit import validate
from espkit.account import Account
from espkit.bulk.inputs import name_of, spec_of
from espkit.bulk.report import ItemResult, Outcome
from espkit.errors import AlreadyExists, NotFound, ValidationError
from espkit.models import Capability, DomainSpec

Prepare = Callable[[Account, Any], tuple[str, dict[str, Any]]]
Run = Callable[[Account, str, Mapping[str, Any], bool], ItemResult]
Check = Callable[[Account, str, Mapping[str, Any]], None]


@attrs.frozen
class Operation:
    """One kind of item work the engine can run: ``prepare`` validates an input item into
    (journal key, payload) before anything is sent; ``run`` does one item and says what
    happened (``resumed`` is true when an earlier run died with it in flight: look before
    re-sending). ``capability`` is checked once before the run.

    ``check`` vets a row read back from a journal, which may have been edited: it raises
    ``ValidationError`` unless (key, payload) is exactly what ``prepare`` journals, so a
    key cannot name one domain while its payload creates another. Without it, rows are
    only checked for their shape (the fleet's and the verifier's operations, which run
    on journals of their own in memory)."""

    name: str
    prepare: Prepare
    run: Run
    capability: Capability
    check: Check | None = None


def _prepare_create(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    spec = acct.domains.check_spec(spec_of(item))
    payload = {k: v for k, v in attrs.asdict(spec).items() if v not in (None, ())}
    if "ips" in payload:
        payload["ips"] = list(payload["ips"])
    return spec.name, payload


def _prepare_name(acct: Account, item: Any) -> tuple[str, dict[str, Any]]:
    return name_of(item), {}


def _check_create(acct: Account, key: str, payload: Mapping[str, Any]) -> None:
    name, checked = _prepare_create(acct, payload)
    if name != key:
        raise ValidationError("key", key, f"does not match the domain its input names "
                              f"({name!r})")
    if checked != payload:
        raise ValidationError("payload", dict(payload), "is not the checked form of the "
                              f"input for {key!r}")


def _check_name(acct: Account, key: str, payload: Mapping[str, Any]) -> None:
    if payload:
        raise ValidationError("payload", dict(payload), f"must be empty for {key!r}")
    if name_of(key) != key:
        raise ValidationError("key", key, f"is not in its checked form ({name_of(key)!r})")


def _run_create(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    if resumed:
        # The request may have landed before the crash: look before re-sending.
        try:
            acct.domains.get(key)
        except NotFound:
            pass
        else:
            return ItemResult(key, Outcome.CREATED, detail="confirmed by reading back")
    data = dict(payload)
    data["ips"] = tuple(data.get("ips", ()))
    try:
        acct.domains.create(DomainSpec(**data))
    except AlreadyExists:
        return ItemResult(key, Outcome.EXISTED)
    return ItemResult(key, Outcome.CREATED)


def _run_delete(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    try:
        acct.domains.delete(key)
    except NotFound:
        # after a crash mid-request, "gone" is most likely our own earlier delete
        return ItemResult(key, Outcome.DELETED if resumed else Outcome.ABSENT)
    return ItemResult(key, Outcome.DELETED)


def _run_verify(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool
                ) -> ItemResult:
    domain = acct.domains.verify(key)
    if domain.verified:
        return ItemResult(key, Outcome.VERIFIED)
    missing = [f"{r.type} {r.host}" for r in domain.dns_records if not r.valid]
    return ItemResult(key, Outcome.PENDING,
                      detail="records not valid yet: " + (", ".join(missing) or "none named"))


CREATE = Operation("create", _prepare_create, _run_create, Capability.DOMAINS, _check_create)
DELETE = Operation("delete", _prepare_name, _run_delete, Capability.DOMAINS, _check_name)
VERIFY = Operation("verify", _prepare_name, _run_verify, Capability.DOMAIN_VERIFY,
                   _check_name)


def assign_operation(pool: str | None, ip: str | None) -> Operation:
    """The operation that makes domains send from ``pool`` or from the dedicated ``ip``
    (exactly one of them); its name (``assign pool:X`` / ``assign ip:X``) carries the target."""
    if (pool is None) == (ip is None):
        raise ValidationError("target", {"pool": pool, "ip": ip}, "give exactly one of pool, ip")
    target = validate.pool_name(pool) if pool is not None else validate.ip_address(ip)
    capability = (Capability.ASSIGN_DOMAIN_POOL if pool is not None
                  else Capability.ASSIGN_DOMAIN_IP)

    def run(acct: Account, key: str, payload: Mapping[str, Any], resumed: bool) -> ItemResult:
        # assigning again is harmless, so an in-flight item is simply re-sent
        if pool is not None:
            acct.domains.assign(key, pool=target)
        else:
            acct.domains.assign(key, ip=target)
        return ItemResult(key, Outcome.ASSIGNED)

    name = f"assign pool:{target}" if pool is not None else f"assign ip:{target}"
    return Operation(name, _prepare_name, run, capability, _check_name)


def operation_named(name: str) -> Operation | None:
    """The catalogue operation whose ``name`` a journal recorded (an assign one is rebuilt
    from its name), or None for one the catalogue does not hold, such as a fleet apply's."""
    if name.startswith("assign "):
        kind, _, target = name.partition(" ")[2].partition(":")
        if kind not in ("pool", "ip"):
            return None
        # the target is checked as the user's would be (a bad one: ValidationError)
        return assign_operation(target if kind == "pool" else None,
                                target if kind == "ip" else None)
    known = {o.name: o for o in (CREATE, DELETE, VERIFY)}
    return known.get(name)


__all__ = [
    "CREATE",
    "DELETE",
    "VERIFY",
    "Check",
    "Operation",
    "Prepare",
    "Run",
    "assign_operation",
    "operation_named",
]

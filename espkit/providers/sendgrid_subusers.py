"""SendGrid's subusers behind the common ``Subaccount`` model. ``SendGridProvider`` delegates
its subaccount calls here; kept apart so ``sendgrid.py`` stays the mapping of domains, IPs
and the provider's requests.

Source: ``../shared/specs/sendgrid/tsg_subusers_v3.yaml`` (``GET|POST /v3/subusers``,
``PATCH /v3/subusers/{subuser_name}``, ``PUT /v3/subusers/{subuser_name}/ips``).

A subuser is keyed by its username (the id every subuser call and the ``on-behalf-of``
header take), so ``Subaccount.id`` is that username. SendGrid requires an email address and
a password for each: when the caller gives none, a placeholder address under
``PLACEHOLDER_EMAIL_DOMAIN`` and a random password nobody learns are sent. A subuser sends
from its own IPs: assigning a pool gives it exactly that pool's IPs
(``espkit.providers.sendgrid_pools``).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from espkit import validate
from espkit.credentials import Secret
from espkit.errors import NotFound, ValidationError
from espkit.models import Assignment, AssignmentKind, Subaccount
from espkit.providers import payload as pl

if TYPE_CHECKING:
    from espkit.providers.sendgrid import SendGridProvider

Json = dict[str, Any]

#: where a subuser created without an email address gets one (RFC 2606: never delivered)
PLACEHOLDER_EMAIL_DOMAIN = "subusers.espkit.invalid"


class Subusers:
    """The subusers of one ``SendGridProvider`` (one scope of the account)."""

    def __init__(self, provider: SendGridProvider) -> None:
        self.p = provider

    def create(self, name: str, email: str | None, password: Secret | str | None,
               ips: tuple[str, ...]) -> Subaccount:
        """``SendGridProvider.create_subaccount`` (its docstring says what is sent)."""
        secret = password if isinstance(password, Secret) else Secret(
            password if password is not None else _placeholder_password())
        payload: Json = {
            "username": name,
            "email": email or f"{name}@{PLACEHOLDER_EMAIL_DOMAIN}",
            "password": secret.reveal(),
            "ips": [validate.ip_address(ip) for ip in ips],
        }
        if self.p.region == "eu":
            payload["region"] = "eu"

        def decode(body: Any) -> Subaccount:
            sub = self.subaccount({"disabled": False, **pl.need_obj(body, "the answer")})
            if sub.id != name:
                raise pl.Malformed("the answer names another subuser than the one asked for")
            return sub

        return self.p.call("POST", "/v3/subusers", decode, json=payload)

    def listing(self) -> Iterator[Subaccount]:
        return self.p._pages("/v3/subusers", [], self.subaccount, lambda s: s.id, None)

    def get(self, subaccount_id: str) -> Subaccount:
        # No GET /v3/subusers/{name}: the list filtered by username is the read.
        found = self.p.call("GET", "/v3/subusers", lambda b: [
            self.subaccount(i) for i in pl.objects(b, "the answer", required=True)],
            params=[("username", subaccount_id)])
        for sub in found:
            if sub.id == subaccount_id:
                return sub
        raise NotFound(f"no subuser {subaccount_id!r}", provider=self.p.name)

    def set_enabled(self, subaccount_id: str, enabled: bool) -> Subaccount:
        # Setting a state is safe to repeat, so let the transport retry a 5xx. SendGrid
        # answers 204 with no body: read the subuser back.
        self.p.call("PATCH", f"/v3/subusers/{self.p.seg(subaccount_id)}", pl.ignored,
                    json={"disabled": not enabled}, idempotent=True)
        return self.get(subaccount_id)

    def assign_pool(self, subaccount_id: str, pool: str) -> Assignment:
        ips = list(self.p.get_pool(pool).ips)
        if not ips:
            # PUT replaces the subuser's IPs: an empty list would leave it nothing to send from
            raise ValidationError("pool", pool, "has no IPs; add some before assigning it")
        body = self.p.call("PUT", f"/v3/subusers/{self.p.seg(subaccount_id)}/ips",
                           lambda b: pl.opt_obj(b, "the answer"), json=ips)
        return Assignment("", AssignmentKind.POOL, pool, self.p.name,
                          raw={"subaccount": subaccount_id, **body})

    def subaccount(self, raw: Json) -> Subaccount:
        name = pl.need_str(raw.get("username"), "username")
        return Subaccount(id=name, name=name, provider=self.p.name,
                          enabled=raw.get("disabled") is not True, raw=raw)


def _placeholder_password() -> str:
    """A random password meeting SendGrid's rules (8-128 characters, mixed classes)."""
    chars = string.ascii_letters + string.digits
    core = "".join(secrets.choice(chars) for _ in range(28))
    return f"{core}aZ7!"


__all__ = ["PLACEHOLDER_EMAIL_DOMAIN", "Subusers"]

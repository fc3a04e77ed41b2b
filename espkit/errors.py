"""One error tree for every provider.

Two families, kept apart on purpose:

* ``ConfigError`` (and ``ValidationError``, ``MissingCredentials``): the caller's input or
  set-up is wrong. Raised before any request is sent.
* ``EspError``: the ESP (or the network to it) said no. Carries the provider, HTTP status,
  the ESP's own message, its request id, method and URL. Never the credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the values some errors carry; never imported at run time
    from espkit.bulk import Report
    from espkit.fleet import Problem
    from espkit.models import Domain
    from espkit.verify import VerificationReport


class EspkitError(Exception):
    """Base of everything espkit raises."""


class ConfigError(EspkitError):
    """espkit is configured wrongly (unknown provider, bad option, ...)."""


class ValidationError(ConfigError, ValueError):
    """An input value is not acceptable. Raised before anything is sent.

    ``field`` names the argument and ``value`` is the offending value (repr-quoted in the
    message so stray whitespace or control characters are visible).
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field} {value!r}: {reason}")


class MissingCredentials(ConfigError):
    """No API key was found in any of the places espkit looks."""

    def __init__(self, provider: str, looked_in: Sequence[str]) -> None:
        self.provider = provider
        self.looked_in = tuple(looked_in)
        places = "; ".join(self.looked_in)
        super().__init__(
            f"no API key for {provider}: looked in {places}. "
            f"Pass api_key=..., set one of the environment variables, "
            f"or run `espkit login {provider}`."
        )


class EspError(EspkitError):
    """The ESP answered with an error, or could not be reached.

    ``maybe_applied`` is true when the request may have taken effect even though it failed
    (a timeout or connection reset after the request was sent, a 5xx to a POST): callers
    must read back before re-sending a create.
    """

    #: short label used in ``str()``; subclasses override
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
        body: Any = None,
        maybe_applied: bool = False,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status = status
        self.method = method
        self.url = url
        self.request_id = request_id
        self.code = code
        self.body = body
        self.maybe_applied = maybe_applied
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.method and self.url:
            where = f" ({self.method} {self.url})"
        status = f" {self.status}" if self.status is not None else ""
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        who = self.provider or "esp"
        return f"{who}{status} {self.kind}: {self.message}{where}{rid}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthError(EspError):
    """The ESP rejected the credentials (401/403)."""

    kind = "authentication failed"


class RegionMismatch(AuthError):
    """The key belongs to another region of the same ESP (Mailgun answers 401/404)."""

    kind = "wrong region?"


class Rejected(EspError):
    """The ESP refused the request as invalid (400, 422, ...): a name it will not accept,
    a missing field, a plan limit. ``message`` is the ESP's own explanation."""

    kind = "rejected"


class NotFound(EspError):
    kind = "not found"


class AlreadyExists(EspError):
    kind = "already exists"


class RateLimited(EspError):
    """429 from the ESP after espkit's own retries gave up. ``retry_after`` in seconds."""

    kind = "rate limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(EspError):
    """5xx from the ESP."""

    kind = "server error"


class TransportError(EspError):
    """The request did not complete: timeout, connection refused or reset."""

    kind = "transport error"


class DeadlineExceeded(TransportError):
    """An attempt ran past its overall deadline (connect, headers and body together), as a
    server that trickles its answer would make it. Retried like a timeout: only when the
    request is idempotent or was never sent."""

    kind = "deadline exceeded"


class ResponseTooLarge(TransportError):
    """The answer was larger than the transport's ``max_response_bytes``. Not retried: the
    same request would bring the same answer."""

    kind = "answer too large"


class Unsupported(EspError):
    """The provider cannot do this. ``hint`` says what the ESP offers instead."""

    kind = "unsupported"

    def __init__(self, provider: str, capability: str, hint: str = "") -> None:
        self.capability = capability
        self.hint = hint
        text = f"{capability} is not supported by {provider}"
        if hint:
            text += f"; {hint}"
        super().__init__(text, provider=provider)

    def __str__(self) -> str:
        return f"{self.provider} {self.kind}: {self.message}"


class ConflictingState(EspError):
    """The object exists at the ESP but differs from what was asked for."""

    kind = "conflict"


class UnsafePlan(EspkitError):
    """A fleet plan is not safe to apply as it stands (octoDNS's ``UnsafePlan``)."""


class TooMuchChange(UnsafePlan):
    """The plan deletes or moves more than the fleet's safety share of what exists.

    Like octoDNS's ``TooMuchChange``: the usual cause is a truncated fleet file or the wrong
    account, not a wish to delete a third of the fleet. ``force`` applies it anyway."""

    def __init__(self, what: str, noun: str, count: int, existing: int, threshold: float
                 ) -> None:
        self.what = what
        self.noun = noun
        self.count = count
        self.existing = existing
        self.threshold = threshold
        share = count / existing if existing else 1.0
        super().__init__(
            f"too much change: the plan would {what} {count} of the {existing} existing "
            f"{noun} ({share:.0%}), over the safety threshold of {threshold:.0%}; check the fleet "
            "file and the account, then apply with --force (force=True) if it is meant"
        )


class VerificationTimeout(EspkitError, TimeoutError):
    """``wait_until_verified`` ran out of time. ``domain`` is the last state seen."""

    def __init__(self, domain: Domain, waited: float) -> None:
        self.domain = domain
        self.waited = waited
        pending = [f"{r.purpose} {r.type} {r.host}" for r in domain.dns_records if not r.valid]
        super().__init__(
            f"{domain.name} not verified after {waited:.0f} s (state {domain.state}); "
            f"records not yet valid: {', '.join(pending) or 'none reported'}"
        )


class VerificationInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the wait; ``report`` holds what was known (``interrupted`` set).

    A ``KeyboardInterrupt`` so that code catching ``Exception`` does not swallow it."""

    def __init__(self, report: VerificationReport) -> None:
        self.report = report
        counts = report.counts()
        super().__init__(
            f"stopped by Ctrl-C in round {report.rounds}: {counts['verified']} of "
            f"{len(report.results)} domain(s) verified, {counts['pending']} pending, "
            f"{counts['failed']} failed"
        )


class LimiterUnavailable(ConfigError):
    """The Redis server behind a shared limiter could not be used (down, unreachable, wrong
    password). Not retried: the limiter's own configuration has to be fixed."""


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a bulk run. ``report`` says what was done; the journal allows a resume.

    A ``KeyboardInterrupt`` so that code catching ``Exception`` does not swallow it."""

    def __init__(self, report: Report) -> None:
        self.report = report
        how = (f"run it again with the same journal ({report.journal}) to resume"
               if report.journal else "no journal was kept: pass one to make runs resumable")
        done = report.total - report.remaining
        super().__init__(f"stopped by Ctrl-C after {done} of {report.total} items; "
                         f"nothing done is lost: {how}")


class DnsExportError(ConfigError, ValueError):
    """The records cannot be written in the asked format (a host outside its zone, two
    CNAMEs for one name ...)."""


class FleetFileError(ConfigError):
    """The fleet file is not valid. ``problems`` lists every one found, in file order."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{source}: {len(problems)} problem(s):\n  {shown}{more}")


class ProtocolError(EspError):
    """The ESP answered something espkit cannot read: a body that is not JSON or not of the
    documented shape, a create whose answer names no object or another one, a listing that
    repeats itself (a page that brings nothing new, a cursor seen before, no end in sight).

    ESP answers are untrusted input: rather than guess, espkit stops with this error.
    ``excerpt`` is a short piece of the answer (at most a few hundred characters, credentials
    and control characters removed) to show what came back; the body itself is not kept.
    ``maybe_applied`` is set when the unreadable answer was a success to a write (a create
    answered ``200`` with garbage): read back before re-sending, as after a timeout.
    """

    kind = "unreadable answer"

    def __init__(self, message: str, *, excerpt: str = "", **kw: Any) -> None:
        self.excerpt = excerpt
        kw["body"] = None  # never the raw answer: it may be huge, hostile or echo a secret
        super().__init__(message, **kw)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}; the answer began: {self.excerpt}" if self.excerpt else text


class UnreadableFile(ConfigError):
    """A file espkit was pointed at (a fleet file, the customers CSV it names) cannot be read
    as asked: not a regular file (a device, a FIFO, a directory), too large, or gone. The
    message names the file and says why, never its contents."""


__all__ = [
    "AlreadyExists",
    "AuthError",
    "BulkInterrupted",
    "ConfigError",
    "ConflictingState",
    "DeadlineExceeded",
    "DnsExportError",
    "EspError",
    "EspkitError",
    "FleetFileError",
    "LimiterUnavailable",
    "MissingCredentials",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RegionMismatch",
    "Rejected",
    "ResponseTooLarge",
    "ServerError",
    "TooMuchChange",
    "TransportError",
    "UnreadableFile",
    "UnsafePlan",
    "Unsupported",
    "ValidationError",
    "VerificationInterrupted",
    "VerificationTimeout",
]

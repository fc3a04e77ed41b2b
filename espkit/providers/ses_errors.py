"""How espkit reads SES's failures: botocore's exceptions mapped to espkit's error tree.

SES is reached through boto3, not espkit's HTTP transport, so the mapping that
``espkit.transport`` does for HTTP answers (status and body to an error class, ``Retry-After``,
"may have been applied") is done here for botocore's ``ClientError`` and connection errors.
Kept apart from ``ses.py`` so that module stays the mapping of SES's resources.
"""

from __future__ import annotations

import logging
from typing import Any

import botocore.exceptions

from espkit.errors import (
    AlreadyExists,
    AuthError,
    EspError,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from espkit.providers.payload import obj, str_or_none
from espkit.transport import RetryRunner, parse_retry_after, status_class

log = logging.getLogger("espkit.ses")

Json = dict[str, Any]
PROVIDER = "ses"
#: how much of an SES error message an exception keeps
_MESSAGE_CHARS = 1000

#: SES error codes espkit maps by name (the rest by HTTP status)
THROTTLES = frozenset({
    "TooManyRequestsException", "Throttling", "ThrottlingException",
    "ThrottledException", "RequestLimitExceeded", "RequestThrottled",
    "RequestThrottledException", "SlowDown",
})
AUTH = frozenset({
    "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidSignatureException",
    "IncompleteSignature", "MissingAuthenticationToken", "ExpiredToken",
    "ExpiredTokenException", "AuthFailure", "NotAuthorized",
})
BY_CODE: dict[str, type[EspError]] = {
    "NotFoundException": NotFound,
    "AlreadyExistsException": AlreadyExists,
    "ConfigurationSetAlreadyExistsException": AlreadyExists,
    # a resource quota (identities, pools, config sets), not a throttle: retrying won't help
    "LimitExceededException": Rejected,
    "BadRequestException": Rejected,
    "AccountSuspendedException": Rejected,
    "SendingPausedException": Rejected,
    "ConcurrentModificationException": ServerError,
}
#: failures where the request cannot have been acted on
NEVER_SENT = (botocore.exceptions.EndpointConnectionError,
               botocore.exceptions.ConnectTimeoutError)
NO_CREDENTIALS = (botocore.exceptions.NoCredentialsError,
                   botocore.exceptions.PartialCredentialsError,
                   botocore.exceptions.CredentialRetrievalError)



def client_error(runner: RetryRunner, operation: str, exc: botocore.exceptions.ClientError,
                 idempotent: bool, endpoint: str) -> EspError:
    """The espkit error for an error answer from SES (a throttle also slows ``runner``)."""
    response: Json = exc.response if isinstance(exc.response, dict) else {}
    error = obj(response.get("Error"))
    meta = obj(response.get("ResponseMetadata"))
    code = str_or_none(error.get("Code")) or ""
    message = (str_or_none(error.get("Message")) or code or "SES error")[:_MESSAGE_CHARS]
    status = meta.get("HTTPStatusCode") if isinstance(meta.get("HTTPStatusCode"),
                                                      int) else None
    headers = obj(meta.get("HTTPHeaders"))
    if code in THROTTLES or status == 429:
        cls: type[EspError] = RateLimited
    elif code in AUTH:
        cls = AuthError
    elif code in BY_CODE:
        cls = BY_CODE[code]
    else:
        cls = status_class(status or 400)
    common: Json = {
        "provider": PROVIDER, "status": status, "method": operation,
        "url": endpoint, "request_id": str_or_none(meta.get("RequestId")),
        "code": code or None,
        # the error only: no headers, nothing that could carry a signature
        "body": {"Error": {"Code": code, "Message": message}},
        # ConcurrentModification says the request was refused, not half-applied
        "maybe_applied": issubclass(cls, ServerError) and not idempotent
        and code != "ConcurrentModificationException",
    }
    if issubclass(cls, RateLimited):
        retry_after = parse_retry_after(str_or_none(headers.get("retry-after")))
        runner.throttled(retry_after)
        return RateLimited(message, retry_after=retry_after, **common)
    return cls(message, **common)


def transport_error(operation: str, exc: botocore.exceptions.BotoCoreError,
                    endpoint: str) -> TransportError:
    """The espkit error for a call that did not complete (timeout, connection failure)."""
    never_sent = isinstance(exc, NEVER_SENT)
    timed_out = isinstance(exc, (botocore.exceptions.ReadTimeoutError,
                                 botocore.exceptions.ConnectTimeoutError))
    what = "timed out" if timed_out else "connection failed"
    log.debug("%s -> %s (%s)", operation, what, type(exc).__name__)
    return TransportError(
        f"{what}: {type(exc).__name__}"
        + ("" if never_sent else " (the request may have been applied)"),
        provider=PROVIDER, method=operation, url=endpoint,
        maybe_applied=not never_sent,
    )


__all__ = ["AUTH", "BY_CODE", "NEVER_SENT", "NO_CREDENTIALS", "THROTTLES", "client_error",
           "transport_error"]

"""espkit.transport."""

from espkit.transport.http import (
    DEFAULT_TIMEOUT,
    NO_RETRY,
    ErrorDetail,
    HttpResponse,
    RetryPolicy,
    RetryRunner,
    Transport,
    default_error_parser,
    parse_reset,
    parse_retry_after,
    safe_url,
    status_class,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "ErrorDetail",
    "HttpResponse",
    "RetryPolicy",
    "RetryRunner",
    "Transport",
    "default_error_parser",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "status_class",
]


__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "ErrorDetail",
    "HttpResponse",
    "RetryPolicy",
    "RetryRunner",
    "Transport",
    "default_error_parser",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "status_class",
]


__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "ErrorDetail",
    "HttpResponse",
    "RetryPolicy",
    "RetryRunner",
    "Transport",
    "default_error_parser",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "status_class",
]

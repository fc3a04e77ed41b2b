"""Everything between a provider and an ESP: the HTTP pipeline, retries, error mapping.

Other packages import from here, never from the modules, so the modules can be rearranged:
``http`` (``Transport``), ``retry`` (``RetryRunner`` and its policy, also used by SES),
``error_mapping`` (an ESP's error answer to espkit's error class), ``redaction`` (URLs and
ESP text fit for logs and errors), ``deadline`` and ``body`` (each attempt bounded in time
and size), ``endpoint`` (which base URLs a key may go to) and the ``ratelimit`` package
(limiters and retry budgets shared by a process).
"""

from espkit.transport.body import DEFAULT_MAX_RESPONSE_BYTES
from espkit.transport.endpoint import ENV_ALLOW_INSECURE, check_base_url, is_loopback
from espkit.transport.error_mapping import (
    ErrorDetail,
    ErrorParser,
    default_error_parser,
    status_class,
)
from espkit.transport.http import DEFAULT_TIMEOUT, HttpResponse, Transport
from espkit.transport.redaction import safe_url, scrub_body, scrub_text
from espkit.transport.retry import (
    MAX_HINT,
    NO_RETRY,
    RetryPolicy,
    RetryRunner,
    parse_count,
    parse_reset,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "ENV_ALLOW_INSECURE",
    "MAX_HINT",
    "NO_RETRY",
    "ErrorDetail",
    "ErrorParser",
    "HttpResponse",
    "RetryPolicy",
    "RetryRunner",
    "Transport",
    "check_base_url",
    "default_error_parser",
    "is_loopback",
    "parse_count",
    "parse_reset",
    "parse_retry_after",
    "safe_url",
    "scrub_body",
    "scrub_text",
    "status_class",
]

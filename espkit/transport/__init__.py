"""Everything between a provider and an ESP: the HTTP pipeline, retries, error mapping.

Other packages import from here, never from the modules, so the modules can be rearranged:
``http`` (``Transport``), ``retry`` (``RetryRunner`` and its policy, also used by SES),
``error_mapping`` (an ESP's error answer to espkit's error class), ``redaction`` (URLs fit
for logs) and the ``ratelimit`` package (limiters and retry budgets shared by a process).
"""

from espkit.transport.error_mapping import (
    ErrorDetail,
    ErrorParser,
    default_error_parser,
    status_class,
)
from espkit.transport.http import DEFAULT_TIMEOUT, HttpResponse, Transport
from espkit.transport.redaction import safe_url
from espkit.transport.retry import (
    NO_RETRY,
    RetryPolicy,
    RetryRunner,
    parse_reset,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "ErrorDetail",
    "ErrorParser",
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

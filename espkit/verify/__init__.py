"""Waiting for many domains to verify: the values a wait reports (``report``), one account's
rounds with backoff (``rounds``), a whole fleet's wait across accounts (``fleet``), and the
entry points (``wait``). Runs on the bulk engine, so it sits above ``espkit.bulk``.

    report = espkit.verify.wait_until_verified(acct, ["a.acme.com", "b.acme.com"], timeout=1800)
"""

from espkit.verify.fleet import NOT_APPLIED, READ_WORKERS, for_fleet, wait_for_fleet
from espkit.verify.report import (
    SUMMARY_DOMAINS,
    SUMMARY_RECORDS,
    VerificationInterrupted,
    VerificationOutcome,
    VerificationReport,
    VerificationResult,
    WaitProgress,
    describe_records,
)
from espkit.verify.rounds import (
    FATAL,
    SHOW_BAD_ROWS,
    TRANSIENT,
    Stop,
    Target,
    Waiter,
    check_options,
    run_rounds,
)
from espkit.verify.wait import verify_once, wait_until_verified

__all__ = [
    "FATAL",
    "NOT_APPLIED",
    "READ_WORKERS",
    "SHOW_BAD_ROWS",
    "SUMMARY_DOMAINS",
    "SUMMARY_RECORDS",
    "TRANSIENT",
    "Stop",
    "Target",
    "VerificationInterrupted",
    "VerificationOutcome",
    "VerificationReport",
    "VerificationResult",
    "WaitProgress",
    "Waiter",
    "check_options",
    "describe_records",
    "for_fleet",
    "run_rounds",
    "verify_once",
    "wait_for_fleet",
    "wait_until_verified",
]

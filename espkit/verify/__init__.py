"""espkit.verify."""

from espkit.verify.fleet import (
    NOT_APPLIED,
    READ_WORKERS,
    for_fleet,
    wait_for_fleet,
)
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
    rounds,
)
from espkit.verify.wait import (
    verify_once,
    wait_until_verified,
)

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
    "rounds",
    "verify_once",
    "wait_for_fleet",
    "wait_until_verified",
]


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
    "rounds",
    "verify_once",
    "wait_for_fleet",
    "wait_until_verified",
]


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
    "rounds",
    "verify_once",
    "wait_for_fleet",
    "wait_until_verified",
]

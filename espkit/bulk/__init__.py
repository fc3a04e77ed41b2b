"""espkit.bulk: bulk operations over tens of thousands of domains, rate-exact and resumable.

The package re-exports the names used outside it, so callers import from ``espkit.bulk``
rather than from its modules: ``engine`` (``Bulk`` and the conveniences), ``execution``
(its run loop and error kinds), ``operations`` (``Operation`` and the catalogue), ``inputs``
(``read_items``), ``report`` (results and the ``Report``), ``sizing`` (how many workers),
``breaker`` (waiting out an ESP outage), ``workqueue`` (the gated queue the workers take
items from), ``journal`` (the SQLite record that makes a run resumable; ``journalfile``
opens its file) and ``identity`` (the account a journal belongs to).
"""

from espkit.bulk.engine import (
    MAX_OUTAGE,
    SHOW_BAD_ROWS,
    Bulk,
    assign,
    create_domains,
    delete_domains,
    verify_domains,
)
from espkit.bulk.execution import FATAL, UNHEALTHY
from espkit.bulk.identity import AccountIdentity, identity_of
from espkit.bulk.inputs import read_items
from espkit.bulk.journal import (
    DONE,
    FAILED,
    INFLIGHT,
    PENDING,
    Entry,
    Journal,
)
from espkit.bulk.operations import Operation
from espkit.bulk.report import (
    REPORT_COLUMNS,
    ItemResult,
    Outcome,
    Progress,
    Report,
)
from espkit.errors import BulkInterrupted

__all__ = [
    "DONE",
    "FAILED",
    "FATAL",
    "INFLIGHT",
    "MAX_OUTAGE",
    "PENDING",
    "REPORT_COLUMNS",
    "SHOW_BAD_ROWS",
    "UNHEALTHY",
    "AccountIdentity",
    "Bulk",
    "BulkInterrupted",
    "Entry",
    "ItemResult",
    "Journal",
    "Operation",
    "Outcome",
    "Progress",
    "Report",
    "assign",
    "create_domains",
    "delete_domains",
    "identity_of",
    "read_items",
    "verify_domains",
]

"""espkit.dns: the DNS records customers must publish, exported for them and checked in
live DNS.

``formats`` writes them out (BIND, CSV, JSON, octoDNS), ``files`` puts octoDNS zone files
into a directory without writing outside it, ``live`` looks them up (dnspython), ``names``
holds what they share (including the checks every name passes before it is written).
Importing this package imports neither PyYAML nor dnspython: each is imported when the
octoDNS export or a check runs.
"""

from espkit.dns.files import write_zone_files
from espkit.dns.formats import (
    CSV_COLUMNS,
    DEFAULT_TTL,
    FORMATS,
    RECORD_TYPES,
    DomainItem,
    Format,
    checked_record,
    csv_cell,
    export,
    labelled,
    octodns_data,
    quote_character_string,
    to_bind,
    to_csv,
    to_json,
    to_octodns,
    txt_strings,
    zone_of,
)
from espkit.dns.live import (
    DEFAULT_CONCURRENCY,
    CheckStatus,
    RecordCheck,
    check,
    evaluate,
    is_spf,
    parse_nameserver,
    spf_required,
    spf_terms,
    summary,
)
from espkit.errors import DnsExportError

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_TTL",
    "FORMATS",
    "RECORD_TYPES",
    "CheckStatus",
    "DnsExportError",
    "DomainItem",
    "Format",
    "RecordCheck",
    "check",
    "checked_record",
    "csv_cell",
    "evaluate",
    "export",
    "is_spf",
    "labelled",
    "octodns_data",
    "parse_nameserver",
    "quote_character_string",
    "spf_required",
    "spf_terms",
    "summary",
    "to_bind",
    "to_csv",
    "to_json",
    "to_octodns",
    "txt_strings",
    "write_zone_files",
    "zone_of",
]

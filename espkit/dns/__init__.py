"""espkit.dns: the DNS records customers must publish, exported for them and checked in
live DNS.

``formats`` writes them out (BIND, CSV, JSON, octoDNS), ``live`` looks them up (dnspython),
``names`` holds what both share. Importing this package imports neither PyYAML nor
dnspython: each is imported when the octoDNS export or a check runs.
"""

from espkit.dns.formats import (
    CSV_COLUMNS,
    DEFAULT_TTL,
    FORMATS,
    DomainItem,
    Format,
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
    "CheckStatus",
    "DnsExportError",
    "DomainItem",
    "Format",
    "RecordCheck",
    "check",
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
    "zone_of",
]

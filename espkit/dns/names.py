"""What the export (``espkit.dns.formats``) and the live check (``espkit.dns.live``) share:
DNS names spelt absolute or compared the way DNS compares them, and the install hint both
give when an optional dependency (PyYAML, dnspython) is missing.

Kept apart so that neither half imports the other.
"""

from __future__ import annotations

#: the extra that brings PyYAML (octoDNS export) and dnspython (live checks)
FLEET_EXTRA = "pip install 'espkit[fleet]'"


def fqdn(name: str) -> str:
    """``name`` absolute, with one trailing dot."""
    return name.rstrip(".") + "."


def plain(name: str) -> str:
    """``name`` compared the way DNS compares names: lower case, no trailing dot."""
    return name.rstrip(".").lower()


__all__ = ["FLEET_EXTRA", "fqdn", "plain"]

"""``espkit plan`` / ``espkit apply``: a fleet file made real, octoDNS-style."""

from __future__ import annotations

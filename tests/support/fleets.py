"""Shared by the plan and apply tests: the fleet connection to the sandbox in memory."""

from __future__ import annotations

from espkit.fleet import Connection

#: a fleet's one connection, to the sandbox in memory
CONN = {"default": Connection("default", "sandbox", {"path": ":memory:"})}

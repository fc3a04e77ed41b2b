"""The embedded sandbox ESP: a stateful local emulator of an ESP account.

``espkit.connect("sandbox")`` talks to it through the same transport as a real ESP, via a
``requests`` adapter instead of a socket (``adapter``). Behind the adapter: the simulated
network and its knobs (``emulator``), the JSON API (``app``), SQLite state (``store``, in a
file ``database`` opens only if it is a sandbox database), the DNS records it asks for
(``records``) and its clock (``clock``). What it was told was sent (``Emulator.record_sends``)
feeds its delivery statistics (``sends``) and its simulated IP warmup (``warmup``), whose
stages move a sending day at a time on that clock.
"""

from __future__ import annotations

from espkit.sandbox.adapter import SandboxAdapter
from espkit.sandbox.app import SCOPE_HEADER, App, Reply
from espkit.sandbox.calls import MAX_PAGE
from espkit.sandbox.clock import Clock, FakeClock, SystemClock
from espkit.sandbox.emulator import FAULT_KINDS, Emulator, NetworkFault
from espkit.sandbox.store import ApiError, Store

BASE_URL = "https://sandbox.espkit.invalid"

__all__ = [
    "BASE_URL",
    "FAULT_KINDS",
    "MAX_PAGE",
    "SCOPE_HEADER",
    "ApiError",
    "App",
    "Clock",
    "Emulator",
    "FakeClock",
    "NetworkFault",
    "Reply",
    "SandboxAdapter",
    "Store",
    "SystemClock",
]

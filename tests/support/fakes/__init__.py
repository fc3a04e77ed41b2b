"""Stateful fakes of each ESP's management API, one module per ESP, for the shared provider
suite (``tests/providers/test_provider_suite.py``).

Each module defines ``FAKE``: a class implementing ``EspFake`` (see ``base.py``), usually by
way of ``HttpFake``, which shares the accessors and the wire step so a module holds only its
ESP's hosts, routes, bodies and auth. Modules are discovered, so adding an ESP to the suite is
adding one file here.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import EspFake


def all_fakes() -> dict[str, type[EspFake]]:
    found: dict[str, type[EspFake]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fake = getattr(module, "FAKE", None)
        if fake is not None:
            found[fake.provider] = fake
    return dict(sorted(found.items()))

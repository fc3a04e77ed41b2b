"""The transport packages' surface: what other packages import from them, and what importing
them costs (``import espkit`` must not load the optional ``redis`` client)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from espkit import transport
from espkit.transport import ratelimit


@pytest.mark.parametrize("package", [transport, ratelimit])
def test_every_exported_name_is_there(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert sorted(names) == sorted(set(names))
    for name in names:
        assert getattr(package, name) is not None, name


def test_importing_transport_does_not_load_the_redis_client() -> None:
    code = "import sys, espkit.transport; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_transport_imports_without_the_redis_client_installed() -> None:
    # None in sys.modules makes "import redis" fail as if the extra were not installed
    code = ("import sys; sys.modules['redis'] = None; "
            "from espkit.transport.ratelimit import RedisLimiter, shared_limiter; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ok"

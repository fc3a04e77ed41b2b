"""The capability matrix comes from the providers' declarations, for the CLI and the docs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import espkit
from espkit.capabilities import DESCRIPTIONS, markdown, matrix
from espkit.providers import Provider, register

ROOT = Path(__file__).resolve().parents[2]


def test_every_capability_is_described() -> None:
    assert set(DESCRIPTIONS) == set(espkit.Capability)


def test_matrix_reflects_supports_and_hints() -> None:
    rows = {r.name: r for r in matrix()}
    mailgun = espkit.providers.get("mailgun")
    assert rows["mailgun"].supports == mailgun.SUPPORTS
    assert rows["mailgun"].hints == dict(mailgun.HINTS)
    assert rows["sandbox"].unavailable is None


def test_markdown_table_has_a_row_per_capability_and_a_column_per_provider() -> None:
    class TinyEsp(Provider):
        name = "tinyesp"
        SUPPORTS = frozenset({espkit.Capability.DOMAINS})
        HINTS: ClassVar[dict[espkit.Capability, str]] = {
            espkit.Capability.IP_POOLS: "pools come with the premium plan"}

    register(TinyEsp)
    text = markdown()
    header = text.splitlines()[0]
    assert "tinyesp" in header
    assert "sandbox" in header
    for cap in espkit.Capability:
        assert f"`{cap}`" in text
    domains_row = next(line for line in text.splitlines() if line.startswith("| `domains` "))
    cells = [c.strip() for c in domains_row.strip("|").split("|")]
    names = [c.strip() for c in header.strip("|").split("|")][1:]
    assert cells[1 + names.index("tinyesp")] == "yes"
    pools_row = next(line for line in text.splitlines() if line.startswith("| `pools` "))
    cells = [c.strip() for c in pools_row.strip("|").split("|")]
    assert cells[1 + names.index("tinyesp")] == "—"
    assert "pools come with the premium plan" in text

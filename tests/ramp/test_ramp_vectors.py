"""docs/ramp-vectors.json: every vector computed twice, by espkit and by the algorithm as the
file states it written out here from scratch (so a change to espkit's bucket is caught even
if the vectors were regenerated with it), and every refused key refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from espkit.errors import ValidationError
from espkit.ramp import PPM, bucket, normalise_key
from espkit.ramp.export import ALGORITHM

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "ramp-vectors.json")
                     .read_text(encoding="utf-8"))
ASCII_SPACE = " \t\n\r\f\v"
LOOKS_EMPTY = set(ASCII_SPACE) | {chr(c) for c in (
    0x85, 0xA0, 0x1680, *range(0x2000, 0x200E), 0x2028, 0x2029, 0x202F, 0x205F, 0x2060, 0x3000,
    0xFEFF)}


def by_the_book(salt: str, ramp: str, stream: str, kind: str, key: str) -> tuple[str, int]:
    """The file's algorithm, step by step, sharing no code with espkit.ramp."""
    text = unicodedata.normalize("NFC", key).strip(ASCII_SPACE)
    text = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)
    if kind == "domain":
        text = text.split("@")[-1].strip(ASCII_SPACE).rstrip(".")
    if not text or all(c in LOOKS_EMPTY for c in text) or len(text) > 1024:
        raise ValueError("refused")
    message = b"espkit-ramp/1" + b"\x00" + ramp.encode() + b"\x00" + stream.encode() + b"\x00" \
        + text.encode("utf-8")
    digest = hmac.new(salt.encode("ascii"), message, hashlib.sha256).digest()
    return text, int.from_bytes(digest[:8], "big") % 1_000_000


def test_the_file_states_the_algorithm_espkit_exports() -> None:
    assert VECTORS["algorithm"] == dict(ALGORITHM)


def test_the_vectors_cover_the_edges() -> None:
    vectors: list[dict[str, Any]] = VECTORS["vectors"]
    assert len(vectors) >= 30
    shares = {v["share_ppm"] for v in vectors}
    assert {0, PPM} <= shares
    assert any(v["share_ppm"] == v["bucket"] and v["side"] == "old" for v in vectors)
    assert any(v["share_ppm"] == v["bucket"] + 1 and v["side"] == "new" for v in vectors)
    assert any(not v["key"].isascii() for v in vectors)
    assert any(len(v["key"].encode()) - len(v["key"]) >= 3 for v in vectors)  # 4-byte UTF-8
    assert {v["key_kind"] for v in vectors} == {"recipient", "domain", "customer"}
    assert {"new", "old"} == {v["side"] for v in vectors}
    assert len(VECTORS["refused"]) >= 5


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["note"][:40])
def test_each_vector(vector: dict[str, Any]) -> None:
    args = (vector["salt"], vector["ramp"], vector["stream"], vector["key"])
    kind = vector["key_kind"]
    text, expected = by_the_book(*args[:3], kind, args[3])
    assert text == vector["normalised"] == normalise_key(vector["key"], kind)
    assert bytes.fromhex(vector["normalised_utf8_hex"]) == text.encode("utf-8")
    assert expected == vector["bucket"] == bucket(*args, kind)
    assert vector["side"] == ("new" if expected < vector["share_ppm"] else "old")


@pytest.mark.parametrize("case", VECTORS["refused"], ids=lambda v: v["note"])
def test_each_refused_key(case: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="refused"):
        by_the_book("test-salt-0123456789", "move", "news", case["key_kind"], case["key"])
    with pytest.raises(ValidationError):
        normalise_key(case["key"], case["key_kind"])

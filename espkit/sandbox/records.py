"""The DNS records the sandbox ESP asks a customer to publish for a sending domain.

Shaped like a real ESP's (Mailgun's set): SPF and DKIM TXT, two MX, a tracking CNAME. The DKIM
value is a structurally valid RSA SubjectPublicKeyInfo of the requested size, derived from the
domain and selector, so the same domain always gets the same key (tests and demos can pin it)
without the cost of generating a real key pair.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

ESP_HOST = "sandbox.espkit.invalid"
SPF_VALUE = f"v=spf1 include:spf.{ESP_HOST} ~all"
MX_HOSTS = (f"mxa.{ESP_HOST}", f"mxb.{ESP_HOST}")
TRACKING_TARGET = f"track.{ESP_HOST}"

# DER: SEQUENCE { OID rsaEncryption, NULL }
_RSA_ALGORITHM = bytes.fromhex("300d06092a864886f70d0101010500")
_EXPONENT = bytes.fromhex("010001")


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def dkim_public_key(domain: str, selector: str, bits: int) -> str:
    """Base64 of a ``bits``-bit RSA public key, deterministic per (domain, selector, bits)."""
    modulus = bytearray(
        hashlib.shake_256(f"{domain}|{selector}|{bits}".encode()).digest(bits // 8)
    )
    modulus[0] |= 0x80  # full size
    modulus[-1] |= 0x01  # odd, like any RSA modulus
    rsa_key = _der(0x30, _der(0x02, b"\x00" + bytes(modulus)) + _der(0x02, _EXPONENT))
    spki = _der(0x30, _RSA_ALGORITHM + _der(0x03, b"\x00" + rsa_key))
    return base64.b64encode(spki).decode("ascii")


def _record(purpose: str, rtype: str, host: str, value: str,
            priority: int | None = None) -> dict[str, Any]:
    return {"purpose": purpose, "type": rtype, "host": host, "value": value,
            "priority": priority, "status": "pending"}


def generate(domain: str, *, selector: str, key_size: int, web_prefix: str) -> list[dict[str, Any]]:
    """The records for a new domain, every one ``pending`` until verification."""
    dkim = f"k=rsa; p={dkim_public_key(domain, selector, key_size)}"
    return [
        _record("spf", "TXT", domain, SPF_VALUE),
        _record("dkim", "TXT", f"{selector}._domainkey.{domain}", dkim),
        *(_record("mx", "MX", domain, host, 10) for host in MX_HOSTS),
        _record("tracking", "CNAME", f"{web_prefix}.{domain}", TRACKING_TARGET),
    ]

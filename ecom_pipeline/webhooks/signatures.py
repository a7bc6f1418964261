"""Webhook signatures: each platform's scheme, checked over the RAW body bytes in constant time.

Signatures are computed over the exact bytes the shop sent. Parsing and re-serialising JSON first would change
escapes (WooCommerce sends ``\\/`` and ``\\uXXXX``) and break every signature, so the receiver hands the raw body
here before anything else looks at it. Comparisons use ``hmac.compare_digest`` so the time a comparison takes
does not reveal how many leading characters of a forged signature were right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

GENERIC_MAX_SKEW_S = 300


def base64_hmac_sha256(secret: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, body))``: WooCommerce's X-WC-Webhook-Signature and Shopify's HMAC header."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify_base64_hmac(secret: str | None, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is the base64 HMAC-SHA256 of ``body`` under ``secret``.

    A missing secret or header is a failure, never a pass: an integration without a stored secret must not accept
    unsigned data.
    """
    if not secret or not header_value:
        return False
    expected = base64_hmac_sha256(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), header_value.strip().encode("ascii", "replace"))


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body``.

    The timestamp is inside the signed message so a captured delivery cannot be replayed later with a fresh
    timestamp header (the same construction as Stripe's).
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_generic(
    secret: str | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: float | None = None,
    max_skew_s: int = GENERIC_MAX_SKEW_S,
) -> str | None:
    """None when the generic signature is valid, else the reason it is refused (for the 401 body)."""
    if not secret:
        return "no webhook secret is stored for this integration"
    if not signature or not timestamp:
        return "missing X-Ecom-Signature or X-Ecom-Timestamp"
    try:
        sent = int(timestamp.strip())
    except ValueError:
        return "X-Ecom-Timestamp must be Unix seconds"
    current = time.time() if now is None else now
    if abs(current - sent) > max_skew_s:
        return f"X-Ecom-Timestamp is more than {max_skew_s} s away from the receiver's clock"
    expected = generic_signature(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace")):
        return "signature mismatch"
    return None

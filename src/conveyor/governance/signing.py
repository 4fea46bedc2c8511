"""HMAC-SHA256 signatures of webhook bodies, for senders and receivers.

A receiver checks a delivery like this::

    from conveyor.governance.signing import verify_signature

    def handle(body: bytes, headers: Mapping[str, str]) -> None:
        if not verify_signature(SECRET, body, headers["X-Conveyor-Signature"]):
            raise PermissionError("not from our Conveyor")
        event = json.loads(body)["event"]

Sign and verify the raw body bytes, before any JSON parsing: re-serialising changes them.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "sha256="


def sign(secret: str, body: bytes) -> str:
    """Return the ``X-Conveyor-Signature`` header value for ``body``: ``sha256=<hex>``."""
    return SCHEME + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time)."""
    if not header or not header.startswith(SCHEME):
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


__all__ = ["sign", "verify_signature"]

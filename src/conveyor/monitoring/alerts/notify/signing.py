"""HMAC-SHA256 signatures for webhook bodies, and how a receiver verifies them.

The sender puts two headers on every POST::

    X-Conveyor-Timestamp: 1718000000                      (Unix seconds, when signed)
    X-Conveyor-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The signature covers the exact body bytes, so a receiver must verify *before* parsing the JSON
(re-serialising changes the bytes). Binding the timestamp into the signed text stops replays: a
receiver rejects a timestamp more than ``tolerance_s`` from its own clock, and an attacker cannot
refresh the timestamp without the secret (Stripe's and GitHub's webhook schemes work this way).
A receiver in Python::

    ok = verify_signature(secret, request.headers["X-Conveyor-Timestamp"], await request.body(),
                          request.headers["X-Conveyor-Signature"], tolerance_s=300)

and in any language: compute ``HMAC-SHA256(secret, f"{timestamp}.".encode() + body)``, compare
its hex digest with the header after ``sha256=`` in constant time, and check the timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from conveyor.errors import InvalidArgumentError

SIGNATURE_HEADER = "X-Conveyor-Signature"
TIMESTAMP_HEADER = "X-Conveyor-Timestamp"
_PREFIX = "sha256="


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """Return the ``X-Conveyor-Signature`` value for ``body`` signed at ``timestamp``.

    Examples:
        >>> sign("s3cret", 1718000000, b'{"a":1}')[:15]
        'sha256=12fc6d69'
    """
    key = secret_bytes(secret)
    raw: object = body
    if not isinstance(raw, bytes):
        msg = f"body must be the exact request bytes, got {type(body).__name__}; sign raw bytes"
        raise InvalidArgumentError(msg, field="body")
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance_s: float = 300.0,
    *,
    now_s: float | None = None,
) -> bool:
    """Tell whether ``signature`` is the sender's signature of ``body`` at a recent ``timestamp``.

    Args:
        secret: The shared webhook secret.
        timestamp: The ``X-Conveyor-Timestamp`` header (Unix seconds).
        body: The raw request body, exactly as received.
        signature: The ``X-Conveyor-Signature`` header (``sha256=<hex>``).
        tolerance_s: Largest accepted distance between the timestamp and ``now_s``.
        now_s: The receiver's clock, Unix seconds; ``time.time()`` by default.

    Returns:
        ``True`` when the signature matches and the timestamp is within tolerance; ``False`` for
        a wrong, malformed or stale signature (never an exception for a forged request).

    Raises:
        InvalidArgumentError: The receiver's own arguments are wrong (empty secret, non-bytes
            body, negative tolerance).
    """
    if not isinstance(tolerance_s, int | float) or not tolerance_s >= 0:
        msg = f"tolerance_s must be a number of seconds >= 0, got {tolerance_s!r}"
        raise InvalidArgumentError(msg, field="tolerance_s")
    try:
        sent_s = int(str(timestamp).strip())
    except ValueError:
        return False
    now = time.time() if now_s is None else now_s
    if not math.isfinite(now) or abs(now - sent_s) > tolerance_s:
        return False
    expected = sign(secret, sent_s, body)
    return isinstance(signature, str) and hmac.compare_digest(
        expected.encode(), signature.strip().encode("utf-8", "replace")
    )


def secret_bytes(secret: str | bytes) -> bytes:
    """Return the secret as bytes, rejecting an empty or non-text one."""
    key = secret.encode() if isinstance(secret, str) else secret
    if not isinstance(key, bytes) or not key:
        msg = "webhook secret must be a non-empty string or bytes; generate one with secrets"
        raise InvalidArgumentError(msg, field="secret")
    return key

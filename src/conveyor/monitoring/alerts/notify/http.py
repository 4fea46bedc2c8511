"""POST a JSON body with retries: the transport shared by the webhook and Slack notifiers.

Connection errors, timeouts, 5xx and 429 are retried under the notifier's
:class:`~conveyor.monitoring.alerts.notify.delivery.RetryPolicy`; any other status below 200 or
from 300 up is final (redirects are not followed: configure the final URL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts.notify.delivery import AttemptResult, Delivery, Retrier

_ERROR_TEXT_LIMIT = 200


def check_url(url: str, field: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL.

    Raises:
        InvalidArgumentError: Anything else, naming ``field``.
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"{field} must be an absolute http:// or https:// URL, got {url!r}"
        raise InvalidArgumentError(msg, field=field)
    return url


def redact_url(url: str, *, keep_path: bool) -> str:
    """Return ``url`` without credentials, query or (unless ``keep_path``) path, for records.

    Examples:
        >>> redact_url("https://u:p@hooks.example.com:8443/T0/B1/xyz?k=1", keep_path=False)
        'https://hooks.example.com:8443'
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    path = parts.path if keep_path else ""
    return f"{parts.scheme}://{parts.hostname}{port}{path}"


def post_with_retry(
    *,
    retrier: Retrier,
    url: str,
    body: bytes,
    headers: Callable[[], Mapping[str, str]],
    notifier: str,
    target: str,
    event_id: str,
    transport: httpx.BaseTransport | None = None,
) -> list[Delivery]:
    """POST ``body`` to ``url`` until delivered or the retry bounds run out.

    ``headers`` is called before every attempt, so a signature can carry a fresh timestamp.
    """

    def attempt(timeout_s: float) -> AttemptResult:
        try:
            with httpx.Client(timeout=timeout_s, transport=transport) as client:
                response = client.post(url, content=body, headers=dict(headers()))
        except httpx.TransportError as exc:
            return AttemptResult(None, f"{type(exc).__name__}: {exc}", is_retryable=True)
        code = response.status_code
        if 200 <= code < 300:
            return AttemptResult(code, None)
        text = response.text[:_ERROR_TEXT_LIMIT]
        return AttemptResult(code, f"HTTP {code}: {text}", is_retryable=code >= 500 or code == 429)

    return retrier.run(attempt, notifier=notifier, target=target, event_id=event_id)

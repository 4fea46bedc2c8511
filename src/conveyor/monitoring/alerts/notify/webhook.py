"""Signed webhook notifier: POST the event as JSON with an HMAC-SHA256 signature.

Body (UTF-8 JSON, keys sorted, no whitespace, non-finite values as ``"inf"``/``"nan"``)::

    {"event": {...AlertEvent.to_dict()...}, "source": "conveyor", "summary": "[FIRING] ...",
     "version": 1}

Headers: ``X-Conveyor-Signature`` and ``X-Conveyor-Timestamp`` (see
:mod:`~conveyor.monitoring.alerts.notify.signing` for how receivers verify them) and
``X-Conveyor-Event-Id``, which stays the same across retries so a receiver can drop duplicates.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable

import httpx

from conveyor.monitoring.alerts.events import AlertEvent
from conveyor.monitoring.alerts.notify.delivery import Delivery, RetryPolicy, make_retrier
from conveyor.monitoring.alerts.notify.http import check_url, post_with_retry, redact_url
from conveyor.monitoring.alerts.notify.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    secret_bytes,
    sign,
)
from conveyor.monitoring.alerts.notify.text import json_safe, title

EVENT_ID_HEADER = "X-Conveyor-Event-Id"


def event_body(event: AlertEvent) -> bytes:
    """Serialise ``event`` as the webhook's canonical JSON body."""
    payload = {
        "version": 1,
        "source": "conveyor",
        "summary": title(event),
        "event": json_safe(event.to_dict()),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


class WebhookNotifier:
    """POST each alert event to ``url``, signed with ``secret``, retrying transient failures.

    Args:
        url: The receiver's absolute http(s) URL.
        secret: Shared secret for the HMAC-SHA256 signature (str or bytes, non-empty).
        retry: Bounds on attempts and total time.
        sleep: Called with each backoff delay (tests pass a no-op).
        rng: Source of the backoff jitter.
        transport: An httpx transport (tests and proxies); the default opens real connections.
        clock_s: Unix time in seconds for the signature timestamp.

    Raises:
        InvalidArgumentError: Bad URL or empty secret.
    """

    kind = "webhook"

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.url = check_url(url, "url")
        self._key = secret_bytes(secret)
        self.target = redact_url(url, keep_path=True)
        self._retrier = make_retrier(retry, sleep, rng)
        self._transport = transport
        self._clock_s = clock_s

    def send(self, event: AlertEvent) -> list[Delivery]:
        """Deliver ``event``; return one :class:`Delivery` per attempt."""
        body = event_body(event)

        def headers() -> dict[str, str]:
            timestamp = str(int(self._clock_s()))
            return {
                "Content-Type": "application/json",
                "User-Agent": "conveyor-alerts",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._key, timestamp, body),
                EVENT_ID_HEADER: event.event_id,
            }

        return post_with_retry(
            retrier=self._retrier,
            url=self.url,
            body=body,
            headers=headers,
            notifier=self.kind,
            target=self.target,
            event_id=event.event_id,
            transport=self._transport,
        )

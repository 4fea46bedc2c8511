"""Slack-compatible notifier: an incoming-webhook payload with ``text`` and Block Kit ``blocks``.

``text`` is the notification fallback (and what Mattermost and other Slack-compatible receivers
show); ``blocks`` is a header, a section of fields and a context line (Slack, "Creating rich
message layouts"). User text is escaped as Slack's mrkdwn requires (``&``, ``<``, ``>``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from conveyor.monitoring.alerts.events import AlertEvent, AlertState
from conveyor.monitoring.alerts.notify.delivery import Delivery, RetryPolicy, make_retrier
from conveyor.monitoring.alerts.notify.http import check_url, post_with_retry, redact_url
from conveyor.monitoring.alerts.notify.text import fields, iso, title

_HEADER_LIMIT = 150  # Slack rejects a header block whose text is longer
_EMOJI = {AlertState.FIRING: ":rotating_light:", AlertState.RESOLVED: ":white_check_mark:"}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """Build the Slack message for ``event``."""
    heading = title(event)
    header = heading if len(heading) <= _HEADER_LIMIT else heading[: _HEADER_LIMIT - 3] + "..."
    emoji = _EMOJI.get(event.state, ":information_source:")
    silenced = " (silenced)" if event.silenced else ""
    return {
        "text": f"{emoji} {escape(heading)}{silenced}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{escape(text)}"}
                    for name, text in fields(event)[:6]  # Slack shows up to 10; keep it short
                ],
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": escape(f"Conveyor · evaluated {iso(event.at)} · {event.event_id}"),
                    }
                ],
            },
        ],
    }


class SlackNotifier:
    """POST each alert event to a Slack (or Slack-compatible) incoming webhook.

    Args:
        webhook_url: The incoming-webhook URL; its path is a secret and is not recorded.
        retry: Bounds on attempts and total time.
        sleep: Called with each backoff delay.
        rng: Source of the backoff jitter.
        transport: An httpx transport; the default opens real connections.

    Raises:
        InvalidArgumentError: ``webhook_url`` is not an http(s) URL.
    """

    kind = "slack"

    def __init__(
        self,
        webhook_url: str,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.webhook_url = check_url(webhook_url, "webhook_url")
        self.target = redact_url(webhook_url, keep_path=False)
        self._retrier = make_retrier(retry, sleep, rng)
        self._transport = transport

    def send(self, event: AlertEvent) -> list[Delivery]:
        """Deliver ``event``; return one :class:`Delivery` per attempt."""
        body = json.dumps(slack_payload(event), ensure_ascii=False).encode()
        return post_with_retry(
            retrier=self._retrier,
            url=self.webhook_url,
            body=body,
            headers=lambda: {"Content-Type": "application/json; charset=utf-8"},
            notifier=self.kind,
            target=self.target,
            event_id=event.event_id,
            transport=self._transport,
        )

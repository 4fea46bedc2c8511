"""Alert notifications: signed webhook, Slack-compatible webhook and SMTP email.

Every notifier has ``kind``, ``target`` and ``send(event) -> list[Delivery]``, retries transient
failures with bounded exponential backoff and jitter, and records each attempt as a
:class:`Delivery`; :func:`dispatch` sends the firing/resolved events of a window and records
silenced ones without sending them.
"""

from conveyor.monitoring.alerts.notify.delivery import Delivery, RetryPolicy
from conveyor.monitoring.alerts.notify.dispatch import Notifier, dispatch
from conveyor.monitoring.alerts.notify.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from conveyor.monitoring.alerts.notify.slack import SlackNotifier, slack_payload
from conveyor.monitoring.alerts.notify.smtp import EmailNotifier, email_message
from conveyor.monitoring.alerts.notify.webhook import EVENT_ID_HEADER, WebhookNotifier, event_body

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Delivery",
    "EmailNotifier",
    "Notifier",
    "RetryPolicy",
    "SlackNotifier",
    "WebhookNotifier",
    "dispatch",
    "email_message",
    "event_body",
    "sign",
    "slack_payload",
    "verify_signature",
]

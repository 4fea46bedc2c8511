"""Email notifier over SMTP (:mod:`smtplib`), with optional STARTTLS and login.

Connection failures, a dropped connection and 4xx replies (RFC 5321 §4.2.1: transient) are
retried under the :class:`~conveyor.monitoring.alerts.notify.delivery.RetryPolicy`; 5xx replies,
refused recipients and a failed login are final.
"""

from __future__ import annotations

import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts.events import AlertEvent
from conveyor.monitoring.alerts.notify.delivery import (
    AttemptResult,
    Delivery,
    RetryPolicy,
    make_retrier,
)
from conveyor.monitoring.alerts.notify.text import plain_text, title


def email_message(event: AlertEvent, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """Build the plain-text email for ``event``."""
    message = EmailMessage()
    message["Subject"] = title(event)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(event.at / 1000, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=event.event_id, domain="conveyor.alerts")
    message["X-Conveyor-Event-Id"] = event.event_id
    message.set_content(plain_text(event))
    return message


class EmailNotifier:
    """Send each alert event as an email through an SMTP server.

    Args:
        host: SMTP server host name.
        port: SMTP port (25, 587 with ``starttls=True``, 1025 for a local test server).
        sender: The From address.
        recipients: One or more To addresses.
        starttls: Upgrade the connection with STARTTLS before sending (and before login).
        username: Login user; give ``password`` with it.
        password: Login password.
        ssl_context: TLS settings for STARTTLS; the system defaults when ``None``.
        retry: Bounds on attempts and total time.
        sleep: Called with each backoff delay.
        rng: Source of the backoff jitter.

    Raises:
        InvalidArgumentError: Empty host, bad port, no recipients, or a username without a
            password (or the reverse).
    """

    kind = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        _check(host, port, sender, recipients, username, password)
        self.host, self.port, self.sender = host, port, sender
        self.recipients = tuple(recipients)
        self.starttls = starttls
        self.target = f"{host}:{port}"
        self._username, self._password = username, password
        self._ssl_context = ssl_context
        self._retrier = make_retrier(retry, sleep, rng)

    def send(self, event: AlertEvent) -> list[Delivery]:
        """Deliver ``event``; return one :class:`Delivery` per attempt."""
        message = email_message(event, self.sender, self.recipients)
        return self._retrier.run(
            lambda timeout_s: self._attempt(message, timeout_s),
            notifier=self.kind,
            target=self.target,
            event_id=event.event_id,
        )

    def _attempt(self, message: EmailMessage, timeout_s: float) -> AttemptResult:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=timeout_s) as client:
                if self.starttls:
                    client.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    client.login(self._username, self._password)
                client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            return AttemptResult(
                exc.smtp_code, f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", transient
            )
        except smtplib.SMTPRecipientsRefused as exc:
            return AttemptResult(None, f"recipients refused: {sorted(exc.recipients)}")
        except smtplib.SMTPServerDisconnected as exc:
            return AttemptResult(None, f"server disconnected: {exc}", is_retryable=True)
        except smtplib.SMTPException as exc:  # not supported, helo errors: configuration faults
            return AttemptResult(None, f"{type(exc).__name__}: {exc}")
        except OSError as exc:  # refused, unreachable, timed out, TLS handshake failures
            return AttemptResult(None, f"{type(exc).__name__}: {exc}", is_retryable=True)
        return AttemptResult(250, None)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _check(
    host: str,
    port: int,
    sender: str,
    recipients: Sequence[str],
    username: str | None,
    password: str | None,
) -> None:
    problems = [
        (not isinstance(host, str) or not host, "host", f"a host name, got {host!r}"),
        (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536,
            "port",
            f"a TCP port from 1 to 65535, got {port!r}",
        ),
        (not isinstance(sender, str) or "@" not in sender, "sender", f"an address, got {sender!r}"),
        (
            isinstance(recipients, str)
            or not recipients
            or not all(isinstance(r, str) and "@" in r for r in recipients),
            "recipients",
            f"a non-empty list of addresses, got {recipients!r}",
        ),
        ((username is None) != (password is None), "password", "given together with username"),
    ]
    for failed, field, expected in problems:
        if failed:
            msg = f"EmailNotifier {field} must be {expected}"
            raise InvalidArgumentError(msg, field=field)

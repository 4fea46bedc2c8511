"""Notification targets of a monitor, as stored configuration (``NotifierConfig``).

A monitor's row keeps its targets as JSON; ``build_notifiers`` turns them into the notifiers of
``monitoring.alerts.notify`` when alerts fire. Secrets (webhook keys, SMTP passwords) are kept
for signing and logging in, and never shown (``public``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts.notify import (
    EmailNotifier,
    Notifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
)

Kind = Literal["webhook", "slack", "email"]
_KINDS = ("webhook", "slack", "email")


@dataclass(frozen=True)
class NotifierConfig:
    """One notification target."""

    kind: Kind
    url: str | None = None
    secret: str | None = None
    host: str | None = None
    port: int = 25
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            msg = f"notifier kind must be one of {', '.join(_KINDS)}; got {self.kind!r}"
            raise InvalidArgumentError(msg, field="notifiers.kind")
        needs: dict[str, tuple[str, ...]] = {
            "webhook": ("url", "secret"),
            "slack": ("url",),
            "email": ("host", "sender"),
        }
        for name in needs[self.kind]:
            if not getattr(self, name):
                msg = f"a {self.kind} notifier needs {name!r}"
                raise InvalidArgumentError(msg, field=f"notifiers.{name}")
        if self.kind == "email" and not self.recipients:
            msg = "an email notifier needs at least one address in 'recipients'"
            raise InvalidArgumentError(msg, field="notifiers.recipients")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotifierConfig:
        """Build from JSON (unknown keys are an error naming them)."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"unknown notifier settings {unknown}; known: {sorted(known)}"
            raise InvalidArgumentError(msg, field="notifiers")
        if not isinstance(data, Mapping) or "kind" not in data:
            msg = "a notifier needs a 'kind': webhook, slack or email"
            raise InvalidArgumentError(msg, field="notifiers.kind")
        values = dict(data)
        for text in ("url", "secret", "host", "sender", "username", "password"):
            if values.get(text) is not None and not isinstance(values[text], str):
                msg = f"notifier setting {text!r} must be text, got {values[text]!r}"
                raise InvalidArgumentError(msg, field=f"notifiers.{text}")
        port = values.get("port", 25)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            msg = f"notifier setting 'port' must be a TCP port number, got {port!r}"
            raise InvalidArgumentError(msg, field="notifiers.port")
        if "recipients" in values:
            recipients = values["recipients"]
            values["recipients"] = (
                (recipients,) if isinstance(recipients, str) else tuple(recipients)
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Render for storage (secrets included)."""
        data = asdict(self)
        data["recipients"] = list(self.recipients)
        return {k: v for k, v in data.items() if v not in (None, (), [])}

    def public(self) -> dict[str, Any]:
        """Render for display: secrets and credentials masked."""
        data = self.to_dict()
        for secret in ("secret", "password"):
            if secret in data:
                data[secret] = "***"
        if self.kind == "slack" and "url" in data:
            data["url"] = data["url"].split("/services/")[0] + "/services/***"
        return data


def build_notifiers(  # fields were checked in NotifierConfig.__post_init__
    configs: Sequence[NotifierConfig], *, retry: RetryPolicy | None = None
) -> list[Notifier]:
    """Return a notifier per configured target."""
    built: list[Notifier] = []
    for c in configs:
        if c.kind == "webhook":
            built.append(WebhookNotifier(c.url or "", c.secret or "", retry=retry))
        elif c.kind == "slack":
            built.append(SlackNotifier(c.url or "", retry=retry))
        else:
            built.append(
                EmailNotifier(
                    c.host or "",
                    c.port,
                    c.sender or "",
                    c.recipients,
                    starttls=c.starttls,
                    username=c.username,
                    password=c.password,
                    retry=retry,
                )
            )
    return built

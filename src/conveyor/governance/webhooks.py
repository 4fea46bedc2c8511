"""Webhooks: subscriptions of a URL to event actions (``registry.*``, ``model_version.created``).

The secret signs every delivery (``conveyor.governance.signing``); it is generated when not
given, returned by ``create`` only, and never listed. An event belongs to the project named in
its payload (``payload["project"]``), or to ``default``; a webhook receives its project's events
that happened after it was created.
"""

from __future__ import annotations

import builtins
import fnmatch
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine, delete, insert, select, update

from conveyor._ids import new_id
from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.governance.projects import check_project_exists
from conveyor.governance.roles import DEFAULT_PROJECT
from conveyor.store import read, schema, write
from conveyor.store.events import append

_MAX_PATTERNS = 50


@dataclass(frozen=True)
class Webhook:
    """A subscription (without its secret)."""

    webhook_id: str
    url: str
    events: tuple[str, ...]
    project: str
    description: str
    active: bool
    created_time: int

    def matches(self, action: str, project: str) -> bool:
        """Whether an event with ``action`` in ``project`` is for this webhook."""
        return (
            self.active
            and project == self.project
            and any(fnmatch.fnmatchcase(action, p) for p in self.events)
        )

    def to_dict(self) -> dict[str, Any]:
        """Render the webhook for JSON output (no secret)."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.url,
            "events": list(self.events),
            "project": self.project,
            "description": self.description,
            "active": self.active,
            "created_time": self.created_time,
        }


@dataclass(frozen=True)
class NewWebhook:
    """A freshly created webhook: the only time its secret is returned."""

    webhook: Webhook
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One (webhook, event) delivery and how it went."""

    delivery_id: int
    webhook_id: str
    event_seq: int
    state: str  # pending | delivered | failed
    attempts: int
    http_status: int | None
    error: str | None
    next_attempt_time: int
    created_time: int
    updated_time: int

    def to_dict(self) -> dict[str, Any]:
        """Render the delivery for JSON output."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def event_project(payload: dict[str, Any]) -> str:
    """The project an event belongs to: its payload's ``project``, else ``default``."""
    project = payload.get("project")
    return project if isinstance(project, str) and project else DEFAULT_PROJECT


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = f"url must be an http:// or https:// URL; got {url!r}"
        raise InvalidArgumentError(msg, field="url")
    return url


def _check_patterns(events: list[str]) -> tuple[str, ...]:
    if not events or len(events) > _MAX_PATTERNS:
        msg = f"events needs 1 to {_MAX_PATTERNS} action patterns, e.g. ['registry.*']"
        raise InvalidArgumentError(msg, field="events")
    for pattern in events:
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > 100:
            msg = f"event pattern {pattern!r} must be 1-100 characters, e.g. 'model_version.*'"
            raise InvalidArgumentError(msg, field="events")
    return tuple(p.strip() for p in events)


def webhook_of(row: Any) -> Webhook:
    """Build a ``Webhook`` from a ``webhooks`` row."""
    m = row._mapping
    return Webhook(
        m["webhook_id"],
        m["url"],
        tuple(orjson.loads(m["events"])),
        m["project"],
        m["description"],
        bool(m["active"]),
        m["created_time"],
    )


def delivery_of(row: Any) -> Delivery:
    """Build a ``Delivery`` from a ``webhook_deliveries`` row."""
    return Delivery(**row._mapping)


class Webhooks:
    """Webhook subscriptions over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(
        self,
        url: str,
        events: list[str],
        *,
        secret: str | None = None,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        actor: str,
    ) -> NewWebhook:
        """Subscribe ``url`` to events matching ``events`` (fnmatch patterns on the action)."""
        patterns = _check_patterns(events)
        if secret is not None and len(secret) < 16:
            msg = "secret must be at least 16 characters (or omit it to have one generated)"
            raise InvalidArgumentError(msg, field="secret")
        hook = Webhook(new_id(), _check_url(url), patterns, project, description, True, now_ms())
        key = secret or secrets.token_urlsafe(32)
        with write(self._engine) as conn:
            check_project_exists(conn, project)
            conn.execute(
                insert(schema.webhooks).values(
                    webhook_id=hook.webhook_id,
                    url=hook.url,
                    events=orjson.dumps(list(patterns)).decode(),
                    secret=key,
                    project=project,
                    description=description,
                    active=1,
                    created_time=hook.created_time,
                )
            )
            append(
                conn,
                action="webhook.created",
                subject=f"webhooks:/{hook.webhook_id}",
                payload={**hook.to_dict(), "project": project},
                actor=actor,
            )
        return NewWebhook(hook, key)

    def get(self, webhook_id: str) -> Webhook:
        """Return one webhook."""
        w = schema.webhooks
        with read(self._engine) as conn:
            row = conn.execute(select(w).where(w.c.webhook_id == webhook_id)).first()
        if row is None:
            msg = f"no webhook with id {webhook_id!r}; see `conveyor webhooks list`"
            raise NotFoundError(msg, field="webhook_id")
        return webhook_of(row)

    def secret_of(self, webhook_id: str) -> str:
        """Return the signing secret (for the dispatcher and the test ping only)."""
        w = schema.webhooks
        with read(self._engine) as conn:
            found = conn.execute(select(w.c.secret).where(w.c.webhook_id == webhook_id)).scalar()
        if found is None:
            msg = f"no webhook with id {webhook_id!r}; see `conveyor webhooks list`"
            raise NotFoundError(msg, field="webhook_id")
        return str(found)

    def list(self, *, projects: frozenset[str] | None = None) -> list[Webhook]:
        """Return the webhooks (of ``projects`` when given), oldest first."""
        w = schema.webhooks
        stmt = select(w).order_by(w.c.created_time, w.c.webhook_id)
        if projects is not None:
            stmt = stmt.where(w.c.project.in_(sorted(projects)))
        with read(self._engine) as conn:
            return [webhook_of(r) for r in conn.execute(stmt).all()]

    def delete(self, webhook_id: str, *, actor: str) -> None:
        """Delete a webhook and its delivery records."""
        hook = self.get(webhook_id)
        w, d = schema.webhooks, schema.webhook_deliveries
        with write(self._engine) as conn:
            conn.execute(delete(d).where(d.c.webhook_id == webhook_id))
            conn.execute(delete(w).where(w.c.webhook_id == webhook_id))
            append(
                conn,
                action="webhook.deleted",
                subject=f"webhooks:/{webhook_id}",
                payload={"webhook_id": webhook_id, "project": hook.project},
                actor=actor,
            )

    def set_active(self, webhook_id: str, active: bool, *, actor: str) -> Webhook:
        """Pause (False) or resume (True) a webhook's deliveries."""
        hook = self.get(webhook_id)
        w = schema.webhooks
        with write(self._engine) as conn:
            conn.execute(update(w).where(w.c.webhook_id == webhook_id).values(active=int(active)))
            append(
                conn,
                action="webhook.resumed" if active else "webhook.paused",
                subject=f"webhooks:/{webhook_id}",
                payload={"webhook_id": webhook_id, "project": hook.project},
                actor=actor,
            )
        return self.get(webhook_id)

    def deliveries(
        self, webhook_id: str, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Return a webhook's deliveries, newest first."""
        self.get(webhook_id)
        d = schema.webhook_deliveries
        stmt = select(d).where(d.c.webhook_id == webhook_id)
        if state is not None:
            stmt = stmt.where(d.c.state == state)
        stmt = stmt.order_by(d.c.event_seq.desc()).limit(limit)
        with read(self._engine) as conn:
            return [delivery_of(r) for r in conn.execute(stmt).all()]


__all__ = [
    "Delivery",
    "NewWebhook",
    "Webhook",
    "Webhooks",
    "delivery_of",
    "event_project",
    "webhook_of",
]

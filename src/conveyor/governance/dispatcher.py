"""The webhook dispatcher: event log -> delivery records -> signed POSTs with retries.

Each pass (``run_once``) does two things:

1. **Scan**: read the events after the ``webhooks`` cursor and, in the same transaction that
   advances the cursor, record one ``webhook_deliveries`` row per matching (webhook, event).
   The pair is UNIQUE and the cursor moves with the rows, so a crash never loses or doubles one.
2. **Deliver**: claim each due delivery (a conditional UPDATE of its next attempt time, so two
   dispatchers never send the same attempt), POST the signed JSON, and record the outcome:
   2xx is delivered; anything else is retried after 1 s, 2 s, 4 s ... (capped) until
   ``max_attempts``, then failed.

``conveyor server`` runs it in a thread; ``conveyor webhooks dispatch`` runs it on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from conveyor._time import now_ms
from conveyor.governance.signing import sign
from conveyor.governance.webhooks import Delivery, Webhooks, delivery_of, event_project, webhook_of
from conveyor.store import read, schema, write

logger = logging.getLogger("conveyor.webhooks")

CURSOR = "webhooks"
_SCAN_BATCH = 1000
_DELIVER_BATCH = 100
_ERROR_CHARS = 500


@dataclass(frozen=True)
class DispatchConfig:
    """How deliveries are attempted."""

    max_attempts: int = 6
    backoff_s: float = 1.0
    backoff_cap_s: float = 300.0
    timeout_s: float = 10.0

    def retry_delay_ms(self, attempts: int) -> int:
        """Delay after the ``attempts``-th failed attempt: 1 s, 2 s, 4 s ... up to the cap."""
        return int(min(self.backoff_s * 2 ** (attempts - 1), self.backoff_cap_s) * 1000)


def delivery_body(event: dict[str, Any], delivery_id: int | None, webhook_id: str) -> bytes:
    """The JSON a receiver gets (these exact bytes are signed)."""
    return orjson.dumps({"event": event, "delivery_id": delivery_id, "webhook_id": webhook_id})


def delivery_headers(
    secret: str, body: bytes, action: str, delivery_id: int | None
) -> dict[str, str]:
    """The headers of a delivery: signature, event action, delivery id, send time (s)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "conveyor-webhooks",
        "X-Conveyor-Signature": sign(secret, body),
        "X-Conveyor-Event": action,
        "X-Conveyor-Delivery": "" if delivery_id is None else str(delivery_id),
        "X-Conveyor-Timestamp": str(int(time.time())),
    }


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    table = schema.webhook_deliveries
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


class Dispatcher:
    """Record and send webhook deliveries over one engine."""

    def __init__(
        self,
        engine: Engine,
        config: DispatchConfig | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._engine = engine
        self.config = config or DispatchConfig()
        self._http = httpx.Client(timeout=self.config.timeout_s, transport=transport)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def scan(self) -> int:
        """Record deliveries for the events after the cursor; return how many were recorded."""
        ev, c = schema.events, schema.event_cursors
        with read(self._engine) as conn:  # idle passes take no write lock
            last = conn.execute(select(func.max(ev.c.seq))).scalar()
            seen = conn.execute(select(c.c.seq).where(c.c.name == CURSOR)).scalar()
        if last is None or (seen is not None and seen >= last):
            return 0
        with write(self._engine) as conn:
            cursor = conn.execute(select(c.c.seq).where(c.c.name == CURSOR)).scalar()
            if cursor is None:
                cursor = 0
                conn.execute(insert(c).values(name=CURSOR, seq=0, updated_time=now_ms()))
            hooks = [
                webhook_of(r)
                for r in conn.execute(
                    select(schema.webhooks).where(schema.webhooks.c.active == 1)
                ).all()
            ]
            now = now_ms()
            if not hooks:  # nobody subscribes: skip the events without reading them
                conn.execute(update(c).where(c.c.name == CURSOR).values(seq=last, updated_time=now))
                return 0
            events = conn.execute(
                select(ev.c.seq, ev.c.time, ev.c.action, ev.c.payload)
                .where(ev.c.seq > cursor)
                .order_by(ev.c.seq)
                .limit(_SCAN_BATCH)
            ).all()
            if not events:
                return 0
            rows = [
                {
                    "webhook_id": hook.webhook_id,
                    "event_seq": seq,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_time": now,
                    "created_time": now,
                    "updated_time": now,
                }
                for seq, at, action, payload in events
                for hook in hooks
                if at >= hook.created_time
                and hook.matches(action, event_project(orjson.loads(payload)))
            ]
            if rows:
                _insert_ignoring_duplicates(conn, rows)
            conn.execute(
                update(c).where(c.c.name == CURSOR).values(seq=events[-1][0], updated_time=now)
            )
        return len(rows)

    def _due(self) -> list[Delivery]:
        d = schema.webhook_deliveries
        stmt = (
            select(d)
            .where((d.c.state == "pending") & (d.c.next_attempt_time <= now_ms()))
            .order_by(d.c.next_attempt_time, d.c.delivery_id)
            .limit(_DELIVER_BATCH)
        )
        with read(self._engine) as conn:
            return [delivery_of(r) for r in conn.execute(stmt).all()]

    def _claim(self, delivery: Delivery) -> bool:
        """Take the delivery for one attempt; False when another dispatcher already did."""
        d = schema.webhook_deliveries
        lease = now_ms() + int((self.config.timeout_s + 30) * 1000)
        with write(self._engine) as conn:
            taken = conn.execute(
                update(d)
                .where(
                    (d.c.delivery_id == delivery.delivery_id)
                    & (d.c.state == "pending")
                    & (d.c.next_attempt_time == delivery.next_attempt_time)
                )
                .values(next_attempt_time=lease)
            ).rowcount
        return bool(taken)

    def deliver_due(self) -> int:
        """Attempt every due delivery once; return how many were attempted."""
        attempted = 0
        for delivery in self._due():
            if self._claim(delivery):
                self._attempt(delivery)
                attempted += 1
        return attempted

    def _event(self, seq: int) -> dict[str, Any]:
        ev = schema.events
        with read(self._engine) as conn:
            row = conn.execute(
                select(
                    ev.c.seq, ev.c.time, ev.c.actor, ev.c.action, ev.c.subject, ev.c.payload
                ).where(ev.c.seq == seq)
            ).one()
        # Plain str keys: column names are str subclasses, which orjson refuses as keys.
        seq_, at, actor, action, subject, payload = row
        return {
            "seq": seq_,
            "time": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": orjson.loads(payload),
        }

    def _attempt(self, delivery: Delivery) -> None:
        webhooks = Webhooks(self._engine)
        hook = webhooks.get(delivery.webhook_id)
        event = self._event(delivery.event_seq)
        body = delivery_body(event, delivery.delivery_id, hook.webhook_id)
        headers = delivery_headers(
            webhooks.secret_of(hook.webhook_id), body, event["action"], delivery.delivery_id
        )
        status, error = self.post(hook.url, body, headers)
        self._record(delivery, status, error)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST one delivery; return the HTTP status (None if none came) and the error, if any."""
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
        if response.is_success:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}: {response.text}"[:_ERROR_CHARS]

    def _record(self, delivery: Delivery, status: int | None, error: str | None) -> None:
        attempts = delivery.attempts + 1
        now = now_ms()
        if error is None:
            state, next_time = "delivered", now
        elif attempts >= self.config.max_attempts:
            state, next_time = "failed", now
            logger.warning("webhook delivery %s failed for good: %s", delivery.delivery_id, error)
        else:
            state, next_time = "pending", now + self.config.retry_delay_ms(attempts)
        d = schema.webhook_deliveries
        with write(self._engine) as conn:
            conn.execute(
                update(d)
                .where(d.c.delivery_id == delivery.delivery_id)
                .values(
                    state=state,
                    attempts=attempts,
                    http_status=status,
                    error=error,
                    next_attempt_time=next_time,
                    updated_time=now,
                )
            )

    def run_once(self) -> tuple[int, int]:
        """One pass: record new deliveries, attempt the due ones; return both counts."""
        return self.scan(), self.deliver_due()

    def start(self, interval_s: float) -> Dispatcher:
        """Run passes every ``interval_s`` seconds in a daemon thread until ``stop``."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception:
                    logger.exception("webhook dispatch pass failed; retrying next interval")
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="conveyor-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (after its current pass) and close the HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.timeout_s + 5)
        self._http.close()


def send_ping(
    engine: Engine, webhook_id: str, *, timeout_s: float = 10.0, actor: str
) -> tuple[int | None, str | None]:
    """POST a signed ``webhook.ping`` to a webhook now (not recorded); return status, error."""
    webhooks = Webhooks(engine)
    hook = webhooks.get(webhook_id)
    event = {
        "seq": 0,
        "time": now_ms(),
        "actor": actor,
        "action": "webhook.ping",
        "subject": f"webhooks:/{webhook_id}",
        "payload": {"webhook_id": webhook_id, "project": hook.project},
    }
    body = delivery_body(event, None, webhook_id)
    headers = delivery_headers(webhooks.secret_of(webhook_id), body, "webhook.ping", None)
    dispatcher = Dispatcher(engine, DispatchConfig(timeout_s=timeout_s))
    try:
        return dispatcher.post(hook.url, body, headers)
    finally:
        dispatcher.stop()


__all__ = [
    "CURSOR",
    "DispatchConfig",
    "Dispatcher",
    "delivery_body",
    "delivery_headers",
    "send_ping",
]

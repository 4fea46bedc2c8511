"""Send alert events through notifiers, honouring silences."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from conveyor.monitoring.alerts.events import NOTIFY_STATES, AlertEvent
from conveyor.monitoring.alerts.notify.delivery import Delivery


class Notifier(Protocol):
    """A channel that delivers one alert event and records every attempt."""

    @property
    def kind(self) -> str:
        """Short channel name: ``webhook``, ``slack``, ``email``."""
        ...

    @property
    def target(self) -> str:
        """Where deliveries go, without secrets."""
        ...

    def send(self, event: AlertEvent) -> list[Delivery]:
        """Deliver ``event``; return one record per attempt (never raise for a failed send)."""
        ...


def dispatch(events: Iterable[AlertEvent], notifiers: Sequence[Notifier]) -> list[Delivery]:
    """Notify every firing or resolved event through every notifier.

    Pending and back-to-inactive transitions are not notified. A silenced event is not sent:
    each notifier gets one ``silenced`` record (attempt 0) so the suppression is auditable.

    Returns:
        All delivery records, in event order then notifier order.
    """
    deliveries: list[Delivery] = []
    for event in events:
        if event.state not in NOTIFY_STATES:
            continue
        for notifier in notifiers:
            if event.silenced:
                deliveries.append(_silenced(notifier, event))
            else:
                deliveries.extend(notifier.send(event))
    return deliveries


def _silenced(notifier: Notifier, event: AlertEvent) -> Delivery:
    reason = f"silenced by {event.silence_id}" if event.silence_id else "silenced"
    return Delivery(
        notifier=notifier.kind,
        target=notifier.target,
        event_id=event.event_id,
        attempt=0,
        outcome="silenced",
        error=reason,
        at=event.at,
    )

"""Delivery records and the bounded retry loop every notifier shares.

Retries use exponential backoff with "full jitter": before attempt k+1 the notifier sleeps a
uniform random time in ``[0, min(max_delay_s, base_delay_s * 2**(k-1))]`` (M. Brooker,
"Exponential Backoff And Jitter", AWS Architecture Blog, 2015), which spreads the retries of
many senders hitting the same failed receiver. Attempts are bounded by ``max_attempts`` and the
whole delivery by ``total_timeout_s``: no sleep or request runs past that deadline.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError

Outcome = Literal["delivered", "retrying", "failed", "silenced"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt of one event by one notifier.

    Attributes:
        notifier: ``"webhook"``, ``"slack"`` or ``"email"``.
        target: Where it went, without secrets (URL without path for Slack, ``host:port``).
        event_id: The event delivered.
        attempt: 1-based attempt number; 0 for an event suppressed by a silence.
        outcome: ``delivered``; ``retrying`` (this attempt failed, another follows);
            ``failed`` (the last attempt failed); ``silenced`` (nothing was sent).
        status_code: The HTTP status or SMTP reply code, when the receiver answered.
        latency_s: Time the attempt took.
        error: What went wrong, ``None`` on success.
        at: When the attempt started, ms since the epoch.
    """

    notifier: str
    target: str
    event_id: str
    attempt: int
    outcome: Outcome
    status_code: int | None = None
    latency_s: float = 0.0
    error: str | None = None
    at: int = field(default_factory=now_ms)

    def to_dict(self) -> dict[str, Any]:
        """Serialise the record (the fields, by name)."""
        return {
            "notifier": self.notifier,
            "target": self.target,
            "event_id": self.event_id,
            "attempt": self.attempt,
            "outcome": self.outcome,
            "status_code": self.status_code,
            "latency_s": self.latency_s,
            "error": self.error,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt reported: the receiver's code, an error, and whether to try again."""

    status_code: int | None
    error: str | None
    is_retryable: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds on retrying a failed delivery.

    Attributes:
        max_attempts: Attempts in all, the first included (1 disables retries).
        base_delay_s: Backoff cap before the second attempt; doubles per attempt.
        max_delay_s: Largest backoff cap.
        total_timeout_s: Deadline for the whole delivery, requests and sleeps included.
        attempt_timeout_s: Timeout of one request (cut to what is left of the deadline).
    """

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    total_timeout_s: float = 30.0
    attempt_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
            msg = f"max_attempts must be an integer from 1 to 20, got {attempts!r}"
            raise InvalidArgumentError(msg, field="max_attempts")
        for name in ("base_delay_s", "max_delay_s", "total_timeout_s", "attempt_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                msg = f"{name} must be a finite number of seconds >= 0, got {value!r}"
                raise InvalidArgumentError(msg, field=name)
        if self.total_timeout_s <= 0 or self.attempt_timeout_s <= 0:
            msg = "total_timeout_s and attempt_timeout_s must be > 0 seconds"
            raise InvalidArgumentError(msg, field="total_timeout_s")

    def backoff_cap_s(self, attempt: int) -> float:
        """Largest sleep after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))


@dataclass(slots=True)
class Retrier:
    """Run attempts under a :class:`RetryPolicy`, recording a :class:`Delivery` per attempt.

    ``sleep``, ``monotonic`` and ``rng`` are injectable so tests run without waiting.
    """

    policy: RetryPolicy
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def run(
        self,
        attempt: Callable[[float], AttemptResult],
        *,
        notifier: str,
        target: str,
        event_id: str,
    ) -> list[Delivery]:
        """Call ``attempt(timeout_s)`` until it succeeds, is not retryable, or bounds run out."""
        deliveries: list[Delivery] = []
        deadline = self.monotonic() + self.policy.total_timeout_s
        for number in range(1, self.policy.max_attempts + 1):
            started_ms, started = now_ms(), self.monotonic()
            timeout_s = max(0.001, min(self.policy.attempt_timeout_s, deadline - started))
            result = attempt(timeout_s)
            latency_s = self.monotonic() - started
            delay_s = self.rng.uniform(0.0, self.policy.backoff_cap_s(number))
            again = (
                result.error is not None
                and result.is_retryable
                and number < self.policy.max_attempts
                and self.monotonic() + delay_s < deadline
            )
            outcome: Outcome = (
                "delivered" if result.error is None else "retrying" if again else "failed"
            )
            deliveries.append(
                Delivery(
                    notifier=notifier,
                    target=target,
                    event_id=event_id,
                    attempt=number,
                    outcome=outcome,
                    status_code=result.status_code,
                    latency_s=latency_s,
                    error=result.error,
                    at=started_ms,
                )
            )
            if not again:
                break
            self.sleep(delay_s)
        return deliveries


def make_retrier(
    policy: RetryPolicy | None,
    sleep: Callable[[float], None],
    rng: random.Random | None,
) -> Retrier:
    """Build a notifier's :class:`Retrier` from its optional settings."""
    # Jitter only spreads retries in time; it needs no cryptographic randomness.
    jitter = rng if rng is not None else random.Random()  # noqa: S311
    return Retrier(policy or RetryPolicy(), sleep=sleep, rng=jitter)

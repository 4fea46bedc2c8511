"""Webhook and Slack notifiers against a real HTTP server on 127.0.0.1; retries; dispatch."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.alerts import AlertEvaluator, AlertEvent, Silence
from conveyor.monitoring.alerts.notify import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    dispatch,
    event_body,
    sign,
    slack_payload,
    verify_signature,
)
from conveyor.monitoring.alerts.notify.delivery import AttemptResult, Retrier

SECRET = "s3cret-webhook-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers ``statuses`` in turn (then 200); checks signatures."""

    daemon_threads = True

    def __init__(self, statuses: list[int], *, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = statuses
        self.delay_s = delay_s
        self.requests: list[tuple[dict[str, str], bytes, bool]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/alerts?token=abc"

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client that timed out has gone (the timeout test causes this)."""


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        signed = verify_signature(
            SECRET,
            headers.get(TIMESTAMP_HEADER.lower(), ""),
            body,
            headers.get(SIGNATURE_HEADER.lower(), ""),
            tolerance_s=60,
        )
        with self.server.lock:
            first = not self.server.requests
            self.server.requests.append((headers, body, signed))
            status = self.server.statuses.pop(0) if self.server.statuses else 200
        if first and self.server.delay_s:
            time.sleep(self.server.delay_s)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    params = getattr(request, "param", {})
    server = Receiver(list(params.get("statuses", [])), delay_s=params.get("delay_s", 0.0))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def firing_event(*, silenced: bool = False) -> AlertEvent:
    silences = [Silence(starts_at=0, ends_at=10**15, silence_id="maint")] if silenced else []
    evaluator = AlertEvaluator(["psi(age) > 0.25 critical"], silences=silences)
    report = evaluator.evaluate({"psi": {"age": 0.31}}, 1_700_000_000_000, 1_700_000_060_000, at=1)
    return report.events[0]


def no_sleep() -> tuple[list[float], RetryPolicy]:
    return [], RetryPolicy(max_attempts=4, base_delay_s=0.01, total_timeout_s=20)


def outcomes(deliveries: list[Delivery]) -> list[tuple[int, str, int | None]]:
    return [(d.attempt, d.outcome, d.status_code) for d in deliveries]


@pytest.mark.parametrize("receiver", [{"statuses": [503, 503]}], indirect=True)
def test_webhook_retries_5xx_then_delivers_a_signed_body(receiver: Receiver) -> None:
    sleeps, policy = no_sleep()
    event = firing_event()
    notifier = WebhookNotifier(receiver.url, SECRET, retry=policy, sleep=sleeps.append)
    deliveries = notifier.send(event)
    assert outcomes(deliveries) == [
        (1, "retrying", 503),
        (2, "retrying", 503),
        (3, "delivered", 200),
    ]
    assert len(sleeps) == 2
    assert [signed for _, _, signed in receiver.requests] == [True, True, True]
    headers, body, _ = receiver.requests[-1]
    assert body == event_body(event)
    assert headers[EVENT_ID_HEADER.lower()] == event.event_id
    # Independent check of the documented scheme: HMAC-SHA256 over "<timestamp>." + body.
    mac = hmac.new(
        SECRET.encode(), headers["x-conveyor-timestamp"].encode() + b"." + body, "sha256"
    )
    assert headers["x-conveyor-signature"] == f"sha256={mac.hexdigest()}"
    payload = json.loads(body)
    assert payload["event"] == event.to_dict()
    assert payload["summary"] == "[FIRING] psi(age) > 0.25 critical on age: 0.31 (threshold 0.25)"
    assert deliveries[0].target == receiver.url.split("?")[0]
    assert deliveries[0].error == "HTTP 503: ok"


@pytest.mark.parametrize("receiver", [{"statuses": [400]}], indirect=True)
def test_webhook_does_not_retry_a_client_error(receiver: Receiver) -> None:
    sleeps, policy = no_sleep()
    deliveries = WebhookNotifier(receiver.url, SECRET, retry=policy, sleep=sleeps.append).send(
        firing_event()
    )
    assert outcomes(deliveries) == [(1, "failed", 400)]
    assert sleeps == []


def test_receiver_rejects_a_body_signed_with_another_secret(receiver: Receiver) -> None:
    WebhookNotifier(receiver.url, "other-secret").send(firing_event())
    assert [signed for _, _, signed in receiver.requests] == [False]


def test_webhook_gives_up_after_max_attempts_on_connection_errors() -> None:
    sleeps, policy = no_sleep()
    url = f"http://127.0.0.1:{free_port()}/hook"
    deliveries = WebhookNotifier(url, SECRET, retry=policy, sleep=sleeps.append).send(
        firing_event()
    )
    assert [d.outcome for d in deliveries] == ["retrying", "retrying", "retrying", "failed"]
    assert all(d.status_code is None and "ConnectError" in (d.error or "") for d in deliveries)
    assert len(sleeps) == 3


@pytest.mark.parametrize("receiver", [{"delay_s": 1.0}], indirect=True)
def test_webhook_retries_a_timed_out_request(receiver: Receiver) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.0, attempt_timeout_s=0.2)
    deliveries = WebhookNotifier(receiver.url, SECRET, retry=policy).send(firing_event())
    assert outcomes(deliveries) == [(1, "retrying", None), (2, "delivered", 200)]
    assert "ReadTimeout" in (deliveries[0].error or "")
    assert 0.15 < deliveries[0].latency_s < 0.9


def test_infinite_values_are_sent_as_strict_json() -> None:
    evaluator = AlertEvaluator(["psi(age) > 0.25"])
    event = evaluator.evaluate({"psi": {"age": float("inf")}}, 0, 1, at=1).events[0]
    payload = json.loads(event_body(event), parse_constant=pytest.fail)
    assert payload["event"]["value"] == "inf"
    assert payload["summary"] == "[FIRING] psi(age) > 0.25 on age: inf (threshold 0.25)"


def test_slack_payload_has_text_and_blocks() -> None:
    payload = slack_payload(firing_event())
    assert payload["text"] == (
        ":rotating_light: [FIRING] psi(age) &gt; 0.25 critical on age: 0.31 (threshold 0.25)"
    )
    header, section, context = payload["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert section["fields"][0] == {"type": "mrkdwn", "text": "*Rule*\npsi(age) &gt; 0.25 critical"}
    assert context["type"] == "context"


def test_slack_notifier_posts_the_payload_and_hides_the_webhook_path(receiver: Receiver) -> None:
    event = firing_event()
    deliveries = SlackNotifier(receiver.url).send(event)
    assert outcomes(deliveries) == [(1, "delivered", 200)]
    assert deliveries[0].target == receiver.url.split("/hooks")[0]
    headers, body, _ = receiver.requests[0]
    assert json.loads(body) == slack_payload(event)
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_dispatch_sends_notifiable_events_and_records_silenced_ones(receiver: Receiver) -> None:
    notifier = WebhookNotifier(receiver.url, SECRET)
    evaluator = AlertEvaluator(["psi(age) > 0.25 for 2 windows"])
    pending = evaluator.evaluate({"psi": {"age": 0.3}}, 0, 1, at=1).events
    silenced = firing_event(silenced=True)
    deliveries = dispatch([*pending, silenced, firing_event()], [notifier])
    assert [(d.outcome, d.attempt) for d in deliveries] == [("silenced", 0), ("delivered", 1)]
    assert deliveries[0].error == "silenced by maint"
    assert len(receiver.requests) == 1


def test_verify_signature_accepts_only_fresh_untampered_bodies() -> None:
    body, now = b'{"a":1}', 1_718_000_000
    signature = sign(SECRET, now, body)
    assert verify_signature(SECRET, str(now), body, signature, 300, now_s=now + 299)
    assert not verify_signature(SECRET, now, body + b" ", signature, 300, now_s=now)
    assert not verify_signature("wrong", now, body, signature, 300, now_s=now)
    assert not verify_signature(SECRET, now, body, signature, 300, now_s=now + 301)
    assert not verify_signature(SECRET, now, body, signature, 300, now_s=now - 301)
    assert not verify_signature(SECRET, "yesterday", body, signature, 300, now_s=now)
    assert not verify_signature(SECRET, now, body, signature.removeprefix("sha256="), now_s=now)
    assert not verify_signature(SECRET, now + 1, body, signature, 300, now_s=now)
    expected = hmac.new(SECRET.encode(), b"1718000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sign("", 1, b""), "secret must be a non-empty"),
        (lambda: sign("k", 1, "text"), "body must be the exact request bytes"),  # type: ignore[arg-type]
        (lambda: verify_signature("k", 1, b"", "x", -1), "tolerance_s must be"),
        (lambda: WebhookNotifier("ftp://x/y", "k"), "url must be an absolute http"),
        (lambda: WebhookNotifier("http://x/y", b""), "secret must be a non-empty"),
        (lambda: SlackNotifier("hooks.slack.com/x"), "webhook_url must be an absolute"),
        (lambda: RetryPolicy(max_attempts=0), "max_attempts must be an integer"),
        (lambda: RetryPolicy(base_delay_s=float("nan")), "base_delay_s must be a finite"),
        (lambda: RetryPolicy(total_timeout_s=0), "must be > 0 seconds"),
    ],
)
def test_bad_notifier_arguments_are_rejected(call: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        call()  # type: ignore[operator]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_backoff_doubles_its_cap_and_jitters_below_it() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=4.0, total_timeout_s=1e6)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.sleep(seconds)

    retrier = Retrier(policy, sleep=sleep, monotonic=clock.monotonic, rng=random.Random(7))

    def failing(timeout_s: float) -> AttemptResult:
        return AttemptResult(503, "HTTP 503", is_retryable=True)

    deliveries = retrier.run(failing, notifier="t", target="t", event_id="e")
    assert len(deliveries) == 6
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(0 <= s <= cap for s, cap in zip(sleeps, caps, strict=True))
    assert len(set(sleeps)) == 5  # jittered, not a fixed schedule


def test_total_time_budget_bounds_attempts_and_sleeps() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=20, base_delay_s=1.0, max_delay_s=1.0, total_timeout_s=5.0)
    timeouts: list[float] = []

    def slow_failure(timeout_s: float) -> AttemptResult:
        timeouts.append(timeout_s)
        clock.now += min(timeout_s, 1.5)
        return AttemptResult(None, "ConnectError", is_retryable=True)

    retrier = Retrier(policy, sleep=clock.sleep, monotonic=clock.monotonic, rng=random.Random(1))
    deliveries = retrier.run(slow_failure, notifier="t", target="t", event_id="e")
    assert clock.now <= 5.0
    assert deliveries[-1].outcome == "failed"
    assert len(deliveries) < 20
    assert all(t <= 5.0 for t in timeouts)

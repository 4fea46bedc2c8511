"""Webhook deliveries against a real receiver on 127.0.0.1: signatures, retries, records."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from conveyor.governance.dispatcher import DispatchConfig, Dispatcher
from conveyor.governance.signing import verify_signature
from conveyor.governance.webhooks import Webhooks
from conveyor.store import write
from conveyor.store.events import append
from conveyor.tracking import Workspace
from tests.servers import ThreadServer

SECRET = "s3cret-s3cret-s3cret"


@dataclass
class Receiver:
    url: str
    statuses: list[int]  # answers to give, in order; 200 once they run out
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("", [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((body, dict(self.headers.items())))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"nope" if status >= 300 else b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    yield workspace
    workspace.close()


def _emit(ws: Workspace, action: str, **payload: object) -> None:
    with write(ws.engine) as conn:
        append(conn, action=action, subject="models:/churn/1", payload=payload, actor="alice")


def _drain(dispatcher: Dispatcher, rounds: int = 50) -> None:
    """Run passes until nothing is pending (retries are 10-40 ms apart here)."""
    import time

    for _ in range(rounds):
        dispatcher.run_once()
        time.sleep(0.02)


def _fast(max_attempts: int = 6) -> DispatchConfig:
    return DispatchConfig(max_attempts=max_attempts, backoff_s=0.01, backoff_cap_s=0.04)


def test_a_matching_event_is_delivered_signed(ws: Workspace, receiver: Receiver) -> None:
    hook = (
        Webhooks(ws.engine)
        .create(receiver.url, ["model_version.*"], secret=SECRET, actor="alice")
        .webhook
    )
    _emit(ws, "model_version.created", name="churn", version=1)
    _emit(ws, "dataset.version_created", name="train")  # not subscribed
    _emit(ws, "model_version.created", name="other", project="elsewhere")  # other project
    dispatcher = Dispatcher(ws.engine, _fast())
    try:
        assert dispatcher.run_once() == (1, 1)
    finally:
        dispatcher.stop()
    [(body, headers)] = receiver.received
    assert verify_signature(SECRET, body, headers["X-Conveyor-Signature"])
    assert not verify_signature("another-secret-123", body, headers["X-Conveyor-Signature"])
    assert not verify_signature(SECRET, body + b" ", headers["X-Conveyor-Signature"])
    message = orjson.loads(body)
    assert message["webhook_id"] == hook.webhook_id
    assert message["event"]["action"] == "model_version.created"
    assert message["event"]["payload"] == {"name": "churn", "version": 1}
    assert message["event"]["actor"] == "alice"
    assert headers["X-Conveyor-Event"] == "model_version.created"
    assert headers["X-Conveyor-Delivery"] == str(message["delivery_id"])
    assert int(headers["X-Conveyor-Timestamp"]) > 0
    [delivery] = Webhooks(ws.engine).deliveries(hook.webhook_id)
    assert (delivery.state, delivery.attempts, delivery.http_status) == ("delivered", 1, 200)


def test_a_500_is_retried_then_delivered(ws: Workspace, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    hook = (
        Webhooks(ws.engine)
        .create(receiver.url, ["registry.*"], secret=SECRET, actor="alice")
        .webhook
    )
    _emit(ws, "registry.alias_set", alias="production")
    dispatcher = Dispatcher(ws.engine, _fast())
    try:
        _drain(dispatcher)
    finally:
        dispatcher.stop()
    [alias] = Webhooks(ws.engine).deliveries(hook.webhook_id)
    assert (alias.state, alias.attempts, alias.http_status, alias.error) == (
        "delivered",
        3,
        200,
        None,
    )
    bodies = [orjson.loads(b)["event"]["action"] for b, _ in receiver.received]
    assert bodies.count("registry.alias_set") == 3  # the same delivery, three attempts


def test_delivery_gives_up_after_max_attempts(ws: Workspace, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    hook = (
        Webhooks(ws.engine)
        .create(receiver.url, ["registry.*"], secret=SECRET, actor="alice")
        .webhook
    )
    _emit(ws, "registry.model_created", name="churn")
    dispatcher = Dispatcher(ws.engine, _fast(max_attempts=3))
    try:
        _drain(dispatcher)
    finally:
        dispatcher.stop()
    [delivery] = Webhooks(ws.engine).deliveries(hook.webhook_id)
    assert (delivery.state, delivery.attempts, delivery.http_status) == ("failed", 3, 500)
    assert delivery.error is not None
    assert delivery.error.startswith("HTTP 500")
    assert len(receiver.received) == 3


def test_an_unreachable_receiver_is_recorded(ws: Workspace) -> None:
    hook = (
        Webhooks(ws.engine)
        .create("http://127.0.0.1:9/nothing", ["*.created"], secret=SECRET, actor="alice")
        .webhook
    )
    _emit(ws, "model_version.created", name="churn")
    dispatcher = Dispatcher(ws.engine, _fast(max_attempts=2))
    try:
        _drain(dispatcher, rounds=20)
    finally:
        dispatcher.stop()
    deliveries = Webhooks(ws.engine).deliveries(hook.webhook_id, state="failed")
    assert deliveries
    assert all(d.http_status is None and "ConnectError" in (d.error or "") for d in deliveries)


def test_the_webhook_api_and_ping(ws: Workspace, receiver: Receiver) -> None:
    with ThreadServer(ws, monitor_interval_s=0, webhook_interval_s=0) as server:
        api = httpx.Client(base_url=f"{server.url}/api/v1", timeout=30)
        created = api.post("/webhooks", json={"url": receiver.url, "events": ["registry.*"]})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        webhook_id = created.json()["webhook"]["webhook_id"]
        listed = api.get("/webhooks")
        assert secret not in listed.text
        assert [h["webhook_id"] for h in listed.json()["webhooks"]] == [webhook_id]
        ping = api.post(f"/webhooks/{webhook_id}/test")
        assert ping.json() == {"ok": True, "http_status": 200, "error": None}
        body, headers = receiver.received[-1]
        assert verify_signature(secret, body, headers["X-Conveyor-Signature"])
        assert headers["X-Conveyor-Event"] == "webhook.ping"
        bad = api.post("/webhooks", json={"url": "ftp://x", "events": ["*"]})
        assert bad.status_code == 400
        assert bad.json()["error"]["field"] == "url"
        assert api.get(f"/webhooks/{webhook_id}/deliveries").json() == {"deliveries": []}
        assert api.delete(f"/webhooks/{webhook_id}").status_code == 204
        assert api.get(f"/webhooks/{webhook_id}/deliveries").status_code == 404
        api.close()


def test_the_server_dispatches_in_its_lifespan(ws: Workspace, receiver: Receiver) -> None:
    Webhooks(ws.engine).create(receiver.url, ["model_version.*"], secret=SECRET, actor="alice")
    with ThreadServer(ws, monitor_interval_s=0, webhook_interval_s=0.05):
        _emit(ws, "model_version.created", name="churn")
        import time

        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(receiver.received) == 1

"""The one-write httptools protocol: every kind of response arrives whole, head and body at once."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from conveyor.serving.http_protocol import OneWriteHttpToolsProtocol, _HeadHeldBack
from tests.servers import free_port, wait_for

WRITES: list[bytes] = []  # what the server put on the wire, one entry per transport write


class _CountingTransport:
    """Records every write before passing it on."""

    def __init__(self, real: asyncio.Transport) -> None:
        self._real = real

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Counting(OneWriteHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CountingTransport(transport))  # type: ignore[arg-type]


BIG = b"x" * (200 * 1024)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    body = b""
    while True:  # read the whole request body
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/boom":
        msg = "the app failed"
        raise RuntimeError(msg)
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    payload = {"/big": BIG, "/empty": b"", "/echo": body}.get(path, b'{"predictions":[0]}')
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=port, http=_Counting, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _writes_for(call: Any) -> list[bytes]:
    WRITES.clear()
    call()
    time.sleep(0.05)  # the server thread's last write may land just after the client returns
    return list(WRITES)


def test_a_small_answer_is_one_write_with_head_and_body(url: str) -> None:
    with httpx.Client() as client:
        client.get(f"{url}/").raise_for_status()  # connection made
        response: list[httpx.Response] = []
        writes = _writes_for(lambda: response.append(client.post(f"{url}/", content=b"{}")))
    assert response[0].status_code == 200
    assert response[0].content == b'{"predictions":[0]}'
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b'\r\n\r\n{"predictions":[0]}')


def test_a_large_body_is_written_after_the_head_not_copied(url: str) -> None:
    with httpx.Client() as client:
        client.get(f"{url}/").raise_for_status()
        response: list[httpx.Response] = []
        writes = _writes_for(lambda: response.append(client.get(f"{url}/big")))
    assert response[0].content == BIG
    assert [w.startswith(b"HTTP/1.1 200") for w in writes] == [True, False]
    assert writes[1] == BIG


@pytest.mark.parametrize("path", ["/empty", "/"])
def test_head_and_empty_answers_still_send_their_head(url: str, path: str) -> None:
    with httpx.Client() as client:
        assert client.get(f"{url}{path}").status_code == 200
        head = client.head(f"{url}{path}")
    assert head.status_code == 200
    assert head.content == b""


def test_a_streamed_answer_arrives_whole(url: str) -> None:
    response = httpx.get(f"{url}/stream")
    assert response.content == b"one,two,three"


def test_an_app_error_is_a_500_that_arrives(url: str) -> None:
    response = httpx.get(f"{url}/boom")
    assert response.status_code == 500


def test_pipelined_requests_and_connection_close_get_every_answer(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
    last = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request + b"abc" + request + b"def" + last)
        received = b""
        while chunk := sock.recv(65536):  # the server closes after the last answer
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert b"\r\n\r\nabc" in received
    assert b"\r\n\r\ndef" in received
    assert received.endswith(b'{"predictions":[0]}')


def test_expect_100_continue_is_answered_before_the_body(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hello")
        received = b""
        while not received.endswith(b"hello"):
            chunk = sock.recv(65536)
            assert chunk, "the server closed before answering"
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")


class _FakeCycle:
    response_started = False


class _FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_held_head_is_flushed_on_close_and_other_calls_pass_through() -> None:
    real, cycle = _FakeTransport(), _FakeCycle()
    held = _HeadHeldBack(real, cycle)  # type: ignore[arg-type]
    held.write(b"interim")  # before the response starts: not the head, not held
    cycle.response_started = True
    held.write(b"head")
    assert real.writes == [b"interim"]
    assert held.is_closing() is False
    held.close()
    assert real.writes == [b"interim", b"head"]
    assert real.closed


def test_open_connections_are_counted_for_the_lone_caller_rule(url: str) -> None:
    from conveyor.serving import http_protocol

    def open_(n: int) -> None:
        wait_for(lambda: len(http_protocol._connections) == n, f"{n} open", timeout_s=5)

    host, port = url.removeprefix("http://").split(":")
    open_(0)  # earlier tests' connections are closed
    assert not http_protocol.lone_connection()
    with httpx.Client() as first:
        first.get(f"{url}/").raise_for_status()
        open_(1)
        assert http_protocol.lone_connection()
        with socket.create_connection((host, int(port)), timeout=10):
            open_(2)
            assert not http_protocol.lone_connection()
        open_(1)
    open_(0)

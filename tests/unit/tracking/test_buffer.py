"""``MetricBuffer`` and ``Spool`` with fake senders: delivery, retries, spooling and replay."""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import BackendUnavailableError, ConflictError
from conveyor.tracking import buffer as buffer_module
from conveyor.tracking.buffer import RETRY_DELAYS_S, MetricBuffer
from conveyor.tracking.limits import MAX_BATCH_METRICS
from conveyor.tracking.metric_writes import Point
from conveyor.tracking.spool import Spool

RUN_ID = "a" * 32


def no_sleep(_seconds: float) -> None:
    """Stand-in for ``time.sleep``: retries happen at once."""


def points(start: int, count: int) -> list[Point]:
    """``count`` distinct points; the step is the point's position in the whole sequence."""
    return [(f"m{i % 3}", float(i) / 2, 1_000 + i, i) for i in range(start, start + count)]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds, failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s}s")
        time.sleep(0.005)


class FakeServer:
    """A sender that stores batches like the server: skipping batch ids it already stored.

    ``outcomes`` is cycled through, one entry per call: "ok" stores the batch, "down" fails
    before storing, "lost" stores it and then fails (the response was lost). After
    ``max_failures`` failed calls in a row the next call succeeds, so delivery always ends.
    """

    def __init__(self, outcomes: list[str] | None = None, *, max_failures: int = 5) -> None:
        self.outcomes = outcomes or ["ok"]
        self.max_failures = max_failures
        self.stored: list[Point] = []
        self.batch_ids: list[str] = []
        self.calls: list[tuple[str, int]] = []  # (batch_id, number of points) per call
        self._seen: set[str] = set()
        self._failures = 0
        self._lock = threading.Lock()

    def __call__(self, run_id: str, batch: list[Point], batch_id: str) -> None:
        with self._lock:
            assert run_id == RUN_ID
            outcome = self.outcomes[len(self.calls) % len(self.outcomes)]
            self.calls.append((batch_id, len(batch)))
            if self._failures >= self.max_failures:
                outcome = "ok"
            if outcome == "down":
                self._failures += 1
                msg = "fake server down"
                raise BackendUnavailableError(msg)
            if batch_id not in self._seen:
                self._seen.add(batch_id)
                self.batch_ids.append(batch_id)
                self.stored.extend(batch)
            if outcome == "lost":
                self._failures += 1
                msg = "fake server: connection reset after the batch was stored"
                raise BackendUnavailableError(msg)
            self._failures = 0


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


@pytest.fixture
def make_buffer(spool: Spool) -> Iterator[Callable[..., MetricBuffer]]:
    """Build buffers (closed at the end of the test if the test did not)."""
    made: list[MetricBuffer] = []

    def make(send: Callable[[str, list[Point], str], None], **kwargs: float) -> MetricBuffer:
        options: dict[str, float] = {"interval_s": 3600.0, "max_points": 1_000_000, **kwargs}
        buf = MetricBuffer(
            RUN_ID,
            send,
            spool,
            interval_s=options["interval_s"],
            max_points=int(options["max_points"]),
            sleep=no_sleep,
        )
        made.append(buf)
        return buf

    yield make
    for buf in made:
        buffer_module.FLUSHER.unregister(buf)


# --- any interleaving, any failures: every point once, in order --------------------------------

_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 12)),
        st.tuples(st.just("extend"), st.integers(0, 40)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=25,
)
_OUTCOMES = st.lists(st.sampled_from(["ok", "down", "lost"]), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(operations=_OPERATIONS, outcomes=_OUTCOMES, max_points=st.integers(1, 50))
def test_any_interleaving_delivers_every_point_once_in_order(
    operations: list[tuple[str, int]], outcomes: list[str], max_points: int
) -> None:
    server = FakeServer(outcomes)
    logged: list[Point] = []
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(buffer_module, "MAX_BATCH_METRICS", 7)  # exercise splitting too
        spool = Spool(Path(tmp) / "spool")
        buf = MetricBuffer(
            RUN_ID, server, spool, interval_s=0.002, max_points=max_points, sleep=no_sleep
        )
        try:
            for op, n in operations:
                if op == "add":
                    for point in points(len(logged), n):
                        buf.add(point)
                        logged.append(point)
                elif op == "extend":
                    batch = points(len(logged), n)
                    buf.extend(batch)
                    logged.extend(batch)
                else:
                    # A failed flush is allowed: the points stay spooled for a later one.
                    with contextlib.suppress(BackendUnavailableError):
                        buf.flush()
        finally:
            buf.close(timeout_s=30)
        assert len(spool) == 0
        assert not list(spool.directory.glob(".*.tmp"))
    assert server.stored == logged
    assert len(buf) == 0


# --- retries ------------------------------------------------------------------------------------


def test_retries_with_backoff_then_delivers(make_buffer: Callable[..., MetricBuffer]) -> None:
    server = FakeServer(["down", "down", "down", "ok"])
    sleeps: list[float] = []
    buf = make_buffer(server)
    buf._sleep = sleeps.append
    buf.extend(points(0, 10))
    buf.flush()
    assert server.stored == points(0, 10)
    assert sleeps == list(RETRY_DELAYS_S)
    assert len({batch_id for batch_id, _ in server.calls}) == 1  # one batch id across retries


def test_unreachable_server_spools_and_a_later_flush_replays(
    make_buffer: Callable[..., MetricBuffer], spool: Spool
) -> None:
    server = FakeServer(["down"], max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 10))
    with pytest.raises(BackendUnavailableError, match="fake server down"):
        buf.flush()
    assert len(spool) == 1
    assert server.stored == []

    server.outcomes = ["ok"]
    server.max_failures = 5
    buf.extend(points(10, 5))
    buf.flush()
    assert server.stored == points(0, 15)
    assert len(spool) == 0


def test_points_logged_while_spooled_batches_are_pending_are_spooled_too(
    make_buffer: Callable[..., MetricBuffer], spool: Spool
) -> None:
    """A flush that fails must leave every point on disk, not some of them only in memory."""
    server = FakeServer(["down"], max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 10))
    with pytest.raises(BackendUnavailableError, match="fake server down"):
        buf.flush()
    buf.extend(points(10, 10))  # the spool is not empty now: replay fails first
    with pytest.raises(BackendUnavailableError, match="fake server down"):
        buf.flush()

    spooled: list[Point] = []
    for path in spool.pending():
        record = orjson.loads(path.read_bytes())
        spooled.extend((k, v, ts, s) for k, v, ts, s in record["points"])
    assert spooled == points(0, 20)

    # A new process (a new buffer over the same spool) delivers them.
    fresh_server = FakeServer()
    fresh = make_buffer(fresh_server)
    fresh.flush()
    assert fresh_server.stored == points(0, 20)


def test_lost_response_is_not_stored_twice(
    make_buffer: Callable[..., MetricBuffer], spool: Spool
) -> None:
    server = FakeServer(["lost"] * 4 + ["ok"], max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 10))
    with pytest.raises(BackendUnavailableError, match="connection reset"):
        buf.flush()
    assert len(spool) == 1  # the server has it, but the client cannot know
    buf.flush()
    assert server.stored == points(0, 10)
    assert len({batch_id for batch_id, _ in server.calls}) == 1
    assert len(spool) == 0


def test_flush_with_timeout_keeps_trying_until_the_server_is_back(
    make_buffer: Callable[..., MetricBuffer],
) -> None:
    server = FakeServer(["down"] * 9 + ["ok"], max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 3))
    buf.flush(timeout_s=30)
    assert server.stored == points(0, 3)


def test_flush_with_timeout_gives_up_at_the_deadline(
    make_buffer: Callable[..., MetricBuffer], spool: Spool
) -> None:
    server = FakeServer(["down"], max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 3))
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="fake server down"):
        buf.flush(timeout_s=0.2)
    assert 0.2 <= time.monotonic() - started < 10
    assert len(spool) == 1


# --- batching -----------------------------------------------------------------------------------


def test_batch_larger_than_the_limit_is_split_in_order(
    make_buffer: Callable[..., MetricBuffer],
) -> None:
    server = FakeServer()
    buf = make_buffer(server)
    logged = points(0, 2 * MAX_BATCH_METRICS + 1)
    buf.extend(logged)
    buf.flush()
    assert [n for _, n in server.calls] == [MAX_BATCH_METRICS, MAX_BATCH_METRICS, 1]
    assert len(set(server.batch_ids)) == 3
    assert server.stored == logged


def test_failure_in_the_middle_of_a_split_spools_the_rest_in_order(
    make_buffer: Callable[..., MetricBuffer], spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buffer_module, "MAX_BATCH_METRICS", 4)
    # chunk 1 goes through; chunk 2 fails on every retry.
    server = FakeServer(["ok"] + ["down"] * 4, max_failures=10**9)
    buf = make_buffer(server)
    buf.extend(points(0, 10))  # chunks of 4, 4, 2
    with pytest.raises(BackendUnavailableError, match="fake server down"):
        buf.flush()
    assert server.stored == points(0, 4)
    assert len(spool) == 2
    failed_batch_id = server.calls[-1][0]
    assert failed_batch_id in next(spool.pending()).name

    server.outcomes = ["ok"]
    buf.flush()
    assert server.stored == points(0, 10)
    assert failed_batch_id in server.batch_ids  # replayed under the id it was first sent with


def test_background_thread_ships_when_the_buffer_is_full(
    make_buffer: Callable[..., MetricBuffer],
) -> None:
    server = FakeServer()
    buf = make_buffer(server, max_points=100)
    for point in points(0, 100):
        buf.add(point)
    wait_for(lambda: len(server.stored) == 100)
    assert server.stored == points(0, 100)


def test_background_thread_ships_every_interval(
    make_buffer: Callable[..., MetricBuffer],
) -> None:
    server = FakeServer()
    buf = make_buffer(server, interval_s=0.01)
    buf.add(points(0, 1)[0])
    wait_for(lambda: len(server.stored) == 1)


def test_close_flushes_and_stops_background_shipping(
    make_buffer: Callable[..., MetricBuffer],
) -> None:
    server = FakeServer()
    buf = make_buffer(server)  # interval of an hour: only close() can ship these
    buf.extend(points(0, 50))
    buf.add(points(50, 1)[0])
    buf.close()
    assert server.stored == points(0, 51)
    assert not buffer_module.FLUSHER.is_serving(buf)


def test_rejected_batch_does_not_kill_the_background_thread(
    make_buffer: Callable[..., MetricBuffer], caplog: pytest.LogCaptureFixture
) -> None:
    rejected: list[str] = []
    server = FakeServer()

    def send(run_id: str, batch: list[Point], batch_id: str) -> None:
        if not rejected:
            rejected.append(batch_id)
            msg = "run is deleted"
            raise ConflictError(msg, field="run_id")
        server(run_id, batch, batch_id)

    buf = make_buffer(send, interval_s=0.01)
    with caplog.at_level(logging.ERROR, logger="conveyor.tracking"):
        buf.extend(points(0, 5))
        wait_for(lambda: bool(rejected))
        wait_for(lambda: "rejected" in caplog.text)
    assert buffer_module.FLUSHER.is_alive()
    buf.extend(points(5, 5))
    wait_for(lambda: len(server.stored) == 5)
    assert server.stored == points(5, 5)
    assert buffer_module.FLUSHER.is_alive()


# --- the spool ----------------------------------------------------------------------------------


def test_spool_writes_each_batch_to_one_json_file(spool: Spool) -> None:
    batch = [("loss", 0.5, 1, 0), ("loss", math.nan, 2, 1), ("acc", math.inf, 3, 2)]
    batch.append(("acc", -math.inf, 4, 3))
    path = spool.put(RUN_ID, batch, "b" * 32)
    assert path.parent == spool.directory
    assert path.suffix == ".json"
    assert "b" * 32 in path.name
    assert [p.name for p in spool.directory.iterdir()] == [path.name]  # no temp file left
    record = orjson.loads(path.read_bytes())
    assert record["run_id"] == RUN_ID
    assert record["batch_id"] == "b" * 32

    received: list[tuple[str, list[Point], str]] = []
    assert spool.replay(lambda r, p, b: received.append((r, p, b))) == 1
    [(run_id, replayed, batch_id)] = received
    assert (run_id, batch_id) == (RUN_ID, "b" * 32)
    assert replayed[0] == batch[0]
    assert math.isnan(replayed[1][1])
    assert replayed[2:] == batch[2:]


def test_spool_write_is_atomic(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash before the rename leaves no batch file that replay would read half-written."""
    spool.put(RUN_ID, points(0, 2), "1" * 32)

    def crash(self: Path, target: Path) -> Path:
        msg = "simulated crash before the rename"
        raise OSError(msg)

    with monkeypatch.context() as mp:
        mp.setattr(Path, "replace", crash)
        with pytest.raises(OSError, match="simulated crash"):
            spool.put(RUN_ID, points(2, 2), "2" * 32)
    leftovers = [p.name for p in spool.directory.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the temp file of the interrupted write
    assert len(spool) == 1
    sent: list[str] = []
    spool.replay(lambda r, p, b: sent.append(b))
    assert sent == ["1" * 32]


def test_spool_replays_in_order_keeping_batch_ids(spool: Spool) -> None:
    ids = [c * 32 for c in "123"]
    for n, batch_id in enumerate(ids):
        spool.put(RUN_ID, points(n * 2, 2), batch_id)
    calls: list[str] = []
    fail_once = {ids[1]}

    def send(run_id: str, batch: list[Point], batch_id: str) -> None:
        calls.append(batch_id)
        if batch_id in fail_once:
            fail_once.discard(batch_id)
            msg = "down"
            raise BackendUnavailableError(msg)

    with pytest.raises(BackendUnavailableError, match="down"):
        spool.replay(send)
    assert len(spool) == 2  # the delivered batch is gone, the others wait in order
    assert spool.replay(send) == 2
    assert calls == [ids[0], ids[1], ids[1], ids[2]]
    assert len(spool) == 0


def test_spool_order_survives_a_new_spool_object(tmp_path: Path) -> None:
    """Batches written by one process are replayed, in order, by the next."""
    first = Spool(tmp_path / "spool")
    for n in range(5):
        first.put(RUN_ID, points(n, 1), f"{n}" * 32)
    sent: list[Point] = []
    Spool(tmp_path / "spool").replay(lambda r, p, b: sent.extend(p))
    assert sent == points(0, 5)


def test_empty_or_missing_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "missing")
    assert len(spool) == 0
    assert spool.replay(lambda r, p, b: None) == 0
    assert not spool.directory.exists()


# --- permanent rejections never block the points behind them ------------------------------------


def test_rejected_spooled_batch_is_set_aside_and_the_rest_replays(
    make_buffer: Callable[..., MetricBuffer], spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.put(RUN_ID, points(0, 3), "doomed")
    spool.put(RUN_ID, points(3, 3), "fine")
    server = FakeServer()

    def send(run_id: str, batch: list[Point], batch_id: str) -> None:
        if batch_id == "doomed":
            msg = "run is deleted"
            raise ConflictError(msg, field="run_id")
        server(run_id, batch, batch_id)

    buf = make_buffer(send)
    buf.extend(points(6, 2))
    with caplog.at_level(logging.ERROR, logger="conveyor.tracking"):
        buf.flush()
    assert server.stored == points(3, 5)
    assert len(spool) == 0
    assert [p.name.endswith("doomed.json") for p in (spool.directory / "rejected").iterdir()] == [
        True
    ]
    assert "rejected" in caplog.text


def test_rejected_chunk_does_not_drop_the_chunks_after_it(
    make_buffer: Callable[..., MetricBuffer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buffer_module, "MAX_BATCH_METRICS", 4)
    server = FakeServer()
    calls: list[int] = []

    def send(run_id: str, batch: list[Point], batch_id: str) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            msg = "bad batch"
            raise ConflictError(msg, field="metrics")
        server(run_id, batch, batch_id)

    buf = make_buffer(send)
    buf.extend(points(0, 10))
    with pytest.raises(ConflictError, match="bad batch"):
        buf.flush()
    assert server.stored == points(4, 6)


def test_unexpected_exception_does_not_stop_background_shipping(
    make_buffer: Callable[..., MetricBuffer], caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    failed: list[bool] = []

    def send(run_id: str, batch: list[Point], batch_id: str) -> None:
        if not failed:
            failed.append(True)
            raise OverflowError("a bug in one batch")
        server(run_id, batch, batch_id)

    buf = make_buffer(send, interval_s=0.01)
    with caplog.at_level(logging.ERROR, logger="conveyor.tracking"):
        buf.extend(points(0, 2))
        wait_for(lambda: bool(failed))
        buf.extend(points(2, 2))
        wait_for(lambda: len(server.stored) == 2)
    assert server.stored == points(2, 2)
    assert "shipping metric points failed" in caplog.text

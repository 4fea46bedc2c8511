from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import BackendUnavailableError, InvalidArgumentError
from conveyor.serving.batch_rows import ModelInput, RowCountMismatchError
from conveyor.serving.batching import (
    AdaptiveBatcher,
    ArrivalForecast,
    LatencyModel,
    theil_sen,
)

Array = np.ndarray[Any, Any]


class Model:
    """Doubles its input and records the rows of every call.

    With ``gated``, the first call blocks until ``release()``, so a test can queue requests
    behind it deterministically.
    """

    def __init__(self, *, delay_s: float = 0.0, gated: bool = False) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s
        self.started = threading.Event()
        self._gate = threading.Event()
        if not gated:
            self._gate.set()

    def predict(self, data: ModelInput) -> Any:
        self.calls.append(len(next(iter(data.values()))) if isinstance(data, dict) else len(data))
        self.started.set()
        self._gate.wait(5)
        if self.delay_s:
            time.sleep(self.delay_s)
        if isinstance(data, dict):
            return {name: value * 2 for name, value in data.items()}
        return data * 2

    def release(self) -> None:
        self._gate.set()

    async def wait_started(self) -> None:
        await asyncio.to_thread(self.started.wait, 5)


Run = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Run a coroutine function on a fresh loop of each kind (the server runs on uvloop)."""
    factory = None
    if request.param == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop

    def runner(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(main())

    return runner


async def settle() -> None:
    """Let every ready task reach its ``await``."""
    for _ in range(3):
        await asyncio.sleep(0)


def rows_from(start: int, n: int, width: int = 3) -> Array:
    return np.arange(start * width, (start + n) * width, dtype=np.float64).reshape(n, width)


# -- latency model -------------------------------------------------------------------------


def test_theil_sen_recovers_a_line_despite_an_outlier() -> None:
    assert theil_sen([1, 2, 3, 4, 5], [1.5, 2.5, 3.5, 40.0, 5.5]) == (1.0, 0.5)


def test_theil_sen_with_one_row_count_has_no_slope() -> None:
    assert theil_sen([4, 4, 4], [1.0, 3.0, 2.0]) == (0.0, 2.0)


def test_latency_model_converges_on_a_noisy_line_with_outliers() -> None:
    rng = np.random.default_rng(7)
    model = LatencyModel()
    model.observe(1, 5.0, now=0.0)  # warm-up batches (imports, cold caches) are skipped
    model.observe(1, 5.0, now=0.0)
    for i in range(200):
        rows = int(rng.integers(1, 65))
        seconds = 2e-6 * rows + 5e-3 + rng.normal(0, 5e-5)
        if i % 10 == 0:
            seconds += 0.05  # a GC pause now and then
        model.observe(rows, seconds, now=i * 0.01)
    assert model.a_s == pytest.approx(2e-6, abs=1e-6)
    assert model.b_s == pytest.approx(5e-3, rel=0.03)


def test_latency_model_does_not_delay_before_it_has_seen_batches() -> None:
    model = LatencyModel()
    for _ in range(5):
        model.observe(1, 1.0, now=0.0)
    assert (model.a_s, model.b_s) == (0.0, 0.0)  # two skipped, three below min_samples
    model.observe(1, 1.0, now=0.0)
    assert model.b_s == 1.0


def test_latency_model_refits_at_most_every_interval_after_warm_up() -> None:
    model = LatencyModel(skip=0)
    for i in range(8):
        model.observe(1, 1.0, now=i * 0.001)
    for i in range(16):
        model.observe(1, 2.0, now=0.01 + i * 0.001)
    assert model.b_s == 1.0  # 16 new batches, but only 24 ms after the last fit
    model.observe(1, 2.0, now=0.3)
    assert model.b_s == 2.0


# -- arrival forecast ----------------------------------------------------------------------


def test_forecast_does_not_wait_for_a_lone_closed_loop_client() -> None:
    forecast = ArrivalForecast()
    now = 0.0
    for _ in range(20):  # send, 5 ms in the model, answer, back 0.2 ms later
        forecast.on_arrival(now)
        now += 0.005
        forecast.on_completion(now, 1)
        now += 0.0002
    forecast.on_arrival(now)
    assert forecast.horizon(now, queued=1, saving_s=0.005) is None


def test_forecast_waits_for_callers_released_by_the_last_batch() -> None:
    forecast = ArrivalForecast()
    now = 0.0
    for _ in range(10):  # 8 callers, back 0.1-0.3 ms after each answer
        forecast.on_completion(now, 8)
        for k in range(8):
            forecast.on_arrival(now + 0.0001 + k * 0.00003)
        now += 0.006
    forecast.on_completion(now, 8)
    until = forecast.horizon(now, queued=1, saving_s=0.005)
    assert until is not None
    assert now < until <= now + 0.0004
    assert forecast.horizon(now + 0.01, queued=1, saving_s=0.005) is None  # overdue: written off


def test_forecast_waits_within_a_burst_and_stops_after_it() -> None:
    forecast = ArrivalForecast()
    now = 0.0
    for _ in range(4):  # bursts of 8 arrivals 20 µs apart, every 10 ms
        for _ in range(8):
            forecast.on_arrival(now)
            now += 0.00002
        now += 0.01
    forecast.on_arrival(now)
    assert forecast.horizon(now + 0.00001, queued=1, saving_s=0.005) is not None
    assert forecast.horizon(now + 0.001, queued=1, saving_s=0.005) is None


def test_forecast_does_not_wait_when_nothing_is_saved() -> None:
    forecast = ArrivalForecast()
    for k in range(10):
        forecast.on_arrival(k * 0.00001)
    assert forecast.horizon(0.0001, queued=1, saving_s=0.0) is None


# -- batcher -------------------------------------------------------------------------------


def test_concurrent_requests_are_coalesced_and_each_gets_its_own_rows(run: Run) -> None:
    model = Model(delay_s=0.005)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict)
        inputs = [rows_from(i, 1) for i in range(64)]
        results = await asyncio.gather(*(batcher.submit(x) for x in inputs))
        for x, result in zip(inputs, results, strict=True):
            np.testing.assert_array_equal(result, x * 2)
        assert batcher.stats.requests == 64
        await batcher.close()

    run(main)
    assert model.calls == [64]  # all were ready in one loop iteration


def test_a_lone_client_is_served_without_waiting(run: Run) -> None:
    model = Model(delay_s=0.002)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict, max_latency_ms=50)
        times = []
        for i in range(40):
            started = time.perf_counter()
            await batcher.submit(rows_from(i, 1))
            times.append(time.perf_counter() - started)
        assert batcher.stats.latency_b_s > 0.0015  # the fit is live, so waiting was possible
        await batcher.close()
        # A wait would add whole milliseconds (up to 50); the call is answered on the loop.
        assert statistics.median(times[10:]) < 0.002 + 0.0015

    run(main)
    assert model.calls == [1] * 40


class ThreadRecordingModel(Model):
    """A ``Model`` that also records the thread of every call."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        super().__init__(delay_s=delay_s)
        self.threads: list[str] = []

    def predict(self, data: ModelInput) -> Any:
        self.threads.append(threading.current_thread().name)
        return super().predict(data)


def test_an_idle_batcher_answers_a_short_call_on_the_event_loop(run: Run) -> None:
    model = ThreadRecordingModel(delay_s=0.001)
    loop_thread = threading.current_thread().name

    async def main() -> None:
        recorder = Recorder()
        batcher = AdaptiveBatcher(model.predict, observer=recorder)
        for i in range(30):
            assert np.array_equal(await batcher.submit(rows_from(i, 1)), rows_from(i, 1) * 2)
        stats = batcher.stats
        await batcher.close()
        # Every call counts, whichever thread made it.
        assert (stats.batches, stats.requests, stats.running) == (30, 30, 0)
        assert len(recorder.sizes) == len(recorder.latencies) == 30

    run(main)
    # The first calls go to the worker: the batcher knows nothing of the model's latency yet.
    assert model.threads[0].startswith("conveyor-batch")
    assert set(model.threads[10:]) == {loop_thread}


def test_a_slow_model_or_inline_max_0_keeps_every_call_off_the_event_loop(run: Run) -> None:
    slow, off = ThreadRecordingModel(delay_s=0.012), ThreadRecordingModel()

    async def main() -> None:
        batchers = [AdaptiveBatcher(slow.predict), AdaptiveBatcher(off.predict, inline_max_ms=0)]
        for batcher in batchers:
            for i in range(12):
                await batcher.submit(rows_from(i, 1))
            await batcher.close()

    run(main)
    assert all(name.startswith("conveyor-batch") for name in slow.threads + off.threads)


def test_an_inline_call_that_fails_fails_its_caller_only(run: Run) -> None:
    model = ThreadRecordingModel()

    def predict(data: ModelInput) -> Any:
        if isinstance(data, np.ndarray) and data[0, 0] < 0:
            raise ValueError("negative input")
        if isinstance(data, np.ndarray) and data[0, 0] == 1e6:
            raise SystemExit(2)
        return model.predict(data)

    async def main() -> None:
        batcher = AdaptiveBatcher(predict)
        for i in range(12):
            await batcher.submit(rows_from(i, 1))
        with pytest.raises(ValueError, match="negative input"):
            await batcher.submit(-rows_from(1, 1))
        with pytest.raises(RuntimeError, match="model predict raised SystemExit"):
            await batcher.submit(np.full((1, 3), 1e6))
        assert np.array_equal(await batcher.submit(rows_from(3, 1)), rows_from(3, 1) * 2)
        assert batcher.stats.running == 0
        await batcher.close()

    run(main)
    assert model.threads[-1] == threading.current_thread().name


def test_closed_loop_clients_are_not_split_into_alternating_half_batches(run: Run) -> None:
    async def served(max_latency_ms: float) -> tuple[float, int]:
        model = Model(delay_s=0.003)
        batcher = AdaptiveBatcher(model.predict, max_latency_ms=max_latency_ms)
        stop = time.perf_counter() + 0.4

        async def client(i: int) -> None:
            while time.perf_counter() < stop:
                await batcher.submit(rows_from(i, 1))
                for _ in range(1 + 3 * i):  # clients come back one after another
                    await asyncio.sleep(0)

        await asyncio.gather(*(client(i) for i in range(8)))
        await batcher.close()
        return statistics.mean(model.calls[20:]), sum(model.calls)

    async def main() -> None:
        at_once, at_once_requests = await served(0.0)
        adaptive, adaptive_requests = await served(10.0)
        assert at_once <= 5.0  # dispatching at once alternates batches of ~1 and ~7
        assert adaptive >= 6.5  # ~7.4 to 7.9 measured
        assert adaptive_requests > 1.25 * at_once_requests  # ~1.5 to 1.9 measured

    run(main)


class Patient(ArrivalForecast):
    """Always expects more requests worth waiting for."""

    def horizon(self, now: float, *, queued: int, saving_s: float) -> float | None:
        return now + 30.0


def patient_batcher(model: Model, max_latency_ms: float) -> AdaptiveBatcher:
    batcher = AdaptiveBatcher(model.predict, max_latency_ms=max_latency_ms)
    batcher._forecast = Patient()
    batcher._latency.b_s = 1.0
    return batcher


def test_no_batch_waits_past_max_latency(run: Run) -> None:
    model = Model()

    async def main() -> None:
        batcher = patient_batcher(model, max_latency_ms=30)
        started = time.perf_counter()
        task = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await asyncio.sleep(0.01)
        late = asyncio.ensure_future(batcher.submit(rows_from(1, 1)))
        await asyncio.sleep(0.01)
        assert not task.done()  # waiting for more, as the forecast asks
        await asyncio.gather(task, late)
        assert 0.025 < time.perf_counter() - started < 0.5  # the oldest request's cap holds
        await batcher.close()

    run(main)
    assert model.calls == [2]


def test_close_dispatches_a_waiting_batch_at_once(run: Run) -> None:
    model = Model()

    async def main() -> None:
        batcher = patient_batcher(model, max_latency_ms=60_000)
        task = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await asyncio.sleep(0.01)
        assert not task.done()
        await asyncio.wait_for(batcher.close(), timeout=2)
        np.testing.assert_array_equal(task.result(), rows_from(0, 1) * 2)

    run(main)


def test_batches_stay_within_max_batch_size_and_a_larger_request_runs_alone(run: Run) -> None:
    model = Model(gated=True)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict, max_batch_size=8)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await model.wait_started()
        sizes = [3, 3, 3, 20, 2, 5]
        inputs = [rows_from(10 * i, n) for i, n in enumerate(sizes)]
        tasks = [asyncio.ensure_future(batcher.submit(x)) for x in inputs]
        await settle()
        model.release()
        results = await asyncio.gather(first, *tasks)
        for x, result in zip(inputs, results[1:], strict=True):
            np.testing.assert_array_equal(result, x * 2)
        await batcher.close()

    run(main)
    # In arrival order: 3+3, then 3 (the 20 does not fit and nothing jumps it), 20 alone, 2+5.
    assert model.calls == [1, 6, 3, 20, 7]


def test_inputs_that_do_not_concatenate_go_in_separate_batches(run: Run) -> None:
    model = Model(gated=True)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await model.wait_started()
        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
        inputs: list[ModelInput] = [
            rows_from(1, 2),
            rows_from(2, 1, width=4),
            frame,
            rows_from(3, 1),
            {"t": np.array([1, 2, 3])},
            frame.iloc[:1],
        ]
        tasks = [asyncio.ensure_future(batcher.submit(x)) for x in inputs]
        await settle()
        model.release()
        results = await asyncio.gather(*tasks)
        await first
        np.testing.assert_array_equal(results[0], rows_from(1, 2) * 2)
        np.testing.assert_array_equal(results[3], rows_from(3, 1) * 2)
        assert isinstance(results[2], pd.DataFrame)
        pd.testing.assert_frame_equal(results[2], frame * 2)
        assert isinstance(results[5], pd.DataFrame)
        pd.testing.assert_frame_equal(results[5], frame.iloc[:1] * 2)
        assert isinstance(results[4], dict)
        np.testing.assert_array_equal(results[4]["t"], [2, 4, 6])
        await batcher.close()

    run(main)
    # first; the 3-wide arrays (2+1); the 4-wide one; both frames (2+1); the tensors.
    assert model.calls == [1, 3, 1, 3, 3]


def test_an_input_sent_alone_gets_a_call_of_its_own(run: Run) -> None:
    model = Model(gated=True)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await model.wait_started()
        ragged = {"image": np.ones((1, 2, 2)), "scale": np.ones(3)}  # no common row axis
        tasks = [
            asyncio.ensure_future(batcher.submit(rows_from(1, 1))),
            asyncio.ensure_future(batcher.submit(rows_from(2, 1), alone=True)),
            asyncio.ensure_future(batcher.submit(ragged, alone=True)),
            asyncio.ensure_future(batcher.submit(rows_from(3, 1))),
        ]
        await settle()
        model.release()
        results = await asyncio.gather(first, *tasks)
        np.testing.assert_array_equal(results[2], rows_from(2, 1) * 2)
        assert isinstance(results[3], dict)
        np.testing.assert_array_equal(results[3]["scale"], [2, 2, 2])
        await batcher.close()

    run(main)
    assert model.calls == [1, 2, 1, 1]  # first; the two batchable ones; each alone one


def test_a_bad_request_fails_alone_and_the_others_succeed(run: Run) -> None:
    calls: list[int] = []
    gate = threading.Event()

    def predict(data: ModelInput) -> Array:
        assert isinstance(data, np.ndarray)
        calls.append(len(data))
        gate.wait(5)
        if np.isnan(data).any():
            msg = "input contains NaN"
            raise ValueError(msg)
        total: Array = data.sum(axis=1)
        return total

    async def main() -> None:
        batcher = AdaptiveBatcher(predict)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await settle()
        inputs = [rows_from(i, 2) for i in range(1, 6)]
        inputs[2][1, 0] = np.nan
        tasks = [asyncio.ensure_future(batcher.submit(x)) for x in inputs]
        await settle()
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await first
        for i, (x, result) in enumerate(zip(inputs, results, strict=True)):
            if i == 2:
                assert isinstance(result, ValueError)
                assert str(result) == "input contains NaN"
            else:
                np.testing.assert_array_equal(result, x.sum(axis=1))
        with pytest.raises(ValueError, match="NaN"):
            await batcher.submit(inputs[2])
        await batcher.close()

    run(main)
    assert calls[:3] == [1, 10, 2]  # the failed batch, then each request alone


def test_predictions_of_the_wrong_length_fail_the_whole_batch(run: Run) -> None:
    gate = threading.Event()

    def predict(data: ModelInput) -> Array:
        gate.wait(5)
        assert isinstance(data, np.ndarray)
        return data[:1, 0]

    async def main() -> None:
        batcher = AdaptiveBatcher(predict)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await settle()
        tasks = [asyncio.ensure_future(batcher.submit(rows_from(i, 1))) for i in range(3)]
        await settle()
        gate.set()
        await first  # a lone request is never cut, so nothing can misalign
        for task in tasks:
            with pytest.raises(RowCountMismatchError, match="model returned 1 rows for a batch"):
                await task
        await batcher.close()

    run(main)


def test_a_cancelled_caller_does_not_break_the_batch(run: Run) -> None:
    model = Model(gated=True)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await model.wait_started()
        tasks = [asyncio.ensure_future(batcher.submit(rows_from(i, 2))) for i in range(1, 5)]
        await settle()
        tasks[1].cancel()
        first.cancel()  # its batch is already in the model
        await settle()
        model.release()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[1], asyncio.CancelledError)
        for i in (0, 2, 3):
            np.testing.assert_array_equal(done[i], rows_from(i + 1, 2) * 2)
        assert first.cancelled()
        await batcher.close()

    run(main)
    assert model.calls == [1, 6]


def test_close_answers_accepted_requests_and_refuses_new_ones(run: Run) -> None:
    model = Model(gated=True)

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict)
        tasks = [asyncio.ensure_future(batcher.submit(rows_from(i, 1))) for i in range(5)]
        await model.wait_started()
        closing = asyncio.ensure_future(batcher.close())
        await settle()
        with pytest.raises(BackendUnavailableError, match="shutting down"):
            await batcher.submit(rows_from(9, 1))
        assert not closing.done()
        model.release()
        await closing
        for i, task in enumerate(tasks):
            np.testing.assert_array_equal(task.result(), rows_from(i, 1) * 2)
        assert batcher.stats.queued == 0
        await batcher.close()  # closing twice is harmless

    run(main)
    assert not [t for t in threading.enumerate() if t.name.startswith("conveyor-batch")]


def test_a_given_executor_is_used_and_left_running(run: Run) -> None:
    executor = ThreadPoolExecutor(1, thread_name_prefix="given")
    names: list[str] = []

    def predict(data: ModelInput) -> ModelInput:
        names.append(threading.current_thread().name)
        return data

    async def main() -> None:
        batcher = AdaptiveBatcher(predict, executor=executor)
        await batcher.submit(rows_from(0, 1))
        await batcher.close()

    run(main)
    assert names[0].startswith("given")
    assert executor.submit(lambda: 1).result() == 1
    executor.shutdown()


def test_a_shut_down_executor_answers_unavailable(run: Run) -> None:
    executor = ThreadPoolExecutor(1)
    executor.shutdown()

    async def main() -> None:
        batcher = AdaptiveBatcher(lambda data: data, executor=executor)
        with pytest.raises(BackendUnavailableError, match="worker is shut down"):
            await batcher.submit(rows_from(0, 1))

    run(main)


def test_a_model_that_exits_answers_its_callers(run: Run) -> None:
    def predict(data: ModelInput) -> ModelInput:
        raise SystemExit(3)

    async def main() -> None:
        batcher = AdaptiveBatcher(predict)
        with pytest.raises(RuntimeError, match="model predict raised SystemExit"):
            await batcher.submit(rows_from(0, 1))
        await batcher.close()

    run(main)


class Recorder:
    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.depths: list[int] = []
        self.latencies: list[float] = []

    def batch_size(self, rows: int, requests: int) -> None:
        self.sizes.append((rows, requests))

    def queue_depth(self, requests: int) -> None:
        self.depths.append(requests)

    def batch_latency(self, seconds: float) -> None:
        self.latencies.append(seconds)


def test_the_observer_sees_every_batch(run: Run) -> None:
    model = Model(gated=True)
    recorder = Recorder()

    async def main() -> None:
        batcher = AdaptiveBatcher(model.predict, max_batch_size=4, observer=recorder)
        first = asyncio.ensure_future(batcher.submit(rows_from(0, 1)))
        await model.wait_started()
        tasks = [asyncio.ensure_future(batcher.submit(rows_from(i, 1))) for i in range(6)]
        await settle()
        model.release()
        await asyncio.gather(first, *tasks)
        assert batcher.stats.recent_batch_rows == (1, 4, 2)
        assert batcher.stats.batches == 3
        await batcher.close()

    run(main)
    assert recorder.sizes == [(1, 1), (4, 4), (2, 2)]
    assert recorder.depths == [0, 2, 0]
    assert len(recorder.latencies) == 3
    assert recorder.latencies[0] > recorder.latencies[2]  # the first waited on the gate


def test_a_batcher_serves_one_event_loop(run: Run) -> None:
    batcher = AdaptiveBatcher(lambda data: data)

    async def once() -> None:
        await batcher.submit(rows_from(0, 1))

    run(once)
    with pytest.raises(RuntimeError, match="another event loop"):
        run(once)


@pytest.mark.parametrize(
    ("limits", "match"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be at least 1 row, got 0"),
        ({"max_latency_ms": -1}, "max_latency_ms must be between 0 and 60000, got -1"),
        ({"max_concurrency": 0}, "max_concurrency must be at least 1 batch, got 0"),
    ],
)
def test_limits_out_of_range_are_refused(limits: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match) as caught:
        AdaptiveBatcher(lambda data: data, **limits)
    assert caught.value.field == next(iter(limits))


def test_a_lone_caller_is_answered_in_submit_without_yielding_to_the_loop(run: Run) -> None:
    model = ThreadRecordingModel(delay_s=0.001)

    async def main() -> None:
        lone = [True]
        batcher = AdaptiveBatcher(model.predict, lone_caller=lambda: lone[0])
        for i in range(12):  # fit the latency first
            await batcher.submit(rows_from(i, 1))
        ticks: list[int] = []
        loop = asyncio.get_running_loop()
        loop.call_soon(ticks.append, 1)  # runs at the loop's next turn
        answer = await batcher.submit(rows_from(5, 1))
        assert np.array_equal(answer, rows_from(5, 1) * 2)
        assert ticks == []  # answered before the loop turned
        assert model.threads[-1] == threading.current_thread().name
        # Not alone: two requests ready together still form one batch, as before.
        lone[0] = False
        calls = len(model.calls)
        await asyncio.gather(*(batcher.submit(rows_from(i, 1)) for i in range(2)))
        assert model.calls[calls:] == [2]
        stats = batcher.stats
        await batcher.close()
        assert (stats.batches, stats.requests, stats.running) == (14, 15, 0)

    run(main)


def test_a_lone_callers_inline_failure_is_raised_to_it(run: Run) -> None:
    def predict(data: Any) -> Any:
        if data[0, 0] < 0:
            raise ValueError("negative input")
        return data * 2

    async def main() -> None:
        batcher = AdaptiveBatcher(predict, lone_caller=lambda: True)
        for i in range(12):
            await batcher.submit(rows_from(i, 1))
        with pytest.raises(ValueError, match="negative input"):
            await batcher.submit(-rows_from(1, 1))
        assert batcher.stats.running == 0
        await batcher.close()

    run(main)

"""Per-run system metrics sampled in the background: CPU, memory and, with NVML, GPUs.

Names follow MLflow's (``system/cpu_utilization_percentage``, ...), so dashboards built for MLflow
read them. GPU metrics need ``pynvml`` and a GPU; without either they are skipped silently.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

import psutil

from conveyor._time import now_ms
from conveyor.tracking.metric_writes import Point

logger = logging.getLogger("conveyor.tracking")


@functools.cache
def _nvml() -> Any | None:
    # Cached: a failed import searches sys.path again on every call, ~1 ms per run.
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no library, no driver or no GPU: all mean "skip"
        return None
    return pynvml


def gpu_sample(nvml: Any) -> dict[str, float]:
    """Return utilisation and memory of every visible GPU."""
    values: dict[str, float] = {}
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        util = nvml.nvmlDeviceGetUtilizationRates(handle)
        mem = nvml.nvmlDeviceGetMemoryInfo(handle)
        values[f"system/gpu_{i}_utilization_percentage"] = float(util.gpu)
        values[f"system/gpu_{i}_memory_usage_megabytes"] = mem.used / 2**20
        values[f"system/gpu_{i}_memory_usage_percentage"] = 100.0 * mem.used / max(mem.total, 1)
    return values


def sample(process: psutil.Process, nvml: Any | None = None) -> dict[str, float]:
    """Return one sample of system and process metrics."""
    vm = psutil.virtual_memory()
    values = {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (vm.total - vm.available) / 2**20,
        "system/system_memory_usage_percentage": vm.percent,
        "system/process_memory_rss_megabytes": process.memory_info().rss / 2**20,
    }
    if nvml is not None:
        with contextlib.suppress(Exception):
            values.update(gpu_sample(nvml))
    return values


FRESH_MS = 1_000  # a sample this young stands for "now" (runs ending in a loop share it)
_last: tuple[int, dict[str, float]] | None = None
_last_lock = threading.Lock()


def current_sample() -> tuple[int, dict[str, float]]:
    """Return (time, values) of a process-wide sample at most ``FRESH_MS`` old."""
    global _last  # noqa: PLW0603 - one cache per process, like the sampler thread
    now = now_ms()
    with _last_lock:
        if _last is not None and now - _last[0] < FRESH_MS:
            return _last
    values = sample(_process(), _nvml())
    with _last_lock:
        _last = (now, values)
    return now, values


@functools.cache
def _process() -> psutil.Process:
    psutil.cpu_percent(interval=None)  # primes the counter; its first call returns 0.0
    return psutil.Process()


class _Sampler:
    """One process-wide thread that samples for every monitored run.

    Starting a thread per run cost more than the rest of a short run; runs register here
    instead, and each sample is fanned out to every registered run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._monitors: dict[int, SystemMonitor] = {}
        self._interval_s: float | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, monitor: SystemMonitor) -> None:
        with self._lock:
            self._monitors[id(monitor)] = monitor
            if self._interval_s is None or monitor.interval_s < self._interval_s:
                self._interval_s = monitor.interval_s
                self._wake.set()  # a shorter interval takes effect now
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="conveyor-sysmetrics", daemon=True
                )
                self._thread.start()

    def remove(self, monitor: SystemMonitor) -> None:
        with self._lock:
            self._monitors.pop(id(monitor), None)
            self._interval_s = min((m.interval_s for m in self._monitors.values()), default=None)

    def _loop(self) -> None:
        while True:
            interval = self._interval_s
            self._wake.wait(3600.0 if interval is None else interval)
            if self._wake.is_set():
                self._wake.clear()
                continue
            with self._lock:
                monitors = list(self._monitors.values())
            if not monitors:
                continue
            try:
                ts, values = current_sample()
            except Exception:
                logger.debug("system metrics sample failed", exc_info=True)
                continue
            for monitor in monitors:
                monitor.record(values, ts)


_sampler = _Sampler()


class SystemMonitor:
    """Samples every ``interval_s`` into ``emit`` until stopped; one last sample on stop."""

    def __init__(self, emit: Callable[[list[Point]], None], *, interval_s: float) -> None:
        self._emit = emit
        self.interval_s = interval_s
        self._step = 0
        self._step_lock = threading.Lock()
        self._stopped = False
        _sampler.add(self)

    def record(self, values: dict[str, float], ts: int) -> None:
        """Emit one sample as points at the next step."""
        with self._step_lock:  # held while emitting: nothing reaches a run's buffer after stop()
            if self._stopped:
                return
            self._emit([(k, v, ts, self._step) for k, v in values.items()])
            self._step += 1

    def stop(self) -> None:
        """Stop sampling, taking a final sample."""
        _sampler.remove(self)
        with contextlib.suppress(Exception):
            ts, values = current_sample()
            self.record(values, ts)
        with self._step_lock:
            self._stopped = True

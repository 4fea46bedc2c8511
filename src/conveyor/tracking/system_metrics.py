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


@functools.cache
def _process() -> psutil.Process:
    psutil.cpu_percent(interval=None)  # primes the counter; its first call returns 0.0
    return psutil.Process()


class SystemMonitor:
    """Samples every ``interval_s`` into ``emit`` until stopped; one last sample on stop."""

    def __init__(self, emit: Callable[[list[Point]], None], *, interval_s: float) -> None:
        self._emit = emit
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._step = 0
        self._process = _process()
        self._nvml = _nvml()
        self._thread = threading.Thread(target=self._loop, name="conveyor-sysmetrics", daemon=True)
        self._thread.start()

    def _record(self) -> None:
        ts = now_ms()
        values = sample(self._process, self._nvml)
        self._emit([(k, v, ts, self._step) for k, v in values.items()])
        self._step += 1

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._record()
            except Exception:
                logger.debug("system metrics sample failed", exc_info=True)

    def stop(self) -> None:
        """Stop sampling, taking a final sample."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self._record()

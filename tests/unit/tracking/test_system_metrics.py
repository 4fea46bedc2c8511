"""System metrics: names, values, and the GPU path with a stand-in for NVML."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import psutil

from conveyor.tracking.metric_writes import Point
from conveyor.tracking.system_metrics import SystemMonitor, gpu_sample, sample


class FakeNvml:
    """Answers the four NVML calls the sampler makes, for two GPUs."""

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 - NVML's own names
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(gpu=40 + handle)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(used=(handle + 1) * 2**30, total=8 * 2**30)


def test_gpu_sample_names_follow_mlflow() -> None:
    values = gpu_sample(FakeNvml())
    assert values == {
        "system/gpu_0_utilization_percentage": 40.0,
        "system/gpu_0_memory_usage_megabytes": 1024.0,
        "system/gpu_0_memory_usage_percentage": 12.5,
        "system/gpu_1_utilization_percentage": 41.0,
        "system/gpu_1_memory_usage_megabytes": 2048.0,
        "system/gpu_1_memory_usage_percentage": 25.0,
    }


def test_sample_without_gpu_has_cpu_and_memory() -> None:
    values = sample(psutil.Process())
    assert set(values) == {
        "system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage",
        "system/process_memory_rss_megabytes",
    }
    assert 0 <= values["system/system_memory_usage_percentage"] <= 100
    assert values["system/process_memory_rss_megabytes"] > 1


def test_sample_includes_gpus_when_nvml_answers() -> None:
    values = sample(psutil.Process(), FakeNvml())
    assert "system/gpu_1_memory_usage_percentage" in values


def test_monitor_emits_steps_and_a_final_sample() -> None:
    emitted: list[list[Point]] = []
    monitor = SystemMonitor(emitted.append, interval_s=0.01)
    deadline = time.monotonic() + 10
    while len(emitted) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    monitor.stop()
    steps = [batch[0][3] for batch in emitted]
    assert steps == list(range(len(emitted)))
    assert all(p[0].startswith("system/") for batch in emitted for p in batch)


def test_monitors_share_one_sampling_thread() -> None:
    emitted: list[list[list[Point]]] = [[], [], []]
    monitors = [SystemMonitor(out.append, interval_s=0.01) for out in emitted]
    deadline = time.monotonic() + 10
    while min(len(out) for out in emitted) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    samplers = [t for t in threading.enumerate() if t.name == "conveyor-sysmetrics"]
    for monitor in monitors:
        monitor.stop()
    assert len(samplers) == 1
    for out in emitted:  # every run gets its own steps, from 0, and nothing after stop()
        assert [batch[0][3] for batch in out] == list(range(len(out)))
    sizes = [len(out) for out in emitted]
    time.sleep(0.05)
    assert [len(out) for out in emitted] == sizes

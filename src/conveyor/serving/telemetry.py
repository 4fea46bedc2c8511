"""Prometheus metrics of a serving replica.

One registry per process. With several worker processes (``conveyor serve --workers N``) the
metrics go through prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by
the command before the workers start), so any worker's ``/metrics`` reports the whole replica.
Label children are cached per (deployment, version, route): the per-request cost is a dict
lookup and an atomic add, not a label resolution.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServingMetrics:
    """The replica's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        route = ["deployment", "version", "route"]
        self.requests = Counter(
            "conveyor_serving_requests",
            "Inference requests answered, by deployment, model version, route, protocol, status.",
            [*route, "protocol", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "conveyor_serving_request_duration_seconds",
            "Time from a request's arrival to its response, by deployment, version and route.",
            route,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "conveyor_serving_predictions",
            "Rows predicted (a request may carry many), by deployment and version.",
            ["deployment", "version"],
            registry=r,
        )
        self.batch_size = Histogram(
            "conveyor_serving_batch_size",
            "Rows per model call after adaptive batching.",
            ["deployment", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_latency = Histogram(
            "conveyor_serving_batch_duration_seconds",
            "Time of one model call on a batch.",
            ["deployment", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        gauge_mode: dict[str, Any] = {"multiprocess_mode": "livesum"} if _multiprocess() else {}
        self.queue_depth = Gauge(
            "conveyor_serving_queue_depth",
            "Requests waiting for a batch, by deployment and version.",
            ["deployment", "version"],
            registry=r,
            **gauge_mode,
        )
        load_mode: dict[str, Any] = {"multiprocess_mode": "max"} if _multiprocess() else {}
        self.load_seconds = Gauge(
            "conveyor_serving_model_load_seconds",
            "Seconds the last load of a model version took.",
            ["deployment", "version"],
            registry=r,
            **load_mode,
        )
        self.shadow_requests = Counter(
            "conveyor_serving_shadow_requests",
            "Copies of requests sent to shadow versions, by status.",
            ["deployment", "version", "status"],
            registry=r,
        )
        self.swaps = Counter(
            "conveyor_serving_route_swaps",
            "Route tables swapped in (alias moves, policy changes).",
            ["deployment"],
            registry=r,
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def observe_request(
        self,
        deployment: str,
        *,
        version: str,
        route: str,
        protocol: str,
        status: int,
        seconds: float,
        rows: int,
    ) -> None:
        key = (deployment, version, route, protocol, str(status))
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(deployment, version, route, protocol, str(status)),
                self.latency.labels(deployment, version, route),
                self.rows.labels(deployment, version),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status < 400:
            children[2].inc(rows)

    def render(self) -> bytes:
        """The exposition text: this process's registry, or every worker's in multiprocess mode."""
        if _multiprocess():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


class BatchMetrics:
    """The batcher's observer for one deployment version: batch sizes, latency, queue depth."""

    def __init__(self, metrics: ServingMetrics, deployment: str, version: str) -> None:
        self._size = metrics.batch_size.labels(deployment, version)
        self._latency = metrics.batch_latency.labels(deployment, version)
        self._depth = metrics.queue_depth.labels(deployment, version)

    def batch_size(self, rows: int, requests: int) -> None:  # noqa: ARG002 - the protocol's
        self._size.observe(rows)

    def batch_latency(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def queue_depth(self, depth: int) -> None:
        self._depth.set(depth)

"""Helpers shared by the orchestrator (``tracking.py``) and its workload scripts.

Standard library only: the workloads run under two interpreters, Conveyor's virtualenv and the
MLflow peer's (``benchmarks/.venvs/mlflow``), and both import this module from the script's
directory.

Protocol: a workload script is run as ``python SCRIPT WORKLOAD JSON_PARAMS`` in a fresh process
whose working directory is a fresh, empty temp workspace; it times itself with
``time.perf_counter`` and prints one line ``BENCH_RESULT {json}`` on stdout.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

RESULT_PREFIX = "BENCH_RESULT "

# Every timestamp in the data sets is relative to this instant (milliseconds since the epoch).
BASE_TS = 1_700_000_000_000

# Batched-logging data set: points spread round-robin over this many keys, step = i // keys.
BATCH_KEYS = 10

# Search data set: each run has this many metrics (m0..m19) and params (p0..p9).
SEARCH_METRICS = 20
SEARCH_PARAMS = 10
SEARCH_EXPERIMENT = "bench-search"
SEARCH_PAGE = 100
SEARCH_SEED = 20_240_601
# The query whose first page both systems must return identically (same data, same order).
REFERENCE_THRESHOLD = 0.5

# Run workload: each run logs this many params and metrics.
RUN_PARAMS = 10
RUN_METRICS = 10

Point = tuple[str, float, int, int]  # (key, value, timestamp_ms, step): Conveyor's tuple shape
Params = dict[str, Any]
Result = dict[str, Any]
Workload = Callable[[Params], Result]


def emit(result: Mapping[str, Any]) -> None:
    """Print a workload's result for the orchestrator."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def parse_result(stdout: str) -> Result | None:
    """Return the last ``BENCH_RESULT`` object printed on ``stdout``, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            parsed: Result = json.loads(line[len(RESULT_PREFIX) :])
            return parsed
    return None


def run_main(workloads: Mapping[str, Workload]) -> None:
    """Entry point of a workload script: run ``argv[1]`` with the JSON params in ``argv[2]``."""
    if len(sys.argv) != 3 or sys.argv[1] not in workloads:
        names = ", ".join(sorted(workloads))
        print(f"usage: {sys.argv[0]} WORKLOAD JSON_PARAMS  (workloads: {names})", file=sys.stderr)
        raise SystemExit(2)
    try:
        result = workloads[sys.argv[1]](json.loads(sys.argv[2]))
    except Exception as exc:
        traceback.print_exc()
        emit({"error": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from exc
    emit(result)


class Clock:
    """Seconds measured by ``clock()``."""

    seconds: float = 0.0


_profiler: Any = None


@contextmanager
def clock() -> Iterator[Clock]:
    """Time the block with ``time.perf_counter``.

    With ``BENCH_PROFILE=out.prof`` in the environment the block also runs under cProfile
    (slower: for diagnosis only), and the stats of every timed block so far are written there.
    """
    global _profiler  # noqa: PLW0603 - one profiler per workload process
    path = os.environ.get("BENCH_PROFILE")
    if path and _profiler is None:
        import cProfile

        _profiler = cProfile.Profile()
    result = Clock()
    if path:
        _profiler.enable()
    t0 = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - t0
        if path:
            _profiler.disable()
            _profiler.dump_stats(path)


def rate(count: int, seconds: float) -> float:
    """Return ``count / seconds`` (0 when nothing was timed)."""
    return count / seconds if seconds > 0 else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0..100) of ``values`` by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def batch_points(n: int) -> list[Point]:
    """Return ``n`` points over ``BATCH_KEYS`` keys (the batched-logging data set)."""
    keys = [f"m{k}" for k in range(BATCH_KEYS)]
    return [
        (keys[i % BATCH_KEYS], i * 0.001, BASE_TS + i // BATCH_KEYS, i // BATCH_KEYS)
        for i in range(n)
    ]


def run_payload(i: int) -> tuple[dict[str, str], dict[str, float]]:
    """Return the params and metrics that run ``i`` of the run workload logs."""
    params = {f"p{j}": f"value-{i}-{j}" for j in range(RUN_PARAMS)}
    metrics = {f"m{j}": i * 0.01 + j for j in range(RUN_METRICS)}
    return params, metrics


@dataclass(frozen=True)
class SearchRun:
    """One run of the search data set."""

    index: int
    name: str
    start_time: int
    metrics: list[float]
    params: list[str]


def search_dataset(n: int) -> Iterator[SearchRun]:
    """Yield the ``n`` runs of the search data set (deterministic: both systems get the same)."""
    rng = random.Random(SEARCH_SEED)
    for i in range(n):
        metrics = [rng.random() for _ in range(SEARCH_METRICS)]
        params = [str(rng.randrange(1000)) for _ in range(SEARCH_PARAMS)]
        yield SearchRun(i, f"run-{i:06d}", BASE_TS + i * 1000, metrics, params)


@dataclass(frozen=True)
class SearchQuery:
    """One timed search: a metric filter and an order-by, first page of ``SEARCH_PAGE`` runs."""

    shape: str
    filter_string: str
    order_by: list[str]


SEARCH_SHAPES = {
    "filter+order same metric": ("m0", "m0"),
    "filter+order other metric": ("m0", "m1"),
}


def search_query(shape: str, threshold: float) -> SearchQuery:
    """Return the query of ``shape`` with the filter ``metrics.<m> < threshold``."""
    filtered, ordered = SEARCH_SHAPES[shape]
    return SearchQuery(shape, f"metrics.{filtered} < {threshold:.4f}", [f"metrics.{ordered} DESC"])


def search_queries(per_shape: int) -> list[SearchQuery]:
    """Return ``per_shape`` queries of each shape, thresholds spread over 0.1..0.9, interleaved."""
    thresholds = [0.1 + 0.8 * k / max(per_shape - 1, 1) for k in range(per_shape)]
    random.Random(7).shuffle(thresholds)
    return [search_query(shape, t) for t in thresholds for shape in SEARCH_SHAPES]


def summarize_latencies(queries: Sequence[SearchQuery], seconds: Sequence[float]) -> Result:
    """Return p50/p95/min/max (ms) per query shape."""
    out: Result = {}
    for shape in SEARCH_SHAPES:
        ms = [s * 1000 for q, s in zip(queries, seconds, strict=True) if q.shape == shape]
        if not ms:
            continue
        out[shape] = {
            "queries": len(ms),
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "min_ms": min(ms),
            "max_ms": max(ms),
        }
    return out


Search = Callable[[SearchQuery], list[str]]


def _attempt(search: Search, query: SearchQuery) -> tuple[float, list[str] | None, str | None]:
    with clock() as timer:
        try:
            names: list[str] | None = search(query)
            error = None
        except Exception as exc:  # noqa: BLE001 - a failed (e.g. timed-out) query is a result
            names, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return timer.seconds, names, error


def time_searches(search: Search, per_shape: int, budget_s: float) -> Result:
    """Time ``search`` over the reference query, then ``search_queries(per_shape)``.

    ``search`` returns the run names of the page. The reference query (whose page the
    orchestrator compares across stores) comes first and counts as a sample of its shape, so
    every store has the same first, cold query. A query that raises (e.g. hits a statement
    timeout) counts with the time it took. Once ``budget_s`` is spent, and each shape has at
    least one sample, the remaining queries are skipped: a store that needs minutes per query
    cannot stall the benchmark.
    """
    reference = search_query("filter+order other metric", REFERENCE_THRESHOLD)
    planned = [reference, *search_queries(per_shape)]
    done: list[SearchQuery] = []
    seconds: list[float] = []
    errors: list[str] = []
    page_sizes: set[int] = set()
    reference_names: list[str] | None = None
    started = time.perf_counter()
    for query in planned:
        every_shape = {q.shape for q in done} == set(SEARCH_SHAPES)
        if every_shape and time.perf_counter() - started > budget_s:
            break
        s, names, error = _attempt(search, query)
        if not done:
            reference_names = names
        done.append(query)
        seconds.append(s)
        if error is not None:
            errors.append(error)
        if names is not None:
            page_sizes.add(len(names))
    return {
        "cold_first_query_ms": seconds[0] * 1000,
        "shapes": summarize_latencies(done, seconds),
        "planned_queries": len(planned),
        "timed_queries": len(done),
        "failed_queries": len(errors),
        "first_error": errors[0] if errors else None,
        "page_sizes": sorted(page_sizes),
        "reference_names": reference_names,
    }

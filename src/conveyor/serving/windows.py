"""Per-window traffic summaries that replicas write and rollouts and reports read.

Each replica folds what it served into one ``TrafficWindow`` per (version, route) and writes it
once per window: request, error and row counts, a latency histogram on fixed bounds, and a
prediction summary of fixed size (class counts, at most ``MAX_CLASSES`` with an "other" bucket,
or a uniform reservoir of at most ``SAMPLE_SIZE`` numeric predictions with the count seen).
Nothing in a row grows with traffic. Reads merge every replica's rows over a time range; the
merge is exact for counts and keeps the reservoirs uniform (weighted by the counts they stand
for).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Engine, and_, insert, select, update

from conveyor._time import now_ms
from conveyor.rollout.analysis import RolloutWindow
from conveyor.rollout.latency import LatencyHistogram
from conveyor.serving.telemetry import LATENCY_BUCKETS
from conveyor.store import read, schema, write

LATENCY_BOUNDS_S = (*LATENCY_BUCKETS, math.inf)
MAX_CLASSES = 64
OTHER = "__other__"
SAMPLE_SIZE = 512
SHADOW = "shadow"  # the route name of shadow copies
DEFAULT_WINDOW_S = 10.0

_w = schema.serving_windows


@dataclass
class TrafficWindow:
    """What one replica served for one (version, route) in one window (or a merge of them)."""

    version: int
    route: str
    requests: int = 0
    errors: int = 0
    rows: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BOUNDS_S))
    classes: dict[str, int] = field(default_factory=dict)
    sample: list[float] = field(default_factory=list)
    seen: int = 0  # numeric predictions the reservoir stands for
    pairs: int = 0  # shadow only: requests answered by both the primary and this version
    agree: int = 0  # of those, how many predictions agreed

    def observe(self, ok: bool, seconds: float, rows: int = 0) -> None:
        """Count one request (its latency and rows)."""
        self.requests += 1
        self.errors += not ok
        self.rows += rows
        self.latency_counts[_bucket(seconds)] += 1

    def observe_latencies(self, seconds: Any) -> None:
        """Count many latencies at once (vectorised; requests are counted by the caller)."""
        bounds = np.asarray(LATENCY_BUCKETS)
        idx = np.searchsorted(bounds, np.asarray(seconds, dtype=np.float64), side="left")
        for i, n in zip(*np.unique(idx, return_counts=True), strict=True):
            self.latency_counts[int(i)] += int(n)

    def observe_predictions(self, predictions: Any, rng: np.random.Generator) -> None:
        """Fold predictions into the numeric reservoir (floats) or the class counts (others)."""
        values = np.asarray(predictions)
        if values.ndim > 1:  # one output per row is summarised; a matrix by its first column
            values = values.reshape(len(values), -1)[:, 0]
        if values.size == 0:
            return
        if values.dtype.kind == "f":
            self._reservoir(values[np.isfinite(values)].astype(np.float64), rng)
            return
        keys, counts = np.unique(values.astype(str), return_counts=True)
        for key, n in zip(keys.tolist(), counts.tolist(), strict=True):
            self._count_class(str(key), int(n))

    def _count_class(self, key: str, n: int) -> None:
        if key in self.classes or len(self.classes) < MAX_CLASSES:
            self.classes[key] = self.classes.get(key, 0) + n
        else:
            self.classes[OTHER] = self.classes.get(OTHER, 0) + n

    def _reservoir(self, values: np.ndarray, rng: np.random.Generator) -> None:
        merged = _merge_samples([(np.asarray(self.sample), self.seen), (values, len(values))], rng)
        self.sample = merged.tolist()
        self.seen += len(values)

    def merge(self, other: TrafficWindow, rng: np.random.Generator) -> TrafficWindow:
        """Return the sum of two summaries of the same version (and route, or any route)."""
        out = TrafficWindow(self.version, self.route if self.route == other.route else "*")
        out.requests = self.requests + other.requests
        out.errors = self.errors + other.errors
        out.rows = self.rows + other.rows
        out.latency_counts = [
            a + b for a, b in zip(self.latency_counts, other.latency_counts, strict=True)
        ]
        out.classes = dict(self.classes)
        for key, n in other.classes.items():
            out._count_class(key, n)
        out.sample = _merge_samples(
            [(np.asarray(self.sample), self.seen), (np.asarray(other.sample), other.seen)], rng
        ).tolist()
        out.seen = self.seen + other.seen
        out.pairs = self.pairs + other.pairs
        out.agree = self.agree + other.agree
        return out

    @property
    def latency(self) -> LatencyHistogram | None:
        """The latency histogram, or None before any request."""
        if not any(self.latency_counts):
            return None
        return LatencyHistogram(LATENCY_BOUNDS_S, tuple(self.latency_counts))

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "rows": self.rows,
                "latency_counts": self.latency_counts,
                "classes": self.classes,
                "sample": self.sample,
                "seen": self.seen,
                "pairs": self.pairs,
                "agree": self.agree,
            }
        ).decode()

    @classmethod
    def from_row(cls, version: int, route: str, requests: int, errors: int, summary: str) -> Any:
        data = orjson.loads(summary)
        return cls(
            version=version,
            route=route,
            requests=requests,
            errors=errors,
            rows=int(data.get("rows", 0)),
            latency_counts=[int(c) for c in data["latency_counts"]],
            classes={str(k): int(v) for k, v in data.get("classes", {}).items()},
            sample=[float(v) for v in data.get("sample", [])],
            seen=int(data.get("seen", 0)),
            pairs=int(data.get("pairs", 0)),
            agree=int(data.get("agree", 0)),
        )


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return i
    return len(LATENCY_BUCKETS)


def _merge_samples(parts: list[tuple[np.ndarray, int]], rng: np.random.Generator) -> np.ndarray:
    """A uniform sample of at most SAMPLE_SIZE from reservoirs standing for ``seen`` values each.

    How many values each part gives is drawn from the multivariate hypergeometric law over the
    counts they stand for, as if the sample were drawn from all values at once; each reservoir
    holds min(seen, SAMPLE_SIZE) values, so it always has enough.
    """
    parts = [(s, n) for s, n in parts if len(s) and n]
    if not parts:
        return np.empty(0)
    total = sum(n for _, n in parts)
    if total <= SAMPLE_SIZE:
        return np.concatenate([s for s, _ in parts])
    taken = rng.multivariate_hypergeometric([n for _, n in parts], SAMPLE_SIZE)
    chosen = [
        s[rng.choice(len(s), size=min(int(k), len(s)), replace=False)]
        for (s, _), k in zip(parts, taken, strict=True)
    ]
    return np.concatenate(chosen)


def write_windows(
    engine: Engine,
    deployment_id: int,
    replica_id: str,
    start_ms: int,
    end_ms: int,
    windows: Iterable[TrafficWindow],
) -> None:
    """Add a replica's summaries to its rows for this window (a window may flush twice)."""
    rng = np.random.default_rng()
    now = now_ms()
    with write(engine) as conn:
        for window in windows:
            key = and_(
                _w.c.deployment_id == deployment_id,
                _w.c.start_ms == start_ms,
                _w.c.replica_id == replica_id,
                _w.c.version == window.version,
                _w.c.route == window.route,
            )
            stored = conn.execute(
                select(_w.c.requests, _w.c.errors, _w.c.summary).where(key)
            ).first()
            if stored is None:
                conn.execute(
                    insert(_w).values(
                        deployment_id=deployment_id,
                        start_ms=start_ms,
                        end_ms=end_ms,
                        replica_id=replica_id,
                        version=window.version,
                        route=window.route,
                        requests=window.requests,
                        errors=window.errors,
                        summary=window.to_json(),
                        updated_time=now,
                    )
                )
                continue
            old = TrafficWindow.from_row(
                window.version, window.route, stored.requests, stored.errors, stored.summary
            )
            merged = old.merge(window, rng)
            conn.execute(
                update(_w)
                .where(key)
                .values(
                    requests=merged.requests,
                    errors=merged.errors,
                    summary=merged.to_json(),
                    updated_time=now,
                )
            )


def read_traffic(
    engine: Engine,
    deployment_id: int,
    since_ms: int,
    until_ms: int | None = None,
    *,
    by_route: bool = True,
) -> dict[tuple[int, str], TrafficWindow]:
    """Merge every replica's windows starting in [since, until) per (version, route).

    With ``by_route=False`` the routes of a version are merged under route ``"*"`` except
    shadow copies, which stay apart (a shadow's latency is not what callers saw).
    """
    query = select(_w.c.version, _w.c.route, _w.c.requests, _w.c.errors, _w.c.summary).where(
        _w.c.deployment_id == deployment_id, _w.c.start_ms >= since_ms
    )
    if until_ms is not None:
        query = query.where(_w.c.start_ms < until_ms)
    with read(engine) as conn:
        rows = conn.execute(query).all()
    rng = np.random.default_rng(deployment_id)
    merged: dict[tuple[int, str], TrafficWindow] = {}
    for row in rows:
        window = TrafficWindow.from_row(
            row.version, row.route, row.requests, row.errors, row.summary
        )
        route = row.route if by_route or row.route == SHADOW else "*"
        key = (row.version, route)
        seen = merged.get(key)
        if seen is None:
            window.route = route
            merged[key] = window
        else:
            merged[key] = seen.merge(window, rng)
            merged[key].route = route
    return merged


def rollout_windows(
    candidate: TrafficWindow | None, primary: TrafficWindow | None, bins: int = 10
) -> tuple[RolloutWindow, RolloutWindow]:
    """Turn two summaries into ``analyze_step`` inputs, predictions counted on shared bins.

    Classes are counted over the union of both versions' classes; numeric predictions on
    ``bins`` quantile bins of the primary's reservoir (the candidate's when the primary has
    none, e.g. at the 100 % step, where the caller passes an earlier primary window).
    """
    empty = TrafficWindow(0, "")
    cand = candidate or empty
    prim = primary or empty
    counts_c, counts_p = _shared_counts(cand, prim, bins)
    return (
        RolloutWindow(cand.requests, cand.errors, cand.latency, counts_c),
        RolloutWindow(prim.requests, prim.errors, prim.latency, counts_p),
    )


def _shared_counts(a: TrafficWindow, b: TrafficWindow, bins: int) -> tuple[Any, Any]:
    if a.classes or b.classes:
        keys = sorted(set(a.classes) | set(b.classes))
        return (
            np.array([a.classes.get(k, 0) for k in keys], dtype=np.int64) if a.classes else None,
            np.array([b.classes.get(k, 0) for k in keys], dtype=np.int64) if b.classes else None,
        )
    basis = b.sample or a.sample
    if not basis:
        return None, None
    inner = np.unique(np.quantile(np.asarray(basis), np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))

    def counts(w: TrafficWindow) -> Any:
        if not w.sample:
            return None
        hist, _ = np.histogram(np.asarray(w.sample), bins=edges)
        return hist * (w.seen / len(w.sample))  # the reservoir stands for `seen` predictions

    return counts(a), counts(b)


def summaries_by_version(windows: Mapping[tuple[int, str], TrafficWindow]) -> dict[int, Any]:
    """Group merged windows by version (for display)."""
    out: dict[int, dict[str, TrafficWindow]] = {}
    for (version, route), window in windows.items():
        out.setdefault(version, {})[route] = window
    return out

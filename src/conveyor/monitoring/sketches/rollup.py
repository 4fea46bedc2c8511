"""Roll window sketches up into aligned time buckets (minute -> hour -> day)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.sketches.window import WindowSketch

Granularity = Literal["minute", "hour", "day"]

BUCKET_MS: dict[str, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}


def rollup(sketches: Iterable[WindowSketch], granularity: Granularity) -> list[WindowSketch]:
    """Merge windows into UTC-aligned buckets of one ``granularity``, oldest first.

    Each result spans a whole bucket ``[b, b + size)``; the inputs are left unchanged. Windows
    from several replicas for the same bucket merge together.

    Examples:
        >>> import numpy as np, pandas as pd
        >>> from conveyor.monitoring.reference import ReferenceProfile
        >>> profile = ReferenceProfile.from_frame(pd.DataFrame({"x": [1.0, 2.0]}))
        >>> minutes = [WindowSketch.for_profile(profile, m * 60_000, (m + 1) * 60_000)
        ...            for m in range(120)]
        >>> [(w.start_ms, w.end_ms) for w in rollup(minutes, "hour")]
        [(0, 3600000), (3600000, 7200000)]

    Raises:
        InvalidArgumentError: an unknown granularity, or a window that straddles two buckets
            (roll up finer windows first: minute windows into hours, hours into days).
    """
    size = BUCKET_MS.get(granularity)
    if size is None:
        msg = f"sketch: granularity must be one of {sorted(BUCKET_MS)}, got {granularity!r}"
        raise InvalidArgumentError(msg, field="granularity")
    buckets: dict[int, list[WindowSketch]] = {}
    for sketch in sketches:
        start = sketch.start_ms - sketch.start_ms % size
        if sketch.end_ms > start + size:
            msg = f"sketch: window [{sketch.start_ms}, {sketch.end_ms}) straddles two "
            msg += f"{granularity} buckets; roll up windows no longer than a {granularity}"
            raise InvalidArgumentError(msg, field="sketches")
        buckets.setdefault(start, []).append(sketch)
    merged = []
    for start in sorted(buckets):
        group = buckets[start]
        merged.append(group[0].empty_like(start, start + size).merge_many(group))
    return merged

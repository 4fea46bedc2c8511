"""A statistical profile of a table, one pass per column over Arrow and NumPy.

Per column: ``count`` (non-null values), ``nulls`` (NaN counts as null, as in pandas) and
``distinct`` (exact). Numeric columns add mean, sample std (ddof 1, as pandas),
min, max, quantiles p1..p99 (linear interpolation, as pandas) and a histogram over [min, max];
string, boolean and dictionary columns add the top values with their counts; dates and
timestamps add min and max. Statistics of numbers use the finite values; ``infinite`` counts
the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
HISTOGRAM_BINS = 20
TOP_K = 10
PROFILE_VERSION = 1


def quantile_name(q: float) -> str:
    """Name a quantile as a percentile: 0.01 -> ``p1``."""
    return f"p{round(q * 100)}"


def _is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _is_categorical(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_boolean(t)
        or pa.types.is_dictionary(t)
    )


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    values = column.to_numpy().astype(np.float64, copy=False)  # nulls become NaN
    present = values[~np.isnan(values)]
    finite = present[np.isfinite(present)]
    stats: dict[str, Any] = {
        "nulls": len(values) - len(present),
        "count": len(present),
        "infinite": len(present) - len(finite),
        "distinct": len(np.unique(present)),  # a SIMD sort beats Arrow's hash here
    }
    if not len(finite):
        return {**stats, "mean": None, "std": None, "min": None, "max": None, "quantiles": None}
    low, high = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS, range=(low, high))
    quantiles = np.quantile(finite, QUANTILES)
    return {
        **stats,
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if len(finite) > 1 else None,
        "min": low,
        "max": high,
        "quantiles": {
            quantile_name(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)
        },
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _categorical(column: pa.ChunkedArray) -> dict[str, Any]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    nulls = column.null_count
    counted = pc.value_counts(column)
    values = counted.field("values").to_pylist()
    counts = counted.field("counts").to_pylist()
    pairs = [(v, c) for v, c in zip(values, counts, strict=True) if v is not None]
    # Most frequent first; ties in a fixed order so that equal data gives equal profiles.
    pairs.sort(key=lambda p: (-p[1], str(p[0])))
    return {
        "count": len(column) - nulls,
        "nulls": nulls,
        "distinct": len(pairs),
        "top": [{"value": v, "count": c} for v, c in pairs[:TOP_K]],
    }


def _temporal(column: pa.ChunkedArray) -> dict[str, Any]:
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return {
        "count": len(column) - column.null_count,
        "nulls": column.null_count,
        "distinct": pc.count_distinct(column, mode="only_valid").as_py(),
        "min": None if low is None else str(low),
        "max": None if high is None else str(high),
    }


def column_profile(column: pa.ChunkedArray) -> dict[str, Any]:
    """Profile one column; the statistics depend on its type (see the module's docstring)."""
    t = column.type
    if _is_numeric(t):
        kind, stats = "numeric", _numeric(column)
    elif _is_categorical(t):
        kind, stats = "categorical", _categorical(column)
    elif pa.types.is_temporal(t):
        kind, stats = "temporal", _temporal(column)
    else:
        kind = "other"
        stats = {"count": len(column) - column.null_count, "nulls": column.null_count}
    return {"type": str(t), "kind": kind, **stats}


def profile_table(table: pa.Table) -> dict[str, Any]:
    """Profile every column of ``table``."""
    return {
        "profile_version": PROFILE_VERSION,
        "row_count": table.num_rows,
        "columns": {name: column_profile(table.column(name)) for name in table.column_names},
    }


def profile_json(profile: dict[str, Any]) -> bytes:
    """Serialise a profile canonically (NaN and infinities become null)."""
    return orjson.dumps(profile, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)

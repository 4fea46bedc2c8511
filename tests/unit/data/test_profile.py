"""The profiler's numbers agree with pandas; it stays fast on large frames."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.data.profile import QUANTILES, TOP_K, profile_json, profile_table, quantile_name
from conveyor.data.snapshot import to_table


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5000
    x = rng.normal(3, 2, n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 50, n),
            "plan": np.array(["basic", "pro", "team", None], dtype=object)[
                rng.choice(4, n, p=[0.5, 0.3, 0.15, 0.05])
            ],
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


def test_numeric_statistics_match_pandas(frame: pd.DataFrame) -> None:
    stats = profile_table(to_table(frame))["columns"]["x"]
    s = frame["x"]
    assert stats["kind"] == "numeric"
    assert stats["count"] == s.count()
    assert stats["nulls"] == s.isna().sum()
    assert stats["distinct"] == s.nunique()
    assert stats["mean"] == pytest.approx(s.mean())
    assert stats["std"] == pytest.approx(s.std())
    assert (stats["min"], stats["max"]) == (s.min(), s.max())
    for q in QUANTILES:
        assert stats["quantiles"][quantile_name(q)] == pytest.approx(s.quantile(q))
    assert sum(stats["histogram"]["counts"]) == s.count()
    assert len(stats["histogram"]["edges"]) == len(stats["histogram"]["counts"]) + 1


def test_integer_and_categorical_statistics_match_pandas(frame: pd.DataFrame) -> None:
    columns = profile_table(to_table(frame))["columns"]
    assert columns["k"]["distinct"] == frame["k"].nunique()
    assert columns["k"]["quantiles"]["p50"] == frame["k"].median()
    plan = columns["plan"]
    counts = frame["plan"].value_counts()
    assert plan["kind"] == "categorical"
    assert (plan["count"], plan["nulls"]) == (frame["plan"].count(), frame["plan"].isna().sum())
    assert [(e["value"], e["count"]) for e in plan["top"]] == list(counts.items())


def test_temporal_columns_have_bounds(frame: pd.DataFrame) -> None:
    when = profile_table(to_table(frame))["columns"]["when"]
    assert when["kind"] == "temporal"
    assert when["min"].startswith("2024-01-01")
    assert when["distinct"] == len(frame)


def test_top_values_are_capped_and_ties_ordered() -> None:
    table = pa.table({"c": [f"v{i:02d}" for i in range(30)]})
    top = profile_table(table)["columns"]["c"]["top"]
    assert len(top) == TOP_K
    assert [e["value"] for e in top] == [f"v{i:02d}" for i in range(TOP_K)]


def test_degenerate_columns_do_not_fail() -> None:
    table = pa.table(
        {
            "empty": pa.array([None, None], pa.float64()),
            "one": [1.0, None],
            "inf": [np.inf, 1.0],
            "nested": [[1], [2, 3]],
            "dict": pa.array(["a", "b"]).dictionary_encode(),
        }
    )
    columns = profile_table(table)["columns"]
    assert columns["empty"]["mean"] is None
    assert columns["one"]["std"] is None
    assert (columns["inf"]["infinite"], columns["inf"]["max"]) == (1, 1.0)
    assert columns["nested"]["kind"] == "other"
    assert columns["dict"]["distinct"] == 2
    assert profile_json(profile_table(table)) == profile_json(profile_table(table))


@pytest.mark.slow
def test_a_million_rows_by_twenty_columns_in_a_few_seconds() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    data = {f"x{i}": rng.normal(size=n) for i in range(16)}
    data.update({f"c{i}": rng.choice(["a", "b", "c"], n) for i in range(4)})
    table = to_table(data)
    started = time.perf_counter()
    profile_table(table)
    assert time.perf_counter() - started < 6.0

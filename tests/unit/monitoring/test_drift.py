"""detect_drift: decisions, overrides, reports, and clear results on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.drift import detect_drift

RNG = np.random.default_rng(7)


def frame(rows: int, shift: float = 0.0, new_category: bool = False) -> pd.DataFrame:
    letters = np.array(list("abcd" + ("z" if new_category else "")), dtype=object)
    return pd.DataFrame(
        {
            "x": RNG.normal(shift, 1.0, rows),
            "y": RNG.normal(0.0, 1.0, rows),
            "grade": letters[RNG.integers(0, letters.size, rows)],
            "flag": RNG.integers(0, 2, rows),
        }
    )


def test_large_reference_uses_wasserstein_and_jensen_shannon() -> None:
    ref, cur = frame(3_000), frame(2_000, shift=0.5, new_category=True)
    report = detect_drift(ref, cur)
    assert [c.stattest for c in report.columns] == [
        "wasserstein",
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
    ]
    x = report["x"]
    expected = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"])
    assert x.statistic == pytest.approx(expected, abs=1e-9)
    assert x.drifted is True
    assert x.p_value is None
    assert report["y"].drifted is False
    grade = report["grade"]
    ref_counts = ref["grade"].value_counts().reindex(list("abcdz"), fill_value=0)
    cur_counts = cur["grade"].value_counts().reindex(list("abcdz"), fill_value=0)
    assert grade.score == pytest.approx(distance.jensenshannon(ref_counts, cur_counts), abs=1e-9)
    assert grade.drifted is True
    assert report.number_of_drifted_columns == 2
    assert report.share_of_drifted_columns == 0.5
    assert report.dataset_drift is True


def test_small_reference_uses_p_value_tests() -> None:
    ref, cur = frame(800), frame(900, shift=0.3)
    report = detect_drift(ref, cur)
    assert [c.stattest for c in report.columns] == ["ks", "ks", "chisquare", "z"]
    expected = stats.ks_2samp(ref["x"], cur["x"])
    assert report["x"].statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert report["x"].p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert report["x"].drifted is True
    assert report["flag"].kind == "categorical"  # integers with <= 10 values


def test_numeric_column_with_few_values_is_tested_like_a_categorical_one() -> None:
    ref = {"v": RNG.integers(0, 4, 500).astype(float)}
    cur = {"v": RNG.integers(0, 4, 400).astype(float)}
    result = detect_drift(ref, cur)["v"]
    assert (result.kind, result.stattest) == ("numeric", "chisquare")
    keys = np.arange(4)
    ref_counts = np.array([(ref["v"] == k).sum() for k in keys])
    cur_counts = np.array([(cur["v"] == k).sum() for k in keys])
    expected = stats.chisquare(cur_counts, ref_counts * cur_counts.sum() / ref_counts.sum())
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_overrides_per_column_and_for_all() -> None:
    ref, cur = frame(3_000), frame(3_000, shift=0.05)
    report = detect_drift(
        ref,
        cur,
        columns=["x", "y", "grade"],
        stattest={"x": "ks", "grade": "psi"},
        threshold={"y": 0.5},
    )
    assert [c.stattest for c in report.columns] == ["ks", "wasserstein", "psi"]
    assert [c.threshold for c in report.columns] == [0.05, 0.5, 0.1]
    everything = detect_drift(ref, cur, columns=["x", "y"], stattest="hellinger", threshold=0.2)
    assert {c.stattest for c in everything.columns} == {"hellinger"}
    forced = detect_drift(ref, cur, columns=["flag"], numerical=["flag"])
    assert forced["flag"].kind == "numeric"


def test_nan_and_inf_are_dropped_and_counted() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0, np.nan, 3.0, 4.0, 5.0, 6.0, np.inf]})
    cur = pd.DataFrame({"x": [1.5, -np.inf, 2.5, np.nan, np.nan, 3.5, 4.5, 5.5, 6.5]})
    result = detect_drift(ref, cur)["x"]
    assert (result.reference_rows, result.reference_missing) == (6, 2)
    assert (result.current_rows, result.current_missing) == (6, 3)
    expected = stats.ks_2samp([1, 2, 3, 4, 5, 6], [1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_missing_column_type_change_and_empty_column_are_results_with_reasons() -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.5], "c": [0.5, 1.5, 2.5]})
    cur = pd.DataFrame({"b": ["1", "2", "x"], "c": [np.nan, np.nan, np.nan]})
    report = detect_drift(ref, cur)
    assert report["a"].drifted is None
    assert "missing from the current data" in (report["a"].reason or "")
    assert "changed type: numeric in reference" in (report["b"].reason or "")
    assert "no usable" in (report["c"].reason or "")
    assert report["c"].current_missing == 3
    assert report.tested == ()
    assert report.dataset_drift is None
    assert report.share_of_drifted_columns is None


def test_reference_with_one_usable_value_in_a_column() -> None:
    ref = pd.DataFrame({"a": [1.0, np.nan, np.nan]})
    result = detect_drift(ref, pd.DataFrame({"a": [1.0, 2.0]}))["a"]
    assert result.drifted is None
    assert "1 usable value(s) in reference" in (result.reason or "")


@pytest.mark.parametrize(
    ("kwargs", "match", "field"),
    [
        ({"reference": pd.DataFrame({"a": [1.0]})}, "at least 2 rows", "reference"),
        ({"current": pd.DataFrame({"a": []})}, "current data is empty", "current"),
        ({"current": [1, 2]}, "mapping of column name", "current"),
        ({"columns": ["zz"]}, r"columns \['zz'\] are not in the reference", "columns"),
        ({"columns": "a"}, "not one string", "columns"),
        ({"stattest": "nope"}, "unknown stattest 'nope'", "stattest"),
        ({"stattest": {"zz": "ks"}}, "names columns", "stattest"),
        ({"stattest": "chisquare"}, "takes categorical columns but 'a' is numeric", "stattest"),
        ({"threshold": float("nan")}, "finite number", "threshold"),
        ({"drift_share": 0}, "drift_share", "drift_share"),
        ({"categorical": ["a"], "numerical": ["a"]}, "both categorical and numerical", "numerical"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    kwargs: dict[str, object], match: str, field: str
) -> None:
    arguments: dict[str, object] = {
        "reference": pd.DataFrame({"a": [1.0, 2.0, 3.0]}),
        "current": pd.DataFrame({"a": [1.0, 2.0]}),
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidArgumentError, match=match) as info:
        detect_drift(**arguments)  # type: ignore[arg-type]
    assert info.value.field == field


def test_to_dict_is_json_ready() -> None:
    ref = pd.DataFrame({"g": list("aabb" * 10)})
    cur = pd.DataFrame({"g": list("aabz" * 10)})
    report = detect_drift(ref, cur)
    assert report["g"].statistic == float("inf")
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["columns"][0]["statistic"] == "inf"
    assert payload["columns"][0]["drifted"] is True
    assert payload["number_of_drifted_columns"] == 1


def test_dict_of_arrays_and_categorical_dtypes_are_accepted() -> None:
    ref = {"c": pd.Series(list("abc" * 10), dtype="category"), "n": np.arange(30.0)}
    cur = {"c": pd.Series(list("abc" * 10), dtype="string"), "n": np.arange(30.0)}
    report = detect_drift(ref, cur)
    assert report["c"].drifted is False
    assert report["n"].drifted is False

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, roc_auc_score

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.reference import MAX_CATEGORIES, ReferenceProfile


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1000
    score = rng.random(n)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "visits": rng.integers(0, 4, n),
            "plan": rng.choice(["basic", "pro"], n, p=[0.7, 0.3]),
            "score": score,
            "label": (rng.random(n) < score).astype(int),
            "predicted": (score > 0.5).astype(int),
        }
    )


def test_numeric_column_has_ten_quantile_bins_with_open_outer_bins(frame: pd.DataFrame) -> None:
    profile = ReferenceProfile.from_frame(frame)
    age = profile.columns["age"]
    assert age.kind == "numeric"
    assert len(age.edges) == 11
    assert age.edges[0] == frame["age"].min()
    assert age.edges[-1] == frame["age"].max()
    assert np.allclose(age.edges, np.quantile(frame["age"], np.linspace(0, 1, 11)))
    assert sum(age.bin_counts) == 1000
    assert list(age.bin_counts) == [100] * 10
    assert age.mean == pytest.approx(frame["age"].mean())
    assert age.std == pytest.approx(frame["age"].std())
    assert (age.missing_rate, age.dtype) == (0.0, "float64")


def test_tied_quantiles_are_deduplicated(frame: pd.DataFrame) -> None:
    visits = ReferenceProfile.from_frame(frame).columns["visits"]
    assert visits.edges == (0.0, 1.0, 2.0, 3.0)
    assert sum(visits.bin_counts) == 1000


def test_declared_categorical_and_string_columns(frame: pd.DataFrame) -> None:
    profile = ReferenceProfile.from_frame(frame, categorical=["visits"])
    visits, plan = profile.columns["visits"], profile.columns["plan"]
    assert visits.kind == plan.kind == "categorical"
    assert set(visits.categories) == {"0", "1", "2", "3"}
    assert visits.value_type == "number"
    assert plan.categories == ("basic", "pro")
    assert sum(plan.category_counts) == 1000
    assert plan.value_type == "string"


def test_category_set_is_capped_with_an_other_bucket() -> None:
    values = [f"c{i:03d}" for i in range(150)] * 2 + ["c000"]
    column = ReferenceProfile.from_frame(pd.DataFrame({"c": values})).columns["c"]
    assert len(column.categories) == MAX_CATEGORIES
    assert column.categories[0] == "c000"
    assert column.other_count == 301 - sum(column.category_counts)
    assert not column.is_category_set_complete


def test_missing_values_and_infinities_are_counted() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, np.inf, 2.0], "c": ["a", None, "a", np.nan]})
    profile = ReferenceProfile.from_frame(frame)
    x, c = profile.columns["x"], profile.columns["c"]
    assert (x.missing, x.inf_count, x.missing_rate) == (1, 1, 0.25)
    assert (x.min, x.max) == (1.0, 2.0)
    assert sum(x.bin_counts) == 3  # +inf lands in the open upper bin
    assert (c.missing, c.categories) == (2, ("a",))


def test_one_row_reference_gives_one_closed_bin() -> None:
    profile = ReferenceProfile.from_frame(pd.DataFrame({"x": [3.5], "c": ["a"]}))
    x = profile.columns["x"]
    assert x.edges == (3.5, 3.5)
    assert x.bin_counts == (1,)
    assert x.std is None
    assert ReferenceProfile.from_json(profile.to_json()) == profile


def test_classifier_reference_performance_matches_sklearn(frame: pd.DataFrame) -> None:
    profile = ReferenceProfile.from_frame(
        frame, prediction="predicted", target="label", task="classification", probabilities="score"
    )
    assert profile.columns["predicted"].role == "prediction"
    assert profile.columns["label"].role == "target"
    assert profile.columns["score"].role == "probability"
    assert profile.performance["accuracy"] == pytest.approx(
        accuracy_score(frame["label"], frame["predicted"])
    )
    assert profile.performance["f1"] == pytest.approx(f1_score(frame["label"], frame["predicted"]))
    assert profile.performance["roc_auc"] == pytest.approx(
        roc_auc_score(frame["label"], frame["score"])
    )


def test_multiclass_performance_uses_macro_f1_and_ovr_auc() -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1, 1, 1], 300)
    label = np.array([rng.choice(3, p=p) for p in proba])
    frame = pd.DataFrame({"p0": proba[:, 0], "p1": proba[:, 1], "p2": proba[:, 2], "y": label})
    frame["pred"] = proba.argmax(axis=1)
    profile = ReferenceProfile.from_frame(
        frame,
        prediction="pred",
        target="y",
        task="classification",
        probabilities=["p0", "p1", "p2"],
    )
    assert profile.performance["f1"] == pytest.approx(
        f1_score(label, frame["pred"], average="macro")
    )
    assert profile.performance["roc_auc"] == pytest.approx(
        roc_auc_score(label, proba, multi_class="ovr")
    )


def test_single_class_target_has_no_roc_auc() -> None:
    frame = pd.DataFrame({"p": [0.2, 0.9], "y": [1, 1], "yhat": [0, 1]})
    profile = ReferenceProfile.from_frame(
        frame, prediction="yhat", target="y", task="classification", probabilities="p"
    )
    assert profile.performance == {"accuracy": 0.5, "f1": pytest.approx(2 / 3)}


def test_regression_reference_performance() -> None:
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0, np.nan], "yhat": [1.5, 2.0, 2.0, 4.0]})
    profile = ReferenceProfile.from_frame(frame, prediction="yhat", target="y", task="regression")
    assert profile.performance["mae"] == pytest.approx(mean_absolute_error([1, 2, 3], [1.5, 2, 2]))
    assert profile.performance["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 1) / 3))
    assert "r2" in profile.performance


def test_round_trip_through_json_is_stable(frame: pd.DataFrame) -> None:
    profile = ReferenceProfile.from_frame(
        frame, prediction="predicted", target="label", task="classification"
    )
    text = profile.to_json()
    again = ReferenceProfile.from_json(text)
    assert again == profile
    assert again.to_json() == text
    data = json.loads(text)
    assert data["format"] == 1
    assert [c["name"] for c in data["columns"]] == list(frame.columns)


def test_from_parquet_equals_from_frame(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    frame.to_parquet(path)
    assert ReferenceProfile.from_parquet(path) == ReferenceProfile.from_frame(frame)
    with pytest.raises(InvalidArgumentError, match="no Parquet file"):
        ReferenceProfile.from_parquet(tmp_path / "missing.parquet")


@pytest.mark.parametrize(
    ("frame", "kwargs", "match"),
    [
        (pd.DataFrame({"x": []}), {}, "the data is empty"),
        (pd.DataFrame({"x": [np.nan, np.nan]}), {}, "numeric column 'x' has no finite value"),
        (pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}), {}, "column 't' has dtype"),
        (pd.DataFrame({0: [1.0]}), {}, "unique strings"),
        (pd.DataFrame({"x": [1.0]}), {"bins": 1}, "bins must be an integer"),
        (pd.DataFrame({"x": [1.0]}), {"prediction": "nope"}, "prediction column 'nope'"),
        (pd.DataFrame({"x": [1.0]}), {"categorical": ["nope"]}, "categorical column 'nope'"),
        (pd.DataFrame({"x": [1.0]}), {"task": "ranking"}, "task must be"),
        (pd.DataFrame({"a": [1], "b": [1]}), {"prediction": "a", "target": "b"}, "pass task="),
        (
            pd.DataFrame({"a": [1, 0], "b": [1, 0], "p": [0.1, 0.2], "q": [0.3, 0.1], "r": [1, 1]}),
            {
                "prediction": "a",
                "target": "b",
                "task": "classification",
                "probabilities": ["p", "q", "r"],
            },
            "3 probability columns for 2 classes",
        ),
    ],
)
def test_bad_references_raise_clear_errors(
    frame: pd.DataFrame, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        ReferenceProfile.from_frame(frame, **kwargs)  # type: ignore[arg-type]


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="unsupported profile format 2"):
        ReferenceProfile.from_dict({"format": 2})

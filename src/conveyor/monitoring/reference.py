"""Reference profiles: what each column looked like in the data a model was trained or validated on.

A profile is the baseline every live window is compared with: per column its kind, dtype,
missing rate, moments, quantile bin edges (numeric) or category set (categorical), and, when
predictions and labels are given, the model's reference performance. It is small (a few KB per
column), serialises to stable, versioned JSON, and is what ``WindowSketch.for_profile`` lays its
per-column counters on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.sketches.values import (
    bin_slots,
    category_key,
    fold_open_ended,
    value_family,
)

FORMAT_VERSION = 1
DEFAULT_BINS = 10
MAX_CATEGORIES = 100

Task = Literal["classification", "regression"]
ColumnKind = Literal["numeric", "categorical"]
ColumnRole = Literal["feature", "prediction", "probability", "target"]


@dataclass(frozen=True)
class ColumnProfile:
    """One column of the reference.

    Numeric columns fill ``edges`` (quantile bin edges, deduplicated, ``edges[0]`` the minimum
    and ``edges[-1]`` the maximum) and ``bin_counts`` (one per bin, outer bins open-ended).
    Categorical columns fill ``categories`` (the most frequent, at most ``MAX_CATEGORIES``,
    heaviest first) with their counts, and ``other_count`` for the rest.
    """

    name: str
    role: ColumnRole
    kind: ColumnKind
    dtype: str
    rows: int
    missing: int
    inf_count: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    edges: tuple[float, ...] = ()
    bin_counts: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    category_counts: tuple[int, ...] = ()
    other_count: int = 0
    is_category_set_complete: bool = True
    value_type: str = "number"

    @property
    def missing_rate(self) -> float:
        """Fraction of the reference rows where the column is missing."""
        return self.missing / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class ReferenceProfile:
    """A reference data set, summarised per column.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"age": [20.0, 30.0, 40.0, None], "plan": ["a", "b", "a", "a"]})
        >>> profile = ReferenceProfile.from_frame(frame, bins=2)
        >>> profile.columns["age"].edges, profile.columns["age"].missing_rate
        ((20.0, 30.0, 40.0), 0.25)
        >>> profile.columns["plan"].categories, profile.columns["plan"].category_counts
        (('a', 'b'), (3, 1))
        >>> ReferenceProfile.from_dict(profile.to_dict()) == profile
        True
    """

    rows: int
    bins: int
    columns: Mapping[str, ColumnProfile]
    task: Task | None = None
    prediction: str | None = None
    target: str | None = None
    probabilities: tuple[str, ...] = ()
    performance: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        prediction: str | None = None,
        target: str | None = None,
        task: Task | None = None,
        bins: int = DEFAULT_BINS,
        categorical: Sequence[str] | None = None,
        probabilities: str | Sequence[str] | None = None,
    ) -> ReferenceProfile:
        """Profile every column of ``df``.

        Args:
            df: the reference data, one row per example.
            prediction: the column holding the model's predictions, if any.
            target: the column holding the true labels or values, if any.
            task: ``"classification"`` or ``"regression"``; needed to compute the reference
                performance when both ``prediction`` and ``target`` are given.
            bins: number of quantile bins for numeric columns (10, as PSI practice recommends);
                tied quantiles are merged, so a column can end up with fewer.
            categorical: numeric columns to treat as categories (codes, small counts).
                Booleans, strings, objects and pandas categoricals are always categorical.
            probabilities: for classifiers, the column holding P(positive class), or one
                column per class in sorted class order; enables the reference ROC AUC.

        Raises:
            InvalidArgumentError: an empty frame, an unknown column name, a column of an
                unsupported dtype (datetimes, complex) or a numeric column without any finite
                value; the message names the column and the fix.
        """
        probability_columns = _as_names(probabilities)
        _validate_frame(df, bins)
        declared = set(categorical or ())
        for name, argument in [
            (prediction, "prediction"),
            (target, "target"),
            *((n, "categorical") for n in declared),
            *((n, "probabilities") for n in probability_columns),
        ]:
            if name is not None and name not in df.columns:
                msg = f"reference: {argument} column {name!r} is not in the data; columns are "
                msg += f"{sorted(map(str, df.columns))}"
                raise InvalidArgumentError(msg, field=argument)
        if task is not None and task not in get_args(Task):
            msg = f"reference: task must be 'classification' or 'regression', got {task!r}"
            raise InvalidArgumentError(msg, field="task")
        roles: dict[str, ColumnRole] = dict.fromkeys(probability_columns, "probability")
        if prediction is not None:
            roles[prediction] = "prediction"
        if target is not None:
            roles[target] = "target"
        columns = {
            name: _profile_column(df[name], name, roles.get(name, "feature"), bins, declared)
            for name in df.columns
        }
        performance = _performance(df, prediction, target, task, probability_columns)
        return cls(
            rows=len(df),
            bins=bins,
            columns=columns,
            task=task,
            prediction=prediction,
            target=target,
            probabilities=probability_columns,
            performance=performance,
        )

    @classmethod
    def from_parquet(
        cls,
        path: str | Path,
        *,
        prediction: str | None = None,
        target: str | None = None,
        task: Task | None = None,
        bins: int = DEFAULT_BINS,
        categorical: Sequence[str] | None = None,
        probabilities: str | Sequence[str] | None = None,
    ) -> ReferenceProfile:
        """Read a Parquet file (or directory of files) and profile it like ``from_frame``."""
        if not Path(path).exists():
            msg = f"reference: no Parquet file at {str(path)!r}; check the path"
            raise InvalidArgumentError(msg, field="path")
        return cls.from_frame(
            pd.read_parquet(path),
            prediction=prediction,
            target=target,
            task=task,
            bins=bins,
            categorical=categorical,
            probabilities=probabilities,
        )

    # --- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-ready values (NaN written as None), ``"format": 1``."""
        return {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "bins": self.bins,
            "task": self.task,
            "prediction": self.prediction,
            "target": self.target,
            "probabilities": list(self.probabilities),
            "performance": {k: _json_float(v) for k, v in sorted(self.performance.items())},
            "columns": [_column_to_dict(c) for c in self.columns.values()],
        }

    def to_json(self) -> str:
        """Return ``to_dict()`` as JSON text with sorted keys (byte-stable for a profile)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Rebuild a profile written by ``to_dict``."""
        version = data.get("format") if isinstance(data, Mapping) else None
        if version != FORMAT_VERSION:
            msg = f"reference: unsupported profile format {version!r}; this version of Conveyor "
            msg += f"reads format {FORMAT_VERSION}, rebuild the profile with from_frame"
            raise InvalidArgumentError(msg, field="format")
        columns = [_column_from_dict(c) for c in data["columns"]]
        return cls(
            rows=int(data["rows"]),
            bins=int(data["bins"]),
            columns={c.name: c for c in columns},
            task=data["task"],
            prediction=data["prediction"],
            target=data["target"],
            probabilities=tuple(data["probabilities"]),
            performance={
                k: math.nan if v is None else float(v) for k, v in data["performance"].items()
            },
        )

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """Rebuild a profile written by ``to_json``."""
        return cls.from_dict(json.loads(text))


# --- profiling ---------------------------------------------------------------------------


def _as_names(names: str | Sequence[str] | None) -> tuple[str, ...]:
    if names is None:
        return ()
    return (names,) if isinstance(names, str) else tuple(names)


def _validate_frame(df: object, bins: int) -> None:
    if not isinstance(df, pd.DataFrame):
        msg = f"reference: expected a pandas DataFrame, got {type(df).__name__}"
        raise InvalidArgumentError(msg, field="df")
    if len(df) == 0 or df.shape[1] == 0:
        msg = f"reference: the data is empty ({df.shape[0]} rows, {df.shape[1]} columns); "
        msg += "a reference needs at least one row and one column"
        raise InvalidArgumentError(msg, field="df")
    bad_names = [c for c in df.columns if not isinstance(c, str)]
    if bad_names or not df.columns.is_unique:
        msg = f"reference: column names must be unique strings, got {list(df.columns)!r}; "
        msg += "rename them (df.columns = df.columns.astype(str))"
        raise InvalidArgumentError(msg, field="df")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 1000:
        msg = f"reference: bins must be an integer within [2, 1000], got {bins!r}"
        raise InvalidArgumentError(msg, field="bins")


def _profile_column(
    series: pd.Series[Any], name: str, role: ColumnRole, bins: int, declared: set[str]
) -> ColumnProfile:
    dtype = series.dtype
    if dtype.kind in "mMc":
        msg = f"reference: column {name!r} has dtype {dtype}, which is not monitored; drop it "
        msg += "or convert it to numbers (e.g. seconds since the epoch) first"
        raise InvalidArgumentError(msg, field=name)
    is_numeric = dtype.kind in "iuf" and name not in declared
    if is_numeric:
        return _profile_numeric(series, name, role, bins)
    return _profile_categorical(series, name, role)


def _profile_numeric(
    series: pd.Series[Any], name: str, role: ColumnRole, bins: int
) -> ColumnProfile:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing_mask = np.isnan(values)
    finite = values[np.isfinite(values)]
    present = values[~missing_mask]
    if finite.size == 0:
        msg = f"reference: numeric column {name!r} has no finite value "
        msg += f"({int(missing_mask.sum())} missing of {values.size}); drop it from the "
        msg += "reference or fill it"
        raise InvalidArgumentError(msg, field=name)
    edges = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)  # one distinct value: one closed bin [v, v]
    slots = np.bincount(bin_slots(edges, present), minlength=edges.size + 1)
    return ColumnProfile(
        name=name,
        role=role,
        kind="numeric",
        dtype=str(series.dtype),
        rows=values.size,
        missing=int(missing_mask.sum()),
        inf_count=int(present.size - finite.size),
        mean=float(finite.mean()),
        std=float(finite.std(ddof=1)) if finite.size > 1 else None,
        min=float(finite.min()),
        max=float(finite.max()),
        edges=tuple(float(e) for e in edges),
        bin_counts=tuple(int(c) for c in fold_open_ended(slots)),
    )


def _profile_categorical(series: pd.Series[Any], name: str, role: ColumnRole) -> ColumnProfile:
    raw = series.astype(object).value_counts(dropna=True, sort=False)
    counts: dict[str, int] = {}
    families: set[str] = set()
    for value, count in raw.items():
        key = category_key(value)
        counts[key] = counts.get(key, 0) + int(count)
        families.add(value_family(value))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[:MAX_CATEGORIES]
    present = sum(counts.values())
    return ColumnProfile(
        name=name,
        role=role,
        kind="categorical",
        dtype=str(series.dtype),
        rows=len(series),
        missing=len(series) - present,
        categories=tuple(k for k, _ in kept),
        category_counts=tuple(c for _, c in kept),
        other_count=present - sum(c for _, c in kept),
        is_category_set_complete=len(ranked) <= MAX_CATEGORIES,
        value_type=families.pop() if len(families) == 1 else ("mixed" if families else "other"),
    )


def _performance(
    df: pd.DataFrame,
    prediction: str | None,
    target: str | None,
    task: Task | None,
    probabilities: tuple[str, ...],
) -> dict[str, float]:
    if prediction is None or target is None:
        return {}
    if task is None:
        msg = "reference: pass task='classification' or task='regression' to compute the "
        msg += "reference performance from the prediction and target columns"
        raise InvalidArgumentError(msg, field="task")
    rows = df[[prediction, target, *probabilities]].dropna()
    if rows.empty:
        return {}
    if task == "regression":
        return _regression_performance(rows[prediction], rows[target], prediction, target)
    return _classification_performance(rows, prediction, target, probabilities)


def _regression_performance(
    predicted: pd.Series[Any], actual: pd.Series[Any], prediction: str, target: str
) -> dict[str, float]:
    try:
        y_hat = predicted.to_numpy(dtype=np.float64)
        y = actual.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"reference: regression needs numeric {prediction!r} and {target!r} columns ({exc})"
        raise InvalidArgumentError(msg, field="task") from exc
    error = y_hat - y
    metrics = {"mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error**2).mean()))}
    spread = float(((y - y.mean()) ** 2).sum())
    if spread > 0:  # R² is undefined for a constant target
        metrics["r2"] = 1.0 - float((error**2).sum()) / spread
    return metrics


def _classification_performance(
    rows: pd.DataFrame, prediction: str, target: str, probabilities: tuple[str, ...]
) -> dict[str, float]:
    from sklearn.metrics import f1_score, roc_auc_score

    y_hat = [category_key(v) for v in rows[prediction]]
    y = [category_key(v) for v in rows[target]]
    classes = sorted(set(y) | set(y_hat))
    metrics = {"accuracy": float(np.mean([a == b for a, b in zip(y, y_hat, strict=True)]))}
    if len(classes) <= 2:
        f1 = f1_score(y, y_hat, pos_label=classes[-1], average="binary", zero_division=0.0)
    else:
        f1 = f1_score(y, y_hat, labels=classes, average="macro", zero_division=0.0)
    metrics["f1"] = float(f1)
    target_classes = sorted(set(y))
    if not probabilities or len(target_classes) < 2:
        return metrics  # ROC AUC needs scores and both classes present
    scores = rows[list(probabilities)].to_numpy(dtype=np.float64)
    if len(probabilities) == 1 and len(target_classes) == 2:
        positive = np.array([label == target_classes[-1] for label in y])
        metrics["roc_auc"] = float(roc_auc_score(positive, scores[:, 0]))
    elif len(probabilities) == len(target_classes):
        metrics["roc_auc"] = float(
            roc_auc_score(y, scores, multi_class="ovr", labels=target_classes)
        )
    else:
        msg = f"reference: {len(probabilities)} probability columns for "
        msg += f"{len(target_classes)} classes {target_classes}; pass one column for a binary "
        msg += "classifier (P(positive)) or one per class in sorted class order"
        raise InvalidArgumentError(msg, field="probabilities")
    return metrics


# --- serialisation helpers ---------------------------------------------------------------


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _column_to_dict(column: ColumnProfile) -> dict[str, Any]:
    data = asdict(column)
    for key in ("mean", "std", "min", "max"):
        data[key] = _json_float(data[key])
    for key in ("edges", "bin_counts", "categories", "category_counts"):
        data[key] = list(data[key])
    return data


def _column_from_dict(data: Mapping[str, Any]) -> ColumnProfile:
    values = dict(data)
    for key in ("edges", "bin_counts", "categories", "category_counts"):
        values[key] = tuple(values[key])
    try:
        return ColumnProfile(**values)
    except TypeError as exc:
        msg = f"reference: column entry {values.get('name')!r} is malformed ({exc})"
        raise InvalidArgumentError(msg, field="columns") from exc

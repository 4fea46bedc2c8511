"""Realized classification performance per window, from predictions joined to delayed labels.

Every metric is a mergeable accumulator over one confusion matrix (River's shape:
``update(y_true, y_pred) -> self``, ``merge(other)``/``+=``, ``value()``), so windows filled by
several replicas or at several times add up exactly, at a cost of one counter per label pair.
``value()`` is ``None`` for a window that has seen no rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.performance._inputs import IntArray, check_same_length

Label = int | str
Average = Literal["binary", "macro"]


def as_labels(values: ArrayLike, *, field: str) -> NDArray[np.int64] | NDArray[np.str_]:
    """Return class labels as an int64 or str array; NaN, None and fractions are rejected."""
    array = np.asarray(values)
    if array.ndim != 1:
        msg = f"{field}: expected a 1-D array of class labels, got shape {array.shape}"
        raise InvalidArgumentError(msg, field=field)
    kind = array.dtype.kind
    if kind in "biu":
        return array.astype(np.int64)
    if kind in "US":
        return array.astype(np.str_)
    if kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            msg = (
                f"{field}: class labels must be integers or strings, got NaN, inf or fractional "
                "values; drop rows whose label is missing"
            )
            raise InvalidArgumentError(msg, field=field)
        return array.astype(np.int64)
    if all(isinstance(v, str) for v in array.tolist()):
        return array.astype(np.str_)
    msg = (
        f"{field}: class labels must all be integers or all be strings (found missing or mixed "
        "values); drop rows whose label is missing"
    )
    raise InvalidArgumentError(msg, field=field)


class ConfusionMatrix:
    """Mergeable counts of (true label, predicted label) pairs.

    Labels may be integers or strings; rows of ``value()`` are true labels and columns predicted
    labels, both in ``labels`` order (sorted), as ``sklearn.metrics.confusion_matrix`` lays them.

    Examples:
        >>> cm = ConfusionMatrix().update([0, 1, 1, 0], [0, 1, 0, 0])
        >>> cm.labels
        [0, 1]
        >>> cm.value().tolist()
        [[2, 0], [1, 1]]
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[Label, Label]] = Counter()

    @property
    def n_rows(self) -> int:
        """Number of rows counted so far."""
        return sum(self.counts.values())

    @property
    def labels(self) -> list[Label]:
        """Every label seen, true or predicted, sorted."""
        return sorted({label for pair in self.counts for label in pair})

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        """Count one batch of (true, predicted) label pairs."""
        truth = as_labels(y_true, field="y_true")
        pred = as_labels(y_pred, field="y_pred")
        check_same_length({"y_true": truth, "y_pred": pred})
        if truth.dtype.kind != pred.dtype.kind:
            msg = "y_pred: labels are strings in one of y_true/y_pred and integers in the other"
            raise InvalidArgumentError(msg, field="y_pred")
        seen, codes = np.unique(np.concatenate([truth, pred]), return_inverse=True)
        k = len(seen)
        pairs = np.bincount(codes[: len(truth)] * k + codes[len(truth) :], minlength=k * k)
        batch: Counter[tuple[Label, Label]] = Counter()
        for flat in np.flatnonzero(pairs):
            batch[(seen[flat // k].item(), seen[flat % k].item())] = int(pairs[flat])
        self._check_label_types(batch)
        self.counts.update(batch)
        return self

    def _check_label_types(self, batch: Counter[tuple[Label, Label]]) -> None:
        kinds = {type(label) for pair in (*self.counts, *batch) for label in pair}
        if len(kinds) > 1:
            msg = "y_true: this window mixes integer and string labels; use one label type"
            raise InvalidArgumentError(msg, field="y_true")

    def merge(self, other: ConfusionMatrix) -> Self:
        """Add ``other``'s counts to this matrix (windows from replicas or time steps)."""
        self._check_label_types(other.counts)
        self.counts.update(other.counts)
        return self

    def __iadd__(self, other: ConfusionMatrix) -> Self:
        """Merge ``other`` into this matrix."""
        return self.merge(other)

    def value(self) -> IntArray:
        """Return the counts as a square matrix (true labels x predicted labels)."""
        labels = self.labels
        index = {label: i for i, label in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for (truth, pred), count in self.counts.items():
            matrix[index[truth], index[pred]] = count
        return matrix


class _ConfusionMetric:
    """A metric computed from a confusion matrix; subclasses define ``_score``."""

    def __init__(self) -> None:
        self.confusion = ConfusionMatrix()

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        """Count one batch of labels and predictions."""
        self.confusion.update(y_true, y_pred)
        return self

    def merge(self, other: Self) -> Self:
        """Add the counts of ``other`` (the same metric) to this one."""
        self.confusion.merge(other.confusion)
        return self

    def __iadd__(self, other: Self) -> Self:
        """Merge ``other`` into this metric."""
        return self.merge(other)

    def value(self) -> float | None:
        """Return the metric over every row seen, or None when no row was seen."""
        if self.confusion.n_rows == 0:
            return None
        return self._score(self.confusion.value())

    def _score(self, matrix: IntArray) -> float:
        raise NotImplementedError


class Accuracy(_ConfusionMetric):
    """Share of rows whose predicted label equals the true label: ``trace(C) / sum(C)``.

    Examples:
        >>> Accuracy().update([0, 1, 1, 0], [0, 1, 0, 0]).value()
        0.75
    """

    def _score(self, matrix: IntArray) -> float:
        return float(np.trace(matrix) / matrix.sum())


class _PerClassMetric(_ConfusionMetric):
    """Precision, recall or F1 from per-class TP/FP/FN counts, binary or macro-averaged.

    Follows ``sklearn.metrics.precision_recall_fscore_support``: ``average="binary"`` scores
    ``pos_label`` only; ``"macro"`` averages the per-class scores over every label seen (true or
    predicted); a score whose denominator is zero is ``zero_division``.
    """

    def __init__(
        self, *, average: Average = "binary", pos_label: Label = 1, zero_division: float = 0.0
    ) -> None:
        super().__init__()
        if average not in ("binary", "macro"):
            msg = f"average: expected 'binary' or 'macro', got {average!r}"
            raise InvalidArgumentError(msg, field="average")
        self.average = average
        self.pos_label = pos_label
        self.zero_division = zero_division

    def update(self, y_true: ArrayLike, y_pred: ArrayLike) -> Self:
        """Count one batch; with ``average="binary"`` at most two labels may appear."""
        super().update(y_true, y_pred)
        labels = self.confusion.labels
        if self.average == "binary" and (
            len(labels) > 2 or (len(labels) == 2 and self.pos_label not in labels)
        ):
            msg = (
                f"y_true: average='binary' needs two classes including pos_label="
                f"{self.pos_label!r}, found labels {labels}; use average='macro' for multiclass"
            )
            raise InvalidArgumentError(msg, field="y_true")
        return self

    def _score(self, matrix: IntArray) -> float:
        labels = self.confusion.labels
        tp = np.diag(matrix).astype(np.float64)
        fp = matrix.sum(axis=0) - tp
        fn = matrix.sum(axis=1) - tp
        scores = [self._ratio(t, p, n) for t, p, n in zip(tp, fp, fn, strict=True)]
        if self.average == "macro":
            return float(np.mean(scores))
        if self.pos_label not in labels:
            return self._ratio(0.0, 0.0, 0.0)
        return scores[labels.index(self.pos_label)]

    def _ratio(self, tp: float, fp: float, fn: float) -> float:
        raise NotImplementedError

    def _divide(self, numerator: float, denominator: float) -> float:
        return float(numerator / denominator) if denominator > 0 else self.zero_division


class Precision(_PerClassMetric):
    """Precision ``TP / (TP + FP)``, binary or macro-averaged.

    Examples:
        >>> Precision().update([0, 1, 1, 0], [1, 1, 0, 0]).value()
        0.5
    """

    def _ratio(self, tp: float, fp: float, fn: float) -> float:  # noqa: ARG002 - shared signature
        return self._divide(tp, tp + fp)


class Recall(_PerClassMetric):
    """Recall ``TP / (TP + FN)``, binary or macro-averaged.

    Examples:
        >>> Recall(average="macro").update([0, 1, 2, 2], [0, 1, 2, 0]).value()
        0.8333333333333334
    """

    def _ratio(self, tp: float, fp: float, fn: float) -> float:  # noqa: ARG002 - shared signature
        return self._divide(tp, tp + fn)


class F1(_PerClassMetric):
    """F1 ``2 TP / (2 TP + FP + FN)`` (the harmonic mean of precision and recall).

    Examples:
        >>> F1().update([0, 1, 1, 0], [1, 1, 0, 0]).value()
        0.5
    """

    def _ratio(self, tp: float, fp: float, fn: float) -> float:
        return self._divide(2 * tp, 2 * tp + fp + fn)

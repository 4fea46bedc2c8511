"""Results of ``detect_drift``: one ``ColumnDrift`` per column and the dataset-level summary."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from conveyor.monitoring.drift_selection import Kind


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column.

    ``score`` is what the threshold is compared with: the p-value for the tests (``ks``,
    ``chisquare``, ``z``; small means drift) or the distance (large means drift); ``statistic``
    is the test statistic or distance and ``p_value`` is None for distances. When the column
    could not be tested, ``drifted`` is None and ``reason`` says why (missing from the current
    data, a type change, no usable values); the numbers are then None.
    """

    column: str
    kind: Kind | None
    stattest: str | None
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float | None
    drifted: bool | None
    reference_rows: int
    current_rows: int
    reference_missing: int
    current_missing: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; an infinite statistic becomes the string ``"inf"``."""
        out = asdict(self)
        for key in ("statistic", "p_value", "score"):
            value = out[key]
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = str(value)
        return out


@dataclass(frozen=True)
class DriftReport:
    """Per-column results and the share of drifted columns among those that could be tested.

    ``dataset_drift`` is ``share_of_drifted_columns >= drift_share`` (Evidently's rule), or None
    when no column could be tested.
    """

    columns: tuple[ColumnDrift, ...]
    drift_share: float

    @property
    def tested(self) -> tuple[ColumnDrift, ...]:
        """Columns with a decision (``drifted`` is not None)."""
        return tuple(c for c in self.columns if c.drifted is not None)

    @property
    def skipped(self) -> tuple[ColumnDrift, ...]:
        """Columns that could not be tested, each with its ``reason``."""
        return tuple(c for c in self.columns if c.drifted is None)

    @property
    def number_of_drifted_columns(self) -> int:
        """How many tested columns drifted."""
        return sum(1 for c in self.tested if c.drifted)

    @property
    def share_of_drifted_columns(self) -> float | None:
        """Drifted / tested columns, or None when none was tested."""
        tested = len(self.tested)
        return self.number_of_drifted_columns / tested if tested else None

    @property
    def dataset_drift(self) -> bool | None:
        """Whether at least ``drift_share`` of the tested columns drifted."""
        share = self.share_of_drifted_columns
        return None if share is None else share >= self.drift_share

    def __getitem__(self, column: str) -> ColumnDrift:
        for result in self.columns:
            if result.column == column:
                return result
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary and per-column results."""
        return {
            "drift_share": self.drift_share,
            "number_of_columns": len(self.columns),
            "number_of_tested_columns": len(self.tested),
            "number_of_drifted_columns": self.number_of_drifted_columns,
            "share_of_drifted_columns": self.share_of_drifted_columns,
            "dataset_drift": self.dataset_drift,
            "columns": [c.to_dict() for c in self.columns],
        }

"""Data quality of a window against its reference: missing values, ranges, categories, schema.

``check_quality`` reads a ``WindowSketch`` (never raw rows), so it costs the same for a window
of ten rows or ten million, and runs on windows merged across replicas and rolled up in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from conveyor.errors import InvalidArgumentError
from conveyor.monitoring.reference import ColumnProfile, ReferenceProfile
from conveyor.monitoring.sketches import CategoricalSketch, NumericSketch, WindowSketch

IssueKind = Literal[
    "missing_column",
    "new_column",
    "missing_rate",
    "out_of_range",
    "infinite_values",
    "unseen_categories",
    "type_mismatch",
]

# Unseen category names listed in one issue (the sketch keeps up to 32).
_NAMED_CATEGORIES = 10


@dataclass(frozen=True)
class QualityIssue:
    """One data-quality finding for one column of a window.

    ``value`` is what the window shows (a rate, a count), ``reference`` what the reference
    showed for the same measure; ``examples`` names offending values or types where known.
    """

    column: str
    kind: IssueKind
    value: float
    reference: float
    message: str
    examples: tuple[str, ...] = ()


def check_quality(
    profile: ReferenceProfile,
    window: WindowSketch,
    *,
    missing_tolerance: float = 0.05,
    out_of_range_tolerance: float = 0.0,
) -> list[QualityIssue]:
    """Compare a window with the reference and list what is wrong, column by column.

    Findings, in column order:

    * ``missing_column``: a reference column absent from some batches (``value``: the share
      of the window's rows that lacked it); ``new_column``: a column the reference lacks;
    * ``missing_rate``: missing (None/NaN) rate above the reference rate plus
      ``missing_tolerance`` (an absolute difference of rates);
    * ``out_of_range``: share of numeric values outside the reference ``[min, max]`` above
      ``out_of_range_tolerance``; ``infinite_values``: any ``+-inf`` where the reference had
      none;
    * ``unseen_categories``: values outside the reference categories (named, heaviest first);
    * ``type_mismatch``: values of another type than the reference's (strings in a numeric
      column, numbers in a string column).

    An empty window has no findings: nothing was seen, so nothing is wrong.

    Examples:
        >>> import numpy as np, pandas as pd
        >>> from conveyor.monitoring.sketches import WindowSketch
        >>> profile = ReferenceProfile.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
        >>> window = WindowSketch.for_profile(profile, 0, 60_000)
        >>> _ = window.update({"x": np.array([2.0, 9.0, np.nan, np.nan])})
        >>> [(i.kind, i.value) for i in check_quality(profile, window)]
        [('missing_rate', 0.5), ('out_of_range', 0.5)]

    Raises:
        InvalidArgumentError: a tolerance outside ``[0, 1]``, or a window built on another
            profile (other columns).
    """
    for name, tolerance in (
        ("missing_tolerance", missing_tolerance),
        ("out_of_range_tolerance", out_of_range_tolerance),
    ):
        if not 0.0 <= tolerance <= 1.0:  # also rejects NaN
            msg = f"quality: {name} must be a rate within [0, 1], got {tolerance!r}"
            raise InvalidArgumentError(msg, field=name)
    if list(window.columns) != list(profile.columns):
        msg = f"quality: the window's columns {list(window.columns)} are not the profile's "
        msg += f"{list(profile.columns)}; build the window with WindowSketch.for_profile(profile)"
        raise InvalidArgumentError(msg, field="window")
    if window.rows == 0:
        return []
    issues: list[QualityIssue] = []
    for name, sketch in window.columns.items():
        column = profile.columns[name]
        issues.extend(_schema_issues(column, sketch, window.rows))
        issues.extend(_missing_issues(column, sketch, missing_tolerance))
        issues.extend(_type_issues(column, sketch))
        if isinstance(sketch, NumericSketch):
            issues.extend(_range_issues(column, sketch, out_of_range_tolerance))
        else:
            issues.extend(_category_issues(column, sketch))
    issues.extend(
        QualityIssue(
            column=name,
            kind="new_column",
            value=rows / window.rows,
            reference=0.0,
            message=f"column {name!r} is not in the reference; it was sent in about {rows} of "
            f"{window.rows} rows (rebuild the reference if the model now uses it)",
        )
        for name, rows in window.unexpected.top()
    )
    return issues


def _schema_issues(
    column: ColumnProfile, sketch: NumericSketch | CategoricalSketch, rows: int
) -> list[QualityIssue]:
    if not sketch.absent:
        return []
    share = sketch.absent / rows
    message = f"column {column.name!r} is missing from the data in {sketch.absent} of {rows} "
    message += "rows; check the request schema of the clients"
    return [QualityIssue(column.name, "missing_column", share, 0.0, message)]


def _missing_issues(
    column: ColumnProfile, sketch: NumericSketch | CategoricalSketch, tolerance: float
) -> list[QualityIssue]:
    if sketch.rows == 0:
        return []
    rate = sketch.missing / sketch.rows
    if rate <= column.missing_rate + tolerance:
        return []
    message = f"column {column.name!r}: {rate:.1%} missing values ({sketch.missing} of "
    message += f"{sketch.rows}), reference {column.missing_rate:.1%} (tolerance {tolerance:.1%})"
    return [QualityIssue(column.name, "missing_rate", rate, column.missing_rate, message)]


def _type_issues(
    column: ColumnProfile, sketch: NumericSketch | CategoricalSketch
) -> list[QualityIssue]:
    if not sketch.type_mismatch:
        return []
    types = tuple(name for name, _ in sketch.mismatch_types.top())
    expected = "numbers" if column.kind == "numeric" else f"{column.value_type} values"
    share = sketch.type_mismatch / sketch.rows
    message = f"column {column.name!r} expects {expected} (reference dtype {column.dtype}) but "
    message += f"got {sketch.type_mismatch} values of type {', '.join(types)}"
    return [QualityIssue(column.name, "type_mismatch", share, 0.0, message, types)]


def _range_issues(
    column: ColumnProfile, sketch: NumericSketch, tolerance: float
) -> list[QualityIssue]:
    issues = []
    reference_inf = column.inf_count / column.rows
    if sketch.inf_count and column.inf_count == 0:
        share = sketch.inf_count / sketch.rows
        message = f"column {column.name!r} has {sketch.inf_count} infinite values; the "
        message += "reference had none"
        issues.append(QualityIssue(column.name, "infinite_values", share, reference_inf, message))
    if sketch.count == 0:
        return issues
    share = sketch.out_of_range / sketch.count
    if share > tolerance:
        message = f"column {column.name!r}: {sketch.out_of_range} of {sketch.count} values "
        message += f"({share:.1%}) fall outside the reference range [{column.min}, {column.max}]"
        message += f"; window range [{sketch.min}, {sketch.max}]"
        issues.append(QualityIssue(column.name, "out_of_range", share, 0.0, message))
    return issues


def _category_issues(column: ColumnProfile, sketch: CategoricalSketch) -> list[QualityIssue]:
    if sketch.other_count == 0 or sketch.count == 0:
        return []
    share = sketch.other_count / sketch.count
    present = column.rows - column.missing
    reference_share = column.other_count / present if present else 0.0
    if not column.is_category_set_complete and share <= reference_share:
        return []  # the reference had a long tail too: "other" is not news
    names = tuple(name for name, _ in sketch.unseen.top(_NAMED_CATEGORIES))
    scope = "the reference" if column.is_category_set_complete else "the reference's top"
    message = f"column {column.name!r}: {sketch.other_count} values ({share:.1%}) are not in "
    message += f"{scope} {len(column.categories)} categories; most frequent: {', '.join(names)}"
    return [QualityIssue(column.name, "unseen_categories", share, reference_share, message, names)]

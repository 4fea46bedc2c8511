"""The forms a decoded request body takes before it meets a model.

Decoders only check a body's structure (cheaply: keys, types of containers); values are checked
and converted once, against the model's signature, by ``InputPlan``. Each form remembers the
field it came from so later errors can name it (``dataframe_split.data``, ``instances``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.serving.tensors import InferRequest


@dataclass(frozen=True, slots=True)
class Rows:
    """Row-major values: ``dataframe_split``, ``instances``/``inputs`` lists, ``/predict`` lists.

    ``columns`` names the values of each row; without it rows are matched to the signature's
    columns by position (or are a tensor's values, for tensor signatures).
    """

    data: list[Any]
    columns: list[str] | None = None
    index: list[Any] | None = None
    field: str = "data"


@dataclass(frozen=True, slots=True)
class Records:
    """One JSON object per row: ``dataframe_records``, ``instances`` of objects."""

    records: list[dict[str, Any]]
    field: str = "dataframe_records"


@dataclass(frozen=True, slots=True)
class Columns:
    """Named columns or tensors: ``inputs``/``instances`` objects mapping a name to its values."""

    columns: dict[str, Any]
    field: str = "inputs"


@dataclass(frozen=True, slots=True)
class Frame:
    """A DataFrame parsed already (CSV bodies)."""

    frame: Any
    field: str = "body"


Payload = Rows | Records | Columns | Frame | InferRequest
"""Anything ``InputPlan.build`` takes: a decoded MLflow, ``/predict`` or OIP request."""

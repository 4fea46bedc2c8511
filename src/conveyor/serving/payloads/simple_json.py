"""Decode the simple JSON ``POST /predict`` body.

Three shapes, all with one entry of ``data`` per row::

    {"data": [[1.0, 2.0], [3.0, 4.0]]}                    # rows, columns in signature order
    {"data": [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}]}  # records, columns by name
    {"columns": ["b", "a"], "data": [[2.0, 1.0]]}         # rows with named columns

The answer is ``{"predictions": [...]}``, one entry per row (see ``encode_predict_response``).
"""

from __future__ import annotations

import orjson

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads.forms import Records, Rows
from conveyor.serving.payloads.mlflow_scoring import column_names, records

_SHAPES = (
    '{"data": [[...], ...]}, {"data": [{"column": value, ...}, ...]} or '
    '{"columns": [...], "data": [[...], ...]}'
)


def decode_predict(body: bytes) -> Rows | Records:
    """Decode a ``/predict`` body.

    Raises:
        InvalidArgumentError: the body is not one of the three shapes, naming the field.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f"the body is not valid JSON ({exc}); send {_SHAPES}"
        raise InvalidArgumentError(msg, field="body") from None
    if not isinstance(document, dict) or "data" not in document:
        msg = f"the body must be a JSON object with a data field: {_SHAPES}"
        raise InvalidArgumentError(msg, field="body")
    extra = sorted(set(document) - {"data", "columns"})
    if extra:
        msg = f"unknown field {extra[0]!r}; the body takes only data and columns: {_SHAPES}"
        raise InvalidArgumentError(msg, field=extra[0])
    data = document["data"]
    if not isinstance(data, list):
        msg = f"data must be a list with one entry per row: {_SHAPES}"
        raise InvalidArgumentError(msg, field="data")
    columns = document.get("columns")
    if columns is not None:
        return Rows(data, column_names(columns, "columns"), field="data")
    if data and isinstance(data[0], dict):
        return records(data, "data")
    return Rows(data, field="data")

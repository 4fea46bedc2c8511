"""The general path for column signatures: a DataFrame, checked by ``enforce``.

JSON and CSV carry no column types, so before ``conveyor.models.enforcement.enforce`` checks the
frame, each column is converted to its signature type where the values allow it (MLflow does the
same when it parses a request): whole numbers to ``integer``, numbers to ``float``, base64 text
to ``binary``, ISO text to ``datetime``. OIP tensors are typed and go to ``enforce`` as they are.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.models.enforcement import enforce
from conveyor.models.signature import COLUMN_TYPES, ColSpec, Schema
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows
from conveyor.serving.payloads.json_numbers import (
    NUMERIC_KINDS,
    brief,
    cast_numbers,
    numbers_array,
)
from conveyor.serving.payloads.matrix_input import NUMERIC_TYPES
from conveyor.serving.tensors import InferRequest, Tensor


def build_frame(payload: Payload, schema: Schema) -> Any:
    """Return the payload as a DataFrame that satisfies the column ``schema``."""
    import pandas as pd

    if isinstance(payload, InferRequest):
        return enforce(_tensors_frame(payload, schema), schema)
    index = None
    if isinstance(payload, Frame):
        columns = {str(c): payload.frame[c].to_numpy() for c in payload.frame.columns}
        index = payload.frame.index
    else:
        columns = json_columns(payload, _positional_names(payload, schema))
        index = payload.index if isinstance(payload, Rows) else None
    typed = _typed(columns, schema, payload.field, is_csv=isinstance(payload, Frame))
    return enforce(pd.DataFrame(typed, index=index), schema)


def _positional_names(payload: Payload, schema: Schema) -> list[str] | None:
    """The names of unnamed rows' values: the signature's, less optional trailing columns."""
    names = _names(schema)
    if names is None or not isinstance(payload, Rows) or not payload.data:
        return names
    first = payload.data[0]
    width = len(first) if isinstance(first, list) else 1
    if width < len(names) and not any(
        isinstance(s, ColSpec) and s.required for s in schema.specs[width:]
    ):
        return names[:width]
    return names


def json_columns(payload: Rows | Records | Columns, names: list[str] | None) -> dict[str, Any]:
    """Return a JSON payload's values column by column; unnamed rows take ``names``."""
    if isinstance(payload, Records):
        keys = dict.fromkeys(k for record in payload.records for k in record)
        return {str(k): [r.get(k) for r in payload.records] for k in keys}
    if isinstance(payload, Columns):
        columns = {str(k): v if isinstance(v, list) else [v] for k, v in payload.columns.items()}
        if len({len(v) for v in columns.values()}) > 1:
            lengths = {k: len(v) for k, v in columns.items()}
            msg = f"{payload.field}: columns have different lengths {lengths}; send one per row"
            raise InvalidArgumentError(msg, field=payload.field)
        return columns
    width = _check_width(payload, len(payload.columns or names or ()) or None)
    names = payload.columns or names or [str(i) for i in range(width)]
    if width == 1 and payload.data and not isinstance(payload.data[0], list):
        return {names[0]: payload.data}
    if not payload.data:
        return {name: [] for name in names}
    return dict(zip(names, (list(c) for c in zip(*payload.data, strict=True)), strict=True))


def plain_frame(payload: Rows | Records | Columns | Frame) -> Any:
    """Return a payload as a DataFrame of the dtypes pandas infers (no signature to follow)."""
    import pandas as pd

    if isinstance(payload, Frame):
        return payload.frame
    index = payload.index if isinstance(payload, Rows) else None
    try:
        return pd.DataFrame(json_columns(payload, None), index=index)
    except (ValueError, TypeError) as exc:
        msg = f"{payload.field} is not a table: {exc}; send one value per column in every row"
        raise InvalidArgumentError(msg, field=payload.field) from None


def _check_width(rows: Rows, width: int | None) -> int:
    """Check every row is a list of ``width`` values (or each a single value); return it."""
    if not rows.data:
        return width or 0
    is_list = isinstance(rows.data[0], list)
    if width is None:
        width = len(rows.data[0]) if is_list else 1
    for i, row in enumerate(rows.data):
        size = len(row) if isinstance(row, list) else 1
        if size != width or isinstance(row, list) != is_list:
            msg = (
                f"{rows.field}[{i}] has {size} values where {width} columns are expected; "
                "send one value per column in every row"
            )
            raise InvalidArgumentError(msg, field=f"{rows.field}[{i}]")
    return width


def _names(schema: Schema) -> list[str] | None:
    return [str(s.name) for s in schema.specs] if schema.has_names else None


def _typed(columns: dict[str, Any], schema: Schema, where: str, *, is_csv: bool) -> dict[str, Any]:
    """Convert JSON/CSV columns to their signature types where the values allow it."""
    specs = [s for s in schema.specs if isinstance(s, ColSpec)]
    if schema.has_names:
        by_name = {str(s.name): s for s in specs}
    else:
        by_name = dict(zip(columns, specs, strict=False))
    return {
        name: _typed_column(values, by_name[name], f"{where}: column {name!r}", name, is_csv)
        if name in by_name
        else values
        for name, values in columns.items()
    }


def _typed_column(values: Any, spec: ColSpec, label: str, name: str, is_csv: bool) -> Any:
    if spec.type in NUMERIC_TYPES:
        return _numbers(values, np.dtype(COLUMN_TYPES[spec.type]), label, name)
    convert = _CONVERTERS.get(spec.type)
    if isinstance(values, np.ndarray) and values.dtype.kind != "O":
        if spec.type == "string" and is_csv:  # read_csv guessed numbers for a text column
            return values.astype(str).astype(object)
        if spec.type != "datetime":
            convert = None  # enforce names the column and its dtype
    return values if convert is None else convert(values, label, name)


def _numbers(values: Any, dtype: np.dtype[Any], label: str, name: str) -> Any:
    if isinstance(values, np.ndarray):
        if values.dtype.kind in NUMERIC_KINDS:
            return cast_numbers(values, dtype, name, label=label)
        values = values.tolist()
    if dtype.kind == "f" and any(v is None for v in values):
        values = [np.nan if v is None else v for v in values]
    array = numbers_array(values, dtype, name, label=label)
    if array.ndim != 1:
        msg = f"{label} takes one number per row, got lists; send a single value per cell"
        raise InvalidArgumentError(msg, field=name)
    return array


def _texts(values: Any, label: str, name: str) -> Any:
    for value in values:
        is_missing = value is None or (isinstance(value, float) and math.isnan(value))
        if not is_missing and not isinstance(value, str):
            msg = f"{label} takes text, got {brief(value)}; send strings"
            raise InvalidArgumentError(msg, field=name)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _datetimes(values: Any, label: str, name: str) -> Any:
    import pandas as pd

    try:
        return pd.to_datetime(pd.Series(values, dtype=object))
    except (ValueError, TypeError) as exc:
        msg = f"{label}: cannot read {exc}; send ISO 8601 date-times"
        raise InvalidArgumentError(msg, field=name) from None


def _binaries(values: Any, label: str, name: str) -> Any:
    return [_from_base64(v, label, name) for v in values]


def _from_base64(value: Any, label: str, name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        msg = f"{label}: {brief(value)} is not base64; binary columns take base64 text"
        raise InvalidArgumentError(msg, field=name) from None


_CONVERTERS: dict[str, Callable[[Any, str, str], Any]] = {
    "string": _texts,
    "binary": _binaries,
    "datetime": _datetimes,
}


def _tensors_frame(request: InferRequest, schema: Schema) -> Any:
    """One [rows, columns] tensor, or one [rows] (or [rows, 1]) tensor per column."""
    import pandas as pd

    specs = {str(s.name): s for s in schema.specs if isinstance(s, ColSpec)}
    inputs = request.inputs
    if len(inputs) == 1 and inputs[0].data.ndim == 2 and inputs[0].name not in specs:
        tensor = inputs[0]
        names = _names(schema)
        if names is not None and tensor.data.shape[1] != len(names):
            msg = (
                f"input {tensor.name!r} has shape {list(tensor.shape)}; the model's signature "
                f"expects [rows, {len(names)}] for columns {names}"
            )
            raise InvalidArgumentError(msg, field=tensor.name)
        return pd.DataFrame(tensor.data, columns=names)
    columns = {t.name: _column_values(t, specs.get(t.name)) for t in inputs}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        shapes = {t.name: list(t.shape) for t in inputs}
        msg = f"inputs have different numbers of rows {shapes}; every column needs one per row"
        raise InvalidArgumentError(msg, field="inputs")
    return pd.DataFrame(columns)


def _column_values(tensor: Tensor, spec: ColSpec | None) -> Any:
    data = tensor.data
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim != 1:
        msg = f"input {tensor.name!r} has shape {list(tensor.shape)}; a column takes [rows]"
        raise InvalidArgumentError(msg, field=tensor.name)
    if tensor.datatype == "BYTES" and spec is not None and spec.type == "string":
        try:
            return np.array([v.decode() for v in data.tolist()], dtype=object)
        except UnicodeDecodeError:
            msg = f"input {tensor.name!r}: string columns take UTF-8 text"
            raise InvalidArgumentError(msg, field=tensor.name) from None
    return data

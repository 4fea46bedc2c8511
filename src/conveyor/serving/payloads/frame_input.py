"""The general path for column signatures: a DataFrame, checked by ``enforce``.

JSON and CSV carry no column types, so before ``conveyor.models.enforcement.enforce`` checks the
frame, each column is converted to its signature type where the values allow it (MLflow does the
same when it parses a request): whole numbers to ``integer``, numbers to ``float``, base64 text
to ``binary``, ISO text to ``datetime``. OIP tensors are typed and go to ``enforce`` as they are.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.models.enforcement import enforce
from conveyor.models.signature import COLUMN_TYPES, ColSpec, Schema
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows
from conveyor.serving.payloads.json_numbers import NUMERIC_KINDS, brief, cast_numbers
from conveyor.serving.payloads.matrix_input import NUMERIC_TYPES
from conveyor.serving.tensors import InferRequest, Tensor


def build_frame(payload: Payload, schema: Schema) -> Any:
    """Return the payload as a DataFrame that satisfies the column ``schema``."""
    if isinstance(payload, InferRequest):
        return enforce(_tensors_frame(payload, schema), schema)
    frame = payload_frame(payload, _positional_names(payload, schema))
    return enforce(_typed(frame, schema, payload.field), schema)


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


def payload_frame(payload: Rows | Records | Columns | Frame, names: list[str] | None) -> Any:
    """Return a JSON/CSV payload as a DataFrame; unnamed rows take ``names`` by position."""
    import pandas as pd

    if isinstance(payload, Frame):
        return payload.frame
    try:
        if isinstance(payload, Records):
            return pd.DataFrame.from_records(payload.records)
        if isinstance(payload, Columns):
            return pd.DataFrame(
                {k: v if isinstance(v, list) else [v] for k, v in payload.columns.items()}
            )
        columns = payload.columns or names
        _check_width(payload, len(columns) if columns is not None else None)
        return pd.DataFrame(payload.data, columns=columns, index=payload.index)
    except (ValueError, TypeError) as exc:
        msg = f"{payload.field} is not a table: {exc}; send one value per column in every row"
        raise InvalidArgumentError(msg, field=payload.field) from None


def _check_width(rows: Rows, width: int | None) -> None:
    """Every row a list of ``width`` values (or a single value when ``width`` is 1)."""
    if not rows.data:
        return
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


def _names(schema: Schema) -> list[str] | None:
    return [str(s.name) for s in schema.specs] if schema.has_names else None


def _typed(frame: Any, schema: Schema, where: str) -> Any:
    """Convert JSON/CSV columns to their signature types where the values allow it."""
    specs = [s for s in schema.specs if isinstance(s, ColSpec)]
    if schema.has_names:
        pairs = [(str(s.name), s) for s in specs if str(s.name) in frame.columns]
    else:
        pairs = list(zip(frame.columns[: len(specs)], specs, strict=False))
    if not pairs:
        return frame
    frame = frame.copy(deep=False)
    for name, spec in pairs:
        frame[name] = _typed_column(frame[name], spec, f"{where}: column {name!r}", str(name))
    return frame


def _typed_column(column: Any, spec: ColSpec, label: str, name: str) -> Any:
    if spec.type in NUMERIC_TYPES:
        return _numeric_column(column, spec, label, name)
    if spec.type == "binary" and column.dtype.kind in "OUT":
        return column.map(lambda v: _from_base64(v, label, name))
    if spec.type == "datetime" and column.dtype.kind != "M":
        import pandas as pd

        try:
            return pd.to_datetime(column)
        except (ValueError, TypeError) as exc:
            msg = f"{label}: cannot read {exc}; send ISO 8601 date-times"
            raise InvalidArgumentError(msg, field=name) from None
    return column


def _numeric_column(column: Any, spec: ColSpec, label: str, name: str) -> Any:
    import pandas as pd

    dtype = np.dtype(COLUMN_TYPES[spec.type])
    values = column.to_numpy()
    if values.dtype.kind not in NUMERIC_KINDS:
        if values.dtype.kind != "O" or not all(_is_number_or_null(v) for v in values):
            return column  # enforce names the column and its dtype
        if dtype.kind == "f":
            values = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
        elif any(v is None for v in values):
            return column  # enforce refuses the object column, naming it
        else:
            values = np.asarray(values.tolist())
    return pd.Series(cast_numbers(values, dtype, name, label=label), index=column.index)


def _is_number_or_null(value: Any) -> bool:
    return value is None or (
        isinstance(value, int | float | np.number) and abs(float(value)) < 2**64
    )


def _from_base64(value: Any, label: str, name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        msg = f"{label}: {brief(value)} is not base64; binary columns take base64 text"
        raise InvalidArgumentError(msg, field=name) from None


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

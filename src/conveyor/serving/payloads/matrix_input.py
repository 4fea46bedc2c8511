"""The fast path: a signature of numeric named columns, input built as one 2-D array.

No pandas: values go through ``np.asarray`` once and are checked column by column only where a
column's type is narrower than what was parsed (a ``long`` column among JSON floats must hold
whole numbers). Columns come out in signature order; extra ones are dropped. OIP tensors are
typed: one tensor per column must have a datatype its column holds without loss (as
``enforce`` demands); a single [rows, columns] tensor is checked by value, like JSON, since one
datatype cannot match a signature that mixes ``long`` and ``double`` columns.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import COLUMN_TYPES, ColSpec, Schema
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows
from conveyor.serving.payloads.json_numbers import (
    NUMERIC_KINDS,
    Array,
    brief,
    cast_numbers,
    numbers_array,
)
from conveyor.serving.tensors import InferRequest, Tensor, oip_datatype

NUMERIC_TYPES = frozenset({"boolean", "integer", "long", "float", "double"})
_MAX_ORDERS = 64  # column orders remembered per model (clients send one or two)


@dataclass(frozen=True)
class MatrixLayout:
    """How a signature's numeric columns map to matrix columns."""

    names: tuple[str, ...]
    dtypes: tuple[np.dtype[Any], ...]
    dtype: np.dtype[Any]
    positions: dict[str, int]
    getter: Callable[[dict[str, Any]], Any]
    _orders: dict[tuple[str, ...], Array | None] = field(default_factory=dict)
    _narrower: dict[np.dtype[Any], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, schema: Schema) -> MatrixLayout | None:
        """Return the layout of an all-numeric, named, required column schema, else None."""
        specs = schema.specs
        if not specs or not all(_is_numeric_column(s) for s in specs):
            return None
        names = tuple(str(s.name) for s in specs)
        dtypes = tuple(np.dtype(COLUMN_TYPES[s.type]) for s in specs if isinstance(s, ColSpec))
        return cls(
            names=names,
            dtypes=dtypes,
            dtype=np.result_type(*dtypes),
            positions={n: i for i, n in enumerate(names)},
            getter=operator.itemgetter(*names),
        )

    def narrower(self, got: np.dtype[Any]) -> tuple[int, ...]:
        """Return the columns whose type cannot hold every value of dtype ``got``."""
        found = self._narrower.get(got)
        if found is None:
            found = tuple(
                j for j, d in enumerate(self.dtypes) if d != got and not np.can_cast(got, d)
            )
            self._narrower[got] = found
        return found

    def order(self, columns: list[str]) -> Array | None:
        """Return the indices that put ``columns`` in signature order (None: already are)."""
        key = tuple(columns)
        if key in self._orders:
            return self._orders[key]
        place = {c: i for i, c in enumerate(columns)}
        missing = [n for n in self.names if n not in place]
        if missing:
            raise missing_column(missing[0], self.names)
        indices = np.array([place[n] for n in self.names], dtype=np.intp)
        found = None if key == self.names else indices
        if len(self._orders) < _MAX_ORDERS:
            self._orders[key] = found
        return found


def _is_numeric_column(spec: Any) -> bool:
    return (
        isinstance(spec, ColSpec)
        and spec.type in NUMERIC_TYPES
        and spec.name is not None
        and spec.required
    )


def missing_column(name: str, expected: tuple[str, ...] | list[str]) -> InvalidArgumentError:
    """Build the error for a column the signature requires and the input lacks."""
    msg = (
        f"input is missing column {name!r} required by the model's signature "
        f"(expected columns: {list(expected)}); add it to the input"
    )
    return InvalidArgumentError(msg, field=name)


def build_matrix(payload: Payload, layout: MatrixLayout) -> Array:
    """Return the payload as a C-contiguous (rows, columns) array in signature order."""
    if isinstance(payload, Rows):
        matrix = _from_rows(payload, layout)
    elif isinstance(payload, Records):
        matrix = _from_records(payload, layout)
    elif isinstance(payload, Columns):
        matrix = _from_columns(payload, layout)
    elif isinstance(payload, Frame):
        matrix = _from_frame(payload, layout)
    else:
        return _from_tensors(payload, layout)
    return np.ascontiguousarray(matrix)


def _from_rows(rows: Rows, layout: MatrixLayout) -> Array:
    width = len(layout.names) if rows.columns is None else len(rows.columns)
    try:
        parsed = np.asarray(rows.data)
    except (ValueError, TypeError):
        parsed = None  # ragged: the slow path names the row
    if parsed is not None and parsed.ndim == 1 and width == 1 and len(parsed):
        parsed = parsed.reshape(-1, 1)  # one column given as a list of values
    if parsed is None or parsed.dtype.kind not in NUMERIC_KINDS or parsed.ndim != 2:
        return _from_objects(rows.data, rows.columns, layout, rows.field)
    if parsed.shape[1] != width:
        raise _width_error(parsed.shape[1], rows, layout)
    if rows.columns is not None:
        order = layout.order(rows.columns)
        if order is not None:
            parsed = parsed[:, order]
    return _fit(parsed, layout)


def _width_error(got: int, rows: Rows, layout: MatrixLayout) -> InvalidArgumentError:
    if rows.columns is None:
        msg = (
            f"{rows.field}: rows have {got} values, the model's signature expects "
            f"{len(layout.names)} columns {list(layout.names)}; send one value per column"
        )
    else:
        msg = f"{rows.field}: rows have {got} values but {len(rows.columns)} columns are named"
    return InvalidArgumentError(msg, field=rows.field)


def _from_records(records: Records, layout: MatrixLayout) -> Array:
    getter = layout.getter
    try:
        values = [getter(r) for r in records.records]
    except KeyError:
        return _from_sparse_records(records, layout)
    if len(layout.names) == 1:
        values = [[v] for v in values]
    try:
        parsed = np.asarray(values)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.dtype.kind not in NUMERIC_KINDS or parsed.ndim != 2:
        return _from_objects(values, None, layout, records.field)
    return _fit(parsed, layout)


def _from_sparse_records(records: Records, layout: MatrixLayout) -> Array:
    """Records where some lack a column: absent everywhere is an error, else a null."""
    present: set[str] = set()
    for record in records.records:
        present.update(record)
    for name in layout.names:
        if name not in present:
            raise missing_column(name, layout.names)
    rows = [[r.get(n) for n in layout.names] for r in records.records]
    return _from_objects(rows, None, layout, records.field)


def _from_columns(columns: Columns, layout: MatrixLayout) -> Array:
    values = columns.columns
    for name in layout.names:
        if name not in values:
            raise missing_column(name, layout.names)
    by_column = [values[n] for n in layout.names]
    try:
        parsed = np.asarray(by_column)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.dtype.kind not in NUMERIC_KINDS or parsed.ndim > 2:
        arrays = [_column(values[n], n, d, columns.field) for n, d in _columns(layout)]
        return _stack(arrays, layout, columns.field)
    return _fit(parsed.reshape(len(layout.names), -1).T, layout)


def _from_frame(frame: Frame, layout: MatrixLayout) -> Array:
    data = frame.frame.rename(columns=str)
    for name in layout.names:
        if name not in data.columns:
            raise missing_column(name, layout.names)
    arrays = []
    for name, dtype in _columns(layout):
        column = data[name]
        label = f"{frame.field}: column {name!r}"
        if column.dtype.kind in NUMERIC_KINDS:
            arrays.append(cast_numbers(column.to_numpy(), dtype, name, label=label))
        else:
            arrays.append(_column(column.tolist(), name, dtype, frame.field))
    return _stack(arrays, layout, frame.field)


def _stack(arrays: list[Array], layout: MatrixLayout, where: str) -> Array:
    """Put one array per column side by side; they must be 1-D and of one length."""
    rows = len(arrays[0]) if arrays[0].ndim == 1 else -1
    for name, array in zip(layout.names, arrays, strict=True):
        if array.ndim != 1 or len(array) != rows:
            msg = (
                f"{where}: column {name!r} has shape {list(array.shape)}; every column takes "
                f"one value per row ({rows} rows)"
            )
            raise InvalidArgumentError(msg, field=name)
    out = np.empty((rows, len(arrays)), dtype=layout.dtype)
    for j, array in enumerate(arrays):
        out[:, j] = array
    return out


def _from_objects(
    data: list[Any], columns: list[str] | None, layout: MatrixLayout, where: str
) -> Array:
    """The slow path: values that did not parse as one numeric array (nulls, strings, ragged)."""
    width = len(layout.names) if columns is None else len(columns)
    for i, row in enumerate(data):
        if not isinstance(row, list | tuple) or len(row) != width:
            got = f"has {len(row)} values" if isinstance(row, list | tuple) else f"is {brief(row)}"
            msg = f"{where}[{i}] {got}; each row must be a list of {width} values"
            raise InvalidArgumentError(msg, field=f"{where}[{i}]")
    order = range(width) if columns is None else layout.order(columns)
    indices = list(range(width)) if order is None else list(order)
    out = np.empty((len(data), len(layout.names)), dtype=layout.dtype)
    for j, (name, dtype) in enumerate(_columns(layout)):
        out[:, j] = _column([row[indices[j]] for row in data], name, dtype, where)
    return out


def _column(values: Any, name: str, dtype: np.dtype[Any], where: str) -> Array:
    """One column's values as ``dtype``; null is NaN in float columns and an error elsewhere."""
    if not isinstance(values, list):
        values = [values]
    if dtype.kind == "f" and any(v is None for v in values):
        values = [np.nan if v is None else v for v in values]
    label = f"{where}: column {name!r}"
    array = numbers_array(values, dtype, name, label=label)
    if array.ndim != 1:
        msg = f"{label} takes one number per row, got lists; send a single value per cell"
        raise InvalidArgumentError(msg, field=name)
    return array


def _columns(layout: MatrixLayout) -> list[tuple[str, np.dtype[Any]]]:
    return list(zip(layout.names, layout.dtypes, strict=True))


def _fit(parsed: Array, layout: MatrixLayout) -> Array:
    """Check every column's values fit its type, then cast to the matrix dtype."""
    for j in layout.narrower(parsed.dtype):
        name = layout.names[j]
        cast_numbers(parsed[:, j], layout.dtypes[j], name, label=f"column {name!r}")
    return parsed.astype(layout.dtype, copy=False)


def _from_tensors(request: InferRequest, layout: MatrixLayout) -> Array:
    inputs = request.inputs
    first = inputs[0]
    if len(inputs) == 1 and first.data.ndim == 2 and first.name not in layout.positions:
        if first.data.shape[1] != len(layout.names):
            msg = (
                f"input {first.name!r} has shape {list(first.shape)}; the model's signature "
                f"expects [rows, {len(layout.names)}] for columns {list(layout.names)}"
            )
            raise InvalidArgumentError(msg, field=first.name)
        if first.data.dtype.kind not in NUMERIC_KINDS:
            raise _uncastable(first, layout.names[0], layout.dtypes[0])
        # one tensor has one datatype, so a mixed signature (long and double columns) is
        # checked by value: each column's values must fit its type
        return np.ascontiguousarray(_fit(first.data, layout))
    return _from_column_tensors(inputs, layout)


def _from_column_tensors(inputs: list[Tensor], layout: MatrixLayout) -> Array:
    by_name = {t.name: t for t in inputs}
    missing = [n for n in layout.names if n not in by_name]
    if missing:
        if len(inputs) == 1:
            msg = (
                f"input {inputs[0].name!r} has shape {list(inputs[0].shape)}; send one "
                f"[rows, {len(layout.names)}] tensor, or one tensor per column "
                f"{list(layout.names)}"
            )
            raise InvalidArgumentError(msg, field=inputs[0].name)
        raise missing_column(missing[0], layout.names)
    rows = by_name[layout.names[0]].data.shape[0] if by_name[layout.names[0]].data.ndim else 1
    out = np.empty((rows, len(layout.names)), dtype=layout.dtype)
    for j, (name, dtype) in enumerate(_columns(layout)):
        tensor = by_name[name]
        if tensor.data.shape not in {(rows,), (rows, 1)}:
            msg = (
                f"input {name!r} has shape {list(tensor.shape)}; a column takes [{rows}] or "
                f"[{rows}, 1] like the other columns"
            )
            raise InvalidArgumentError(msg, field=name)
        if tensor.data.dtype != dtype and not np.can_cast(tensor.data.dtype, dtype):
            raise _uncastable(tensor, name, dtype)
        out[:, j] = tensor.data.reshape(rows)
    return out


def _uncastable(tensor: Tensor, name: str, dtype: np.dtype[Any]) -> InvalidArgumentError:
    what = f"input {tensor.name!r}" if tensor.name == name else f"column {name!r}"
    msg = (
        f"{what} is {tensor.datatype}, the model's signature expects {dtype.name}, and "
        f"{tensor.datatype} cannot be converted without losing information; send "
        f"{oip_datatype(dtype)}"
    )
    return InvalidArgumentError(msg, field=name)

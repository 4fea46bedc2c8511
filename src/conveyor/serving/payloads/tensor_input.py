"""Tensor signatures, and the best effort for models without a signature.

With a tensor signature the input becomes one array (an unnamed spec) or a dict of named arrays,
JSON values converted to each spec's dtype, then checked for dtype and fixed dimensions by
``conveyor.models.enforcement.enforce``. Without a signature the input becomes a numeric matrix
when it is one, else what MLflow would hand the model (a DataFrame or a dict of arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.errors import InvalidArgumentError
from conveyor.models.enforcement import enforce
from conveyor.models.signature import Schema, TensorSpec
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows
from conveyor.serving.payloads.frame_input import plain_frame
from conveyor.serving.payloads.json_numbers import NUMERIC_KINDS, Array, numbers_array, parse_array
from conveyor.serving.tensors import InferRequest

# flavors that take a dict of named arrays, as MLflow passes an ``inputs`` object to them
DICT_FLAVORS = frozenset({"onnx", "pytorch", "python_function", "mlflow_python_model"})


def build_tensors(payload: Payload, schema: Schema) -> Any:
    """Return the payload as the array or dict of arrays that the tensor ``schema`` describes."""
    specs = [s for s in schema.specs if isinstance(s, TensorSpec)]
    if isinstance(payload, InferRequest):
        return enforce(_request_tensors(payload, schema), schema)
    if not schema.has_names:
        return enforce(_unnamed(payload, specs[0]), schema)
    by_name = {str(s.name): s for s in specs}
    return enforce(_named(payload, by_name), schema)


def _request_tensors(request: InferRequest, schema: Schema) -> Any:
    if schema.has_names:
        return {t.name: t.data for t in request.inputs}
    if len(request.inputs) != 1:
        names = [t.name for t in request.inputs]
        msg = f"the model takes one unnamed tensor; send one input, not {names}"
        raise InvalidArgumentError(msg, field="inputs")
    return request.inputs[0].data


def _unnamed(payload: Rows | Records | Columns | Frame, spec: TensorSpec) -> Array:
    if isinstance(payload, Rows):  # column names mean nothing to an unnamed tensor
        return _spec_array(payload.data, spec, payload.field)
    if isinstance(payload, Frame):
        return _spec_array(payload.frame.to_numpy(), spec, payload.field)
    if isinstance(payload, Columns) and len(payload.columns) == 1:
        (values,) = payload.columns.values()
        return _spec_array(values, spec, payload.field)
    msg = f"{payload.field}: the model takes one unnamed tensor; send it as a (nested) list"
    raise InvalidArgumentError(msg, field=payload.field)


def _named(
    payload: Rows | Records | Columns | Frame, specs: dict[str, TensorSpec]
) -> dict[str, Array]:
    if isinstance(payload, Columns):
        values = payload.columns
    elif isinstance(payload, Frame):
        values = {str(c): payload.frame[c].to_numpy() for c in payload.frame.columns}
    elif isinstance(payload, Records):
        first = payload.records[0] if payload.records else {}
        values = {name: [r.get(name) for r in payload.records] for name in first}
    elif payload.columns is not None:
        rows, where = payload.data, payload.field
        values = {c: [_cell(row, j, where) for row in rows] for j, c in enumerate(payload.columns)}
    elif len(specs) == 1:
        values = {next(iter(specs)): payload.data}
    else:
        msg = f"{payload.field}: the model takes named tensors {list(specs)}; send an object"
        raise InvalidArgumentError(msg, field=payload.field)
    field = payload.field
    return {
        name: _spec_array(value, specs[name], f"{field}.{name}")
        for name, value in values.items()
        if name in specs
    }


def _cell(row: Any, j: int, where: str) -> Any:
    if not isinstance(row, list) or j >= len(row):
        msg = f"{where}: every row must be a list with one value per named column"
        raise InvalidArgumentError(msg, field=where)
    return row[j]


def _spec_array(values: Any, spec: TensorSpec, field: str) -> Array:
    dtype = np.dtype(spec.dtype)
    if dtype.kind in NUMERIC_KINDS:
        return numbers_array(values, dtype, field)
    return parse_array(values, field, dtype=dtype)


def build_unsigned(payload: Payload, flavor: str | None) -> tuple[Any, bool]:
    """Best effort without a signature: ``(input, is_matrix)``."""
    if isinstance(payload, InferRequest):
        return _unsigned_tensors(payload, flavor)
    if isinstance(payload, Rows) and payload.columns is None:
        array = parse_array(payload.data, payload.field)
        if array.dtype.kind in NUMERIC_KINDS or array.ndim != 2:
            return array, array.ndim == 2 and array.dtype.kind in NUMERIC_KINDS  # texts: as is
    if isinstance(payload, Columns) and flavor in DICT_FLAVORS:
        return {
            k: parse_array(v, f"{payload.field}.{k}") for k, v in payload.columns.items()
        }, False
    return plain_frame(payload), False


def _unsigned_tensors(request: InferRequest, flavor: str | None) -> tuple[Any, bool]:
    inputs = request.inputs
    if len(inputs) == 1:
        data = inputs[0].data
        return data, data.ndim == 2 and data.dtype.kind in NUMERIC_KINDS
    columns = [
        t.data.reshape(-1) if t.data.ndim == 2 and t.data.shape[1] == 1 else t.data for t in inputs
    ]
    lengths = {len(c) if c.ndim == 1 else -1 for c in columns}
    if flavor in DICT_FLAVORS or len(lengths) != 1 or -1 in lengths:
        return {t.name: t.data for t in inputs}, False
    import pandas as pd

    return pd.DataFrame({t.name: c for t, c in zip(inputs, columns, strict=True)}), False

"""Check prediction input against a model's signature, the way MLflow's pyfunc does.

Columns are matched by name (extra ones are dropped), converted when the conversion cannot lose
information, and refused with an error naming the column, the expected and the given dtype
otherwise. Tensors are checked for dtype and fixed dimensions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.signature import COLUMN_TYPES, ColSpec, Schema, TensorSpec


def to_frame(data: Any, schema: Schema | None = None) -> Any:
    """Turn a DataFrame, Series, dict of columns, list of records or 2-D array into a frame."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        values = {
            k: v if hasattr(v, "__len__") and not isinstance(v, str) else [v]
            for k, v in data.items()
        }
        return pd.DataFrame(values)
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return pd.DataFrame.from_records(data)
    import numpy as np

    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1) if schema is None or len(schema.specs) == 1 else array[None]
    names = [s.name for s in schema.specs] if schema is not None and schema.has_names else None
    if names is not None and array.shape[1] != len(names):
        msg = f"input has {array.shape[1]} columns; the model's signature expects {names}"
        raise InvalidArgumentError(msg, field="data")
    return pd.DataFrame(array, columns=names)


def enforce(data: Any, schema: Schema) -> Any:
    """Return ``data`` converted to what the signature describes, or raise naming the problem."""
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    return _enforce_columns(to_frame(data, schema), schema)


def _enforce_columns(frame: Any, schema: Schema) -> Any:
    specs = [s for s in schema.specs if isinstance(s, ColSpec)]
    if not schema.has_names:
        if frame.shape[1] < len(specs):
            msg = f"input has {frame.shape[1]} columns, the model's signature expects {len(specs)}"
            raise InvalidArgumentError(msg, field="data")
        columns = {str(c): frame.iloc[:, i] for i, c in enumerate(frame.columns[: len(specs)])}
        named = list(zip(columns, specs, strict=True))
    else:
        present = {str(c) for c in frame.columns}
        missing = [s.name for s in specs if s.required and s.name not in present]
        if missing:
            expected = [s.name for s in specs]
            msg = (
                f"input is missing column {missing[0]!r} required by the model's signature "
                f"(expected columns: {expected}); add it to the input"
            )
            raise InvalidArgumentError(msg, field=missing[0])
        frame = frame.rename(columns=str)
        columns = {s.name: frame[s.name] for s in specs if s.name in present}  # extras dropped
        named = [(s.name, s) for s in specs if s.name in present]
    import pandas as pd

    out = {name: _convert_column(name, columns[name], spec) for name, spec in named if name}
    return pd.DataFrame(out, index=frame.index)


def _convert_column(name: str, column: Any, spec: ColSpec) -> Any:
    import numpy as np

    expected = COLUMN_TYPES[spec.type]
    got = column.dtype
    if spec.type in {"string", "binary"}:
        if getattr(got, "kind", "O") in "OUST" or str(got) in {"str", "string"}:
            return column
        raise _dtype_error(name, spec.type, got)
    if spec.type == "datetime":
        if getattr(got, "kind", "") == "M":
            return column
        raise _dtype_error(name, spec.type, got)
    try:
        numpy_got = np.dtype(got)
    except TypeError:
        raise _dtype_error(name, spec.type, got) from None
    if numpy_got == np.dtype(expected):
        return column
    if np.can_cast(numpy_got, expected, casting="safe"):
        return column.astype(expected)
    raise _dtype_error(name, spec.type, got)


def _dtype_error(name: str, expected: str, got: Any) -> InvalidArgumentError:
    numpy_name = COLUMN_TYPES[expected]
    msg = (
        f"column {name!r} has dtype {got}, the model's signature expects {expected} "
        f"({numpy_name}) and {got} cannot be converted without losing information; "
        f"cast the column to {numpy_name}"
    )
    return InvalidArgumentError(msg, field=name)


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    specs = [s for s in schema.specs if isinstance(s, TensorSpec)]
    if not schema.has_names:
        if type(data).__module__.startswith("pandas"):
            data = data.to_numpy()
        return _convert_tensor("input", data, specs[0])
    if type(data).__module__.startswith("pandas"):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, Mapping):
        if len(specs) == 1:
            return {specs[0].name: _convert_tensor(str(specs[0].name), data, specs[0])}
        names = [s.name for s in specs]
        msg = f"the model takes named tensors {names}; pass a dict of arrays"
        raise InvalidArgumentError(msg, field="data")
    for spec in specs:
        if spec.name not in data:
            msg = f"input is missing tensor {spec.name!r} required by the model's signature"
            raise InvalidArgumentError(msg, field=spec.name)
    return {s.name: _convert_tensor(str(s.name), data[s.name], s) for s in specs}


def _convert_tensor(name: str, value: Any, spec: TensorSpec) -> Any:
    import numpy as np

    array = np.asarray(value)
    expected = np.dtype(spec.dtype)
    if array.dtype != expected:
        if not np.can_cast(array.dtype, expected, casting="safe"):
            msg = (
                f"tensor {name!r} has dtype {array.dtype}, the model's signature expects "
                f"{expected} and {array.dtype} cannot be converted without losing information; "
                f"cast it to {expected}"
            )
            raise InvalidArgumentError(msg, field=name)
        array = array.astype(expected)
    shape = spec.shape
    fits = array.ndim == len(shape) and all(
        want in {-1, got} for want, got in zip(shape, array.shape, strict=True)
    )
    if not fits:
        msg = f"tensor {name!r} has shape {array.shape}, the model's signature expects {shape}"
        raise InvalidArgumentError(msg, field=name)
    return array

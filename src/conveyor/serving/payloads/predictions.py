"""Encode what a model returned for each protocol.

Predictions are an ndarray, Series, DataFrame, dict of arrays or list (possibly one request's
slice of a batch):

* OIP: an array or Series is one output named ``predict`` (as MLServer names it), a DataFrame
  one output per column, a dict one output per key; text becomes BYTES;
* MLflow ``/invocations``: ``{"predictions": ...}`` exactly as MLflow's scoring server builds it
  (arrays as lists, DataFrames and Series as records), except that NaN is written ``null``;
* ``/predict``: ``{"predictions": [...]}`` with one entry per row: a value, a list (rows of a
  2-D array) or an object (rows of a DataFrame or of a dict of arrays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from conveyor.errors import ConveyorError
from conveyor.serving.payloads.json_encoding import dumps, jsonable_array, with_nulls
from conveyor.serving.tensors import Tensor, oip_datatype

OUTPUT_NAME = "predict"


def predictions_to_tensors(predictions: Any, name: str = OUTPUT_NAME) -> list[Tensor]:
    """Return OIP output tensors for a model's predictions.

    Examples:
        >>> [(t.name, t.datatype, t.shape) for t in predictions_to_tensors(np.zeros(3))]
        [('predict', 'FP64', (3,))]
    """
    if _is_frame(predictions):
        return [_tensor(str(c), _column_array(predictions[c])) for c in predictions.columns]
    if isinstance(predictions, Mapping):
        return [_tensor(str(k), _as_array(v)) for k, v in predictions.items()]
    if isinstance(predictions, list) and predictions and isinstance(predictions[0], Mapping):
        return predictions_to_tensors(_records_to_columns(predictions), name)
    if _is_series(predictions):
        return [_tensor(name, _column_array(predictions))]
    return [_tensor(name, _as_array(predictions))]


def encode_mlflow_predictions(predictions: Any) -> bytes:
    """Return the ``/invocations`` response body ``{"predictions": ...}``, as MLflow writes it.

    Examples:
        >>> encode_mlflow_predictions(np.array([1, 0]))
        b'{"predictions":[1,0]}'
    """
    if _is_frame(predictions):
        return dumps({"predictions": _records(predictions)})
    if _is_series(predictions):
        # MLflow turns a Series into a one-column frame, then records
        return dumps({"predictions": _records(predictions.to_frame())})
    return dumps({"predictions": _jsonable(predictions)})


def encode_predict_response(predictions: Any) -> bytes:
    """Return the ``/predict`` response body: ``{"predictions": [...]}``, one entry per row.

    Examples:
        >>> encode_predict_response({"label": np.array([1, 0]), "score": np.array([0.9, 0.2])})
        b'{"predictions":[{"label":1,"score":0.9},{"label":0,"score":0.2}]}'
    """
    if _is_frame(predictions):
        return dumps({"predictions": _records(predictions)})
    if _is_series(predictions):
        return dumps({"predictions": _column_array(predictions)})
    if isinstance(predictions, Mapping):
        frame_like = {str(k): _as_array(v) for k, v in predictions.items()}
        return dumps({"predictions": _rows_of(frame_like)})
    return dumps({"predictions": _jsonable(predictions)})


def _tensor(name: str, array: np.ndarray[Any, Any]) -> Tensor:
    datatype = oip_datatype(array.dtype)
    if datatype == "BYTES":
        array = _bytes_array(array)
    return Tensor(name=name, datatype=datatype, shape=tuple(array.shape), data=array)


def _as_array(value: Any) -> np.ndarray[Any, Any]:
    if _is_series(value):
        return _column_array(value)
    try:
        array = np.asarray(value)
    except ValueError:
        msg = "the model returned ragged predictions (lists of different lengths)"
        raise ConveyorError(msg) from None
    if array.dtype.kind == "O":  # e.g. a pandas object column holding numbers
        as_numbers = _numeric_or_none(array)
        if as_numbers is not None:
            return as_numbers
    return array


def _numeric_or_none(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    values = array.ravel().tolist()
    if values and all(isinstance(v, int | float | np.number) for v in values):
        try:
            return np.asarray(values).reshape(array.shape)
        except (ValueError, OverflowError):
            return None
    return None


def _column_array(column: Any) -> np.ndarray[Any, Any]:
    """A Series as a NumPy array: nullable numbers as float with NaN, datetimes as text."""
    kind = getattr(column.dtype, "kind", "O")
    if kind in "biuf" and not isinstance(column.dtype, np.dtype):  # pandas nullable dtypes
        dtype = "float64" if column.isna().any() else column.dtype.numpy_dtype
        array: np.ndarray[Any, Any] = column.to_numpy(dtype=dtype, na_value=np.nan)
        return array
    if kind == "M":
        text = column.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").to_numpy(dtype=object)
        return with_nulls(text, column.isna().to_numpy())
    return _as_array(column.to_numpy())


def _bytes_array(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = np.empty(array.shape, dtype=object)
    flat = out.reshape(-1)
    for i, value in enumerate(array.ravel().tolist()):
        flat[i] = value if isinstance(value, bytes) else str(value).encode()
    return out


def _records_to_columns(records: list[Any]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(k for r in records for k in r))
    return {str(n): [r.get(n) for r in records] for n in names}


def _records(frame: Any) -> list[dict[str, Any]]:
    columns = {str(c): _column_array(frame[c]) for c in frame.columns}
    return _rows_of(columns)


def _rows_of(columns: dict[str, np.ndarray[Any, Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    values = [_to_list(a) for a in columns.values()]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _to_list(array: np.ndarray[Any, Any]) -> list[Any]:
    """``tolist()``, except that dates become ISO text (``tolist`` gives integers) and NaT null."""
    if array.dtype.kind in "mM":
        text = np.datetime_as_string(array) if array.dtype.kind == "M" else array.astype(str)
        return with_nulls(text, np.isnat(array)).tolist()  # type: ignore[no-any-return]
    return array.tolist()  # type: ignore[no-any-return]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return jsonable_array(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def _is_series(value: Any) -> bool:
    return type(value).__name__ == "Series" and type(value).__module__.startswith("pandas")

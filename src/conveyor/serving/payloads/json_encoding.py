"""Serialize response documents to JSON bytes with orjson.

NumPy arrays and scalars are written natively (``OPT_SERIALIZE_NUMPY``), NaN and infinities
become ``null`` (orjson's rule, so the output is always valid JSON, unlike MLflow's), and the
values models return that orjson does not know are converted in ``_default``.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(document: Any) -> bytes:
    """Return ``document`` as JSON bytes.

    Arrays must be in native byte order, and datetime64 arrays free of NaT (orjson refuses both
    before asking ``_default``); ``jsonable_array`` prepares arrays a model returns.

    Examples:
        >>> dumps({"predictions": np.array([0.5, np.nan])})
        b'{"predictions":[0.5,null]}'
    """
    return orjson.dumps(document, default=_default, option=_OPTIONS)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _array(value)
    if isinstance(value, bytes | bytearray):
        # MLflow's NumpyEncoder writes bytes as base64 text
        return base64.b64encode(value).decode("ascii")
    if _is_missing(value):
        return None
    for method in ("isoformat", "tolist"):  # dates; numpy scalars, pandas arrays and Series
        if hasattr(value, method):
            return getattr(value, method)()
    msg = f"cannot write a {type(value).__name__} as JSON"
    raise TypeError(msg)


def _array(value: np.ndarray[Any, Any]) -> Any:
    kind = value.dtype.kind
    if kind in "biuf" and value.dtype.isnative:
        return np.ascontiguousarray(value)  # orjson only writes C-contiguous arrays
    if kind == "m":  # tolist() would give integers
        return with_nulls(value.astype(str), np.isnat(value)).tolist()
    return value.tolist()  # orjson calls back here for what the list holds


def with_nulls(values: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return ``values`` as an object array with None where ``mask`` is true."""
    out = values.astype(object)
    out[mask] = None
    return out


def _is_missing(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    module = type(value).__module__
    return module.startswith("pandas") and type(value).__name__ in {"NaTType", "NAType"}


def jsonable_array(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return ``array`` in a form ``dumps`` writes: native byte order, NaT as null."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    if array.dtype.kind == "M" and np.isnat(array).any():
        return with_nulls(np.datetime_as_string(array), np.isnat(array))
    return array

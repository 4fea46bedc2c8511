"""dumps: valid JSON for whatever a model returns (NaN and infinities as null)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import orjson
import pandas as pd
import pytest

from conveyor.serving.payloads import dumps
from conveyor.serving.payloads.json_encoding import jsonable_array


def test_numpy_values_of_every_kind() -> None:
    document = {
        "strided": np.arange(6.0).reshape(2, 3)[:, ::2],
        "nan": np.array([np.nan, np.inf, 1.0], dtype=np.float32),
        "objects": np.array([b"\x00", "t", None, np.int8(1)], dtype=object),
        "text": np.array(["a", "b"]),
        "delta": np.array([1, "NaT"], dtype="timedelta64[s]"),
        "scalar": np.float32(0.5),
        0: 1,
    }
    assert orjson.loads(dumps(document)) == {
        "strided": [[0.0, 2.0], [3.0, 5.0]],
        "nan": [None, None, 1.0],
        "objects": ["AA==", "t", None, 1],
        "text": ["a", "b"],
        "delta": ["1 seconds", None],
        "scalar": 0.5,
        "0": 1,
    }


def test_pandas_and_python_values() -> None:
    document = [
        pd.Timestamp("2024-05-01T10:00"),
        pd.NaT,
        pd.NA,
        dt.date(2024, 5, 1),
        float("nan"),
        pd.Series([1, 2]),
        pd.array([1, None], dtype="Int64"),
    ]
    assert orjson.loads(dumps(document)) == [
        "2024-05-01T10:00:00",
        None,
        None,
        "2024-05-01",
        None,
        [1, 2],
        [1, None],
    ]


def test_unknown_objects_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        dumps(object())


def test_jsonable_array_fixes_byte_order_and_nat() -> None:
    swapped = np.array([1, 2], dtype=">i4")
    assert dumps(jsonable_array(swapped)) == b"[1,2]"
    dates = np.array(["2024-05-01", "NaT"], dtype="datetime64[D]")
    assert dumps(jsonable_array(dates)) == b'["2024-05-01",null]'
    native = np.arange(2)
    assert jsonable_array(native) is native

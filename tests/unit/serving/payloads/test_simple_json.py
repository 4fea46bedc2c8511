"""The simple ``/predict`` body: rows, records, or rows with named columns."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads import Records, Rows, decode_predict


def test_the_three_shapes() -> None:
    assert decode_predict(b'{"data": [[1, 2]]}') == Rows([[1, 2]], field="data")
    assert decode_predict(b'{"data": [{"a": 1}]}') == Records([{"a": 1}], field="data")
    assert decode_predict(b'{"columns": ["a"], "data": [[1]]}') == Rows([[1]], ["a"], field="data")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b"nope", "body", "not valid JSON"),
        (b"[[1, 2]]", "body", "JSON object with a data field"),
        (b'{"rows": [[1]]}', "body", "JSON object with a data field"),
        (b'{"data": [[1]], "extra": 1}', "extra", "unknown field 'extra'"),
        (b'{"data": {"a": [1]}}', "data", "one entry per row"),
        (b'{"data": [{"a": 1}, [2]]}', "data[1]", "must be a JSON object"),
        (b'{"columns": "a", "data": [[1]]}', "columns", "list of column names"),
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        decode_predict(body)
    assert caught.value.field == field

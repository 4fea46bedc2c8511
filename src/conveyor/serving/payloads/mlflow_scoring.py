"""Decode MLflow scoring requests (``POST /invocations``), as ``mlflow models serve`` takes them.

``application/json`` bodies are an object with exactly one of ``dataframe_split``
(``{"columns", "data", "index"}``), ``dataframe_records`` (a list of objects), ``instances``
(TF-serving rows) or ``inputs`` (TF-serving columns or tensors), and optionally ``params``;
``text/csv`` bodies are a table with a header row.

References:
    https://mlflow.org/docs/latest/deployment/deploy-model-locally/ (mlflow.pyfunc.scoring_server)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson

from conveyor.errors import InvalidArgumentError
from conveyor.serving.payloads.errors import UnsupportedMediaTypeError
from conveyor.serving.payloads.forms import Columns, Frame, Payload, Records, Rows

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"
CONTENT_TYPES = ("application/json", "text/csv")
_REQUIRED = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)


@dataclass(frozen=True, slots=True)
class ScoringRequest:
    """A decoded ``/invocations`` request: its data, and the ``params`` passed to ``predict``."""

    data: Payload
    params: dict[str, Any] | None = None


def decode_invocations(body: bytes, content_type: str | None) -> ScoringRequest:
    """Decode an ``/invocations`` body by its ``Content-Type``.

    Raises:
        UnsupportedMediaTypeError: the content type is not JSON or CSV in UTF-8 (415).
        InvalidArgumentError: the body is malformed, naming the field.
    """
    media_type = _media_type(content_type)
    if media_type == "text/csv":
        return ScoringRequest(decode_csv(body))
    return decode_json(body)


def _media_type(content_type: str | None) -> str:
    mime, *options = (part.strip() for part in (content_type or "").split(";"))
    mime = mime.lower()
    if mime not in CONTENT_TYPES:
        msg = (
            f"this endpoint takes Content-Type {' or '.join(CONTENT_TYPES)}, got "
            f"{content_type!r}; set the Content-Type header"
        )
        raise UnsupportedMediaTypeError(msg, field="Content-Type")
    for option in options:
        key, _, value = option.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            msg = f"unsupported Content-Type parameter {option!r}; only charset=utf-8 is accepted"
            raise UnsupportedMediaTypeError(msg, field="Content-Type")
    return mime


def decode_json(body: bytes) -> ScoringRequest:
    """Decode a JSON scoring body into its data form and ``params``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f"Ensure that input is a valid JSON formatted string. Error: {exc}"
        raise InvalidArgumentError(msg, field="body") from None
    if not isinstance(document, dict):
        got = "a list" if isinstance(document, list) else f"a {type(document).__name__}"
        msg = f"{_REQUIRED}. Received {got}."
        raise InvalidArgumentError(msg, field="body")
    keys = [k for k in document if k != PARAMS]
    if len(keys) != 1 or keys[0] not in FORMATS:
        unknown = [k for k in keys if k not in FORMATS]
        msg = (
            f"{_REQUIRED} (and optionally 'params'). Received dictionary with input fields: {keys}."
        )
        raise InvalidArgumentError(msg, field=unknown[0] if unknown else "body")
    name = keys[0]
    return ScoringRequest(_FORMAT_DECODERS[name](document[name]), _params(document.get(PARAMS)))


def decode_csv(body: bytes) -> Frame:
    """Parse a CSV body (with a header row) into a DataFrame."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body), encoding="utf-8")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = (
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV "
            f"with a header row, as DataFrame.to_csv(index=False) writes. Error: {exc}"
        )
        raise InvalidArgumentError(msg, field="body") from None
    return Frame(frame, field="body")


def _params(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    msg = f"'params' must be a JSON object of parameter names to values, got {type(value).__name__}"
    raise InvalidArgumentError(msg, field=PARAMS)


def _split(value: Any) -> Rows:
    field = "dataframe_split"
    if not isinstance(value, dict):
        msg = f"Dataframe split format must be a dictionary. Got {_type_name(value)}."
        raise InvalidArgumentError(msg, field=field)
    extra = set(value) - {"columns", "data", "index"}
    if "data" not in value or extra:
        msg = (
            "Dataframe split format must have 'data' field and optionally 'columns' and "
            f"'index' fields. Got {sorted(value)}."
        )
        raise InvalidArgumentError(msg, field=field)
    data = _list(value["data"], f"{field}.data")
    columns = value.get("columns")
    if columns is not None:
        columns = column_names(columns, f"{field}.columns")
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        msg = f"{field}.index must be a list with one label per row of data ({len(data)})"
        raise InvalidArgumentError(msg, field=f"{field}.index")
    return Rows(data, columns, index, field=f"{field}.data")


def _records(value: Any) -> Records:
    return records(value, "dataframe_records")


def _rows_or_columns(name: str) -> Any:
    def decode(value: Any) -> Payload:
        if isinstance(value, dict):
            return Columns(value, field=name)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return records(value, name)
        return Rows(_list(value, name), field=name)

    return decode


def records(value: Any, field: str) -> Records:
    """Check that ``value`` is a list of JSON objects (one per row)."""
    if not isinstance(value, list):
        msg = f"{field} must be a list of records (JSON objects). Got {_type_name(value)}."
        raise InvalidArgumentError(msg, field=field)
    for i, record in enumerate(value):
        if not isinstance(record, dict):
            msg = f"{field}[{i}] must be a JSON object mapping column names to values"
            raise InvalidArgumentError(msg, field=f"{field}[{i}]")
    return Records(value, field=field)


def column_names(value: Any, field: str) -> list[str]:
    """Check that ``value`` is a list of distinct column names; integer names become strings.

    (``DataFrame.to_dict(orient="split")`` writes integers for a frame without names, and a
    signature names such columns ``"0"``, ``"1"``, ...)
    """
    if not isinstance(value, list) or not all(type(c) in (str, int) for c in value):
        msg = f"{field} must be a list of column names (strings)"
        raise InvalidArgumentError(msg, field=field)
    names = [c if type(c) is str else str(c) for c in value]
    if len(set(names)) != len(names):
        twice = next(c for c in names if names.count(c) > 1)
        msg = f"{field} names column {twice!r} more than once; column names must be unique"
        raise InvalidArgumentError(msg, field=field)
    return names


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        msg = f"{field} must be a list of rows, got {_type_name(value)}"
        raise InvalidArgumentError(msg, field=field)
    return value


def _type_name(value: Any) -> str:
    if isinstance(value, dict | list | str):
        return {dict: "dictionary", list: "list"}.get(type(value), "string")
    return f"type {type(value).__name__}"


_FORMAT_DECODERS = {
    "dataframe_split": _split,
    "dataframe_records": _records,
    "instances": _rows_or_columns("instances"),
    "inputs": _rows_or_columns("inputs"),
}

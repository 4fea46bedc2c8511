"""MLflow's JSON shapes: read request fields, render entities as protobuf JSON.

Requests arrive as JSON bodies (POST) or query strings (GET); :class:`Fields` reads either
with protobuf's rules (int64 as a number or a numeric string, doubles also as ``"NaN"`` and
``"Infinity"``) and turns every bad value into ``INVALID_PARAMETER_VALUE`` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, overload

import orjson
from fastapi import Request
from fastapi.responses import Response

from conveyor.errors import InvalidArgumentError
from conveyor.tracking import Experiment, Metric, Run, RunInfo, ViewType

JSONDict = dict[str, Any]

_VIEW_TYPES = {"1": ViewType.ACTIVE_ONLY, "2": ViewType.DELETED_ONLY, "3": ViewType.ALL}
_RUN_STATUSES = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _bad(name: str, expected: str, value: object) -> InvalidArgumentError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return InvalidArgumentError(
        f"Invalid value {shown} for parameter '{name}': expected {expected}", field=name
    )


def _missing(name: str) -> InvalidArgumentError:
    msg = (
        f"Missing value for required parameter '{name}'. "
        "See the API docs for more information about request parameters."
    )
    return InvalidArgumentError(msg, field=name)


class Fields:
    """Typed access to the fields of one MLflow request message."""

    _query = False  # query strings hold every value as a list; single fields take the first

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def _get(self, name: str) -> Any:
        value = self._data.get(name)
        if isinstance(value, list) and self._query:
            return value[0] if value else None
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        """Return a string field, ``default`` when absent."""
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise _bad(name, "a string", value)
        return value

    def required(self, name: str) -> str:
        """Return a string field that must be present and non-empty."""
        value = self.text(name)
        if not value:
            raise _missing(name)
        return value

    @overload
    def integer(self, name: str, default: int) -> int: ...
    @overload
    def integer(self, name: str, default: None = None) -> int | None: ...
    def integer(self, name: str, default: int | None = None) -> int | None:
        """Return an int64 field (a JSON number or a numeric string)."""
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(name, "an integer", value)
        text = str(value).strip()
        try:
            number = float(text) if isinstance(value, float) else int(text)
        except ValueError:
            raise _bad(name, "an integer", value) from None
        if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
            raise _bad(name, "an integer", value)
        if not -(2**63) <= int(number) < 2**63:
            raise _bad(name, "a 64-bit integer", value)
        return int(number)

    def required_integer(self, name: str) -> int:
        """Return an int64 field that must be present."""
        value = self.integer(name)
        if value is None:
            raise _missing(name)
        return value

    def number(self, name: str) -> float:
        """Return a required double field (also ``"NaN"``, ``"Infinity"``, ``"-Infinity"``)."""
        value = self._get(name)
        if value is None:
            raise _missing(name)
        if isinstance(value, str) and value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _bad(name, "a number", value)
        try:
            return float(value)
        except ValueError:
            raise _bad(name, "a number", value) from None

    def texts(self, name: str) -> list[str]:
        """Return a repeated string field (a single string counts as one item)."""
        value = self._data.get(name)
        if value is None:
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _bad(name, "a list of strings", value)
        return items

    def messages(self, name: str) -> list[Fields]:
        """Return a repeated message field as a list of ``Fields``."""
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            raise _bad(name, "a list of objects", value)
        return [Fields(item) for item in value]

    def run_id(self) -> str:
        """Return ``run_id`` (or its deprecated alias ``run_uuid``)."""
        run_id, run_uuid = self.text("run_id"), self.text("run_uuid")
        if run_id and run_uuid and run_id != run_uuid:
            msg = f"run_id {run_id!r} and run_uuid {run_uuid!r} differ; send one of them"
            raise InvalidArgumentError(msg, field="run_id")
        return run_id or run_uuid or self.required("run_id")

    def view_type(self, name: str) -> ViewType:
        """Return a ``ViewType`` enum field (by name or number), ACTIVE_ONLY when absent."""
        value = self._get(name)
        if value is None:
            return ViewType.ACTIVE_ONLY
        found = _VIEW_TYPES.get(str(value)) if isinstance(value, int | str) else None
        if found is None and isinstance(value, str) and value in ViewType.__members__:
            found = ViewType(value)
        if found is None or isinstance(value, bool):
            raise _bad(name, "one of ACTIVE_ONLY, DELETED_ONLY, ALL", value)
        return found

    def run_status(self, name: str) -> str | None:
        """Return a ``RunStatus`` enum field by name (numbers are mapped to names)."""
        value = self._get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return _RUN_STATUSES.get(str(value), str(value))
        return self.text(name)

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """Return a repeated ``{key, value}`` field (tags, params) as pairs."""
        return [(m.required("key"), m.text("value", "") or "") for m in self.messages(name)]


class _QueryFields(Fields):
    _query = True


async def request_fields(request: Request) -> Fields:
    """Read the request's message: the query string for GET, else the JSON body."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            data.setdefault(key, []).append(value)
        return _QueryFields(data)
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        msg = f"the request body is not valid JSON: {exc}"
        raise InvalidArgumentError(msg, field="body") from None
    if not isinstance(body, dict):
        msg = f"the request body must be a JSON object, got {type(body).__name__}"
        raise InvalidArgumentError(msg, field="body")
    return Fields(body)


def reply(payload: JSONDict | None = None) -> Response:
    """Return an MLflow response (``{}`` for the messages without fields)."""
    return Response(orjson.dumps(payload or {}), media_type="application/json")


def double(value: float) -> float | str:
    """Render a double as protobuf JSON does: NaN and infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def key_values(items: Mapping[str, str]) -> list[JSONDict]:
    """Render a mapping as MLflow's repeated ``{key, value}`` messages."""
    return [{"key": k, "value": v} for k, v in items.items()]


def experiment_json(experiment: Experiment) -> JSONDict:
    """Render an experiment."""
    return {
        "experiment_id": experiment.experiment_id,
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage.value,
        "last_update_time": experiment.last_update_time,
        "creation_time": experiment.creation_time,
        "tags": key_values(experiment.tags),
    }


def metric_json(metric: Metric, run_id: str | None = None) -> JSONDict:
    """Render one metric point (with its run for the bulk history)."""
    out: JSONDict = {
        "key": metric.key,
        "value": double(metric.value),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    if run_id is not None:
        out["run_id"] = run_id
    return out


def run_info_json(info: RunInfo) -> JSONDict:
    """Render a run's attributes."""
    out: JSONDict = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status.value,
        "start_time": info.start_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage.value,
    }
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def run_json(run: Run) -> JSONDict:
    """Render a run with its latest metrics, params and tags."""
    return {
        "info": run_info_json(run.info),
        "data": {
            "metrics": [metric_json(m) for m in run.metrics.values()],
            "params": key_values(run.params),
            "tags": key_values(run.tags),
        },
        "inputs": {},
    }

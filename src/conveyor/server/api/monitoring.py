"""``/api/v1`` monitoring routes: monitors, traffic, delayed labels, evaluation, alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from conveyor.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from conveyor.monitoring.service import Monitors

DEFAULT_WINDOW_S = 3600  # conveyor.monitoring.service.DEFAULT_WINDOW_S, without importing it

router = APIRouter(tags=["monitoring"])

MAX_ROWS_PER_REQUEST = 100_000
ColumnValue = float | int | str | bool | None


def get_monitors(request: Request) -> Any:
    """Return the server's monitor service (sync: its first use imports pandas and SciPy)."""
    from conveyor.server.app import monitors_of

    monitors: Monitors = monitors_of(request.app)
    return monitors


if TYPE_CHECKING:
    MonitorsDep = Annotated[Monitors, Depends(get_monitors)]
else:  # at runtime FastAPI reads this annotation: Any keeps pandas unloaded until first use
    MonitorsDep = Annotated[Any, Depends(get_monitors)]


def _frame(columns: dict[str, list[ColumnValue]], field: str) -> Any:
    if not columns:
        msg = f"{field} has no columns; send {{'column': [values, ...], ...}}"
        raise InvalidArgumentError(msg, field=field)
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        msg = f"{field}: every column needs the same number of values; got {lengths}"
        raise InvalidArgumentError(msg, field=field)
    if next(iter(lengths.values())) > MAX_ROWS_PER_REQUEST:
        msg = f"{field}: at most {MAX_ROWS_PER_REQUEST} rows per request; split the batch"
        raise InvalidArgumentError(msg, field=field)
    import pandas as pd

    return pd.DataFrame(columns)


class MonitorCreate(BaseModel):
    """Body of ``POST /monitors``: the reference as columns of values."""

    name: str
    reference: dict[str, list[ColumnValue]]
    deployment: str | None = None
    window_s: int = Field(default=DEFAULT_WINDOW_S, ge=1)
    rules: list[str] = Field(default_factory=list)
    notifiers: list[dict[str, Any]] = Field(default_factory=list)
    prediction: str | None = None
    target: str | None = None
    task: str | None = None
    probability: str | None = None
    categorical: list[str] | None = None


class MonitorData(BaseModel):
    """Body of ``POST /monitors/{name}/data``: one batch of inputs (and predictions)."""

    columns: dict[str, list[ColumnValue]]
    request_ids: list[str] | None = None
    at_ms: int | None = None
    source: str = Field(default="api", min_length=1, max_length=100)


class Labels(BaseModel):
    """Body of ``POST .../labels``: delayed labels for logged request ids."""

    request_ids: list[str] = Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST)
    labels: list[float | int | str]


class EvaluateBody(BaseModel):
    """Body of ``POST /monitors/{name}/evaluate``."""

    until_ms: int | None = None


@router.post("/monitors", status_code=201)
def create_monitor(body: MonitorCreate, monitors: MonitorsDep) -> dict[str, Any]:
    """Create a monitor from a reference data set (409 if the name is taken)."""
    reference = _frame(body.reference, "reference")
    return monitors.create(
        body.name,
        reference,
        deployment=body.deployment,
        window_s=body.window_s,
        rules=body.rules,
        notifiers=body.notifiers,
        prediction=body.prediction,
        target=body.target,
        task=body.task,
        probability=body.probability,
        categorical=body.categorical,
    ).to_dict()


@router.get("/monitors")
def list_monitors(monitors: MonitorsDep, deployment: str | None = None) -> dict[str, Any]:
    """List monitors (of one deployment)."""
    return {"monitors": [m.to_dict() for m in monitors.list_monitors(deployment=deployment)]}


@router.get("/monitors/{name}")
def get_monitor(name: str, monitors: MonitorsDep) -> dict[str, Any]:
    """Return one monitor with its alert states."""
    return {**monitors.get(name).to_dict(), "alerts": monitors.alert_statuses(name)}


@router.delete("/monitors/{name}", status_code=204)
def delete_monitor(name: str, monitors: MonitorsDep) -> None:
    """Delete a monitor and everything it recorded."""
    monitors.delete(name)


@router.post("/monitors/{name}/data")
def log_data(name: str, body: MonitorData, monitors: MonitorsDep) -> dict[str, Any]:
    """Fold one batch into the current window."""
    frame = _frame(body.columns, "columns")
    start = monitors.log(
        name, frame, at_ms=body.at_ms, request_ids=body.request_ids, source=body.source
    )
    return {"window_start_ms": start, "rows": len(frame)}


@router.post("/monitors/{name}/labels")
def log_labels(name: str, body: Labels, monitors: MonitorsDep) -> dict[str, int]:
    """Join delayed labels to logged predictions."""
    return monitors.log_labels(name, body.request_ids, body.labels)


@router.post("/deployments/{deployment}/labels")
def log_deployment_labels(deployment: str, body: Labels, monitors: MonitorsDep) -> dict[str, int]:
    """Join delayed labels to the predictions logged by every monitor of a deployment."""
    found = monitors.list_monitors(deployment=deployment)
    if not found:
        msg = f"no monitor watches deployment {deployment!r}; create one with --deployment"
        raise NotFoundError(msg, field="deployment")
    # Each monitor of the deployment logged the same requests: a label matches in any of them.
    matched = max(
        monitors.log_labels(m.name, body.request_ids, body.labels)["matched"] for m in found
    )
    return {"matched": matched, "unknown": len(body.request_ids) - matched}


@router.post("/monitors/{name}/evaluate")
def evaluate(
    name: str,
    monitors: MonitorsDep,
    # not ``EvaluateBody | None``: FastAPI then makes pydantic warn about the body's alias
    body: Annotated[EvaluateBody, Body(default_factory=EvaluateBody)],
) -> dict[str, Any]:
    """Evaluate every window closed since the last evaluation."""
    return monitors.evaluate(name, until_ms=body.until_ms).to_dict()


@router.get("/monitors/{name}/values")
def values(
    name: str,
    monitors: MonitorsDep,
    signal: str | None = None,
    since_ms: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> dict[str, Any]:
    """Return stored signal values in time order."""
    return {"values": monitors.values(name, signal=signal, since_ms=since_ms, limit=limit)}


@router.get("/monitors/{name}/alerts")
def alerts(name: str, monitors: MonitorsDep) -> dict[str, Any]:
    """Return the state of every alert series."""
    return {"alerts": monitors.alert_statuses(name)}


class SilenceCreate(BaseModel):
    """Body of ``POST /monitors/{name}/silences``."""

    duration_s: int = Field(ge=1)
    rule: str = "*"
    label: str = "*"
    comment: str = ""
    starts_at: int | None = None


@router.post("/monitors/{name}/silences", status_code=201)
def add_silence(name: str, body: SilenceCreate, monitors: MonitorsDep) -> dict[str, Any]:
    """Silence notifications of matching alerts (globs over rule and label) for a while."""
    return monitors.silence(
        name,
        duration_s=body.duration_s,
        rule=body.rule,
        label=body.label,
        comment=body.comment,
        starts_at=body.starts_at,
    ).to_dict()


@router.get("/monitors/{name}/silences")
def list_silences(name: str, monitors: MonitorsDep) -> dict[str, Any]:
    """Return the monitor's silences."""
    return {"silences": [s.to_dict() for s in monitors.silences(name)]}


@router.delete("/monitors/{name}/silences/{silence_id}", status_code=204)
def remove_silence(name: str, silence_id: str, monitors: MonitorsDep) -> None:
    """Remove a silence."""
    monitors.unsilence(name, silence_id)

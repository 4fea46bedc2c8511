"""MLflow ``runs/*`` and ``metrics/*`` routes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from conveyor.errors import InvalidArgumentError, LimitExceededError
from conveyor.server.deps import ClientDep
from conveyor.server.mlflow_compat.convert import (
    Fields,
    metric_json,
    reply,
    request_fields,
    run_info_json,
    run_json,
)
from conveyor.server.project_scope import visible_experiment_ids
from conveyor.tracking import LocalClient, Metric

router = APIRouter()
FieldsDep = Annotated[Fields, Depends(request_fields)]

# MLflow's log-batch limits, so that a batch MLflow accepts is accepted here and vice versa.
MAX_BATCH_METRICS = 1000
MAX_BATCH_PARAMS_TAGS = 100
MAX_BATCH_ENTITIES = 1000
# MLflow's limits for metrics/get-history-bulk-interval.
MAX_BULK_RUNS = 100
MAX_BULK_RESULTS_PER_RUN = 2500


def _check_batch_size(metrics: int, params: int, tags: int) -> None:
    for count, limit, what in (
        (metrics, MAX_BATCH_METRICS, "metrics"),
        (params, MAX_BATCH_PARAMS_TAGS, "params"),
        (tags, MAX_BATCH_PARAMS_TAGS, "tags"),
        (metrics + params + tags, MAX_BATCH_ENTITIES, "metrics, params and tags in total"),
    ):
        if count > limit:
            msg = (
                f"A batch logging request can contain at most {limit} {what}. Got {count} "
                f"{what}. Please split up {what} across multiple requests and try again."
            )
            raise LimitExceededError(msg, field=what.split(",")[0])


def _unique_params(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    dupes = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if dupes:
        msg = (
            f"Duplicate parameter keys have been submitted: {dupes}. Please ensure the request "
            "contains only one param value per param key."
        )
        raise InvalidArgumentError(msg, field="params")
    return dict(pairs)


def _metric_points(fields: Fields) -> list[tuple[str, float, int, int]]:
    return [
        (
            m.required("key"),
            m.number("value"),
            m.required_integer("timestamp"),
            m.integer("step", 0),
        )
        for m in fields.messages("metrics")
    ]


@router.post("/runs/create")
def create_run(fields: FieldsDep, client: ClientDep) -> Response:
    """Start a run."""
    run = client.workspace.runs.create(
        fields.required("experiment_id"),
        run_name=fields.text("run_name") or None,
        start_time=fields.integer("start_time"),
        tags=dict(fields.pairs("tags")),
        user_id=fields.text("user_id") or None,
    )
    return reply({"run": run_json(run)})


@router.get("/runs/get")
def get_run(fields: FieldsDep, client: ClientDep) -> Response:
    """Return a run with its latest metrics, params and tags."""
    return reply({"run": run_json(client.get_run(fields.run_id()))})


@router.post("/runs/update")
def update_run(fields: FieldsDep, client: ClientDep) -> Response:
    """Change a run's status, end time or name."""
    info = client.update_run(
        fields.run_id(),
        status=fields.run_status("status"),
        end_time=fields.integer("end_time"),
        run_name=fields.text("run_name") or None,
    )
    return reply({"run_info": run_info_json(info)})


@router.post("/runs/delete")
def delete_run(fields: FieldsDep, client: ClientDep) -> Response:
    """Move a run to the trash."""
    client.delete_run(fields.run_id())
    return reply()


@router.post("/runs/restore")
def restore_run(fields: FieldsDep, client: ClientDep) -> Response:
    """Bring a run back from the trash."""
    client.restore_run(fields.run_id())
    return reply()


@router.post("/runs/search")
def search_runs(fields: FieldsDep, client: ClientDep, request: Request) -> Response:
    """Return one page of runs matching an MLflow filter, in ``order_by`` order."""
    requested = fields.texts("experiment_ids")
    experiment_ids = visible_experiment_ids(request, requested)
    if requested and not experiment_ids:
        return reply({"runs": []})
    page = client.search_runs(
        experiment_ids,
        filter_string=fields.text("filter"),
        view_type=fields.view_type("run_view_type"),
        max_results=fields.integer("max_results", 1000),
        order_by=fields.texts("order_by"),
        page_token=fields.text("page_token") or None,
    )
    payload: dict[str, Any] = {"runs": [run_json(r) for r in page.runs]}
    if page.next_page_token:
        payload["next_page_token"] = page.next_page_token
    return reply(payload)


@router.post("/runs/log-metric")
def log_metric(fields: FieldsDep, client: ClientDep) -> Response:
    """Log one metric point."""
    point = (
        fields.required("key"),
        fields.number("value"),
        fields.required_integer("timestamp"),
        fields.integer("step", 0),
    )
    client.log_batch(fields.run_id(), metrics=[point])
    return reply()


@router.post("/runs/log-parameter")
def log_param(fields: FieldsDep, client: ClientDep) -> Response:
    """Log one param (params are immutable: a different value is an error)."""
    client.log_param(fields.run_id(), fields.required("key"), fields.text("value", "") or "")
    return reply()


@router.post("/runs/set-tag")
def set_tag(fields: FieldsDep, client: ClientDep) -> Response:
    """Set one tag."""
    client.set_tag(fields.run_id(), fields.required("key"), fields.text("value", "") or "")
    return reply()


@router.post("/runs/delete-tag")
def delete_tag(fields: FieldsDep, client: ClientDep) -> Response:
    """Remove one tag."""
    client.delete_tag(fields.run_id(), fields.required("key"))
    return reply()


@router.post("/runs/log-batch")
def log_batch(fields: FieldsDep, client: ClientDep) -> Response:
    """Log metrics, params and tags in one transaction, within MLflow's batch limits."""
    run_id = fields.run_id()
    metrics = _metric_points(fields)
    params, tags = fields.pairs("params"), fields.pairs("tags")
    _check_batch_size(len(metrics), len(params), len(tags))
    client.log_batch(run_id, metrics=metrics, params=_unique_params(params), tags=dict(tags))
    return reply()


@router.post("/runs/log-inputs")
def log_inputs(fields: FieldsDep, client: ClientDep) -> Response:
    """Accept dataset and model inputs; they are not stored yet (datasets come later)."""
    client.workspace.runs.get_info(fields.run_id())
    fields.messages("datasets")
    fields.messages("models")
    return reply()


@router.get("/metrics/get-history")
def get_metric_history(fields: FieldsDep, client: ClientDep) -> Response:
    """Return a metric's points by step: all of them, or a page when ``max_results`` is set."""
    run_id, key = fields.run_id(), fields.required("metric_key")
    max_results, token = fields.integer("max_results"), fields.text("page_token") or None
    if max_results is None and token is None:
        points, next_token = client.get_metric_history(run_id, key), None
    else:
        points, next_token = client.workspace.runs.metric_history(
            run_id, key, max_results=max_results or 25_000, page_token=token
        )
    payload: dict[str, Any] = {"metrics": [metric_json(p) for p in points]}
    if next_token:
        payload["next_page_token"] = next_token
    return reply(payload)


def _step_range(fields: Fields) -> tuple[int, int] | None:
    start, end = fields.integer("start_step"), fields.integer("end_step")
    if start is None and end is None:
        return None
    if start is None or end is None:
        msg = "If either start step or end step are specified, both must be specified."
        raise InvalidArgumentError(msg, field="start_step" if start is None else "end_step")
    if start > end:
        msg = (
            "end_step must be greater than start_step. "
            f"Found start_step={start} and end_step={end}."
        )
        raise InvalidArgumentError(msg, field="end_step")
    return start, end


def _sampled(
    client: LocalClient, run_id: str, key: str, steps: tuple[int, int] | None, limit: int
) -> list[Metric]:
    points = client.get_metric_history(run_id, key)
    if steps is not None:
        points = [p for p in points if steps[0] <= p.step <= steps[1]]
    distinct = sorted({p.step for p in points})
    if len(distinct) > limit:
        last = len(distinct) - 1
        keep = {distinct[round(i * last / max(limit - 1, 1))] for i in range(limit)}
        points = [p for p in points if p.step in keep]
    return points


@router.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(fields: FieldsDep, client: ClientDep) -> Response:
    """Return up to ``max_results`` evenly spaced steps of one metric for several runs."""
    run_ids = fields.texts("run_ids") or [fields.required("run_ids")]
    if len(run_ids) > MAX_BULK_RUNS:
        msg = f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids."
        raise InvalidArgumentError(msg, field="run_ids")
    key, steps = fields.required("metric_key"), _step_range(fields)
    limit = fields.integer("max_results", MAX_BULK_RESULTS_PER_RUN)
    if not 1 <= limit <= MAX_BULK_RESULTS_PER_RUN:
        msg = f"max_results must be between 1 and {MAX_BULK_RESULTS_PER_RUN}."
        raise InvalidArgumentError(msg, field="max_results")
    metrics = [
        metric_json(point, run_id)
        for run_id in run_ids
        for point in _sampled(client, run_id, key, steps, limit)
    ]
    return reply({"metrics": metrics})

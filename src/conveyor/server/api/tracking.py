"""``/api/v1`` tracking routes: thin wrappers over the workspace client."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from conveyor.errors import NotFoundError
from conveyor.server.deps import ClientDep
from conveyor.server.project_scope import (
    create_in_project,
    require_experiment,
    visible_experiment_ids,
)
from conveyor.tracking import (
    Experiment,
    FileInfo,
    LocalClient,
    Metric,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
    ViewType,
)
from conveyor.tracking.entities import MetricPage
from conveyor.tracking.limits import MAX_BATCH_METRICS

router = APIRouter(tags=["tracking"])


class ExperimentCreate(BaseModel):
    """Body of ``POST /experiments``."""

    name: str
    tags: dict[str, str] = Field(default_factory=dict)
    project: str | None = Field(default=None, max_length=100)


class ExperimentUpdate(BaseModel):
    """Body of ``PATCH /experiments/{id}``."""

    name: str


class ExperimentList(BaseModel):
    """A list of experiments."""

    experiments: list[Experiment]


class RunCreate(BaseModel):
    """Body of ``POST /runs``."""

    experiment_id: str
    run_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    start_time: int | None = None


class RunUpdate(BaseModel):
    """Body of ``PATCH /runs/{run_id}``."""

    status: RunStatus | None = None
    end_time: int | None = None
    run_name: str | None = None


class Batch(BaseModel):
    """Body of ``POST /runs/{run_id}/batch``: points as ``[key, value, timestamp_ms, step]``."""

    metrics: list[tuple[str, float, int, int]] = Field(
        default_factory=list, max_length=MAX_BATCH_METRICS
    )
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    batch_id: str | None = Field(default=None, max_length=64)


class BatchResult(BaseModel):
    """Whether a batch was stored (False: a replay of a batch already stored)."""

    stored: bool


class RunSearch(BaseModel):
    """Body of ``POST /runs/search``."""

    experiment_ids: list[str]
    filter: str | None = None
    view_type: ViewType = ViewType.ACTIVE_ONLY
    max_results: int = 1000
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class FileList(BaseModel):
    """A directory listing of a run's artifacts."""

    files: list[FileInfo]


@router.post("/experiments", status_code=201)
def create_experiment(body: ExperimentCreate, client: ClientDep, request: Request) -> Experiment:
    """Create an experiment, in ``project`` when given (409 if the name is taken)."""
    return create_in_project(request, client, body.name, body.tags, body.project)


@router.get("/experiments")
def list_experiments(
    client: ClientDep,
    request: Request,
    view_type: ViewType = ViewType.ACTIVE_ONLY,
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
) -> ExperimentList:
    """List experiments (of your projects, with auth), newest first."""
    found = client.list_experiments(view_type=view_type, max_results=max_results)
    visible = set(visible_experiment_ids(request, [e.experiment_id for e in found]))
    return ExperimentList(experiments=[e for e in found if e.experiment_id in visible])


@router.get("/experiments/by-name/{name}")
def get_experiment_by_name(name: str, client: ClientDep) -> Experiment:
    """Return the experiment named ``name``."""
    found = client.get_experiment_by_name(name)
    if found is None:
        msg = f"no experiment named {name!r}; see GET /api/v1/experiments"
        raise NotFoundError(msg, field="name")
    return found


@router.get("/experiments/{experiment_id}")
def get_experiment(experiment_id: str, client: ClientDep) -> Experiment:
    """Return one experiment."""
    return client.get_experiment(experiment_id)


@router.patch("/experiments/{experiment_id}")
def rename_experiment(experiment_id: str, body: ExperimentUpdate, client: ClientDep) -> Experiment:
    """Rename an experiment."""
    client.workspace.experiments.rename(experiment_id, body.name)
    return client.get_experiment(experiment_id)


@router.post("/experiments/{experiment_id}/delete", status_code=204)
def delete_experiment(experiment_id: str, client: ClientDep) -> None:
    """Move an experiment to the trash."""
    client.delete_experiment(experiment_id)


@router.post("/experiments/{experiment_id}/restore", status_code=204)
def restore_experiment(experiment_id: str, client: ClientDep) -> None:
    """Bring an experiment back."""
    client.restore_experiment(experiment_id)


@router.post("/runs", status_code=201)
def create_run(body: RunCreate, client: ClientDep, request: Request) -> Run:
    """Start a run."""
    require_experiment(request, body.experiment_id, "editor")
    return client.create_run(
        body.experiment_id, run_name=body.run_name, tags=body.tags, start_time=body.start_time
    )


@router.post("/runs/search")
def search_runs(body: RunSearch, client: ClientDep, request: Request) -> RunPage:
    """Search runs with MLflow's filter grammar; page with ``next_page_token``."""
    experiment_ids = visible_experiment_ids(request, body.experiment_ids)
    if body.experiment_ids and not experiment_ids:
        return RunPage(runs=[], next_page_token=None)
    return client.search_runs(
        experiment_ids,
        filter_string=body.filter,
        view_type=body.view_type,
        max_results=body.max_results,
        order_by=body.order_by,
        page_token=body.page_token,
    )


@router.get("/runs/{run_id}")
def get_run(run_id: str, client: ClientDep) -> Run:
    """Return a run with params, tags and latest metrics."""
    return client.get_run(run_id)


@router.patch("/runs/{run_id}")
def update_run(run_id: str, body: RunUpdate, client: ClientDep) -> RunInfo:
    """Change a run's status, end time or name."""
    return client.update_run(
        run_id, status=body.status, end_time=body.end_time, run_name=body.run_name
    )


@router.post("/runs/{run_id}/delete", status_code=204)
def delete_run(run_id: str, client: ClientDep) -> None:
    """Move a run to the trash."""
    client.delete_run(run_id)


@router.post("/runs/{run_id}/restore", status_code=204)
def restore_run(run_id: str, client: ClientDep) -> None:
    """Bring a run back."""
    client.restore_run(run_id)


@router.post("/runs/{run_id}/batch")
def log_batch(run_id: str, body: Batch, client: ClientDep) -> BatchResult:
    """Log metric points, params and tags in one transaction (idempotent per ``batch_id``)."""
    stored = client.log_batch(
        run_id, metrics=body.metrics, params=body.params, tags=body.tags, batch_id=body.batch_id
    )
    return BatchResult(stored=stored)


@router.delete("/runs/{run_id}/tags/{key:path}", status_code=204)
def delete_tag(run_id: str, key: str, client: ClientDep) -> None:
    """Remove a tag."""
    client.delete_tag(run_id, key)


@router.get("/runs/{run_id}/metrics/{key:path}")
def metric_history(
    run_id: str,
    key: str,
    client: ClientDep,
    max_results: Annotated[int, Query(ge=1, le=1_000_000)] = 25_000,
    page_token: str | None = None,
) -> MetricPage:
    """Return one page of a metric's points, by step."""
    points, token = client.workspace.runs.metric_history(
        run_id, key, max_results=max_results, page_token=page_token
    )
    return MetricPage(metrics=points, next_page_token=token)


@router.get("/runs/{run_id}/artifacts")
def list_artifacts(run_id: str, client: ClientDep, path: str = "") -> FileList:
    """List one directory of a run's artifacts."""
    return FileList(files=client.list_artifacts(run_id, path))


@router.put("/runs/{run_id}/artifacts/{path:path}", status_code=201)
async def upload_artifact(run_id: str, path: str, request: Request) -> FileInfo:
    """Upload one artifact file (the body is streamed into the blob store)."""
    client: LocalClient = request.app.state.client
    root_path = await run_in_threadpool(client.artifact_root, run_id)
    data = await _read_to_spool(request)
    with data:
        # Hashing and writing the blob blocks; keep it off the event loop.
        info = await run_in_threadpool(client.workspace.artifacts.put, f"{root_path}/{path}", data)
    return info.model_copy(update={"path": info.path[len(root_path) + 1 :]})


@router.get("/runs/{run_id}/artifacts/{path:path}")
def download_artifact(run_id: str, path: str, client: ClientDep) -> Response:
    """Stream one artifact file."""
    handle = client.open_artifact(run_id, path)
    return StreamingResponse(_iter_file(handle), media_type="application/octet-stream")


def _iter_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk


async def _read_to_spool(request: Request) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by caller
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return cast("BinaryIO", spool)


__all__ = ["Metric", "router"]

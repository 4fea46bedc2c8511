"""Project scoping of the MLflow tracking API (auth on): the runs and experiment named."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from conveyor.errors import ConveyorError
from conveyor.server.auth import needed_role
from conveyor.server.mlflow_compat.convert import Fields, request_fields
from conveyor.server.project_scope import (
    authorize_experiment,
    authorize_experiment_name,
    authorize_run,
)

PROJECT_TAG = "conveyor.project"  # the experiment tag that names its project on create


def _field_texts(fields: Fields, name: str) -> list[str]:
    try:
        return fields.texts(name)
    except ConveyorError:
        return []  # malformed: the route answers 400


def _field_text(fields: Fields, name: str) -> str | None:
    try:
        return fields.text(name)
    except ConveyorError:
        return None


async def scope_mlflow_tracking(
    request: Request, fields: Annotated[Fields, Depends(request_fields)]
) -> None:
    """Router dependency of the MLflow tracking API: check the runs and experiment named."""
    role = needed_role(request.method, request.url.path)
    run_ids = [r for r in (_field_text(fields, "run_id"), _field_text(fields, "run_uuid")) if r]
    for run_id in run_ids + _field_texts(fields, "run_ids"):
        await authorize_run(request, run_id, role)
    experiment_id = _field_text(fields, "experiment_id")
    if experiment_id:
        await authorize_experiment(request, experiment_id, role)
    name = _field_text(fields, "experiment_name")
    if name:
        await authorize_experiment_name(request, name, role)


__all__ = ["PROJECT_TAG", "scope_mlflow_tracking"]

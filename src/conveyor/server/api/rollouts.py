"""``/api/v1`` rollout routes: start, list, show and abort a deployment's progressive rollouts.

A rollout belongs to its deployment's project: reading needs ``viewer``, starting or aborting
one ``editor``; callers who cannot see the project get 404. The server's rollout controller
(``conveyor.serving.controller``) advances them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from conveyor.errors import NotFoundError
from conveyor.governance.roles import Role
from conveyor.server.auth import actor_of, auth_enabled, principal, require, visible_projects
from conveyor.serving.rollout_record import DEFAULT_INTERVAL_S, DEFAULT_STEPS, Rollout
from conveyor.serving.rollouts import Rollouts

router = APIRouter(tags=["rollouts"])

RolloutId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _service(request: Request) -> Rollouts:
    state = request.app.state
    service = getattr(state, "rollouts_service", None)
    if service is None:
        service = Rollouts(state.client.workspace.engine)
        state.rollouts_service = service
    return service


def _authorize(request: Request, name: str, role: Role) -> Rollouts:
    service = _service(request)
    if not auth_enabled(request):
        return service
    from conveyor.serving.deployments import Deployments

    project = Deployments(request.app.state.client.workspace.engine).project_of(name)
    if not principal(request).can(project, "viewer"):
        raise NotFoundError(f"deployment {name!r} does not exist", field="name")
    require(request, project=project, role=role)
    return service


def _of(service: Rollouts, name: str, rollout_id: int, *, progress: bool = False) -> Rollout:
    rollout = service.get(rollout_id, progress=progress)
    if rollout.deployment != name:
        msg = f"rollout {rollout_id} does not belong to deployment {name!r}"
        raise NotFoundError(msg, field="rollout_id")
    return rollout


class RolloutStart(BaseModel):
    """Body of ``POST /deployments/{name}/rollouts``."""

    to: str | int = Field(description="the candidate: a version number or @alias")
    steps: list[Any] = Field(
        default=list(DEFAULT_STEPS),
        max_length=100,
        description="traffic percentages, increasing, ending at 100",
    )
    interval_s: Any = Field(default=DEFAULT_INTERVAL_S, description="seconds per step, >= 1")
    thresholds: dict[str, Any] | None = Field(
        default=None,
        description="min_success_rate, max_p99_latency_s, max_prediction_psi (null: off), "
        "min_requests",
    )


class RolloutAbort(BaseModel):
    """Body of ``POST .../rollouts/{rollout_id}/abort``."""

    reason: str = Field(default="", max_length=2000)


class RolloutList(BaseModel):
    """Rollouts, newest first."""

    rollouts: list[Rollout]


@router.post("/deployments/{name}/rollouts", status_code=201)
def start_rollout(name: str, body: RolloutStart, request: Request) -> Rollout:
    """Start moving the deployment's traffic to a candidate, step by step."""
    return _authorize(request, name, "editor").start(
        name,
        body.to,
        steps=body.steps,
        interval_s=body.interval_s,
        thresholds=body.thresholds,
        actor=actor_of(request),
    )


@router.get("/deployments/{name}/rollouts")
def list_deployment_rollouts(
    name: str,
    request: Request,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RolloutList:
    """The deployment's rollouts, newest first."""
    service = _authorize(request, name, "viewer")
    return RolloutList(rollouts=service.list_rollouts(deployment=name, status=status, limit=limit))


@router.get("/deployments/{name}/rollouts/{rollout_id}")
def get_rollout(
    name: str, rollout_id: RolloutId, request: Request, progress: bool = False
) -> Rollout:
    """One rollout and its history; ``progress`` adds the current step's live figures."""
    return _of(_authorize(request, name, "viewer"), name, rollout_id, progress=progress)


@router.post("/deployments/{name}/rollouts/{rollout_id}/abort")
def abort_rollout(
    name: str,
    rollout_id: RolloutId,
    request: Request,
    # not ``RolloutAbort | None``: FastAPI 0.165 then makes pydantic warn about the union
    body: Annotated[RolloutAbort, Body(default_factory=RolloutAbort)],
) -> Rollout:
    """Stop the rollout and send every request to the primary again."""
    service = _authorize(request, name, "editor")
    _of(service, name, rollout_id)
    reason = body.reason
    return service.abort(name, rollout_id=rollout_id, reason=reason, actor=actor_of(request))


@router.get("/rollouts")
def list_rollouts(
    request: Request,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RolloutList:
    """Every rollout the caller can see, newest first."""
    found = _service(request).list_rollouts(
        status=status, projects=visible_projects(request), limit=limit
    )
    return RolloutList(rollouts=found)

"""``/api/v1`` deployment routes: create, list, show, change traffic, delete, replicas,
feedback and the experiment report.

A deployment belongs to its model's project: reading needs ``viewer``, changing it ``editor``;
callers who cannot see the project get 404. Routes are plain ``def`` (one short transaction
each, on FastAPI's thread pool).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.governance.roles import Role
from conveyor.server.auth import actor_of, auth_enabled, principal, require, visible_projects
from conveyor.serving.deployments import Deployment, Deployments

router = APIRouter(tags=["deployments"])


def _service(request: Request) -> Deployments:
    state = request.app.state
    service = getattr(state, "deployments_service", None)
    if service is None:
        service = Deployments(state.client.workspace.engine)
        state.deployments_service = service
    return service


def _engine(request: Request) -> Any:
    return request.app.state.client.workspace.engine


def _authorize(request: Request, name: str, role: Role) -> Deployments:
    service = _service(request)
    if not auth_enabled(request):
        return service
    project = service.project_of(name)
    if not principal(request).can(project, "viewer"):
        raise NotFoundError(f"deployment {name!r} does not exist", field="name")
    require(request, project=project, role=role)
    return service


class DeploymentCreate(BaseModel):
    """Body of ``POST /deployments``."""

    name: str
    model: str = Field(description="models:/NAME@ALIAS or models:/NAME/VERSION")
    policy: dict[str, Any] | None = None
    description: str = Field(default="", max_length=5000)


class PolicySet(BaseModel):
    """Body of ``PUT /deployments/{name}/policy``: the whole traffic policy."""

    policy: dict[str, Any]
    expected_revision: int | None = Field(default=None, ge=1)


class TargetSet(BaseModel):
    """Body of ``PUT /deployments/{name}/target``."""

    model: str = Field(description="models:/NAME@ALIAS or models:/NAME/VERSION")


class FeedbackIn(BaseModel):
    """Body of ``POST /deployments/{name}/feedback``: one value, or lists of the same length."""

    request_id: str | None = None
    value: Any = None
    request_ids: list[Any] | None = None
    values: list[Any] | None = None

    def pairs(self) -> tuple[list[Any], list[Any]]:
        """The (ids, values) given, whichever form the body used."""
        if self.request_ids is not None or self.values is not None:
            if self.request_id is not None:
                msg = "give request_id and value, or request_ids and values; not both"
                raise InvalidArgumentError(msg, field="request_id")
            return list(self.request_ids or []), list(self.values or [])
        if self.request_id is None:
            msg = "give request_id and value (or request_ids and values)"
            raise InvalidArgumentError(msg, field="request_id")
        return [self.request_id], [self.value]


class DeploymentList(BaseModel):
    """Deployments, by name."""

    deployments: list[Deployment]


class ReplicaList(BaseModel):
    """Replicas that reported recently, and every version the deployment has served."""

    replicas: list[dict[str, Any]]
    served_versions: list[dict[str, Any]]


@router.post("/deployments", status_code=201)
def create_deployment(body: DeploymentCreate, request: Request) -> Deployment:
    """Create a deployment of a registered model's alias or version."""
    service = _service(request)
    if auth_enabled(request):
        project = service.project_of_model(body.model)
        if not principal(request).can(project, "viewer"):
            raise NotFoundError(f"{body.model} does not exist", field="model")
        require(request, project=project, role="editor")
    return service.create(
        body.name,
        body.model,
        policy=body.policy,
        description=body.description,
        actor=actor_of(request),
    )


@router.get("/deployments")
def list_deployments(request: Request) -> DeploymentList:
    """Every deployment the caller can see."""
    return DeploymentList(
        deployments=_service(request).list_deployments(projects=visible_projects(request))
    )


@router.get("/deployments/{name}")
def get_deployment(name: str, request: Request) -> Deployment:
    """A deployment with its routes resolved to versions."""
    return _authorize(request, name, "viewer").get(name)


@router.put("/deployments/{name}/policy")
def set_policy(name: str, body: PolicySet, request: Request) -> Deployment:
    """Replace the traffic policy (``expected_revision`` makes it a compare-and-set)."""
    return _authorize(request, name, "editor").set_policy(
        name, body.policy, expected_revision=body.expected_revision, actor=actor_of(request)
    )


@router.put("/deployments/{name}/target")
def set_target(name: str, body: TargetSet, request: Request) -> Deployment:
    """Point the primary route at another alias or version of the same model."""
    return _authorize(request, name, "editor").set_target(name, body.model, actor=actor_of(request))


@router.get("/deployments/{name}/replicas")
def list_replicas(
    name: str,
    request: Request,
    fresh_s: Annotated[float, Query(ge=0, le=86_400)] = 30.0,
) -> ReplicaList:
    """Replicas serving the deployment now, and the versions it has served."""
    service = _authorize(request, name, "viewer")
    return ReplicaList(
        replicas=service.replicas(name, fresh_ms=int(fresh_s * 1000)),
        served_versions=service.served_versions(name),
    )


@router.post("/deployments/{name}/feedback")
def post_feedback(name: str, body: FeedbackIn, request: Request) -> dict[str, Any]:
    """Record outcomes or labels of served requests, by the ``x-request-id`` they carried."""
    from conveyor.serving.experiments import record_feedback

    _authorize(request, name, "editor")
    ids, values = body.pairs()
    single = body.request_id is not None
    return record_feedback(_engine(request), name, ids, values, single=single)


@router.get("/deployments/{name}/report")
def get_report(
    name: str,
    request: Request,
    *,
    since_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    until_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    task: Literal["classification", "regression"] | None = None,
    test: Literal["sequential", "z", "welch"] = "sequential",
    alpha: Annotated[float, Query(gt=0, le=0.5)] = 0.05,
    min_samples: Annotated[int, Query(ge=2)] = 30,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """Champion/challenger per shadow and significance per A/B arm (since the last change)."""
    from conveyor.serving.experiments import ABOptions, experiment_report

    _authorize(request, name, "viewer")
    options = ABOptions(test, alpha, min_samples, higher_is_better)
    return experiment_report(
        _engine(request), name, since_ms=since_ms, until_ms=until_ms, task=task, options=options
    )


@router.delete("/deployments/{name}", status_code=204)
def delete_deployment(name: str, request: Request) -> Response:
    """Delete a deployment; replicas stop serving it on their next poll."""
    _authorize(request, name, "editor").delete(name, actor=actor_of(request))
    return Response(status_code=204)

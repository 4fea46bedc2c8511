"""``/api/v1`` registry routes: registered models, versions, aliases, promotions, lineage.

Routes are plain ``def`` (FastAPI runs them on its thread pool): each is one short transaction.
With auth on, a route touching a model checks the caller's role in the model's project; a caller
who cannot even read that project gets 404, so other projects' models stay invisible.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from conveyor.errors import NotFoundError
from conveyor.governance.roles import Role
from conveyor.registry.approvals import Approvals
from conveyor.registry.entities import (
    ApprovalPolicy,
    ApprovalRequest,
    ModelPage,
    ModelVersion,
    Promotion,
    RegisteredModel,
    VersionPage,
)
from conveyor.registry.lineage import Lineage
from conveyor.registry.service import UNSET, Registry
from conveyor.registry.uris import parse_model_uri
from conveyor.server.auth import actor_of, auth_enabled, principal, require, visible_projects

router = APIRouter(tags=["registry"])


class _Services:
    registry: Registry
    approvals: Approvals
    lineage: Lineage

    def __init__(self, request: Request) -> None:
        state = request.app.state
        services = getattr(state, "registry_services", None)
        if services is None:
            engine = state.client.workspace.engine
            registry = Registry(engine)
            services = (registry, Approvals(registry), Lineage(engine))
            state.registry_services = services
        self.registry, self.approvals, self.lineage = services


def _authorize(request: Request, name: str, role: Role) -> _Services:
    """Check the caller's ``role`` on model ``name``'s project; 404 when they cannot see it."""
    services = _Services(request)
    if not auth_enabled(request):
        return services
    project = services.registry.project_of(name)
    caller = principal(request)
    if not caller.can(project, "viewer"):
        msg = f"registered model {name!r} does not exist"
        raise NotFoundError(msg, field="name")
    require(request, project=project, role=role)
    return services


class ModelCreate(BaseModel):
    """Body of ``POST /models``."""

    name: str
    description: str = ""
    project: str = "default"
    tags: dict[str, str] = Field(default_factory=dict)


class ModelUpdate(BaseModel):
    """Body of ``PATCH /models/{name}``: a new description and/or a new name."""

    description: str | None = None
    new_name: str | None = None


class VersionCreate(BaseModel):
    """Body of ``POST /models/{name}/versions``."""

    source: str
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    create_model: bool = False


class VersionUpdate(BaseModel):
    """Body of ``PATCH /models/{name}/versions/{version}``."""

    description: str


class TagSet(BaseModel):
    """Body of the tag ``PUT`` routes."""

    value: str


class StageTransition(BaseModel):
    """Body of ``POST /models/{name}/versions/{version}/stage``."""

    stage: str
    archive_existing: bool = False


class AliasSet(BaseModel):
    """Body of ``PUT /models/{name}/aliases/{alias}``."""

    version: int = Field(ge=1, lt=2**31)


class AliasMoved(BaseModel):
    """Where an alias pointed before it moved."""

    name: str
    alias: str
    version: int
    previous_version: int | None


class PromoteBody(BaseModel):
    """Body of ``POST /models/{name}/promote``."""

    version: int = Field(ge=1, lt=2**31)
    alias: str
    comment: str = ""
    # Compare-and-set: the version the caller saw the alias at (0: unset). Omitted, the server
    # uses what it reads when the request starts.
    expected_version: int | None = Field(default=None, ge=0, lt=2**31)


class DecisionBody(BaseModel):
    """Body of ``POST /approvals/{id}/approve|reject``."""

    comment: str = ""


class PolicySet(BaseModel):
    """Body of ``PUT /models/{name}/policies/{alias}``."""

    required: int = Field(default=1, ge=1, le=20)
    role: str = "approver"


class PolicyList(BaseModel):
    """Approval policies of a model."""

    policies: list[ApprovalPolicy]


class RequestList(BaseModel):
    """Promotion requests."""

    requests: list[ApprovalRequest]


Version = Annotated[int, Field(ge=1, lt=2**31)]


@router.post("/models", status_code=201)
def create_model(request: Request, body: ModelCreate) -> RegisteredModel:
    """Create a registered model."""
    require(request, project=body.project, role="editor")
    return _Services(request).registry.create_model(
        body.name,
        description=body.description,
        project=body.project,
        tags=body.tags,
        actor=actor_of(request),
    )


@router.get("/models")
def search_models(
    request: Request,
    name_like: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=10_000)] = 100,
    page_token: str | None = None,
) -> ModelPage:
    """List registered models (``name_like``: a SQL LIKE pattern)."""
    return _Services(request).registry.search_models(
        name_like=name_like,
        projects=visible_projects(request),
        max_results=max_results,
        page_token=page_token,
    )


@router.get("/models-resolve")
def resolve(request: Request, uri: str) -> ModelVersion:
    """Return the version a ``models:/`` URI names."""
    ref = parse_model_uri(uri, field="uri")
    return _authorize(request, ref.name, "viewer").registry.resolve(ref)


@router.get("/models/{name}")
def get_model(request: Request, name: str) -> RegisteredModel:
    """Return a registered model."""
    return _authorize(request, name, "viewer").registry.get_model(name)


@router.patch("/models/{name}")
def update_model(request: Request, name: str, body: ModelUpdate) -> RegisteredModel:
    """Change a registered model's description or name."""
    registry = _authorize(request, name, "editor").registry
    model = registry.get_model(name)
    if body.description is not None:
        model = registry.update_model(name, description=body.description, actor=actor_of(request))
    if body.new_name is not None and body.new_name != name:
        model = registry.rename_model(name, body.new_name, actor=actor_of(request))
    return model


@router.delete("/models/{name}", status_code=204)
def delete_model(request: Request, name: str) -> Response:
    """Delete a registered model with its versions (the audit log keeps the history)."""
    _authorize(request, name, "editor").registry.delete_model(name, actor=actor_of(request))
    return Response(status_code=204)


@router.put("/models/{name}/tags/{key}", status_code=204)
def set_model_tag(request: Request, name: str, key: str, body: TagSet) -> Response:
    """Set a tag on a registered model."""
    registry = _authorize(request, name, "editor").registry
    registry.set_model_tag(name, key, body.value, actor=actor_of(request))
    return Response(status_code=204)


@router.delete("/models/{name}/tags/{key}", status_code=204)
def delete_model_tag(request: Request, name: str, key: str) -> Response:
    """Delete a tag from a registered model."""
    registry = _authorize(request, name, "editor").registry
    registry.delete_model_tag(name, key, actor=actor_of(request))
    return Response(status_code=204)


@router.post("/models/{name}/versions", status_code=201)
def create_version(request: Request, name: str, body: VersionCreate) -> ModelVersion:
    """Register a model (``runs:/RUN_ID/model``) as the next version of ``name``."""
    services = _Services(request)
    if body.create_model and auth_enabled(request):
        try:
            services.registry.project_of(name)
        except NotFoundError:
            require(request, project="default", role="editor")
            services.registry.create_model(name, actor=actor_of(request))
    _authorize(request, name, "editor")
    return services.registry.create_version(
        name,
        body.source,
        run_id=body.run_id,
        description=body.description,
        tags=body.tags,
        create_model=body.create_model,
        actor=actor_of(request),
    )


@router.get("/model-versions")
def search_versions(
    request: Request,
    name: str | None = None,
    run_id: str | None = None,
    max_results: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    page_token: str | None = None,
) -> VersionPage:
    """List versions of one model or of one run."""
    return _Services(request).registry.search_versions(
        name=name,
        run_id=run_id,
        projects=visible_projects(request),
        max_results=max_results,
        page_token=page_token,
    )


@router.get("/models/{name}/versions")
def list_versions(
    request: Request,
    name: str,
    max_results: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    page_token: str | None = None,
) -> VersionPage:
    """List a model's versions, newest first."""
    registry = _authorize(request, name, "viewer").registry
    return registry.search_versions(name=name, max_results=max_results, page_token=page_token)


@router.get("/models/{name}/versions/{version}")
def get_version(request: Request, name: str, version: Version) -> ModelVersion:
    """Return one model version."""
    return _authorize(request, name, "viewer").registry.get_version(name, version)


@router.patch("/models/{name}/versions/{version}")
def update_version(
    request: Request, name: str, version: Version, body: VersionUpdate
) -> ModelVersion:
    """Replace a version's description."""
    registry = _authorize(request, name, "editor").registry
    return registry.update_version(
        name, version, description=body.description, actor=actor_of(request)
    )


@router.delete("/models/{name}/versions/{version}", status_code=204)
def delete_version(request: Request, name: str, version: Version) -> Response:
    """Delete a version and the aliases pointing at it."""
    registry = _authorize(request, name, "editor").registry
    registry.delete_version(name, version, actor=actor_of(request))
    return Response(status_code=204)


@router.put("/models/{name}/versions/{version}/tags/{key}", status_code=204)
def set_version_tag(
    request: Request, name: str, version: Version, key: str, body: TagSet
) -> Response:
    """Set a tag on a model version."""
    registry = _authorize(request, name, "editor").registry
    registry.set_version_tag(name, version, key, body.value, actor=actor_of(request))
    return Response(status_code=204)


@router.delete("/models/{name}/versions/{version}/tags/{key}", status_code=204)
def delete_version_tag(request: Request, name: str, version: Version, key: str) -> Response:
    """Delete a tag from a model version."""
    registry = _authorize(request, name, "editor").registry
    registry.delete_version_tag(name, version, key, actor=actor_of(request))
    return Response(status_code=204)


@router.post("/models/{name}/versions/{version}/stage")
def transition_stage(
    request: Request, name: str, version: Version, body: StageTransition
) -> ModelVersion:
    """Move a version to a legacy MLflow stage."""
    registry = _authorize(request, name, "editor").registry
    return registry.transition_stage(
        name,
        version,
        body.stage,
        archive_existing=body.archive_existing,
        actor=actor_of(request),
    )


@router.get("/models/{name}/aliases/{alias}")
def get_alias(request: Request, name: str, alias: str) -> ModelVersion:
    """Return the version an alias points at."""
    return _authorize(request, name, "viewer").registry.get_by_alias(name, alias)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(request: Request, name: str, alias: str, body: AliasSet) -> AliasMoved:
    """Point an alias at a version (refused under an approval policy: promote instead)."""
    registry = _authorize(request, name, "editor").registry
    previous = registry.set_alias(name, alias, body.version, actor=actor_of(request))
    return AliasMoved(name=name, alias=alias, version=body.version, previous_version=previous)


@router.delete("/models/{name}/aliases/{alias}", status_code=204)
def delete_alias(request: Request, name: str, alias: str) -> Response:
    """Remove an alias."""
    _authorize(request, name, "editor").registry.delete_alias(name, alias, actor=actor_of(request))
    return Response(status_code=204)


@router.post("/models/{name}/promote")
def promote(request: Request, name: str, body: PromoteBody) -> Promotion:
    """Move an alias now, or open an approval request when a policy applies."""
    approvals = _authorize(request, name, "editor").approvals
    expected: Any = UNSET if body.expected_version is None else (body.expected_version or None)
    return approvals.promote(
        name,
        body.version,
        body.alias,
        requester=actor_of(request),
        comment=body.comment,
        expected=expected,
    )


@router.get("/models/{name}/policies")
def list_policies(request: Request, name: str) -> PolicyList:
    """Return a model's approval policies."""
    return PolicyList(policies=_authorize(request, name, "viewer").approvals.policies(name))


@router.put("/models/{name}/policies/{alias}")
def set_policy(request: Request, name: str, alias: str, body: PolicySet) -> ApprovalPolicy:
    """Require approvals to move ``alias`` (``*``: every alias). Project admins only."""
    approvals = _authorize(request, name, "admin").approvals
    return approvals.set_policy(
        name, alias, required=body.required, role=body.role, actor=actor_of(request)
    )


@router.delete("/models/{name}/policies/{alias}", status_code=204)
def delete_policy(request: Request, name: str, alias: str) -> Response:
    """Remove an approval policy. Project admins only."""
    _authorize(request, name, "admin").approvals.delete_policy(name, alias, actor=actor_of(request))
    return Response(status_code=204)


@router.get("/approvals")
def list_requests(
    request: Request, name: str | None = None, state: str | None = None
) -> RequestList:
    """List promotion requests, newest first."""
    services = _Services(request)
    found = services.approvals.requests(name=name, state=state)
    projects = visible_projects(request)
    if projects is not None:
        found = [r for r in found if services.registry.project_of(r.name) in projects]
    return RequestList(requests=found)


def _request_for(request: Request, request_id: str, role: Role) -> tuple[_Services, Any]:
    services = _Services(request)
    found = services.approvals.get_request(request_id)
    _authorize(request, found.name, role)
    return services, found


@router.get("/approvals/{request_id}")
def get_request(request: Request, request_id: str) -> ApprovalRequest:
    """Return a promotion request with its decisions."""
    return _request_for(request, request_id, "viewer")[1]  # type: ignore[no-any-return]


@router.post("/approvals/{request_id}/approve")
def approve(request: Request, request_id: str, body: DecisionBody) -> ApprovalRequest:
    """Approve a request; the approval that completes it moves the alias."""
    services, _ = _request_for(request, request_id, "approver")
    return services.approvals.decide(
        request_id, approver=actor_of(request), approve=True, comment=body.comment
    )


@router.post("/approvals/{request_id}/reject")
def reject(request: Request, request_id: str, body: DecisionBody) -> ApprovalRequest:
    """Reject a request."""
    services, _ = _request_for(request, request_id, "approver")
    return services.approvals.decide(
        request_id, approver=actor_of(request), approve=False, comment=body.comment
    )


@router.post("/approvals/{request_id}/cancel")
def cancel(request: Request, request_id: str) -> ApprovalRequest:
    """Withdraw a pending request (its requester, or an admin)."""
    services, _ = _request_for(request, request_id, "editor")
    return services.approvals.cancel(request_id, actor=actor_of(request))


@router.get("/lineage")
def lineage(request: Request, uri: str) -> dict[str, Any]:
    """The lineage graph around ``models:/...``, ``data:NAME@V`` or ``runs:/RUN_ID``."""
    services = _Services(request)
    if uri.startswith("models:/"):
        _authorize(request, parse_model_uri(uri, field="uri").name, "viewer")
    elif auth_enabled(request) and visible_projects(request) is not None:
        require(request, project="default", role="viewer")
    return services.lineage.of(uri)

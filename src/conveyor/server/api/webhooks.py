"""``/api/v1`` webhook routes: subscribe, list, delete, deliveries, test ping.

Webhooks send a project's events to an outside URL, so managing them needs the ``admin`` role
in that project; another project's webhooks do not exist for the caller (404).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from conveyor.errors import NotFoundError
from conveyor.governance.dispatcher import send_ping
from conveyor.governance.roles import DEFAULT_PROJECT
from conveyor.governance.webhooks import Webhook, Webhooks
from conveyor.server.auth import actor_of, principal, require, some_project_admin

router = APIRouter(tags=["webhooks"])


def _webhooks(request: Request) -> Webhooks:
    engine: Engine = request.app.state.client.workspace.engine
    return Webhooks(engine)


class WebhookOut(BaseModel):
    """A webhook subscription (its secret is never listed)."""

    webhook_id: str
    url: str
    events: list[str]
    project: str
    description: str
    active: bool
    created_time: int


class WebhookCreate(BaseModel):
    """Body of ``POST /webhooks``; ``secret`` is generated when absent."""

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    project: str = Field(default=DEFAULT_PROJECT, min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)


class WebhookCreated(BaseModel):
    """A new webhook: ``secret`` signs its deliveries and is shown this once."""

    webhook: WebhookOut
    secret: str


class WebhookList(BaseModel):
    """Webhooks, oldest first."""

    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    """One delivery of one event to one webhook."""

    delivery_id: int
    webhook_id: str
    event_seq: int
    state: str
    attempts: int
    http_status: int | None
    error: str | None
    next_attempt_time: int
    created_time: int
    updated_time: int


class DeliveryList(BaseModel):
    """Deliveries, newest event first."""

    deliveries: list[DeliveryOut]


class PingResult(BaseModel):
    """The outcome of a test ping."""

    ok: bool
    http_status: int | None
    error: str | None


def _managed(request: Request, webhook_id: str) -> Webhook:
    """Return the webhook if the caller administers its project (404 if they cannot see it)."""
    hook = _webhooks(request).get(webhook_id)
    if principal(request).role_in(hook.project) is None:
        msg = f"no webhook with id {webhook_id!r}; see `conveyor webhooks list`"
        raise NotFoundError(msg, field="webhook_id")
    require(request, project=hook.project, role="admin")
    return hook


@router.post("/webhooks", status_code=201, dependencies=[Depends(some_project_admin)])
def create_webhook(body: WebhookCreate, request: Request) -> WebhookCreated:
    """Subscribe a URL to events (admins of the project); the secret is returned once."""
    require(request, project=body.project, role="admin")
    new = _webhooks(request).create(
        body.url,
        body.events,
        secret=body.secret,
        project=body.project,
        description=body.description,
        actor=actor_of(request),
    )
    return WebhookCreated(webhook=WebhookOut(**new.webhook.to_dict()), secret=new.secret)


@router.get("/webhooks")
def list_webhooks(request: Request) -> WebhookList:
    """List the webhooks of the projects you administer."""
    caller = principal(request)
    projects = (
        None if caller.is_admin else frozenset(p for p in caller.roles if caller.can(p, "admin"))
    )
    hooks = _webhooks(request).list(projects=projects)
    return WebhookList(webhooks=[WebhookOut(**h.to_dict()) for h in hooks])


@router.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: str, request: Request) -> WebhookOut:
    """Return one webhook."""
    return WebhookOut(**_managed(request, webhook_id).to_dict())


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, request: Request) -> None:
    """Delete a webhook and its delivery records."""
    _managed(request, webhook_id)
    _webhooks(request).delete(webhook_id, actor=actor_of(request))


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str,
    request: Request,
    state: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """Return a webhook's deliveries (attempts, HTTP status, last error), newest first."""
    _managed(request, webhook_id)
    found = _webhooks(request).deliveries(webhook_id, state=state, limit=limit)
    return DeliveryList(deliveries=[DeliveryOut(**d.to_dict()) for d in found])


@router.post("/webhooks/{webhook_id}/test")
def test_webhook(webhook_id: str, request: Request) -> PingResult:
    """Send a signed ``webhook.ping`` now and report the receiver's answer."""
    _managed(request, webhook_id)
    engine: Engine = request.app.state.client.workspace.engine
    status, error = send_ping(engine, webhook_id, actor=actor_of(request))
    return PingResult(ok=error is None, http_status=status, error=error)


__all__ = ["router"]

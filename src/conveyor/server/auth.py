"""Who is calling, and may they: the server's authentication and authorization interface.

With auth off (the default) every request acts as the LOCAL principal, an admin named after
``CONVEYOR_USER`` or the OS user, and nothing here touches the database. With
``conveyor server --auth`` the ``AuthMiddleware`` turns ``Authorization: Bearer <token>`` (or
basic auth with the token as password, as the mlflow client sends it) into a ``Principal``,
rejects missing or invalid tokens with 401, and rejects with 403 a caller whose best role
anywhere is below what the method needs (reads: viewer, writes: editor). Routes then check the
project they touch with ``require`` (403) or hide other projects' objects (404, see
``conveyor.server.project_scope``).
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from conveyor.errors import ConveyorError, PermissionDeniedError, UnauthenticatedError
from conveyor.governance.roles import Principal, Role
from conveyor.server.inference_routes import is_inference_path
from conveyor.store import events

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from conveyor.governance.tokens import Authenticator

PRINCIPAL_KEY = "conveyor.principal"
OPEN_PATHS = frozenset({"/health"})
# Identity and webhook administration check their own rules (users may list their own tokens).
SELF_CHECKED_PREFIXES = ("/api/v1/users", "/api/v1/tokens", "/api/v1/projects", "/api/v1/webhooks")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@lru_cache(maxsize=1)
def local_principal() -> Principal:
    """The single local user of an unauthenticated workspace: an admin."""
    name = events.local_user()
    return Principal(name, is_admin=True)


def auth_enabled(request: Request) -> bool:
    """Whether the app was started with ``--auth``."""
    return getattr(request.app.state, "authenticator", None) is not None


def principal(request: Request) -> Principal:
    """Return the authenticated caller (the LOCAL principal when auth is off)."""
    found: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if found is not None:
        return found
    if auth_enabled(request):  # the middleware sets it; never fall back to admin with auth on
        raise UnauthenticatedError("this request carries no token; send Authorization: Bearer")
    return local_principal()


def actor_of(request: Request) -> str:
    """Return the name to record as the actor of the request's audit events."""
    return principal(request).name


def require(request: Request, *, project: str, role: Role) -> Principal:
    """Return the caller if they hold ``role`` in ``project``; else raise 403 (401 if anonymous)."""
    caller = principal(request)
    if not caller.can(project, role):
        held = caller.role_in(project) or "no role"
        msg = (
            f"user {caller.name!r} needs role {role!r} in project {project!r} (holds {held}); "
            "ask a project admin: `conveyor projects grant`"
        )
        raise PermissionDeniedError(msg, field="project")
    return caller


def require_admin(request: Request) -> Principal:
    """Return the caller if they are an admin user; else raise 403."""
    caller = principal(request)
    if not caller.is_admin:
        msg = f"user {caller.name!r} is not an admin; only admins manage users and projects"
        raise PermissionDeniedError(msg)
    return caller


async def admin_only(request: Request) -> None:
    """Route dependency: the caller is an admin user (checked before the body is validated)."""
    require_admin(request)


async def project_admin(request: Request, project: str) -> None:
    """Route dependency: the caller administers the ``{project}`` in the path."""
    require(request, project=project, role="admin")


async def some_project_admin(request: Request) -> None:
    """Route dependency: the caller administers at least one project."""
    caller = principal(request)
    if not caller.can_anywhere("admin"):
        msg = f"user {caller.name!r} administers no project; ask an admin"
        raise PermissionDeniedError(msg)


def visible_projects(request: Request) -> frozenset[str] | None:
    """Return the projects the caller may read; None means every project (auth off, admin)."""
    if not auth_enabled(request):
        return None
    return principal(request).visible_projects()


def token_of(headers: dict[bytes, bytes]) -> str | None:
    """Return the token from ``Authorization: Bearer`` or basic auth's password, or None."""
    value = headers.get(b"authorization", b"").decode("latin-1").strip()
    scheme, _, credentials = value.partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "bearer" and credentials:
        return credentials
    if scheme == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def needed_role(method: str, path: str) -> Role:
    """The least role a request needs somewhere: reads, searches and predictions (the inference
    routes: a prediction changes nothing) viewer, writes editor."""
    if method in READ_METHODS or path.endswith("/search") or is_inference_path(path):
        return "viewer"
    return "editor"


class AuthMiddleware:
    """Authenticate every request but ``/health``; apply the coarse role rule (ASGI)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            scope[PRINCIPAL_KEY] = await self._check(scope)
        except ConveyorError as exc:
            from conveyor.server.errors import error_response

            response = error_response(
                Request(scope), exc.status_code, exc.code, exc.message, exc.field
            )
            await response(scope, receive, send)
            return
        # audit events written while serving this request name the caller
        token = events.ACTOR.set(scope[PRINCIPAL_KEY].name)
        try:
            await self.app(scope, receive, send)
        finally:
            events.ACTOR.reset(token)

    async def _check(self, scope: Scope) -> Principal:
        token = token_of(dict(scope["headers"]))
        if token is None:
            msg = "authentication required: send Authorization: Bearer <token>"
            raise UnauthenticatedError(msg)
        caller = self.authenticator.cached(token)
        if caller is None:
            caller = await run_in_threadpool(self.authenticator.authenticate, token)
        path: str = scope["path"]
        if not path.startswith(SELF_CHECKED_PREFIXES):
            role = needed_role(scope["method"], path)
            if not caller.can_anywhere(role):
                msg = f"user {caller.name!r} needs role {role!r} for {scope['method']} {path}"
                raise PermissionDeniedError(msg)
        return caller


__all__ = [
    "AuthMiddleware",
    "Principal",
    "Role",
    "actor_of",
    "admin_only",
    "auth_enabled",
    "local_principal",
    "principal",
    "project_admin",
    "require",
    "require_admin",
    "some_project_admin",
    "token_of",
    "visible_projects",
]

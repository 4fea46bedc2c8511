"""``/api/v1`` identity routes: users, tokens, projects and their members.

Users and projects are managed by admins; a project's members by that project's admins; any
caller may list and revoke their own tokens. A token's secret is returned by its creation only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from conveyor.errors import NotFoundError
from conveyor.governance import Projects, Tokens, Users
from conveyor.governance.roles import Role
from conveyor.server.auth import (
    actor_of,
    admin_only,
    principal,
    project_admin,
    require_admin,
    visible_projects,
)

router = APIRouter(tags=["identity"])
# Permission first: a caller without it gets 403 whatever the body holds.
ADMIN = Depends(admin_only)
PROJECT_ADMIN = Depends(project_admin)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.client.workspace.engine
    return engine


class UserOut(BaseModel):
    """A user account."""

    name: str
    is_admin: bool
    active: bool
    created_time: int
    disabled_time: int | None


class UserCreate(BaseModel):
    """Body of ``POST /users``."""

    name: str = Field(min_length=1, max_length=100)
    is_admin: bool = False


class UserList(BaseModel):
    """Users, by name."""

    users: list[UserOut]


class Me(BaseModel):
    """The caller: name, admin flag, role per project."""

    name: str
    is_admin: bool
    roles: dict[str, Role]


class TokenOut(BaseModel):
    """A token's record: never its secret."""

    token_id: str
    user: str
    prefix: str
    description: str
    created_time: int
    expires_time: int | None
    revoked_time: int | None
    last_used_time: int | None


class TokenCreate(BaseModel):
    """Body of ``POST /tokens`` (admins create tokens for any user)."""

    user: str = Field(min_length=1, max_length=100)
    expires_in_s: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)
    description: str = Field(default="", max_length=1000)


class TokenCreated(BaseModel):
    """A new token: ``token`` is the secret, shown this once."""

    token: str
    info: TokenOut


class TokenList(BaseModel):
    """Tokens, newest first."""

    tokens: list[TokenOut]


class ProjectOut(BaseModel):
    """A project."""

    name: str
    description: str
    created_time: int


class ProjectCreate(BaseModel):
    """Body of ``POST /projects``."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=10_000)


class ProjectList(BaseModel):
    """Projects, by name."""

    projects: list[ProjectOut]


class MemberOut(BaseModel):
    """A role binding."""

    user: str
    project: str
    role: Role
    created_time: int


class MemberList(BaseModel):
    """The members of a project."""

    members: list[MemberOut]


class RoleGrant(BaseModel):
    """Body of ``PUT /projects/{project}/members/{user}``."""

    role: Role


@router.get("/users/me")
def me(request: Request) -> Me:
    """Return the caller."""
    caller = principal(request)
    return Me(name=caller.name, is_admin=caller.is_admin, roles=dict(caller.roles))


@router.get("/users", dependencies=[ADMIN])
def list_users(request: Request) -> UserList:
    """List users (admins)."""
    return UserList(users=[UserOut(**u.to_dict()) for u in Users(_engine(request)).list()])


@router.post("/users", status_code=201, dependencies=[ADMIN])
def create_user(body: UserCreate, request: Request) -> UserOut:
    """Create a user (admins)."""
    user = Users(_engine(request)).create(
        body.name, is_admin=body.is_admin, actor=actor_of(request)
    )
    return UserOut(**user.to_dict())


@router.post("/users/{name}/disable", dependencies=[ADMIN])
def disable_user(name: str, request: Request) -> UserOut:
    """Disable a user: their tokens stop working (admins)."""
    return UserOut(**Users(_engine(request)).disable(name, actor=actor_of(request)).to_dict())


@router.get("/tokens")
def list_tokens(
    request: Request, user: Annotated[str | None, Query(max_length=100)] = None
) -> TokenList:
    """List tokens: your own, or (admins) a user's or everyone's."""
    caller = principal(request)
    if not caller.is_admin:
        if user not in (None, caller.name):
            require_admin(request)
        user = caller.name
    tokens = Tokens(_engine(request)).list(user=user)
    return TokenList(tokens=[TokenOut(**t.to_dict()) for t in tokens])


@router.post("/tokens", status_code=201, dependencies=[ADMIN])
def create_token(body: TokenCreate, request: Request) -> TokenCreated:
    """Create a token for a user (admins); the secret is in this response only."""
    new = Tokens(_engine(request)).create(
        body.user,
        expires_in_s=body.expires_in_s,
        description=body.description,
        actor=actor_of(request),
    )
    return TokenCreated(token=new.token, info=TokenOut(**new.info.to_dict()))


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, request: Request) -> TokenOut:
    """Revoke a token: your own, or (admins) anyone's."""
    caller = principal(request)
    tokens = Tokens(_engine(request))
    info = tokens.get(token_id)
    if not caller.is_admin and info.user != caller.name:
        msg = f"no token with id {token_id!r}; see GET /api/v1/tokens"
        raise NotFoundError(msg, field="token_id")
    return TokenOut(**tokens.revoke(token_id, actor=actor_of(request)).to_dict())


@router.get("/projects")
def list_projects(request: Request) -> ProjectList:
    """List the projects you hold a role in (admins: all)."""
    found = Projects(_engine(request)).list(only=visible_projects(request))
    return ProjectList(projects=[ProjectOut(**p.to_dict()) for p in found])


@router.post("/projects", status_code=201, dependencies=[ADMIN])
def create_project(body: ProjectCreate, request: Request) -> ProjectOut:
    """Create a project (admins)."""
    projects = Projects(_engine(request))
    project = projects.create(body.name, description=body.description, actor=actor_of(request))
    return ProjectOut(**project.to_dict())


@router.get("/projects/{project}/members", dependencies=[PROJECT_ADMIN])
def list_members(project: str, request: Request) -> MemberList:
    """List a project's members (its admins)."""
    members = Projects(_engine(request)).members(project)
    return MemberList(members=[MemberOut(**m.to_dict()) for m in members])


@router.put("/projects/{project}/members/{user}", dependencies=[PROJECT_ADMIN])
def grant_role(project: str, user: str, body: RoleGrant, request: Request) -> MemberOut:
    """Give a user a role in a project, replacing their previous one (its admins)."""
    member = Projects(_engine(request)).grant(project, user, body.role, actor=actor_of(request))
    return MemberOut(**member.to_dict())


@router.delete("/projects/{project}/members/{user}", status_code=204, dependencies=[PROJECT_ADMIN])
def revoke_role(project: str, user: str, request: Request) -> None:
    """Remove a user's role in a project (its admins)."""
    Projects(_engine(request)).revoke(project, user, actor=actor_of(request))


__all__ = ["router"]

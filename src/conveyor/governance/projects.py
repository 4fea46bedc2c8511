"""Projects and role bindings: a project groups experiments and registered models, and roles
are granted per project (``default`` always exists)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.errors import AlreadyExistsError, NotFoundError
from conveyor.governance._names import check_name
from conveyor.governance.roles import Role, check_role
from conveyor.governance.users import get_user_row
from conveyor.store import read, schema, write
from conveyor.store.events import append


@dataclass(frozen=True)
class Project:
    """A project."""

    name: str
    description: str
    created_time: int

    def to_dict(self) -> dict[str, Any]:
        """Render the project for JSON output."""
        return {
            "name": self.name,
            "description": self.description,
            "created_time": self.created_time,
        }


@dataclass(frozen=True)
class Member:
    """A role binding: ``user`` holds ``role`` in ``project``."""

    user: str
    project: str
    role: Role
    created_time: int

    def to_dict(self) -> dict[str, Any]:
        """Render the binding for JSON output."""
        return {
            "user": self.user,
            "project": self.project,
            "role": self.role,
            "created_time": self.created_time,
        }


def check_project_exists(conn: Connection, project: str) -> None:
    """Raise ``NotFoundError`` naming the fix when ``project`` does not exist."""
    p = schema.projects
    if conn.execute(select(p.c.name).where(p.c.name == project)).first() is None:
        msg = f"no project named {project!r}; create it with `conveyor projects create {project}`"
        raise NotFoundError(msg, field="project")


def roles_of(conn: Connection, user: str) -> dict[str, Role]:
    """Return ``user``'s role per project."""
    rb = schema.role_bindings
    rows = conn.execute(select(rb.c.project, rb.c.role).where(rb.c.user_name == user)).all()
    return {project: check_role(role) for project, role in rows}


class Projects:
    """Projects and their members over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, *, description: str = "", actor: str) -> Project:
        """Create the project ``name``."""
        name = check_name(name, field="name")
        project = Project(name, description, now_ms())
        try:
            with write(self._engine) as conn:
                conn.execute(insert(schema.projects).values(project.to_dict()))
                append(
                    conn,
                    action="project.created",
                    subject=f"projects:/{name}",
                    payload={"name": name, "description": description},
                    actor=actor,
                )
        except IntegrityError as exc:
            msg = f"project {name!r} already exists; pick another name"
            raise AlreadyExistsError(msg, field="name") from exc
        return project

    def list(self, *, only: frozenset[str] | None = None) -> list[Project]:
        """Return the projects (those named in ``only`` when given), by name."""
        p = schema.projects
        stmt = select(p).order_by(p.c.name)
        if only is not None:
            stmt = stmt.where(p.c.name.in_(sorted(only)))
        with read(self._engine) as conn:
            rows = conn.execute(stmt).all()
        return [Project(*r) for r in rows]

    def grant(self, project: str, user: str, role: str, *, actor: str) -> Member:
        """Give ``user`` the ``role`` in ``project`` (replacing the role they held there)."""
        checked = check_role(role)
        rb = schema.role_bindings
        member = Member(user, project, checked, now_ms())
        with write(self._engine) as conn:
            check_project_exists(conn, project)
            get_user_row(conn, user)
            where = (rb.c.user_name == user) & (rb.c.project == project)
            done = conn.execute(update(rb).where(where).values(role=checked)).rowcount
            if not done:
                conn.execute(
                    insert(rb).values(
                        user_name=user,
                        project=project,
                        role=checked,
                        created_time=member.created_time,
                    )
                )
            append(
                conn,
                action="role.granted",
                subject=f"projects:/{project}",
                payload={"user": user, "project": project, "role": checked},
                actor=actor,
            )
        return member

    def revoke(self, project: str, user: str, *, actor: str) -> None:
        """Remove ``user``'s role in ``project``."""
        rb = schema.role_bindings
        with write(self._engine) as conn:
            where = (rb.c.user_name == user) & (rb.c.project == project)
            if not conn.execute(delete(rb).where(where)).rowcount:
                msg = f"user {user!r} holds no role in project {project!r}"
                raise NotFoundError(msg, field="user")
            append(
                conn,
                action="role.revoked",
                subject=f"projects:/{project}",
                payload={"user": user, "project": project},
                actor=actor,
            )

    def members(self, project: str) -> builtins.list[Member]:
        """Return the role bindings of ``project``, by user."""
        rb = schema.role_bindings
        with read(self._engine) as conn:
            check_project_exists(conn, project)
            rows = conn.execute(
                select(rb.c.user_name, rb.c.project, rb.c.role, rb.c.created_time)
                .where(rb.c.project == project)
                .order_by(rb.c.user_name)
            ).all()
        return [Member(u, p, check_role(r), t) for u, p, r, t in rows]

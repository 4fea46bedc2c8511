"""Users: created, listed and disabled by an admin (or by the machine owner through the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.errors import AlreadyExistsError, NotFoundError
from conveyor.governance._names import check_name
from conveyor.store import read, schema, write
from conveyor.store.events import append


@dataclass(frozen=True)
class User:
    """A user account."""

    name: str
    is_admin: bool
    created_time: int
    disabled_time: int | None

    @property
    def active(self) -> bool:
        """Whether the user may still authenticate."""
        return self.disabled_time is None

    def to_dict(self) -> dict[str, Any]:
        """Render the user for JSON output."""
        return {
            "name": self.name,
            "is_admin": self.is_admin,
            "active": self.active,
            "created_time": self.created_time,
            "disabled_time": self.disabled_time,
        }


def _user(row: Any) -> User:
    m = row._mapping
    return User(m["name"], bool(m["is_admin"]), m["created_time"], m["disabled_time"])


def get_user_row(conn: Connection, name: str) -> User:
    """Return the user ``name`` inside an open transaction, or raise ``NotFoundError``."""
    row = conn.execute(select(schema.users).where(schema.users.c.name == name)).first()
    if row is None:
        msg = f"no user named {name!r}; create it with `conveyor users create {name}`"
        raise NotFoundError(msg, field="user")
    return _user(row)


class Users:
    """User accounts over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, *, is_admin: bool = False, actor: str) -> User:
        """Create the user ``name`` (an admin holds the admin role in every project)."""
        name = check_name(name, field="name")
        user = User(name, is_admin, now_ms(), None)
        try:
            with write(self._engine) as conn:
                conn.execute(
                    insert(schema.users).values(
                        name=name, is_admin=int(is_admin), created_time=user.created_time
                    )
                )
                append(
                    conn,
                    action="user.created",
                    subject=f"users:/{name}",
                    payload={"name": name, "is_admin": is_admin},
                    actor=actor,
                )
        except IntegrityError as exc:
            msg = f"user {name!r} already exists; pick another name"
            raise AlreadyExistsError(msg, field="name") from exc
        return user

    def get(self, name: str) -> User:
        """Return the user ``name``."""
        with read(self._engine) as conn:
            return get_user_row(conn, name)

    def list(self) -> list[User]:
        """Return every user, by name."""
        with read(self._engine) as conn:
            rows = conn.execute(select(schema.users).order_by(schema.users.c.name)).all()
        return [_user(r) for r in rows]

    def disable(self, name: str, *, actor: str) -> User:
        """Disable ``name``: its tokens stop working (within the server's cache TTL)."""
        with write(self._engine) as conn:
            user = get_user_row(conn, name)
            if not user.active:
                return user
            now = now_ms()
            conn.execute(
                update(schema.users).where(schema.users.c.name == name).values(disabled_time=now)
            )
            append(
                conn,
                action="user.disabled",
                subject=f"users:/{name}",
                payload={"name": name},
                actor=actor,
            )
        return User(user.name, user.is_admin, user.created_time, now)


__all__ = ["User", "Users", "get_user_row"]

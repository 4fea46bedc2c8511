"""Roles and the principal: who is calling, and what each project lets them do.

Roles are ordered, each including the ones before it: ``viewer`` reads, ``editor`` writes,
``approver`` also approves others' requests, ``admin`` also manages members. An admin *user*
holds ``admin`` in every project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from conveyor.errors import InvalidArgumentError

Role = Literal["viewer", "editor", "approver", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}
DEFAULT_PROJECT = "default"


def check_role(value: str, *, field: str = "role") -> Role:
    """Return ``value`` as a ``Role``, or say which roles exist."""
    if value not in _RANK:
        msg = f"{field} must be one of {', '.join(ROLES)}; got {value!r}"
        raise InvalidArgumentError(msg, field=field)
    return value  # narrowed to Role by the membership test above


def at_least(held: Role, needed: Role) -> bool:
    """Whether ``held`` includes ``needed`` (viewer < editor < approver < admin)."""
    return _RANK[held] >= _RANK[needed]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user name, whether they are an admin, their role per project."""

    name: str
    is_admin: bool = False
    roles: Mapping[str, Role] = field(default_factory=dict)

    def role_in(self, project: str) -> Role | None:
        """Return the caller's role in ``project`` (``admin`` for admins), or None."""
        return "admin" if self.is_admin else self.roles.get(project)

    def can(self, project: str, role: Role) -> bool:
        """Whether the caller holds ``role`` (or a higher one) in ``project``."""
        held = self.role_in(project)
        return held is not None and at_least(held, role)

    def can_anywhere(self, role: Role) -> bool:
        """Whether the caller holds ``role`` (or a higher one) in at least one project."""
        return self.is_admin or any(at_least(held, role) for held in self.roles.values())

    def visible_projects(self) -> frozenset[str] | None:
        """Return the projects the caller may read, None for every project (admins)."""
        return None if self.is_admin else frozenset(self.roles)


__all__ = ["DEFAULT_PROJECT", "ROLES", "Principal", "Role", "at_least", "check_role"]

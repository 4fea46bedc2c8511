"""Governance: identity (users, projects, roles, tokens) and webhooks over the event log."""

from conveyor.governance.projects import Member, Project, Projects
from conveyor.governance.roles import DEFAULT_PROJECT, ROLES, Principal, Role
from conveyor.governance.tokens import Authenticator, NewToken, TokenInfo, Tokens
from conveyor.governance.users import User, Users

__all__ = [
    "DEFAULT_PROJECT",
    "ROLES",
    "Authenticator",
    "Member",
    "NewToken",
    "Principal",
    "Project",
    "Projects",
    "Role",
    "TokenInfo",
    "Tokens",
    "User",
    "Users",
]

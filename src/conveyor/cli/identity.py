"""``conveyor users | tokens | projects``: identity on the local workspace database.

These commands act as the machine owner (the LOCAL user, ``CONVEYOR_USER`` or the OS user),
directly on the workspace's database: that is how the first admin and token are made. The same
operations are available to admins over REST (``/api/v1/users``, ``/tokens``, ``/projects``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from conveyor.cli.output import console, fmt_time, table

if TYPE_CHECKING:
    from sqlalchemy import Engine

users_app = typer.Typer(
    help="Users (with auth on, each has tokens and roles).", no_args_is_help=True
)
tokens_app = typer.Typer(help="Bearer tokens: created once, stored hashed.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects and their members' roles.", no_args_is_help=True)


def _engine() -> Engine:
    from conveyor.tracking import Workspace

    return Workspace.from_settings().engine


def _actor() -> str:
    from conveyor.server.auth import local_principal

    return local_principal().name


def _echo_json(items: list[dict[str, Any]] | dict[str, Any]) -> None:
    import orjson

    typer.echo(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode())


@users_app.command("create")
def create_user(
    name: str = typer.Argument(..., help="User name."),
    admin: bool = typer.Option(False, "--admin", help="Admin in every project."),
) -> None:
    """Create a user."""
    from conveyor.governance import Users

    user = Users(_engine()).create(name, is_admin=admin, actor=_actor())
    console.print(f"created user {user.name}{' (admin)' if user.is_admin else ''}")


@users_app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users."""
    from conveyor.governance import Users

    found = Users(_engine()).list()
    if as_json:
        _echo_json([u.to_dict() for u in found])
        return
    t = table("Users", ["name", "admin", "active", "created"])
    for u in found:
        t.add_row(
            u.name,
            "yes" if u.is_admin else "",
            "yes" if u.active else "no",
            fmt_time(u.created_time),
        )
    console.print(t)


@users_app.command("disable")
def disable_user(name: str = typer.Argument(..., help="User name.")) -> None:
    """Disable a user: their tokens stop working."""
    from conveyor.governance import Users

    Users(_engine()).disable(name, actor=_actor())
    console.print(f"disabled user {name}")


@tokens_app.command("create")
def create_token(
    user: str = typer.Argument(..., help="The token's user."),
    expires_in: float | None = typer.Option(
        None, "--expires-in", min=1, help="Lifetime in seconds (default: no expiry)."
    ),
    description: str = typer.Option("", "--description", "-d", help="What it is for."),
) -> None:
    """Create a token and print it once (it is stored hashed; it cannot be shown again)."""
    from conveyor.governance import Tokens

    new = Tokens(_engine()).create(
        user, expires_in_s=expires_in, description=description, actor=_actor()
    )
    typer.echo(new.token)  # stdout holds the token alone, for `$(conveyor tokens create ...)`
    typer.echo(
        f"# token {new.info.token_id} for {user}: shown once, store it now; send it as "
        "Authorization: Bearer <token> (mlflow: MLFLOW_TRACKING_TOKEN)",
        err=True,
    )


@tokens_app.command("list")
def list_tokens(
    user: str | None = typer.Option(None, "--user", help="Only this user's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List tokens (never their secrets)."""
    from conveyor.governance import Tokens

    found = Tokens(_engine()).list(user=user)
    if as_json:
        _echo_json([t.to_dict() for t in found])
        return
    t = table("Tokens", ["id", "user", "description", "created", "expires", "revoked", "last used"])
    for tok in found:
        t.add_row(
            tok.token_id,
            tok.user,
            tok.description,
            fmt_time(tok.created_time),
            fmt_time(tok.expires_time),
            fmt_time(tok.revoked_time),
            fmt_time(tok.last_used_time),
        )
    console.print(t)


@tokens_app.command("revoke")
def revoke_token(token_id: str = typer.Argument(..., help="The token's id.")) -> None:
    """Revoke a token (servers stop accepting it within 2 seconds)."""
    from conveyor.governance import Tokens

    Tokens(_engine()).revoke(token_id, actor=_actor())
    console.print(f"revoked token {token_id}")


@projects_app.command("create")
def create_project(
    name: str = typer.Argument(..., help="Project name."),
    description: str = typer.Option("", "--description", "-d", help="What it groups."),
) -> None:
    """Create a project."""
    from conveyor.governance import Projects

    Projects(_engine()).create(name, description=description, actor=_actor())
    console.print(f"created project {name}")


@projects_app.command("list")
def list_projects(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List projects."""
    from conveyor.governance import Projects

    found = Projects(_engine()).list()
    if as_json:
        _echo_json([p.to_dict() for p in found])
        return
    t = table("Projects", ["name", "description", "created"])
    for p in found:
        t.add_row(p.name, p.description, fmt_time(p.created_time))
    console.print(t)


@projects_app.command("grant")
def grant(
    project: str = typer.Argument(..., help="Project name."),
    user: str = typer.Argument(..., help="User name."),
    role: str = typer.Argument(..., help="viewer | editor | approver | admin"),
) -> None:
    """Give a user a role in a project (replacing the one they held)."""
    from conveyor.governance import Projects

    Projects(_engine()).grant(project, user, role, actor=_actor())
    console.print(f"{user} is {role} in {project}")


@projects_app.command("revoke")
def revoke(
    project: str = typer.Argument(..., help="Project name."),
    user: str = typer.Argument(..., help="User name."),
) -> None:
    """Remove a user's role in a project."""
    from conveyor.governance import Projects

    Projects(_engine()).revoke(project, user, actor=_actor())
    console.print(f"{user} has no role in {project} any more")


@projects_app.command("members")
def members(
    project: str = typer.Argument(..., help="Project name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a project's members and their roles."""
    from conveyor.governance import Projects

    found = Projects(_engine()).members(project)
    if as_json:
        _echo_json([m.to_dict() for m in found])
        return
    t = table(f"Members of {project}", ["user", "role", "since"])
    for m in found:
        t.add_row(m.user, m.role, fmt_time(m.created_time))
    console.print(t)

"""``conveyor models``: the registry (versions, aliases, promotions, approvals) and lineage."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import orjson
import typer

from conveyor.cli.output import console, fmt_time, print_json, table

if TYPE_CHECKING:
    from conveyor.registry.client import RegistryClient
    from conveyor.registry.entities import ApprovalRequest, ModelVersion

app = typer.Typer(
    help="Model registry: versions, aliases, promotions with approvals.", no_args_is_help=True
)

_JSON = typer.Option(False, "--json", help="Print JSON.")


def _registry() -> RegistryClient:
    from conveyor.registry.client import registry_client
    from conveyor.tracking.client import open_client

    return registry_client(open_client())


def _versions_table(title: str, versions: list[ModelVersion]) -> None:
    t = table(title, ["version", "aliases", "stage", "source", "run_id", "created", "user"])
    for v in versions:
        t.add_row(
            str(v.version),
            " ".join(f"@{a}" for a in v.aliases),
            v.stage,
            v.source,
            v.run_id or "-",
            fmt_time(v.created_time),
            v.user_id,
        )
    console.print(t)


def _request_line(r: ApprovalRequest) -> str:
    approvals = sum(d.decision == "approve" for d in r.decisions)
    return (
        f"request {r.request_id}: {r.name} v{r.version} -> @{r.alias} is {r.state} "
        f"({approvals}/{r.required} approvals by role {r.role}; requested by {r.requester})"
    )


@app.command()
def create(
    name: str = typer.Argument(..., help="Registered model name."),
    description: str = typer.Option("", help="What the model does."),
    project: str = typer.Option("default", help="Project the model belongs to."),
) -> None:
    """Create a registered model."""
    model = _registry().create_model(name, description=description, project=project)
    console.print(f"created registered model {model.name} (project {model.project})")


@app.command("list")
def list_(
    name_like: str | None = typer.Option(None, "--name", help="SQL LIKE pattern, e.g. churn%."),
    limit: int = typer.Option(100, min=1, max=10_000, help="At most this many."),
    as_json: bool = _JSON,
) -> None:
    """List registered models."""
    models = _registry().search_models(name_like=name_like, max_results=limit).models
    if as_json:
        print_json(models)
        return
    t = table("registered models", ["name", "latest", "aliases", "project", "updated"])
    for m in models:
        aliases = " ".join(f"@{a}=v{v}" for a, v in m.aliases.items())
        latest = "-" if m.latest_version is None else str(m.latest_version)
        t.add_row(m.name, latest, aliases, m.project, fmt_time(m.updated_time))
    console.print(t)


@app.command()
def show(
    name: str = typer.Argument(..., help="Registered model name."), as_json: bool = _JSON
) -> None:
    """Show a registered model with its versions and approval policies."""
    registry = _registry()
    model = registry.get_model(name)
    versions = registry.search_versions(name=name).versions
    policies = registry.policies(name)
    if as_json:
        data = {
            "model": model.model_dump(mode="json"),
            "versions": [v.model_dump(mode="json") for v in versions],
            "policies": [p.model_dump(mode="json") for p in policies],
        }
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(f"[bold]{model.name}[/bold] (project {model.project}) {model.description}")
    for p in policies:
        console.print(f"  policy: @{p.alias} needs {p.required} approval(s) by role {p.role}")
    _versions_table("versions", versions)


@app.command()
def register(
    source: str = typer.Argument(..., help="Model URI, e.g. runs:/RUN_ID/model."),
    name: str = typer.Option(..., "--name", "-n", help="Registered model (created if missing)."),
    description: str = typer.Option("", help="What changed in this version."),
) -> None:
    """Register a logged model as the next version of NAME."""
    version = _registry().create_version(name, source, description=description)
    console.print(f"registered {source} as models:/{version.name}/{version.version}")


@app.command()
def resolve(uri: str = typer.Argument(..., help="models:/NAME@ALIAS, models:/NAME/3 ...")) -> None:
    """Print the version and source a models:/ URI points at."""
    v = _registry().resolve(uri)
    console.print(f"{uri} -> models:/{v.name}/{v.version} ({v.source})")


@app.command()
def alias(
    name: str = typer.Argument(..., help="Registered model name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="Alias, e.g. staging."),
    version: int | None = typer.Argument(None, help="Version to point at (omit with --delete)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias."),
) -> None:
    """Set or delete an alias directly (aliases under an approval policy need `promote`)."""
    registry = _registry()
    if delete:
        registry.delete_alias(name, alias_name)
        console.print(f"removed @{alias_name} from {name}")
        return
    if version is None:
        console.print("[red]error:[/red] give a VERSION, or --delete to remove the alias")
        raise typer.Exit(2)
    previous = registry.set_alias(name, alias_name, version)
    was = "" if previous is None else f" (was v{previous})"
    console.print(f"{name}@{alias_name} -> v{version}{was}")


@app.command()
def promote(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Argument(..., help="Version to promote."),
    to: str = typer.Option(..., "--to", help="Alias to move, e.g. production."),
    comment: str = typer.Option("", help="Why (recorded in the audit log)."),
) -> None:
    """Move an alias to a version, or request approval when a policy requires it."""
    result = _registry().promote(name, version, to, comment=comment)
    if result.state == "applied":
        was = "" if result.previous_version is None else f" (was v{result.previous_version})"
        console.print(f"{name}@{to} -> v{version}{was}")
        return
    assert result.request is not None  # noqa: S101 - a pending promotion carries its request
    console.print(_request_line(result.request))
    console.print(f"approve with: conveyor models approve {result.request.request_id}")


@app.command()
def approve(
    request_id: str = typer.Argument(..., help="Request id from `conveyor models promote`."),
    comment: str = typer.Option("", help="Recorded with the approval."),
) -> None:
    """Approve a promotion request (the approval that completes it moves the alias)."""
    console.print(_request_line(_registry().decide(request_id, approve=True, comment=comment)))


@app.command()
def reject(
    request_id: str = typer.Argument(..., help="Request id."),
    comment: str = typer.Option("", help="Why."),
) -> None:
    """Reject a promotion request."""
    console.print(_request_line(_registry().decide(request_id, approve=False, comment=comment)))


@app.command()
def cancel(request_id: str = typer.Argument(..., help="Request id.")) -> None:
    """Withdraw your pending promotion request."""
    console.print(_request_line(_registry().cancel_request(request_id)))


@app.command()
def requests(
    name: str | None = typer.Option(None, help="Only this model."),
    state: str | None = typer.Option(None, help="pending, applied, rejected or cancelled."),
    as_json: bool = _JSON,
) -> None:
    """List promotion requests, newest first."""
    found = _registry().requests(name=name, state=state)
    if as_json:
        print_json(found)
        return
    t = table(
        "promotion requests", ["request", "model", "version", "alias", "state", "by", "created"]
    )
    for r in found:
        t.add_row(
            r.request_id,
            r.name,
            str(r.version),
            r.alias,
            r.state,
            r.requester,
            fmt_time(r.created_time),
        )
    console.print(t)


@app.command()
def policy(
    name: str = typer.Argument(..., help="Registered model name."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="Alias, or * for every alias."),
    required: int = typer.Option(1, min=1, max=20, help="Approvals needed."),
    role: str = typer.Option("approver", help="Role an approver must hold."),
    delete: bool = typer.Option(False, "--delete", help="Remove the policy."),
) -> None:
    """Require approvals to move an alias of a model."""
    registry = _registry()
    if delete:
        registry.delete_policy(name, alias_name)
        console.print(f"removed the approval policy on {name}@{alias_name}")
        return
    p = registry.set_policy(name, alias_name, required=required, role=role)
    console.print(f"{name}@{p.alias} now needs {p.required} approval(s) by role {p.role}")


@app.command()
def stage(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Argument(..., help="Version."),
    to: str = typer.Option(..., "--to", help="None, Staging, Production or Archived."),
    archive_existing: bool = typer.Option(False, help="Archive other versions in that stage."),
) -> None:
    """Move a version to a legacy MLflow stage (aliases are the modern way)."""
    v = _registry().transition_stage(name, version, to, archive_existing=archive_existing)
    console.print(f"{name} v{v.version} is now in stage {v.stage}")


@app.command()
def delete(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int | None = typer.Option(None, help="Delete only this version."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete a model version, or a whole registered model."""
    what = (
        f"{name} v{version}" if version is not None else f"registered model {name} and all versions"
    )
    if not yes and not typer.confirm(f"delete {what}?"):
        raise typer.Exit(1)
    registry = _registry()
    if version is not None:
        registry.delete_version(name, version)
    else:
        registry.delete_model(name)
    console.print(f"deleted {what}")


def _print_lineage(graph: dict[str, Any]) -> None:
    console.print(f"[bold]{graph['subject']}[/bold]")
    for d in graph.get("datasets", []):
        console.print(
            f"  data    {d['uri']} ({d['context']}, {d['rows']} rows, {d['digest'][:12]})"
        )
    run = graph.get("run")
    if run:
        code = run.get("code_version") or "no git commit recorded"
        dirty = " (dirty)" if run.get("code_dirty") else ""
        params = ", ".join(f"{k}={v}" for k, v in sorted(run["params"].items())[:8])
        console.print(
            f"  run     {run['run_id']} {run['name']!r} in {run['experiment']} [{run['status']}]"
        )
        console.print(f"          code {code}{dirty}; params {params or '-'}")
    for r in graph.get("runs", []):
        console.print(f"  run     {r['run_id']} {r['name']!r} ({r['context']})")
    mv = graph.get("model_version")
    if mv:
        aliases = " ".join(f"@{a}" for a in graph.get("aliases", []))
        console.print(f"  model   models:/{mv['name']}/{mv['version']} {aliases} [{mv['stage']}]")
    for v in graph.get("model_versions", []) + graph.get("other_versions_from_run", []):
        aliases = " ".join(f"@{a}" for a in v["aliases"])
        console.print(f"  model   {v['uri']} {aliases}")
    for dep in graph.get("deployments", []):
        console.print(f"  deploy  {dep['uri']} as {dep['role']} (target {dep['target']})")


def lineage(
    uri: str = typer.Argument(
        ..., help="models:/NAME/VERSION, models:/NAME@ALIAS, data:NAME@V, runs:/ID."
    ),
    as_json: bool = _JSON,
) -> None:
    """Show lineage: dataset versions -> run (code, params) -> model versions -> aliases."""
    graph = _registry().lineage(uri)
    if as_json:
        sys.stdout.write(orjson.dumps(graph, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_lineage(graph)

"""Project scoping of tracking routes when auth is on.

The rule, the same on every route: an object in a project where the caller holds no role does
not exist for them (404 on reads and writes alike, so its existence does not leak); an object
they may see but not change is a 403. Lists and searches leave other projects out. With auth off
none of this is installed (``create_app`` adds the dependencies only with ``--auth``), and the
helpers the routes call return before any lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from conveyor.errors import NotFoundError
from conveyor.governance.roles import DEFAULT_PROJECT, Role
from conveyor.governance.scoping import ProjectResolver
from conveyor.server.auth import auth_enabled, needed_role, principal, require
from conveyor.tracking import Experiment, LocalClient


def resolver_of(request: Request) -> ProjectResolver:
    """Return the app's project resolver (built with the app when auth is on)."""
    resolver: ProjectResolver = request.app.state.project_resolver
    return resolver


def _parse_experiment_id(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def check_object(request: Request, project: str | None, role: Role, missing: str) -> None:
    """404 (``missing``) if the caller cannot see ``project``, 403 if they cannot act in it."""
    if project is None:
        return  # no such object: the route itself answers not found
    if principal(request).role_in(project) is None:
        raise NotFoundError(missing)
    require(request, project=project, role=role)


def _run_missing(run_id: str) -> str:
    return f"no run with id {run_id!r}; see `conveyor runs list`"


def _experiment_missing(experiment_id: object) -> str:
    return f"no experiment with id {experiment_id!r}; see `conveyor experiments list`"


async def authorize_run(request: Request, run_id: str, role: Role) -> None:
    """Check the caller may act with ``role`` on run ``run_id`` (no-op with auth off)."""
    if not auth_enabled(request):
        return
    resolver = resolver_of(request)
    project = resolver.cached_run(run_id) or await run_in_threadpool(resolver.run, run_id)
    check_object(request, project, role, _run_missing(run_id))


async def authorize_experiment(request: Request, experiment_id: object, role: Role) -> None:
    """Check the caller may act with ``role`` on experiment ``experiment_id``."""
    if not auth_enabled(request):
        return
    exp_id = _parse_experiment_id(experiment_id)
    if exp_id is None:
        return  # malformed: the route answers 400
    resolver = resolver_of(request)
    project = resolver.cached_experiment(exp_id) or await run_in_threadpool(
        resolver.experiment, exp_id
    )
    check_object(request, project, role, _experiment_missing(experiment_id))


def require_experiment(request: Request, experiment_id: object, role: Role) -> None:
    """``authorize_experiment`` for sync routes (they run in the threadpool already)."""
    if not auth_enabled(request):
        return
    exp_id = _parse_experiment_id(experiment_id)
    if exp_id is not None:
        project = resolver_of(request).experiment(exp_id)
        check_object(request, project, role, _experiment_missing(experiment_id))


async def authorize_experiment_name(request: Request, name: str, role: Role) -> None:
    """Check the caller may act with ``role`` on the experiment named ``name``."""
    if not auth_enabled(request):
        return
    project = await run_in_threadpool(resolver_of(request).experiment_named, name)
    check_object(request, project, role, f"no experiment named {name!r}")


def create_in_project(
    request: Request,
    client: LocalClient,
    name: str,
    tags: Mapping[str, str],
    project: str | None,
) -> Experiment:
    """Create an experiment in ``project`` (default: ``default``); needs editor there."""
    project = project or DEFAULT_PROJECT
    require(request, project=project, role="editor")
    # one transaction: the experiment is born in its project (a missing project: 404)
    return client.workspace.experiments.create(name, tags=dict(tags), project=project)


def visible_experiment_ids(request: Request, experiment_ids: Iterable[str]) -> list[str]:
    """Return the ids among ``experiment_ids`` whose project the caller may read (sync)."""
    ids = list(experiment_ids)
    visible = principal(request).visible_projects() if auth_enabled(request) else None
    if visible is None:
        return ids
    parsed = {i: _parse_experiment_id(i) for i in ids}
    projects = resolver_of(request).experiments(p for p in parsed.values() if p is not None)
    return [i for i, p in parsed.items() if p is not None and projects.get(p) in visible]


def experiment_visible(request: Request, experiment_id: str) -> bool:
    """Whether the caller may read experiment ``experiment_id`` (sync; True with auth off)."""
    return bool(visible_experiment_ids(request, [experiment_id]))


async def scope_native_tracking(request: Request) -> None:
    """Router dependency of ``/api/v1`` tracking: check the run or experiment in the path."""
    role = needed_role(request.method, request.url.path)
    params = request.path_params
    if "run_id" in params:
        await authorize_run(request, params["run_id"], role)
    elif "experiment_id" in params:
        await authorize_experiment(request, params["experiment_id"], role)
    elif "name" in params:  # /experiments/by-name/{name}
        await authorize_experiment_name(request, params["name"], role)


async def scope_mlflow_artifacts(request: Request) -> None:
    """Router dependency of the artifact proxy: paths start with the experiment id."""
    path = request.path_params.get("path", request.query_params.get("path", ""))
    first = path.strip("/").partition("/")[0]
    role = needed_role(request.method, request.url.path)
    if _parse_experiment_id(first) is None:
        # Outside any experiment's tree (the root listing, foreign paths): admins only.
        if not principal(request).is_admin:
            raise NotFoundError(f"no artifact at {path!r}", field="path")
        return
    await authorize_experiment(request, first, role)


async def scope_monitoring(request: Request) -> None:
    """Router dependency of monitoring: monitors have no project yet, they live in default."""
    require(request, project=DEFAULT_PROJECT, role=needed_role(request.method, request.url.path))


__all__ = [
    "authorize_experiment",
    "authorize_experiment_name",
    "authorize_run",
    "check_object",
    "create_in_project",
    "experiment_visible",
    "require_experiment",
    "resolver_of",
    "scope_mlflow_artifacts",
    "scope_monitoring",
    "scope_native_tracking",
    "visible_experiment_ids",
]

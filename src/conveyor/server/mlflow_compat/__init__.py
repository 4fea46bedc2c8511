"""The MLflow-compatible REST API: an unmodified ``mlflow`` client can track to Conveyor.

Tracking routes live under ``/api/2.0/mlflow`` (and ``/ajax-api/2.0/mlflow``, the prefix
MLflow's UI uses); the artifact proxy under ``/api/2.0/mlflow-artifacts``. Errors render as
MLflow's ``{"error_code", "message"}`` (see ``conveyor.server.errors``).
"""

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI, params
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from conveyor.server.mlflow_compat import artifacts, experiments, logged_models, registry, runs

TRACKING_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")


HOT_PATHS = (
    "/runs/log-metric",
    "/runs/log-batch",
    "/runs/update",
    "/runs/create",
    "/runs/log-parameter",
    "/runs/set-tag",
    "/runs/get",
)


def _hot_first(route: BaseRoute) -> int:
    path = getattr(route, "path", "")
    return HOT_PATHS.index(path) if path in HOT_PATHS else len(HOT_PATHS)


# Each group of MLflow paths (``/runs/...``, ``/registered-models/...``) gets its own mount, so a
# request walks one group's routes (at most ~13) rather than all ~50: a route check costs ~5 us.
GROUPED = ("runs", "experiments", "registered-models", "model-versions", "metrics")


def _grouped(
    routers: Sequence[APIRouter], dependencies: Sequence[params.Depends]
) -> tuple[dict[str, APIRouter], APIRouter]:
    """Split routes by their first path segment into one router per ``GROUPED`` segment."""
    groups: dict[str, APIRouter] = {}
    rest = APIRouter(dependencies=list(dependencies))
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            head, _, tail = route.path.strip("/").partition("/")
            if head in GROUPED and tail:
                target = groups.setdefault(head, APIRouter(dependencies=list(dependencies)))
                path = f"/{tail}"
            else:
                target, path = rest, route.path
            target.add_api_route(
                path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                name=route.name,
                status_code=route.status_code,
                response_class=route.response_class,
                dependencies=route.dependencies,
                include_in_schema=route.include_in_schema,
            )
    return groups, rest


def mount(
    app: FastAPI,
    *,
    tracking_dependencies: Sequence[params.Depends] = (),
    artifact_dependencies: Sequence[params.Depends] = (),
) -> None:
    """Mount the MLflow API on ``app`` at every prefix MLflow's clients and UI use.

    Mounted sub-applications are matched by prefix first, so a request walks only its own
    API's routes: with one flat route table every MLflow call was checked against ~80 routes.
    The dependencies run before every tracking / artifact route (project scoping with auth).
    """
    # Plain routers, not sub-applications: a mounted FastAPI app would run a second
    # middleware stack on every call. Errors still render MLflow's way: the parent's handlers
    # choose the shape by path (``conveyor.server.errors``).
    # Routes are matched in order: the calls a training loop makes per step come first.
    runs.router.routes.sort(key=_hot_first)
    groups, rest = _grouped(
        (runs.router, experiments.router, registry.router, logged_models.router),
        tracking_dependencies,
    )
    proxy = APIRouter(dependencies=list(artifact_dependencies))
    proxy.include_router(artifacts.router)
    for prefix in ARTIFACT_PREFIXES:  # before the tracking prefix, which is its prefix too
        app.mount(prefix, proxy)
    for prefix in TRACKING_PREFIXES:
        for head, group in groups.items():
            app.mount(f"{prefix}/{head}", group)
        app.mount(prefix, rest)
    app.include_router(artifacts.info_router, include_in_schema=False)


__all__ = ["ARTIFACT_PREFIXES", "TRACKING_PREFIXES", "mount"]

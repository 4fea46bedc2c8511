"""The MLflow-compatible REST API: an unmodified ``mlflow`` client can track to Conveyor.

Tracking routes live under ``/api/2.0/mlflow`` (and ``/ajax-api/2.0/mlflow``, the prefix
MLflow's UI uses); the artifact proxy under ``/api/2.0/mlflow-artifacts``. Errors render as
MLflow's ``{"error_code", "message"}`` (see ``conveyor.server.errors``).
"""

from fastapi import FastAPI
from starlette.datastructures import State

from conveyor.server.errors import install_error_handlers
from conveyor.server.mlflow_compat import artifacts, experiments, runs

TRACKING_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")


def _sub_app(state: State) -> FastAPI:
    sub = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    sub.state = state  # the parent's workspace client
    install_error_handlers(sub)
    return sub


def mount(app: FastAPI) -> None:
    """Mount the MLflow API on ``app`` at every prefix MLflow's clients and UI use.

    Mounted sub-applications are matched by prefix first, so a request walks only its own
    API's routes: with one flat route table every MLflow call was checked against ~80 routes.
    """
    tracking = _sub_app(app.state)
    tracking.include_router(experiments.router)
    tracking.include_router(runs.router)
    proxy = _sub_app(app.state)
    proxy.include_router(artifacts.router)
    for prefix in ARTIFACT_PREFIXES:  # before the tracking prefix, which is its prefix too
        app.mount(prefix, proxy)
    for prefix in TRACKING_PREFIXES:
        app.mount(prefix, tracking)
    app.include_router(artifacts.info_router, include_in_schema=False)


__all__ = ["ARTIFACT_PREFIXES", "TRACKING_PREFIXES", "mount"]

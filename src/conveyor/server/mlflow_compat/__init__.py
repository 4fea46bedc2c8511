"""The MLflow-compatible REST API: an unmodified ``mlflow`` client can track to Conveyor.

Tracking routes live under ``/api/2.0/mlflow`` (and ``/ajax-api/2.0/mlflow``, the prefix
MLflow's UI uses); the artifact proxy under ``/api/2.0/mlflow-artifacts``. Errors render as
MLflow's ``{"error_code", "message"}`` (see ``conveyor.server.errors``).
"""

from fastapi import APIRouter

from conveyor.server.mlflow_compat import artifacts, experiments, runs

TRACKING_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")

router = APIRouter(tags=["mlflow"])
for _prefix in TRACKING_PREFIXES:
    _public = _prefix.startswith("/api/")
    router.include_router(experiments.router, prefix=_prefix, include_in_schema=_public)
    router.include_router(runs.router, prefix=_prefix, include_in_schema=_public)
for _prefix in ARTIFACT_PREFIXES:
    _public = _prefix.startswith("/api/")
    router.include_router(artifacts.router, prefix=_prefix, include_in_schema=_public)
router.include_router(artifacts.info_router, include_in_schema=False)

__all__ = ["ARTIFACT_PREFIXES", "TRACKING_PREFIXES", "router"]

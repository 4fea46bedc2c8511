"""The FastAPI application: native API, MLflow-compatible API, health."""

from __future__ import annotations

from fastapi import FastAPI

from conveyor import __version__
from conveyor.server import mlflow_compat
from conveyor.server.api import tracking as tracking_api
from conveyor.server.body_limit import BodyLimitMiddleware
from conveyor.server.errors import install_error_handlers
from conveyor.settings import get_settings
from conveyor.tracking import LocalClient, Workspace


def create_app(
    workspace: Workspace | None = None, *, max_request_bytes: int | None = None
) -> FastAPI:
    """Build the server application over ``workspace`` (the settings' workspace by default)."""
    settings = get_settings()
    app = FastAPI(
        title="Conveyor",
        version=__version__,
        description="MLOps platform: tracking, registry, serving, monitoring.",
        # FastAPI's doc pages load their scripts from a CDN; the spec itself is served.
        docs_url=None,
        redoc_url=None,
    )
    app.state.client = LocalClient(workspace=workspace or Workspace.from_settings(settings))
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max_request_bytes or settings.max_request_bytes
    )
    install_error_handlers(app)

    mlflow_compat.mount(app)  # first: its prefixes are matched before the native routes

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(tracking_api.router, prefix="/api/v1")
    return app

"""The FastAPI application: native API, MLflow-compatible API, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from conveyor import __version__
from conveyor.server import mlflow_compat
from conveyor.server.api import monitoring as monitoring_api
from conveyor.server.api import tracking as tracking_api
from conveyor.server.body_limit import BodyLimitMiddleware
from conveyor.server.errors import install_error_handlers
from conveyor.settings import get_settings
from conveyor.tracking import LocalClient, Workspace


def monitors_of(app: FastAPI) -> Any:
    """Return the app's ``Monitors`` service, built on first use (it loads pandas and SciPy)."""
    if app.state.monitors is None:
        from conveyor.monitoring.service import Monitors

        ws = app.state.client.workspace
        app.state.monitors = Monitors(ws.engine, ws.blobs)
    return app.state.monitors


def _lifespan(app: FastAPI, interval_s: float) -> Any:
    """Run the monitor loop while the server runs (``interval_s`` 0: not at all)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from conveyor.monitoring.loop import MonitorLoop

        engine = app.state.client.workspace.engine
        loop = (
            MonitorLoop(lambda: monitors_of(app), interval_s=interval_s, engine=engine).start()
            if interval_s > 0
            else None
        )
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()

    return lifespan


def create_app(
    workspace: Workspace | None = None,
    *,
    max_request_bytes: int | None = None,
    monitor_interval_s: float | None = None,
) -> FastAPI:
    """Build the server application over ``workspace`` (the settings' workspace by default).

    The server also evaluates every monitor every ``monitor_interval_s`` seconds (setting
    ``CONVEYOR_MONITOR_INTERVAL_S``, default 30; 0 turns the loop off).
    """
    settings = get_settings()
    app = FastAPI(
        title="Conveyor",
        version=__version__,
        description="MLOps platform: tracking, registry, serving, monitoring.",
        # FastAPI's doc pages load their scripts from a CDN; the spec itself is served.
        docs_url=None,
        redoc_url=None,
    )
    ws = workspace or Workspace.from_settings(settings)
    app.state.client = LocalClient(workspace=ws)
    app.state.monitors = None  # built on first use: see monitors_of
    interval = settings.monitor_interval_s if monitor_interval_s is None else monitor_interval_s
    app.router.lifespan_context = _lifespan(app, interval)
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=max_request_bytes or settings.max_request_bytes
    )
    install_error_handlers(app)

    mlflow_compat.mount(app)  # first: its prefixes are matched before the native routes

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False, response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        from conveyor.monitoring import prometheus
        from conveyor.monitoring.loop import has_monitors

        def render() -> str:
            if not has_monitors(ws.engine):
                return prometheus.render([], {})
            monitors = monitors_of(app)
            return prometheus.render(monitors.latest(), monitors.all_alert_statuses())

        text = await run_in_threadpool(render)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(tracking_api.router, prefix="/api/v1")
    app.include_router(monitoring_api.router, prefix="/api/v1")
    return app

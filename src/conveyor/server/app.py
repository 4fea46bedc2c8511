"""The FastAPI application: native API, MLflow-compatible API, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, params
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from conveyor import __version__
from conveyor.server import mlflow_compat
from conveyor.server.api import datasets as datasets_api
from conveyor.server.api import deployments as deployments_api
from conveyor.server.api import identity as identity_api
from conveyor.server.api import monitoring as monitoring_api
from conveyor.server.api import registry as registry_api
from conveyor.server.api import rollouts as rollouts_api
from conveyor.server.api import tracking as tracking_api
from conveyor.server.api import webhooks as webhooks_api
from conveyor.server.body_limit import BodyLimitMiddleware
from conveyor.server.errors import install_error_handlers
from conveyor.server.inference_routes import InferenceRoutes, InProcessServing
from conveyor.settings import get_settings
from conveyor.tracking import LocalClient, Workspace


def monitors_of(app: FastAPI) -> Any:
    """Return the app's ``Monitors`` service, built on first use (it loads pandas and SciPy)."""
    if app.state.monitors is None:
        from conveyor.monitoring.service import Monitors

        ws = app.state.client.workspace
        app.state.monitors = Monitors(ws.engine, ws.blobs)
    return app.state.monitors


def _lifespan(app: FastAPI, interval_s: float, webhook_interval_s: float = 0.0) -> Any:
    """Run the monitor loop, the webhook dispatcher (0: not at all) and the rollout controller."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        from conveyor.monitoring.loop import MonitorLoop
        from conveyor.serving.controller import RolloutController

        engine = app.state.client.workspace.engine
        loop = (
            MonitorLoop(lambda: monitors_of(app), interval_s=interval_s, engine=engine).start()
            if interval_s > 0
            else None
        )
        dispatcher = _start_dispatcher(engine, webhook_interval_s)
        rollouts = RolloutController(engine, interval_s=1.0).start()  # one query a round when idle
        serving: InProcessServing | None = app.state.serving
        if serving is not None:
            await serving.start()
        try:
            yield
        finally:
            if serving is not None:
                await serving.stop()
            rollouts.stop()
            if loop is not None:
                loop.stop()
            if dispatcher is not None:
                dispatcher.stop()

    return lifespan


def _start_dispatcher(engine: Any, interval_s: float) -> Any:
    """Start the webhook dispatcher thread (None when ``interval_s`` is 0)."""
    if interval_s <= 0:
        return None
    from conveyor.governance.dispatcher import DispatchConfig, Dispatcher

    settings = get_settings()
    config = DispatchConfig(
        max_attempts=settings.webhook_max_attempts,
        backoff_s=settings.webhook_backoff_s,
        backoff_cap_s=settings.webhook_backoff_cap_s,
        timeout_s=settings.webhook_timeout_s,
    )
    return Dispatcher(engine, config).start(interval_s)


def create_app(
    workspace: Workspace | None = None,
    *,
    max_request_bytes: int | None = None,
    monitor_interval_s: float | None = None,
    auth: bool | None = None,
    webhook_interval_s: float | None = None,
    serve_deployments: bool | None = None,
    serving_poll_s: float = 1.0,
) -> FastAPI:
    """Build the server application over ``workspace`` (the settings' workspace by default).

    The server also evaluates every monitor every ``monitor_interval_s`` seconds (setting
    ``CONVEYOR_MONITOR_INTERVAL_S``, default 30; 0 turns the loop off). With ``auth`` (setting
    ``CONVEYOR_AUTH``) every route but ``/health`` needs a bearer token and tracking routes are
    scoped to the caller's projects (``conveyor.server.auth``, ``project_scope``). With
    ``serve_deployments`` (setting ``CONVEYOR_SERVE_DEPLOYMENTS``, default on) it also serves
    every deployment, polling the store every ``serving_poll_s`` (``inference_routes``).
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
    app.state.authenticator = None  # set by _install_auth when auth is on
    interval = settings.monitor_interval_s if monitor_interval_s is None else monitor_interval_s
    hooks = settings.webhook_interval_s if webhook_interval_s is None else webhook_interval_s
    app.router.lifespan_context = _lifespan(app, interval, hooks)
    max_bytes = max_request_bytes or settings.max_request_bytes
    serving_on = settings.serve_deployments if serve_deployments is None else serve_deployments
    _install_serving(app, ws, is_on=serving_on, poll_s=serving_poll_s, max_bytes=max_bytes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_bytes)
    install_error_handlers(app)
    auth_on = settings.auth if auth is None else auth
    scoped = _install_auth(app, ws, settings.auth_cache_ttl_s) if auth_on else _NO_SCOPES

    # first: its prefixes are matched before the native routes
    mlflow_compat.mount(
        app,
        tracking_dependencies=scoped.mlflow_tracking,
        artifact_dependencies=scoped.mlflow_artifacts,
    )

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
        if app.state.serving is not None:  # the deployments served in-process, one scrape
            text += app.state.serving.render_metrics()
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(tracking_api.router, prefix="/api/v1", dependencies=scoped.tracking)
    app.include_router(monitoring_api.router, prefix="/api/v1", dependencies=scoped.monitoring)
    app.include_router(identity_api.router, prefix="/api/v1")
    app.include_router(webhooks_api.router, prefix="/api/v1")
    app.include_router(registry_api.router, prefix="/api/v1")
    app.include_router(datasets_api.router, prefix="/api/v1")
    app.include_router(deployments_api.router, prefix="/api/v1")
    app.include_router(rollouts_api.router, prefix="/api/v1")
    return app


def _install_serving(
    app: FastAPI, ws: Workspace, *, is_on: bool, poll_s: float, max_bytes: int
) -> None:
    """Serve the store's deployments in-process (``inference_routes``), or not at all."""
    app.state.serving = None
    if is_on:  # added first, so innermost: the body limit and auth apply to inference too
        app.state.serving = InProcessServing(ws, poll_s=poll_s, max_request_bytes=max_bytes)
        app.add_middleware(InferenceRoutes, serving=app.state.serving)


@dataclass(frozen=True)
class _Scopes:
    """Router dependencies that scope requests to the caller's projects (auth on only)."""

    tracking: list[params.Depends] = field(default_factory=list)
    monitoring: list[params.Depends] = field(default_factory=list)
    mlflow_tracking: list[params.Depends] = field(default_factory=list)
    mlflow_artifacts: list[params.Depends] = field(default_factory=list)


_NO_SCOPES = _Scopes()


def _install_auth(app: FastAPI, ws: Workspace, ttl_s: float) -> _Scopes:
    """Authenticate every request and return the project-scoping dependencies."""
    from conveyor.governance.scoping import ProjectResolver
    from conveyor.governance.tokens import Authenticator
    from conveyor.server import project_scope
    from conveyor.server.auth import AuthMiddleware
    from conveyor.server.mlflow_compat import scope as mlflow_scope

    app.state.authenticator = Authenticator(ws.engine, ttl_s=ttl_s)
    app.state.project_resolver = ProjectResolver(ws.engine)
    app.add_middleware(AuthMiddleware, authenticator=app.state.authenticator)
    return _Scopes(
        tracking=[Depends(project_scope.scope_native_tracking)],
        monitoring=[Depends(project_scope.scope_monitoring)],
        mlflow_tracking=[Depends(mlflow_scope.scope_mlflow_tracking)],
        mlflow_artifacts=[Depends(project_scope.scope_mlflow_artifacts)],
    )

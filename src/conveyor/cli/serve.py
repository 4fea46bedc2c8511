"""``conveyor server``: serve the workspace over REST (native + MLflow-compatible API)."""

from __future__ import annotations

import typer

from conveyor.cli.output import console


def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(5000, "--port", "-p", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    auth: bool = typer.Option(
        False, "--auth", help="Require bearer tokens (`conveyor tokens create USER`)."
    ),
) -> None:
    """Serve the workspace: /api/v1 (OpenAPI at /openapi.json) and the MLflow API."""
    import os

    import uvicorn

    from conveyor.settings import get_settings
    from conveyor.tracking import Workspace

    if auth:  # workers build the app from the settings: hand the flag on through the env
        os.environ["CONVEYOR_AUTH"] = "1"
        get_settings.cache_clear()
    settings = get_settings()
    Workspace.from_settings(settings).close()  # migrate once, before workers start
    console.print(
        f"Conveyor server on http://{host}:{port}  (workspace {settings.resolved_db_url()})\n"
        f"  OpenAPI: http://{host}:{port}/openapi.json\n"
        f"  MLflow clients: MLFLOW_TRACKING_URI=http://{host}:{port}\n"
        f"  Auth: {'bearer tokens required' if settings.auth else 'off (single local user)'}"
    )
    uvicorn.run(
        "conveyor.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )

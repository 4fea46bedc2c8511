"""``conveyor server``: serve the workspace over REST (native + MLflow-compatible API)."""

from __future__ import annotations

from typing import Any

import typer

from conveyor.cli.output import console

MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


def server(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(5000, "--port", "-p", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    auth: bool = typer.Option(
        False, "--auth", help="Require bearer tokens (`conveyor tokens create USER`)."
    ),
    serving: bool = typer.Option(
        True, "--serving/--no-serving", help="Also serve every deployment (/v2, /deployments)."
    ),
) -> None:
    """Serve the workspace: /api/v1 (OpenAPI at /openapi.json), the MLflow API, deployments."""
    import os
    import tempfile

    import uvicorn

    from conveyor.settings import get_settings
    from conveyor.tracking import Workspace

    # workers build the app from the settings: hand the flags on through the env
    if auth:
        os.environ["CONVEYOR_AUTH"] = "1"
    if not serving:
        os.environ["CONVEYOR_SERVE_DEPLOYMENTS"] = "0"
    get_settings.cache_clear()
    settings = get_settings()
    Workspace.from_settings(settings).close()  # migrate once, before workers start
    if workers > 1 and settings.serve_deployments and not os.environ.get(MULTIPROC):
        # every worker serves the deployments: /metrics adds up the workers' serving series
        os.environ[MULTIPROC] = tempfile.mkdtemp(prefix="conveyor-metrics-")
    console.print(
        f"Conveyor server on http://{host}:{port}  (workspace {settings.resolved_db_url()})\n"
        f"  OpenAPI: http://{host}:{port}/openapi.json\n"
        f"  MLflow clients: MLFLOW_TRACKING_URI=http://{host}:{port}\n"
        f"  Auth: {'bearer tokens required' if settings.auth else 'off (single local user)'}\n"
        f"  Deployments: {_serving_line(settings.serve_deployments, host, port)}"
    )
    uvicorn.run(
        "conveyor.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


def _serving_line(is_on: bool, host: str, port: int) -> str:
    if not is_on:
        return "not served (--no-serving); use `conveyor serve --all`"
    return (
        f"served here, e.g. POST http://{host}:{port}/deployments/NAME/invocations "
        "or /v2/models/NAME/infer"
    )


def serve(  # noqa: PLR0917 - typer maps options to parameters
    model_uri: str | None = typer.Argument(
        None,
        help="models:/NAME@ALIAS (follows the alias: hot swap when it moves) or models:/NAME/N.",
    ),
    deployment: list[str] = typer.Option(
        [], "--deployment", "-d", help="Serve a named deployment (repeatable)."
    ),
    all_deployments: bool = typer.Option(
        False, "--all", help="Serve every deployment (new ones are picked up as they appear)."
    ),
    name: str | None = typer.Option(
        None, help="Name to serve a model URI under (default: the model's)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8080, "--port", "-p", help="HTTP port."),
    grpc_port: int | None = typer.Option(None, "--grpc-port", help="Also serve OIP v2 over gRPC."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes (one per core)."),
    max_batch_size: int | None = typer.Option(None, help="Most rows per model call (URI serving)."),
    max_latency_ms: float | None = typer.Option(None, help="Longest wait for a batch to fill."),
    batching: bool = typer.Option(True, "--batching/--no-batching", help="Adaptive batching."),
    max_request_mb: float = typer.Option(64.0, help="Larger request bodies are refused (413)."),
    poll_s: float = typer.Option(1.0, help="Seconds between checks for alias and policy changes."),
    trust_pickle: bool = typer.Option(False, help="Allow pickle-based model formats."),
    log_sample: float = typer.Option(
        0.0, help="Share of requests (0-1) written to the request log (URI serving)."
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve models: Open Inference Protocol v2 (REST, gRPC), MLflow /invocations, /predict."""
    import uvicorn

    from conveyor.errors import InvalidArgumentError
    from conveyor.serving.factory import ServeSpec
    from conveyor.serving.http_protocol import OneWriteHttpToolsProtocol
    from conveyor.serving.policy import check_log_sample

    if not model_uri and not deployment and not all_deployments:
        msg = "give a model URI (models:/churn@production), --deployment NAME or --all"
        raise InvalidArgumentError(msg, field="model_uri")
    if workers < 1:
        raise InvalidArgumentError("--workers must be at least 1", field="workers")
    share = check_log_sample(log_sample, field="log_sample")
    spec = ServeSpec(
        model_uris=[model_uri] if model_uri else [],
        deployments=list(deployment),
        all_deployments=all_deployments,
        name=name,
        poll_s=poll_s,
        max_request_bytes=int(max_request_mb * 1024 * 1024),
        grpc_port=grpc_port,
        host=host,
        trust_pickle=trust_pickle,
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
        batching=batching,
        log_sample=share,
    )
    _hand_over(spec, workers)
    served = model_uri or ", ".join(deployment) or "every deployment"
    console.print(
        f"Conveyor serving {served} on http://{host}:{port} ({workers} worker(s))\n"
        f"  OIP v2: POST /v2/models/NAME/infer   MLflow: POST /invocations   metrics: /metrics"
        + (f"\n  gRPC (OIP v2): {host}:{grpc_port}" if grpc_port else "")
    )
    uvicorn.run(
        "conveyor.serving.factory:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        # the answer's head and body in one write: one segment, one wake-up of the client
        http=OneWriteHttpToolsProtocol,
        proxy_headers=False,  # the app reads no client address: skip rewriting it per request
        server_header=False,
    )


def _hand_over(spec: Any, workers: int) -> None:
    """Check the targets (migrating once, before workers start) and pass the spec to workers."""
    import os
    import tempfile

    from conveyor.serving.factory import SPEC_ENV
    from conveyor.settings import get_settings
    from conveyor.tracking import Workspace

    ws = Workspace.from_settings(get_settings())
    _check_targets(spec, ws)
    ws.close()
    os.environ[SPEC_ENV] = spec.to_env()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="conveyor-metrics-")


def _check_targets(spec: object, ws: object) -> None:
    """Fail fast, before workers start, on a model or deployment that does not exist."""
    from conveyor.registry.service import Registry
    from conveyor.serving.deployments import Deployments

    engine = ws.engine  # type: ignore[attr-defined]
    for uri in spec.model_uris:  # type: ignore[attr-defined]
        Registry(engine).resolve(uri)
    for name in spec.deployments:  # type: ignore[attr-defined]
        Deployments(engine).route_table(name)

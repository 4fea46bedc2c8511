"""Build a serving replica and its ASGI app from a spec (what ``conveyor serve`` was asked).

The spec travels to uvicorn's worker processes as JSON in ``CONVEYOR_SERVE_SPEC``: each worker
builds its own replica over the same store, so workers share nothing but the store.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.serving.host import DeploymentHost
from conveyor.serving.recorder import Sink, TrafficRecorder, WindowSink
from conveyor.serving.replica import Replica, ServeTarget, deployment_source, uri_source
from conveyor.serving.telemetry import ServingMetrics

SPEC_ENV = "CONVEYOR_SERVE_SPEC"


@dataclass
class ServeSpec:
    """What one replica serves and how."""

    model_uris: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    all_deployments: bool = False
    name: str | None = None  # served name for a single model URI
    poll_s: float = 1.0
    grace_s: float = 10.0
    max_request_bytes: int = 64 * 1024 * 1024
    grpc_port: int | None = None
    host: str = "127.0.0.1"
    trust_pickle: bool = False
    max_batch_size: int | None = None  # overrides for URI serving (deployments carry their own)
    max_latency_ms: float | None = None
    batching: bool = True
    record: bool = True  # write per-window traffic summaries (and experiment logs) to the store
    window_s: float = 10.0
    log_sample: float = 0.0  # request-log share of model URIs (deployments: policy.log_sample)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeSpec:
        raw = os.environ.get(SPEC_ENV)
        if not raw:
            msg = f"{SPEC_ENV} is not set; start replicas with `conveyor serve`"
            raise RuntimeError(msg)
        return cls(**json.loads(raw))

    def targets(self) -> list[ServeTarget]:
        out = [ServeTarget(model_uri=u, name=self.name) for u in self.model_uris]
        out += [ServeTarget(deployment=d) for d in self.deployments]
        return out


def build_replica(spec: ServeSpec, workspace: Any, metrics: ServingMetrics) -> Replica:
    """A replica over ``workspace`` serving ``spec``'s targets."""
    from conveyor.models.load import load_model
    from conveyor.serving import inference
    from conveyor.serving.policy import Batching
    from conveyor.tracking import LocalClient

    client = LocalClient(workspace=workspace)
    engine = workspace.engine
    override = Batching(
        max_batch_size=spec.max_batch_size or Batching().max_batch_size,
        max_latency_ms=(
            spec.max_latency_ms if spec.max_latency_ms is not None else Batching().max_latency_ms
        ),
        enabled=spec.batching,
    )

    def loader(model_name: str, version: int) -> Any:
        return load_model(
            f"models:/{model_name}/{version}", client=client, trust_pickle=spec.trust_pickle
        )

    def host_for(target: ServeTarget) -> DeploymentHost:
        name = target.served_name
        if target.deployment is not None:
            source = deployment_source(engine, target.deployment)
            batching = None
        else:
            assert target.model_uri is not None  # noqa: S101
            source = uri_source(engine, target.model_uri, name)
            batching = override

        def prepare(model: Any, table: Any, version: int) -> tuple[Any, Any]:
            return inference.prepare(
                model, batching or table.batching, metrics, table.deployment, version
            )

        def on_load(table: Any, version: int, seconds: float) -> None:
            metrics.load_seconds.labels(table.deployment, str(version)).set(seconds)

        def on_swap(table: Any) -> None:
            metrics.swaps.labels(table.deployment).inc()

        return DeploymentHost(
            name, source, loader, prepare, grace_s=spec.grace_s, on_swap=on_swap, on_load=on_load
        )

    hosts = {t.served_name: host_for(t) for t in spec.targets()}
    discover = None
    factory = None
    if spec.all_deployments:
        from conveyor.serving.deployments import Deployments

        service = Deployments(engine)

        def discover() -> list[str]:
            return [d.name for d in service.list_deployments()]

        def factory(name: str) -> DeploymentHost:
            return host_for(ServeTarget(deployment=name))

    return Replica(engine, hosts, poll_s=spec.poll_s, discover=discover, host_factory=factory)


def build_recorder(
    spec: ServeSpec, workspace: Any, replica_id: str, *, replica: Replica | None = None
) -> TrafficRecorder:
    """The recorder of one replica and the sinks it flushes to (``replica`` names matrix
    columns for the monitor feed and the request log)."""
    from conveyor.monitoring.service import Monitors
    from conveyor.serving.experiments import ExperimentSink
    from conveyor.serving.monitor_feed import MonitorSink
    from conveyor.serving.request_log import RequestLogSink
    from conveyor.serving.served_rows import no_columns, plan_columns

    sinks: list[Sink] = [WindowSink(workspace.engine), ExperimentSink(workspace.engine)]
    columns = plan_columns(replica) if replica is not None else no_columns
    sinks.append(MonitorSink(Monitors(workspace.engine, workspace.blobs), columns))
    sinks.append(
        RequestLogSink(
            workspace.engine, workspace.blobs, uri_share=spec.log_sample, columns_of=columns
        )
    )
    return TrafficRecorder(replica_id, sinks, window_s=spec.window_s)


def create_app(spec: ServeSpec | None = None, workspace: Any = None) -> Any:
    """The inference ASGI app for ``spec`` (read from the environment by default)."""
    from conveyor.serving.app import InferenceApp
    from conveyor.settings import get_settings
    from conveyor.tracking import Workspace

    spec = spec or ServeSpec.from_env()
    ws = workspace or Workspace.from_settings(get_settings())
    metrics = ServingMetrics()
    replica = build_replica(spec, ws, metrics)
    app = InferenceApp(
        replica,
        metrics=metrics,
        max_request_bytes=spec.max_request_bytes,
        recorder=(
            build_recorder(spec, ws, replica.replica_id, replica=replica) if spec.record else None
        ),
    )
    app.grpc_port = spec.grpc_port
    app.grpc_host = spec.host
    return app

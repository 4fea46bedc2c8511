"""The tracking server also serves its store's deployments, so one process does it all.

``conveyor server`` answers the inference routes of ``conveyor serve --all`` next to its API:
OIP v2 (``/v2/...``) and ``/deployments/NAME/invocations|predict``. Requests on those paths go
to an in-process inference app whose replica polls the store, so a deployment created after
start is discovered. The serving stack (NumPy, model flavors, batching) is imported only once
the store has a deployment or an inference request arrives: a server without deployments stays
as light as before. ``--no-serving`` (``CONVEYOR_SERVE_DEPLOYMENTS=0``) turns all of it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from conveyor.serving import Deployments
from conveyor.tracking import Workspace

log = logging.getLogger(__name__)


def is_inference_path(path: str) -> bool:
    """True for the paths the inference app answers inside the server."""
    if path == "/v2" or path.startswith("/v2/"):
        return True
    parts = path.split("/")  # "", "deployments", NAME, kind
    return len(parts) == 4 and parts[1] == "deployments" and parts[3] in ("invocations", "predict")


class InProcessServing:
    """A replica of every deployment, built on first need and run in the server's event loop."""

    def __init__(self, workspace: Workspace, *, poll_s: float, max_request_bytes: int) -> None:
        self._workspace = workspace
        self._poll_s = poll_s
        self._max_request_bytes = max_request_bytes
        self.app: Any = None  # the InferenceApp, once built
        self._lock: asyncio.Lock | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Wait (in the background) for the first deployment, then start serving."""
        self._lock = asyncio.Lock()
        self._watch = asyncio.get_running_loop().create_task(self._wait_for_deployments())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self.app is not None:
            await self.app.shutdown()

    async def _wait_for_deployments(self) -> None:
        deployments = Deployments(self._workspace.engine)
        while True:
            try:
                if await asyncio.to_thread(deployments.list_deployments):
                    await self.ensure()
                    return
            except Exception:  # the next poll retries; the API keeps working meanwhile
                log.exception("server: could not start serving deployments")
            await asyncio.sleep(self._poll_s)

    async def ensure(self) -> Any:
        """The running inference app (built and started now if it is not yet)."""
        assert self._lock is not None, "start() runs in the server's lifespan first"  # noqa: S101
        async with self._lock:
            if self.app is None:
                app = await asyncio.to_thread(self._build)  # imports the serving stack
                await app.startup()
                self.app = app
        return self.app

    def _build(self) -> Any:
        from conveyor.serving.app import InferenceApp
        from conveyor.serving.factory import ServeSpec, build_replica
        from conveyor.serving.telemetry import ServingMetrics

        spec = ServeSpec(
            all_deployments=True, poll_s=self._poll_s, max_request_bytes=self._max_request_bytes
        )
        metrics = ServingMetrics()
        replica = build_replica(spec, self._workspace, metrics)
        return InferenceApp(
            replica,
            metrics=metrics,
            max_request_bytes=self._max_request_bytes,
            start_replica=False,
        )

    def render_metrics(self) -> str:
        """The serving series in Prometheus text (empty until serving started)."""
        if self.app is None:
            return ""
        text: bytes = self.app.metrics.render()
        return text.decode()


class InferenceRoutes:
    """ASGI middleware: inference paths go to ``serving``, everything else to the server."""

    def __init__(self, app: ASGIApp, *, serving: InProcessServing) -> None:
        self.app = app
        self.serving = serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_inference_path(scope["path"]):
            inference = self.serving.app or await self.serving.ensure()
            await inference(scope, receive, send)
            return
        await self.app(scope, receive, send)

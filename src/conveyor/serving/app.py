"""The inference application: a plain ASGI app (no framework on the hot path).

Routes (``NAME`` is a deployment, or the model name for ``conveyor serve models:/...``):

* Open Inference Protocol v2: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
  ``/v2/models/NAME[/versions/V]``, ``.../ready``, ``POST .../infer`` (JSON and the binary
  tensor data extension);
* MLflow scoring: ``POST /invocations`` (one deployment served) or
  ``/deployments/NAME/invocations``; ``GET /ping``, ``GET /version``;
* simple JSON: ``POST /predict`` or ``/deployments/NAME/predict``;
* ``GET /metrics`` (Prometheus), ``GET /health``.

Every error is a JSON body with the status the error class carries (400 naming the field, 404,
413, 503); an unexpected exception is logged and answered 500 without internals.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from conveyor import __version__
from conveyor.errors import (
    ConveyorError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
)
from conveyor.serving import inference, openapi
from conveyor.serving.batching import MODEL_SECONDS
from conveyor.serving.host import DeploymentHost, LoadedVersion, Pick
from conveyor.serving.recorder import Served, TrafficRecorder
from conveyor.serving.replica import Replica
from conveyor.serving.telemetry import CONTENT_TYPE, ServingMetrics
from conveyor.serving.windows import SHADOW

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
_JSON = b"application/json"


class _Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        body: bytes,
        status: int = 200,
        content_type: bytes = _JSON,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.body = body
        self.status = status
        self.content_type = content_type
        self.headers = headers or []


def _error_body(exc: ConveyorError, protocol: str) -> bytes:
    if protocol == "v2":  # OIP's error shape
        return orjson.dumps({"error": exc.message})
    if protocol == "mlflow":  # MLflow's scoring server shape
        return orjson.dumps({"error_code": exc.code, "message": exc.message})
    return orjson.dumps({"code": exc.code, "message": exc.message, "field": exc.field})


class InferenceApp:
    """ASGI callable serving a ``Replica``'s deployments."""

    def __init__(
        self,
        replica: Replica,
        *,
        metrics: ServingMetrics | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        start_replica: bool = True,
        recorder: TrafficRecorder | None = None,
    ) -> None:
        self.replica = replica
        self.recorder = recorder  # what was served, flushed to the store per window
        self.metrics = metrics or ServingMetrics()
        self.max_request_bytes = max_request_bytes
        self._start_replica = start_replica
        self._background: set[asyncio.Task[Any]] = set()
        self.grpc_port: int | None = None  # also serve OIP v2 over gRPC on this port
        self.grpc_host = "127.0.0.1"
        self._grpc: Any = None

    # -- ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._start_replica:
                        await self.startup()
                except Exception as exc:
                    log.exception("serving: startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        await self.replica.start()
        if self.recorder is not None:
            self.recorder.start()
        if self.grpc_port is not None:
            from conveyor.serving.grpc import serve_grpc

            self._grpc = await serve_grpc(
                inference.ReplicaBackend(self.replica, on_request=self.observe),
                self.grpc_host,
                self.grpc_port,
                max_receive_message_bytes=self.max_request_bytes,
                reuse_port=True,  # every worker process of `conveyor serve` binds the port
            )

    async def shutdown(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop()
        if self._background:  # shadow copies still running
            await asyncio.wait(list(self._background), timeout=5)
        if self.recorder is not None:
            await self.recorder.close()
        await self.replica.stop()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        protocol = (
            "v2"
            if path.startswith("/v2")
            else "mlflow"
            if path.endswith(("/invocations", "/ping"))
            else "json"
        )
        ctx: dict[str, Any] = {}
        try:
            response = await self._route(method, path, scope, receive, ctx)
        except ConveyorError as exc:
            response = _Response(_error_body(exc, protocol), exc.status_code)
        except Exception:
            log.exception("serving: unexpected error on %s %s", method, path)
            err = ConveyorError("internal error; the server log has the details")
            response = _Response(_error_body(err, protocol), 500)
        request_id = ctx.get("request_id")
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", b"%d" % len(response.body)),
            *response.headers,
        ]
        if request_id:
            headers.append((b"x-request-id", request_id.encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        pick: Pick | None = ctx.get("pick")
        if pick is not None:
            outcome = inference.Outcome(
                protocol,
                response.status,
                time.perf_counter() - started,
                request_id or "",
                ctx.get("rows", 0),
                ctx.get("inputs"),
                ctx.get("predictions"),
            )
            self.observe(pick, outcome)

    def observe(self, pick: Pick, outcome: inference.Outcome) -> None:
        """Count one answered request (REST or gRPC) in the metrics and the recorder."""
        self.metrics.observe_request(
            pick.table.deployment,
            version=str(pick.route.version),
            route=pick.route.name,
            protocol=outcome.protocol,
            status=outcome.status,
            seconds=outcome.seconds,
            rows=outcome.rows,
        )
        if self.recorder is not None:
            self.recorder.record(
                Served(
                    pick.table,
                    pick.route.version,
                    pick.route.name,
                    outcome.request_id,
                    outcome.status < 500,  # a client's bad input is not the model failing
                    outcome.seconds,
                    outcome.rows,
                    time.time(),
                    outcome.inputs,
                    outcome.predictions,
                )
            )

    async def _route(
        self, method: str, path: str, scope: Scope, receive: Receive, ctx: dict[str, Any]
    ) -> _Response:
        parts = path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            return await self._v2(method, parts[1:], scope, receive, ctx)
        if method == "POST":
            if path in ("/invocations", "/predict"):
                host = self.replica.single()
                return await self._score(host, parts[0], scope, receive, ctx)
            if head == "deployments" and len(parts) == 3 and parts[2] in ("invocations", "predict"):
                host = self.replica.host(parts[1])
                return await self._score(host, parts[2], scope, receive, ctx)
        response = self._get(path) if method == "GET" else None
        if response is None:
            raise NotFoundError(f"no route {method} {path}", field="path")
        return response

    def _get(self, path: str) -> _Response | None:
        """The routes without a model: health, version, metrics, this app's OpenAPI document."""
        if path in ("/health", "/ping"):
            ready = self.replica.ready
            return _Response(
                b'{"status":"ok"}' if ready else b'{"status":"loading"}', 200 if ready else 503
            )
        if path == "/version":
            return _Response(orjson.dumps({"conveyor": __version__}))
        if path == "/metrics":
            return _Response(self.metrics.render(), content_type=CONTENT_TYPE.encode())
        if path == "/openapi.json":
            return _Response(openapi.document_bytes())
        return None

    # -- Open Inference Protocol v2 --------------------------------------------------------
    async def _v2(
        self, method: str, parts: list[str], scope: Scope, receive: Receive, ctx: dict[str, Any]
    ) -> _Response:
        replica = self.replica
        if not parts or parts == [""]:
            if method == "GET":
                return _Response(orjson.dumps(replica.server_metadata()))
        elif parts[0] == "health" and len(parts) == 2 and method == "GET":
            if parts[1] == "live":
                return _Response(b'{"live":true}')
            if parts[1] == "ready":
                ready = replica.ready
                return _Response(orjson.dumps({"ready": ready}), 200 if ready else 503)
        elif parts[0] == "models" and len(parts) >= 2:
            host = replica.host(parts[1])
            rest = parts[2:]
            version: int | None = None
            if len(rest) >= 2 and rest[0] == "versions":
                version = _version(rest[1])
                rest = rest[2:]
            if method == "GET" and not rest:
                return _Response(orjson.dumps(inference.model_metadata(host, version)))
            if method == "GET" and rest == ["ready"]:
                if version is not None and host.table is not None:
                    host.pick(None, version)  # a version it does not serve: 404, not "unready"
                ready = inference.model_ready(host, version)
                return _Response(
                    orjson.dumps({"name": host.name, "ready": ready}), 200 if ready else 503
                )
            if method == "POST" and rest == ["infer"]:
                return await self._infer(host, version, scope, receive, ctx)
        raise NotFoundError("no such Open Inference Protocol route", field="path")

    async def _infer(
        self,
        host: DeploymentHost,
        version: int | None,
        scope: Scope,
        receive: Receive,
        ctx: dict[str, Any],
    ) -> _Response:
        headers = dict(scope["headers"])
        body = await self._body(receive, headers)
        header_length = _int_header(headers, b"inference-header-content-length")
        pick = host.pick(_sticky(headers, host), version)
        ctx["pick"] = pick
        request = inference.decode_oip(body, header_length)
        ctx["request_id"] = request.id or _request_id(headers)
        predictions = await self._predict(host, pick, request, ctx)
        body_out, extra = inference.encode_oip(
            host.name, pick.route.version, ctx["request_id"], request, predictions
        )
        out_headers = _route_headers(pick) + extra + _timing()
        content_type = _JSON if not extra else b"application/octet-stream"
        return _Response(body_out, headers=out_headers, content_type=content_type)

    # -- MLflow scoring and simple JSON ----------------------------------------------------
    async def _score(
        self, host: DeploymentHost, kind: str, scope: Scope, receive: Receive, ctx: dict[str, Any]
    ) -> _Response:
        headers = dict(scope["headers"])
        body = await self._body(receive, headers)
        ctx["request_id"] = _request_id(headers)
        pick = host.pick(_sticky(headers, host))
        ctx["pick"] = pick
        content_type = headers.get(b"content-type", b"application/json").decode("latin-1")
        if kind == "invocations":
            payload = inference.decode_mlflow(body, content_type)
        else:
            payload = inference.decode_simple(body)
        predictions = await self._predict(host, pick, payload, ctx)
        encode = inference.encode_mlflow if kind == "invocations" else inference.encode_simple
        return _Response(encode(predictions), headers=_route_headers(pick) + _timing())

    async def _predict(
        self, host: DeploymentHost, pick: Pick, payload: Any, ctx: dict[str, Any]
    ) -> Any:
        """Check the decoded payload against the picked version, predict, copy to shadows."""
        planned = inference.build(pick.loaded, payload)
        ctx["rows"] = planned.n_rows
        ctx["inputs"] = planned.data
        predictions = await inference.predict(pick.loaded, planned)
        ctx["predictions"] = predictions
        self._shadow(host, pick, payload, ctx["request_id"], predictions)
        return predictions

    # -- shadows ---------------------------------------------------------------------------
    def _shadow(
        self, host: DeploymentHost, pick: Pick, payload: Any, request_id: str, answered: Any
    ) -> None:
        if not pick.table.shadows:
            return
        for loaded in host.shadow_versions(pick.table):
            if loaded is pick.loaded:
                continue
            task = asyncio.get_running_loop().create_task(
                self._run_shadow(pick, loaded, payload, request_id, answered)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _run_shadow(
        self, pick: Pick, loaded: LoadedVersion, payload: Any, request_id: str, answered: Any
    ) -> None:
        started = time.perf_counter()
        predictions, rows = None, 0
        try:
            planned = inference.build(loaded, payload)
            rows = planned.n_rows
            predictions = await inference.predict(loaded, planned)
        except Exception:  # noqa: BLE001 - a failing challenger never affects callers
            status = "error"
        else:
            status = "ok"
        self.metrics.shadow_requests.labels(
            pick.table.deployment, str(loaded.version), status
        ).inc()
        if self.recorder is not None:  # kept, never returned: the champion/challenger report
            self.recorder.record(
                Served(
                    pick.table,
                    loaded.version,
                    SHADOW,
                    request_id,
                    status == "ok",
                    time.perf_counter() - started,
                    rows,
                    time.time(),
                    None,  # the primary's copy of the inputs already feeds the monitors
                    predictions,
                    answered,
                )
            )

    # -- helpers ---------------------------------------------------------------------------
    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        limit = self.max_request_bytes
        declared = _int_header(headers, b"content-length")
        if declared is not None and declared > limit:
            raise PayloadTooLargeError(_too_large(limit), field="body")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InvalidArgumentError("the client disconnected", field="body")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(_too_large(limit), field="body")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> str:
    return (
        f"request body is larger than {limit} bytes; split the batch or raise the limit "
        f"(conveyor serve --max-request-mb, CONVEYOR_SERVE_MAX_REQUEST_MB)"
    )


def _version(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise InvalidArgumentError(
            f"model version must be a positive integer; got {text!r}", field="version"
        )
    return int(text)


def _int_header(headers: dict[bytes, bytes], name: bytes) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"header {name.decode()} must be an integer", field=name.decode()
        ) from None
    if value < 0:
        raise InvalidArgumentError(
            f"header {name.decode()} must not be negative", field=name.decode()
        )
    return value


def _request_id(headers: dict[bytes, bytes]) -> str:
    given = headers.get(b"x-request-id")
    if given and len(given) <= 200:
        return given.decode("latin-1")
    return uuid.uuid4().hex


def _sticky(headers: dict[bytes, bytes], host: DeploymentHost) -> str | None:
    table = host.table
    if table is None or table.sticky is None:
        return None
    value = headers.get(table.sticky.split(":", 1)[1].encode())
    return value.decode("latin-1") if value is not None else None


def _timing() -> list[tuple[bytes, bytes]]:
    """``Server-Timing``: how long the model call took (the rest of the latency is serving's)."""
    return [(b"server-timing", b"predict;dur=%.3f" % (MODEL_SECONDS.get() * 1000))]


def _route_headers(pick: Pick) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-conveyor-model-version", str(pick.route.version).encode()),
        (b"x-conveyor-route", pick.route.name.encode()),
    ]

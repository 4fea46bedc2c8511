"""The OIP v2 gRPC server (``inference.GRPCInferenceService``) in front of an inference backend."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

import grpc

from conveyor.errors import ConveyorError, InvalidArgumentError
from conveyor.serving.backend import InferenceBackend
from conveyor.serving.grpc import inference_pb2 as pb
from conveyor.serving.grpc import inference_pb2_grpc
from conveyor.serving.grpc.messages import (
    decode_infer_request,
    encode_infer_response,
    encode_model_metadata,
    encode_server_metadata,
)
from conveyor.serving.grpc.status import error_metadata, status_code_for

logger = logging.getLogger(__name__)

DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
if TYPE_CHECKING:  # grpc's classes are generic in their type stubs only
    from typing import TypeAlias

    _Context: TypeAlias = grpc.aio.ServicerContext[_Request, _Response]
    _Handler: TypeAlias = Callable[["_InferenceServicer", _Request], Awaitable[_Response]]
    _Method: TypeAlias = Callable[
        ["_InferenceServicer", _Request, _Context[_Request, _Response]], Awaitable[_Response]
    ]


def _answers_with_status(handler: _Handler[_Request, _Response]) -> _Method[_Request, _Response]:
    """Make ``handler`` a gRPC method: Conveyor's errors become their gRPC status, anything else
    a logged INTERNAL whose details reveal nothing."""

    @functools.wraps(handler)
    async def wrapper(
        self: _InferenceServicer, request: _Request, context: _Context[_Request, _Response]
    ) -> _Response:
        try:
            return await handler(self, request)
        except ConveyorError as exc:
            await context.abort(status_code_for(exc), exc.message, error_metadata(exc))
        except Exception:
            logger.exception("gRPC %s failed", handler.__name__)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error; the server log has the details"
            )

    return wrapper


class _InferenceServicer:
    """The six RPCs of the protocol, each one backend call. Method names are the RPC names."""

    def __init__(self, backend: InferenceBackend) -> None:
        self._backend = backend

    @_answers_with_status
    async def ServerLive(  # noqa: N802
        self, _request: pb.ServerLiveRequest
    ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=self._backend.server_live())

    @_answers_with_status
    async def ServerReady(  # noqa: N802
        self, _request: pb.ServerReadyRequest
    ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self._backend.server_ready())

    @_answers_with_status
    async def ModelReady(  # noqa: N802
        self, request: pb.ModelReadyRequest
    ) -> pb.ModelReadyResponse:
        ready = self._backend.model_ready(request.name, request.version or None)
        return pb.ModelReadyResponse(ready=ready)

    @_answers_with_status
    async def ServerMetadata(  # noqa: N802
        self, _request: pb.ServerMetadataRequest
    ) -> pb.ServerMetadataResponse:
        return encode_server_metadata(self._backend.server_metadata())

    @_answers_with_status
    async def ModelMetadata(  # noqa: N802
        self, request: pb.ModelMetadataRequest
    ) -> pb.ModelMetadataResponse:
        metadata = self._backend.model_metadata(request.name, request.version or None)
        return encode_model_metadata(metadata)

    @_answers_with_status
    async def ModelInfer(  # noqa: N802
        self, request: pb.ModelInferRequest
    ) -> pb.ModelInferResponse:
        name, version, infer_request = decode_infer_request(request)
        response = await self._backend.infer(name, version, infer_request)
        return encode_infer_response(response, infer_request.outputs)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GrpcInferenceServer:
    """Serve ``backend`` over OIP v2 gRPC on ``host:port`` (port 0: a free port, see ``port``).

    Requests larger than ``max_receive_message_bytes`` fail with RESOURCE_EXHAUSTED before
    they are decoded. ``reuse_port`` lets several processes listen on one port (SO_REUSEPORT),
    the kernel spreading connections among them; off, a port in use is an error.
    """

    def __init__(
        self,
        backend: InferenceBackend,
        *,
        host: str = "127.0.0.1",
        port: int = 8001,
        max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        reuse_port: bool = False,
    ) -> None:
        if max_receive_message_bytes <= 0:
            msg = f"max_receive_message_bytes must be positive, got {max_receive_message_bytes}"
            raise InvalidArgumentError(msg, field="max_receive_message_bytes")
        self._backend = backend
        self._host = host
        self._address = _address(host, port)
        self._options = [
            ("grpc.max_receive_message_length", max_receive_message_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", int(reuse_port)),
        ]
        self._server: grpc.aio.Server | None = None
        self.port = port

    async def start(self) -> int:
        """Bind and start serving; return the port bound."""
        server = grpc.aio.server(options=self._options)
        inference_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
            _InferenceServicer(self._backend), server
        )
        try:
            port = server.add_insecure_port(self._address)
        except RuntimeError as exc:
            port, reason = 0, str(exc)
        else:
            reason = "address in use or not local"
        if port == 0:
            await server.stop(None)
            msg = f"cannot listen for gRPC on {self._address}: {reason}; choose another port"
            raise InvalidArgumentError(msg, field="port")
        await server.start()
        self._server, self.port = server, port
        logger.info("OIP gRPC server listening on %s", _address(self._host, port))
        return port

    async def stop(self, grace: float | None = 5.0) -> None:
        """Stop accepting calls; let those in flight finish within ``grace`` seconds."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    async def wait_for_termination(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_grpc(
    backend: InferenceBackend,
    host: str = "127.0.0.1",
    port: int = 8001,
    *,
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    reuse_port: bool = False,
) -> GrpcInferenceServer:
    """Start serving ``backend`` over OIP v2 gRPC and return the running server; call its
    ``stop()`` on shutdown."""
    server = GrpcInferenceServer(
        backend,
        host=host,
        port=port,
        max_receive_message_bytes=max_receive_message_bytes,
        reuse_port=reuse_port,
    )
    await server.start()
    return server

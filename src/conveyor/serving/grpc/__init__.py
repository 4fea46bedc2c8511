"""Open Inference Protocol v2 over gRPC, so that ``tritonclient.grpc`` and KServe clients work.

``serve_grpc(backend, host, port)`` starts a ``GrpcInferenceServer`` in the running event loop.
The protocol is ``inference.proto`` beside this file; ``scripts/gen-grpc`` regenerates its
Python modules.
"""

from __future__ import annotations

from conveyor.serving.grpc.server import (
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    GrpcInferenceServer,
    serve_grpc,
)

__all__ = ["DEFAULT_MAX_RECEIVE_MESSAGE_BYTES", "GrpcInferenceServer", "serve_grpc"]

"""What a transport (REST app, gRPC server) needs from the process that holds the models."""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.serving.tensors import InferRequest, InferResponse


class InferenceBackend(Protocol):
    """The models this process serves. Unknown names or versions raise ``NotFoundError``;
    bad inputs raise ``InvalidArgumentError`` naming the input; a model not loaded yet raises
    ``BackendUnavailableError``."""

    def server_live(self) -> bool:
        """True while the process runs."""
        ...

    def server_ready(self) -> bool:
        """True once every served model is loaded."""
        ...

    def server_metadata(self) -> dict[str, Any]:
        """``{"name": ..., "version": ..., "extensions": [...]}``."""
        ...

    def model_ready(self, name: str, version: str | None = None) -> bool:
        """True when the model (at that version, or its current one) can answer."""
        ...

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        """OIP model metadata: ``{"name", "versions", "platform", "inputs", "outputs"}`` where
        inputs/outputs are ``[{"name", "datatype", "shape"}]`` (-1 for variable dimensions)."""
        ...

    async def infer(self, name: str, version: str | None, request: InferRequest) -> InferResponse:
        """Run one request (batched with others by the backend)."""
        ...

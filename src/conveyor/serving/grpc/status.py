"""Conveyor's errors as gRPC status codes."""

from __future__ import annotations

import grpc

from conveyor.errors import (
    AlreadyExistsError,
    BackendUnavailableError,
    ConflictError,
    ConveyorError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UnauthenticatedError,
)

_CODES: dict[type[ConveyorError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    ConflictError: grpc.StatusCode.FAILED_PRECONDITION,
    PayloadTooLargeError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    BackendUnavailableError: grpc.StatusCode.UNAVAILABLE,
}


def status_code_for(error: ConveyorError) -> grpc.StatusCode:
    """The gRPC status of an error: that of its nearest mapped class, else INTERNAL."""
    for cls in type(error).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def error_metadata(error: ConveyorError) -> tuple[tuple[str, str], ...]:
    """Trailing metadata that carries the error's stable code and field to clients."""
    pairs = [("conveyor-error-code", error.code)]
    if error.field:
        pairs.append(("conveyor-error-field", error.field))
    return tuple(pairs)

"""Conveyor's exception tree.

Every error a user can cause is a ``ConveyorError``; each carries an HTTP status, a stable code
(MLflow's error codes, so the compatible API can pass them through), the offending field when
there is one, and a CLI exit code::

    ConveyorError                      500  INTERNAL_ERROR
    ├── InvalidArgumentError           400  INVALID_PARAMETER_VALUE
    │   └── LimitExceededError         400  INVALID_PARAMETER_VALUE
    ├── UnauthenticatedError           401  UNAUTHENTICATED
    ├── PermissionDeniedError          403  PERMISSION_DENIED
    ├── NotFoundError                  404  RESOURCE_DOES_NOT_EXIST
    │   └── BlobNotFoundError          404  RESOURCE_DOES_NOT_EXIST
    ├── AlreadyExistsError             409  RESOURCE_ALREADY_EXISTS
    ├── ConflictError                  409  INVALID_STATE
    ├── PayloadTooLargeError           413  INVALID_PARAMETER_VALUE
    └── BackendUnavailableError        503  TEMPORARILY_UNAVAILABLE
"""

from __future__ import annotations

from typing import ClassVar


class ConveyorError(Exception):
    """Base of every error Conveyor raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        """Render the error body used by ``/api/v1``."""
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidArgumentError(ConveyorError):
    """A value given by the caller is malformed or out of range."""

    status_code = 400
    code = "INVALID_PARAMETER_VALUE"
    exit_code = 2


class LimitExceededError(InvalidArgumentError):
    """A value is larger than Conveyor accepts (param length, batch size, ...)."""


class UnauthenticatedError(ConveyorError):
    """The request carries no valid credentials (missing, unknown, expired or revoked token)."""

    status_code = 401
    code = "UNAUTHENTICATED"
    exit_code = 6


class PermissionDeniedError(ConveyorError):
    """The caller is known but lacks the role the operation needs."""

    status_code = 403
    code = "PERMISSION_DENIED"
    exit_code = 6


class NotFoundError(ConveyorError):
    """The named object does not exist."""

    status_code = 404
    code = "RESOURCE_DOES_NOT_EXIST"
    exit_code = 3


class BlobNotFoundError(NotFoundError):
    """No blob is stored under the digest."""


class AlreadyExistsError(ConveyorError):
    """An object with the same unique name already exists."""

    status_code = 409
    code = "RESOURCE_ALREADY_EXISTS"
    exit_code = 4


class ConflictError(ConveyorError):
    """The object is in a state that does not allow the operation."""

    status_code = 409
    code = "INVALID_STATE"
    exit_code = 4


class PayloadTooLargeError(ConveyorError):
    """A request body is larger than the configured limit."""

    status_code = 413
    code = "INVALID_PARAMETER_VALUE"
    exit_code = 2


class BackendUnavailableError(ConveyorError):
    """The server or database could not be reached."""

    status_code = 503
    code = "TEMPORARILY_UNAVAILABLE"
    exit_code = 5


__all__ = [
    "AlreadyExistsError",
    "BackendUnavailableError",
    "BlobNotFoundError",
    "ConflictError",
    "ConveyorError",
    "InvalidArgumentError",
    "LimitExceededError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "UnauthenticatedError",
]

"""Turn every error into JSON: Conveyor's own shape on /api/v1, MLflow's on its API."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor.errors import ConveyorError

logger = logging.getLogger("conveyor.server")

MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/2.0/mlflow-artifacts")


# MLflow's server answers these codes with other statuses than ours: a duplicate name is a 400
# (mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS), and writing to a deleted run is an
# INVALID_PARAMETER_VALUE ("must be in the 'active' state"), where we say 409 INVALID_STATE.
_MLFLOW_STATUS = {
    "RESOURCE_ALREADY_EXISTS": ("RESOURCE_ALREADY_EXISTS", 400),
    "INVALID_STATE": ("INVALID_PARAMETER_VALUE", 400),
}


def _is_mlflow(request: Request) -> bool:
    return request.url.path.startswith(MLFLOW_PREFIXES)


def error_response(
    request: Request, status: int, code: str, message: str, field: str | None
) -> JSONResponse:
    """Render an error in the shape the caller's API uses."""
    # A 401 names the scheme to use (RFC 9110); the mlflow client then sends its token.
    headers = {"WWW-Authenticate": 'Bearer realm="conveyor"'} if status == 401 else None
    if _is_mlflow(request):
        code, status = _MLFLOW_STATUS.get(code, (code, status))
        return JSONResponse(
            {"error_code": code, "message": message}, status_code=status, headers=headers
        )
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": field}},
        status_code=status,
        headers=headers,
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    return f"invalid {field or 'request'}: {first.get('msg', 'malformed request')}", field


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no request ends in a bare 500 or an HTML page."""

    @app.exception_handler(ConveyorError)
    async def conveyor_error(request: Request, exc: ConveyorError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(exc)
        return error_response(request, 400, "INVALID_PARAMETER_VALUE", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "BAD_REQUEST"
        )
        return error_response(request, exc.status_code, code, str(exc.detail), None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        message = f"internal error ({type(exc).__name__}); see the server log"
        return error_response(request, 500, "INTERNAL_ERROR", message, None)

"""Reject request bodies above a size limit with 413 before they are read into memory."""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _is_artifact_upload(scope: Scope) -> bool:
    # Artifact uploads are streamed to disk, never held in memory, so they are not capped here.
    path = str(scope.get("path", ""))
    return scope.get("method") == "PUT" and (
        "/mlflow-artifacts/artifacts/" in path or "/artifacts/" in path
    )


class BodyLimitMiddleware:
    """ASGI middleware enforcing ``max_bytes`` on Content-Length and on streamed bodies.

    Artifact uploads (``PUT .../artifacts/...``) are exempt: they stream to a spooled file.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_artifact_upload(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(scope, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        message = f"request body is larger than the limit of {self.max_bytes} bytes"
        body: dict[str, object]
        if str(scope.get("path", "")).startswith("/api/2.0"):
            body = {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
        else:
            body = {"error": {"code": "PAYLOAD_TOO_LARGE", "message": message, "field": "body"}}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class _TooLargeError(Exception):
    pass

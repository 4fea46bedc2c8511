"""Request-scoped access to the workspace the server was started on."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from conveyor.tracking import LocalClient


async def get_client(request: Request) -> LocalClient:
    """Return the server's workspace client (async: no I/O, so no threadpool hop)."""
    client: LocalClient = request.app.state.client
    return client


ClientDep = Annotated[LocalClient, Depends(get_client)]

"""MLflow's artifact proxy (``mlflow-artifacts/artifacts``) over the workspace's artifacts.

Experiments' ``artifact_location`` is ``mlflow-artifacts:/<id>``, so the mlflow client sends
every run artifact here as ``<id>/<run>/artifacts/<file>``: the same paths the native API
stores, so both clients see one tree.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from conveyor.server.deps import ClientDep
from conveyor.server.mlflow_compat.convert import reply

router = APIRouter()
info_router = APIRouter()

_SPOOL_IN_MEMORY = 8 << 20
_CHUNK = 1 << 20


async def _spool(request: Request) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - caller closes
    try:
        async for chunk in request.stream():
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return cast(BinaryIO, spool)


def _iter_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


@router.put("/artifacts/{path:path}")
async def upload_artifact(path: str, request: Request, client: ClientDep) -> Response:
    """Store the request body (streamed to a spool file, not memory) at ``path``."""
    with await _spool(request) as data:
        await run_in_threadpool(client.workspace.artifacts.put, path, data)
    return reply()


@router.get("/artifacts/{path:path}")
def download_artifact(path: str, client: ClientDep) -> StreamingResponse:
    """Stream the artifact stored at ``path``."""
    handle = client.workspace.artifacts.open(path)
    return StreamingResponse(_iter_file(handle), media_type="application/octet-stream")


@router.get("/artifacts")
def list_artifacts(client: ClientDep, path: str = "") -> Response:
    """List the direct children of ``path`` by base name, as MLflow's proxy does."""
    files = []
    for info in client.workspace.artifacts.list(path):
        entry: dict[str, object] = {"path": posixpath.basename(info.path), "is_dir": info.is_dir}
        if info.file_size is not None:
            entry["file_size"] = info.file_size
        files.append(entry)
    return reply({"files": files})


@router.delete("/artifacts/{path:path}")
def delete_artifact(path: str, client: ClientDep) -> Response:
    """Delete the artifact at ``path`` or everything under it."""
    client.workspace.artifacts.delete(path)
    return reply()


@info_router.get("/api/3.0/mlflow/server-info")
def server_info() -> Response:
    """Tell mlflow clients which proxy features exist (no multipart, no presigned URLs)."""
    return reply(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        }
    )

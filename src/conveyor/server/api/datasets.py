"""``/api/v1`` dataset routes: versions, profiles, snapshots, diffs and run inputs.

A frame is logged in one request: ``POST /datasets/{name}/versions`` with the Parquet bytes as
the body (``application/vnd.apache.parquet``); a file tree with a tar archive of its files
(``application/x-tar``). Both are spooled to disk, then versioned off the event loop.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from conveyor.data.entities import Dataset, DatasetDiff, DatasetVersion, RunInput
from conveyor.errors import InvalidArgumentError
from conveyor.server.deps import ClientDep
from conveyor.tracking import LocalClient

router = APIRouter(tags=["datasets"])

PARQUET = "application/vnd.apache.parquet"
TAR = "application/x-tar"
_SPOOL_BYTES = 8 << 20


class DatasetList(BaseModel):
    """Body of ``GET /datasets``."""

    datasets: list[Dataset]


class VersionList(BaseModel):
    """Body of ``GET /datasets/{name}/versions``."""

    versions: list[DatasetVersion]


class Profile(BaseModel):
    """Body of ``GET .../profile``: ``None`` for a file manifest."""

    name: str
    version: int
    profile: dict[str, Any] | None


class RunInputList(BaseModel):
    """A list of lineage edges."""

    inputs: list[RunInput]


def _version_number(version: str) -> int | None:
    """``latest`` or an integer from 1."""
    if version == "latest":
        return None
    if not version.isascii() or not version.isdigit() or int(version) < 1:
        msg = f"invalid version {version!r}: use an integer from 1, or latest"
        raise InvalidArgumentError(msg, field="version")
    return int(version)


@router.get("/datasets")
def list_datasets(client: ClientDep) -> DatasetList:
    """List datasets with their latest version, by name."""
    return DatasetList(datasets=client.list_datasets())


@router.get("/datasets/{name}")
def get_dataset(name: str, client: ClientDep) -> Dataset:
    """Return one dataset."""
    return client.get_dataset(name)


@router.get("/datasets/{name}/versions")
def list_versions(name: str, client: ClientDep) -> VersionList:
    """List a dataset's versions, oldest first."""
    return VersionList(versions=client.list_dataset_versions(name))


async def _spool(request: Request) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - caller closes
    async for chunk in request.stream():
        spool.write(chunk)
    spool.seek(0)
    return cast("BinaryIO", spool)


def _log_tar(  # noqa: PLR0917 - the route's parameters
    client: LocalClient,
    name: str,
    body: BinaryIO,
    context: str,
    run_id: str | None,
    description: str | None,
    source: str,
) -> DatasetVersion:
    with tempfile.TemporaryDirectory(prefix="conveyor-dataset-") as tmp:
        try:
            with tarfile.open(fileobj=body, mode="r:*") as archive:
                archive.extractall(tmp, filter="data")  # no links out, no absolute paths
        except (tarfile.TarError, OSError) as exc:
            msg = f"the body is not a readable tar archive of the dataset's files ({exc})"
            raise InvalidArgumentError(msg, field="body") from exc
        service = client._dataset_service()
        return service.log_path(
            name, Path(tmp), context=context, run_id=run_id, description=description,
            source=source,
        )  # fmt: skip


@router.post("/datasets/{name}/versions", status_code=201)
async def log_version(
    name: str,
    request: Request,
    client: ClientDep,
    *,
    context: Annotated[str, Query(max_length=100)] = "training",
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    description: str | None = None,
    source: str = "",
) -> DatasetVersion:
    """Log a version: a Parquet body (a frame) or a tar body (files); same content, same version.

    Answers 201 with the version, which is the existing one when the content was logged before.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in {PARQUET, TAR}:
        msg = f"send the dataset as {PARQUET} (a frame) or {TAR} (files), not {kind or 'nothing'}"
        raise InvalidArgumentError(msg, field="content-type")
    body = await _spool(request)
    with body:
        if kind == TAR:
            return await run_in_threadpool(
                _log_tar, client, name, body, context, run_id, description, source
            )
        service = client._dataset_service()  # the server is the local transport
        options = {"context": context, "run_id": run_id, "description": description}
        return await run_in_threadpool(
            lambda: service.log_parquet(name, body.read(), **options, source=source)
        )


@router.get("/datasets/{name}/versions/{version}")
def get_version(name: str, version: str, client: ClientDep) -> DatasetVersion:
    """Return a version's metadata and schema (``latest``: the newest)."""
    return client.get_dataset_version(name, _version_number(version))


@router.get("/datasets/{name}/versions/{version}/profile")
def get_profile(name: str, version: str, client: ClientDep) -> Profile:
    """Return a version's statistical profile (``null`` for file manifests)."""
    found = client.get_dataset_version(name, _version_number(version))
    profile = client.get_dataset_profile(found.name, found.version)
    return Profile(name=found.name, version=found.version, profile=profile)


def _tar_of_files(client: LocalClient, found: DatasetVersion) -> BinaryIO:
    service = client._dataset_service()
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - streamed, closed
    with tarfile.open(fileobj=spool, mode="w") as archive:
        for entry in service.manifest(found):
            info = tarfile.TarInfo(entry.path)
            info.size = entry.size
            with client.workspace.blobs.open(entry.sha256) as src:
                archive.addfile(info, src)
    spool.seek(0)
    return cast("BinaryIO", spool)


def _iter_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk


@router.get("/datasets/{name}/versions/{version}/snapshot")
async def download_snapshot(name: str, version: str, client: ClientDep) -> Response:
    """Stream the snapshot: the Parquet file, or a tar archive of a manifest's files."""
    number = _version_number(version)
    found = await run_in_threadpool(client.get_dataset_version, name, number)
    if found.kind == "parquet":
        handle = await run_in_threadpool(client.workspace.blobs.open, found.digest)
        media = PARQUET
    else:
        handle = await run_in_threadpool(_tar_of_files, client, found)
        media = TAR
    filename = f"{found.name}-v{found.version}.{'parquet' if media == PARQUET else 'tar'}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(_iter_file(handle), media_type=media, headers=headers)


@router.get("/datasets/{name}/diff")
def diff_versions(
    name: str,
    client: ClientDep,
    from_: Annotated[str | None, Query(alias="from", max_length=300)] = None,
    to: Annotated[str | None, Query(max_length=300)] = None,
) -> DatasetDiff:
    """Compare two versions (numbers, or refs ``OTHER@V``); default: the last two."""
    return client.diff_datasets(name, from_, to)


@router.get("/datasets/{name}/runs")
def dataset_runs(name: str, client: ClientDep, version: int | None = None) -> RunInputList:
    """Return the runs that consumed the dataset (one version, or any)."""
    return RunInputList(inputs=client.dataset_runs(name, version))


@router.get("/runs/{run_id}/inputs")
def run_inputs(run_id: str, client: ClientDep) -> RunInputList:
    """Return the dataset versions a run consumed."""
    return RunInputList(inputs=client.run_inputs(run_id))

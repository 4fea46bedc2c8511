"""The HTTP transport: the same ``Client`` methods over a Conveyor server's ``/api/v1``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from conveyor import errors
from conveyor.settings import get_settings
from conveyor.tracking.client import Client
from conveyor.tracking.entities import (
    Experiment,
    FileInfo,
    Metric,
    MetricPage,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
    ViewType,
)
from conveyor.tracking.limits import check_int, check_metric_value

if TYPE_CHECKING:  # datasets
    import pyarrow as pa

    from conveyor.data.entities import Dataset, DatasetDiff, DatasetVersion, RunInput

_ERRORS_BY_STATUS: dict[int, type[errors.ConveyorError]] = {
    400: errors.InvalidArgumentError,
    401: errors.UnauthenticatedError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    413: errors.PayloadTooLargeError,
    503: errors.BackendUnavailableError,
}


def _wire_value(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _int64(value: object) -> int:
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    if isinstance(value, int):
        msg = "metric steps and timestamps must fit in 64 bits (timestamps are milliseconds)"
        raise errors.InvalidArgumentError(msg, field="metrics")
    return check_int(value, field="metrics")


def _raise_for(response: httpx.Response) -> None:
    try:
        body = response.json()["error"]
        code, message, field = body["code"], body["message"], body.get("field")
    except (ValueError, KeyError, TypeError):
        code, message, field = "", response.text[:500] or response.reason_phrase, None
    cls = _ERRORS_BY_STATUS.get(response.status_code, errors.ConveyorError)
    if response.status_code == 409:
        cls = (
            errors.AlreadyExistsError if code == "RESOURCE_ALREADY_EXISTS" else errors.ConflictError
        )
    if response.status_code >= 500 and cls is errors.ConveyorError:
        cls = errors.BackendUnavailableError
    raise cls(f"server: {message}", field=field)


class HttpClient(Client):
    """``Client`` over HTTP (``CONVEYOR_SERVER`` or ``Client("http://...")``)."""

    def __init__(self, server: str | None = None, *, timeout_s: float | None = None) -> None:
        settings = get_settings()
        self.server = (server or settings.server or "").rstrip("/")
        if not self.server.startswith(("http://", "https://")):
            msg = f"server URL must start with http:// or https://, got {self.server!r}"
            raise errors.InvalidArgumentError(msg, field="server")
        headers = {"authorization": f"Bearer {settings.token}"} if settings.token else None
        self._http = httpx.Client(
            base_url=f"{self.server}/api/v1",
            timeout=timeout_s or settings.http_timeout_s,
            headers=headers,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "json" in kwargs:
            kwargs["content"] = orjson.dumps(kwargs.pop("json"))
            kwargs["headers"] = {"content-type": "application/json"}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            msg = f"cannot reach the Conveyor server at {self.server}: {exc}"
            raise errors.BackendUnavailableError(msg) from exc
        if response.status_code >= 400:
            _raise_for(response)
        return response

    # experiments
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        body = {"name": name, "tags": dict(tags or {})}
        return Experiment.model_validate_json(
            self._request("POST", "/experiments", json=body).content
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        response = self._request("GET", f"/experiments/{quote(str(experiment_id), safe='')}")
        return Experiment.model_validate_json(response.content)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            response = self._request("GET", f"/experiments/by-name/{quote(name, safe='')}")
        except errors.NotFoundError:
            return None
        return Experiment.model_validate_json(response.content)

    def list_experiments(
        self, *, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]:
        params = {"view_type": view_type.value, "max_results": max_results}
        body = self._request("GET", "/experiments", params=params).json()
        return [Experiment.model_validate(e) for e in body["experiments"]]

    def delete_experiment(self, experiment_id: str) -> None:
        self._request("POST", f"/experiments/{quote(str(experiment_id), safe='')}/delete")

    def restore_experiment(self, experiment_id: str) -> None:
        self._request("POST", f"/experiments/{quote(str(experiment_id), safe='')}/restore")

    # runs
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run:
        body = {
            "experiment_id": str(experiment_id),
            "run_name": run_name,
            "tags": dict(tags or {}),
            "start_time": start_time,
        }
        return Run.model_validate_json(self._request("POST", "/runs", json=body).content)

    def _run_path(self, run_id: str) -> str:
        return f"/runs/{quote(str(run_id), safe='')}"

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate_json(self._request("GET", self._run_path(run_id)).content)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body = {"status": status, "end_time": end_time, "run_name": run_name}
        response = self._request("PATCH", self._run_path(run_id), json=body)
        return RunInfo.model_validate_json(response.content)

    def delete_run(self, run_id: str) -> None:
        self._request("POST", f"{self._run_path(run_id)}/delete")

    def restore_run(self, run_id: str) -> None:
        self._request("POST", f"{self._run_path(run_id)}/restore")

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        batch_id: str | None = None,
    ) -> bool:
        points = [
            (m.key, m.value, m.timestamp, m.step) if isinstance(m, Metric) else m for m in metrics
        ]
        body = {
            "metrics": [
                (k, _wire_value(check_metric_value(v, key=k)), _int64(ts), _int64(s))
                for k, v, ts, s in points
            ],
            "params": {k: str(v) for k, v in (params or {}).items()},
            "tags": {k: str(v) for k, v in (tags or {}).items()},
            "batch_id": batch_id,
        }
        stored: bool = self._request("POST", f"{self._run_path(run_id)}/batch", json=body).json()[
            "stored"
        ]
        return stored

    def delete_tag(self, run_id: str, key: str) -> None:
        self._request("DELETE", f"{self._run_path(run_id)}/tags/{quote(key, safe='/')}")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points: list[Metric] = []
        token: str | None = None
        while True:
            params = {"max_results": 100_000, **({"page_token": token} if token else {})}
            path = f"{self._run_path(run_id)}/metrics/{quote(key, safe='/')}"
            page = MetricPage.model_validate_json(self._request("GET", path, params=params).content)
            points.extend(page.metrics)
            token = page.next_page_token
            if not token:
                return points

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> RunPage:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "view_type": view_type.value,
            "max_results": max_results,
            "order_by": list(order_by or []),
            "page_token": page_token,
        }
        response = self._request("POST", "/runs/search", json=body)
        return RunPage.model_validate_json(response.content)

    # artifacts
    def _upload(self, run_id: str, path: str, content: Any) -> None:
        url = f"{self._run_path(run_id)}/artifacts/{quote(path, safe='/')}"
        self._request("PUT", url, content=content)

    def log_artifact(
        self,
        run_id: str,
        local_path: str | Path,
        artifact_path: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        local = Path(local_path)
        base = artifact_path.strip("/")
        files = (
            [
                (f, f"{local.name}/{f.relative_to(local).as_posix()}")
                for f in sorted(local.rglob("*"))
                if f.is_file()
            ]
            if local.is_dir()
            else [(local, local.name)]
        )
        if not local.exists():
            msg = f"no file or directory at {str(local)!r}"
            raise errors.InvalidArgumentError(msg, field="local_path")
        for file, rel in files:
            with file.open("rb") as fh:
                self._upload(run_id, f"{base}/{rel}".lstrip("/"), _chunks(fh, progress))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._upload(run_id, artifact_file.strip("/"), text.encode())

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        body = self._request("GET", f"{self._run_path(run_id)}/artifacts", params={"path": path})
        return [FileInfo.model_validate(f) for f in body.json()["files"]]

    def download_artifact(self, run_id: str, path: str, dst: str | Path) -> Path:
        target = Path(dst)
        if target.is_dir():
            target = target / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        url = f"{self._run_path(run_id)}/artifacts/{quote(path.strip('/'), safe='/')}"
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                with tmp.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.TransportError as exc:
            msg = f"cannot reach the Conveyor server at {self.server}: {exc}"
            raise errors.BackendUnavailableError(msg) from exc
        tmp.replace(target)
        return target

    def close(self) -> None:
        self._http.close()

    # datasets: the same methods as the local transport, over /api/v1/datasets
    def _dataset_path(self, name: str, *rest: str | int) -> str:
        return "/".join([f"/datasets/{quote(name, safe='')}", *(str(r) for r in rest)])

    def _log_dataset_body(
        self, name: str, content: Any, media_type: str, params: dict[str, Any]
    ) -> DatasetVersion:
        from conveyor.data.entities import DatasetVersion

        query = {k: v for k, v in params.items() if v is not None}
        response = self._request(
            "POST",
            self._dataset_path(name, "versions"),
            params=query,
            content=content,
            headers={"content-type": media_type},
        )
        return DatasetVersion.model_validate_json(response.content)

    def log_dataset_table(
        self,
        name: str,
        data: object,
        *,
        context: str = "training",
        run_id: str | None = None,
        description: str | None = None,
        source: str = "",
    ) -> DatasetVersion:
        from conveyor.data.refs import validate_name
        from conveyor.data.snapshot import parquet_bytes, to_table

        validate_name(name)
        body = parquet_bytes(to_table(data))
        params = {"context": context, "run_id": run_id, "description": description}
        return self._log_dataset_body(
            name, body, "application/vnd.apache.parquet", {**params, "source": source}
        )

    def log_dataset_files(
        self,
        name: str,
        path: str | Path,
        *,
        context: str = "training",
        run_id: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        import tarfile
        import tempfile

        from conveyor.data.refs import validate_name
        from conveyor.data.snapshot import files_of

        validate_name(name)
        local = Path(path)
        params = {"context": context, "run_id": run_id, "description": description}
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w") as archive:
                for rel, file in files_of(local):
                    archive.add(file, arcname=rel, recursive=False)
            spool.seek(0)
            source = str(local.resolve())
            return self._log_dataset_body(
                name, _chunks(spool, None), "application/x-tar", {**params, "source": source}
            )

    def list_datasets(self) -> list[Dataset]:
        from conveyor.data.entities import Dataset

        body = self._request("GET", "/datasets").json()
        return [Dataset.model_validate(d) for d in body["datasets"]]

    def get_dataset(self, name: str) -> Dataset:
        from conveyor.data.entities import Dataset

        return Dataset.model_validate_json(self._request("GET", self._dataset_path(name)).content)

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        from conveyor.data.entities import DatasetVersion

        body = self._request("GET", self._dataset_path(name, "versions")).json()
        return [DatasetVersion.model_validate(v) for v in body["versions"]]

    def get_dataset_version(self, name: str, version: int | None = None) -> DatasetVersion:
        from conveyor.data.entities import DatasetVersion

        which = "latest" if version is None else version
        response = self._request("GET", self._dataset_path(name, "versions", which))
        return DatasetVersion.model_validate_json(response.content)

    def get_dataset_profile(self, name: str, version: int) -> dict[str, Any] | None:
        body = self._request("GET", self._dataset_path(name, "versions", version, "profile"))
        profile: dict[str, Any] | None = body.json()["profile"]
        return profile

    def _snapshot(self, name: str, version: int) -> httpx.Response:
        return self._request("GET", self._dataset_path(name, "versions", version, "snapshot"))

    def read_dataset_table(self, name: str, version: int) -> pa.Table:
        from conveyor.data.snapshot import read_parquet

        response = self._snapshot(name, version)
        if "parquet" not in response.headers.get("content-type", ""):
            msg = f"dataset {name}@{version} is a file manifest; use download_dataset"
            raise errors.InvalidArgumentError(msg, field="version")
        return read_parquet(response.content, field="version")

    def download_dataset(self, name: str, version: int, dst: str | Path) -> Path:
        import io
        import tarfile

        target = Path(dst)
        target.mkdir(parents=True, exist_ok=True)
        response = self._snapshot(name, version)
        if "parquet" in response.headers.get("content-type", ""):
            out = target / f"{name}-v{version}.parquet"
            partial = out.with_name(f".{out.name}.partial")
            partial.write_bytes(response.content)
            partial.replace(out)
            return out
        with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:*") as archive:
            archive.extractall(target, filter="data")  # no links out, no absolute paths
        return target

    def diff_datasets(
        self, name: str, old: str | int | None = None, new: str | int | None = None
    ) -> DatasetDiff:
        from conveyor.data.entities import DatasetDiff

        params = {k: str(v) for k, v in (("from", old), ("to", new)) if v is not None}
        response = self._request("GET", self._dataset_path(name, "diff"), params=params)
        return DatasetDiff.model_validate_json(response.content)

    def dataset_runs(self, name: str, version: int | None = None) -> list[RunInput]:
        from conveyor.data.entities import RunInput

        params = {} if version is None else {"version": version}
        body = self._request("GET", self._dataset_path(name, "runs"), params=params).json()
        return [RunInput.model_validate(i) for i in body["inputs"]]

    def run_inputs(self, run_id: str) -> list[RunInput]:
        from conveyor.data.entities import RunInput

        body = self._request("GET", f"{self._run_path(run_id)}/inputs").json()
        return [RunInput.model_validate(i) for i in body["inputs"]]


def _chunks(fh: Any, progress: Callable[[int], None] | None) -> Any:
    while chunk := fh.read(1 << 20):
        if progress is not None:
            progress(len(chunk))
        yield chunk

"""The local transport: tracking over the workspace's database and blob store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from conveyor.blobs import BlobStore, open_blob_store
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.settings import Settings, get_settings
from conveyor.store import make_engine, upgrade
from conveyor.tracking.artifacts import Artifacts, clean_path, root_of
from conveyor.tracking.client import Client
from conveyor.tracking.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
    ViewType,
)
from conveyor.tracking.experiments import Experiments
from conveyor.tracking.runs import Runs


class Workspace:
    """An opened metadata store + blob store, migrated to the current schema."""

    def __init__(self, db_url: str, blob_url: str) -> None:
        self.db_url = db_url
        self.blob_url = blob_url
        self.engine: Engine = make_engine(db_url)
        upgrade(self.engine)
        self.blobs: BlobStore = open_blob_store(blob_url)
        self.experiments = Experiments(self.engine)
        self.experiments.ensure_default()
        self.runs = Runs(self.engine)
        self.artifacts = Artifacts(self.engine, self.blobs)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Workspace:
        """Open the workspace the settings point at (``./.conveyor`` by default)."""
        s = settings or get_settings()
        return cls(s.resolved_db_url(), s.resolved_blob_url())

    def close(self) -> None:
        """Dispose of pooled connections."""
        self.engine.dispose()


class LocalClient(Client):
    """``Client`` over a local workspace (no server)."""

    def __init__(
        self,
        server: str | None = None,  # noqa: ARG002 - signature shared with Client()
        *,
        workspace: Workspace | None = None,
        db_url: str | None = None,
        blob_url: str | None = None,
    ) -> None:
        if workspace is None:
            s = get_settings()
            workspace = Workspace(db_url or s.resolved_db_url(), blob_url or s.resolved_blob_url())
        self.workspace = workspace

    # experiments
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        return self.workspace.experiments.create(name, tags=tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.workspace.experiments.get(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.workspace.experiments.get_by_name(name)

    def list_experiments(
        self, *, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]:
        return self.workspace.experiments.list(view_type=view_type, max_results=max_results)[0]

    def delete_experiment(self, experiment_id: str) -> None:
        self.workspace.experiments.delete(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self.workspace.experiments.restore(experiment_id)

    # runs
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run:
        return self.workspace.runs.create(
            experiment_id, run_name=run_name, tags=tags, start_time=start_time
        )

    def create_run_with_texts(
        self,
        experiment_id: str,
        *,
        texts: Mapping[str, str],
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        stage = self.workspace.artifacts.stage_bytes
        files = {path: stage(text.encode()) for path, text in texts.items()}
        return self.workspace.runs.create(experiment_id, run_name=run_name, tags=tags, files=files)

    def get_run(self, run_id: str) -> Run:
        return self.workspace.runs.get(run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        return self.workspace.runs.update(
            run_id, status=status, end_time=end_time, run_name=run_name
        )

    def delete_run(self, run_id: str) -> None:
        self.workspace.runs.set_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self.workspace.runs.set_lifecycle(run_id, LifecycleStage.ACTIVE)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        batch_id: str | None = None,
    ) -> bool:
        return self.workspace.runs.log_batch(
            run_id, metrics=metrics, params=params, tags=tags, batch_id=batch_id
        )

    def finish_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str,
        end_time: int,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        batch_id: str | None = None,
    ) -> None:
        end = (status, end_time)
        if not self.workspace.runs.log_batch(run_id, metrics=metrics, batch_id=batch_id, end=end):
            # The points were a replay of a stored batch: nothing was written, so end it here.
            self.workspace.runs.update(run_id, status=status, end_time=end_time)

    def delete_tag(self, run_id: str, key: str) -> None:
        self.workspace.runs.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points, token = self.workspace.runs.metric_history(run_id, key, max_results=1_000_000)
        while token:
            more, token = self.workspace.runs.metric_history(
                run_id, key, max_results=1_000_000, page_token=token
            )
            points.extend(more)
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
        runs, token = self.workspace.runs.search(
            experiment_ids,
            filter_string=filter_string,
            view_type=view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        return RunPage(runs=runs, next_page_token=token)

    # artifacts
    def artifact_root(self, run_id: str) -> str:
        """Return the logical path under which the run's artifacts are stored."""
        return root_of(self.workspace.runs.get_info(run_id).artifact_uri)

    def log_artifact(
        self,
        run_id: str,
        local_path: str | Path,
        artifact_path: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        local = Path(local_path)
        sub = clean_path(artifact_path, field="artifact_path")
        base = f"{self.artifact_root(run_id)}/{sub}".rstrip("/")
        if local.is_dir():
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = file.relative_to(local).as_posix()
                self.workspace.artifacts.put_file(f"{base}/{local.name}/{rel}", file, progress)
        elif local.is_file():
            self.workspace.artifacts.put_file(f"{base}/{local.name}", local, progress)
        else:
            msg = f"no file or directory at {str(local)!r}"
            raise InvalidArgumentError(msg, field="local_path")

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        path = clean_path(artifact_file, field="artifact_file")
        self.workspace.artifacts.put_bytes(f"{self.artifact_root(run_id)}/{path}", text.encode())

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        root = self.artifact_root(run_id)
        infos = self.workspace.artifacts.list(f"{root}/{clean_path(path)}".rstrip("/"))
        return [i.model_copy(update={"path": i.path[len(root) + 1 :]}) for i in infos]

    def download_artifact(self, run_id: str, path: str, dst: str | Path) -> Path:
        rel = clean_path(path)
        target = Path(dst)
        if target.is_dir():
            target = target / Path(rel).name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        with (
            self.workspace.artifacts.open(f"{self.artifact_root(run_id)}/{rel}") as src,
            tmp.open("wb") as out,
        ):
            shutil.copyfileobj(src, out, 1 << 20)
        tmp.replace(target)
        return target

    def open_artifact(self, run_id: str, path: str) -> Any:
        """Open one of the run's artifacts for reading."""
        try:
            return self.workspace.artifacts.open(f"{self.artifact_root(run_id)}/{clean_path(path)}")
        except NotFoundError:
            msg = f"run {run_id} has no artifact {path!r}"
            raise NotFoundError(msg, field="path") from None

    def close(self) -> None:
        self.workspace.close()

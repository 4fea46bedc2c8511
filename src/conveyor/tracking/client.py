"""``Client``: one set of tracking methods, two transports.

``Client()`` talks to the local workspace (``./.conveyor``: SQLite + blobs) unless a server is
given, as an argument or with ``CONVEYOR_SERVER``, in which case the same methods go over HTTP.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor._time import now_ms
from conveyor.tracking.entities import (
    Experiment,
    FileInfo,
    Metric,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
    ViewType,
    check_status,
)

if TYPE_CHECKING:  # datasets
    import pyarrow as pa

    from conveyor.data.entities import Dataset, DatasetDiff, DatasetVersion, RunInput
    from conveyor.data.service import Datasets


def open_client(server: str | None = None) -> Client:
    """Return ``Client(server)`` typed as the abstract ``Client`` (for internal callers)."""
    return Client(server)  # type: ignore[abstract]  # __new__ picks a concrete transport


class Client(ABC):
    """Tracking API shared by the local workspace and the HTTP transport."""

    def __new__(cls, server: str | None = None, **kwargs: Any) -> Client:  # noqa: ARG004
        """Pick the transport: HTTP when a server URL is given or configured."""
        if cls is Client:
            from conveyor.settings import get_settings

            url = server or get_settings().server
            if url:
                from conveyor.tracking.remote import HttpClient

                return super().__new__(HttpClient)
            from conveyor.tracking.service import LocalClient

            return super().__new__(LocalClient)
        return super().__new__(cls)

    # experiments
    @abstractmethod
    def create_experiment(self, name: str, *, tags: Mapping[str, str] | None = None) -> Experiment:
        """Create an experiment; raises ``AlreadyExistsError`` if the name is taken."""

    @abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return an experiment by id."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return an experiment by name, or None."""

    @abstractmethod
    def list_experiments(
        self, *, view_type: ViewType = ViewType.ACTIVE_ONLY, max_results: int = 1000
    ) -> list[Experiment]:
        """Return experiments, newest first."""

    @abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Move an experiment to the trash."""

    @abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Bring an experiment back from the trash."""

    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment named ``name``, creating it if needed."""
        from conveyor.errors import AlreadyExistsError

        found = self.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            return self.create_experiment(name)
        except AlreadyExistsError:
            again = self.get_experiment_by_name(name)
            if again is None:  # pragma: no cover - deleted between two calls
                raise
            return again

    # runs
    @abstractmethod
    def create_run(
        self,
        experiment_id: str,
        *,
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Start a run."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return a run with params, tags and latest metrics."""

    @abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        """Change a run's status, end time or name."""

    @abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Move a run to the trash."""

    @abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Bring a run back from the trash."""

    @abstractmethod
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        batch_id: str | None = None,
    ) -> bool:
        """Log points, params and tags atomically; False if ``batch_id`` was already stored."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Return every point of one metric, by step."""

    @abstractmethod
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
        """Return one page of runs matching an MLflow-grammar filter."""

    # artifacts
    @abstractmethod
    def log_artifact(
        self,
        run_id: str,
        local_path: str | Path,
        artifact_path: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Upload a file, or a directory's files, under the run's artifacts.

        ``progress`` is called with the number of bytes sent after each chunk.
        """

    @abstractmethod
    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Store ``text`` (UTF-8) as the artifact file ``artifact_file``."""

    @abstractmethod
    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        """List a directory of the run's artifacts (paths relative to the run's root)."""

    @abstractmethod
    def download_artifact(self, run_id: str, path: str, dst: str | Path) -> Path:
        """Download one artifact file to ``dst`` (a directory or a file path)."""

    # conveniences built on the primitives
    def finish_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str,
        end_time: int,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        batch_id: str | None = None,
    ) -> None:
        """Log the last points and end the run (the local transport: in one transaction)."""
        status = check_status(status)  # before any write: a bad status leaves no points behind
        if metrics:
            self.log_batch(run_id, metrics=metrics, batch_id=batch_id)
        self.update_run(run_id, status=status, end_time=end_time)

    def create_run_with_texts(
        self,
        experiment_id: str,
        *,
        texts: Mapping[str, str],
        run_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a run that starts with small text artifacts (path -> UTF-8 text).

        The local transport does it in one transaction; HTTP creates, then uploads.
        """
        run = self.create_run(experiment_id, run_name=run_name, tags=tags)
        for path, text in texts.items():
            self.log_text(run.info.run_id, text, path)
        return run

    def log_metric(
        self, run_id: str, key: str, value: float, *, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Log one metric point right away (the fluent API buffers instead)."""
        self.log_batch(run_id, metrics=[(key, value, timestamp or now_ms(), step)])

    def log_param(self, run_id: str, key: str, value: object) -> None:
        """Log one param."""
        self.log_batch(run_id, params={key: value})

    def set_tag(self, run_id: str, key: str, value: object) -> None:
        """Set one tag."""
        self.log_batch(run_id, tags={key: value})

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # datasets: the local transport's implementation; HttpClient overrides every method.
    def _dataset_service(self) -> Datasets:
        """Return the workspace's dataset service, built on first use."""
        from conveyor.data.service import Datasets

        service = self.__dict__.get("_datasets")
        if service is None:
            workspace = getattr(self, "workspace", None)
            if workspace is None:
                msg = f"{type(self).__name__} has no workspace for datasets"
                raise NotImplementedError(msg)
            service = Datasets(workspace.engine, workspace.blobs)
            self.__dict__["_datasets"] = service
        return service

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
        """Version a frame as a Parquet snapshot (identical data: the existing version)."""
        return self._dataset_service().log_table(
            name, data, context=context, run_id=run_id, description=description, source=source
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
        """Version a file or directory as a manifest of its files."""
        return self._dataset_service().log_path(
            name, path, context=context, run_id=run_id, description=description
        )

    def list_datasets(self) -> list[Dataset]:
        """Return every dataset, by name."""
        return self._dataset_service().list_datasets()

    def get_dataset(self, name: str) -> Dataset:
        """Return one dataset."""
        return self._dataset_service().get_dataset(name)

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        """Return a dataset's versions, oldest first."""
        return self._dataset_service().list_versions(name)

    def get_dataset_version(self, name: str, version: int | None = None) -> DatasetVersion:
        """Return one version of a dataset (``None``: the latest)."""
        return self._dataset_service().get_version(name, version)

    def get_dataset_profile(self, name: str, version: int) -> dict[str, Any] | None:
        """Return a version's statistical profile (``None`` for file manifests)."""
        service = self._dataset_service()
        return service.profile(service.get_version(name, version))

    def read_dataset_table(self, name: str, version: int) -> pa.Table:
        """Return the Arrow table of a Parquet version."""
        service = self._dataset_service()
        return service.read_table(service.get_version(name, version))

    def download_dataset(self, name: str, version: int, dst: str | Path) -> Path:
        """Write a version under ``dst``: ``NAME-vN.parquet``, or a manifest's files."""
        service = self._dataset_service()
        return service.materialize(service.get_version(name, version), dst)

    def diff_datasets(
        self, name: str, old: str | int | None = None, new: str | int | None = None
    ) -> DatasetDiff:
        """Compare two versions of ``name`` (or refs ``OTHER@V``); default: the last two."""
        return self._dataset_service().diff_pair(name, old, new)

    def dataset_runs(self, name: str, version: int | None = None) -> list[RunInput]:
        """Return the runs that consumed the dataset (one version, or any)."""
        return self._dataset_service().runs_of(name, version)

    def run_inputs(self, run_id: str) -> list[RunInput]:
        """Return the dataset versions a run consumed."""
        return self._dataset_service().inputs_of(run_id)

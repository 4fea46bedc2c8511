"""Tracking entities shared by the service, the REST API and the remote client."""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    """Where a run is in its life (MLflow's values)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


def check_status(status: RunStatus | str) -> RunStatus:
    """Return ``status`` as a ``RunStatus``; a clear error naming the allowed values if not."""
    try:
        return RunStatus(status)
    except ValueError:
        from conveyor.errors import InvalidArgumentError

        allowed = ", ".join(s.value for s in RunStatus)
        msg = f"status must be one of {allowed}; got {status!r}"
        raise InvalidArgumentError(msg, field="status") from None


class LifecycleStage(StrEnum):
    """Whether an experiment or run is live or in the trash (restorable)."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(StrEnum):
    """Which lifecycle stages a listing includes."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"

    def stages(self) -> tuple[str, ...]:
        """Return the lifecycle stages this view includes."""
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE.value,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED.value,)
        return (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value)


class _Model(BaseModel):
    # NaN and infinities travel as "NaN"/"Infinity" strings: JSON has no such numbers.
    model_config = ConfigDict(ser_json_inf_nan="strings", frozen=True)


class Experiment(_Model):
    """A named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    creation_time: int
    last_update_time: int
    project: str = "default"
    tags: dict[str, str] = Field(default_factory=dict)


class Metric(_Model):
    """One metric point."""

    key: str
    value: float
    timestamp: int
    step: int = 0

    def is_same_point(self, other: Metric) -> bool:
        """Compare two points, treating NaN as equal to NaN."""
        same_value = self.value == other.value or (
            math.isnan(self.value) and math.isnan(other.value)
        )
        return (self.key, self.timestamp, self.step) == (
            other.key,
            other.timestamp,
            other.step,
        ) and same_value


class RunInfo(_Model):
    """A run's attributes."""

    run_id: str
    run_name: str
    experiment_id: str
    user_id: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    artifact_uri: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE


class Run(_Model):
    """A run with its params, tags and the latest value of each metric."""

    info: RunInfo
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Metric] = Field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """Return the run's id."""
        return self.info.run_id


class FileInfo(_Model):
    """An entry of an artifact listing."""

    path: str
    is_dir: bool
    file_size: int | None = None


class RunPage(_Model):
    """One page of a run search."""

    runs: list[Run]
    next_page_token: str | None = None


class ExperimentPage(_Model):
    """One page of an experiment listing."""

    experiments: list[Experiment]
    next_page_token: str | None = None


class MetricPage(_Model):
    """One page of a metric history."""

    metrics: list[Metric]
    next_page_token: str | None = None

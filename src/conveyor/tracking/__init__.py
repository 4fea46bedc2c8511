"""Experiment tracking: experiments, runs, params, metrics, tags and artifacts."""

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
from conveyor.tracking.service import LocalClient, Workspace

__all__ = [
    "Client",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "LocalClient",
    "Metric",
    "Run",
    "RunInfo",
    "RunPage",
    "RunStatus",
    "ViewType",
    "Workspace",
]

"""Conveyor: one system from a training script to a healthy model in production.

The object model, as far as it is built::

    Experiment ──< Run ──< Param, Tag
                      ├──< Metric (every point; the latest per key is indexed)
                      └──< Artifact (content-addressed blob)

Log from a training script (into ``./.conveyor`` or, with ``CONVEYOR_SERVER``, a server)::

    import conveyor
    with conveyor.start_run(experiment="churn", run_name="baseline"):
        conveyor.log_params({"C": 1.0})
        conveyor.log_metric("loss", 0.3, step=1)

Names are loaded lazily (PEP 562) so that ``import conveyor`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ActiveRun": "conveyor.tracking.fluent",
    "Client": "conveyor.tracking.client",
    "ConveyorError": "conveyor.errors",
    "active_run": "conveyor.tracking.fluent",
    "autolog": "conveyor.models.autolog",
    "end_run": "conveyor.tracking.fluent",
    "flush": "conveyor.tracking.fluent",
    "get_client": "conveyor.tracking.fluent",
    "load_model": "conveyor.models.load",
    "log_artifact": "conveyor.tracking.fluent",
    "log_artifacts": "conveyor.tracking.fluent",
    "log_dataset": "conveyor.data.api",
    "log_metric": "conveyor.tracking.fluent",
    "log_metrics": "conveyor.tracking.fluent",
    "log_model": "conveyor.models.log",
    "register_model": "conveyor.registry",
    "log_param": "conveyor.tracking.fluent",
    "log_params": "conveyor.tracking.fluent",
    "set_experiment": "conveyor.tracking.fluent",
    "set_tag": "conveyor.tracking.fluent",
    "set_tags": "conveyor.tracking.fluent",
    "start_run": "conveyor.tracking.fluent",
}

__all__ = [
    "ActiveRun",
    "Client",
    "ConveyorError",
    "__version__",
    "active_run",
    "autolog",
    "end_run",
    "flush",
    "get_client",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "register_model",
    "set_experiment",
    "set_tag",
    "set_tags",
    "start_run",
]

if TYPE_CHECKING:
    from conveyor.data.api import log_dataset
    from conveyor.errors import ConveyorError
    from conveyor.models.autolog import autolog
    from conveyor.models.load import load_model
    from conveyor.models.log import log_model
    from conveyor.registry import register_model
    from conveyor.tracking.client import Client
    from conveyor.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        get_client,
        log_artifact,
        log_artifacts,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        set_experiment,
        set_tag,
        set_tags,
        start_run,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'conveyor' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

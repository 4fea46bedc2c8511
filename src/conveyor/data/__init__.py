"""Dataset versions: content-addressed snapshots, schemas, statistical profiles, diffs, lineage.

``conveyor.log_dataset(df, name="churn-train")`` stores a frame as deterministic Parquet (a path
as a manifest of its files); identical content is one version. ``load_dataset("churn-train@3")``
reads it back. ``Datasets`` is the service over the store; ``Client`` exposes it on both
transports. Heavy modules (pyarrow, pandas) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conveyor.data.refs import DatasetRef, parse_range, parse_ref, validate_name

if TYPE_CHECKING:
    from conveyor.data.api import load_dataset, log_dataset
    from conveyor.data.entities import (
        Dataset,
        DatasetDiff,
        DatasetVersion,
        ManifestFile,
        RunInput,
    )
    from conveyor.data.service import Datasets

_LAZY: dict[str, str] = {
    "Dataset": "conveyor.data.entities",
    "DatasetDiff": "conveyor.data.entities",
    "DatasetVersion": "conveyor.data.entities",
    "Datasets": "conveyor.data.service",
    "ManifestFile": "conveyor.data.entities",
    "RunInput": "conveyor.data.entities",
    "load_dataset": "conveyor.data.api",
    "log_dataset": "conveyor.data.api",
}

__all__ = [
    "Dataset",
    "DatasetDiff",
    "DatasetRef",
    "DatasetVersion",
    "Datasets",
    "ManifestFile",
    "RunInput",
    "load_dataset",
    "log_dataset",
    "parse_range",
    "parse_ref",
    "validate_name",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'conveyor.data' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

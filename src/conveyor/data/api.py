"""The fluent data API: ``log_dataset`` and ``load_dataset`` over the process-wide client."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.data.refs import DatasetRef, parse_ref

if TYPE_CHECKING:
    from conveyor.data.entities import DatasetVersion


def log_dataset(
    data: object,
    name: str,
    *,
    context: str = "training",
    run_id: str | None = None,
    description: str | None = None,
) -> DatasetVersion:
    """Version a frame or a path as dataset ``name``, linked to the active run (or ``run_id``).

    A frame (pandas DataFrame, pyarrow Table, 2-D numpy array, dict of columns) is stored as a
    deterministic Parquet snapshot with its schema and statistical profile; a path (file or
    directory) as a manifest of its files. Identical content returns the existing version;
    new content becomes version N+1. Inside a run the edge dataset version -> run is recorded
    with ``context`` (training, validation, ...).

    Example::

        with conveyor.start_run():
            v = conveyor.log_dataset(train_df, name="churn-train")
            print(v.ref)  # churn-train@1
    """
    from conveyor.tracking.fluent import active_run, get_client

    if run_id is None and (active := active_run()) is not None:
        run_id = active.run_id
    client = get_client()
    if isinstance(data, str | os.PathLike):
        return client.log_dataset_files(
            name, Path(data), context=context, run_id=run_id, description=description
        )
    return client.log_dataset_table(
        name, data, context=context, run_id=run_id, description=description
    )


def load_dataset(ref: str | DatasetRef, *, dst: str | Path | None = None) -> Any:
    """Load a dataset version: a pandas DataFrame, or a local directory for file manifests.

    ``ref`` is ``NAME``, ``NAME@V`` or ``data:NAME@V``. The files of a manifest are written under
    ``dst``, or once into the workspace's cache (``CONVEYOR_HOME/cache/datasets/DIGEST``).
    """
    from conveyor.settings import get_settings
    from conveyor.tracking.fluent import get_client

    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    client = get_client()
    version = client.get_dataset_version(parsed.name, parsed.version)
    if version.kind == "parquet":
        return client.read_dataset_table(version.name, version.version).to_pandas()
    if dst is not None:
        return client.download_dataset(version.name, version.version, dst)
    cached = get_settings().home / "cache" / "datasets" / version.digest
    if cached.is_dir():  # complete: it is only ever renamed into place
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cached.parent))
    try:
        client.download_dataset(version.name, version.version, staging)
        staging.replace(cached)
    except OSError:
        if not cached.is_dir():  # not a concurrent loader that won the rename
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cached

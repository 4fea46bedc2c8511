"""``log_model``: save a model into a run's artifacts through the run's client."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError, InvalidArgumentError
from conveyor.models.load import cache_root, publish
from conveyor.models.mlmodel import MLMODEL, MLModel
from conveyor.models.save import save_model
from conveyor.models.signature import Signature
from conveyor.tracking.client import Client


@dataclass(frozen=True)
class ModelInfo:
    """Where a logged model lives and what it is."""

    run_id: str
    artifact_path: str
    model_uri: str
    flavors: dict[str, dict[str, Any]]
    signature: Signature | None
    digest: str
    model_uuid: str | None
    registered_model_version: Any = None


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    pip_requirements: Sequence[str] | None = None,
    flavor: str | None = None,
    serialization: str | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    client: Client | None = None,
) -> ModelInfo:
    """Log ``model`` as the run's artifact directory ``name`` in the MLflow Model format.

    Uses the active run unless ``run_id`` (and optionally ``client``) is given. See
    ``conveyor.models.save_model`` for the arguments shared with saving; with
    ``registered_model_name`` the model is also registered as a new version.
    """
    from conveyor.tracking.artifacts import clean_path

    artifact_path = clean_path(name, field="name")
    if not artifact_path:
        raise InvalidArgumentError("name must be a non-empty artifact path", field="name")
    run_id, client = _target(run_id, client)
    with tempfile.TemporaryDirectory(prefix="conveyor-model-") as tmp:
        local = Path(tmp) / Path(artifact_path).name
        mlmodel = save_model(
            model,
            local,
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            flavor=flavor,
            serialization=serialization,
            run_id=run_id,
            artifact_path=artifact_path,
        )
        parent = artifact_path.rpartition("/")[0]
        client.log_artifact(run_id, local, parent)
        _, digest = MLModel.parse((local / MLMODEL).read_bytes())
        _prime_cache(local, digest)
    info = ModelInfo(
        run_id=run_id,
        artifact_path=artifact_path,
        model_uri=f"runs:/{run_id}/{artifact_path}",
        flavors=mlmodel.flavors,
        signature=mlmodel.signature,
        digest=digest,
        model_uuid=mlmodel.model_uuid,
    )
    if registered_model_name is None:
        return info
    version = _register(info.model_uri, registered_model_name, client)
    return ModelInfo(**{**info.__dict__, "registered_model_version": version})


def _target(run_id: str | None, client: Client | None) -> tuple[str, Client]:
    if run_id is not None:
        if client is None:
            from conveyor.tracking.fluent import get_client

            client = get_client()
        return run_id, client
    from conveyor.errors import ConflictError
    from conveyor.tracking.fluent import active_run

    active = active_run()
    if active is None:
        msg = "no active run: call log_model inside `with conveyor.start_run():` or pass run_id="
        raise ConflictError(msg, field="run_id")
    return active.run_id, client or active.client


def _prime_cache(local: Path, digest: str) -> None:
    """Keep the just-saved directory as the cache entry, so the first load downloads nothing."""
    target = cache_root() / digest
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    try:
        shutil.copytree(local, tmp, dirs_exist_ok=True)
        publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _register(model_uri: str, name: str, client: Client) -> Any:
    try:
        from conveyor.registry import register_model  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        msg = (
            "registered_model_name needs the model registry (conveyor.registry), which is not "
            "available; log without it and register later"
        )
        raise ConveyorError(msg) from exc
    return register_model(model_uri, name, client=client)

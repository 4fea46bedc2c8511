"""``load_model``: resolve a URI, fetch the model once into a content-addressed cache, load it.

The cache lives at ``<workspace home>/cache/models/<MLmodel SHA-256>/``. ``MLmodel`` lists the
digest of every other file, so its own digest names the whole directory: a warm load reads
``MLmodel`` (one small artifact), finds the directory and deserializes, with no download.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from conveyor.errors import ConveyorError, InvalidArgumentError
from conveyor.models.flavors.base import flavor_of_mlmodel
from conveyor.models.mlmodel import MLMODEL, MLModel, file_digest
from conveyor.models.pyfunc import PyFuncModel
from conveyor.models.safety import pickle_trusted, require_trust
from conveyor.tracking.client import Client

RUNS_SCHEME = "runs:/"
MODELS_SCHEME = "models:/"
ARTIFACTS_SCHEME = "mlflow-artifacts:"


def load_model(
    model_uri: str | Path, *, trust_pickle: bool = False, client: Client | None = None
) -> PyFuncModel:
    """Load a model from a local directory, ``runs:/RUN/path``, ``models:/...`` or
    ``mlflow-artifacts:/...``.

    Args:
        model_uri: where the model is.
        trust_pickle: allow formats that run code when loaded (pickle, cloudpickle); also
            ``CONVEYOR_TRUST_PICKLE=1``. Only for models from a source you trust.
        client: the tracking client to fetch with (default: the fluent API's).
    """
    directory = local_model_dir(model_uri, client=client)
    mlmodel, digest = MLModel.read(directory)
    return _load_dir(directory, mlmodel, digest, trust_pickle=trust_pickle)


def _load_dir(directory: Path, mlmodel: MLModel, digest: str, *, trust_pickle: bool) -> PyFuncModel:
    flavor = flavor_of_mlmodel(mlmodel.flavors)
    if flavor.is_pickle_based(mlmodel.flavors) and not pickle_trusted(trust_pickle):
        require_trust(f"the {flavor.name} model at {directory}", trust_pickle=False)
    native = flavor.load(directory, mlmodel.flavors, trust_pickle=trust_pickle)
    return PyFuncModel(mlmodel, native, flavor, directory, digest)


def local_model_dir(model_uri: str | Path, *, client: Client | None = None) -> Path:
    """Return a local directory holding the model at ``model_uri`` (downloaded when remote)."""
    uri = str(model_uri)
    if uri.startswith(MODELS_SCHEME):
        uri = _resolve_registry_uri(uri, client)
    uri = uri.removeprefix("file://")
    if uri.startswith(RUNS_SCHEME) or uri.startswith(ARTIFACTS_SCHEME):
        run_id, path = parse_run_uri(uri)
        return fetch_run_model(client or _default_client(), run_id, path)
    if "://" in uri or uri.startswith(("runs:", "models:")):
        msg = f"cannot load model_uri {uri!r}: use a local path, runs:/RUN_ID/PATH or models:/NAME"
        raise InvalidArgumentError(msg, field="model_uri")
    return Path(uri)


def _default_client() -> Client:
    from conveyor.tracking.fluent import get_client

    return get_client()


def _resolve_registry_uri(uri: str, client: Client | None) -> str:
    try:
        from conveyor.registry import resolve_model_uri  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        msg = f"cannot resolve {uri!r}: the model registry (conveyor.registry) is not available"
        raise ConveyorError(msg) from exc
    resolved: str = resolve_model_uri(uri, client=client or _default_client())
    return resolved


def parse_run_uri(uri: str) -> tuple[str, str]:
    """Split ``runs:/RUN/path`` or ``mlflow-artifacts:/EXP/RUN/artifacts/path`` into (run, path)."""
    if uri.startswith(RUNS_SCHEME):
        run_id, _, path = uri[len(RUNS_SCHEME) :].strip("/").partition("/")
    else:
        parts = uri[len(ARTIFACTS_SCHEME) :].strip("/").split("/")
        ok = len(parts) >= 4 and parts[2] == "artifacts"
        run_id, path = (parts[1], "/".join(parts[3:])) if ok else ("", "")
    if not run_id or not path:
        msg = f"malformed model_uri {uri!r}: expected runs:/RUN_ID/PATH (e.g. runs:/abc123/model)"
        raise InvalidArgumentError(msg, field="model_uri")
    return run_id, path.strip("/")


def cache_root() -> Path:
    """Return ``<workspace home>/cache/models``."""
    from conveyor.settings import get_settings

    return (get_settings().home / "cache" / "models").resolve()


def fetch_run_model(client: Client, run_id: str, path: str) -> Path:
    """Return the cached directory of a run's model, downloading it the first time."""
    raw = read_artifact(client, run_id, f"{path}/{MLMODEL}")
    mlmodel, digest = MLModel.parse(raw)
    target = cache_root() / digest
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    try:
        files = mlmodel.conveyor_files or _list_files(client, run_id, path)
        for rel, expected in files.items():
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            client.download_artifact(run_id, f"{path}/{rel}", dst)
            if expected and file_digest(dst) != expected:
                msg = f"{path}/{rel} of run {run_id} does not match the digest in its MLmodel"
                raise ConveyorError(msg)
        (tmp / MLMODEL).write_bytes(raw)
        publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def publish(tmp: Path, target: Path) -> None:
    """Move a finished directory into the cache; a concurrent identical copy wins harmlessly."""
    try:
        tmp.rename(target)
    except OSError:
        if not target.is_dir():
            raise


def _list_files(client: Client, run_id: str, path: str) -> dict[str, str]:
    """Every file under ``path`` (models logged without ``conveyor_files``, e.g. by MLflow)."""
    out: dict[str, str] = {}
    pending = [path]
    while pending:
        for info in client.list_artifacts(run_id, pending.pop()):
            if info.is_dir:
                pending.append(info.path)
            elif info.path != f"{path}/{MLMODEL}":
                out[info.path[len(path) + 1 :]] = ""
    return out


def read_artifact(client: Client, run_id: str, path: str) -> bytes:
    """Read one small artifact: straight from the blob store locally, else over HTTP."""
    opener = getattr(client, "open_artifact", None)
    if opener is not None:
        with opener(run_id, path) as fh:
            data: bytes = fh.read()
            return data
    with tempfile.TemporaryDirectory() as tmp:
        return client.download_artifact(run_id, path, Path(tmp) / "f").read_bytes()

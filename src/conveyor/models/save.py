"""``save_model``: write a model directory in the MLflow Model format."""

from __future__ import annotations

import platform
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models import environment, examples
from conveyor.models.flavors.base import Flavor, flavor_for, get_flavor
from conveyor.models.mlmodel import MLMODEL, MLModel, file_digest
from conveyor.models.signature import Signature, infer_schema, infer_signature


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    pip_requirements: Sequence[str] | None = None,
    flavor: str | None = None,
    serialization: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> MLModel:
    """Save ``model`` into the new directory ``path`` and return its ``MLmodel``.

    Args:
        model: the model object; its flavor is chosen by type unless ``flavor`` names one.
        path: a directory that does not exist yet (or is empty).
        input_example: a few rows of input; stored, and used to infer the signature.
        signature: the input/output schema (inferred from ``input_example`` when omitted).
        pip_requirements: requirement lines to record instead of the flavor's defaults.
        flavor: force a flavor (``sklearn``, ``onnx``, ``python_function``, ...).
        serialization: the flavor's format (scikit-learn: ``skops``, ``pickle``, ``cloudpickle``).
        run_id: the run the model belongs to (recorded in ``MLmodel``).
        artifact_path: the model's path under the run's artifacts (recorded in ``MLmodel``).
    """
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        msg = f"{target} already exists and is not empty; save into a new directory"
        raise InvalidArgumentError(msg, field="path")
    target.mkdir(parents=True, exist_ok=True)
    chosen = get_flavor(flavor) if flavor else flavor_for(model)
    saved = chosen.save(model, target, serialization=serialization)
    example = examples.normalize(input_example)
    info = examples.write_example(target, example) if example is not None else None
    if signature is None and example is not None:
        signature = _infer(chosen, model, example)
    requirements = (
        list(pip_requirements)
        if pip_requirements is not None
        else environment.pin(saved.requirements)
    )
    env = environment.write_environment(target, requirements)
    pyfunc = {**saved.pyfunc_conf, "env": env, "python_version": platform.python_version()}
    flavors = {"python_function": pyfunc}
    if chosen.name != "python_function":
        flavors[chosen.name] = saved.flavor_conf
    files = {
        p.relative_to(target).as_posix(): file_digest(p)
        for p in sorted(target.rglob("*"))
        if p.is_file()
    }
    mlmodel = MLModel(
        flavors=flavors,
        model_uuid=uuid.uuid4().hex,
        run_id=run_id,
        artifact_path=artifact_path,
        utc_time_created=str(datetime.now(UTC).replace(tzinfo=None)),
        signature=signature,
        saved_input_example_info=info,
        conveyor_files=files,
        extra={"model_size_bytes": sum((target / f).stat().st_size for f in files)},
    )
    (target / MLMODEL).write_text(mlmodel.to_yaml())
    return mlmodel


def _infer(flavor: Flavor, model: Any, example: Any) -> Signature:
    """Signature from the example and, when the model predicts on it, from its output."""
    signature = infer_signature(example)
    try:
        output = flavor.predict(model, example)
    except Exception:  # noqa: BLE001 - a model that cannot predict on its example still saves
        return signature
    try:
        is_frame = type(example).__module__.startswith("pandas")
        return Signature(signature.inputs, infer_schema(output, like_frame=is_frame))
    except (InvalidArgumentError, TypeError, ValueError):
        return signature

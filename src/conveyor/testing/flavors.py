"""``check_flavor``: the conformance kit every model flavor passes (sklearn's ``check_estimator``).

    from conveyor.testing.flavors import check_flavor
    check_flavor("sklearn", fitted_estimator, X[:5])

It saves the model, checks the ``MLmodel`` file, loads the model back, compares predictions with
the original's, checks that the signature is enforced, that requirements are listed and that
the directory's digest is stable across a copy and a load. A failure raises ``AssertionError``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.environment import CONDA_FILE, PYTHON_ENV_FILE, read_requirements
from conveyor.models.flavors.base import LOADER_MODULES, get_flavor
from conveyor.models.load import load_model
from conveyor.models.mlmodel import MLModel, directory_digest, file_digest
from conveyor.models.save import save_model
from conveyor.models.signature import ColSpec, Signature


def check_flavor(
    flavor_name: str, model: Any, input_example: Any, *, serialization: str | None = None
) -> None:
    """Run every conformance check of ``flavor_name`` on ``model`` with ``input_example``."""
    flavor = get_flavor(flavor_name)
    with tempfile.TemporaryDirectory(prefix="conveyor-flavor-check-") as tmp:
        path = Path(tmp) / "model"
        save_model(
            model,
            path,
            input_example=input_example,
            flavor=flavor_name,
            serialization=serialization,
        )
        mlmodel = _check_mlmodel(flavor_name, path)
        saved_digest = directory_digest(path)
        loaded = load_model(path, trust_pickle=True)
        expected = flavor.predict(model, input_example)
        _check(same(loaded.predict(input_example), expected), "loaded model predicts differently")
        assert_signature_enforced(loaded, input_example, mlmodel.signature)
        _check(bool(read_requirements(path)), "requirements.txt lists no requirement")
        _check(directory_digest(path) == saved_digest, "loading changed the model directory")
        copy = Path(tmp) / "copy"
        shutil.copytree(path, copy)
        _check(directory_digest(copy) == saved_digest, "a copy has a different digest")
        again = load_model(copy, trust_pickle=True).predict(input_example)
        _check(same(again, expected), "a copy of the model predicts differently")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def _check_mlmodel(flavor_name: str, path: Path) -> MLModel:
    mlmodel, _ = MLModel.read(path)
    pyfunc = mlmodel.flavors.get("python_function")
    _check(pyfunc is not None, "MLmodel has no python_function flavor")
    assert pyfunc is not None  # noqa: S101 - narrowed for the type checker
    _check(pyfunc.get("loader_module") in LOADER_MODULES, "unknown pyfunc loader_module")
    _check(bool(pyfunc.get("python_version")), "python_version missing")
    _check(flavor_name == "python_function" or flavor_name in mlmodel.flavors, "no flavor block")
    _check(mlmodel.signature is not None, "no signature inferred from the input example")
    _check(bool(mlmodel.model_uuid) and bool(mlmodel.utc_time_created), "uuid/time missing")
    for name in (CONDA_FILE, PYTHON_ENV_FILE, "input_example.json"):
        _check((path / name).is_file(), f"{name} missing")
    for rel, digest in mlmodel.conveyor_files.items():
        _check(file_digest(path / rel) == digest, f"{rel} does not match its recorded digest")
    return mlmodel


def assert_signature_enforced(loaded: Any, example: Any, signature: Signature | None) -> None:
    """Input without a required column (or with a wrong tensor) must be refused."""
    if signature is None:
        return
    spec = signature.inputs.specs[0]
    if isinstance(spec, ColSpec) and spec.name is not None:
        bad: Any = example.drop(columns=[spec.name]) if hasattr(example, "drop") else None
        field = spec.name
    else:
        import numpy as np

        bad = np.full((1, 1, 1, 1, 1), "x")  # neither the dtype nor the rank can match
        field = spec.name or "input"
    if bad is None:
        return
    try:
        loaded.predict(bad)
    except InvalidArgumentError as exc:
        _check(exc.field == field, f"the error names {exc.field!r}, not {field!r}")
        return
    raise AssertionError("input that breaks the signature was accepted")


def same(a: Any, b: Any) -> bool:
    """Equal predictions: arrays (approximately for floats), frames, dicts, lists."""
    import numpy as np

    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list) and a and isinstance(a[0], Mapping):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    left, right = np.asarray(a), np.asarray(b)
    if left.shape != right.shape:
        return False
    if left.dtype.kind in "fc" or right.dtype.kind in "fc":
        return bool(np.allclose(left, right, equal_nan=True))
    return bool((left == right).all())

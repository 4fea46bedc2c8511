"""Any object with ``predict``: stored with cloudpickle, so loading it is opt-in.

The ``MLmodel`` names this module as the pyfunc ``loader_module``: ``mlflow.pyfunc.load_model``
imports it and calls ``_load_pyfunc`` (MLflow's contract for custom flavors), so models saved
here load in MLflow where Conveyor is installed. Under MLflow the pickle is gated by MLflow's own
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` switch, as for MLflow's pickle-based flavors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor
from conveyor.models.safety import require_trust

FILE = "model.pkl"


class PythonFunctionFlavor(Flavor):
    """The generic flavor: any object with a ``predict(data)`` method."""

    name = "python_function"
    loader_module = "conveyor.models.flavors.python_function"
    serializations = ("cloudpickle",)

    def handles(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        import cloudpickle

        if serialization not in {None, "cloudpickle"}:
            msg = (
                f"the python_function flavor stores models with cloudpickle, not {serialization!r}"
            )
            raise InvalidArgumentError(msg, field="serialization")
        with (path / FILE).open("wb") as fh:
            cloudpickle.dump(model, fh)
        pyfunc = {
            "cloudpickle_version": cloudpickle.__version__,
            "data": FILE,
            "loader_module": self.loader_module,
        }
        return SavedFlavor({}, pyfunc, ["cloudpickle", "conveyor-mlops"])

    def is_pickle_based(self, flavors: Mapping[str, Any]) -> bool:  # noqa: ARG002
        return True

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:
        file = path / str(flavors["python_function"].get("data") or FILE)
        require_trust(f"the Python model {file} (cloudpickle)", trust_pickle=trust_pickle)
        return _unpickle(file)

    def predict(self, model: Any, data: Any) -> Any:
        return model.predict(data)


def _unpickle(file: Path) -> Any:
    import cloudpickle

    with file.open("rb") as fh:
        return cloudpickle.load(fh)


class _MlflowWrapper:
    """What ``mlflow.pyfunc.load_model`` gets back from ``_load_pyfunc``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:  # noqa: ARG002
        return self.model.predict(data)

    def get_raw_model(self) -> Any:
        return self.model


def _load_pyfunc(data_path: str) -> _MlflowWrapper:
    """MLflow's loader hook: unpickle the model (if MLflow allows pickles) and wrap it."""
    allowed = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").lower()
    if allowed not in {"1", "true"}:
        msg = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION is off; this model is a cloudpickle file"
        raise InvalidArgumentError(msg, field="model_uri")
    return _MlflowWrapper(_unpickle(Path(data_path)))


FLAVOR = PythonFunctionFlavor()

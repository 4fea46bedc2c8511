"""Read models saved by ``mlflow.pyfunc.save_model(python_model=...)`` (load only).

The ``PythonModel`` is a cloudpickle file whose class subclasses MLflow's, so MLflow must be
installed; after Conveyor's trust check the loading itself is MLflow's own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError, InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor
from conveyor.models.safety import require_trust


class MlflowPythonModelFlavor(Flavor):
    """``loader_module: mlflow.pyfunc.model`` models."""

    name = "mlflow_python_model"
    loader_module = "mlflow.pyfunc.model"

    def handles(self, model: object) -> bool:  # noqa: ARG002
        return False

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:  # noqa: ARG002
        msg = "save MLflow PythonModel objects with mlflow.pyfunc; Conveyor only loads them"
        raise InvalidArgumentError(msg, field="flavor")

    def is_pickle_based(self, flavors: Mapping[str, Any]) -> bool:  # noqa: ARG002
        return True

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:  # noqa: ARG002
        require_trust(f"the MLflow PythonModel at {path} (cloudpickle)", trust_pickle=trust_pickle)
        try:
            from mlflow.pyfunc import model as mlflow_model
        except ImportError as exc:
            msg = "this model was saved by mlflow.pyfunc with a PythonModel; install mlflow"
            raise ConveyorError(msg) from exc
        return mlflow_model._load_pyfunc(str(path))

    def predict(self, model: Any, data: Any) -> Any:
        return model.predict(data)


FLAVOR = MlflowPythonModelFlavor()

"""The flavor seam: how one kind of model is saved, loaded and asked for predictions.

A flavor is one module with a ``FLAVOR`` object; the registry below names the modules and imports
them only when needed, so ``import conveyor.models`` never imports scikit-learn, ONNX or torch.
Adding a flavor is adding a module and one line to ``FLAVOR_MODULES``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from conveyor.errors import InvalidArgumentError

# Tried in this order when choosing a flavor for a model object: specific before generic.
FLAVOR_MODULES: dict[str, str] = {
    # XGBoost and LightGBM estimators are scikit-learn estimators too: keep them before sklearn.
    "xgboost": "conveyor.models.flavors.xgboost",
    "lightgbm": "conveyor.models.flavors.lightgbm",
    "pytorch": "conveyor.models.flavors.pytorch",
    "sklearn": "conveyor.models.flavors.sklearn",
    "onnx": "conveyor.models.flavors.onnx",
    "python_function": "conveyor.models.flavors.python_function",
}

# ``python_function.loader_module`` values we can read, and which flavor reads them.
LOADER_MODULES: dict[str, str] = {
    "mlflow.sklearn": "sklearn",
    "mlflow.onnx": "onnx",
    "mlflow.xgboost": "xgboost",
    "mlflow.lightgbm": "lightgbm",
    "conveyor.models.flavors.pytorch": "pytorch",
    "mlflow.pyfunc.model": "mlflow_python_model",
    "conveyor.models.flavors.python_function": "python_function",
}
_EXTRA_MODULES = {"mlflow_python_model": "conveyor.models.flavors.mlflow_python_model"}


@dataclass(frozen=True)
class SavedFlavor:
    """What a flavor wrote: its own ``MLmodel`` block, the pyfunc block, and what it needs."""

    flavor_conf: dict[str, Any]
    pyfunc_conf: dict[str, Any]
    requirements: list[str] = field(default_factory=list)


class Flavor(ABC):
    """Save, load and predict with one kind of model."""

    name: ClassVar[str]
    loader_module: ClassVar[str]
    serializations: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def handles(self, model: object) -> bool:
        """True when this flavor can save ``model`` (checked without heavy imports)."""

    @abstractmethod
    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        """Write the model's files into the directory ``path``."""

    @abstractmethod
    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:
        """Read the native model back from the directory ``path``."""

    def is_pickle_based(self, flavors: Mapping[str, Any]) -> bool:  # noqa: ARG002
        """True when loading this model can run code from the file (pickle and friends)."""
        return False

    @abstractmethod
    def predict(self, model: Any, data: Any) -> Any:
        """Predict with a native model (the original object or a loaded one)."""


def get_flavor(name: str) -> Flavor:
    """Return the flavor named ``name`` (importing its module)."""
    module = FLAVOR_MODULES.get(name) or _EXTRA_MODULES.get(name)
    if module is None:
        known = sorted(FLAVOR_MODULES)
        msg = f"unknown flavor {name!r}; use one of {known}"
        raise InvalidArgumentError(msg, field="flavor")
    flavor: Flavor = importlib.import_module(module).FLAVOR
    return flavor


def flavor_for(model: object) -> Flavor:
    """Choose the flavor that saves ``model``, most specific first."""
    for name in FLAVOR_MODULES:
        flavor = get_flavor(name)
        if flavor.handles(model):
            return flavor
    msg = (
        f"no flavor can save a {type(model).__module__}.{type(model).__qualname__}: "
        "it needs a `predict` method (or pass flavor=... explicitly)"
    )
    raise InvalidArgumentError(msg, field="model")


def flavor_of_mlmodel(flavors: Mapping[str, Any]) -> Flavor:
    """Choose the flavor that loads a saved model, from its ``MLmodel`` flavors."""
    loader = (flavors.get("python_function") or {}).get("loader_module")
    name = LOADER_MODULES.get(str(loader))
    if name is None:
        name = next((n for n in FLAVOR_MODULES if n in flavors), None)
    if name is None:
        msg = (
            f"cannot load a model with flavors {sorted(flavors)} (python_function loader "
            f"{loader!r}); Conveyor reads {sorted(LOADER_MODULES)}"
        )
        raise InvalidArgumentError(msg, field="model_uri")
    return get_flavor(name)


def module_of(model: object) -> str:
    """Return the top-level package a model's class comes from."""
    return type(model).__module__.partition(".")[0]

"""XGBoost: a ``Booster`` or a scikit-learn-API model in XGBoost's own format (UBJSON or JSON).

``save_model`` writes trees and, for ``XGBClassifier``/``XGBRegressor``, the wrapper's attributes;
loading that file parses data and runs no code, so it needs no opt-in. The ``MLmodel`` block is
MLflow's (``xgb_version``, ``data``, ``model_class``, ``model_format``), read by
``mlflow.xgboost``. The class named in ``model_class`` is instantiated on load, so only XGBoost's
own model classes are accepted there.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor

UBJ = "ubj"
JSON = "json"
BOOSTER_CLASS = "xgboost.core.Booster"  # MLflow's default for models saved without model_class


class XGBoostFlavor(Flavor):
    """The ``xgboost`` flavor."""

    name = "xgboost"
    loader_module = "mlflow.xgboost"
    serializations = (UBJ, JSON)

    def handles(self, model: object) -> bool:
        if "xgboost" not in sys.modules:
            return False
        import xgboost as xgb

        return isinstance(model, xgb.Booster | xgb.XGBModel)

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        import xgboost as xgb

        fmt = serialization or UBJ
        if fmt not in self.serializations:
            msg = f"serialization {fmt!r} is not one of {list(self.serializations)}"
            raise InvalidArgumentError(msg, field="serialization")
        if not self.handles(model):
            msg = f"the xgboost flavor saves an xgboost.Booster or XGBModel, not {type(model)!r}"
            raise InvalidArgumentError(msg, field="model")
        file = f"model.{fmt}"
        model.save_model(str(path / file))
        conf = {
            "code": None,
            "data": file,
            "model_class": f"{type(model).__module__}.{type(model).__name__}",
            "model_format": fmt,
            "xgb_version": xgb.__version__,
        }
        pyfunc = {"data": file, "loader_module": self.loader_module}
        # xgboost.__version__ pins whichever distribution provides it (xgboost or xgboost-cpu).
        return SavedFlavor(conf, pyfunc, [f"xgboost=={xgb.__version__}"])

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:  # noqa: ARG002
        conf = flavors.get(self.name) or {}
        data = conf.get("data") or flavors["python_function"].get("data")
        model = model_class(str(conf.get("model_class") or BOOSTER_CLASS))()
        model.load_model(str(path / str(data)))
        return model

    def predict(self, model: Any, data: Any) -> Any:
        import xgboost as xgb

        if isinstance(model, xgb.Booster):
            return model.predict(xgb.DMatrix(data))
        return model.predict(data)


def model_class(qualified: str) -> type[Any]:
    """Resolve an ``MLmodel`` ``model_class``, accepting only XGBoost's own model classes."""
    import xgboost as xgb

    module, _, name = qualified.rpartition(".")
    found = None
    if module.partition(".")[0] == "xgboost":
        found = getattr(importlib.import_module(module), name, None)
    if not (isinstance(found, type) and issubclass(found, xgb.Booster | xgb.XGBModel)):
        msg = (
            f"model_class {qualified!r} in MLmodel is not an XGBoost model class; "
            "expected xgboost.core.Booster or an xgboost.sklearn model such as XGBClassifier"
        )
        raise InvalidArgumentError(msg, field="model_class")
    return found


FLAVOR = XGBoostFlavor()

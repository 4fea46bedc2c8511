"""LightGBM: a ``Booster`` as LightGBM's text model, a scikit-learn-API model with skops.

Both load without running code. This is MLflow's layout for the ``lightgbm`` flavor
(``lgb_version``, ``data``, ``model_class``, ``serialization_format``, ``skops_trusted_types``),
so ``mlflow.lightgbm`` reads it: a ``Booster`` goes to ``model.lgb``; ``LGBMClassifier`` and
friends, whose label encoding and parameters live outside the booster, go to ``model.skops``.
On load the skops trusted types may only name LightGBM, scikit-learn, NumPy and SciPy types
unless pickle loading is trusted, as for the ``sklearn`` flavor.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor
from conveyor.models.flavors.sklearn import SAFE_TYPE_PACKAGES
from conveyor.models.safety import pickle_trusted, require_trust

NATIVE = "native"  # the Booster's text model
SKOPS = "skops"
BOOSTER_CLASS = "lightgbm.basic.Booster"
BOOSTER_FILE = "model.lgb"
SKOPS_FILE = "model.skops"
_SAFE_TYPES = ("lightgbm.", *SAFE_TYPE_PACKAGES)


class LightGBMFlavor(Flavor):
    """The ``lightgbm`` flavor."""

    name = "lightgbm"
    loader_module = "mlflow.lightgbm"
    serializations = (NATIVE, SKOPS)

    def handles(self, model: object) -> bool:
        if "lightgbm" not in sys.modules:
            return False
        import lightgbm as lgb

        return isinstance(model, lgb.Booster | lgb.LGBMModel)

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        import lightgbm as lgb

        if not self.handles(model):
            msg = f"the lightgbm flavor saves a lightgbm.Booster or LGBMModel, not {type(model)!r}"
            raise InvalidArgumentError(msg, field="model")
        is_booster = isinstance(model, lgb.Booster)
        fmt = serialization or (NATIVE if is_booster else SKOPS)
        if fmt != (NATIVE if is_booster else SKOPS):
            kind = "a Booster" if is_booster else "a scikit-learn-API model"
            msg = f"serialization {fmt!r} does not fit {kind}; use {NATIVE!r} for a Booster, "
            msg += f"{SKOPS!r} for LGBMClassifier/LGBMRegressor/LGBMRanker"
            raise InvalidArgumentError(msg, field="serialization")
        conf: dict[str, Any] = {
            "code": None,
            "lgb_version": lgb.__version__,
            "model_class": f"{type(model).__module__}.{type(model).__name__}",
        }
        requirements = [f"lightgbm=={lgb.__version__}"]
        if is_booster:
            model.save_model(str(path / BOOSTER_FILE))
            conf.update(data=BOOSTER_FILE, serialization_format=None, skops_trusted_types=None)
        else:
            conf.update(data=SKOPS_FILE, serialization_format=SKOPS)
            conf["skops_trusted_types"] = _dump_skops(model, path / SKOPS_FILE)
            requirements += ["scikit-learn", "skops"]
        pyfunc = {"data": conf["data"], "loader_module": self.loader_module}
        return SavedFlavor(conf, pyfunc, requirements)

    def is_pickle_based(self, flavors: Mapping[str, Any]) -> bool:
        conf = flavors.get(self.name) or {}
        if str(conf.get("model_class") or BOOSTER_CLASS) == BOOSTER_CLASS:
            return False
        # MLflow's default before skops was cloudpickle.
        return str(conf.get("serialization_format") or "cloudpickle") != SKOPS

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:
        import lightgbm as lgb

        conf = flavors.get(self.name) or {}
        file = path / str(conf.get("data") or flavors["python_function"].get("data"))
        if str(conf.get("model_class") or BOOSTER_CLASS) == BOOSTER_CLASS:
            return lgb.Booster(model_file=str(file))
        fmt = str(conf.get("serialization_format") or "cloudpickle")
        if fmt == SKOPS:
            return _load_skops(file, conf.get("skops_trusted_types"), trust_pickle=trust_pickle)
        require_trust(f"the LightGBM model {file} ({fmt} format)", trust_pickle=trust_pickle)
        import cloudpickle

        with file.open("rb") as fh:
            return cloudpickle.load(fh)

    def predict(self, model: Any, data: Any) -> Any:
        return model.predict(data)


def _dump_skops(model: Any, file: Path) -> list[str]:
    import skops.io

    skops.io.dump(model, file)
    return sorted(skops.io.get_untrusted_types(file=file))


def _load_skops(file: Path, trusted: Any, *, trust_pickle: bool) -> Any:
    import skops.io

    types = [str(t) for t in trusted or []]
    odd = [t for t in types if not t.startswith(_SAFE_TYPES)]
    if odd and not pickle_trusted(trust_pickle):
        what = f"the skops model {file}, whose MLmodel trusts the types {odd}"
        require_trust(what, trust_pickle=False)
    return skops.io.load(file, trusted=types or None)


FLAVOR = LightGBMFlavor()

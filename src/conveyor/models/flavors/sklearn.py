"""scikit-learn: skops by default (loading cannot run code), pickle or cloudpickle on request.

The ``MLmodel`` block is MLflow's (``pickled_model``, ``serialization_format``,
``sklearn_version``, ``skops_trusted_types``), so ``mlflow.sklearn.load_model`` reads it. The
trusted-types list is computed when saving: the types skops does not trust by default but that
this very model needs. On load only those are accepted, and only from well-known packages unless
pickle loading is trusted (a crafted ``MLmodel`` could otherwise whitelist anything).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor
from conveyor.models.safety import pickle_trusted, require_trust

SKOPS = "skops"
PICKLE = "pickle"
CLOUDPICKLE = "cloudpickle"
_FILES = {SKOPS: "model.skops", PICKLE: "model.pkl", CLOUDPICKLE: "model.pkl"}
# Packages whose types a stored trusted-types list may name without trust_pickle.
SAFE_TYPE_PACKAGES = ("sklearn.", "numpy.", "scipy.", "builtins.slice", "collections.")


class SklearnFlavor(Flavor):
    """The ``sklearn`` flavor."""

    name = "sklearn"
    loader_module = "mlflow.sklearn"
    serializations = (SKOPS, PICKLE, CLOUDPICKLE)

    def handles(self, model: object) -> bool:
        if "sklearn" not in sys.modules:
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        import sklearn

        fmt = serialization or SKOPS
        if fmt not in self.serializations:
            msg = f"serialization {fmt!r} is not one of {list(self.serializations)}"
            raise InvalidArgumentError(msg, field="serialization")
        file = _FILES[fmt]
        conf: dict[str, Any] = {
            "code": None,
            "pickled_model": file,
            "serialization_format": fmt,
            "sklearn_version": sklearn.__version__,
        }
        requirements = ["scikit-learn"]
        if fmt == SKOPS:
            conf["skops_trusted_types"] = _dump_skops(model, path / file)
            requirements.append("skops")
        else:
            _dump_pickle(model, path / file, fmt)
            if fmt == CLOUDPICKLE:
                requirements.append("cloudpickle")
        pyfunc = {"loader_module": self.loader_module, "model_path": file, "predict_fn": "predict"}
        return SavedFlavor(conf, pyfunc, requirements)

    def is_pickle_based(self, flavors: Mapping[str, Any]) -> bool:
        return _format_of(flavors) != SKOPS

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:
        conf = flavors.get(self.name) or {}
        fmt = _format_of(flavors)
        file = path / str(conf.get("pickled_model") or flavors["python_function"]["model_path"])
        if fmt == SKOPS:
            return _load_skops(file, conf.get("skops_trusted_types"), trust_pickle=trust_pickle)
        require_trust(f"the scikit-learn model {file} ({fmt} format)", trust_pickle=trust_pickle)
        with file.open("rb") as fh:
            if fmt == CLOUDPICKLE:
                import cloudpickle

                return cloudpickle.load(fh)
            return pickle.load(fh)  # noqa: S301 - the caller opted in above

    def predict(self, model: Any, data: Any) -> Any:
        return model.predict(data)


def _format_of(flavors: Mapping[str, Any]) -> str:
    conf = flavors.get("sklearn") or {}
    return str(conf.get("serialization_format") or PICKLE)  # MLflow's default before skops


def _dump_pickle(model: Any, file: Path, fmt: str) -> None:
    with file.open("wb") as fh:
        if fmt == CLOUDPICKLE:
            import cloudpickle

            cloudpickle.dump(model, fh)
        else:
            pickle.dump(model, fh)


def _dump_skops(model: Any, file: Path) -> list[str]:
    import skops.io

    try:
        skops.io.dump(model, file)
    except TypeError as exc:
        msg = (
            f"skops cannot serialize this model ({exc}); pass serialization='pickle' or "
            "'cloudpickle' (loading it will then need trust_pickle=True)"
        )
        raise InvalidArgumentError(msg, field="serialization") from exc
    return sorted(skops.io.get_untrusted_types(file=file))


def _load_skops(file: Path, trusted: Any, *, trust_pickle: bool) -> Any:
    import skops.io

    types = [str(t) for t in trusted or []]
    odd = [t for t in types if not t.startswith(SAFE_TYPE_PACKAGES)]
    if odd and not pickle_trusted(trust_pickle):
        require_trust(
            f"the skops model {file}, whose MLmodel trusts the types {odd}", trust_pickle=False
        )
    return skops.io.load(file, trusted=types or None)


FLAVOR = SklearnFlavor()

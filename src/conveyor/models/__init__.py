"""Model packaging in the MLflow Model format: flavors, signatures, safe loading, autolog.

    with conveyor.start_run():
        info = conveyor.log_model(estimator, "model", input_example=X[:5])
    model = conveyor.load_model(info.model_uri)
    model.predict(X)

Heavy libraries (scikit-learn, ONNX, pandas) are imported by the flavor that needs them, when
it needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ModelInfo": "conveyor.models.log",
    "MLModel": "conveyor.models.mlmodel",
    "PyFuncModel": "conveyor.models.pyfunc",
    "Signature": "conveyor.models.signature",
    "UntrustedModelError": "conveyor.models.safety",
    "autolog": "conveyor.models.autolog",
    "infer_signature": "conveyor.models.signature",
    "load_model": "conveyor.models.load",
    "log_model": "conveyor.models.log",
    "save_model": "conveyor.models.save",
}

__all__ = [
    "MLModel",
    "ModelInfo",
    "PyFuncModel",
    "Signature",
    "UntrustedModelError",
    "autolog",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]

if TYPE_CHECKING:
    from conveyor.models.autolog import autolog
    from conveyor.models.load import load_model
    from conveyor.models.log import ModelInfo, log_model
    from conveyor.models.mlmodel import MLModel
    from conveyor.models.pyfunc import PyFuncModel
    from conveyor.models.safety import UntrustedModelError
    from conveyor.models.save import save_model
    from conveyor.models.signature import Signature, infer_signature


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'conveyor.models' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

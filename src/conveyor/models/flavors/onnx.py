"""ONNX: an ``onnx.ModelProto`` saved as ``model.onnx`` and run with onnxruntime.

Loading an ONNX file cannot run Python code, so it needs no opt-in. The ``MLmodel`` block is
MLflow's (``onnx_version``, ``data``, ``providers``), read by ``mlflow.onnx``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.models.flavors.base import Flavor, SavedFlavor, module_of

FILE = "model.onnx"
PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


class OnnxFlavor(Flavor):
    """The ``onnx`` flavor."""

    name = "onnx"
    loader_module = "mlflow.onnx"

    def handles(self, model: object) -> bool:
        return module_of(model) == "onnx" and type(model).__name__ == "ModelProto"

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:  # noqa: ARG002
        import onnx

        onnx.checker.check_model(model)
        onnx.save_model(model, str(path / FILE))
        conf = {
            "code": None,
            "data": FILE,
            "onnx_session_options": None,
            "onnx_version": onnx.__version__,
            "providers": PROVIDERS,
        }
        pyfunc = {"data": FILE, "loader_module": self.loader_module}
        return SavedFlavor(conf, pyfunc, ["onnx", "onnxruntime"])

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:  # noqa: ARG002
        conf = flavors.get(self.name) or flavors["python_function"]
        return _session(str(path / str(conf.get("data") or FILE)), conf.get("providers"))

    def predict(self, model: Any, data: Any) -> Any:
        if module_of(model) == "onnx":  # the in-memory ModelProto: run it the same way
            model = _session(model.SerializeToString(), None)
        outputs = model.run(None, _feeds(model, data))
        names = [o.name for o in model.get_outputs()]
        return outputs[0] if len(outputs) == 1 else dict(zip(names, outputs, strict=True))


def _session(source: Any, providers: Any) -> Any:
    import onnxruntime

    available = set(onnxruntime.get_available_providers())
    wanted = [p for p in (providers or PROVIDERS) if isinstance(p, str) and p in available]
    return onnxruntime.InferenceSession(source, providers=wanted or ["CPUExecutionProvider"])


def _feeds(session: Any, data: Any) -> dict[str, Any]:
    """Map input data to the session's inputs, casting float64 to the float32 ONNX wants."""
    import numpy as np

    inputs = session.get_inputs()
    if isinstance(data, Mapping):
        feeds = {k: np.asarray(v) for k, v in data.items()}
    elif type(data).__module__.startswith("pandas"):
        if len(inputs) == 1:
            feeds = {inputs[0].name: data.to_numpy()}
        else:
            feeds = {str(c): data[c].to_numpy().reshape(-1, 1) for c in data.columns}
    else:
        feeds = {inputs[0].name: np.asarray(data)}
    for spec in inputs:
        value = feeds.get(spec.name)
        if value is not None and spec.type == "tensor(float)" and value.dtype == np.float64:
            feeds[spec.name] = value.astype(np.float32)
    return feeds


FLAVOR = OnnxFlavor()

"""PyTorch: a module's ``state_dict`` as safetensors, or a TorchScript archive.

Neither format runs Python code from the file when loaded, so neither needs ``trust_pickle``:

* ``state_dict`` (the default for an ``nn.Module``): the weights go to ``model.safetensors`` and
  the ``MLmodel`` records the class as ``module:Qualname`` plus its constructor keyword arguments.
  Loading imports that class (it must be installed), checks it is an ``nn.Module``, builds it and
  loads the weights. Pass constructor arguments by logging ``TorchModel(net, init_kwargs={...})``.
* ``torchscript`` (the default for a ``torch.jit.script``/``trace`` result): ``model.pt``, read
  back with ``torch.jit.load``; no Python class is needed to load it.

``predict`` turns a DataFrame, array or list into a float32 tensor on the module's device, runs
the module under ``torch.no_grad()`` and returns NumPy. Models load on the CPU; set
``CONVEYOR_TORCH_DEVICE=cuda`` to load them on the GPU when one is available.

MLflow's own ``pytorch`` flavor pickles the whole module; this one is different, so the pyfunc
``loader_module`` is this module, whose ``_load_pyfunc`` MLflow calls where Conveyor is installed.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.errors import InvalidArgumentError
from conveyor.models.flavors.base import Flavor, SavedFlavor

STATE_DICT = "state_dict"
TORCHSCRIPT = "torchscript"
_FILES = {STATE_DICT: "model.safetensors", TORCHSCRIPT: "model.pt"}
DEVICE_ENV = "CONVEYOR_TORCH_DEVICE"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TorchModel:
    """An ``nn.Module`` to log with the keyword arguments its class is built with.

    ``conveyor.log_model(TorchModel(net, init_kwargs={"in_features": 20}), "net")`` records
    ``init_kwargs`` (JSON values) so that loading can call ``type(net)(**init_kwargs)``.
    """

    module: Any
    init_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def predict(self, data: Any) -> Any:
        """Predict with the wrapped module, as a loaded model would."""
        return FLAVOR.predict(self.module, data)


class PyTorchFlavor(Flavor):
    """The ``pytorch`` flavor."""

    name = "pytorch"
    loader_module = "conveyor.models.flavors.pytorch"
    serializations = (STATE_DICT, TORCHSCRIPT)

    def handles(self, model: object) -> bool:
        if isinstance(model, TorchModel):
            return True
        if "torch" not in sys.modules:
            return False
        import torch

        return isinstance(model, torch.nn.Module)

    def save(self, model: Any, path: Path, *, serialization: str | None) -> SavedFlavor:
        import torch

        module, init_kwargs = _unwrap(model)
        if not isinstance(module, torch.nn.Module):
            msg = f"the pytorch flavor saves a torch.nn.Module, not {type(module)!r}"
            raise InvalidArgumentError(msg, field="model")
        is_script = isinstance(module, torch.jit.ScriptModule)
        fmt = serialization or (TORCHSCRIPT if is_script else STATE_DICT)
        if fmt not in self.serializations:
            msg = f"serialization {fmt!r} is not one of {list(self.serializations)}"
            raise InvalidArgumentError(msg, field="serialization")
        file = _FILES[fmt]
        conf: dict[str, Any] = {
            "model_data": file,
            "pytorch_version": torch.__version__.partition("+")[0],
            "serialization_format": fmt,
        }
        requirements = [f"torch=={conf['pytorch_version']}"]
        if fmt == TORCHSCRIPT:
            scripted = module if is_script else _script(module)
            torch.jit.save(scripted, str(path / file))
        else:
            if is_script:
                msg = "a TorchScript module is saved with serialization='torchscript'"
                raise InvalidArgumentError(msg, field="serialization")
            conf["module_class"] = class_path(type(module))
            conf["init_kwargs"] = _json_kwargs(init_kwargs)
            _save_state_dict(module, path / file)
            requirements.append("safetensors")
        pyfunc = {"data": file, "loader_module": self.loader_module}
        return SavedFlavor(conf, pyfunc, [*requirements, "conveyor-mlops"])

    def load(self, path: Path, flavors: Mapping[str, Any], *, trust_pickle: bool) -> Any:  # noqa: ARG002
        conf = flavors.get(self.name) or {}
        file = path / str(conf.get("model_data") or flavors["python_function"]["data"])
        device = load_device()
        if conf.get("serialization_format") == TORCHSCRIPT:
            import torch

            jit_load: Any = torch.jit.load  # untyped in torch's stubs
            module = jit_load(str(file), map_location=device)
        else:
            cls = import_module_class(str(conf.get("module_class")))
            module = _build(cls, conf.get("init_kwargs") or {})
            _load_state_dict(module, file, device)
        module.eval()
        return module

    def predict(self, model: Any, data: Any) -> Any:
        import torch

        module, _ = _unwrap(model)
        device = _device_of(module)
        with torch.no_grad():
            if isinstance(data, Mapping):
                output = module(**{str(k): _tensor(v, device) for k, v in data.items()})
            else:
                output = module(_tensor(data, device))
        return _numpy(output)


def class_path(cls: type[Any]) -> str:
    """``module:Qualname`` of a class that can be imported again when the model is loaded."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        msg = (
            f"the module class {path} cannot be imported when the model is loaded; define it "
            "at the top level of an importable module, or log it with "
            "serialization='torchscript'"
        )
        raise InvalidArgumentError(msg, field="model")
    return path


def import_module_class(path: str) -> type[Any]:
    """Import the ``module:Qualname`` recorded in ``MLmodel`` and check it is an ``nn.Module``."""
    import torch

    module_name, _, qualname = path.partition(":")
    hint = (
        "install the package that defines it (or add its directory to PYTHONPATH) in the "
        "environment that loads the model, or log the model with serialization='torchscript'"
    )
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as exc:
        msg = f"cannot import the torch module class {path!r} of this model ({exc}): {hint}"
        raise InvalidArgumentError(msg, field="module_class") from exc
    if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
        msg = f"module_class {path!r} in MLmodel is not a torch.nn.Module subclass"
        raise InvalidArgumentError(msg, field="module_class")
    return found


def load_device() -> str:
    """The device to load on: ``$CONVEYOR_TORCH_DEVICE`` when it is usable, else ``cpu``."""
    import torch

    wanted = os.environ.get(DEVICE_ENV, "cpu").strip() or "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        logger.warning("%s=%s but CUDA is not available; loading on the CPU", DEVICE_ENV, wanted)
        return "cpu"
    return wanted


def _unwrap(model: Any) -> tuple[Any, Mapping[str, Any]]:
    if isinstance(model, TorchModel):
        return model.module, model.init_kwargs
    return model, {}


def _json_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments as plain JSON values, so ``MLmodel`` stays readable YAML."""
    try:
        loaded: dict[str, Any] = json.loads(json.dumps(dict(kwargs)))
    except TypeError as exc:
        msg = f"init_kwargs must hold JSON values (numbers, strings, lists, dicts): {exc}"
        raise InvalidArgumentError(msg, field="init_kwargs") from exc
    return loaded


def _script(module: Any) -> Any:
    import torch

    try:
        return torch.jit.script(module)
    except Exception as exc:  # TorchScript raises many error types; re-raised with a hint
        msg = (
            f"torch.jit.script failed ({type(exc).__name__}: {exc}); pass a module made with "
            "torch.jit.trace(module, example) instead, or use serialization='state_dict'"
        )
        raise InvalidArgumentError(msg, field="serialization") from exc


def _build(cls: type[Any], init_kwargs: Mapping[str, Any]) -> Any:
    try:
        return cls(**init_kwargs)
    except TypeError as exc:
        msg = (
            f"cannot build {class_path(cls)} with init_kwargs {dict(init_kwargs)} ({exc}); "
            "log the model as TorchModel(module, init_kwargs={...}) with the arguments it needs"
        )
        raise InvalidArgumentError(msg, field="init_kwargs") from exc


def _save_state_dict(module: Any, file: Path) -> None:
    import safetensors.torch

    # save_model (not save_file) copes with tied weights, which share storage.
    safetensors.torch.save_model(module, str(file))


def _load_state_dict(module: Any, file: Path, device: str) -> None:
    import safetensors.torch

    safetensors.torch.load_model(module, str(file), device=device)
    module.to(device)


def _device_of(module: Any) -> Any:
    import torch

    tensor = next(module.parameters(), None)
    if tensor is None:
        tensor = next(module.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _tensor(data: Any, device: Any) -> Any:
    """A float32 tensor from a tensor, DataFrame, array or nested list."""
    import numpy as np
    import torch

    if isinstance(data, torch.Tensor):
        return data.to(device)
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        msg = f"the pytorch flavor predicts on numbers, not {array.dtype} data"
        raise InvalidArgumentError(msg, field="input")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


def _numpy(output: Any) -> Any:
    import torch

    if isinstance(output, torch.Tensor):
        return output.detach().cpu().numpy()
    if isinstance(output, Mapping):
        return {k: _numpy(v) for k, v in output.items()}
    if isinstance(output, tuple | list):
        return [_numpy(v) for v in output]
    return output


class _MlflowWrapper:
    """What ``mlflow.pyfunc.load_model`` gets back from ``_load_pyfunc``."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:  # noqa: ARG002
        return FLAVOR.predict(self.module, data)

    def get_raw_model(self) -> Any:
        return self.module


def _load_pyfunc(data_path: str) -> _MlflowWrapper:
    """MLflow's loader hook: ``data_path`` is the model file; ``MLmodel`` is beside it."""
    from conveyor.models.mlmodel import MLModel

    directory = Path(data_path).parent
    mlmodel, _ = MLModel.read(directory)
    return _MlflowWrapper(FLAVOR.load(directory, mlmodel.flavors, trust_pickle=False))


FLAVOR = PyTorchFlavor()

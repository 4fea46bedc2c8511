"""The optional flavors (XGBoost, LightGBM, PyTorch), each tested where its package is installed."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from conveyor.errors import InvalidArgumentError
from conveyor.models import load_model, save_model
from conveyor.models.flavors.base import flavor_for
from conveyor.testing.flavors import check_flavor, same

try:
    import torch
except ImportError:  # the torch tests skip; the module-level Net below needs a base class
    torch = None  # type: ignore[assignment]

_Module: Any = torch.nn.Module if torch is not None else object
# TorchScript is deprecated in recent torch releases but still the format many models are in.
_TORCHSCRIPT_DEPRECATED = "ignore:`torch.jit.*deprecated:DeprecationWarning"


class Net(_Module):  # type: ignore[misc]
    """A small MLP whose shape comes from its constructor arguments."""

    def __init__(self, in_features: int, hidden: int = 4) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(in_features, hidden)
        self.out = torch.nn.Linear(hidden, 1)

    def forward(self, x: Any) -> Any:
        return self.out(torch.relu(self.hidden(x)))


@pytest.fixture(scope="module")
def xy() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    return x, (x["a"] + x["b"] > 0).to_numpy().astype(np.int64)


def _mlmodel(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((path / "MLmodel").read_text())
    return loaded


# --- XGBoost --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xgb() -> Any:
    return pytest.importorskip("xgboost")


@pytest.mark.parametrize("serialization", ["ubj", "json"])
def test_xgboost_classifier_passes_the_kit(
    xgb: Any, xy: tuple[pd.DataFrame, Any], serialization: str
) -> None:
    x, y = xy
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    check_flavor("xgboost", model, x.head(5), serialization=serialization)


def test_xgboost_booster_passes_the_kit(xgb: Any, xy: tuple[pd.DataFrame, Any]) -> None:
    x, y = xy
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=4)
    check_flavor("xgboost", booster, x.head(5))


def test_xgboost_round_trip_is_chosen_by_type_and_mlflow_shaped(
    xgb: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    x, y = xy
    model = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
    assert flavor_for(model).name == "xgboost"  # not sklearn, although it is a BaseEstimator
    save_model(model, tmp_path / "m", input_example=x.head(3))
    block = _mlmodel(tmp_path / "m")["flavors"]["xgboost"]
    assert block["model_class"] == "xgboost.sklearn.XGBRegressor"
    assert (block["data"], block["model_format"]) == ("model.ubj", "ubj")
    loaded = load_model(tmp_path / "m")  # a native file: no trust_pickle needed
    assert isinstance(loaded.get_raw_model(), xgb.XGBRegressor)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))
    with pytest.raises(InvalidArgumentError, match="'b'") as info:
        loaded.predict(x.drop(columns=["b"]))
    assert info.value.field == "b"


def test_xgboost_refuses_a_foreign_model_class(
    xgb: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    x, y = xy
    save_model(xgb.XGBClassifier(n_estimators=2).fit(x, y), tmp_path / "m")
    mlmodel = (tmp_path / "m" / "MLmodel").read_text()
    edited = mlmodel.replace("xgboost.sklearn.XGBClassifier", "subprocess.Popen")
    (tmp_path / "m" / "MLmodel").write_text(edited)
    with pytest.raises(InvalidArgumentError, match="not an XGBoost model class"):
        load_model(tmp_path / "m")


def test_xgboost_unknown_format_is_refused(xgb: Any, xy: Any, tmp_path: Path) -> None:
    x, y = xy
    with pytest.raises(InvalidArgumentError, match="serialization 'pickle'"):
        save_model(
            xgb.XGBClassifier(n_estimators=2).fit(x, y),
            tmp_path / "m",
            flavor="xgboost",
            serialization="pickle",
        )


# --- LightGBM -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lgb() -> Any:
    return pytest.importorskip("lightgbm")


def test_lightgbm_classifier_passes_the_kit(lgb: Any, xy: tuple[pd.DataFrame, Any]) -> None:
    x, y = xy
    model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1).fit(x, y)
    check_flavor("lightgbm", model, x.head(5))


def test_lightgbm_booster_passes_the_kit(lgb: Any, xy: tuple[pd.DataFrame, Any]) -> None:
    x, y = xy
    params = {"objective": "binary", "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=4)
    check_flavor("lightgbm", booster, x.head(5))


def test_lightgbm_round_trip_needs_no_trust(
    lgb: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    x, y = xy
    model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1).fit(x, y)
    booster = lgb.train({"verbose": -1, "min_data_in_leaf": 5}, lgb.Dataset(x, label=y), 3)
    assert flavor_for(model).name == flavor_for(booster).name == "lightgbm"
    save_model(model, tmp_path / "sk", input_example=x.head(3))
    save_model(booster, tmp_path / "booster", input_example=x.head(3))
    sk_block = _mlmodel(tmp_path / "sk")["flavors"]["lightgbm"]
    assert sk_block["model_class"] == "lightgbm.sklearn.LGBMClassifier"
    assert (sk_block["data"], sk_block["serialization_format"]) == ("model.skops", "skops")
    assert _mlmodel(tmp_path / "booster")["flavors"]["lightgbm"]["data"] == "model.lgb"
    loaded = load_model(tmp_path / "sk")
    assert list(loaded.predict(x)) == list(model.predict(x))  # labels, not probabilities
    assert same(load_model(tmp_path / "booster").predict(x), booster.predict(x))


def test_lightgbm_refuses_foreign_trusted_types_without_trust(
    lgb: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    x, _ = xy
    save_model(lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(x, x["a"]), tmp_path / "m")
    mlmodel = _mlmodel(tmp_path / "m")
    mlmodel["flavors"]["lightgbm"]["skops_trusted_types"].append("os.system")
    (tmp_path / "m" / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(Exception, match="trust_pickle"):
        load_model(tmp_path / "m")


def test_lightgbm_serialization_must_fit_the_model(lgb: Any, xy: Any, tmp_path: Path) -> None:
    x, y = xy
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(x, y)
    with pytest.raises(InvalidArgumentError, match="'skops' for LGBMClassifier"):
        save_model(model, tmp_path / "m", serialization="native")


# --- PyTorch --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_mod() -> Any:
    module = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    module.manual_seed(0)
    return module


@pytest.fixture
def features() -> np.ndarray[Any, Any]:
    return np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)


def test_pytorch_state_dict_passes_the_kit(torch_mod: Any, features: Any) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    check_flavor(
        "pytorch",
        TorchModel(Net(3, hidden=5), init_kwargs={"in_features": 3, "hidden": 5}),
        features,
    )


@pytest.mark.filterwarnings(_TORCHSCRIPT_DEPRECATED)
def test_pytorch_torchscript_passes_the_kit(torch_mod: Any, features: Any) -> None:
    traced = torch_mod.jit.trace(Net(3).eval(), torch_mod.from_numpy(features))
    check_flavor("pytorch", traced, features)


def test_pytorch_round_trip_from_a_frame(
    torch_mod: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    x, _ = xy
    net = Net(3).eval()
    assert flavor_for(net).name == "pytorch"
    save_model(
        TorchModel(net, init_kwargs={"in_features": 3}), tmp_path / "m", input_example=x.head(4)
    )
    block = _mlmodel(tmp_path / "m")["flavors"]["pytorch"]
    assert block["module_class"] == f"{__name__}:Net"
    assert block["init_kwargs"] == {"in_features": 3}
    assert (tmp_path / "m" / "model.safetensors").is_file()
    loaded = load_model(tmp_path / "m")  # safetensors: no trust_pickle needed
    with torch_mod.no_grad():
        expected = net(torch_mod.tensor(x.to_numpy(), dtype=torch_mod.float32)).numpy()
    prediction = loaded.predict(x)
    assert isinstance(prediction, np.ndarray)
    np.testing.assert_allclose(prediction, expected, rtol=1e-6)
    with pytest.raises(InvalidArgumentError) as info:
        loaded.predict(x.drop(columns=["c"]))
    assert info.value.field == "c"


def test_pytorch_unimportable_class_says_how_to_fix(
    torch_mod: Any, features: Any, tmp_path: Path
) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    save_model(TorchModel(Net(3), init_kwargs={"in_features": 3}), tmp_path / "m")
    mlmodel = (tmp_path / "m" / "MLmodel").read_text()
    (tmp_path / "m" / "MLmodel").write_text(mlmodel.replace(f"{__name__}:", "gone_pkg.nets:"))
    with pytest.raises(InvalidArgumentError, match=r"'gone_pkg.nets:Net'.*install the package"):
        load_model(tmp_path / "m")


def test_pytorch_refuses_a_class_that_is_not_a_module(torch_mod: Any, tmp_path: Path) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    save_model(TorchModel(Net(3), init_kwargs={"in_features": 3}), tmp_path / "m")
    mlmodel = (tmp_path / "m" / "MLmodel").read_text()
    (tmp_path / "m" / "MLmodel").write_text(mlmodel.replace(f"{__name__}:Net", "os:system"))
    with pytest.raises(InvalidArgumentError, match=r"not a torch\.nn\.Module subclass"):
        load_model(tmp_path / "m")


def test_pytorch_missing_init_kwargs_are_explained(torch_mod: Any, tmp_path: Path) -> None:
    save_model(Net(3), tmp_path / "m")
    with pytest.raises(InvalidArgumentError, match=r"TorchModel\(module, init_kwargs") as info:
        load_model(tmp_path / "m")
    assert info.value.field == "init_kwargs"


@pytest.mark.filterwarnings(_TORCHSCRIPT_DEPRECATED)
def test_pytorch_refuses_classes_that_cannot_be_imported_again(
    torch_mod: Any, tmp_path: Path
) -> None:
    class Local(torch_mod.nn.Module):  # type: ignore[misc]
        def forward(self, x: Any) -> Any:
            return x

    with pytest.raises(InvalidArgumentError, match="serialization='torchscript'"):
        save_model(Local(), tmp_path / "m")
    save_model(Local(), tmp_path / "ts", serialization="torchscript")  # scripted on save
    out = load_model(tmp_path / "ts").predict(np.ones((2, 2), dtype=np.float32))
    assert out.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_pytorch_init_kwargs_must_be_json(torch_mod: Any, tmp_path: Path) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    with pytest.raises(InvalidArgumentError, match="JSON values"):
        save_model(TorchModel(Net(3), init_kwargs={"in_features": object()}), tmp_path / "m")


def test_pytorch_cuda_request_falls_back_to_cpu(
    torch_mod: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from conveyor.models.flavors.pytorch import DEVICE_ENV, load_device

    monkeypatch.setenv(DEVICE_ENV, "cuda")
    monkeypatch.setattr(torch_mod.cuda, "is_available", lambda: False)
    assert load_device() == "cpu"
    assert "CUDA is not available" in caplog.text


# --- MLflow reads them, and Conveyor reads MLflow's ---------------------------------------------


def _mlflow(flavor: str) -> Any:
    with warnings.catch_warnings():  # mlflow warns about its own type hints on import
        warnings.simplefilter("ignore")
        pytest.importorskip("mlflow.pyfunc")
        return importlib.import_module(f"mlflow.{flavor}")


def test_gradient_boosting_models_cross_over_to_mlflow(
    xgb: Any, lgb: Any, xy: tuple[pd.DataFrame, Any], tmp_path: Path
) -> None:
    x, y = xy
    xgb_model = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    lgb_model = lgb.LGBMClassifier(n_estimators=3, min_child_samples=5, verbose=-1).fit(x, y)
    for flavor, model in (("xgboost", xgb_model), ("lightgbm", lgb_model)):
        mlflow_flavor = _mlflow(flavor)
        save_model(model, tmp_path / flavor)
        assert type(mlflow_flavor.load_model(str(tmp_path / flavor))) is type(model)
        # Explicit requirements: MLflow would otherwise infer them in a subprocess (seconds).
        target = str(tmp_path / f"mlflow-{flavor}")
        mlflow_flavor.save_model(model, target, pip_requirements=[flavor])
        loaded = load_model(tmp_path / f"mlflow-{flavor}")
        assert list(loaded.predict(x)) == list(model.predict(x))


def test_pytorch_model_loads_through_mlflow_pyfunc(
    torch_mod: Any, features: Any, tmp_path: Path
) -> None:
    from conveyor.models.flavors.pytorch import TorchModel

    pyfunc = _mlflow("pyfunc")
    net = Net(3).eval()
    save_model(TorchModel(net, init_kwargs={"in_features": 3}), tmp_path / "m")
    with torch_mod.no_grad():
        expected = net(torch_mod.from_numpy(features)).numpy()
    np.testing.assert_allclose(pyfunc.load_model(str(tmp_path / "m")).predict(features), expected)

"""log_model / load_model through the fluent API: URIs, the download cache, safe loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import conveyor
from conveyor.errors import ConflictError, ConveyorError, InvalidArgumentError
from conveyor.models import UntrustedModelError
from conveyor.models.load import cache_root


def test_log_then_load_by_run_uri(
    home: Path, classifier: LogisticRegression, frame: pd.DataFrame
) -> None:
    with conveyor.start_run() as run:
        info = conveyor.log_model(classifier, "churn", input_example=frame.head(3))
    assert info.model_uri == f"runs:/{run.run_id}/churn"
    assert info.flavors["sklearn"]["serialization_format"] == "skops"
    names = {f.path for f in conveyor.get_client().list_artifacts(run.run_id, "churn")}
    assert {"churn/MLmodel", "churn/model.skops", "churn/requirements.txt"} <= names
    loaded = conveyor.load_model(info.model_uri)
    assert loaded.digest == info.digest
    assert (loaded.predict(frame) == classifier.predict(frame)).all()
    assert loaded.input_example.shape == (3, 2)


def test_log_model_needs_a_run(home: Path, classifier: LogisticRegression) -> None:
    with pytest.raises(ConflictError, match="no active run"):
        conveyor.log_model(classifier)


def test_second_load_downloads_nothing(
    home: Path, classifier: LogisticRegression, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    with conveyor.start_run():
        info = conveyor.log_model(classifier, input_example=frame.head(3))
    cached = cache_root() / info.digest
    assert cached.is_dir()  # logging primed the cache
    client = conveyor.get_client()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("downloaded on a warm load")

    monkeypatch.setattr(client, "download_artifact", refuse)
    assert conveyor.load_model(info.model_uri).path == cached


def test_cold_cache_downloads_and_verifies(
    home: Path, classifier: LogisticRegression, frame: pd.DataFrame
) -> None:
    import shutil

    with conveyor.start_run():
        info = conveyor.log_model(classifier, "m")
    shutil.rmtree(cache_root())
    loaded = conveyor.load_model(info.model_uri)
    assert loaded.path == cache_root() / info.digest
    assert not [p for p in cache_root().iterdir() if p.name.startswith(".")]  # no temp dirs left
    assert (loaded.predict(frame) == classifier.predict(frame)).all()


def test_mlflow_artifacts_uri(home: Path, classifier: LogisticRegression) -> None:
    with conveyor.start_run() as run:
        conveyor.log_model(classifier, "m")
    uri = f"{run.info.artifact_uri}/m"
    assert uri.startswith("mlflow-artifacts:/")
    assert conveyor.load_model(uri).flavor.name == "sklearn"


def test_models_uri_goes_through_the_registry(
    home: Path, classifier: LogisticRegression, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conveyor.registry

    with conveyor.start_run():
        info = conveyor.log_model(classifier, "m")
    seen: list[str] = []

    def resolve(uri: str, *, client: Any) -> str:
        seen.append(uri)
        return info.model_uri

    monkeypatch.setattr(conveyor.registry, "resolve_model_uri", resolve, raising=False)
    assert conveyor.load_model("models:/churn@production").digest == info.digest
    assert seen == ["models:/churn@production"]


@pytest.mark.parametrize("uri", ["runs:/only-a-run", "s3://bucket/model", "runs:"])
def test_malformed_uris_are_refused(home: Path, uri: str) -> None:
    with pytest.raises(InvalidArgumentError, match="model_uri") as info:
        conveyor.load_model(uri)
    assert info.value.field == "model_uri"


def test_pickle_refusal_says_how_to_opt_in(
    home: Path, classifier: LogisticRegression, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    with conveyor.start_run():
        info = conveyor.log_model(classifier, "m", serialization="pickle")
    monkeypatch.delenv("CONVEYOR_TRUST_PICKLE", raising=False)
    with pytest.raises(
        UntrustedModelError, match=r"trust_pickle=True.*CONVEYOR_TRUST_PICKLE=1"
    ) as e:
        conveyor.load_model(info.model_uri)
    assert e.value.field == "trust_pickle"
    assert conveyor.load_model(info.model_uri, trust_pickle=True).predict(frame).shape == (40,)
    monkeypatch.setenv("CONVEYOR_TRUST_PICKLE", "1")
    assert conveyor.load_model(info.model_uri).flavor.name == "sklearn"


def test_skops_refuses_an_mlmodel_that_trusts_odd_types(
    classifier: LogisticRegression, tmp_path: Path
) -> None:
    from conveyor.models import save_model

    save_model(classifier, tmp_path / "m")
    mlmodel = tmp_path / "m" / "MLmodel"
    mlmodel.write_text(
        mlmodel.read_text().replace("skops_trusted_types: []", "skops_trusted_types: [os.system]")
    )
    with pytest.raises(UntrustedModelError, match=r"trusts the types \['os.system'\]"):
        conveyor.load_model(tmp_path / "m")


def test_registered_model_loads_by_models_uri(
    home: Path, classifier: LogisticRegression, frame: pd.DataFrame
) -> None:
    with conveyor.start_run():
        info = conveyor.log_model(classifier, "m", registered_model_name="churn")
    assert info.registered_model_version is not None
    loaded = conveyor.load_model("models:/churn/1")
    assert loaded.digest == info.digest
    assert (loaded.predict(frame) == classifier.predict(frame)).all()


def test_registered_model_name_without_registry_is_clear(
    home: Path, classifier: LogisticRegression, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conveyor.registry

    monkeypatch.delattr(conveyor.registry, "register_model", raising=False)
    with conveyor.start_run(), pytest.raises(ConveyorError, match="registry"):
        conveyor.log_model(classifier, registered_model_name="churn")


def test_import_conveyor_models_is_light() -> None:
    import subprocess
    import sys

    code = "import conveyor.models, sys; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert not {"sklearn", "pandas", "onnx", "skops", "yaml"} & loaded

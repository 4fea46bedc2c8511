"""Fuzz the inference routes from their OpenAPI document (``GET /openapi.json``).

A real model is served on loopback; schemathesis generates requests that fit the document
(positive) and requests that break it (negative), to a served name and to random names, and
every answer must be no 5xx, a documented status and content type, and a body that fits the
documented schema. Two models: numeric columns (the matrix fast path) and a mixed-type pipeline
(the DataFrame path).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from conveyor.models import log_model
from conveyor.registry.service import Registry
from conveyor.serving import openapi
from conveyor.tracking import LocalClient, Workspace
from tests.servers import free_port

EXAMPLES = 20  # per operation and generation mode, against the served name
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SERVED = {"model_name": "m", "name": "m", "model_version": "1"}
ROUTES = {
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{model_name}",
    "/v2/models/{model_name}/ready",
    "/v2/models/{model_name}/infer",
    "/v2/models/{model_name}/versions/{model_version}",
    "/v2/models/{model_name}/versions/{model_version}/ready",
    "/v2/models/{model_name}/versions/{model_version}/infer",
    "/invocations",
    "/predict",
    "/deployments/{name}/invocations",
    "/deployments/{name}/predict",
    "/ping",
    "/health",
    "/version",
    "/metrics",
}


def _numeric() -> tuple[Any, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, x.a > 0), x


def _mixed() -> tuple[Any, pd.DataFrame]:
    rng = np.random.default_rng(1)
    x = pd.DataFrame(
        {
            "city": rng.choice(["oslo", "lima", "pune"], size=60),
            "age": rng.integers(18, 90, size=60),
            "income": rng.normal(size=60),
        }
    )
    encode = ColumnTransformer(
        [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    model = Pipeline([("encode", encode), ("tree", DecisionTreeClassifier(max_depth=3))])
    return model.fit(x, x.income > 0), x


# the served models' columns, as JSON Schemas of one value
NUMERIC = {"a": {"type": "number"}, "b": {"type": "number"}, "c": {"type": "number"}}
MIXED = {"city": {"type": "string"}, "age": {"type": "integer"}, "income": {"type": "number"}}


@pytest.fixture(scope="module", params=["numeric", "mixed"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, Any]]]:
    """One model server per model for the whole module (a process start is seconds)."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    ws = Workspace(f"sqlite:///{tmp_path}/conveyor.db", str(tmp_path / "blobs"))
    model, x = _numeric() if request.param == "numeric" else _mixed()
    client = LocalClient(workspace=ws)
    run_id = client.create_run(client.get_or_create_experiment("fuzz").experiment_id).info.run_id
    log_model(model, "model", input_example=x[:5], run_id=run_id, client=client)
    Registry(ws.engine).create_version("m", f"runs:/{run_id}/model", create_model=True)
    with _serve(ws, tmp_path) as url:
        yield url, NUMERIC if request.param == "numeric" else MIXED
    ws.close()


@contextmanager
def _serve(ws: Workspace, logs: Path) -> Iterator[str]:
    """``conveyor serve models:/m/1`` as its own process, as in production (not under pytest's
    warnings-as-errors filter), with a 100 kB body limit."""
    port = free_port()
    env = {**os.environ, "CONVEYOR_DB_URL": ws.db_url, "CONVEYOR_BLOB_URL": ws.blob_url}
    cmd = [sys.executable, "-m", "conveyor", "serve", "models:/m/1", "--port", str(port)]
    cmd += ["--max-request-mb", "0.1"]
    with (logs / "serve.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _ready(url):
            assert proc.poll() is None, (logs / "serve.log").read_text()
            assert time.monotonic() < deadline, "the model server did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_openapi_document_lists_every_inference_route(
    served: tuple[str, dict[str, Any]],
) -> None:
    document = httpx.get(served[0] + "/openapi.json").json()
    assert set(document["paths"]) == ROUTES
    assert document["openapi"].startswith("3.")


def test_found_by_fuzzing_an_unserved_version_is_a_404_and_a_value_the_model_rejects_a_400(
    served: tuple[str, dict[str, Any]],
) -> None:
    url, columns = served
    r = httpx.get(url + "/v2/models/m/versions/2/ready")
    assert r.status_code == 404  # was 503, "not ready", for a version that is not served
    assert r.json() == {"error": "deployment 'm' serves versions [1], not 2"}
    row = {"a": 1e308, "b": 0.0, "c": 0.0} if "a" in columns else {"city": "oslo", "age": 1}
    row |= {"income": 1e308} if "income" in columns else {}
    r = httpx.post(url + "/invocations", json={"dataframe_records": [row]})
    assert r.status_code == 400, r.text  # was a 500: float32 trees refuse 1e308
    assert r.json()["message"].startswith("the model could not predict on this input: ")


def test_openapi_datatypes_are_the_tensor_datatypes() -> None:
    from conveyor.serving.tensors import DATATYPES

    assert tuple(DATATYPES) == openapi.DATATYPES


@pytest.mark.slow
def test_no_inference_route_answers_5xx_or_off_its_schema(
    served: tuple[str, dict[str, Any]],
) -> None:
    url, columns = served
    document = httpx.get(url + "/openapi.json").json()
    statuses: list[int] = []
    # the document as served: requests that fit it and requests that break it
    for operation in _operations(document):
        names = {p.name: SERVED.get(p.name, "m") for p in operation.path_parameters}
        _fuzz(url, operation, GenerationMode.POSITIVE, names, statuses)
        if len(operation.body):  # the rest is fixed: only a body can break the document
            _fuzz(url, operation, GenerationMode.NEGATIVE, names, statuses)
        if names:  # random names and versions: 404s and 400s, never a 5xx
            _fuzz(url, operation, GenerationMode.POSITIVE, None, examples=5)
    # bodies fitted to the model's signature, so that the values reach the model itself
    for operation in _operations(_fit_to_signature(document, columns)):
        if len(operation.body):
            names = {p.name: SERVED.get(p.name, "m") for p in operation.path_parameters}
            _fuzz(url, operation, GenerationMode.POSITIVE, names, statuses)
    assert statuses.count(200) > 20  # the fitted bodies did reach the model


def _operations(document: dict[str, Any]) -> list[Any]:
    results = list(schemathesis.openapi.from_dict(document).get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # the document is valid
    return [r.ok() for r in results if isinstance(r, Ok)]


def _fit_to_signature(document: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose request bodies carry the model's columns, valued freely."""
    names = list(columns)
    record = {
        "type": "object",
        "properties": columns,
        "required": names,
        "additionalProperties": False,
    }
    rows = {"type": "array", "minItems": 1, "maxItems": 4, "items": record}
    tensors = {
        "type": "array",
        "minItems": len(names),
        "maxItems": len(names),
        "items": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"const": name},
                        "shape": {"const": [1]},
                        "datatype": {"enum": _datatypes(value)},
                        "data": {"type": "array", "items": value, "minItems": 1, "maxItems": 1},
                    },
                    "additionalProperties": False,
                }
                for name, value in columns.items()
            ]
        },
    }
    by_kind = {
        "predict": _body({"data": rows}),
        "invocations": {
            "oneOf": [
                _body({"dataframe_records": rows}),
                _body({"instances": rows}),
                _body(
                    {
                        "inputs": _body(
                            {
                                n: {"type": "array", "items": v, "minItems": 1, "maxItems": 1}
                                for n, v in columns.items()
                            }
                        )
                    }
                ),
            ]
        },
        "infer": _body({"inputs": tensors}),
    }
    fitted = copy.deepcopy(document)
    for path, item in fitted["paths"].items():
        post = item.get("post")
        if post is not None:
            content = post["requestBody"]["content"]
            content["application/json"]["schema"] = by_kind[path.rsplit("/", 1)[1]]
            content.pop("text/csv", None)
    return fitted


def _body(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _datatypes(value: dict[str, Any]) -> list[str]:
    kind = value["type"]
    if kind == "string":
        return ["BYTES"]
    if kind == "integer":
        return ["INT64", "INT32", "FP64"]
    return ["FP64", "FP32", "FP16"]


def _fuzz(
    url: str,
    operation: Any,
    mode: GenerationMode,
    path_parameters: dict[str, str] | None,
    statuses: list[int] | None = None,
    *,
    examples: int = EXAMPLES,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: Any) -> None:
        response = case.call(base_url=url)
        if statuses is not None:
            statuses.append(response.status_code)
        # raises schemathesis' failure report: the checks that failed and a curl to replay it
        case.validate_response(response, checks=CHECKS)

    call()

"""The OpenAPI 3 document of the inference routes, served at ``GET /openapi.json``.

The inference app is plain ASGI, so nothing generates this: it is written here, next to the
routes it describes, and a schemathesis test sends generated requests to a served model and
checks every answer (status, content type, body) against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from conveyor import __version__

DATATYPES = (
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
)
_OBJECT = {"type": "object"}
_STRING = {"type": "string"}

# one error body per protocol family (see app._error_body)
_ERRORS = {
    "v2": {"type": "object", "required": ["error"], "properties": {"error": _STRING}},
    "mlflow": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": _STRING, "message": _STRING},
    },
    "json": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": _STRING, "message": _STRING, "field": {"type": ["string", "null"]}},
    },
}
_WHY = {
    "400": "the request is malformed or does not fit the model's signature (the message names "
    "the field)",
    "404": "no such model, deployment, version or route",
    "413": "the body is larger than the server's limit",
    "415": "the Content-Type is not one this route takes",
    "503": "the model is not loaded yet",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(protocol: str, *codes: str) -> dict[str, Any]:
    return {code: _json(_ERRORS[protocol], _WHY[code]) for code in codes}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


_MODEL_NAME = _path_param("model_name", "the deployment's name (or the served model's)")
_MODEL_VERSION = _path_param("model_version", "a version the deployment serves")
_DEPLOYMENT = _path_param("name", "the deployment's name")

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "enum": list(DATATYPES)},
        "parameters": _OBJECT,
        "data": {"type": "array", "description": "values, flat (row-major) or nested"},
    },
}
_INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": _STRING,
        "parameters": _OBJECT,
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}, "parameters": _OBJECT},
            },
        },
    },
}
_INFER_RESPONSE = {
    "type": "object",
    "required": ["model_name", "outputs"],
    "properties": {
        "model_name": _STRING,
        "model_version": _STRING,
        "id": _STRING,
        "parameters": _OBJECT,
        "outputs": {"type": "array", "items": _TENSOR},
    },
}
_MODEL_METADATA = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": _STRING,
        "versions": {"type": "array", "items": _STRING},
        "platform": _STRING,
        "inputs": {"type": "array", "items": _OBJECT},
        "outputs": {"type": "array", "items": _OBJECT},
        "parameters": _OBJECT,
    },
}
_ROWS = {"type": "array", "items": {"type": ["array", "object"]}}
_MLFLOW_REQUEST = {
    "description": "exactly one of the four MLflow input formats, optionally with params",
    "oneOf": [
        {
            "type": "object",
            "required": [key],
            "properties": {key: schema, "params": _OBJECT},
            "additionalProperties": False,
        }
        for key, schema in (
            (
                "dataframe_split",
                {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "columns": {"type": "array", "items": _STRING},
                        "data": _ROWS,
                        "index": {"type": "array"},
                    },
                    "additionalProperties": False,
                },
            ),
            ("dataframe_records", {"type": "array", "items": _OBJECT}),
            ("instances", {"type": ["array", "object"]}),
            ("inputs", {"type": ["array", "object"]}),
        )
    ],
}
_PREDICT_REQUEST = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": _ROWS, "columns": {"type": "array", "items": _STRING}},
    "additionalProperties": False,
}
_PREDICTIONS = {
    "type": "object",
    "required": ["predictions"],
    "properties": {"predictions": {"type": ["array", "object"]}},
}
_STATUS = {"type": "object", "required": ["status"], "properties": {"status": _STRING}}


def _get(summary: str, ok: dict[str, Any], *, unready: bool = False) -> dict[str, Any]:
    responses = {"200": ok}
    if unready:
        responses["503"] = _json(ok["content"]["application/json"]["schema"], _WHY["503"])
    return {"get": {"summary": summary, "responses": responses}}


def _infer(*params: dict[str, Any]) -> dict[str, Any]:
    ok = _json(_INFER_RESPONSE, "the outputs")
    ok["content"]["application/octet-stream"] = {
        "schema": {"type": "string", "format": "binary"},
    }
    ok["description"] += " (binary tensor data extension: JSON header, then raw outputs)"
    return {
        "parameters": list(params),
        "post": {
            "summary": "Open Inference Protocol v2 inference",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _INFER_REQUEST}},
            },
            "responses": {"200": ok, **_errors("v2", "400", "404", "413", "503")},
        },
    }


def _model_get(ready: bool, *params: dict[str, Any]) -> dict[str, Any]:
    if ready:
        schema = {"type": "object", "properties": {"name": _STRING, "ready": {"type": "boolean"}}}
        item = _get("model readiness", _json(schema, "readiness"), unready=True)
    else:
        item = _get("model metadata from its signature", _json(_MODEL_METADATA, "metadata"))
    item["get"]["responses"].update(_errors("v2", "400", "404", "503"))
    return {"parameters": list(params), **item}


def _score(kind: str, *params: dict[str, Any]) -> dict[str, Any]:
    protocol = "mlflow" if kind == "invocations" else "json"
    content: dict[str, Any] = {
        "application/json": {
            "schema": _MLFLOW_REQUEST if kind == "invocations" else _PREDICT_REQUEST
        }
    }
    codes = ["400", "404", "413", "503"]
    if kind == "invocations":
        content["text/csv"] = {"schema": {"type": "string"}}
        codes.append("415")
    summary = "MLflow scoring (as `mlflow models serve`)" if kind == "invocations" else "JSON rows"
    return {
        "parameters": list(params),
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": content},
            "responses": {
                "200": _json(_PREDICTIONS, "one prediction per row"),
                **_errors(protocol, *codes),
            },
        },
    }


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the inference routes."""
    live = {"type": "object", "properties": {"live": {"type": "boolean"}}}
    ready = {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    server = {"type": "object", "properties": {"name": _STRING, "version": _STRING}}
    text = {"description": "Prometheus text exposition", "content": {"text/plain": {}}}
    versioned = "/v2/models/{model_name}/versions/{model_version}"
    return {
        "openapi": "3.1.0",
        "info": {"title": "Conveyor inference", "version": __version__},
        "paths": {
            "/v2": _get("server metadata", _json(server, "metadata")),
            "/v2/health/live": _get("liveness", _json(live, "live")),
            "/v2/health/ready": _get("readiness", _json(ready, "ready"), unready=True),
            "/v2/models/{model_name}": _model_get(False, _MODEL_NAME),
            "/v2/models/{model_name}/ready": _model_get(True, _MODEL_NAME),
            "/v2/models/{model_name}/infer": _infer(_MODEL_NAME),
            versioned: _model_get(False, _MODEL_NAME, _MODEL_VERSION),
            f"{versioned}/ready": _model_get(True, _MODEL_NAME, _MODEL_VERSION),
            f"{versioned}/infer": _infer(_MODEL_NAME, _MODEL_VERSION),
            "/invocations": _score("invocations"),
            "/predict": _score("predict"),
            "/deployments/{name}/invocations": _score("invocations", _DEPLOYMENT),
            "/deployments/{name}/predict": _score("predict", _DEPLOYMENT),
            "/ping": _get("MLflow's ping", _json(_STATUS, "ready"), unready=True),
            "/health": _get("health", _json(_STATUS, "ready"), unready=True),
            "/version": _get("server version", _json({"type": "object"}, "the version")),
            "/metrics": _get("Prometheus metrics", text),
        },
    }


@cache
def document_bytes() -> bytes:
    """``document()`` as JSON, encoded once."""
    return orjson.dumps(document())

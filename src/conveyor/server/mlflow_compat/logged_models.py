"""MLflow 3's ``logged-models`` routes: what ``mlflow.<flavor>.log_model`` calls.

MLflow 3 logs a model as a *logged model* (``m-<hex>``) with its own artifact location. Conveyor
has no logged-model table yet, so each one is a small JSON record in the artifact tree
(``_logged_models/<model_id>.json``) and its files live in its source run's artifacts, at
``<run artifacts>/<name>``, as MLflow 2 placed them. That keeps ``runs:/RUN_ID/<name>`` a valid
model URI for Conveyor's own registry and serving; a model logged outside a run gets MLflow's
layout, ``<experiment>/models/<model_id>/artifacts``.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from conveyor._time import now_ms
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.governance.roles import Role
from conveyor.server.deps import ClientDep
from conveyor.server.mlflow_compat.convert import Fields, JSONDict, reply, request_fields
from conveyor.server.project_scope import require_experiment, visible_experiment_ids
from conveyor.tracking import LocalClient
from conveyor.tracking.artifacts import ARTIFACT_SCHEME
from conveyor.tracking.search import decode_page_token, encode_page_token

router = APIRouter()
FieldsDep = Annotated[Fields, Depends(request_fields)]

RECORDS = "_logged_models"
_STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
# The filters the mlflow client sends itself: name = '...' and source_run_id = '...'.
_CLAUSE = re.compile(r"\s*(name|source_run_id)\s*(=|!=)\s*'((?:[^']|'')*)'\s*", re.IGNORECASE)
_AND = re.compile(r"(?i)\s+and\s+")


def _record_path(model_id: str) -> str:
    if not _MODEL_ID.fullmatch(model_id):
        msg = f"Logged model with ID '{model_id}' not found."
        raise NotFoundError(msg, field="model_id")
    return f"{RECORDS}/{model_id}.json"


def load(client: LocalClient, model_id: str) -> JSONDict:
    """Return the stored record of a logged model; ``NotFoundError`` when there is none."""
    path = _record_path(model_id)
    try:
        with client.workspace.artifacts.open(path) as handle:
            record: JSONDict = orjson.loads(handle.read())
    except NotFoundError:
        msg = f"Logged model with ID '{model_id}' not found."
        raise NotFoundError(msg, field="model_id") from None
    return record


def _load_for(request: Request, client: LocalClient, model_id: str, role: Role) -> JSONDict:
    """``load``, then check the caller's role on the model's experiment (auth on)."""
    record = load(client, model_id)
    require_experiment(request, record["experiment_id"], role)
    return record


def _save(client: LocalClient, record: JSONDict) -> None:
    record["last_updated_timestamp_ms"] = now_ms()
    client.workspace.artifacts.put_bytes(_record_path(record["model_id"]), orjson.dumps(record))


def registry_source(record: JSONDict) -> str:
    """The source a registered version of this logged model records.

    ``runs:/RUN_ID/<name>`` when its files are a run's artifacts, so that Conveyor's registry
    links the version to its run and resolves it without knowing about logged models.
    """
    run_id = record.get("source_run_id")
    if run_id and record.get("in_run"):
        return f"runs:/{run_id}/{record['name']}"
    return str(record["artifact_uri"])


def model_json(record: JSONDict) -> JSONDict:
    """Render a record as MLflow's ``LoggedModel`` message."""
    info = {k: record[k] for k in _INFO_FIELDS if record.get(k) not in (None, "")}
    info["tags"] = [{"key": k, "value": v} for k, v in record["tags"].items()]
    params = [{"key": k, "value": v} for k, v in record["params"].items()]
    return {"info": info, "data": {"params": params, "metrics": []}}


_INFO_FIELDS = (
    "model_id",
    "experiment_id",
    "name",
    "creation_timestamp_ms",
    "last_updated_timestamp_ms",
    "artifact_uri",
    "status",
    "model_type",
    "source_run_id",
    "status_message",
)


def _artifact_uri(client: LocalClient, record: JSONDict) -> str:
    experiment_id, run_id = record["experiment_id"], record["source_run_id"]
    if run_id:
        run = client.get_run(run_id)
        if run.info.experiment_id != experiment_id:
            msg = (
                f"source_run_id {run_id!r} belongs to experiment {run.info.experiment_id}, "
                f"not {experiment_id}"
            )
            raise InvalidArgumentError(msg, field="source_run_id")
        return f"{run.info.artifact_uri.rstrip('/')}/{record['name']}"
    return f"{ARTIFACT_SCHEME}/{experiment_id}/models/{record['model_id']}/artifacts"


@router.post("/logged-models")
def create_logged_model(fields: FieldsDep, client: ClientDep) -> Response:
    """Create a logged model (status PENDING) and give it an artifact location."""
    experiment_id = fields.required("experiment_id")
    client.get_experiment(experiment_id)  # 404 for an unknown experiment
    model_id = f"m-{uuid.uuid4().hex}"
    name = fields.text("name") or model_id
    if "/" in name or name in (".", ".."):
        msg = f"name {name!r} must not contain '/'"
        raise InvalidArgumentError(msg, field="name")
    run_id = fields.text("source_run_id") or None
    at = now_ms()
    record: JSONDict = {
        "model_id": model_id,
        "experiment_id": experiment_id,
        "name": name,
        "creation_timestamp_ms": at,
        "status": "LOGGED_MODEL_PENDING",
        "model_type": fields.text("model_type"),
        "source_run_id": run_id,
        "tags": dict(fields.pairs("tags")),
        "params": dict(fields.pairs("params")),
    }
    record["artifact_uri"] = _artifact_uri(client, record)
    record["in_run"] = run_id is not None
    _save(client, record)
    return reply({"model": model_json(record)})


@router.post("/logged-models/search")
def search_logged_models(fields: FieldsDep, client: ClientDep, request: Request) -> Response:
    """Return logged models of ``experiment_ids`` matching ``name`` / ``source_run_id`` filters."""
    experiment_ids = set(fields.texts("experiment_ids"))
    clauses = _parse_filter(fields.text("filter"))
    max_results = fields.integer("max_results", 100)
    offset = decode_page_token(fields.text("page_token"))
    found = []
    for info in client.workspace.artifacts.list(RECORDS):
        if info.is_dir:
            continue
        record = load(client, info.path.rsplit("/", 1)[1].removesuffix(".json"))
        if experiment_ids and record["experiment_id"] not in experiment_ids:
            continue
        if all((record.get(key) == value) == equal for key, equal, value in clauses):
            found.append(record)
    visible = set(visible_experiment_ids(request, {r["experiment_id"] for r in found}))
    found = [r for r in found if r["experiment_id"] in visible]
    found.sort(key=lambda r: (-r["creation_timestamp_ms"], r["model_id"]))
    end = offset + max_results
    payload: dict[str, Any] = {"models": [model_json(r) for r in found[offset:end]]}
    if end < len(found):
        payload["next_page_token"] = encode_page_token(end)
    return reply(payload)


def _parse_filter(text: str | None) -> list[tuple[str, bool, str]]:
    if not text or not text.strip():
        return []
    clauses = []
    for part in _AND.split(text.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            msg = (
                f"unsupported logged-model filter {part!r}: Conveyor supports name = '...' and "
                "source_run_id = '...' joined by AND"
            )
            raise InvalidArgumentError(msg, field="filter")
        clauses.append((match[1].lower(), match[2] == "=", match[3].replace("''", "'")))
    return clauses


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, client: ClientDep, request: Request) -> Response:
    """Return one logged model."""
    return reply({"model": model_json(_load_for(request, client, model_id, "viewer"))})


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(
    model_id: str, fields: FieldsDep, client: ClientDep, request: Request
) -> Response:
    """Set a logged model's final status (READY once its files are uploaded)."""
    record = _load_for(request, client, model_id, "editor")
    status = fields.required("status")
    if status not in _STATUSES:
        msg = f"status must be one of {', '.join(_STATUSES)}; got {status!r}"
        raise InvalidArgumentError(msg, field="status")
    record["status"] = status
    _save(client, record)
    return reply({"model": model_json(record)})


@router.delete("/logged-models/{model_id}")
def delete_logged_model(model_id: str, client: ClientDep, request: Request) -> Response:
    """Forget a logged model (its files stay with its run, like other run artifacts)."""
    _load_for(request, client, model_id, "editor")
    client.workspace.artifacts.delete(_record_path(model_id))
    return reply()


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(
    model_id: str, fields: FieldsDep, client: ClientDep, request: Request
) -> Response:
    """Set (or replace) tags on a logged model."""
    record = _load_for(request, client, model_id, "editor")
    record["tags"].update(fields.pairs("tags"))
    _save(client, record)
    return reply()


@router.delete("/logged-models/{model_id}/tags/{tag_key}")
def delete_logged_model_tag(
    model_id: str, tag_key: str, client: ClientDep, request: Request
) -> Response:
    """Remove one tag from a logged model."""
    record = _load_for(request, client, model_id, "editor")
    if record["tags"].pop(tag_key, None) is None:
        msg = f"No tag with key {tag_key!r} found for logged model {model_id!r}."
        raise NotFoundError(msg, field="tag_key")
    _save(client, record)
    return reply()


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(
    model_id: str, fields: FieldsDep, client: ClientDep, request: Request
) -> Response:
    """Record parameters on a logged model."""
    record = _load_for(request, client, model_id, "editor")
    record["params"].update(fields.pairs("params"))
    _save(client, record)
    return reply()


@router.post("/runs/outputs")
def log_outputs(fields: FieldsDep, client: ClientDep) -> Response:
    """Accept a run's model outputs after checking the run and the models exist."""
    client.get_run(fields.run_id())
    for output in fields.messages("models"):
        load(client, output.required("model_id"))
    return reply()


__all__ = ["RECORDS", "load", "model_json", "registry_source", "router"]

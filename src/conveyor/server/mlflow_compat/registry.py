"""MLflow's model-registry routes (``registered-models/*``, ``model-versions/*``).

A thin translation onto ``conveyor.registry.Registry``: fields are read the way MLflow's server
reads them, entities are rendered as its protobuf JSON, and each write is one registry
transaction with its audit event. With auth on, every route that names a model checks the
caller's role in the model's project (``conveyor.server.api.registry._authorize``), and searches
only see the caller's projects.

Searches filter in Python over the registry's pages (narrowed in SQL by name or run where the
filter allows it): the filter grammar is MLflow's, and a registry holds few enough models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from conveyor.errors import InvalidArgumentError
from conveyor.registry.entities import ModelVersion, RegisteredModel
from conveyor.registry.service import Registry
from conveyor.registry.uris import check_name
from conveyor.server.api.registry import _authorize, _Services
from conveyor.server.auth import actor_of, require, visible_projects
from conveyor.server.deps import ClientDep
from conveyor.server.mlflow_compat import logged_models
from conveyor.server.mlflow_compat.convert import (
    Fields,
    JSONDict,
    key_values,
    reply,
    request_fields,
)
from conveyor.server.mlflow_compat.scope import PROJECT_TAG
from conveyor.tracking import LocalClient
from conveyor.tracking.search import decode_page_token, encode_page_token

router = APIRouter()
FieldsDep = Annotated[Fields, Depends(request_fields)]

_PAGE = 10_000
_MODELS_MAX_RESULTS = 1000  # MLflow's caps: registered models 1,000, versions 200,000
_VERSIONS_MAX_RESULTS = 200_000


# -- rendering ---------------------------------------------------------------------------------
def version_json(version: ModelVersion) -> JSONDict:
    """Render a model version as MLflow's ``ModelVersion`` message."""
    out: JSONDict = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.created_time,
        "last_updated_timestamp": version.updated_time,
        "user_id": version.user_id,
        "current_stage": version.stage,
        "description": version.description,
        "source": version.source,
        "status": version.status,
        "tags": key_values(version.tags),
        "aliases": list(version.aliases),
    }
    if version.run_id:
        out["run_id"] = version.run_id
    return out


def model_json(model: RegisteredModel, latest: list[ModelVersion] | None = None) -> JSONDict:
    """Render a registered model as MLflow's ``RegisteredModel`` message."""
    out: JSONDict = {
        "name": model.name,
        "creation_timestamp": model.created_time,
        "last_updated_timestamp": model.updated_time,
        "description": model.description,
        "tags": key_values(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
    }
    if latest:
        out["latest_versions"] = [version_json(v) for v in latest]
    return out


def _full_model(registry: Registry, name: str) -> JSONDict:
    return model_json(*registry.get_model_with_latest(name))


# -- request fields ----------------------------------------------------------------------------
def _version(fields: Fields) -> str:
    """The ``version`` field: a string in MLflow's proto, also accepted as a JSON number."""
    value = fields.integer("version")
    if value is None:
        msg = "Missing value for required parameter 'version'."
        raise InvalidArgumentError(msg, field="version")
    return str(value)


def _flag(fields: Fields, name: str) -> bool:
    """A bool field: a JSON boolean, or ``true``/``false`` in a query string."""
    value = fields._get(name)  # Fields reads strings and numbers, not bools
    if value is None or isinstance(value, bool):
        return bool(value)
    if not isinstance(value, str) or value.lower() not in ("true", "false"):
        msg = f"Invalid value {value!r} for parameter '{name}': expected true or false"
        raise InvalidArgumentError(msg, field=name)
    return value.lower() == "true"


# -- search filters ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Clause:
    key: str  # name, run_id, version_number, source_path or tags.<key>
    op: str  # =, !=, LIKE, ILIKE, IN, NOT IN
    values: tuple[str, ...]

    def matches(self, actual: str | None) -> bool:
        if actual is None:
            return self.op in ("!=", "NOT IN")
        if self.op in ("LIKE", "ILIKE"):
            flags = re.IGNORECASE if self.op == "ILIKE" else 0
            return _like(self.values[0], flags).fullmatch(actual) is not None
        inside = actual in self.values
        return inside if self.op in ("=", "IN") else not inside


_CLAUSE = re.compile(
    r"""\s*(?:attributes?\.)?
    (?P<key>tags?\.`[^`]+`|tags?\."[^"]+"|tags?\.[\w.\-]+|[a-z_]+)\s*
    (?P<op>!=|=|(?:not\s+)?in\b|i?like\b)\s*
    (?P<value>'(?:[^']|'')*'|"(?:[^"]|"")*"|\([^()]*\)|\d+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_QUOTED = re.compile(r"""'((?:[^']|'')*)'|"((?:[^"]|"")*)\"""")
_AND = re.compile(r"(?i)and\b")


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.DOTALL)


def _unquote(text: str) -> str:
    if text[0] in "'\"":
        return text[1:-1].replace(text[0] * 2, text[0])
    return text


def parse_filter(text: str | None, keys: frozenset[str]) -> list[_Clause]:
    """Parse MLflow's registry filter (``name LIKE 'churn%' AND tags.team = 'a'``)."""
    clauses: list[_Clause] = []
    rest = (text or "").strip()
    while rest:
        match = _CLAUSE.match(rest)
        key = match["key"] if match else ""
        if key.lower().startswith("tag"):  # tag.k, tags.k, tags.`k.1`, tags."k"
            key = "tags." + _unquote(key.partition(".")[2].strip("`"))
        else:
            key = key.lower()
        if match is None or (key not in keys and not key.startswith("tags.")):
            allowed = ", ".join(sorted(keys))
            msg = (
                f"Invalid filter {text!r} at {rest[:40]!r}: use {allowed} or tags.<key> with "
                "=, !=, LIKE, ILIKE or IN, and quote string values ('...'); join clauses with AND"
            )
            raise InvalidArgumentError(msg, field="filter")
        op = " ".join(match["op"].upper().split())
        value = match["value"]
        if (op in ("IN", "NOT IN")) != value.startswith("("):
            msg = f"Invalid filter {text!r}: {op} needs {'a list' if 'IN' in op else 'a value'}"
            raise InvalidArgumentError(msg, field="filter")
        values = (
            tuple(a or b for a, b in _QUOTED.findall(value))
            if value.startswith("(")
            else (_unquote(value),)
        )
        clauses.append(_Clause(key, op, values))
        rest = rest[match.end() :]
        if rest and _AND.match(rest) is None:
            msg = f"Invalid filter {text!r}: expected AND before {rest[:40]!r}"
            raise InvalidArgumentError(msg, field="filter")
        rest = rest[3:].strip() if rest else ""
    return clauses


def _exact(clauses: list[_Clause], key: str) -> str | None:
    """The value a clause pins ``key`` to, for narrowing the SQL query."""
    for clause in clauses:
        if clause.key == key and clause.op == "=":
            return clause.values[0]
    return None


def _sorter(
    order_by: list[str], columns: dict[str, Callable[[Any], Any]], default: list[str]
) -> Callable[[list[Any]], None]:
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    for item in order_by or default:
        parts = item.split()
        column = parts[0].lower().removeprefix("attributes.") if parts else ""
        direction = parts[1].upper() if len(parts) > 1 else "ASC"
        if column not in columns or len(parts) > 2 or direction not in ("ASC", "DESC"):
            msg = (
                f"Invalid order_by {item!r}: use one of {', '.join(columns)} followed by an "
                "optional ASC or DESC"
            )
            raise InvalidArgumentError(msg, field="order_by")
        keys.append((columns[column], direction == "ASC"))

    def sort(items: list[Any]) -> None:
        for key, ascending in reversed(keys):
            items.sort(key=key, reverse=not ascending)

    return sort


def _page_of(
    items: list[Any], fields: Fields, cap: int, default: int
) -> tuple[list[Any], JSONDict]:
    max_results = fields.integer("max_results", default)
    if not 1 <= max_results <= cap:
        msg = f"Invalid value {max_results} for parameter 'max_results': must be 1 to {cap}"
        raise InvalidArgumentError(msg, field="max_results")
    offset = decode_page_token(fields.text("page_token"))
    end = offset + max_results
    extra: JSONDict = {"next_page_token": encode_page_token(end)} if end < len(items) else {}
    return items[offset:end], extra


# -- registered models -------------------------------------------------------------------------
@router.post("/registered-models/create")
def create_registered_model(fields: FieldsDep, request: Request) -> Response:
    """Create a registered model; the tag ``conveyor.project`` names its project."""
    tags = dict(fields.pairs("tags"))
    project = tags.pop(PROJECT_TAG, "default")
    require(request, project=project, role="editor")
    model = _Services(request).registry.create_model(
        fields.required("name"),
        description=fields.text("description", "") or "",
        project=project,
        tags=tags,
        actor=actor_of(request),
    )
    return reply({"registered_model": model_json(model)})


@router.get("/registered-models/get")
def get_registered_model(fields: FieldsDep, request: Request) -> Response:
    """Return a registered model with its newest version per stage."""
    name = fields.required("name")
    registry = _authorize(request, name, "viewer").registry
    return reply({"registered_model": _full_model(registry, name)})


@router.post("/registered-models/rename")
def rename_registered_model(fields: FieldsDep, request: Request) -> Response:
    """Rename a registered model (versions, aliases and tags follow)."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    model = registry.rename_model(name, fields.required("new_name"), actor=actor_of(request))
    return reply({"registered_model": model_json(model)})


@router.patch("/registered-models/update")
def update_registered_model(fields: FieldsDep, request: Request) -> Response:
    """Replace a registered model's description."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    description = fields.text("description", "") or ""
    model = registry.update_model(name, description=description, actor=actor_of(request))
    return reply({"registered_model": model_json(model)})


@router.delete("/registered-models/delete")
def delete_registered_model(fields: FieldsDep, request: Request) -> Response:
    """Delete a registered model with its versions and aliases."""
    name = fields.required("name")
    _authorize(request, name, "editor").registry.delete_model(name, actor=actor_of(request))
    return reply()


def _all_models(request: Request, name_like: str | None) -> Iterator[RegisteredModel]:
    registry = _Services(request).registry
    token: str | None = None
    while True:
        page = registry.search_models(
            name_like=name_like,
            projects=visible_projects(request),
            max_results=_PAGE,
            page_token=token,
        )
        yield from page.models
        if not (token := page.next_page_token):
            return


_MODEL_KEYS = frozenset({"name"})
_MODEL_ORDER: dict[str, Callable[[Any], Any]] = {
    "name": lambda m: m.name,
    "timestamp": lambda m: m.updated_time,
    "last_updated_timestamp": lambda m: m.updated_time,
    "creation_timestamp": lambda m: m.created_time,
}


def _model_matches(model: RegisteredModel, clause: _Clause) -> bool:
    if clause.key.startswith("tags."):
        return clause.matches(model.tags.get(clause.key[5:]))
    return clause.matches(model.name)


@router.get("/registered-models/search")
def search_registered_models(fields: FieldsDep, request: Request) -> Response:
    """Return one page of registered models matching ``filter``, in ``order_by`` order."""
    clauses = parse_filter(fields.text("filter"), _MODEL_KEYS)
    sort = _sorter(fields.texts("order_by"), _MODEL_ORDER, ["name ASC"])
    like = next((c.values[0] for c in clauses if c.key == "name" and c.op in ("=", "LIKE")), None)
    found = [m for m in _all_models(request, like) if all(_model_matches(m, c) for c in clauses)]
    sort(found)
    page, extra = _page_of(found, fields, _MODELS_MAX_RESULTS, 100)
    registry = _Services(request).registry
    models = [model_json(m, registry.latest_versions(m.name)) for m in page]
    return reply({"registered_models": models, **extra})


@router.post("/registered-models/get-latest-versions")
def get_latest_versions(fields: FieldsDep, request: Request) -> Response:
    """Return the newest version in each of ``stages`` (every stage when empty)."""
    name = fields.required("name")
    registry = _authorize(request, name, "viewer").registry
    versions = registry.latest_versions(name, fields.texts("stages"))
    return reply({"model_versions": [version_json(v) for v in versions]})


@router.post("/registered-models/set-tag")
def set_registered_model_tag(fields: FieldsDep, request: Request) -> Response:
    """Set (or replace) a tag on a registered model."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    value = fields.text("value", "") or ""
    registry.set_model_tag(name, fields.required("key"), value, actor=actor_of(request))
    return reply()


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(fields: FieldsDep, request: Request) -> Response:
    """Remove a tag from a registered model."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    registry.delete_model_tag(name, fields.required("key"), actor=actor_of(request))
    return reply()


@router.post("/registered-models/alias")
def set_registered_model_alias(fields: FieldsDep, request: Request) -> Response:
    """Point an alias at a version (refused for an alias under an approval policy)."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    alias, version = fields.required("alias"), _version(fields)
    registry.set_alias(name, alias, version, actor=actor_of(request))
    return reply()


@router.delete("/registered-models/alias")
def delete_registered_model_alias(fields: FieldsDep, request: Request) -> Response:
    """Remove an alias."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    registry.delete_alias(name, fields.required("alias"), actor=actor_of(request))
    return reply()


@router.get("/registered-models/alias")
def get_model_version_by_alias(fields: FieldsDep, request: Request) -> Response:
    """Return the version an alias points at."""
    name = fields.required("name")
    registry = _authorize(request, name, "viewer").registry
    version = registry.get_by_alias(name, fields.required("alias"))
    return reply({"model_version": version_json(version)})


# -- model versions ----------------------------------------------------------------------------
def _source_and_run(
    client: LocalClient, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None]:
    """Where a new version's files are, and its run: a logged model's own source when named."""
    if not model_id:
        return source, run_id
    record = logged_models.load(client, model_id)
    if source in (f"models:/{model_id}", record["artifact_uri"]):
        source = logged_models.registry_source(record)
    return source, run_id or record.get("source_run_id")


@router.post("/model-versions/create")
def create_model_version(fields: FieldsDep, request: Request, client: ClientDep) -> Response:
    """Register ``source`` (a run's model, a logged model, an artifact URI) as the next version."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    fields.text("run_link")
    source, run_id = _source_and_run(
        client, fields.required("source"), fields.text("run_id") or None, fields.text("model_id")
    )
    version = registry.create_version(
        name,
        source,
        run_id=run_id,
        description=fields.text("description", "") or "",
        tags=dict(fields.pairs("tags")),
        actor=actor_of(request),
    )
    return reply({"model_version": version_json(version)})


@router.get("/model-versions/get")
def get_model_version(fields: FieldsDep, request: Request) -> Response:
    """Return one model version."""
    name = fields.required("name")
    registry = _authorize(request, name, "viewer").registry
    return reply({"model_version": version_json(registry.get_version(name, _version(fields)))})


@router.patch("/model-versions/update")
def update_model_version(fields: FieldsDep, request: Request) -> Response:
    """Replace a version's description."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    version = registry.update_version(
        name,
        _version(fields),
        description=fields.text("description", "") or "",
        actor=actor_of(request),
    )
    return reply({"model_version": version_json(version)})


@router.delete("/model-versions/delete")
def delete_model_version(fields: FieldsDep, request: Request) -> Response:
    """Delete a version and the aliases pointing at it."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    registry.delete_version(name, _version(fields), actor=actor_of(request))
    return reply()


@router.post("/model-versions/transition-stage")
def transition_model_version_stage(fields: FieldsDep, request: Request) -> Response:
    """Move a version to a legacy stage (None, Staging, Production, Archived)."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    version = registry.transition_stage(
        name,
        _version(fields),
        fields.required("stage"),
        archive_existing=_flag(fields, "archive_existing_versions"),
        actor=actor_of(request),
    )
    return reply({"model_version": version_json(version)})


@router.post("/model-versions/set-tag")
def set_model_version_tag(fields: FieldsDep, request: Request) -> Response:
    """Set (or replace) a tag on a model version."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    value = fields.text("value", "") or ""
    key = fields.required("key")
    registry.set_version_tag(name, _version(fields), key, value, actor=actor_of(request))
    return reply()


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(fields: FieldsDep, request: Request) -> Response:
    """Remove a tag from a model version."""
    name = fields.required("name")
    registry = _authorize(request, name, "editor").registry
    key = fields.required("key")
    registry.delete_version_tag(name, _version(fields), key, actor=actor_of(request))
    return reply()


def download_uri(client: LocalClient, source: str) -> str:
    """Resolve a version's source to the artifact URI the mlflow client downloads from."""
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/") :].lstrip("/").partition("/")
        base = client.get_run(run_id).info.artifact_uri.rstrip("/")
        return f"{base}/{path}" if path else base
    if source.startswith("models:/m-"):
        return str(logged_models.load(client, source[len("models:/") :])["artifact_uri"])
    return source


@router.get("/model-versions/get-download-uri")
def get_model_version_download_uri(
    fields: FieldsDep, request: Request, client: ClientDep
) -> Response:
    """Return where a version's files can be downloaded (the artifact proxy's URI)."""
    name = fields.required("name")
    registry = _authorize(request, name, "viewer").registry
    version = registry.get_version(name, _version(fields))
    return reply({"artifact_uri": download_uri(client, version.source)})


_VERSION_KEYS = frozenset({"name", "run_id", "version_number", "source_path"})
_VERSION_ORDER: dict[str, Callable[[Any], Any]] = {
    "name": lambda v: v.name,
    "version_number": lambda v: v.version,
    "creation_timestamp": lambda v: v.created_time,
    "last_updated_timestamp": lambda v: v.updated_time,
    "timestamp": lambda v: v.updated_time,
}


def _version_matches(version: ModelVersion, clause: _Clause) -> bool:
    if clause.key.startswith("tags."):
        return clause.matches(version.tags.get(clause.key[5:]))
    actual = {
        "name": version.name,
        "run_id": version.run_id,
        "version_number": str(version.version),
        "source_path": version.source,
    }[clause.key]
    return clause.matches(actual)


def _all_versions(request: Request, clauses: list[_Clause]) -> Iterator[ModelVersion]:
    registry = _Services(request).registry
    name, run_id = _exact(clauses, "name"), _exact(clauses, "run_id")
    if name is not None:
        try:
            check_name(name)
        except InvalidArgumentError:
            return  # no model has that name
    token: str | None = None
    while True:
        page = registry.search_versions(
            name=name,
            run_id=run_id,
            projects=visible_projects(request),
            max_results=_PAGE,
            page_token=token,
        )
        yield from page.versions
        if not (token := page.next_page_token):
            return


@router.get("/model-versions/search")
def search_model_versions(fields: FieldsDep, request: Request) -> Response:
    """Return one page of model versions matching ``filter`` (``name``, ``run_id``, tags)."""
    clauses = parse_filter(fields.text("filter"), _VERSION_KEYS)
    sort = _sorter(fields.texts("order_by"), _VERSION_ORDER, ["name ASC", "version_number DESC"])
    found = [
        v for v in _all_versions(request, clauses) if all(_version_matches(v, c) for c in clauses)
    ]
    sort(found)
    page, extra = _page_of(found, fields, _VERSIONS_MAX_RESULTS, 10_000)
    return reply({"model_versions": [version_json(v) for v in page], **extra})


__all__ = ["download_uri", "model_json", "parse_filter", "router", "version_json"]

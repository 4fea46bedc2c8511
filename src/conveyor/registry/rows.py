"""Registry rows into entities, and the argument checks the registry's writes share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
)

from conveyor.errors import InvalidArgumentError
from conveyor.registry.entities import ModelVersion, RegisteredModel
from conveyor.store import schema

_rm = schema.registered_models
_mv = schema.model_versions
_mvt = schema.model_version_tags
_rmt = schema.registered_model_tags
_al = schema.model_aliases
_MAX_RESULTS = 10_000
# One version's tags (kind 0: key, value) and aliases (kind 1: alias, NULL), in one statement.
_TAGS_AND_ALIASES_OF_VERSION = union_all(
    select(literal_column("0").label("kind"), _mvt.c.key.label("name"), _mvt.c.value).where(
        _mvt.c.model_id == bindparam("mid"), _mvt.c.version == bindparam("v")
    ),
    select(literal_column("1"), _al.c.alias, cast(null(), _mvt.c.value.type)).where(
        _al.c.model_id == bindparam("mid"), _al.c.version == bindparam("v")
    ),
).order_by("kind", "name")
_TAG_KEY_MAX = 250


def check_tag(key: object, value: object) -> tuple[str, str]:
    if not isinstance(key, str) or not key or len(key) > _TAG_KEY_MAX:
        msg = f"tag key must be 1-{_TAG_KEY_MAX} characters; got {key!r}"
        raise InvalidArgumentError(msg, field="key")
    if not isinstance(value, str):
        value = str(value)
    return key, value


def check_text(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > 100_000:
        msg = f"{field} must be text of at most 100,000 characters"
        raise InvalidArgumentError(msg, field=field)
    return value


def page_bounds(max_results: int, page_token: str | None) -> tuple[int, int]:
    if not 1 <= max_results <= _MAX_RESULTS:
        msg = f"max_results must be between 1 and {_MAX_RESULTS}; got {max_results}"
        raise InvalidArgumentError(msg, field="max_results")
    if page_token in (None, ""):
        return max_results, 0
    if not page_token.isdigit():
        msg = f"page_token {page_token!r} was not issued by this server; omit it to start over"
        raise InvalidArgumentError(msg, field="page_token")
    return max_results, int(page_token)


def run_id_of_source(source: str) -> str | None:
    """Return the run id of a ``runs:/RUN_ID/path`` source, else None."""
    if source.startswith("runs:/"):
        run_id = source[len("runs:/") :].lstrip("/").split("/", 1)[0]
        return run_id or None
    return None


def version_entities(
    conn: Connection, model_names: Mapping[int, str], rows: Sequence[Any]
) -> list[ModelVersion]:
    if not rows:
        return []
    keys = {(r.model_id, r.version) for r in rows}
    tags: dict[tuple[int, int], dict[str, str]] = {}
    aliases: dict[tuple[int, int], list[str]] = {}
    if len(rows) == 1:  # the common case (resolve, get): one statement of two point lookups
        found = conn.execute(
            _TAGS_AND_ALIASES_OF_VERSION, {"mid": rows[0].model_id, "v": rows[0].version}
        ).all()
        key = next(iter(keys))
        tags[key] = {name: value for kind, name, value in found if kind == 0}
        aliases[key] = [name for kind, name, _ in found if kind == 1]
    else:
        pairs = list(keys)
        tag_rows = select(_mvt).where(tuple_(_mvt.c.model_id, _mvt.c.version).in_(pairs))
        for t in conn.execute(tag_rows):
            tags.setdefault((t.model_id, t.version), {})[t.key] = t.value
        alias_rows = (
            select(_al)
            .where(tuple_(_al.c.model_id, _al.c.version).in_(pairs))
            .order_by(_al.c.alias)
        )
        for a in conn.execute(alias_rows):
            aliases.setdefault((a.model_id, a.version), []).append(a.alias)
    return [
        ModelVersion(
            name=model_names[r.model_id],
            version=r.version,
            source=r.source,
            run_id=r.run_uuid,
            status=r.status,
            stage=r.stage,
            description=r.description,
            user_id=r.user_id,
            created_time=r.created_time,
            updated_time=r.updated_time,
            tags=tags.get((r.model_id, r.version), {}),
            aliases=aliases.get((r.model_id, r.version), []),
        )
        for r in rows
    ]


def model_entities(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    if not rows:
        return []
    ids = [r.model_id for r in rows]
    tags: dict[int, dict[str, str]] = {}
    for t in conn.execute(select(_rmt).where(_rmt.c.model_id.in_(ids))):
        tags.setdefault(t.model_id, {})[t.key] = t.value
    aliases: dict[int, dict[str, int]] = {}
    for a in conn.execute(select(_al).where(_al.c.model_id.in_(ids)).order_by(_al.c.alias)):
        aliases.setdefault(a.model_id, {})[a.alias] = a.version
    latest = dict(
        conn.execute(
            select(_mv.c.model_id, func.max(_mv.c.version))
            .where(_mv.c.model_id.in_(ids))
            .group_by(_mv.c.model_id)
        ).all()
    )
    return [
        RegisteredModel(
            name=r.name,
            project=r.project,
            description=r.description,
            created_time=r.created_time,
            updated_time=r.updated_time,
            tags=tags.get(r.model_id, {}),
            aliases=aliases.get(r.model_id, {}),
            latest_version=latest.get(r.model_id),
        )
        for r in rows
    ]

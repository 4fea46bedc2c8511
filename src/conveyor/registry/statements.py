"""The registry's hot-path statements, built once so SQLAlchemy reuses their compiled forms."""

from __future__ import annotations

from sqlalchemy import (
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from conveyor.store import schema

_rm = schema.registered_models
_mv = schema.model_versions
_mvt = schema.model_version_tags
_al = schema.model_aliases
_pol = schema.approval_policies

# Statements of the hot paths (resolve, register, alias moves), built once so SQLAlchemy reuses
# their compiled forms instead of keying a new statement per call.
MODEL_BY_NAME = select(_rm).where(_rm.c.name == bindparam("name"))
MODEL_BY_NAME_LOCKED = MODEL_BY_NAME.with_for_update()
VERSION = select(_mv).where(_mv.c.model_id == bindparam("mid"), _mv.c.version == bindparam("v"))
VERSION_OF = select(_mv, _rm.c.name.label("model_name")).join(_rm, _rm.c.model_id == _mv.c.model_id)
BY_ALIAS = VERSION_OF.join(
    _al, and_(_al.c.model_id == _mv.c.model_id, _al.c.version == _mv.c.version)
).where(_rm.c.name == bindparam("name"), _al.c.alias == bindparam("alias"))
BY_NUMBER = VERSION_OF.where(_rm.c.name == bindparam("name"), _mv.c.version == bindparam("v"))
ALIAS_OF = select(_al.c.version).where(
    _al.c.model_id == bindparam("mid"), _al.c.alias == bindparam("alias")
)
# Registering locks the model row and checks the run in one statement.
MODEL_FOR_VERSION = (
    select(
        _rm,
        exists().where(schema.runs.c.run_uuid == bindparam("run_id")).label("run_exists"),
    )
    .where(_rm.c.name == bindparam("name"))
    .with_for_update(of=_rm)
)
# Setting an alias reads, with the locked model row, all it decides on: whether a policy guards
# the alias (its details are read only to word the refusal), whether the version exists, and
# the version the alias points at now.
MODEL_FOR_ALIAS = (
    select(
        _rm,
        exists()
        .where(
            _pol.c.model_id == _rm.c.model_id,
            or_(_pol.c.alias == bindparam("alias"), _pol.c.alias == "*"),
        )
        .label("has_policy"),
        exists()
        .where(_mv.c.model_id == _rm.c.model_id, _mv.c.version == bindparam("v"))
        .label("has_version"),
        select(_al.c.version)
        .where(_al.c.model_id == _rm.c.model_id, _al.c.alias == bindparam("alias"))
        .scalar_subquery()
        .label("current_version"),
    )
    .where(_rm.c.name == bindparam("name"))
    .with_for_update(of=_rm)
)
INSERT_VERSION = insert(_mv)
INSERT_ALIAS = insert(_al)
UPDATE_ALIAS = (
    update(_al)
    .where(_al.c.model_id == bindparam("mid"), _al.c.alias == bindparam("alias_name"))
    .values(version=bindparam("version"), updated_time=bindparam("at"))
)
NEXT_VERSION = (
    update(_rm)
    .where(_rm.c.model_id == bindparam("mid"))
    .values(last_version=bindparam("v"), updated_time=bindparam("at"))
)
TOUCH = update(_rm).where(_rm.c.model_id == bindparam("mid")).values(updated_time=bindparam("at"))
POLICIES = select(_pol).where(
    _pol.c.model_id == bindparam("mid"), _pol.c.alias.in_(bindparam("aliases", expanding=True))
)


NEWEST = (
    select(_mv.c.stage, func.max(_mv.c.version).label("newest"))
    .where(_mv.c.model_id == bindparam("mid"))
    .group_by(_mv.c.stage)
    .subquery()
)
NEWEST_PER_STAGE = (
    select(_mv)
    .join(NEWEST, NEWEST.c.newest == _mv.c.version)
    .where(_mv.c.model_id == bindparam("mid"))
    .order_by(_mv.c.version)
)

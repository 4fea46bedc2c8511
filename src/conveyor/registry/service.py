"""The model registry over the metadata store.

Every change is one transaction that also appends its audit event. Changes to one registered
model are serialised by locking its row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises every writer), so version numbers never collide and an alias
compare-and-set sees the value a concurrent promotion left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.errors import AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError
from conveyor.registry import statements as q
from conveyor.registry.entities import ModelPage, ModelVersion, RegisteredModel, VersionPage
from conveyor.registry.rows import (
    check_tag,
    check_text,
    model_entities,
    page_bounds,
    run_id_of_source,
    version_entities,
)
from conveyor.registry.uris import (
    ModelRef,
    check_alias,
    check_name,
    check_stage,
    check_version,
    parse_model_uri,
)
from conveyor.store import events, read, schema, write

_rm = schema.registered_models
_mv = schema.model_versions
_mvt = schema.model_version_tags
_rmt = schema.registered_model_tags
_al = schema.model_aliases
_pol = schema.approval_policies


def _found_model(row: Any, name: str) -> Any:
    """``row``, the registered model ``name``'s; ``NotFoundError`` when there is none."""
    if row is None:
        msg = f"registered model {name!r} does not exist; create it with `conveyor models create`"
        raise NotFoundError(msg, field="name")
    return row


def _no_version(name: str, version: int) -> NotFoundError:
    return NotFoundError(f"model {name!r} has no version {version}", field="version")


class _Unset:
    """Marker for "no compare-and-set expectation"."""


UNSET: Any = _Unset()


class Registry:
    """Registered models, versions, tags, aliases and legacy stages."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The metadata engine."""
        return self._engine

    # -- helpers ---------------------------------------------------------------------------
    def _model_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        stmt = q.MODEL_BY_NAME_LOCKED if lock else q.MODEL_BY_NAME
        return _found_model(conn.execute(stmt, {"name": check_name(name)}).first(), name)

    def _version_row(self, conn: Connection, model: Any, version: int) -> Any:
        row = conn.execute(q.VERSION, {"mid": model.model_id, "v": version}).first()
        if row is None:
            raise _no_version(model.name, version)
        return row

    def _touch(self, conn: Connection, model_id: int, at: int) -> None:
        conn.execute(q.TOUCH, {"mid": model_id, "at": at})

    # -- registered models -----------------------------------------------------------------
    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        project: str = "default",
        tags: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model; ``AlreadyExistsError`` if the name is taken."""
        check_name(name)
        check_text(description, "description")
        pairs = [check_tag(k, v) for k, v in (tags or {}).items()]
        at = now_ms()
        with write(self._engine) as conn:
            if conn.execute(select(_rm.c.model_id).where(_rm.c.name == name)).first():
                msg = f"registered model {name!r} already exists"
                raise AlreadyExistsError(msg, field="name")
            if not conn.execute(
                select(schema.projects.c.name).where(schema.projects.c.name == project)
            ).first():
                msg = (
                    f"project {project!r} does not exist; create it with `conveyor projects create`"
                )
                raise NotFoundError(msg, field="project")
            try:
                model_id = conn.execute(
                    insert(_rm)
                    .values(
                        name=name,
                        project=project,
                        description=description,
                        created_time=at,
                        updated_time=at,
                    )
                    .returning(_rm.c.model_id)
                ).scalar_one()
            except IntegrityError:  # a concurrent create won (PostgreSQL)
                msg = f"registered model {name!r} already exists"
                raise AlreadyExistsError(msg, field="name") from None
            if pairs:
                conn.execute(
                    insert(_rmt), [{"model_id": model_id, "key": k, "value": v} for k, v in pairs]
                )
            events.append(
                conn,
                action="registry.model_created",
                subject=f"models:/{name}",
                payload={"project": project, "description": description, "tags": dict(pairs)},
                actor=actor,
            )
            return model_entities(conn, [self._model_row(conn, name)])[0]

    def get_model(self, name: str) -> RegisteredModel:
        """Return a registered model with its tags, aliases and latest version number."""
        with read(self._engine) as conn:
            return model_entities(conn, [self._model_row(conn, name)])[0]

    def project_of(self, name: str) -> str:
        """Return the project a registered model belongs to."""
        with read(self._engine) as conn:
            return str(self._model_row(conn, name).project)

    def search_models(
        self,
        *,
        name_like: str | None = None,
        projects: Iterable[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> ModelPage:
        """List registered models by name (``name_like`` is a SQL LIKE pattern)."""
        limit, offset = page_bounds(max_results, page_token)
        stmt = select(_rm).order_by(_rm.c.name).limit(limit + 1).offset(offset)
        if name_like:
            stmt = stmt.where(_rm.c.name.like(name_like))
        if projects is not None:
            stmt = stmt.where(_rm.c.project.in_(list(projects)))
        with read(self._engine) as conn:
            rows = conn.execute(stmt).all()
            models = model_entities(conn, rows[:limit])
        token = str(offset + limit) if len(rows) > limit else None
        return ModelPage(models=models, next_page_token=token)

    def update_model(
        self, name: str, *, description: str, actor: str | None = None
    ) -> RegisteredModel:
        """Replace a registered model's description."""
        check_text(description, "description")
        at = now_ms()
        with write(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(
                update(_rm)
                .where(_rm.c.model_id == row.model_id)
                .values(description=description, updated_time=at)
            )
            events.append(
                conn,
                action="registry.model_updated",
                subject=f"models:/{name}",
                payload={"project": row.project, "description": description},
                actor=actor,
            )
            return model_entities(conn, [self._model_row(conn, name)])[0]

    def rename_model(
        self, name: str, new_name: str, *, actor: str | None = None
    ) -> RegisteredModel:
        """Rename a registered model (its versions, aliases and tags follow)."""
        check_name(new_name, field="new_name")
        at = now_ms()
        with write(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            if conn.execute(select(_rm.c.model_id).where(_rm.c.name == new_name)).first():
                msg = f"registered model {new_name!r} already exists"
                raise AlreadyExistsError(msg, field="new_name")
            conn.execute(
                update(_rm)
                .where(_rm.c.model_id == row.model_id)
                .values(name=new_name, updated_time=at)
            )
            events.append(
                conn,
                action="registry.model_renamed",
                subject=f"models:/{name}",
                payload={"project": row.project, "new_name": new_name},
                actor=actor,
            )
            return model_entities(conn, [self._model_row(conn, new_name)])[0]

    def delete_model(self, name: str, *, actor: str | None = None) -> None:
        """Delete a registered model with its versions, aliases, tags, policies and requests.

        The audit log keeps its history.
        """
        with write(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            mid = row.model_id
            req = schema.approval_requests
            ids = select(req.c.request_id).where(req.c.model_id == mid)
            conn.execute(
                delete(schema.approval_decisions).where(
                    schema.approval_decisions.c.request_id.in_(ids)
                )
            )
            for table in (req, _pol, _al, _mvt, _mv, _rmt):
                conn.execute(delete(table).where(table.c.model_id == mid))
            conn.execute(delete(_rm).where(_rm.c.model_id == mid))
            events.append(
                conn,
                action="registry.model_deleted",
                subject=f"models:/{name}",
                payload={"project": row.project},
                actor=actor,
            )

    def set_model_tag(self, name: str, key: str, value: str, *, actor: str | None = None) -> None:
        """Set (or replace) a tag on a registered model."""
        key, value = check_tag(key, value)
        with write(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            conn.execute(delete(_rmt).where(_rmt.c.model_id == row.model_id, _rmt.c.key == key))
            conn.execute(insert(_rmt).values(model_id=row.model_id, key=key, value=value))
            self._touch(conn, row.model_id, now_ms())
            events.append(
                conn,
                action="registry.model_tag_set",
                subject=f"models:/{name}",
                payload={"project": row.project, "key": key, "value": value},
                actor=actor,
            )

    def delete_model_tag(self, name: str, key: str, *, actor: str | None = None) -> None:
        """Delete a tag from a registered model; ``NotFoundError`` if it is not set."""
        with write(self._engine) as conn:
            row = self._model_row(conn, name, lock=True)
            gone = conn.execute(
                delete(_rmt).where(_rmt.c.model_id == row.model_id, _rmt.c.key == key)
            ).rowcount
            if not gone:
                msg = f"registered model {name!r} has no tag {key!r}"
                raise NotFoundError(msg, field="key")
            events.append(
                conn,
                action="registry.model_tag_deleted",
                subject=f"models:/{name}",
                payload={"project": row.project, "key": key},
                actor=actor,
            )

    # -- versions --------------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        create_model: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name``.

        ``source`` is a ``runs:/RUN_ID/path`` URI, an artifact URI or a path; a ``runs:/`` source
        (or ``run_id``) must name an existing run. ``create_model`` creates the registered model
        first when it does not exist (``register_model``'s behaviour).
        """
        if not isinstance(source, str) or not source or len(source) > 4000:
            msg = "source must be a model URI such as runs:/RUN_ID/model"
            raise InvalidArgumentError(msg, field="source")
        run_id = run_id or run_id_of_source(source)
        check_text(description, "description")
        pairs = [check_tag(k, v) for k, v in (tags or {}).items()]
        check_name(name)
        if create_model:
            with contextlib.suppress(AlreadyExistsError):
                self.create_model(name, actor=actor)
        at = now_ms()
        with write(self._engine) as conn:
            model = _found_model(
                conn.execute(q.MODEL_FOR_VERSION, {"name": name, "run_id": run_id}).first(), name
            )
            if run_id is not None and not model.run_exists:
                msg = f"run {run_id!r} does not exist; log the model in a run first"
                raise NotFoundError(msg, field="run_id")
            version = int(model.last_version) + 1
            conn.execute(q.NEXT_VERSION, {"mid": model.model_id, "v": version, "at": at})
            user = actor or events.current_actor()
            conn.execute(
                q.INSERT_VERSION,
                {"model_id": model.model_id, "version": version, "source": source,
                 "run_uuid": run_id, "status": "READY", "stage": "None",
                 "description": description, "user_id": user, "created_time": at,
                 "updated_time": at},
            )  # fmt: skip
            if pairs:
                keyed = {"model_id": model.model_id, "version": version}
                conn.execute(insert(_mvt), [{**keyed, "key": k, "value": v} for k, v in pairs])
            payload = {"project": model.project, "source": source, "run_id": run_id}
            events.append(
                conn,
                action="registry.version_created",
                subject=f"models:/{name}/{version}",
                payload={**payload, "tags": dict(pairs)},
                actor=actor,
            )
        # a new version has no aliases yet and exactly the tags just written: no read-back
        return ModelVersion(
            name=name,
            version=version,
            source=source,
            run_id=run_id,
            description=description,
            user_id=user,
            created_time=at,
            updated_time=at,
            tags=dict(pairs),
        )

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """Return one model version with its tags and aliases."""
        number = check_version(version)
        with read(self._engine) as conn:
            model = self._model_row(conn, name)
            row = self._version_row(conn, model, number)
            return version_entities(conn, {model.model_id: model.name}, [row])[0]

    def search_versions(
        self,
        *,
        name: str | None = None,
        run_id: str | None = None,
        projects: Iterable[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> VersionPage:
        """List model versions of one model (newest first) or of one run."""
        limit, offset = page_bounds(max_results, page_token)
        stmt = (
            select(_mv, _rm.c.name.label("model_name"))
            .join(_rm, _rm.c.model_id == _mv.c.model_id)
            .order_by(_rm.c.name, _mv.c.version.desc())
            .limit(limit + 1)
            .offset(offset)
        )
        if name is not None:
            stmt = stmt.where(_rm.c.name == check_name(name))
        if run_id is not None:
            stmt = stmt.where(_mv.c.run_uuid == run_id)
        if projects is not None:
            stmt = stmt.where(_rm.c.project.in_(list(projects)))
        with read(self._engine) as conn:
            rows = conn.execute(stmt).all()[: limit + 1]
            names = {r.model_id: r.model_name for r in rows}
            versions = version_entities(conn, names, rows[:limit])
        token = str(offset + limit) if len(rows) > limit else None
        return VersionPage(versions=versions, next_page_token=token)

    def update_version(
        self, name: str, version: int | str, *, description: str, actor: str | None = None
    ) -> ModelVersion:
        """Replace a version's description."""
        number = check_version(version)
        check_text(description, "description")
        at = now_ms()
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            self._version_row(conn, model, number)
            conn.execute(
                update(_mv)
                .where(_mv.c.model_id == model.model_id, _mv.c.version == number)
                .values(description=description, updated_time=at)
            )
            events.append(
                conn,
                action="registry.version_updated",
                subject=f"models:/{name}/{number}",
                payload={"project": model.project, "description": description},
                actor=actor,
            )
            row = self._version_row(conn, model, number)
            return version_entities(conn, {model.model_id: name}, [row])[0]

    def delete_version(self, name: str, version: int | str, *, actor: str | None = None) -> None:
        """Delete a version and the aliases that point at it."""
        number = check_version(version)
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            self._version_row(conn, model, number)
            where = and_(_mv.c.model_id == model.model_id, _mv.c.version == number)
            dropped = [
                a
                for (a,) in conn.execute(
                    select(_al.c.alias).where(
                        _al.c.model_id == model.model_id, _al.c.version == number
                    )
                )
            ]
            conn.execute(
                delete(_al).where(_al.c.model_id == model.model_id, _al.c.version == number)
            )
            conn.execute(
                delete(_mvt).where(_mvt.c.model_id == model.model_id, _mvt.c.version == number)
            )
            conn.execute(delete(_mv).where(where))
            self._touch(conn, model.model_id, now_ms())
            events.append(
                conn,
                action="registry.version_deleted",
                subject=f"models:/{name}/{number}",
                payload={"project": model.project, "aliases_removed": dropped},
                actor=actor,
            )

    def set_version_tag(
        self, name: str, version: int | str, key: str, value: str, *, actor: str | None = None
    ) -> None:
        """Set (or replace) a tag on a model version."""
        number = check_version(version)
        key, value = check_tag(key, value)
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            self._version_row(conn, model, number)
            conn.execute(
                delete(_mvt).where(
                    _mvt.c.model_id == model.model_id, _mvt.c.version == number, _mvt.c.key == key
                )
            )
            conn.execute(
                insert(_mvt).values(model_id=model.model_id, version=number, key=key, value=value)
            )
            events.append(
                conn,
                action="registry.version_tag_set",
                subject=f"models:/{name}/{number}",
                payload={"project": model.project, "key": key, "value": value},
                actor=actor,
            )

    def delete_version_tag(
        self, name: str, version: int | str, key: str, *, actor: str | None = None
    ) -> None:
        """Delete a tag from a model version; ``NotFoundError`` if it is not set."""
        number = check_version(version)
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            self._version_row(conn, model, number)
            gone = conn.execute(
                delete(_mvt).where(
                    _mvt.c.model_id == model.model_id, _mvt.c.version == number, _mvt.c.key == key
                )
            ).rowcount
            if not gone:
                msg = f"model version {name}/{number} has no tag {key!r}"
                raise NotFoundError(msg, field="key")
            events.append(
                conn,
                action="registry.version_tag_deleted",
                subject=f"models:/{name}/{number}",
                payload={"project": model.project, "key": key},
                actor=actor,
            )

    def transition_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        archive_existing: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Move a version to a legacy MLflow stage (optionally archiving others in that stage)."""
        number = check_version(version)
        stage = check_stage(stage)
        at = now_ms()
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            before = self._version_row(conn, model, number)
            archived: list[int] = []
            if archive_existing and stage in ("Staging", "Production"):
                archived = [
                    v
                    for (v,) in conn.execute(
                        select(_mv.c.version).where(
                            _mv.c.model_id == model.model_id,
                            _mv.c.stage == stage,
                            _mv.c.version != number,
                        )
                    )
                ]
                if archived:
                    conn.execute(
                        update(_mv)
                        .where(_mv.c.model_id == model.model_id, _mv.c.version.in_(archived))
                        .values(stage="Archived", updated_time=at)
                    )
            conn.execute(
                update(_mv)
                .where(_mv.c.model_id == model.model_id, _mv.c.version == number)
                .values(stage=stage, updated_time=at)
            )
            events.append(
                conn,
                action="registry.stage_transitioned",
                subject=f"models:/{name}/{number}",
                payload={
                    "project": model.project,
                    "from": before.stage,
                    "to": stage,
                    "archived": archived,
                },
                actor=actor,
            )
            row = self._version_row(conn, model, number)
            return version_entities(conn, {model.model_id: name}, [row])[0]

    def get_model_with_latest(self, name: str) -> tuple[RegisteredModel, list[ModelVersion]]:
        """A registered model and its newest version per stage, in one read (MLflow's get)."""
        with read(self._engine) as conn:
            row = self._model_row(conn, name)
            model = model_entities(conn, [row])[0]
            latest = conn.execute(q.NEWEST_PER_STAGE, {"mid": row.model_id}).all()
            return model, version_entities(conn, {row.model_id: row.name}, latest)

    def latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """Newest version per stage (every stage when ``stages`` is empty), like MLflow."""
        wanted = [check_stage(s, field="stages") for s in stages or []]
        with read(self._engine) as conn:
            model = self._model_row(conn, name)
            # one row per stage, found through the (model_id, version) key: O(stages)
            rows = conn.execute(q.NEWEST_PER_STAGE, {"mid": model.model_id}).all()
            picked = [r for r in rows if not wanted or r.stage in wanted]
            return version_entities(conn, {model.model_id: model.name}, picked)

    # -- aliases ---------------------------------------------------------------------------
    def _policy(self, conn: Connection, model_id: int, alias: str) -> Any:
        rows = conn.execute(q.POLICIES, {"mid": model_id, "aliases": [alias, "*"]}).all()
        exact = [r for r in rows if r.alias == alias]
        picked = exact or list(rows)
        return picked[0] if picked else None

    def move_alias(
        self,
        conn: Connection,
        model: Any,
        alias: str,
        version: int,
        *,
        expected: Any = UNSET,
        actor: str | None,
        via: str | None = None,
    ) -> int | None:
        """Point ``alias`` at ``version`` in ``conn``'s transaction; return the previous version.

        With ``expected`` (a version or None for "unset"), the move happens only when the alias
        still points there; otherwise ``ConflictError`` names the version it moved to.
        """
        self._version_row(conn, model, version)
        current = conn.execute(q.ALIAS_OF, {"mid": model.model_id, "alias": alias}).scalar()
        return self._point_alias(
            conn, model, alias, version, current, expected=expected, actor=actor, via=via
        )

    def _point_alias(
        self,
        conn: Connection,
        model: Any,
        alias: str,
        version: int,
        current: int | None,
        *,
        expected: Any,
        actor: str | None,
        via: str | None,
    ) -> int | None:
        """Move ``alias`` from ``current`` (read in this transaction) to ``version``."""
        if expected is not UNSET and current != expected:
            now = "unset" if current is None else f"version {current}"
            was = "unset" if expected is None else f"version {expected}"
            msg = (
                f"@{alias} of {model.name!r} changed concurrently: it was {was} when this "
                f"promotion started and is now {now}; check `conveyor models show {model.name}` "
                "and retry"
            )
            raise ConflictError(msg, field="alias")
        at = now_ms()
        if current is None:
            conn.execute(
                q.INSERT_ALIAS,
                {
                    "model_id": model.model_id,
                    "alias": alias,
                    "version": version,
                    "updated_time": at,
                },
            )
        else:
            conn.execute(
                q.UPDATE_ALIAS,
                {"mid": model.model_id, "alias_name": alias, "version": version, "at": at},
            )
        self._touch(conn, model.model_id, at)
        payload: dict[str, Any] = {"alias": alias, "version": version, "previous": current}
        if via:
            payload["approval_request"] = via
        events.append(
            conn,
            action="registry.alias_set",
            subject=f"models:/{model.name}/{version}",
            payload={"project": model.project, **payload},
            actor=actor,
        )
        return int(current) if current is not None else None

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        expected: Any = UNSET,
        actor: str | None = None,
    ) -> int | None:
        """Point ``alias`` at ``version``; return the version it pointed at before.

        An alias under an approval policy cannot be set directly: promote it
        (``Approvals.promote``), which asks for the approvals the policy needs.
        """
        alias = check_alias(alias)
        number = check_version(version)
        check_name(name)
        with write(self._engine) as conn:
            params = {"name": name, "alias": alias, "v": number}
            model = _found_model(conn.execute(q.MODEL_FOR_ALIAS, params).first(), name)
            policy = self._policy(conn, model.model_id, alias) if model.has_policy else None
            if policy is not None:
                msg = (
                    f"@{alias} of {name!r} needs {policy.required} approval(s) by a user with "
                    f"role {policy.role!r} to move; request it with `conveyor models promote "
                    f"{name} {number} --to {alias}`"
                )
                raise ConflictError(msg, field="alias")
            if not model.has_version:
                raise _no_version(name, number)
            return self._point_alias(
                conn,
                model,
                alias,
                number,
                model.current_version,
                expected=expected,
                actor=actor,
                via=None,
            )

    def delete_alias(self, name: str, alias: str, *, actor: str | None = None) -> None:
        """Remove an alias; ``NotFoundError`` if it is not set."""
        alias = check_alias(alias)
        with write(self._engine) as conn:
            model = self._model_row(conn, name, lock=True)
            current = conn.execute(
                select(_al.c.version).where(_al.c.model_id == model.model_id, _al.c.alias == alias)
            ).scalar()
            if current is None:
                msg = f"registered model {name!r} has no alias @{alias}"
                raise NotFoundError(msg, field="alias")
            policy = self._policy(conn, model.model_id, alias)
            if policy is not None:
                msg = f"@{alias} of {name!r} is under an approval policy; delete the policy first"
                raise ConflictError(msg, field="alias")
            conn.execute(delete(_al).where(_al.c.model_id == model.model_id, _al.c.alias == alias))
            self._touch(conn, model.model_id, now_ms())
            events.append(
                conn,
                action="registry.alias_deleted",
                subject=f"models:/{name}/{current}",
                payload={"project": model.project, "alias": alias, "version": current},
                actor=actor,
            )

    def get_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Return the version ``alias`` points at."""
        return self.resolve(ModelRef(check_name(name), alias=check_alias(alias)))

    def resolve(self, ref: ModelRef | str) -> ModelVersion:
        """Return the version a ``models:/`` URI (or parsed reference) names."""
        if isinstance(ref, str):
            ref = parse_model_uri(ref)
        with read(self._engine) as conn:
            if ref.alias is not None:
                row = conn.execute(q.BY_ALIAS, {"name": ref.name, "alias": ref.alias}).first()
            elif ref.version is not None:
                row = conn.execute(q.BY_NUMBER, {"name": ref.name, "v": ref.version}).first()
            else:
                stmt = q.VERSION_OF.where(_rm.c.name == ref.name)
                if ref.stage is not None:
                    stmt = stmt.where(_mv.c.stage == ref.stage)
                row = conn.execute(stmt.order_by(_mv.c.version.desc()).limit(1)).first()
            if row is None:
                model = self._model_row(conn, ref.name)  # a missing model says so
                if ref.alias is not None:
                    msg = f"registered model {model.name!r} has no alias @{ref.alias}"
                    raise NotFoundError(msg, field="alias")
                msg = f"{ref.uri()} names no version of {ref.name!r}"
                raise NotFoundError(msg, field="version")
            return version_entities(conn, {row.model_id: row.model_name}, [row])[0]

"""Experiments: create, find, rename, delete and restore named groups of runs."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from conveyor.store import events, read, schema, write
from conveyor.tracking import limits
from conveyor.tracking.entities import Experiment, LifecycleStage, ViewType

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_PROJECT = "default"


def parse_experiment_id(experiment_id: object) -> int:
    """Return ``experiment_id`` as the integer the store uses."""
    text = str(experiment_id).strip()
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**63:
        msg = f"experiment_id must be a number such as '0' or '12', got {experiment_id!r}"
        raise InvalidArgumentError(msg, field="experiment_id")
    return int(text)


def _artifact_location(experiment_id: int) -> str:
    return f"mlflow-artifacts:/{experiment_id}"


def _tags_of(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    t = schema.experiment_tags
    out: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        stmt = select(t.c.experiment_id, t.c.key, t.c.value).where(t.c.experiment_id.in_(ids))
        for exp_id, key, value in conn.execute(stmt):
            out[exp_id][key] = value
    return out


def _to_entity(row: object, tags: Mapping[str, str]) -> Experiment:
    m = row._mapping  # type: ignore[attr-defined]
    return Experiment(
        experiment_id=str(m["experiment_id"]),
        name=m["name"],
        artifact_location=m["artifact_location"],
        lifecycle_stage=m["lifecycle_stage"],
        creation_time=m["creation_time"],
        last_update_time=m["last_update_time"],
        project=m["project"],
        tags=dict(tags),
    )


def _audit(conn: Connection, action: str, experiment_id: int, values: Mapping[str, object]) -> None:
    e = schema.experiments
    project = conn.execute(select(e.c.project).where(e.c.experiment_id == experiment_id)).scalar()
    events.append(
        conn,
        action=action,
        subject=f"experiments:/{experiment_id}",
        payload={"project": project, **values},
    )


class Experiments:
    """Experiment operations over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ensure_default(self) -> None:
        """Create the "Default" experiment (id 0) that MLflow clients expect."""
        with read(self._engine) as conn:
            found = conn.execute(
                select(schema.experiments.c.experiment_id).where(
                    schema.experiments.c.experiment_id == 0
                )
            ).first()
        if found is None:
            with contextlib.suppress(AlreadyExistsError):  # another process was first
                # bootstrap, like the migrations' seed rows: not a change anyone made
                self._insert(DEFAULT_EXPERIMENT_NAME, experiment_id=0, audit=False)

    def _insert(
        self,
        name: str,
        *,
        experiment_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
        audit: bool = True,
    ) -> int:
        now = now_ms()
        e = schema.experiments
        try:
            with write(self._engine) as conn:
                if (
                    project != DEFAULT_PROJECT
                    and not conn.execute(
                        select(schema.projects.c.name).where(schema.projects.c.name == project)
                    ).first()
                ):
                    msg = f"project {project!r} does not exist; see `conveyor projects create`"
                    raise NotFoundError(msg, field="project")
                values = {
                    "name": name,
                    "artifact_location": "",
                    "lifecycle_stage": LifecycleStage.ACTIVE.value,
                    "creation_time": now,
                    "last_update_time": now,
                    "project": project,
                }
                if experiment_id is not None:
                    values["experiment_id"] = experiment_id
                key = conn.execute(insert(e).values(values)).inserted_primary_key
                assert key is not None  # noqa: S101 - an INSERT always returns its key
                new_id = key[0]
                conn.execute(
                    update(e)
                    .where(e.c.experiment_id == new_id)
                    .values(artifact_location=_artifact_location(new_id))
                )
                if tags:
                    rows = [
                        {"experiment_id": new_id, "key": k, "value": v} for k, v in tags.items()
                    ]
                    conn.execute(insert(schema.experiment_tags), rows)
                if audit:
                    events.append(
                        conn,
                        action="experiment.created",
                        subject=f"experiments:/{new_id}",
                        payload={"project": project, "name": name, "tags": dict(tags or {})},
                    )
        except IntegrityError as exc:
            msg = f"experiment {name!r} already exists; use it, or pick another name"
            raise AlreadyExistsError(msg, field="name") from exc
        return int(new_id)

    def create(
        self, name: str, *, tags: Mapping[str, str] | None = None, project: str = DEFAULT_PROJECT
    ) -> Experiment:
        """Create an experiment named ``name``.

        Raises:
            AlreadyExistsError: the name is taken (also by a deleted experiment).
        """
        name = limits.check_name(name, field="name", limit=limits.MAX_EXPERIMENT_NAME_LENGTH)
        checked = {
            limits.check_key(k, field="tags.key"): limits.check_value(
                v, field=f"tags[{k!r}]", limit=limits.MAX_TAG_VALUE_LENGTH
            )
            for k, v in (tags or {}).items()
        }
        return self.get(str(self._insert(name, tags=checked, project=project)))

    def get(self, experiment_id: object) -> Experiment:
        """Return the experiment with ``experiment_id``."""
        exp_id = parse_experiment_id(experiment_id)
        e = schema.experiments
        with read(self._engine) as conn:
            row = conn.execute(select(e).where(e.c.experiment_id == exp_id)).first()
            if row is None:
                msg = f"no experiment with id {experiment_id!r}; see `conveyor experiments list`"
                raise NotFoundError(msg, field="experiment_id")
            return _to_entity(row, _tags_of(conn, [exp_id])[exp_id])

    def get_by_name(self, name: str) -> Experiment | None:
        """Return the experiment named ``name``, or None."""
        e = schema.experiments
        with read(self._engine) as conn:
            row = conn.execute(select(e).where(e.c.name == name)).first()
            if row is None:
                return None
            exp_id = row._mapping["experiment_id"]
            return _to_entity(row, _tags_of(conn, [exp_id])[exp_id])

    def get_or_create(self, name: str) -> Experiment:
        """Return the experiment named ``name``, creating it when missing."""
        found = self.get_by_name(name)
        if found is not None:
            return found
        try:
            return self.create(name)
        except AlreadyExistsError:  # created concurrently
            found = self.get_by_name(name)
            assert found is not None  # noqa: S101 - the unique constraint just said so
            return found

    def list(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        name_like: str | None = None,
        max_results: int = 1000,
        offset: int = 0,
    ) -> tuple[list[Experiment], bool]:
        """Return a page of experiments (newest first) and whether more follow."""
        limits.check_max_results(max_results)
        e = schema.experiments
        stmt = select(e).where(e.c.lifecycle_stage.in_(view_type.stages()))
        if name_like is not None:
            stmt = stmt.where(func.lower(e.c.name).like(name_like.lower()))
        stmt = stmt.order_by(e.c.creation_time.desc(), e.c.experiment_id.desc())
        with read(self._engine) as conn:
            rows = conn.execute(stmt.offset(offset).limit(max_results + 1)).all()
            page = rows[:max_results]
            tags = _tags_of(conn, [r._mapping["experiment_id"] for r in page])
            items = [_to_entity(r, tags[r._mapping["experiment_id"]]) for r in page]
        return items, len(rows) > max_results

    def _update(self, experiment_id: object, **values: object) -> None:
        exp_id = parse_experiment_id(experiment_id)
        self.get(exp_id)
        e = schema.experiments
        try:
            with write(self._engine) as conn:
                conn.execute(
                    update(e)
                    .where(e.c.experiment_id == exp_id)
                    .values(last_update_time=now_ms(), **values)
                )
                _audit(conn, "experiment.updated", exp_id, values)
        except IntegrityError as exc:
            msg = f"experiment {values.get('name')!r} already exists; pick another name"
            raise AlreadyExistsError(msg, field="new_name") from exc

    def rename(self, experiment_id: object, new_name: str) -> None:
        """Rename an experiment."""
        name = limits.check_name(
            new_name, field="new_name", limit=limits.MAX_EXPERIMENT_NAME_LENGTH
        )
        self._update(experiment_id, name=name)

    def delete(self, experiment_id: object) -> None:
        """Move an experiment (and, for listings, its runs) to the trash."""
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            msg = "the Default experiment (id 0) cannot be deleted"
            raise InvalidArgumentError(msg, field="experiment_id")
        self._update(experiment_id, lifecycle_stage=LifecycleStage.DELETED.value)

    def restore(self, experiment_id: object) -> None:
        """Bring a deleted experiment back."""
        self._update(experiment_id, lifecycle_stage=LifecycleStage.ACTIVE.value)

    def set_tag(self, experiment_id: object, key: str, value: str) -> None:
        """Set a tag on an experiment."""
        exp_id = parse_experiment_id(experiment_id)
        self.get(exp_id)
        key = limits.check_key(key, field="key")
        value = limits.check_value(value, field="value", limit=limits.MAX_TAG_VALUE_LENGTH)
        t = schema.experiment_tags
        with write(self._engine) as conn:
            conn.execute(t.delete().where(t.c.experiment_id == exp_id, t.c.key == key))
            conn.execute(insert(t).values(experiment_id=exp_id, key=key, value=value))
            _audit(conn, "experiment.tag_set", exp_id, {"key": key, "value": value})

    def delete_tag(self, experiment_id: object, key: str) -> None:
        """Remove a tag from an experiment."""
        exp_id = parse_experiment_id(experiment_id)
        self.get(exp_id)
        t = schema.experiment_tags
        with write(self._engine) as conn:
            deleted = conn.execute(t.delete().where(t.c.experiment_id == exp_id, t.c.key == key))
            if deleted.rowcount == 0:
                msg = f"experiment {experiment_id} has no tag {key!r}"
                raise NotFoundError(msg, field="key")
            _audit(conn, "experiment.tag_deleted", exp_id, {"key": key})

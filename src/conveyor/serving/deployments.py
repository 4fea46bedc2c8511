"""Deployments: named, desired serving state in the store, reconciled by replicas.

A deployment serves one registered model. Its *target* (an alias or a version) is what the
primary route serves; its *policy* adds a canary, A/B arms, shadows, a sticky key and batching
limits. Every change is one transaction that bumps the revision and appends an audit event;
replicas poll ``route_table`` (one small read) and swap when the result changes.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from conveyor._time import now_ms
from conveyor.errors import AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError
from conveyor.registry.uris import ModelRef, check_name, parse_model_uri
from conveyor.serving.policy import TrafficPolicy, check_ref
from conveyor.serving.routes import ResolvedRoute, ResolvedShadow, RouteTable
from conveyor.store import events, read, schema, write

_dep = schema.deployments
_dv = schema.deployment_versions
_rep = schema.deployment_replicas
_rm = schema.registered_models
_mv = schema.model_versions
_al = schema.model_aliases

_BY_NAME = (
    select(_dep, _rm.c.name.label("model_name"))
    .join(_rm, _rm.c.model_id == _dep.c.model_id)
    .where(_dep.c.name == bindparam("name"))
)
_ALIASES = select(_al.c.alias, _al.c.version).where(_al.c.model_id == bindparam("mid"))
_VERSIONS = select(_mv.c.version).where(_mv.c.model_id == bindparam("mid"))


class Deployment(BaseModel):
    """A deployment as stored: what it should serve and how traffic is split."""

    model_config = ConfigDict(frozen=True)

    name: str
    project: str
    model_name: str
    target: str
    policy: dict[str, Any]
    revision: int
    description: str = ""
    created_by: str = ""
    created_time: int
    updated_time: int
    routes: list[dict[str, Any]] = Field(default_factory=list)  # resolved, when asked for

    @property
    def model_uri(self) -> str:
        """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` for the target."""
        sep = "" if self.target.startswith("@") else "/"
        return f"models:/{self.model_name}{sep}{self.target}"


def check_deployment_name(name: object) -> str:
    """Deployment names follow registered-model names' rules."""
    return check_name(name, field="name")


def target_of(model_uri: str) -> tuple[str, str]:
    """Split ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` into (name, target)."""
    ref = parse_model_uri(model_uri, field="model")
    if ref.alias is not None:
        return ref.name, "@" + ref.alias
    if ref.version is not None:
        return ref.name, str(ref.version)
    msg = (
        f"a deployment serves an alias or a version (models:/NAME@ALIAS or models:/NAME/N); "
        f"got {model_uri!r}"
    )
    raise InvalidArgumentError(msg, field="model")


def _entity(row: Any, routes: list[dict[str, Any]] | None = None) -> Deployment:
    return Deployment(
        name=row.name,
        project=row.project,
        model_name=row.model_name,
        target=row.target,
        policy=json.loads(row.policy or "{}"),
        revision=row.revision,
        description=row.description,
        created_by=row.created_by,
        created_time=row.created_time,
        updated_time=row.updated_time,
        routes=routes or [],
    )


class Deployments:
    """Create, change and resolve deployments."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- reads -----------------------------------------------------------------------------
    def _row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(_BY_NAME, {"name": check_deployment_name(name)}).first()
        if row is None:
            msg = (
                f"deployment {name!r} does not exist; create it with `conveyor deployments create`"
            )
            raise NotFoundError(msg, field="name")
        return row

    def get(self, name: str, *, resolve: bool = True) -> Deployment:
        """Return a deployment, with its routes resolved to versions when ``resolve``."""
        with read(self._engine) as conn:
            row = self._row(conn, name)
            routes = _resolve(conn, row).to_dict()["routes"] if resolve else None
            return _entity(row, routes)

    def list_deployments(self, *, projects: Iterable[str] | None = None) -> list[Deployment]:
        """Every deployment (of ``projects``), by name."""
        stmt = select(_dep, _rm.c.name.label("model_name")).join(
            _rm, _rm.c.model_id == _dep.c.model_id
        )
        if projects is not None:
            stmt = stmt.where(_dep.c.project.in_(list(projects)))
        with read(self._engine) as conn:
            return [_entity(r) for r in conn.execute(stmt.order_by(_dep.c.name))]

    def route_table(self, name: str) -> RouteTable:
        """Resolve the deployment's policy to concrete versions (what a replica serves now)."""
        with read(self._engine) as conn:
            return _resolve(conn, self._row(conn, name))

    def project_of(self, name: str) -> str:
        """The project a deployment belongs to (its model's)."""
        with read(self._engine) as conn:
            return str(self._row(conn, name).project)

    def project_of_model(self, model_uri: str) -> str:
        """The project of the model a ``models:/`` URI names (a new deployment's project)."""
        model_name, _ = target_of(model_uri)
        with read(self._engine) as conn:
            project = conn.execute(select(_rm.c.project).where(_rm.c.name == model_name)).scalar()
        if project is None:
            msg = f"registered model {model_name!r} does not exist; register a version first"
            raise NotFoundError(msg, field="model")
        return str(project)

    # -- writes ----------------------------------------------------------------------------
    def create(
        self,
        name: str,
        model_uri: str,
        *,
        policy: TrafficPolicy | dict[str, Any] | None = None,
        description: str = "",
        actor: str | None = None,
    ) -> Deployment:
        """Create a deployment of ``models:/NAME@ALIAS`` (or ``/VERSION``)."""
        check_deployment_name(name)
        model_name, target = target_of(model_uri)
        pol = policy if isinstance(policy, TrafficPolicy) else TrafficPolicy.from_dict(policy)
        at = now_ms()
        actor = actor or events.current_actor()
        with write(self._engine) as conn:
            model = conn.execute(select(_rm).where(_rm.c.name == model_name)).first()
            if model is None:
                msg = f"registered model {model_name!r} does not exist; register a version first"
                raise NotFoundError(msg, field="model")
            if conn.execute(select(_dep.c.deployment_id).where(_dep.c.name == name)).first():
                raise AlreadyExistsError(f"deployment {name!r} already exists", field="name")
            values = {
                "name": name,
                "project": model.project,
                "model_id": model.model_id,
                "target": target,
                "policy": json.dumps(pol.to_dict()),
                "revision": 1,
                "description": description,
                "created_by": actor,
                "created_time": at,
                "updated_time": at,
            }
            try:
                conn.execute(insert(_dep).values(**values))
            except IntegrityError:  # a concurrent create won (PostgreSQL)
                raise AlreadyExistsError(
                    f"deployment {name!r} already exists", field="name"
                ) from None
            row = self._row(conn, name)
            table = _resolve(conn, row)  # the target and every route must resolve
            events.append(
                conn,
                action="deployment.created",
                subject=f"deployments:/{name}",
                payload={"project": model.project, "model": model_uri, "policy": pol.to_dict()},
                actor=actor,
            )
            return _entity(row, table.to_dict()["routes"])

    def set_target(self, name: str, model_uri: str, *, actor: str | None = None) -> Deployment:
        """Point the primary route at another alias or version of the same model."""
        model_name, target = target_of(model_uri)
        return self._change(
            name,
            "deployment.target_changed",
            lambda row, pol: (_same_model(row, model_name, target), pol),
            actor=actor,
            payload={"model": model_uri},
        )

    def set_policy(
        self,
        name: str,
        policy: TrafficPolicy | dict[str, Any],
        *,
        expected_revision: int | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Replace the traffic policy (compare-and-set on ``expected_revision`` when given)."""
        pol = policy if isinstance(policy, TrafficPolicy) else TrafficPolicy.from_dict(policy)
        return self._change(
            name,
            "deployment.policy_changed",
            lambda row, _old: (row.target, pol),
            actor=actor,
            expected_revision=expected_revision,
            payload={"policy": pol.to_dict()},
        )

    def set_canary(
        self,
        name: str,
        ref: str | int,
        percent: float,
        *,
        sticky: str | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Send ``percent`` % of traffic to ``ref`` (``@alias`` or version), the rest to target."""
        return self._change_policy(name, lambda p: p.with_canary(str(ref), percent, sticky), actor)

    def set_arms(
        self,
        name: str,
        arms: list[tuple[str, str | int, float]],
        *,
        sticky: str | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Split traffic between named arms ``(name, ref, weight)``; weights add up to 100."""
        data = [{"name": n, "ref": r, "weight": w} for n, r, w in arms]
        return self._change_policy(name, lambda p: p.with_arms(data, sticky), actor)

    def set_shadows(
        self, name: str, shadows: list[tuple[str | int, float]], *, actor: str | None = None
    ) -> Deployment:
        """Mirror ``percent`` % of requests to each ``(ref, percent)``; answers are kept aside."""
        data = [{"ref": check_ref(r, field="shadow"), "percent": p} for r, p in shadows]
        return self._change_policy(name, lambda p: p.with_shadows(data), actor)

    def promote(
        self,
        name: str,
        version: int,
        *,
        reason: str = "",
        expected_revision: int | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Make ``version`` the deployment's primary and end any canary or A/B split.

        A deployment that follows an alias moves the alias (the registry records that move and
        refuses it when the alias needs approvals); one pinned to a version is re-pinned. The
        policy then goes back to single mode in one audited change; shadows of other versions
        stay.
        """
        from conveyor.registry.service import Registry

        current = self.get(name, resolve=False)
        if expected_revision is not None and current.revision != expected_revision:
            msg = (
                f"deployment {name!r} is at revision {current.revision}, not "
                f"{expected_revision}: someone changed it; read it again and retry"
            )
            raise ConflictError(msg, field="expected_revision")
        if current.target.startswith("@"):
            Registry(self._engine).set_alias(
                current.model_name, current.target[1:], version, actor=actor
            )

        def change(row: Any, old: TrafficPolicy) -> tuple[str, TrafficPolicy]:
            target = row.target if row.target.startswith("@") else str(version)
            return target, old.single()

        return self._change(
            name,
            "deployment.promoted",
            change,
            actor=actor,
            expected_revision=expected_revision,
            payload={"version": version, "reason": reason},
        )

    def clear_traffic(self, name: str, *, actor: str | None = None) -> Deployment:
        """Back to single mode: every request to the target (shadows kept)."""
        return self._change_policy(name, lambda p: p.single(), actor)

    def delete(self, name: str, *, actor: str | None = None) -> None:
        """Delete a deployment; its replicas stop serving it on their next poll."""
        with write(self._engine) as conn:
            row = self._row(conn, name)
            did = row.deployment_id
            for table in (
                _rep,
                _dv,
                schema.serving_windows,
                schema.serving_predictions,
                schema.serving_feedback,
                schema.rollouts,
            ):
                conn.execute(delete(table).where(table.c.deployment_id == did))
            conn.execute(delete(_dep).where(_dep.c.deployment_id == did))
            events.append(
                conn,
                action="deployment.deleted",
                subject=f"deployments:/{name}",
                payload={"project": row.project},
                actor=actor,
            )

    def _change_policy(self, name: str, fn: Any, actor: str | None) -> Deployment:
        def change(row: Any, old: TrafficPolicy) -> tuple[str, TrafficPolicy]:
            return row.target, fn(old)

        return self._change(name, "deployment.policy_changed", change, actor=actor)

    def _change(
        self,
        name: str,
        action: str,
        change: Any,
        *,
        actor: str | None = None,
        expected_revision: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Deployment:
        with write(self._engine) as conn:
            row = self._row(conn, name)
            if expected_revision is not None and row.revision != expected_revision:
                msg = (
                    f"deployment {name!r} is at revision {row.revision}, not {expected_revision}: "
                    f"someone changed it; read it again and retry"
                )
                raise ConflictError(msg, field="expected_revision")
            old = TrafficPolicy.from_dict(json.loads(row.policy or "{}"))
            target, policy = change(row, old)
            at = now_ms()
            conn.execute(
                update(_dep)
                .where(_dep.c.deployment_id == row.deployment_id)
                .values(
                    target=target,
                    policy=json.dumps(policy.to_dict()),
                    revision=row.revision + 1,
                    updated_time=at,
                )
            )
            row = self._row(conn, name)
            table = _resolve(conn, row)  # refuse a policy naming versions that do not exist
            events.append(
                conn,
                action=action,
                subject=f"deployments:/{name}",
                payload={
                    "project": row.project,
                    "revision": row.revision,
                    "target": target,
                    "policy": policy.to_dict(),
                    **(payload or {}),
                },
                actor=actor,
            )
            return _entity(row, table.to_dict()["routes"])

    # -- replicas (observed state) -----------------------------------------------------------
    def record_served(self, table: RouteTable) -> None:
        """Record the lineage edges version → deployment for every route of ``table``."""
        at = now_ms()
        roles = {(r.version, "primary" if r.name == "primary" else r.name) for r in table.routes}
        roles |= {(s.version, "shadow") for s in table.shadows}
        with write(self._engine) as conn:
            row = self._row(conn, table.deployment)
            did, mid = row.deployment_id, row.model_id
            have = {
                (r.version, r.role)
                for r in conn.execute(
                    select(_dv.c.version, _dv.c.role).where(_dv.c.deployment_id == did)
                )
            }
            new = [
                {
                    "deployment_id": did,
                    "model_id": mid,
                    "version": v,
                    "role": role[:20],
                    "first_served_time": at,
                    "last_served_time": at,
                }
                for v, role in sorted(roles - have)
            ]
            if new:
                conn.execute(insert(_dv), new)
            for v, role in roles & have:
                conn.execute(
                    update(_dv)
                    .where(and_(_dv.c.deployment_id == did, _dv.c.version == v, _dv.c.role == role))
                    .values(last_served_time=at)
                )

    def heartbeat(self, replica_id: str, table: RouteTable, started_ms: int) -> None:
        """Upsert this replica's row: which revision and routes it serves now."""
        at = now_ms()
        with write(self._engine) as conn:
            row = self._row(conn, table.deployment)
            values = {
                "deployment_id": row.deployment_id,
                "host": socket.gethostname()[:250],
                "pid": os.getpid(),
                "revision": table.revision,
                "routes": json.dumps(table.to_dict()),
                "heartbeat_time": at,
            }
            done = conn.execute(
                update(_rep)
                .where(_rep.c.replica_id == replica_id, _rep.c.deployment_id == row.deployment_id)
                .values(**values)
            ).rowcount
            if not done:
                conn.execute(
                    insert(_rep).values(replica_id=replica_id, started_time=started_ms, **values)
                )

    def forget_replica(self, replica_id: str) -> None:
        with write(self._engine) as conn:
            conn.execute(delete(_rep).where(_rep.c.replica_id == replica_id))

    def replicas(self, name: str, *, fresh_ms: int = 30_000) -> list[dict[str, Any]]:
        """Replicas that reported within ``fresh_ms``."""
        with read(self._engine) as conn:
            did = self._row(conn, name).deployment_id
            rows = conn.execute(
                select(_rep)
                .where(_rep.c.deployment_id == did, _rep.c.heartbeat_time >= now_ms() - fresh_ms)
                .order_by(_rep.c.started_time)
            ).all()
        return [
            {
                "replica_id": r.replica_id,
                "host": r.host,
                "pid": r.pid,
                "revision": r.revision,
                "routes": json.loads(r.routes).get("routes", []),
                "started_time": r.started_time,
                "heartbeat_time": r.heartbeat_time,
            }
            for r in rows
        ]

    def served_versions(self, name: str) -> list[dict[str, Any]]:
        """Every version this deployment has served, in which role, first and last seen."""
        with read(self._engine) as conn:
            did = self._row(conn, name).deployment_id
            rows = conn.execute(
                select(_dv).where(_dv.c.deployment_id == did).order_by(_dv.c.first_served_time)
            ).all()
        return [
            {
                "version": r.version,
                "role": r.role,
                "first_served_time": r.first_served_time,
                "last_served_time": r.last_served_time,
            }
            for r in rows
        ]


def _same_model(row: Any, model_name: str, target: str) -> str:
    if row.model_name != model_name:
        msg = (
            f"deployment {row.name!r} serves {row.model_name!r}; its target must be an alias or "
            f"version of that model, not of {model_name!r}"
        )
        raise InvalidArgumentError(msg, field="model")
    return target


def _resolve(conn: Connection, row: Any) -> RouteTable:
    """Resolve every reference of a deployment row to a version, or raise naming it."""
    aliases = {str(a): int(v) for a, v in conn.execute(_ALIASES, {"mid": row.model_id})}
    versions = {v for (v,) in conn.execute(_VERSIONS, {"mid": row.model_id})}
    policy = TrafficPolicy.from_dict(json.loads(row.policy or "{}"))

    def version_of(ref: str, field: str) -> int:
        if ref.startswith("@"):
            if ref[1:] not in aliases:
                msg = f"registered model {row.model_name!r} has no alias {ref}; set it first"
                raise NotFoundError(msg, field=field)
            return int(aliases[ref[1:]])
        number = int(ref)
        if number not in versions:
            raise NotFoundError(f"model {row.model_name!r} has no version {number}", field=field)
        return number

    routes = tuple(
        ResolvedRoute(
            r.name,
            version_of(r.ref, "target" if r.name == "primary" else "routes"),
            r.weight,
            r.ref,
        )
        for r in policy.live_routes(row.target)
    )
    shadows = tuple(
        ResolvedShadow(version_of(s.ref, "shadows"), s.percent, s.ref) for s in policy.shadows
    )
    return RouteTable(
        deployment=row.name,
        model_name=row.model_name,
        revision=row.revision,
        routes=routes,
        shadows=shadows,
        sticky=policy.sticky,
        batching=policy.batching,
    )


def static_table(name: str, ref: ModelRef, version: int, revision: int = 0) -> RouteTable:
    """The route table of ``conveyor serve models:/...`` without a deployment row."""
    target = "@" + ref.alias if ref.alias else str(version)
    return RouteTable(
        deployment=name,
        model_name=ref.name,
        revision=revision,
        routes=(ResolvedRoute("primary", version, 100.0, target),),
    )

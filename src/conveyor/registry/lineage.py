"""Lineage: dataset versions → run (code version, params) → model versions → aliases.

Both directions are answered from indexed joins over the registry, tracking and dataset tables:
``of_model`` walks up from a model version, ``of_dataset`` walks down from a dataset version,
``of_run`` does both for one run. Deployments join the graph when serving records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from conveyor.data.refs import parse_ref
from conveyor.errors import InvalidArgumentError, NotFoundError
from conveyor.registry.service import Registry
from conveyor.registry.uris import parse_model_uri
from conveyor.store import read, schema

_rm = schema.registered_models

_CODE_TAGS = ("mlflow.source.git.commit", "conveyor.git.dirty", "mlflow.source.name")


def _run_nodes(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Run nodes (experiment, status, code version, params) for many runs in three queries."""
    r, e, p, t = schema.runs, schema.experiments, schema.params, schema.tags
    ids = list(run_ids)
    rows = conn.execute(
        select(
            r.c.run_uuid,
            r.c.name,
            r.c.status,
            r.c.start_time,
            r.c.end_time,
            r.c.user_id,
            e.c.name.label("experiment"),
        )
        .join(e, e.c.experiment_id == r.c.experiment_id)
        .where(r.c.run_uuid.in_(ids))
    ).all()
    params: dict[str, dict[str, str]] = {}
    for run_id, key, value in conn.execute(
        select(p.c.run_uuid, p.c.key, p.c.value).where(p.c.run_uuid.in_(ids))
    ):
        params.setdefault(run_id, {})[key] = value
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in conn.execute(
        select(t.c.run_uuid, t.c.key, t.c.value).where(
            t.c.run_uuid.in_(ids), t.c.key.in_(_CODE_TAGS)
        )
    ):
        tags.setdefault(run_id, {})[key] = value
    nodes = {}
    for row in rows:
        code = tags.get(row.run_uuid, {})
        nodes[row.run_uuid] = {
            "run_id": row.run_uuid,
            "name": row.name,
            "experiment": row.experiment,
            "status": row.status,
            "user": row.user_id,
            "start_time": row.start_time,
            "end_time": row.end_time,
            "code_version": code.get("mlflow.source.git.commit"),
            "code_dirty": code.get("conveyor.git.dirty") == "true",
            "source": code.get("mlflow.source.name"),
            "params": params.get(row.run_uuid, {}),
        }
    return nodes


def _run_node(conn: Connection, run_id: str) -> dict[str, Any] | None:
    return _run_nodes(conn, [run_id]).get(run_id)


def _inputs(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    ri, d, dv = schema.run_inputs, schema.datasets, schema.dataset_versions
    rows = conn.execute(
        select(ri.c.run_uuid, ri.c.context, d.c.name, dv.c.version, dv.c.digest, dv.c.row_count)
        .join(d, d.c.dataset_id == ri.c.dataset_id)
        .join(dv, (dv.c.dataset_id == ri.c.dataset_id) & (dv.c.version == ri.c.version))
        .where(ri.c.run_uuid.in_(list(run_ids)))
        .order_by(d.c.name, dv.c.version)
    ).all()
    out: dict[str, list[dict[str, Any]]] = {}
    for x in rows:
        out.setdefault(x.run_uuid, []).append(
            {
                "uri": f"data:{x.name}@{x.version}",
                "name": x.name,
                "version": x.version,
                "digest": x.digest,
                "rows": x.row_count,
                "context": x.context,
            }
        )
    return out


def _versions_of_runs(conn: Connection, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    mv, rm, al = schema.model_versions, schema.registered_models, schema.model_aliases
    rows = conn.execute(
        select(mv.c.model_id, mv.c.version, mv.c.run_uuid, mv.c.stage, mv.c.created_time, rm.c.name)
        .join(rm, rm.c.model_id == mv.c.model_id)
        .where(mv.c.run_uuid.in_(list(run_ids)))
        .order_by(rm.c.name, mv.c.version)
    ).all()
    if not rows:
        return []
    aliases: dict[tuple[int, int], list[str]] = {}
    for a in conn.execute(
        select(al).where(al.c.model_id.in_({x.model_id for x in rows})).order_by(al.c.alias)
    ):
        aliases.setdefault((a.model_id, a.version), []).append(a.alias)
    return [
        {
            "uri": f"models:/{x.name}/{x.version}",
            "name": x.name,
            "version": x.version,
            "run_id": x.run_uuid,
            "stage": x.stage,
            "created_time": x.created_time,
            "aliases": aliases.get((x.model_id, x.version), []),
        }
        for x in rows
    ]


def _deployments(conn: Connection, name: str, version: int) -> list[dict[str, Any]]:
    """Deployments that served the version (recorded by serving replicas), with the role."""
    dep, dv = schema.deployments, schema.deployment_versions
    rows = conn.execute(
        select(dep.c.name, dep.c.target, dv.c.role, dv.c.first_served_time, dv.c.last_served_time)
        .join(dv, dv.c.deployment_id == dep.c.deployment_id)
        .join(_rm, _rm.c.model_id == dv.c.model_id)
        .where(_rm.c.name == name, dv.c.version == version)
        .order_by(dv.c.first_served_time)
    ).all()
    return [
        {
            "deployment": r.name,
            "uri": f"deployments:/{r.name}",
            "target": r.target,
            "role": r.role,
            "first_served_time": r.first_served_time,
            "last_served_time": r.last_served_time,
        }
        for r in rows
    ]


class Lineage:
    """Lineage queries over one metadata store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._registry = Registry(engine)

    def of_model(self, uri: str) -> dict[str, Any]:
        """The graph above and beside a model version: data → run → version → aliases."""
        mv = self._registry.resolve(parse_model_uri(uri, field="uri"))
        with read(self._engine) as conn:
            run = _run_node(conn, mv.run_id) if mv.run_id else None
            datasets = _inputs(conn, [mv.run_id]).get(mv.run_id, []) if mv.run_id else []
            siblings = (
                [v for v in _versions_of_runs(conn, [mv.run_id]) if v["uri"] != mv.uri]
                if mv.run_id
                else []
            )
            deployments = _deployments(conn, mv.name, mv.version)
        return {
            "subject": mv.uri,
            "model_version": mv.model_dump(),
            "aliases": mv.aliases,
            "run": run,
            "datasets": datasets,
            "deployments": deployments,
            "other_versions_from_run": siblings,
        }

    def of_dataset(self, ref: str) -> dict[str, Any]:
        """The graph below a dataset version: runs trained on it → model versions → aliases."""
        parsed = parse_ref(ref, field="uri")
        name, version = parsed.name, parsed.version
        d, dv, ri = schema.datasets, schema.dataset_versions, schema.run_inputs
        with read(self._engine) as conn:
            ds = conn.execute(select(d).where(d.c.name == name)).first()
            if ds is None:
                msg = f"dataset {name!r} does not exist"
                raise NotFoundError(msg, field="dataset")
            if version is None:
                version = conn.execute(
                    select(dv.c.version)
                    .where(dv.c.dataset_id == ds.dataset_id)
                    .order_by(dv.c.version.desc())
                    .limit(1)
                ).scalar()
            row = conn.execute(
                select(dv).where(dv.c.dataset_id == ds.dataset_id, dv.c.version == version)
            ).first()
            if row is None:
                msg = f"dataset {name!r} has no version {version}"
                raise NotFoundError(msg, field="version")
            consumers = conn.execute(
                select(ri.c.run_uuid, ri.c.context)
                .where(ri.c.dataset_id == ds.dataset_id, ri.c.version == version)
                .order_by(ri.c.created_time)
            ).all()
            run_ids = [c.run_uuid for c in consumers]
            nodes = _run_nodes(conn, run_ids) if run_ids else {}
            runs = [
                {**nodes[c.run_uuid], "context": c.context}
                for c in consumers
                if c.run_uuid in nodes
            ]
            models = _versions_of_runs(conn, run_ids) if run_ids else []
        return {
            "subject": f"data:{name}@{version}",
            "dataset": {
                "name": name,
                "version": row.version,
                "digest": row.digest,
                "rows": row.row_count,
                "kind": row.kind,
                "created_time": row.created_time,
            },
            "runs": runs,
            "model_versions": models,
        }

    def of_run(self, run_id: str) -> dict[str, Any]:
        """A run's inputs (dataset versions) and outputs (registered model versions)."""
        with read(self._engine) as conn:
            run = _run_node(conn, run_id)
            if run is None:
                msg = f"run {run_id!r} does not exist"
                raise NotFoundError(msg, field="run_id")
            return {
                "subject": f"runs:/{run_id}",
                "run": run,
                "datasets": _inputs(conn, [run_id]).get(run_id, []),
                "model_versions": _versions_of_runs(conn, [run_id]),
            }

    def of(self, uri: str) -> dict[str, Any]:
        """Dispatch on the URI's scheme: ``models:/``, ``data:`` or ``runs:/``."""
        if uri.startswith("models:/"):
            return self.of_model(uri)
        if uri.startswith("data:"):
            return self.of_dataset(uri)
        if uri.startswith("runs:/"):
            return self.of_run(uri[len("runs:/") :].strip("/").split("/", 1)[0])
        msg = f"uri {uri!r}: use models:/NAME/VERSION, models:/NAME@ALIAS, data:NAME@V, runs:/ID"
        raise InvalidArgumentError(msg, field="uri")

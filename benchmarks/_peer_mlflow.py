"""MLflow's side of the tracking benchmark (run with the peer virtualenv's interpreter).

Every workload takes ``tracking_uri``: ``sqlite:///<temp>/mlflow.db`` for in-process runs, or
``http://127.0.0.1:PORT`` to drive a server (an MLflow server or a Conveyor server) with the
unmodified ``mlflow`` client.
Usage: ``benchmarks/.venvs/mlflow/bin/python benchmarks/_peer_mlflow.py WORKLOAD JSON_PARAMS``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

from _common import (
    BATCH_KEYS,
    SEARCH_EXPERIMENT,
    SEARCH_PAGE,
    Params,
    Result,
    SearchQuery,
    SearchRun,
    batch_points,
    clock,
    rate,
    run_main,
    run_payload,
    search_dataset,
    time_searches,
)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def _mlflow(p: Params) -> Any:
    import mlflow

    mlflow.set_tracking_uri(p["tracking_uri"])
    return mlflow


def log_metric_single(p: Params) -> Result:
    """(a) ``mlflow.log_metric`` N times, then ``end_run`` (MLflow logs synchronously)."""
    mlflow = _mlflow(p)
    n: int = p["points"]
    mlflow.set_experiment("bench-single")  # creates the schema before the clock starts
    run = mlflow.start_run()
    log_metric = mlflow.log_metric
    with clock() as timer:
        for i in range(n):
            log_metric("loss", i * 0.001, step=i)
        mlflow.end_run()
    seconds = timer.seconds
    stored = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    return {"points": n, "seconds": seconds, "points_per_s": rate(n, seconds), "stored": stored}


def log_batch(p: Params) -> Result:
    """(b) ``MlflowClient.log_batch`` with ``batch`` metrics per call (MLflow allows 1000)."""
    mlflow = _mlflow(p)
    from mlflow.entities import Metric

    n: int = p["points"]
    batch: int = p["batch"]
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("bench-batch")
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [Metric(k, v, ts, s) for k, v, ts, s in batch_points(n)]
    with clock() as timer:
        for start in range(0, n, batch):
            client.log_batch(run_id, metrics=metrics[start : start + batch])
    seconds = timer.seconds
    stored = len(client.get_metric_history(run_id, "m0")) * BATCH_KEYS
    return {
        "points": n,
        "batch": batch,
        "seconds": seconds,
        "points_per_s": rate(n, seconds),
        "stored": stored,
    }


def runs(p: Params) -> Result:
    """(c) Create a run, log 10 params and 10 metrics, end it; R times (fluent API)."""
    mlflow = _mlflow(p)
    n: int = p["runs"]
    experiment_id = mlflow.set_experiment("bench-runs").experiment_id
    payloads = [run_payload(i) for i in range(n)]
    with clock() as timer:
        for i, (params, metrics) in enumerate(payloads):
            with mlflow.start_run(run_name=f"run-{i}"):
                mlflow.log_params(params)
                mlflow.log_metrics(metrics)
    seconds = timer.seconds
    found = mlflow.MlflowClient().search_runs([experiment_id], max_results=n + 1)
    complete = sum(
        1
        for r in found
        if len(r.data.params) == 10 and all(f"m{j}" in r.data.metrics for j in range(10))
    )
    return {"runs": n, "seconds": seconds, "runs_per_s": rate(n, seconds), "complete": complete}


def search_populate(p: Params) -> Result:
    """(e) Fill an experiment: run 0 through the public API, the rest by SQL into MLflow's tables.

    The API path runs at ~80 runs/s (100k runs would take ~20 min), so after run 0 has been
    created and logged through ``MlflowClient`` the other runs are bulk-inserted with MLflow's
    own table definitions (``mlflow.store.tracking.dbmodels.models``), each row a copy of what
    MLflow wrote for run 0 with the run's own id, name, start time, metrics and params.
    """
    mlflow = _mlflow(p)
    import sqlalchemy as sa
    from mlflow.entities import Metric, Param

    n: int = p["runs"]
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment(SEARCH_EXPERIMENT)
    dataset = search_dataset(n)
    with clock() as timer:
        first = next(dataset)
        template_id = client.create_run(
            experiment_id, run_name=first.name, start_time=first.start_time
        ).info.run_id
        client.log_batch(
            template_id,
            metrics=[Metric(f"m{k}", v, first.start_time, 0) for k, v in enumerate(first.metrics)],
            params=[Param(f"p{k}", v) for k, v in enumerate(first.params)],
        )
    api_seconds = timer.seconds

    engine = sa.create_engine(p["tracking_uri"])
    template = _Template.read(engine, template_id)
    with clock() as timer:
        chunk: list[SearchRun] = []
        for run in dataset:
            chunk.append(run)
            if len(chunk) == _SQL_CHUNK_RUNS:
                template.insert(engine, chunk)
                chunk = []
        if chunk:
            template.insert(engine, chunk)
    sql_seconds = timer.seconds
    engine.dispose()
    return {
        "runs": n,
        "api_runs": 1,
        "api_seconds": api_seconds,
        "sql_runs": n - 1,
        "sql_seconds": sql_seconds,
        "template_run_columns": sorted(template.run),
        "template_tags": sorted(t["key"] for t in template.tags),
    }


_SQL_CHUNK_RUNS = 5000


@dataclass(frozen=True)
class _Template:
    """The rows MLflow itself wrote for one run, copied for every bulk-inserted run."""

    run_id: str
    run: dict[str, Any]
    tags: list[dict[str, Any]]
    metric: dict[str, Any]

    @classmethod
    def read(cls, engine: Any, run_id: str) -> _Template:
        import sqlalchemy as sa
        from mlflow.store.tracking.dbmodels import models

        run_t, tag_t = models.SqlRun.__table__, models.SqlTag.__table__
        metric_t = models.SqlMetric.__table__
        with engine.connect() as conn:
            run = conn.execute(sa.select(run_t).where(run_t.c.run_uuid == run_id)).one()
            tags = conn.execute(sa.select(tag_t).where(tag_t.c.run_uuid == run_id)).all()
            metric = conn.execute(
                sa.select(metric_t).where(metric_t.c.run_uuid == run_id).limit(1)
            ).one()
        return cls(
            run_id, dict(run._mapping), [dict(t._mapping) for t in tags], dict(metric._mapping)
        )

    def insert(self, engine: Any, chunk: list[SearchRun]) -> None:
        from mlflow.store.tracking.dbmodels import models

        latest_columns = list(models.SqlLatestMetric.__table__.columns.keys())
        runs: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        metrics: list[dict[str, Any]] = []
        for run in chunk:
            run_id = uuid.uuid4().hex
            runs.append(
                {
                    **self.run,
                    "run_uuid": run_id,
                    "name": run.name,
                    "start_time": run.start_time,
                    "artifact_uri": self.run["artifact_uri"].replace(self.run_id, run_id),
                }
            )
            tags.extend(
                {
                    **tag,
                    "run_uuid": run_id,
                    "value": run.name if tag["key"] == "mlflow.runName" else tag["value"],
                }
                for tag in self.tags
            )
            params.extend(
                {"key": f"p{k}", "value": v, "run_uuid": run_id} for k, v in enumerate(run.params)
            )
            metrics.extend(
                {
                    **self.metric,
                    "key": f"m{k}",
                    "value": v,
                    "timestamp": run.start_time,
                    "step": 0,
                    "is_nan": False,
                    "run_uuid": run_id,
                }
                for k, v in enumerate(run.metrics)
            )
        latest = [{c: m[c] for c in latest_columns} for m in metrics]
        with engine.begin() as conn:
            conn.execute(models.SqlRun.__table__.insert(), runs)
            conn.execute(models.SqlTag.__table__.insert(), tags)
            conn.execute(models.SqlParam.__table__.insert(), params)
            conn.execute(models.SqlMetric.__table__.insert(), metrics)
            conn.execute(models.SqlLatestMetric.__table__.insert(), latest)


def search_timed(p: Params) -> Result:
    """(e) Time ``MlflowClient.search_runs`` (metric filter + order by, first page)."""
    mlflow = _mlflow(p)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
    assert experiment is not None
    eid = experiment.experiment_id

    def search(q: SearchQuery) -> list[str]:
        page = client.search_runs(
            [eid], filter_string=q.filter_string, order_by=q.order_by, max_results=SEARCH_PAGE
        )
        return [r.info.run_name for r in page]

    return time_searches(search, p["queries"], p["budget_s"])


if __name__ == "__main__":
    run_main(
        {
            "log_metric_single": log_metric_single,
            "log_batch": log_batch,
            "runs": runs,
            "search_populate": search_populate,
            "search_timed": search_timed,
        }
    )

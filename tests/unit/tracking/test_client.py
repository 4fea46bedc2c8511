"""Tracking behaviour through ``Client``: every test runs local + HTTP on SQLite + PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conveyor.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
)
from conveyor.tracking import Client, LifecycleStage, RunStatus, ViewType


def test_experiment_create_get_and_duplicate(client: Client) -> None:
    exp = client.create_experiment("churn", tags={"team": "ds"})
    assert client.get_experiment(exp.experiment_id) == exp
    assert client.get_experiment_by_name("churn") == exp
    assert exp.tags == {"team": "ds"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    with pytest.raises(AlreadyExistsError, match="already exists"):
        client.create_experiment("churn")
    assert client.get_experiment_by_name("nope") is None
    with pytest.raises(NotFoundError, match="no experiment with id"):
        client.get_experiment("999")


def test_default_experiment_exists_with_id_zero(client: Client) -> None:
    assert client.get_experiment("0").name == "Default"


def test_experiment_delete_and_restore(client: Client) -> None:
    exp = client.create_experiment("old")
    client.delete_experiment(exp.experiment_id)
    names = [e.name for e in client.list_experiments()]
    assert "old" not in names
    deleted = client.list_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["old"]
    client.restore_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == LifecycleStage.ACTIVE


def test_run_lifecycle(client: Client) -> None:
    exp = client.create_experiment("e")
    run = client.create_run(exp.experiment_id, run_name="base", tags={"k": "v"})
    assert run.info.status == RunStatus.RUNNING
    assert run.info.run_name == "base"
    assert run.tags == {"k": "v", "mlflow.runName": "base"}
    info = client.update_run(run.run_id, status=RunStatus.FINISHED, end_time=123)
    assert (info.status, info.end_time) == (RunStatus.FINISHED, 123)
    client.delete_run(run.run_id)
    assert client.get_run(run.run_id).info.lifecycle_stage == LifecycleStage.DELETED
    with pytest.raises(ConflictError, match="deleted"):
        client.log_metric(run.run_id, "x", 1.0)
    client.restore_run(run.run_id)
    client.log_metric(run.run_id, "x", 1.0)


def test_log_batch_params_tags_metrics(client: Client) -> None:
    exp = client.create_experiment("e")
    run_id = client.create_run(exp.experiment_id).run_id
    points = [("loss", 1.0 / (i + 1), 1000 + i, i) for i in range(500)]
    client.log_batch(run_id, metrics=points, params={"C": 1.0, "penalty": "l2"}, tags={"t": 1})
    run = client.get_run(run_id)
    assert run.params == {"C": "1.0", "penalty": "l2"}
    assert run.tags["t"] == "1"
    assert run.metrics["loss"].step == 499
    assert run.metrics["loss"].value == pytest.approx(1 / 500)
    history = client.get_metric_history(run_id, "loss")
    assert [(m.key, m.value, m.timestamp, m.step) for m in history] == points


def test_latest_metric_is_highest_step_not_last_logged(client: Client) -> None:
    run_id = client.create_run("0").run_id
    client.log_batch(run_id, metrics=[("m", 5.0, 10, 5)])
    client.log_batch(run_id, metrics=[("m", 1.0, 20, 2)])
    assert client.get_run(run_id).metrics["m"].value == 5.0
    client.log_batch(run_id, metrics=[("m", 7.0, 5, 5), ("m", 8.0, 30, 5)])
    assert client.get_run(run_id).metrics["m"].value == 8.0


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        ([("m", 2.0, 9, 3), ("m", 1.0, 9, 3), ("m", 0.5, 8, 3)], 2.0),  # tie: largest value
        ([("m", math.nan, 9, 3), ("m", -1.0, 9, 3)], -1.0),  # NaN ranks lowest
        ([("m", 3.0, 1, 7), ("m", 4.0, 99, 6)], 3.0),  # step beats timestamp
        ([("m", math.nan, 5, 1)], math.nan),  # the only point
    ],
)
def test_latest_metric_within_one_batch_follows_mlflow_ordering(
    client: Client, batch: list[tuple[str, float, int, int]], expected: float
) -> None:
    run_id = client.create_run("0").run_id
    client.log_batch(run_id, metrics=batch)
    got = client.get_run(run_id).metrics["m"].value
    assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_nan_and_infinity_round_trip(client: Client) -> None:
    run_id = client.create_run("0").run_id
    values = [math.nan, math.inf, -math.inf, 0.0, -1.5e300]
    client.log_batch(run_id, metrics=[("v", v, 1, i) for i, v in enumerate(values)])
    got = [m.value for m in client.get_metric_history(run_id, "v")]
    assert math.isnan(got[0])
    assert got[1:] == values[1:]


def test_params_are_immutable(client: Client) -> None:
    run_id = client.create_run("0").run_id
    client.log_param(run_id, "C", 1)
    client.log_param(run_id, "C", "1")  # same value again is fine
    with pytest.raises(InvalidArgumentError, match="immutable"):
        client.log_param(run_id, "C", 2)
    assert client.get_run(run_id).params == {"C": "1"}


def test_limits_are_clear_errors(client: Client) -> None:
    run_id = client.create_run("0").run_id
    with pytest.raises(InvalidArgumentError, match="limit is 6000"):
        client.log_param(run_id, "big", "x" * 6001)
    with pytest.raises(InvalidArgumentError, match="limit is 250"):
        client.log_metric(run_id, "k" * 251, 1.0)
    with pytest.raises(InvalidArgumentError, match="invalid"):
        client.log_metric(run_id, "../etc", 1.0)
    with pytest.raises(InvalidArgumentError, match="must be a number"):
        client.log_batch(run_id, metrics=[("m", "abc", 1, 0)])  # type: ignore[list-item]
    assert client.get_run(run_id).params == {}


def test_failed_batch_writes_nothing(client: Client) -> None:
    run_id = client.create_run("0").run_id
    client.log_param(run_id, "C", "1")
    with pytest.raises(InvalidArgumentError, match="immutable"):
        client.log_batch(run_id, metrics=[("m", 1.0, 1, 0)], params={"C": "2"}, tags={"t": "x"})
    run = client.get_run(run_id)
    assert run.metrics == {}
    assert "t" not in run.tags


def test_batch_id_makes_replays_idempotent(client: Client) -> None:
    run_id = client.create_run("0").run_id
    assert client.log_batch(run_id, metrics=[("m", 1.0, 1, 0)], batch_id="b1") is True
    assert client.log_batch(run_id, metrics=[("m", 1.0, 1, 0)], batch_id="b1") is False
    assert len(client.get_metric_history(run_id, "m")) == 1


def test_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError, match="no run with id"):
        client.get_run("0" * 32)
    with pytest.raises(InvalidArgumentError, match="run_id"):
        client.get_run("not a run id!")


def test_delete_tag_and_run_name_tag(client: Client) -> None:
    run_id = client.create_run("0", run_name="a").run_id
    client.set_tag(run_id, "x", "1")
    client.delete_tag(run_id, "x")
    assert "x" not in client.get_run(run_id).tags
    with pytest.raises(NotFoundError, match="no tag"):
        client.delete_tag(run_id, "x")
    client.set_tag(run_id, "mlflow.runName", "renamed")
    assert client.get_run(run_id).info.run_name == "renamed"


def _search_fixture(client: Client) -> tuple[str, list[str]]:
    exp = client.create_experiment("search")
    ids = []
    for i in range(12):
        run_id = client.create_run(
            exp.experiment_id, run_name=f"run-{i}", start_time=1000 + i
        ).run_id
        client.log_batch(
            run_id,
            metrics=[("loss", i / 10, 1, 0), ("acc", 1 - i / 10, 1, 0)],
            params={"C": str(i % 3), "model": "lr" if i % 2 else "Tree"},
            tags={"team": "A" if i < 6 else "b"},
        )
        ids.append(run_id)
    return exp.experiment_id, ids


def test_search_filters_and_orders(client: Client) -> None:
    exp_id, _ = _search_fixture(client)

    def names(filter_string: str | None = None, order_by: list[str] | None = None) -> list[str]:
        page = client.search_runs([exp_id], filter_string=filter_string, order_by=order_by)
        return [r.info.run_name for r in page.runs]

    assert names("metrics.loss < 0.3", ["metrics.loss DESC"]) == ["run-2", "run-1", "run-0"]
    assert names("params.C = '1' and metrics.acc >= 0.5", ["metrics.acc"]) == ["run-4", "run-1"]
    assert set(names("params.model LIKE 'T%'")) == {f"run-{i}" for i in range(0, 12, 2)}
    assert names("params.model LIKE 't%'") == []
    assert len(names("params.model ILIKE 't%'")) == 6
    assert len(names("tags.team = 'A'")) == 6
    assert names("attributes.run_name IN ('run-3', 'run-5')", ["attributes.run_name"]) == [
        "run-3",
        "run-5",
    ]
    assert names(None)[:2] == ["run-11", "run-10"]  # newest first by default
    assert names("tags.missing IS NULL") == names(None)
    assert names("attributes.status = 'RUNNING' and metrics.loss > 1.05") == ["run-11"]


def test_search_pages_cover_everything_once(client: Client) -> None:
    exp_id, ids = _search_fixture(client)
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs(
            [exp_id], order_by=["metrics.loss"], max_results=5, page_token=token
        )
        seen.extend(r.run_id for r in page.runs)
        token = page.next_page_token
        if token is None:
            break
    assert seen == ids


def test_search_rejects_bad_input(client: Client) -> None:
    exp_id, _ = _search_fixture(client)
    with pytest.raises(InvalidArgumentError, match="comparator"):
        client.search_runs([exp_id], filter_string="metrics.loss <> 1")
    with pytest.raises(InvalidArgumentError, match="page_token"):
        client.search_runs([exp_id], page_token="garbage")
    with pytest.raises(InvalidArgumentError, match="max_results"):
        client.search_runs([exp_id], max_results=0)


def test_search_excludes_deleted_runs_unless_asked(client: Client) -> None:
    exp_id, ids = _search_fixture(client)
    client.delete_run(ids[0])
    active = client.search_runs([exp_id]).runs
    assert ids[0] not in {r.run_id for r in active}
    deleted = client.search_runs([exp_id], view_type=ViewType.DELETED_ONLY).runs
    assert [r.run_id for r in deleted] == [ids[0]]


def test_artifacts_round_trip(client: Client, tmp_path: Path) -> None:
    run_id = client.create_run("0").run_id
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "nested" / "b.bin").write_bytes(bytes(range(256)) * 100)
    client.log_artifact(run_id, src / "a.txt")
    client.log_artifact(run_id, src, "dir")
    client.log_text(run_id, "hello", "notes/readme.md")
    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {("a.txt", False), ("dir", True), ("notes", True)}
    nested = client.list_artifacts(run_id, "dir/src/nested")
    assert [(f.path, f.file_size) for f in nested] == [("dir/src/nested/b.bin", 25600)]
    out = client.download_artifact(run_id, "dir/src/nested/b.bin", tmp_path)
    assert out.read_bytes() == (src / "nested" / "b.bin").read_bytes()
    with pytest.raises(NotFoundError, match="artifact"):
        client.download_artifact(run_id, "missing.txt", tmp_path)
    with pytest.raises(InvalidArgumentError, match="no file or directory"):
        client.log_artifact(run_id, tmp_path / "missing")


def test_out_of_range_steps_are_clear_errors(client: Client) -> None:
    run_id = client.create_run("0").run_id
    with pytest.raises(InvalidArgumentError, match="64 bits"):
        client.log_batch(run_id, metrics=[("m", 1.0, 1, 2**63)])
    with pytest.raises(InvalidArgumentError, match="64 bits"):
        client.log_batch(run_id, metrics=[("m", 1.0, 2**64, 0)])
    client.log_batch(run_id, metrics=[("m", 1.0, 1, 2**63 - 1)])
    assert client.get_run(run_id).metrics["m"].step == 2**63 - 1


@pytest.mark.parametrize("ascending", [True, False])
def test_order_by_metric_puts_runs_without_it_last_across_pages(
    client: Client, ascending: bool
) -> None:
    exp = client.create_experiment("sparse")
    expected_with: list[tuple[float, str]] = []
    expected_without: list[tuple[int, str]] = []
    for i in range(11):
        run_id = client.create_run(exp.experiment_id, start_time=1000 + i).run_id
        client.log_batch(run_id, metrics=[("other", float(i), 1, 0)])
        if i % 3 == 0:
            expected_without.append((1000 + i, run_id))  # no "score" at all
        elif i == 4:
            client.log_batch(run_id, metrics=[("score", math.nan, 1, 0)])
            expected_without.append((1000 + i, run_id))  # NaN sorts with the missing
        else:
            client.log_batch(run_id, metrics=[("score", float(i % 5), 1, 0)])
            expected_with.append((float(i % 5), run_id))
    with_order = sorted(
        expected_with,
        key=lambda p: (p[0] if ascending else -p[0], -client.get_run(p[1]).info.start_time, p[1]),
    )
    without_order = sorted(expected_without, key=lambda p: (-p[0], p[1]))
    expected = [r for _, r in with_order] + [r for _, r in without_order]
    direction = "ASC" if ascending else "DESC"
    for page_size in (2, 3, 100):
        seen: list[str] = []
        token = None
        while True:
            page = client.search_runs(
                [exp.experiment_id],
                order_by=[f"metrics.score {direction}"],
                max_results=page_size,
                page_token=token,
            )
            seen.extend(r.run_id for r in page.runs)
            token = page.next_page_token
            if token is None:
                break
        assert seen == expected, page_size
    filtered = client.search_runs(
        [exp.experiment_id],
        filter_string="metrics.other >= 5",
        order_by=[f"metrics.score {direction}"],
    )
    assert [r.run_id for r in filtered.runs] == [
        r for r in expected if client.get_run(r).metrics["other"].value >= 5
    ]


def test_finish_run_logs_the_last_points_and_ends_the_run(client: Client) -> None:
    run_id = client.create_run("0").info.run_id
    client.finish_run(
        run_id, status=RunStatus.FINISHED, end_time=1234, metrics=[("loss", 0.25, 1, 3)]
    )
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.end_time == 1234
    assert run.metrics["loss"].value == 0.25


def test_finish_run_ends_the_run_even_when_its_batch_is_a_replay(client: Client) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[("loss", 0.5, 1, 0)], batch_id="b1")
    client.finish_run(
        run_id, status="FAILED", end_time=99, metrics=[("loss", 0.5, 1, 0)], batch_id="b1"
    )
    run = client.get_run(run_id)
    assert run.info.status == RunStatus.FAILED
    assert len(client.get_metric_history(run_id, "loss")) == 1


def test_finish_run_with_a_bad_status_writes_nothing(client: Client) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidArgumentError, match="status must be one of"):
        client.finish_run(run_id, status="DONE", end_time=1, metrics=[("loss", 0.5, 1, 0)])
    assert client.get_metric_history(run_id, "loss") == []
    assert client.get_run(run_id).info.status == RunStatus.RUNNING


def test_create_run_with_texts_stores_them_as_artifacts(client: Client, tmp_path: Path) -> None:
    texts = {"environment/packages.txt": "numpy==2.0\n"}
    first = client.create_run_with_texts("0", texts=texts).info.run_id
    second = client.create_run_with_texts("0", texts=texts).info.run_id
    for run_id in (first, second):
        files = client.list_artifacts(run_id, "environment")
        assert [(f.path, f.file_size) for f in files] == [("environment/packages.txt", 11)]
        out = client.download_artifact(run_id, "environment/packages.txt", tmp_path)
        assert out.read_text() == "numpy==2.0\n"


def test_latest_metric_of_a_large_batch_is_read_back_through_the_index(client: Client) -> None:
    run_id = client.create_run("0").run_id
    points = [("m", float(i), 10, i % 97) for i in range(600)]  # step 96 peaks mid-batch
    points.append(("m", math.nan, 11, 96))  # newer timestamp at the top step: it wins
    client.log_batch(run_id, metrics=points)
    latest = client.get_run(run_id).metrics["m"]
    assert (latest.step, latest.timestamp) == (96, 11)
    assert math.isnan(latest.value)
    client.log_batch(run_id, metrics=[("m", 1.0, 5, 50)] * 300)  # older: keeps the latest
    assert client.get_run(run_id).metrics["m"].step == 96

"""``conveyor deployments feedback`` and ``report`` as a user runs them, on a logged experiment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from conveyor.registry.service import Registry
from conveyor.serving.deployments import Deployments
from conveyor.serving.experiments import ExperimentSink
from conveyor.serving.recorder import Flush, Served
from conveyor.serving.windows import SHADOW
from conveyor.tracking import Workspace
from tests.e2e.test_cli import conveyor

N = 120


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace where deployment churn was shadowed (v2 disagrees on 1 in 6 requests)."""
    cwd = tmp_path_factory.mktemp("experiments")
    ws = Workspace(f"sqlite:///{cwd}/.conveyor/conveyor.db", str(cwd / ".conveyor" / "blobs"))
    try:
        registry = Registry(ws.engine)
        for _ in range(3):
            registry.create_version("churn", "/models/m", create_model=True)
        registry.set_alias("churn", "production", 1)
        deployments = Deployments(ws.engine)
        deployments.create("churn", "models:/churn@production")
        deployments.set_shadows("churn", [(2, 100)])
        table = deployments.route_table("churn")
        at = time.time()
        records = []
        for i in range(N):
            live, shadow = i % 2, (1 - i % 2) if i % 6 == 0 else i % 2
            records.append(Served(table, 1, "primary", f"q{i}", True, 0.01, 1, at, None, [live]))
            records.append(Served(table, 2, SHADOW, f"q{i}", True, 0.02, 1, at, None, [shadow]))
        ExperimentSink(ws.engine).flush(Flush(0, 1, "replica", records))
    finally:
        ws.close()
    return cwd


def test_feedback_from_a_file_and_one_value_then_the_report(logged: Path) -> None:
    labels = pd.DataFrame({"request_id": [f"q{i}" for i in range(0, N, 2)], "value": 0})
    labels.to_csv(logged / "labels.csv", index=False)
    done = conveyor(logged, "deployments", "feedback", "churn", "--file", "labels.csv")
    assert done.returncode == 0, done.stderr
    assert "recorded 60 feedback values for deployment churn" in done.stdout
    labels.iloc[:10].to_parquet(logged / "labels.parquet")
    done = conveyor(logged, "deployments", "feedback", "churn", "-f", "labels.parquet")
    assert "recorded 10 feedback values" in done.stdout, done.stderr
    done = conveyor(
        logged, "deployments", "feedback", "churn", "--request-id", "q1", "--value", "1"
    )
    assert "recorded 1 feedback values" in done.stdout, done.stderr

    shown = conveyor(logged, "deployments", "report", "churn", "--since", "1d", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["ab"] is None
    [shadow] = report["shadows"]
    got = shadow["report"]
    assert got["n_pairs"] == N
    assert got["agreement_rate"] == pytest.approx(1 - 20 / N)
    # labelled: even ids (all 0, live answered 0; the shadow flipped every 6th) and q1 (1)
    assert got["metric"]["n_labeled"] == 61
    assert got["metric"]["champion"] == pytest.approx(1.0)
    assert got["metric"]["challenger"] == pytest.approx(41 / 61)

    human = conveyor(logged, "deployments", "report", "churn", "--since", "1d")
    assert human.returncode == 0, human.stderr
    for needle in (
        "Shadow v2 vs v1",
        "agreement rate",
        "accuracy (61 labelled)",
        "champion better",
    ):
        assert needle in human.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("feedback", "churn"), 2, "give --file FILE, or --request-id ID with --value V"),
        (("feedback", "churn", "--file", "nope.csv"), 2, "--file nope.csv does not exist"),
        (("feedback", "nope", "--request-id", "a", "--value", "1"), 3, "'nope' does not exist"),
        (("report", "churn", "--since", "soon"), 2, "since must be a duration"),
        (("report", "churn", "--task", "ranking"), 2, "task must be one of"),
        (
            ("ab", "churn", "--arm", "a=1:50", "--arm", "b=2:50", "--alpha", "0.01"),
            2,
            "--alpha configures auto-promotion: add --auto-promote",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(
    logged: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    done = conveyor(logged, "deployments", *args)
    assert done.returncode == code, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_ab_with_auto_promotion_is_shown(logged: Path) -> None:
    done = conveyor(
        logged,
        "deployments",
        "ab",
        "churn",
        "--arm",
        "a=@production:50",
        "--arm",
        "b=3:50",
        "--auto-promote",
        "--min-samples",
        "100",
    )
    assert done.returncode == 0, done.stderr
    assert "auto-promote: sequential test, alpha 0.05, at least 100 outcomes per arm" in done.stdout
    report = conveyor(logged, "deployments", "report", "churn")
    assert report.returncode == 0, report.stderr
    assert "A/B arms" in report.stdout
    assert "no winner yet" in report.stdout
    shown = json.loads(conveyor(logged, "deployments", "show", "churn", "--json").stdout)
    assert shown["policy"]["auto_promote"]["min_samples"] == 100

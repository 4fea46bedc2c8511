"""The CLI as a user runs it: quickstart, listings, JSON output, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_SYSTEM_METRICS_INTERVAL_S"] = "60"
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def quickstarted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("qs")
    result = conveyor(cwd, "quickstart", "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert "tracked 6 runs" in result.stdout
    assert "conveyor runs list" in result.stdout
    assert "answered 300 of 300 copies" in result.stdout  # the shadow's report
    assert "step 100 %: pass" in result.stdout
    assert "approved by quickstart-reviewer: @production -> v2" in result.stdout
    assert (cwd / ".conveyor" / "conveyor.db").exists()
    return cwd


def test_the_quickstart_rollout_is_recorded(quickstarted: Path) -> None:
    status = conveyor(quickstarted, "rollout", "status", "quickstart")
    assert status.returncode == 0, status.stderr
    assert "pending_approval" in status.stdout
    listed = conveyor(quickstarted, "models", "show", "quickstart")
    assert "production" in listed.stdout
    lineage = conveyor(quickstarted, "lineage", "models:/quickstart/2")
    assert "deployments:/quickstart" in lineage.stdout


def test_runs_list_json_filters_and_orders(quickstarted: Path) -> None:
    result = conveyor(
        quickstarted,
        "runs",
        "list",
        "-e",
        "quickstart",
        "--filter",
        "metrics.accuracy > 0.5",
        "--order-by",
        "metrics.accuracy DESC",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert len(runs) == 6
    accuracies = [r["metrics"]["accuracy"]["value"] for r in runs]
    assert accuracies == sorted(accuracies, reverse=True)
    assert {r["params"]["penalty"] for r in runs} == {"l1", "l2"}
    assert all(r["info"]["status"] == "FINISHED" for r in runs)


def test_runs_show_and_experiments_list(quickstarted: Path) -> None:
    runs = json.loads(conveyor(quickstarted, "runs", "list", "-e", "quickstart", "--json").stdout)
    run_id = runs[0]["info"]["run_id"]
    shown = conveyor(quickstarted, "runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert "val_loss" in shown.stdout
    assert "evaluation.json" in shown.stdout
    experiments = conveyor(quickstarted, "experiments", "list")
    assert "quickstart" in experiments.stdout
    assert "Default" in experiments.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("runs", "list", "-e", "nope"), 3, "no experiment named 'nope'"),
        (
            ("runs", "list", "-e", "quickstart", "--filter", "metrics.x <> 1"),
            2,
            "unknown comparator",
        ),
        (("runs", "show", "0" * 32), 3, "no run with id"),
        (("experiments", "create", "quickstart"), 4, "already exists"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    quickstarted: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = conveyor(quickstarted, *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_debug_shows_traceback(quickstarted: Path) -> None:
    result = conveyor(quickstarted, "--debug", "runs", "show", "0" * 32)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_upload_list_download(quickstarted: Path, tmp_path: Path) -> None:
    runs = json.loads(conveyor(quickstarted, "runs", "list", "-e", "quickstart", "--json").stdout)
    run_id = runs[0]["info"]["run_id"]
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "b.bin").write_bytes(b"\x00" * 3_000_000)
    up = conveyor(quickstarted, "runs", "upload", run_id, str(data), "-a", "inputs")
    assert up.returncode == 0, up.stderr
    assert "uploaded 2 file(s), 3000008 bytes" in up.stdout
    listing = json.loads(
        conveyor(quickstarted, "runs", "artifacts", run_id, "inputs/data", "--json").stdout
    )
    assert {(f["path"], f["file_size"]) for f in listing} == {
        ("inputs/data/a.csv", 8),
        ("inputs/data/b.bin", 3_000_000),
    }
    down = conveyor(
        quickstarted, "runs", "download", run_id, "inputs/data/a.csv", "--dst", str(tmp_path)
    )
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "a.csv").read_text() == "x,y\n1,2\n"
    missing = conveyor(quickstarted, "runs", "upload", run_id, str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "no file or directory" in missing.stderr

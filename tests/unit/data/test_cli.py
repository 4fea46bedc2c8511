"""``conveyor data`` commands through ``conveyor.cli.run``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor.cli.app import run


@pytest.fixture
def csvs(home: Path, tmp_path: Path) -> tuple[Path, Path]:
    old = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "plan": ["a", "b", "a", "a"]})
    new = pd.concat([old, pd.DataFrame({"age": [70.0], "plan": ["c"]})], ignore_index=True)
    paths = (tmp_path / "old.csv", tmp_path / "new.csv")
    old.to_csv(paths[0], index=False)
    new.to_csv(paths[1], index=False)
    return paths


def test_log_list_versions_show_diff_download(
    csvs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["data", "log", str(csvs[0]), "--name", "churn"]) == 0
    assert run(["data", "log", str(csvs[0]), "-n", "churn"]) == 0  # same content
    assert run(["data", "log", str(csvs[1]), "-n", "churn", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("logged churn@1") == 2
    assert json.loads(out[out.index("{") :])["version"] == 2
    assert run(["data", "versions", "churn", "--json"]) == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == [1, 2]
    assert run(["data", "list"]) == 0
    assert "churn" in capsys.readouterr().out
    assert run(["data", "show", "data:churn@1"]) == 0
    shown = capsys.readouterr().out
    assert "plan" in shown
    assert "a (3)" in shown
    for args in (["churn"], ["churn@1..2"], ["churn@1", "churn@2"]):
        assert run(["data", "diff", *args, "--json"]) == 0
        diff = json.loads(capsys.readouterr().out)
        assert (diff["old"], diff["new"], diff["row_delta"], diff["rows_added"]) == (
            "churn@1",
            "churn@2",
            1,
            1,
        )
    assert run(["data", "diff", "churn"]) == 0
    table = capsys.readouterr().out
    assert "rows: 4 -> 5 (+1); 1 added, 0 removed" in table
    assert "top[c]" in table
    assert run(["data", "download", "churn@2", str(tmp_path / "out")]) == 0
    assert len(pd.read_parquet(tmp_path / "out" / "churn-v2.parquet")) == 5


def test_files_and_lineage(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.csv").write_text("not,really\n1,2\n")
    assert run(["data", "log", str(src), "-n", "raw"]) == 0
    assert run(["data", "log", str(src / "notes.csv"), "-n", "raw-bytes", "--files"]) == 0
    assert "files" in capsys.readouterr().out
    assert run(["data", "runs", "raw", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["data", "show", "churn@x"], 2, "version after '@' must be an integer"),
        (["data", "show", "nope"], 3, "no dataset named 'nope'"),
        (["data", "diff", "a@1@2"], 2, "use one '@'"),
        (["data", "log", "missing.csv", "-n", "x"], 2, "no file or directory"),
        (["data", "log", ".", "-n", "bad name"], 2, "invalid dataset name"),
    ],
)
def test_errors_are_one_line_with_their_exit_code(
    home: Path, args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == code
    assert message in " ".join(capsys.readouterr().err.split())

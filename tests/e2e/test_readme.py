"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_tour_logging_example_runs(tmp_path: Path) -> None:
    code = _python_blocks()[0]
    (tmp_path / "report.html").write_text("<p>report</p>")
    check = (
        "\nrun = conveyor.get_client().search_runs(['1']).runs[0]\n"
        "assert run.params == {'C': '1.0', 'penalty': 'l2'}, run.params\n"
        "assert len(conveyor.get_client().get_metric_history(run.run_id, 'loss')) == 1000\n"
        "assert [f.path for f in conveyor.get_client().list_artifacts(run.run_id)]"
        " == ['report.html', 'environment']\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    result = subprocess.run(
        [sys.executable, "-c", code + check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".conveyor" / "conveyor.db").exists()


def test_client_example_runs(tmp_path: Path) -> None:
    setup = (
        "import conveyor\n"
        "with conveyor.start_run(experiment='e'):\n"
        "    conveyor.log_metric('loss', 0.1)\n"
    )
    client_block = next(b for b in _python_blocks() if "from conveyor import Client" in b)
    # The README shows both transports; run the local one.
    code = client_block.replace(
        'client = Client("http://127.0.0.1:5000")        # or a server\n', ""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    result = subprocess.run(
        [sys.executable, "-c", setup + code + "\nassert len(history) == 1\n"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

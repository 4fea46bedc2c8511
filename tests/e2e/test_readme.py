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


def _monitoring_commands() -> list[list[str]]:
    import shlex

    block = next(
        b
        for b in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
        if "conveyor monitors create" in b
    )
    text = block.replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if "--webhook" in words:  # no receiver here: the webhook path has its own tests
            i = words.index("--webhook")
            del words[i : i + 4]
        if words:
            commands.append(words)
    return commands


def test_monitoring_tour_runs(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)

    def frame(n: int, shift: float) -> pd.DataFrame:
        tenure = rng.normal(24 + shift, 6, n)
        proba = 1 / (1 + np.exp((tenure - 24) / 6))
        return pd.DataFrame(
            {
                "tenure": tenure,
                "plan": rng.choice(["basic", "pro"], n),
                "proba": proba,
                "prediction": (proba > 0.5).astype(int),
                "churned": (rng.random(n) < proba).astype(int),
            }
        )

    frame(2000, 0).to_parquet(tmp_path / "train.parquet")
    batch = frame(300, 8).drop(columns=["churned"])
    batch["request_id"] = [f"r{i}" for i in range(len(batch))]
    batch.to_parquet(tmp_path / "batch.parquet")
    pd.DataFrame({"request_id": batch["request_id"], "label": 1}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    frame(1000, 0).to_parquet(tmp_path / "a.parquet")
    frame(1000, 8).to_parquet(tmp_path / "b.parquet")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    conveyor = str(Path(sys.executable).with_name("conveyor"))
    commands = _monitoring_commands()
    assert [c[:3] for c in commands][:3] == [
        ["conveyor", "data", "log"],
        ["conveyor", "monitors", "create"],
        ["conveyor", "monitors", "log"],
    ]
    for command in commands:
        result = subprocess.run(
            [conveyor, *command[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    assert "<svg" in (tmp_path / "churn.html").read_text()
    assert "<svg" in (tmp_path / "drift.html").read_text()


def test_registry_tour_runs(tmp_path: Path) -> None:
    block = next(b for b in _python_blocks() if "conveyor.register_model" in b)
    prelude = (
        "import pandas as pd\n"
        "from sklearn.datasets import make_classification\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = make_classification(n_samples=300, n_features=4, random_state=0)\n"
        "X = pd.DataFrame(X, columns=['a', 'b', 'c', 'd'])\n"
        "train_df = X.assign(label=y)\n"
        "model = LogisticRegression().fit(X, y)\n"
    )
    check = (
        "\nassert (loaded.predict(X[:5]) == model.predict(X[:5])).all()\n"
        "from conveyor.cli.app import run\n"
        "assert run(['models', 'policy', 'churn', 'production', '--required', '1']) == 0\n"
        "assert run(['models', 'promote', 'churn', '1', '--to', 'production']) == 0\n"
        "from conveyor.registry.client import registry_client\n"
        "request = registry_client().requests(state='pending')[0]\n"
        "import os; os.environ['CONVEYOR_USER'] = 'bob'\n"
        "from conveyor.settings import get_settings; get_settings.cache_clear()\n"
        "import conveyor.store.events as ev; ev.local_user.cache_clear()\n"
        "assert run(['models', 'approve', request.request_id]) == 0\n"
        "assert conveyor.load_model('models:/churn@production').predict(X[:1]) is not None\n"
        "assert run(['lineage', 'models:/churn@production']) == 0\n"
        "assert run(['audit', 'verify']) == 0\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_USER"] = "alice"
    result = subprocess.run(
        [sys.executable, "-c", prelude + block + check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "data:churn-train@1" in result.stdout


def _bash_block(marker: str) -> list[str]:
    """The README's bash block containing ``marker``, as commands (continuations joined)."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    block = next(b for b in blocks if marker in b)
    return [line.split("  #")[0].strip() for line in block.replace("\\\n", " ").splitlines()]


def _shell(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one of the README's command lines as a user's shell would."""
    return subprocess.run(  # noqa: S602 - the README's own command line
        line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_serving_tour_runs(tmp_path: Path) -> None:
    """Register churn v1..v9, then run the serving tour's commands against real replicas."""
    import httpx

    from tests.servers import free_port, wait_healthy

    prelude = (
        "import pandas as pd, conveyor\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "X = pd.DataFrame({'tenure': [1, 3, 9, 12, 2, 30], 'plan': [0, 1, 1, 0, 1, 0]})\n"
        "model = DecisionTreeClassifier(random_state=0).fit(X, [0, 1, 1, 0, 1, 0])\n"
        "with conveyor.start_run(experiment='churn'):\n"
        "    info = conveyor.log_model(model, 'model', input_example=X[:2])\n"
        "for _ in range(9):\n"
        "    conveyor.register_model(info.model_uri, 'churn')\n"
        "from conveyor.registry.client import registry_client\n"
        "registry_client().set_alias('churn', 'production', 1)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    setup = subprocess.run(
        [sys.executable, "-c", prelude],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    commands = _bash_block("conveyor serve models:/churn@production")
    serve_uri, curl = commands[0], commands[1]
    body = curl.split("-d '", 1)[1].rsplit("'", 1)[0]
    servers = []
    try:
        for command in (serve_uri, "conveyor serve --deployment churn-svc"):
            port = free_port()
            line = re.sub(r"--port \d+", f"--port {port}", command)
            line = re.sub(r"--grpc-port \d+", f"--grpc-port {free_port()}", line)
            if "--port" not in line:
                line += f" --port {port}"
            if "--deployment" in line:  # the deployment must exist before its replica starts
                create = next(c for c in commands if c.startswith("conveyor deployments create"))
                done = _shell(create, tmp_path, env)
                assert done.returncode == 0, done.stdout + done.stderr
            servers.append(
                subprocess.Popen(  # noqa: S602 - the README's own command line
                    line,
                    shell=True,
                    cwd=tmp_path,
                    env=env,
                    start_new_session=True,
                )
            )
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, timeout_s=90)  # the inference app's /health is 200 once ready
            r = httpx.post(
                url + "/invocations", content=body, headers={"content-type": "application/json"}
            )
            assert r.status_code == 200, r.text
            assert r.json() == {"predictions": [1]}
        for command in commands[2:]:
            if command.startswith("conveyor deployments") and " create " not in command:
                done = _shell(command, tmp_path, env)
                assert done.returncode == 0, command + done.stdout + done.stderr
        shown = subprocess.run(
            ["conveyor", "deployments", "show", "churn-svc", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        import json

        state = json.loads(shown.stdout)
        assert [(r["name"], r["version"]) for r in state["routes"]] == [("a", 1), ("b", 8)]
        assert state["policy"]["shadows"] == [{"ref": "9", "percent": 100.0}]
    finally:
        import signal

        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

"""The three servers under test: how each is installed, set up, started and spoken to.

* ``mlflow``: ``mlflow models serve -m DIR --env-manager local --workers N`` in the MLflow peer
  virtualenv (``benchmarks/.venvs/mlflow``, shared with the tracking benchmark). MLflow 3 runs
  uvicorn; the virtualenv also gets uvicorn's ``standard`` speedups (uvloop, httptools): with
  the plain asyncio loop, uvicorn's ``--workers N > 1`` mode leaves Nagle's algorithm on for
  accepted sockets, and every keep-alive response then waits ~40 ms for a delayed ACK.
* ``bentoml``: ``bentoml serve _serving_bentoml_service:Bench`` in ``benchmarks/.venvs/bentoml``.
* ``conveyor``: ``conveyor serve models:/bench@production --workers N`` in this virtualenv.

Every server runs N worker processes and no access log. Each virtualenv gets the scikit-learn
version of Conveyor's, so the one pickled model loads everywhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import parse_result
from tracking import PEER_VENV, clean_env, ensure_peer_venv, log

BENCH_DIR = Path(__file__).resolve().parent
BENTO_VENV = BENCH_DIR / ".venvs" / "bentoml"
BENTOML_REQUIREMENT = "bentoml>=1.4,<2"
MLFLOW_SPEEDUPS = ("uvloop", "httptools")
CONVEYOR_BIN = Path(sys.executable).parent / "conveyor"

Rows = list[list[float]]


@dataclass(frozen=True)
class Endpoint:
    """One inference route and its JSON encoding of request rows."""

    key: str
    label: str
    path: str
    encode: Callable[[Rows, list[str], Any], bytes]  # rows, column names, model metadata
    decode: Callable[[Any], list[int]]


@dataclass(frozen=True)
class Side:
    """One server under test."""

    name: str
    title: str
    venv: Path | None  # None: Conveyor's own interpreter
    ready_path: str
    floor_path: str  # a trivial GET: the loopback floor of a request
    endpoints: tuple[Endpoint, ...]
    argv: Callable[[Path, int], list[str]]  # workdir, workers -> command ({port} placeholder)
    env: Callable[[Path, int], dict[str, str]]
    config: Callable[[int], str]
    metadata_path: str | None = None

    @property
    def python(self) -> Path:
        """The side's interpreter."""
        return Path(sys.executable) if self.venv is None else self.venv / "bin" / "python"


# -------------------------------------------------------------------------------------------
# Payloads
# -------------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def dataframe_split(rows: Rows, columns: list[str], _metadata: Any) -> bytes:
    """MLflow's scoring payload: ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``."""
    return _dumps({"dataframe_split": {"columns": columns, "data": rows}})


def bento_input(rows: Rows, _columns: list[str], _metadata: Any) -> bytes:
    """BentoML's JSON for ``predict(self, input: np.ndarray)``: ``{"input": [[...]]}``."""
    return _dumps({"input": rows})


def oip_v2(rows: Rows, columns: list[str], model: Any) -> bytes:
    """An OIP v2 request shaped by the model's metadata (``GET /v2/models/NAME``).

    One input declared: a single ``[n, 30]`` tensor of that name. One input per column: a
    ``[n]`` (or ``[n, 1]``) tensor per column, as MLServer lays out a DataFrame.
    """
    inputs = (model or {}).get("inputs") or [{"name": "input-0", "datatype": "FP64"}]
    if len(inputs) == 1:
        spec = inputs[0]
        flat = [v for row in rows for v in row]
        tensor = {"name": spec["name"], "shape": [len(rows), len(columns)], "data": flat}
        return _dumps({"inputs": [{**tensor, "datatype": spec.get("datatype", "FP64")}]})
    tensors = []
    for j, spec in enumerate(inputs):
        shape = [len(rows)] if len(spec.get("shape", [-1])) == 1 else [len(rows), 1]
        data = [row[j] for row in rows]
        tensors.append(
            {"name": spec["name"], "datatype": spec.get("datatype", "FP64"), "shape": shape}
            | {"data": data}
        )
    return _dumps({"inputs": tensors})


def _labels(values: Any) -> list[int]:
    flat: list[Any] = []

    def walk(v: Any) -> None:
        if isinstance(v, list):
            for item in v:
                walk(item)
        else:
            flat.append(v)

    walk(values)
    return [int(float(v)) for v in flat]


def mlflow_predictions(body: Any) -> list[int]:
    """``{"predictions": [...]}``."""
    return _labels(body["predictions"])


def bento_predictions(body: Any) -> list[int]:
    """A bare JSON list."""
    return _labels(body)


def oip_predictions(body: Any) -> list[int]:
    """``{"outputs": [{"data": [...]}, ...]}``: the first output."""
    return _labels(body["outputs"][0]["data"])


INVOCATIONS = Endpoint(
    "invocations",
    "`/invocations` (`dataframe_split`)",
    "/invocations",
    dataframe_split,
    mlflow_predictions,
)
BENTO_PREDICT = Endpoint(
    "predict", '`/predict` (`{"input": ndarray}`)', "/predict", bento_input, bento_predictions
)
OIP_INFER = Endpoint(
    "oip",
    "`/v2/models/bench/infer` (OIP v2 JSON)",
    "/v2/models/bench/infer",
    oip_v2,
    oip_predictions,
)

# -------------------------------------------------------------------------------------------
# The sides
# -------------------------------------------------------------------------------------------


def _path_with(venv: Path) -> str:
    import os

    return f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"


MLFLOW = Side(
    name="mlflow",
    title="`mlflow models serve`",
    venv=PEER_VENV,
    ready_path="/ping",
    floor_path="/ping",
    endpoints=(INVOCATIONS,),
    argv=lambda workdir, workers: [
        str(PEER_VENV / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(workdir / "mlflow-model"),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        "{port}",
        "--workers",
        str(workers),
    ],
    # MLflow starts `uvicorn` from PATH; UVICORN_ACCESS_LOG is uvicorn's own CLI setting.
    env=lambda _workdir, _workers: clean_env(
        PATH=_path_with(PEER_VENV), UVICORN_ACCESS_LOG="false"
    ),
    config=lambda workers: (
        f"`mlflow models serve --env-manager local --workers {workers}` (MLflow's FastAPI "
        "scoring server under uvicorn, one model per worker process; uvloop and httptools "
        "installed, access log off; request timeout at MLflow's default 60 s)"
    ),
)

BENTOML = Side(
    name="bentoml",
    title="BentoML",
    venv=BENTO_VENV,
    ready_path="/readyz",
    floor_path="/livez",
    endpoints=(BENTO_PREDICT,),
    argv=lambda _workdir, _workers: [
        str(BENTO_VENV / "bin" / "bentoml"),
        "serve",
        "_serving_bentoml_service:Bench",
        "--working-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ],
    env=lambda workdir, workers: clean_env(
        PATH=_path_with(BENTO_VENV),
        BENTOML_HOME=str(workdir / "bentoml"),
        BENTOML_DO_NOT_TRACK="True",
        BENCH_WORKERS=str(workers),
    ),
    config=lambda workers: (
        f"`bentoml serve` of a `@bentoml.service(workers={workers})` class whose "
        "`@bentoml.api(batchable=True)` method takes an `np.ndarray` (adaptive batching on, "
        "BentoML's defaults `max_batch_size=100`, `max_latency_ms=60000`; access log off); "
        "see `benchmarks/_serving_bentoml_service.py`"
    ),
)

CONVEYOR = Side(
    name="conveyor",
    title="Conveyor",
    venv=None,
    ready_path="/v2/health/ready",
    floor_path="/v2/health/live",
    endpoints=(INVOCATIONS, OIP_INFER),
    argv=lambda _workdir, workers: [
        str(CONVEYOR_BIN),
        "serve",
        "models:/bench@production",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(workers),
    ],
    env=lambda workdir, _workers: clean_env(
        CONVEYOR_HOME=str(workdir / ".conveyor"), CONVEYOR_CAPTURE_SYSTEM="false"
    ),
    config=lambda workers: (
        f"`conveyor serve models:/bench@production --workers {workers}` (its defaults: "
        "adaptive batching on)"
    ),
    metadata_path="/v2/models/bench",
)

SIDES: dict[str, Side] = {s.name: s for s in (MLFLOW, BENTOML, CONVEYOR)}

# -------------------------------------------------------------------------------------------
# Virtualenvs and setup
# -------------------------------------------------------------------------------------------


def _pip(venv: Path, *requirements: str) -> None:
    log(f"installing {' '.join(requirements)} into {venv}")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
        check=True,
    )


def _versions(venv: Path, *dists: str) -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(d):\n"
        "    try:\n        return m.version(d)\n"
        "    except m.PackageNotFoundError:\n        return None\n"
        "print(json.dumps({d: v(d) for d in sys.argv[1:]}))"
    )
    python = venv / "bin" / "python"
    if not python.exists():
        return dict.fromkeys(dists)
    out = subprocess.run(
        [str(python), "-c", code, *dists], capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, str | None] = json.loads(out)
    return found


def sklearn_version() -> str:
    """scikit-learn's version in Conveyor's virtualenv (pinned into the peers')."""
    return metadata.version("scikit-learn")


def ensure_mlflow() -> dict[str, str | None]:
    """The MLflow peer virtualenv, plus Conveyor's scikit-learn and uvicorn's speedups."""
    ensure_peer_venv()
    sklearn = f"scikit-learn=={sklearn_version()}"
    found = _versions(PEER_VENV, "mlflow", "scikit-learn", *MLFLOW_SPEEDUPS)
    missing = [d for d in MLFLOW_SPEEDUPS if not found[d]]
    if found["scikit-learn"] != sklearn_version() or missing:
        _pip(PEER_VENV, sklearn, *MLFLOW_SPEEDUPS)
    return _versions(PEER_VENV, "mlflow", "scikit-learn", "uvicorn", *MLFLOW_SPEEDUPS)


def ensure_bentoml() -> dict[str, str | None]:
    """``benchmarks/.venvs/bentoml`` with BentoML 1.x and Conveyor's scikit-learn."""
    python = BENTO_VENV / "bin" / "python"
    if not python.exists():
        log(f"creating {BENTO_VENV}")
        python3 = shutil.which("python3") or sys.executable
        subprocess.run([python3, "-m", "venv", str(BENTO_VENV)], check=True)
    found = _versions(BENTO_VENV, "bentoml", "scikit-learn")
    bento_ok = bool(found["bentoml"]) and str(found["bentoml"]).startswith("1.")
    if not bento_ok or found["scikit-learn"] != sklearn_version():
        _pip(BENTO_VENV, BENTOML_REQUIREMENT, f"scikit-learn=={sklearn_version()}")
    return _versions(BENTO_VENV, "bentoml", "scikit-learn", "uvicorn")


def conveyor_serve_available() -> bool:
    """True once ``conveyor serve`` exists in this virtualenv."""
    proc = subprocess.run(
        [str(CONVEYOR_BIN), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0


ENSURE: dict[str, Callable[[], dict[str, str | None]]] = {
    "mlflow": ensure_mlflow,
    "bentoml": ensure_bentoml,
    "conveyor": lambda: {
        "conveyor-mlops": metadata.version("conveyor-mlops"),
        "scikit-learn": sklearn_version(),
        "uvicorn": metadata.version("uvicorn"),
    },
}


def setup(side: Side, workdir: Path, workers: int) -> dict[str, Any]:
    """Save the pickled model in the side's format (``_serving_setup.py`` under its Python)."""
    proc = subprocess.run(
        [
            str(side.python),
            str(BENCH_DIR / "_serving_setup.py"),
            side.name,
            json.dumps({"workdir": str(workdir)}),
        ],
        cwd=BENCH_DIR,
        env=side.env(workdir, workers),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result = parse_result(proc.stdout)
    if proc.returncode != 0 or result is None or "error" in result:
        msg = f"{side.name} setup failed: {(result or {}).get('error')}\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return result

"""Save the benchmark's pickled model in each side's own format (run with that side's interpreter).

Usage: ``PYTHON benchmarks/_serving_setup.py SIDE '{"workdir": "..."}'`` with SIDE one of
``mlflow`` (MLflow peer virtualenv), ``bentoml`` (BentoML peer virtualenv) or ``conveyor``
(Conveyor's virtualenv, ``CONVEYOR_HOME`` set to the workspace). Prints ``BENCH_RESULT {json}``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _common import Params, Result, run_main
from _serving_model import dataset, load

MLFLOW_MODEL_DIR = "mlflow-model"
BENTO_MODEL = "bench"
CONVEYOR_MODEL = "bench"
CONVEYOR_ALIAS = "production"


def mlflow(p: Params) -> Result:
    """``mlflow.sklearn.save_model`` with the same input example (column signature)."""
    import mlflow.sklearn

    workdir = Path(p["workdir"])
    path = workdir / MLFLOW_MODEL_DIR
    mlflow.sklearn.save_model(
        load(workdir),
        str(path),
        input_example=dataset()[:5],
        # MLflow's default (skops) format refuses tree nodes unless they are declared trusted.
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    return {"model_uri": str(path), "mlflow": mlflow.__version__}


def bentoml(p: Params) -> Result:
    """``bentoml.sklearn.save_model`` into the workspace's ``BENTOML_HOME``."""
    import bentoml as bento

    workdir = Path(p["workdir"])
    saved = bento.sklearn.save_model(BENTO_MODEL, load(workdir))
    return {"tag": str(saved.tag), "bentoml": bento.__version__}


def conveyor(p: Params) -> Result:
    """Log, register and alias the model: ``models:/bench@production``."""
    import conveyor as cv

    workdir = Path(p["workdir"])
    with cv.start_run() as run:
        info = cv.log_model(load(workdir), "model", input_example=dataset()[:5])
    version = cv.register_model(f"runs:/{run.info.run_id}/model", CONVEYOR_MODEL)
    cli = Path(sys.executable).parent / "conveyor"
    subprocess.run(
        [str(cli), "models", "alias", CONVEYOR_MODEL, CONVEYOR_ALIAS, str(version.version)],
        check=True,
        env=os.environ,
        capture_output=True,
    )
    return {
        "model_uri": f"models:/{CONVEYOR_MODEL}@{CONVEYOR_ALIAS}",
        "logged": info.model_uri,
        "version": version.version,
    }


if __name__ == "__main__":
    run_main({"mlflow": mlflow, "bentoml": bentoml, "conveyor": conveyor})

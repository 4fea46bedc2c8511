"""The serving benchmark's model, its request rows, and the in-process ``predict`` reference.

Runs under three interpreters (Conveyor's virtualenv and the MLflow and BentoML peers'), so it
imports only the standard library at module level; NumPy, pandas and scikit-learn (the same
scikit-learn version in every virtualenv) are imported where they are used.
"""

from __future__ import annotations

import pickle
import time
import warnings
from pathlib import Path
from typing import Any

MODEL_FILE = "model.pkl"
N_ESTIMATORS = 50
SEED = 0
# sklearn warns when a model fitted on a DataFrame is given a bare array (BentoML's numpy input,
# the in-process array reference): the values are the same columns in the same order.
FEATURE_NAMES_WARNING = "X does not have valid feature names"


def dataset() -> Any:
    """Return the breast-cancer features as a DataFrame (569 rows x 30 named columns)."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).data


def train(workdir: Path) -> Path:
    """Fit ``RandomForestClassifier(n_estimators=50, random_state=0)``; pickle it into workdir.

    Every side loads this one pickle (same scikit-learn version everywhere), so all three
    servers hold the very same trees.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    data = load_breast_cancer(as_frame=True)
    model = RandomForestClassifier(n_estimators=N_ESTIMATORS, random_state=SEED)
    model.fit(data.data, data.target)
    path = workdir / MODEL_FILE
    path.write_bytes(pickle.dumps(model))
    return path


def load(workdir: Path) -> Any:
    """Load the pickled model (a file this benchmark wrote itself a moment ago)."""
    return pickle.loads((workdir / MODEL_FILE).read_bytes())  # noqa: S301 - our own file


def columns() -> list[str]:
    """Return the 30 feature names, in the model's column order."""
    return [str(c) for c in dataset().columns]


def request_rows(n: int) -> list[list[float]]:
    """Return the first ``n`` rows of the data set (cycled past 569) as lists of floats."""
    values = dataset().to_numpy().tolist()
    return [values[i % len(values)] for i in range(n)]


def expected(workdir: Path, rows: list[list[float]]) -> list[int]:
    """Return the model's predictions for ``rows``: what every server must answer."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns())
    return [int(v) for v in load(workdir).predict(frame)]


def predict_p50_ms(workdir: Path, *, iterations: int = 300) -> dict[str, float]:
    """Time ``model.predict`` on one row in process: p50 in ms, on a DataFrame and an array."""
    import numpy as np
    import pandas as pd

    model = load(workdir)
    row = request_rows(1)
    inputs = {
        "dataframe": pd.DataFrame(row, columns=columns()),
        "ndarray": np.asarray(row, dtype=np.float64),
    }
    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=FEATURE_NAMES_WARNING)
        for name, x in inputs.items():
            for _ in range(20):  # warm-up: first-call imports, allocator
                model.predict(x)
            samples = []
            for _ in range(iterations):
                t0 = time.perf_counter()
                model.predict(x)
                samples.append(time.perf_counter() - t0)
            samples.sort()
            out[name] = samples[len(samples) // 2] * 1000
    return out
